// The dispatcher's board: calls waiting and active, the responders, the call form.
// Loaded after console.js, whose state, socket and helpers it uses.
"use strict";

// ---- dispatcher -------------------------------------------------------------------

async function refreshDispatcher() {
  const [calls, responders] = await Promise.all([
    api("GET", "/v1/calls?limit=200"),
    ["admin", "supervisor", "dispatcher", "cad"].includes(state.principal.role)
      ? api("GET", "/v1/responders?limit=500") : [],
  ]);
  state.calls = calls;
  state.responders = responders;
  renderCalls();
  renderBoard();
  drawMap();
  await refreshFollowUps();
}

function nameOf(id) {
  const r = state.responders.find((x) => x.id === id);
  return r ? r.name : id.slice(0, 8);
}

// Earlier calls at this person or place, as intake counted them (staff see them).
function contactsText(c) {
  const k = c.contacts;
  if (!k || (!k.person && !k.place)) return "";
  return `<br><span class="contacts">${esc(k.said)}</span>`;
}

function renderCalls() {
  const waiting = state.calls.filter((c) => c.status === "pending");
  const active = state.calls.filter((c) => c.status === "dispatched" || (c.status === "pending" && c.assignments.some((a) => ACTIVE.has(a.state))));
  $("queue-count").textContent = waiting.length;
  $("queue").replaceChildren(...waiting.map((c) => el(`<li data-call="${c.id}">
    ${tags(c)} <strong>${esc(c.location.address || `${c.location.lat.toFixed(4)}, ${c.location.lon.toFixed(4)}`)}</strong><br>
    ${c.plan.rule ? `rule <em class="rule">${esc(c.plan.rule)}</em> · ` : ""}team <strong>${esc(c.plan.team)}</strong>
    waiting for <strong class="missing">${esc(c.plan.missing.join(", ") || "—")}</strong> for ${since(c.received_at)}
    <br><span class="fallback">${fallbackText(c.plan)}</span>
    <br><small>${esc(c.plan.reason)}</small>${contactsText(c)}</li>`)));
  $("active").replaceChildren(...active.map((c) => el(`<li data-call="${c.id}">
    ${tags(c)} <strong>${esc(c.location.address || c.id.slice(0, 8))}</strong>${contactsText(c)}
    <ul>${c.assignments.filter((a) => ACTIVE.has(a.state)).map((a) => `<li data-assignment="${a.id}">
      ${esc(a.role)}: ${esc(nameOf(a.responder_id))} — <span class="state-${a.state}">${a.state.replaceAll("_", " ")}</span>
      for ${since(lastStamp(a))} · <span class="travel">${esc(travelText(a))}</span></li>`).join("")}</ul></li>`)));
}

function fallbackText(plan) {
  if (!plan.fallback.length) return "no fallback: waits for its team";
  const next = esc(plan.fallback[0].team);
  if (!plan.fallback_at) return `falls back to ${next} if a seat stays empty`;
  const s = Math.round((new Date(plan.fallback_at).getTime() - Date.now()) / 1000);
  return s > 0 ? `falls back to ${next} in ${s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${s % 60} s`}` : `falling back to ${next}`;
}

function renderBoard() {
  $("board").tBodies[0].replaceChildren(...state.responders.map((r) => el(`<table><tr>
    <td>${esc(r.name)}</td><td>${r.kind}</td><td class="state-${r.status}">${r.status.replaceAll("_", " ")}</td>
    <td>${r.cit_certified_until || "—"}</td><td>${esc(r.skills.join(", "))}</td><td>${esc(r.languages.join(", "))}</td>
    <td>${r.position ? `${since(r.position.at)} ago` : "unknown"}</td></tr></table>`).querySelector("tr")));
}

setInterval(() => { if (state.principal && state.principal.role !== "responder") renderCalls(); }, 1000);

$("call-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const text = (id) => $(id).value.trim() || undefined;
  const body = {
    location: { lat: Number($("call-lat").value), lon: Number($("call-lon").value), address: text("call-address") },
    category: $("call-category").value,
    risk: { weapon: $("call-weapon").checked, violence: $("call-violence").checked, medical: $("call-medical").checked },
    priority: Number($("call-priority").value),
    narrative: text("call-narrative"),
    language: text("call-language"),
  };
  try {
    const call = await api("POST", "/v1/calls", body);
    const offers = call.assignments.map((a) => `${a.role} to ${nameOf(a.responder_id)} (${travelText(a)})`);
    const seen = call.contacts && (call.contacts.person || call.contacts.place) ? ` Seen before: ${call.contacts.said}.` : "";
    $("call-result").textContent = `Dispatched: ${call.plan.reason}. ${offers.length ? `Offered: ${offers.join("; ")}.` : ""} ${call.plan.missing.length ? `Waiting for: ${call.plan.missing.join(", ")}.` : ""}${seen}`;
    $("call-form").reset();
    refresh();
  } catch (error) {
    $("call-result").textContent = error.message;
  }
});

