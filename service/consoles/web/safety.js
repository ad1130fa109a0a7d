// The responder's safety (issue 23 §1, §2): the emergency button in the header, which
// raises only when held (a click alone does nothing), then says that help is coming
// until dispatch closes the emergency; and what a reload keeps of it and of the
// check-in prompts (which checkin.js draws). Loaded after console.js, outbox.js and
// device.js, whose helpers it uses.
"use strict";

const HOLD_MS = 1500;
const safety = {
  checkins: new Map(), // assignment id → the open check-in prompt
  emergency: null, own: false, raising: null, refused: null, positionsS: null,
  holdTimer: null, retryTimer: null,
  changes: 0, // each time this page shows an emergency raised or closed (reloadEmergency)
  checkinChanges: 0, checkinChanged: new Map(), // assignment id → its prompt's last live change
};

function safetyStore() { return `corespond_safety_${state.principal.responder_id}`; }

// Kept in the tab across a reload (a reload does not replay what the socket sent before).
function saveSafety() {
  sessionStorage.setItem(safetyStore(), JSON.stringify({
    checkins: [...safety.checkins.values()], emergency: safety.emergency, own: safety.own, positionsS: safety.positionsS,
  }));
}

function loadSafety() {
  let saved = {};
  try { saved = JSON.parse(sessionStorage.getItem(safetyStore())) || {}; } catch { saved = {}; }
  safety.checkins = new Map((saved.checkins || []).map((c) => [c.assignment_id, c]));
  Object.assign(safety, { emergency: saved.emergency || null, own: Boolean(saved.own), positionsS: saved.positionsS || null });
}

// An SOS not yet through is kept on this device (localStorage, as the outbox keeps its
// steps): a reload or a closed tab does not lose it, and once this responder is signed
// in again it goes on being sent with the same Idempotency-Key, so it is raised once.
function sosStore() { return `corespond_sos_${state.principal.responder_id}`; }

function keepRaising() {
  if (safety.raising) localStorage.setItem(sosStore(), JSON.stringify({ ...safety.raising, failed: false }));
  else localStorage.removeItem(sosStore());
}

function resumeRaising() {
  let saved = null;
  try { saved = JSON.parse(localStorage.getItem(sosStore())); } catch { saved = null; }
  if (!saved || safety.raising) return;
  safety.own = true;
  safety.raising = saved;
  renderEmergency();
  sendEmergency();
}

// ---- the emergency ------------------------------------------------------------------

function startHold() {
  if (safety.holdTimer || safety.raising) return;
  $("sos").classList.add("holding");
  $("sos-label").textContent = "Keep holding…";
  safety.holdTimer = setTimeout(() => { safety.holdTimer = null; endHold(); raiseEmergency(); }, HOLD_MS);
}

function cancelHold() {
  if (!safety.holdTimer) return;
  clearTimeout(safety.holdTimer);
  safety.holdTimer = null;
  endHold();
}

function endHold() {
  $("sos").classList.remove("holding");
  $("sos-label").textContent = "Hold for help (SOS)";
}

const sos = $("sos");
sos.addEventListener("pointerdown", (e) => {
  if (e.button !== 0) return;
  sos.setPointerCapture(e.pointerId); // a finger that drifts a little still holds
  startHold();
});
for (const type of ["pointerup", "pointercancel", "lostpointercapture", "blur"]) sos.addEventListener(type, cancelHold);
sos.addEventListener("keydown", (e) => {
  if (e.key !== " " && e.key !== "Enter") return;
  e.preventDefault();
  if (!e.repeat) startHold();
});
sos.addEventListener("keyup", (e) => { if (e.key === " " || e.key === "Enter") cancelHold(); });
sos.addEventListener("click", (e) => e.preventDefault()); // a click alone raises nothing
sos.addEventListener("contextmenu", (e) => e.preventDefault()); // a long press is not a menu

// Raise it over HTTP with one key for every retry (a lost answer must not raise a
// second one), retrying every 2 s until it gets through.
function raiseEmergency() {
  safety.own = true; // raised here: this page sends positions while it is open
  safety.refused = null;
  safety.raising = { method: "POST", path: `/v1/responders/${state.principal.responder_id}/emergency`, body: device.lastFix ? { ...device.lastFix } : {}, key: newIdempotencyKey(), failed: false };
  keepRaising();
  buzz([100]);
  renderEmergency();
  sendEmergency();
}

async function sendEmergency() {
  const raising = safety.raising;
  if (!raising || !state.token) return;
  const answer = await deliver(raising);
  if (safety.raising !== raising) return;
  if (answer.later) {
    raising.failed = true;
    safety.retryTimer = setTimeout(sendEmergency, 2000);
  } else {
    safety.raising = null;
    keepRaising();
    if (answer.refused) safety.refused = answer.refused;
    else showEmergency(answer.data.emergency || answer.data);
  }
  renderEmergency();
}

function showEmergency(emergency) {
  safety.changes += 1;
  safety.emergency = emergency;
  safety.positionsS = safety.positionsS || emergency.position_interval_s || null;
  saveSafety();
  renderEmergency();
  followEmergency();
}

function followEmergency() {
  emergencyPositions(safety.emergency && safety.positionsS && (safety.own || sharing()) ? safety.positionsS : null);
}

function closeEmergency(emergency) {
  safety.changes += 1;
  safety.emergency = null;
  safety.own = false;
  safety.positionsS = null;
  saveSafety();
  followEmergency();
  renderEmergency();
  logLine(`Emergency closed${emergency && emergency.closed_by ? ` by ${emergency.closed_by}` : ""}.`);
}

function renderEmergency() {
  const e = safety.emergency;
  const panel = $("help-coming");
  panel.hidden = !e && !safety.raising && !safety.refused;
  panel.classList.toggle("unsent", Boolean(safety.raising && safety.raising.failed) || Boolean(safety.refused));
  let title = "", text = "";
  if (safety.refused) {
    title = "The emergency was not raised";
    text = `${safety.refused}. Use your radio.`;
  } else if (safety.raising) {
    title = safety.raising.failed ? "Not sent yet: no connection" : "Calling for help…";
    text = safety.raising.failed ? "Retrying every 2 s. Use your radio or phone now." : "Sending your emergency to dispatch.";
  } else if (e) {
    const backup = (e.backup || []).length;
    title = "Help is coming";
    text = `Dispatch and supervisors have your emergency${e.raised_at ? `, raised ${time24(e.raised_at)}` : ""}.`
      + (e.backup_missing ? ` ${e.backup_missing[0].toUpperCase()}${e.backup_missing.slice(1)}.`
        : backup ? ` ${backup} backup ${backup === 1 ? "officer has" : "officers have"} been offered your call.` : "");
  }
  $("help-title").textContent = title;
  $("help-text").textContent = text;
  const asked = Boolean(e && safety.positionsS && !safety.own && !sharing());
  $("help-share").hidden = !asked;
  $("help-positions").textContent = e && safety.positionsS && !asked
    ? `Your position goes to dispatch every ${safety.positionsS} s until the emergency is closed.` : "";
  $("help-dismiss").hidden = !safety.refused;
}

$("help-share").addEventListener("click", () => { safety.own = true; saveSafety(); followEmergency(); renderEmergency(); });
$("help-dismiss").addEventListener("click", () => { safety.refused = null; renderEmergency(); });

// Open emergencies as the server has them, when it tells a responder (a reload). An
// event or a raise that came while it was asked is newer than its answer, which then
// changes nothing: a stale "none open" must not tell a responder whose emergency was
// just raised that it is over, nor stop its positions.
async function reloadEmergency() {
  const asked = safety.changes;
  $("help-coming").setAttribute("aria-busy", "true");
  try {
    const open = await api("GET", "/v1/emergencies?open=true");
    const mine = (Array.isArray(open) ? open : open.emergencies || [])
      .find((x) => x.responder && x.responder.id === state.principal.responder_id);
    if (safety.changes !== asked) return;
    if (mine) showEmergency(mine);
    else if (safety.emergency) closeEmergency(null);
  } catch (error) {
    // Not for responders on this server: what this tab kept stands.
  } finally {
    $("help-coming").removeAttribute("aria-busy");
  }
}

// ---- events -------------------------------------------------------------------------

window.addEventListener("corespond:event", (e) => {
  if (!isResponder()) return;
  const { event, data } = e.detail;
  const me = state.principal.responder_id;
  if (event === "responder.emergency" && data.emergency.responder.id === me) {
    showEmergency(data.emergency);
  } else if (event === "emergency.position_wanted" && (!safety.emergency || data.emergency_id === safety.emergency.id)) {
    safety.positionsS = data.interval_s;
    saveSafety();
    followEmergency();
    renderEmergency();
  } else if (event === "emergency.updated" && safety.emergency && data.emergency.id === safety.emergency.id) {
    // Its backup changed: the banner says so; positions go on as they were asked for.
    safety.changes += 1;
    safety.emergency = data.emergency;
    saveSafety();
    renderEmergency();
  } else if (event === "emergency.closed" && safety.emergency && data.emergency.id === safety.emergency.id) {
    closeEmergency(data.emergency);
  }
});

window.addEventListener("corespond:signed-in", () => {
  if (!isResponder()) return;
  $("sos").hidden = false;
  loadSafety();
  renderEmergency();
  followEmergency();
  resumeRaising();
});

// Read again whenever the socket is back (welcome) or lost what it missed (resync): a
// close that came while the phone was away, or before a reload, ends the banner then.
window.addEventListener("corespond:reread", () => { if (isResponder()) reloadEmergency(); });

// An SOS still being sent stays on the device for this responder's next sign-in.
window.addEventListener("corespond:signed-out", () => {
  $("sos").hidden = true;
  cancelHold();
  clearTimeout(safety.retryTimer);
  Object.assign(safety, { checkins: new Map(), emergency: null, own: false, raising: null, refused: null, positionsS: null });
  safety.checkinChanged.clear();
  renderEmergency();
});
