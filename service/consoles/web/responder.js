// The responder's page: offers, the assignment and its steps, going on and off duty.
// Loaded after console.js, whose state, socket and helpers it uses; the steps go out
// through the outbox (outbox.js), the check-in prompt comes from safety.js, the screen
// lock and the vibration from device.js.
"use strict";

// ---- responder --------------------------------------------------------------------

// Each offer shown or taken away by an event takes the next number. A refresh keeps the
// number it asked at: its answer neither takes away an offer that arrived after it was
// asked (the server's list may not have it yet) nor brings back one that was declined,
// lapsed, withdrawn or accepted after it (the list is older than that event).
const offerChanges = { count: 0, byId: new Map() };
const touchOffer = (aid) => offerChanges.byId.set(aid, ++offerChanges.count);
const offerChangedSince = (aid, asked) => (offerChanges.byId.get(aid) || 0) > asked;
const OFFER_ENDS = new Set(["assignment.accepted", "assignment.declined", "assignment.expired", "assignment.cancelled"]);

async function refreshResponder(number) {
  const id = state.principal.responder_id;
  sendQueued(); // a reconnect, or any event: what waits in the outbox goes first
  const asked = offerChanges.count;
  // Only open calls hold offers and work: read those, however many calls came since (a
  // call that waited an hour is older than every call of that hour).
  const [me, pending, dispatched] = await Promise.all([
    api("GET", `/v1/responders/${id}`),
    everyPage("/v1/calls?status=pending"),
    everyPage("/v1/calls?status=dispatched"),
  ]);
  if (!newestAnswer(number)) return;
  const calls = [...pending, ...dispatched];
  state.me = me;
  renderDuty();
  const offers = new Map(), work = new Map();
  for (const call of calls) {
    for (const a of call.assignments) {
      if (a.responder_id !== id) continue;
      if (a.state === "offered") {
        if (!offerChangedSince(a.id, asked)) offers.set(a.id, { assignment: a, call });
      } else if (ACTIVE.has(a.state)) work.set(a.id, { assignment: a, call });
    }
  }
  for (const [aid, offer] of state.offers) {
    if (!offers.has(aid) && !work.has(aid) && offerChangedSince(aid, asked)) offers.set(aid, offer);
  }
  state.offers = offers;
  state.work = work;
  pruneCheckins(work);
  await loadCloseChoices(work);
  renderOffers();
  renderWork();
  await refreshMyFollowUps(me);
}

function showOffer(data) {
  touchOffer(data.assignment.id);
  state.offers.set(data.assignment.id, { assignment: data.assignment, call: data.call });
  renderOffers();
  beep();
  buzz([400, 200, 400]);
  const accept = document.querySelector(`[data-offer="${data.assignment.id}"] button.accept`);
  if (accept) accept.focus();
}

function callLines(call) {
  const where = call.location.address || `${call.location.lat.toFixed(4)}, ${call.location.lon.toFixed(4)}`;
  return `<div class="big">${call.category ? esc(call.category.replaceAll("_", " ")) : "Category withheld"}</div>
    <div>${tags(call)}</div><div>${esc(where)}</div>
    ${call.narrative ? `<p>${esc(call.narrative)}</p>` : ""}`;
}

// Backup is offered when a responder on the call raised an emergency or missed a
// check-in: the offer's purpose says which (never its role's name: a programme may
// have a kind of its own named `backup`).
const BACKUP_FOR = {
  emergency_backup: "Backup: a responder on this call raised an emergency",
  checkin_backup: "Backup: a responder on this call missed a check-in",
};
const isBackup = (a) => a.purpose in BACKUP_FOR;

function renderOffers() {
  const cards = [...state.offers.values()].map(({ assignment: a, call }) => el(`<div class="card offer${isBackup(a) ? " backup" : ""}" data-offer="${a.id}">
    ${isBackup(a) ? `<div class="urgent">${BACKUP_FOR[a.purpose]}</div>` : ""}
    ${callLines(call)}
    <div class="travel">${esc(travelText(a))} · as ${esc(a.role)}</div>
    <div>Expires in <span class="countdown" data-expires="${a.offer_expires_at}"></span></div>
    <button class="accept" type="button">Accept</button>
    <button class="decline secondary" type="button">Decline</button></div>`));
  for (const card of cards) {
    const id = card.dataset.offer;
    card.querySelector(".accept").onclick = () => send({ type: "accept", assignment_id: id });
    card.querySelector(".decline").onclick = () => send({ type: "decline", assignment_id: id });
  }
  $("offers").replaceChildren(...cards);
  $("no-offers").hidden = cards.length > 0;
  keepAwake(state.offers.size > 0 || state.work.size > 0);
  tick();
}

function tick() {
  for (const span of document.querySelectorAll("[data-expires]")) {
    const s = Math.max(0, Math.round((new Date(span.dataset.expires).getTime() - Date.now()) / 1000));
    span.textContent = s > 0 ? `${s} s` : "expired";
  }
}
setInterval(tick, 500);

const STEP_LABELS = { en_route: "En route", on_scene: "On scene", cleared: "Clear" };

// A step still in the outbox counts as made: the card offers the one after it.
function renderWork() {
  const cards = [...state.work.values()].map(({ assignment: a, call }) => {
    const waiting = waitingState(a.id);
    const shown = waiting || a.state;
    const next = { accepted: "en_route", en_route: "on_scene", on_scene: "cleared" }[shown];
    const where = waiting
      ? `<span class="state-waiting">${STEP_LABELS[waiting].toLowerCase()} (waiting to send)</span>`
      : `<span class="state-${a.state}">${a.state.replaceAll("_", " ")}</span> for ${since(lastStamp(a))}`;
    return el(`<div class="card" data-work="${a.id}">
      ${checkinHtml(a.id)}
      ${callLines(call)}
      <div>As ${esc(a.role)}: ${where}</div>
      <button type="button" data-step="en_route" ${next === "en_route" ? "" : "disabled"}>En route</button>
      <button type="button" data-step="on_scene" ${next === "on_scene" ? "" : "disabled"}>On scene</button>
      ${closeFormHtml(a.id)}
      <button type="button" data-step="cleared" class="danger" ${waiting === "cleared" ? "disabled" : ""}>Clear</button></div>`);
  });
  for (const card of cards) {
    const id = card.dataset.work;
    wireCloseForm(card, id);
    wireCheckin(card, id);
    for (const button of card.querySelectorAll("[data-step]")) {
      if (button.dataset.step === "cleared") { button.onclick = () => clearWithClose(card, id); continue; }
      button.onclick = () => takeStep(id, button.dataset.step);
    }
  }
  $("work").replaceChildren(...cards);
  $("no-work").hidden = cards.length > 0;
  keepAwake(state.offers.size > 0 || state.work.size > 0);
}

function takeStep(aid, status) {
  queueStep({
    method: "POST", path: `/v1/assignments/${aid}/status`, body: { status },
    label: STEP_LABELS[status], assignment_id: aid, status,
  });
  renderWork();
}

function renderDuty() {
  const me = state.me;
  if (!me) return;
  const duty = waitingDuty();
  $("my-status").textContent = duty ? `${duty.replaceAll("_", " ")} (waiting to send)` : me.status.replaceAll("_", " ");
  const status = duty || me.status;
  $("toggle-available").textContent = status === "available" ? "Go off duty" : "Go available";
  $("toggle-available").disabled = !["available", "off_duty", "out_of_service"].includes(status);
}

// PUT sets a status, so a repeat changes nothing; the outbox keeps its order with the steps.
$("toggle-available").addEventListener("click", () => {
  const now = waitingDuty() || (state.me && state.me.status);
  const status = now === "available" ? "off_duty" : "available";
  queueStep({
    method: "PUT", path: `/v1/responders/${state.principal.responder_id}/status`, body: { status },
    label: status === "available" ? "Go available" : "Go off duty", duty: status,
  });
  renderDuty();
});

window.addEventListener("corespond:step-settled", () => renderDuty());

// An offer answered (here or on another device), lapsed or withdrawn goes at once: the
// card, its countdown and the screen kept awake for it.
window.addEventListener("corespond:event", (e) => {
  const { event, data } = e.detail;
  if (!OFFER_ENDS.has(event) || !data || !isMine(data.assignment)) return;
  touchOffer(data.assignment.id);
  if (state.offers.delete(data.assignment.id)) renderOffers();
});

window.addEventListener("corespond:signed-out", () => {
  offerChanges.byId.clear();
  for (const id of ["offers", "work", "my-follow-ups", "outbox", "outbox-refused"]) $(id).replaceChildren();
  for (const id of ["no-offers", "no-work"]) $(id).hidden = false;
  for (const id of ["my-follow-ups-panel", "outbox-panel"]) $(id).hidden = true;
  $("my-status").textContent = "…";
});
