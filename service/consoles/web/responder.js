// The responder's page: offers, the assignment and its steps, going on and off duty.
// Loaded after console.js, whose state, socket and helpers it uses.
"use strict";

// ---- responder --------------------------------------------------------------------

async function refreshResponder() {
  const id = state.principal.responder_id;
  const [me, calls] = await Promise.all([api("GET", `/v1/responders/${id}`), api("GET", "/v1/calls?limit=50")]);
  state.me = me;
  $("my-status").textContent = me.status.replaceAll("_", " ");
  $("toggle-available").textContent = me.status === "available" ? "Go off duty" : "Go available";
  $("toggle-available").disabled = !["available", "off_duty", "out_of_service"].includes(me.status);
  const offers = new Map(), work = new Map();
  for (const call of calls) {
    for (const a of call.assignments) {
      if (a.responder_id !== id) continue;
      if (a.state === "offered") offers.set(a.id, { assignment: a, call });
      else if (ACTIVE.has(a.state)) work.set(a.id, { assignment: a, call });
    }
  }
  for (const [aid, offer] of state.offers) if (!offers.has(aid) && !work.has(aid) && offer.fresh) offers.set(aid, offer);
  state.offers = offers;
  state.work = work;
  await loadCloseChoices(work);
  renderOffers();
  renderWork();
  await refreshMyFollowUps(me);
}

function showOffer(data) {
  state.offers.set(data.assignment.id, { assignment: data.assignment, call: data.call, fresh: true });
  renderOffers();
  beep();
  const accept = document.querySelector(`[data-offer="${data.assignment.id}"] button.accept`);
  if (accept) accept.focus();
}

function callLines(call) {
  const where = call.location.address || `${call.location.lat.toFixed(4)}, ${call.location.lon.toFixed(4)}`;
  return `<div class="big">${call.category ? esc(call.category.replaceAll("_", " ")) : "Category withheld"}</div>
    <div>${tags(call)}</div><div>${esc(where)}</div>
    ${call.narrative ? `<p>${esc(call.narrative)}</p>` : ""}`;
}

function renderOffers() {
  const cards = [...state.offers.values()].map(({ assignment: a, call }) => el(`<div class="card offer" data-offer="${a.id}">
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
  tick();
}

function tick() {
  for (const span of document.querySelectorAll("[data-expires]")) {
    const s = Math.max(0, Math.round((new Date(span.dataset.expires).getTime() - Date.now()) / 1000));
    span.textContent = s > 0 ? `${s} s` : "expired";
  }
}
setInterval(tick, 500);

function renderWork() {
  const cards = [...state.work.values()].map(({ assignment: a, call }) => {
    const next = { accepted: "en_route", en_route: "on_scene", on_scene: "cleared" }[a.state];
    return el(`<div class="card" data-work="${a.id}">
      ${callLines(call)}
      <div>As ${esc(a.role)}: <span class="state-${a.state}">${a.state.replaceAll("_", " ")}</span> for ${since(lastStamp(a))}</div>
      <button type="button" data-step="en_route" ${next === "en_route" ? "" : "disabled"}>En route</button>
      <button type="button" data-step="on_scene" ${next === "on_scene" ? "" : "disabled"}>On scene</button>
      ${closeFormHtml(a.id)}
      <button type="button" data-step="cleared" class="danger">Clear</button></div>`);
  });
  for (const card of cards) {
    const id = card.dataset.work;
    wireCloseForm(card, id);
    for (const button of card.querySelectorAll("[data-step]")) {
      if (button.dataset.step === "cleared") { button.onclick = () => clearWithClose(card, id); continue; }
      button.onclick = () => send({ type: "status", assignment_id: id, status: button.dataset.step, disposition: null });
    }
  }
  $("work").replaceChildren(...cards);
  $("no-work").hidden = cards.length > 0;
}

$("toggle-available").addEventListener("click", async () => {
  const status = state.me && state.me.status === "available" ? "off_duty" : "available";
  try {
    await api("PUT", `/v1/responders/${state.principal.responder_id}/status`, { status });
    refresh();
  } catch (error) {
    note(error.message);
  }
});

