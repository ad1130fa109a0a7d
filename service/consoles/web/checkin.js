// The check-in prompt on an on-scene assignment card (issue 23 §1): shown on
// `checkin.due`, and again from the server after a reload, a reconnect or a resync;
// answered with *I'm OK* through the outbox. Loaded after safety.js, which keeps the
// prompts (`safety.checkins`) across a reload of the tab.
"use strict";

// ---- check-ins ----------------------------------------------------------------------

// The prompt on an assignment card (responder.js draws the cards), or nothing.
function checkinHtml(aid) {
  const due = safety.checkins.get(aid);
  if (!due) return "";
  const waiting = waitingCheckin(aid);
  return `<div class="checkin-due" role="alert">
    <p><strong>Check in now:</strong> are you OK? With no answer by ${time24(due.grace_until)} dispatch is alarmed.</p>
    <button type="button" class="im-ok" ${waiting ? "disabled" : ""}>${waiting ? "I'm OK — waiting to send" : "I'm OK"}</button></div>`;
}

function wireCheckin(card, aid) {
  const button = card.querySelector(".im-ok");
  if (!button) return;
  button.onclick = () => {
    queueStep({ method: "POST", path: `/v1/assignments/${aid}/checkin`, body: {}, label: "I'm OK (check-in)", assignment_id: aid, checkin: true });
    renderWork();
  };
}

// A prompt shown or answered live takes the next number (reloadCheckins).
function touchCheckin(aid) { safety.checkinChanged.set(aid, ++safety.checkinChanges); }

// The prompts due now as the server has them, on sign-in and after every reconnect or
// resync: a reload or a dropped connection does not replay `checkin.due`, and a prompt
// never seen ends, 300 s later, in a false alarm on every board and backup sent. A
// prompt shown or answered while this was asked is newer than the answer, which leaves
// it alone: a stale "due" must not bring back a prompt just answered.
async function reloadCheckins() {
  const asked = safety.checkinChanges;
  const me = state.principal.responder_id;
  let open;
  try {
    open = await api("GET", "/v1/checkins?open=true");
  } catch (error) {
    return; // what this tab kept stands
  }
  if (!isResponder() || state.principal.responder_id !== me) return;
  const changedSince = (aid) => (safety.checkinChanged.get(aid) || 0) > asked;
  const due = new Map(open.map((item) => item.checkin || item)
    .filter((c) => c.state === "due" && c.responder_id === me).map((c) => [c.assignment_id, c]));
  let fresh = false;
  for (const aid of [...safety.checkins.keys()]) if (!due.has(aid) && !changedSince(aid)) safety.checkins.delete(aid);
  for (const [aid, checkin] of due) {
    if (changedSince(aid)) continue;
    fresh = fresh || !safety.checkins.has(aid);
    safety.checkins.set(aid, checkin);
  }
  saveSafety();
  renderWork();
  if (fresh) { beep(); buzz([300, 150, 300]); }
}

// Prompts for assignments no longer on scene are over.
function pruneCheckins(work) {
  for (const aid of [...safety.checkins.keys()]) {
    const item = work.get(aid);
    if (!item || item.assignment.state !== "on_scene") safety.checkins.delete(aid);
  }
  saveSafety();
}

// ---- events -------------------------------------------------------------------------

window.addEventListener("corespond:event", (e) => {
  if (!isResponder()) return;
  const { event, data } = e.detail;
  const checkin = data && data.checkin;
  if (!checkin || checkin.responder_id !== state.principal.responder_id) return;
  if (event === "checkin.due") {
    touchCheckin(checkin.assignment_id);
    safety.checkins.set(checkin.assignment_id, checkin);
    saveSafety();
    beep();
    setTimeout(beep, 700);
    buzz([300, 150, 300]);
    renderWork();
    const button = document.querySelector(`[data-work="${checkin.assignment_id}"] .im-ok`);
    if (button) button.focus();
  } else if (event === "checkin.done") {
    touchCheckin(checkin.assignment_id);
    safety.checkins.delete(checkin.assignment_id);
    saveSafety();
    renderWork();
  }
});

window.addEventListener("corespond:step-settled", (e) => {
  const { step, refused } = e.detail;
  if (!step.checkin) return;
  touchCheckin(step.assignment_id);
  safety.checkins.delete(step.assignment_id); // answered, or no longer askable (not on scene)
  saveSafety();
  if (refused) note(`The check-in was not accepted: ${refused}`);
  renderWork();
});

window.addEventListener("corespond:reread", () => { if (isResponder()) reloadCheckins(); });
