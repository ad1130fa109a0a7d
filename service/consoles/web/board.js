// The dispatcher's board: calls waiting and active, the calls closed this shift with their
// timelines, the responders' roster, the call form; times on a 24-hour clock and events
// in words. Loaded after console.js, whose state, socket and helpers it uses; the map is
// map.js's and the alarms alarms.js's.
"use strict";

// "The shift": the last 12 hours. Dispatchers work 8–12 hour shifts and reload the page
// during one; a window that survives a reload shows them what their shift closed.
const SHIFT_MS = 12 * 3600 * 1000;
const board = {
  closed: [], closedAt: 0, socket: null, seenByCall: new Map(), open: new Set(), outcomes: new Map(),
};

// ---- words and times ---------------------------------------------------------------

/** "Dana Ruiz (unit-214)": the unit or call sign beside every name. */
function responderLabel(r) {
  return r.external_id ? `${r.name} (${r.external_id})` : r.name;
}

function nameOf(id) {
  const r = state.responders.find((x) => x.id === id);
  return r ? responderLabel(r) : `responder ${String(id).slice(0, 8)}`;
}

const words = (text) => String(text ?? "").replaceAll("_", " ");

function placeOf(call) {
  if (!call || !call.location) return "";
  return call.location.address || `${call.location.lat.toFixed(4)}, ${call.location.lon.toFixed(4)}`;
}

/** "P2 mental health crisis at 1 Main St": a call as a dispatcher says it. */
function callWords(call) {
  if (!call) return "a call";
  const category = call.category === null ? "(category withheld)" : words(call.category || "call");
  const priority = call.priority ? `P${call.priority} ` : "";
  const place = placeOf(call);
  return `${priority}${category}${place ? ` at ${place}` : ""}`;
}

function callById(id) {
  return state.calls.find((c) => c.id === id) || board.closed.find((c) => c.id === id) || null;
}

const PROGRESS = {
  accepted: "accepted", declined: "declined", expired: "let the offer lapse",
  en_route: "is en route", on_scene: "is on scene", cleared: "cleared",
};

/** An event as a sentence ("Dana Ruiz (unit-214) is on scene"), for the events list. */
function eventInWords(frame) {
  const d = frame.data || {};
  const a = d.assignment;
  const reason = d.reason ? `: ${d.reason}` : "";
  const kind = frame.event.split(".")[1];
  if (a) {
    const call = d.call || callById(a.call_id);
    const on = call ? ` (${callWords(call)})` : "";
    if (kind === "offered") return `${nameOf(a.responder_id)} offered ${callWords(call)} as ${words(a.role)}`;
    if (kind === "cancelled") return `${nameOf(a.responder_id)} stood down${on}${reason}`;
    if (kind === "team_changed") return `${nameOf(a.responder_id)} stays on as ${words(a.role)}, team ${words(a.team)}${reason}`;
    return `${nameOf(a.responder_id)} ${PROGRESS[kind] || words(kind)}${on}${reason}`;
  }
  const c = d.checkin;
  const e = d.emergency;
  switch (frame.event) {
    case "call.created": return `New call: ${callWords(d)}${d.external_id ? ` (${d.external_id})` : ""}`;
    case "call.updated": return `Call ${callWords(callById(d.id) || d)} is ${words(d.status || "updated")}${d.missing && d.missing.length ? `, waiting for ${d.missing.join(", ")}` : ""}`;
    case "call.unserved": return `Call ${callWords(callById(d.id))} did not get team ${words(d.team)}${reason}`;
    case "call.closed": return `Call ${callWords(callById(d.id))} closed: ${words(d.disposition)}`;
    case "call.cancelled": return `Call ${callWords(callById(d.id))} cancelled${reason}`;
    case "call.outcome_amended": return `A close was amended (${(d.changed || []).map(words).join(", ")})`;
    case "responder.created": return `${responderLabel(d.name ? d : { name: nameOf(d.id) })} registered`;
    case "responder.status_changed": return `${nameOf(d.responder_id)} is ${words(d.status)}`;
    case "responder.position_changed": return `${nameOf(d.responder_id)} moved`;
    case "responder.positions_changed": return `${(d.positions || []).length} units moved`;
    case "checkin.due": return `${nameOf(c.responder_id)} is due to check in (by ${time24(c.grace_until || c.due_at)})`;
    case "checkin.done": return `${nameOf(c.responder_id)} checked in`;
    case "checkin.missed": return `${nameOf(c.responder_id)} missed a check-in${d.call ? ` at ${placeOf(d.call)}` : ""}`;
    case "checkin.acknowledged": return `Missed check-in of ${nameOf(c.responder_id)} acknowledged by ${words(d.acknowledged_by)}`;
    case "checkin.escalated": return `No check-in from ${nameOf(c.responder_id)}: ${d.rule === "backup" ? `backup offered (${(d.backup || []).length})` : "alarm only"}`;
    case "responder.emergency": return `EMERGENCY: ${e.responder ? responderLabel(e.responder) : "a responder"} needs help`;
    case "emergency.position_wanted": return "Position asked for every few seconds";
    case "emergency.updated": return `Emergency of ${e.responder ? responderLabel(e.responder) : "a responder"}: ${(e.backup || []).length} backup offered${e.backup_missing ? ` (${e.backup_missing})` : ""}`;
    case "emergency.closed": return `Emergency of ${e.responder ? responderLabel(e.responder) : "a responder"} closed by ${words(e.closed_by)}`;
    case "webhook.disabled": return `CAD webhook to ${d.host} disabled${reason}`;
    default: return `${words(frame.event.replace(".", " "))}${reason}`;
  }
}

// Events about a call seen on this page (check-ins, emergencies): its timeline adds them.
window.addEventListener("corespond:event", (e) => {
  const frame = e.detail;
  const d = frame.data || {};
  const callId = (d.checkin && d.checkin.call_id) || (d.emergency && d.emergency.call_id);
  if (!callId || !frame.event.match(/^(checkin|responder\.emergency|emergency)/)) return;
  const seen = board.seenByCall.get(callId) || [];
  seen.push({ at: frame.at, text: eventInWords(frame) });
  board.seenByCall.set(callId, seen.slice(-50));
});
window.addEventListener("corespond:event", (e) => {
  if (["call.closed", "call.cancelled"].includes(e.detail.event)) board.closedAt = 0;
});
window.addEventListener("corespond:signed-out", () => {
  Object.assign(board, { closed: [], closedAt: 0, socket: null });
  for (const kept of [board.seenByCall, board.open, board.outcomes]) kept.clear();
  for (const id of ["queue", "active", "closed", "overdue"]) $(id).replaceChildren();
  $("board").tBodies[0].replaceChildren();
  for (const id of ["queue-count", "closed-count", "roster-count", "overdue-count"]) $(id).textContent = "0";
  $("call-result").textContent = "";
});

// ---- refreshing ---------------------------------------------------------------------

async function refreshDispatcher(number) {
  const staff = ["admin", "supervisor", "dispatcher", "cad"].includes(state.principal.role);
  // A new socket is a reconnect (or a resync after one): re-read the slow lists at once.
  const slow = board.socket !== state.ws || Date.now() - board.closedAt > 30_000;
  board.socket = state.ws;
  const [calls, responders] = await Promise.all([
    readOpenCalls(),
    staff ? api("GET", "/v1/responders?limit=500") : [],
    slow ? refreshClosed() : null,
    slow && typeof boardAlarms !== "undefined" ? boardAlarms.reload() : null,
  ]);
  // A slow refresh (the lists above) can end after a newer one: its calls are older.
  if (!newestAnswer(number)) return;
  state.calls = calls;
  state.responders = responders;
  renderCalls();
  renderClosed();
  renderRoster();
  if (typeof boardAlarms !== "undefined") boardAlarms.render();
  drawMap();
  await refreshFollowUps();
}

// The open calls, each status read on its own: one newest-first page of every status
// would lose a call waiting for hours behind 200 newer ones closed since.
async function readOpenCalls() {
  const [pending, dispatched] = await Promise.all([everyPage("/v1/calls?status=pending"), everyPage("/v1/calls?status=dispatched")]);
  return [...pending, ...dispatched].sort((x, y) => new Date(y.received_at) - new Date(x.received_at));
}

async function refreshClosed() {
  board.closedAt = Date.now();
  const token = state.token;
  const [closed, cancelled] = await Promise.all([
    api("GET", "/v1/calls?status=closed&limit=200"), api("GET", "/v1/calls?status=cancelled&limit=100"),
  ]);
  if (state.token !== token) return; // signed out meanwhile
  const after = Date.now() - SHIFT_MS;
  board.closed = [...closed, ...cancelled]
    .filter((c) => c.closed_at && new Date(c.closed_at).getTime() >= after)
    .sort((x, y) => new Date(y.closed_at) - new Date(x.closed_at));
  renderClosed(); // also when the refresh that asked is older than one drawn meanwhile
}

// ---- calls --------------------------------------------------------------------------

// Earlier calls at this person or place, as intake counted them (staff see them).
function contactsText(c) {
  const k = c.contacts;
  if (!k || (!k.person && !k.place)) return "";
  return `<br><span class="contacts">${esc(k.said)}</span>`;
}

function callHead(c) {
  const number = c.external_id ? ` <span class="call-number">${esc(c.external_id)}</span>` : "";
  return `${tags(c)} <strong>${esc(placeOf(c))}</strong>${number}`;
}

function renderCalls() {
  const waiting = state.calls.filter((c) => c.status === "pending");
  const active = state.calls.filter((c) => c.status === "dispatched" || (c.status === "pending" && c.assignments.some((a) => ACTIVE.has(a.state))));
  $("queue-count").textContent = waiting.length;
  $("queue").replaceChildren(...waiting.map((c) => el(`<li data-call="${c.id}">
    ${callHead(c)} <small>since ${time24(c.received_at, false)}</small><br>
    ${c.plan.rule ? `rule <em class="rule">${esc(c.plan.rule)}</em> · ` : ""}team <strong>${esc(c.plan.team)}</strong>
    waiting for <strong class="missing">${esc(c.plan.missing.join(", ") || "—")}</strong> for ${since(c.received_at)}
    <br><span class="fallback">${fallbackText(c.plan)}</span>
    <br><small>${esc(c.plan.reason)}</small>${contactsText(c)}</li>`)));
  $("active").replaceChildren(...active.map((c) => el(`<li data-call="${c.id}">
    ${callHead(c)}${contactsText(c)}
    <ul>${c.assignments.filter((a) => ACTIVE.has(a.state)).map((a) => `<li data-assignment="${a.id}">
      ${esc(a.role)}: ${esc(nameOf(a.responder_id))} — <span class="state-${a.state}">${words(a.state)}</span>
      since ${time24(lastStamp(a), false)} (${since(lastStamp(a))}) · <span class="travel">${esc(travelText(a))}</span></li>`).join("")}</ul></li>`)));
}

function fallbackText(plan) {
  if (!plan.fallback.length) return "no fallback: waits for its team";
  const next = esc(plan.fallback[0].team);
  if (!plan.fallback_at) return `falls back to ${next} if a seat stays empty`;
  const s = Math.round((new Date(plan.fallback_at).getTime() - Date.now()) / 1000);
  const when = ` (${time24(plan.fallback_at, false)})`;
  return s > 0 ? `falls back to ${next} in ${s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${s % 60} s`}${when}` : `falling back to ${next}`;
}

// ---- closed this shift, each with its timeline ---------------------------------------

function renderClosed() {
  $("closed-count").textContent = board.closed.length;
  $("closed").replaceChildren(...board.closed.map((c) => {
    const item = el(`<li data-call="${c.id}"><details${board.open.has(c.id) ? " open" : ""}>
      <summary>${callHead(c)} · <span class="disposition">${c.status === "cancelled" ? "cancelled" : esc(words(c.disposition || "closed"))}</span>
      at ${time24(c.closed_at, false)}</summary><ol class="timeline"></ol></details></li>`);
    const details = item.querySelector("details");
    details.addEventListener("toggle", () => {
      if (details.open) { board.open.add(c.id); showTimeline(c, details.querySelector(".timeline")); } else board.open.delete(c.id);
    });
    if (details.open) showTimeline(c, details.querySelector(".timeline"));
    return item;
  }));
}

const STAMPS = [
  ["offered_at", (a) => `Offered to ${nameOf(a.responder_id)} as ${words(a.role)}`],
  ["accepted_at", (a) => `${nameOf(a.responder_id)} accepted`],
  ["en_route_at", (a) => `${nameOf(a.responder_id)} is en route`],
  ["on_scene_at", (a) => `${nameOf(a.responder_id)} is on scene`],
  ["cleared_at", (a) => `${nameOf(a.responder_id)} cleared${a.disposition ? `: ${words(a.disposition)}` : ""}`],
];

function timelineOf(c, outcome) {
  const lines = [{ at: c.received_at, text: `Call received: ${callWords(c)}` }];
  for (const a of c.assignments) {
    for (const [field, say] of STAMPS) if (a[field]) lines.push({ at: a[field], text: say(a) });
    if (a.ended_at && ["declined", "expired", "cancelled"].includes(a.state)) {
      lines.push({ at: a.ended_at, text: `${nameOf(a.responder_id)} ${a.state === "cancelled" ? "stood down" : PROGRESS[a.state]}` });
    }
  }
  if (outcome && outcome.backup_requested_at) lines.push({ at: outcome.backup_requested_at, text: "Police backup requested" });
  lines.push(...(board.seenByCall.get(c.id) || []));
  const end = c.status === "cancelled" ? "Cancelled" : `Closed: ${words(c.disposition || "closed")}`;
  const more = outcome ? [
    outcome.referral_text ? `referral: ${outcome.referral_text}` : outcome.referral_id ? "referral made" : "",
    outcome.follow_up_due_at ? `follow-up due ${new Date(outcome.follow_up_due_at).toLocaleDateString("en-GB")} ${time24(outcome.follow_up_due_at, false)}` : "",
  ].filter(Boolean) : [];
  lines.push({ at: c.closed_at, text: [end, ...more].join(" · ") });
  return lines.sort((x, y) => new Date(x.at) - new Date(y.at));
}

async function showTimeline(c, list) {
  const draw = (outcome) => list.replaceChildren(...timelineOf(c, outcome).map((line) => el(
    `<li><time datetime="${esc(line.at)}">${time24(line.at)}</time> ${esc(line.text)}</li>`)));
  draw(board.outcomes.get(c.id) || null);
  if (c.status !== "closed" || board.outcomes.has(c.id)) return;
  try {
    board.outcomes.set(c.id, await api("GET", `/v1/calls/${c.id}/outcome`));
    draw(board.outcomes.get(c.id));
  } catch (error) {
    // Without the close record the assignments still tell the story.
  }
}

// ---- the roster: collapsible, searched by name or unit, filtered by kind and status ---

const BUSY = new Set(["offered", "assigned", "en_route", "on_scene"]);

function renderRoster() {
  const kinds = [...new Set(state.responders.map((r) => r.kind))].sort();
  const kindSelect = $("roster-kind");
  const chosen = kindSelect.value;
  if (kindSelect.options.length !== kinds.length + 1) {
    kindSelect.replaceChildren(el('<option value="">all</option>'), ...kinds.map((k) => el(`<option value="${esc(k)}">${esc(k)}</option>`)));
    kindSelect.value = kinds.includes(chosen) ? chosen : "";
  }
  const query = $("roster-search").value.trim().toLowerCase();
  const status = $("roster-status").value;
  const shown = state.responders.filter((r) => (!query || `${r.name} ${r.external_id || ""}`.toLowerCase().includes(query))
    && (!kindSelect.value || r.kind === kindSelect.value)
    && (!status || (status === "busy" ? BUSY.has(r.status) : r.status === status)));
  $("roster-count").textContent = shown.length === state.responders.length ? shown.length : `${shown.length} of ${state.responders.length}`;
  $("board").tBodies[0].replaceChildren(...shown.map((r) => el(`<table><tr data-responder="${r.id}">
    <td>${esc(r.name)}${r.external_id ? ` <span class="unit">(${esc(r.external_id)})</span>` : ""}</td><td>${esc(r.kind)}</td>
    <td class="state-${r.status}">${words(r.status)}</td>
    <td>${r.cit_certified_until || "—"}</td><td>${esc(r.skills.join(", "))}</td><td>${esc(r.languages.join(", "))}</td>
    <td>${r.position ? `${time24(r.position.at, false)} (${since(r.position.at)} ago)` : "unknown"}</td></tr></table>`).querySelector("tr")));
}

for (const id of ["roster-search", "roster-kind", "roster-status"]) $(id).addEventListener("input", renderRoster);

setInterval(() => { if (state.principal && state.principal.role !== "responder") renderCalls(); }, 1000);
// A quiet board still re-reads its alarms and the shift's closed calls now and then.
setInterval(() => { if (state.principal && state.principal.role !== "responder") refresh(); }, 30_000);

// ---- the call form ------------------------------------------------------------------

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
    if (boardMap.pick) boardMap.pick.remove();
    boardMap.pick = null;
    state.pick = null;
    refresh();
  } catch (error) {
    $("call-result").textContent = error.message;
  }
});
