// The close on the responder's assignment card (issue 21): disposition, backup, referral
// from the suggested resources, destination for a transport, follow-up, in as few clicks
// as possible; and the overdue follow-ups on the desk. Loaded after console.js, whose
// `api`, `esc`, `el`, `state`, `note` and `refresh` it uses.
"use strict";

const DESTINATION_KINDS = { transported_crisis_centre: "crisis_centre", transported_ed: "emergency_department" };
const closing = { forms: new Map(), errors: new Map(), suggested: new Map(), directory: [] };

// Called by console.js on every responder refresh: what the cards offer to pick from.
async function loadCloseChoices(work) {
  const ids = [...work.keys()];
  const [directory, ...lists] = await Promise.all([
    api("GET", "/v1/resources").catch(() => []),
    ...ids.map((id) => api("GET", `/v1/assignments/${id}/suggested-resources`).catch(() => [])),
  ]);
  closing.directory = directory;
  closing.suggested = new Map(ids.map((id, i) => [id, lists[i]]));
}

function distanceText(s) {
  const room = s.capacity === null ? "" : ` · ${s.capacity} free`;
  return `${s.kind.replaceAll("_", " ")} · ${(s.distance_m / 1000).toFixed(1)} km${room}`;
}

// The close form of one assignment card; its values survive the card's re-rendering.
function closeFormHtml(aid) {
  const suggested = closing.suggested.get(aid) || [];
  const options = suggested.map((s) => `<option value="${s.id}">${esc(s.name)} (${esc(distanceText(s))})</option>`).join("");
  const list = suggested.length
    ? `<ul class="suggested">${suggested.map((s) => `<li>${esc(s.name)} — ${esc(distanceText(s))}</li>`).join("")}</ul>`
    : `<p class="hint">No open resource with room fits this call.</p>`;
  return `<div class="nearby"><strong>Nearby, open, with room</strong>${list}</div>
    <fieldset class="close"><legend>Close</legend>
      <label>Disposition <select class="disposition">${DISPOSITIONS.map((d) => `<option value="${d}">${d.replaceAll("_", " ")}</option>`).join("")}</select></label>
      <label class="destination-row" hidden>Destination <select class="destination"></select></label>
      <label>Referral <select class="referral" aria-label="Referral"><option value="">none</option>${options}<option value="text">other (type it)…</option></select></label>
      <label class="referral-text-row" hidden>Referred to <input class="referral-text" maxlength="500"></label>
      <label class="check"><input type="checkbox" class="backup"> Police backup requested</label>
      <label class="check"><input type="checkbox" class="follow"> Follow-up within</label>
      <select class="follow-h" aria-label="Follow-up hours"><option value="24">24 h</option><option value="48">48 h</option><option value="72">72 h</option></select>
    </fieldset>
    <p class="close-error error" role="alert">${esc(closing.errors.get(aid) || "")}</p>`;
}

// The places of the kind the transport takes: those suggested first, nearest first.
function destinationsFor(disposition, aid) {
  const kind = DESTINATION_KINDS[disposition];
  if (!kind) return [];
  const near = (closing.suggested.get(aid) || []).filter((s) => s.kind === kind);
  return [...near, ...closing.directory.filter((r) => r.kind === kind && !near.some((s) => s.id === r.id))];
}

// Wire one card's form: restore what was picked, keep what is picked, show what applies.
function wireCloseForm(card, aid) {
  const q = (selector) => card.querySelector(selector);
  const saved = closing.forms.get(aid) || {};
  const fields = ["disposition", "referral", "referral-text", "follow-h"];
  const sync = () => {
    const places = destinationsFor(q(".disposition").value, aid);
    q(".destination-row").hidden = places.length === 0;
    const chosen = q(".destination").value || saved.destination;
    q(".destination").replaceChildren(...places.map((r) => el(`<option value="${r.id}">${esc(r.name)}</option>`)));
    if (places.some((r) => r.id === chosen)) q(".destination").value = chosen;
    q(".referral-text-row").hidden = q(".referral").value !== "text";
  };
  for (const name of fields) if (saved[name] !== undefined) q(`.${name}`).value = saved[name];
  q(".backup").checked = Boolean(saved.backup);
  q(".follow").checked = Boolean(saved.follow);
  sync();
  card.addEventListener("change", () => {
    closing.forms.set(aid, {
      ...Object.fromEntries(fields.map((name) => [name, q(`.${name}`).value])),
      destination: q(".destination").value, backup: q(".backup").checked, follow: q(".follow").checked,
    });
    sync();
  });
}

// The last clear, over HTTP (the socket's `status` action carries no close parts),
// through the outbox like every step: with no connection it waits there.
function clearWithClose(card, aid) {
  const q = (selector) => card.querySelector(selector);
  const body = { status: "cleared", disposition: q(".disposition").value };
  if (!q(".destination-row").hidden && q(".destination").value) body.destination_id = q(".destination").value;
  const referral = q(".referral").value;
  if (referral === "text" && q(".referral-text").value.trim()) body.referral = { text: q(".referral-text").value.trim() };
  else if (referral && referral !== "text") body.referral = { resource_id: referral };
  if (q(".backup").checked) body.backup_requested = true;
  if (q(".follow").checked) body.follow_up = { within_h: Number(q(".follow-h").value) };
  closing.errors.delete(aid);
  queueStep({
    method: "POST", path: `/v1/assignments/${aid}/status`, body,
    label: "Clear", assignment_id: aid, status: "cleared", own_refusal: true,
  });
  renderWork();
}

// A refused clear is said beside its form, which keeps what was picked, even on a card
// re-drawn since; a clear that went through forgets the form.
window.addEventListener("corespond:step-settled", (e) => {
  const { step, refused } = e.detail;
  if (step.status !== "cleared") return;
  if (refused) closing.errors.set(step.assignment_id, refused);
  else { closing.forms.delete(step.assignment_id); closing.errors.delete(step.assignment_id); }
  const shown = document.querySelector(`[data-work="${step.assignment_id}"] .close-error`);
  if (shown) shown.textContent = refused || "";
});

// ---- the desk: overdue follow-ups ----------------------------------------------------

async function refreshFollowUps() {
  if (!["admin", "supervisor", "dispatcher"].includes(state.principal.role)) return;
  const overdue = await api("GET", "/v1/follow-ups?overdue=true&limit=200");
  $("follow-ups-panel").hidden = false;
  $("overdue-count").textContent = overdue.length;
  $("overdue").replaceChildren(...overdue.map((t) => el(`<li data-follow-up="${t.id}">
    call <strong>${esc(t.call_id.slice(0, 8))}</strong> · due ${new Date(t.due_at).toLocaleDateString("en-GB")} ${time24(t.due_at, false)}
    · ${t.state === "claimed" ? `with ${esc(nameOf(t.responder_id))}` : "unclaimed"}</li>`)));
}

// ---- a clinician's or peer's follow-ups: the queue and its own -----------------------

const FOLLOW_UP_OUTCOMES = ["reached", "not_reached", "linked_to_care"];

async function refreshMyFollowUps(me) {
  const carer = me.kind === "clinician" || me.kind === "peer";
  $("my-follow-ups-panel").hidden = !carer;
  if (!carer) return;
  const tasks = await api("GET", "/v1/follow-ups?limit=100");
  const open = tasks.filter((t) => t.state !== "completed");
  // A redraw (each follow-up event brings one) keeps the outcome a carer has picked.
  const picked = new Map([...$("my-follow-ups").querySelectorAll("[data-follow-up]")].map((li) => [li.dataset.followUp, li.querySelector(".follow-up-outcome")?.value]));
  $("my-follow-ups").replaceChildren(...open.map((t) => {
    const mine = t.responder_id === me.id;
    const item = el(`<li data-follow-up="${t.id}">call <strong>${esc(t.call_id.slice(0, 8))}</strong>
      · due ${new Date(t.due_at).toLocaleDateString("en-GB")} ${time24(t.due_at, false)}${t.overdue ? ' <span class="tag risk">overdue</span>' : ""}
      ${mine ? `<select class="follow-up-outcome" aria-label="Follow-up outcome">${FOLLOW_UP_OUTCOMES.map((o) => `<option value="${o}">${o.replaceAll("_", " ")}</option>`).join("")}</select>
        <button type="button" class="complete">Complete</button>` : '<button type="button" class="claim">Claim</button>'}</li>`);
    if (mine && picked.get(t.id)) item.querySelector(".follow-up-outcome").value = picked.get(t.id);
    const act = (path, body) => api("POST", `/v1/follow-ups/${t.id}/${path}`, body).then(refresh, (e) => note(e.message));
    if (mine) item.querySelector(".complete").onclick = () => act("complete", { outcome: item.querySelector(".follow-up-outcome").value });
    else item.querySelector(".claim").onclick = () => act("claim");
    return item;
  }));
  $("no-follow-ups").hidden = open.length > 0;
}
