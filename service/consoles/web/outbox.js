// The responder's outbox: status steps (en route, on scene, clear, I'm OK, going
// available or off duty) go out through here, so that a step made with no connection
// is kept (localStorage, this device) and sent, in order, when the connection returns.
// Each step carries its own Idempotency-Key, fixed when it is queued: a step whose
// answer was lost is sent again with the same key and the server answers the first
// answer again instead of acting twice (docs/api.md, "Retrying safely").
// Loaded after console.js, whose `state`, `$`, `esc`, `el`, `note` and `refresh` it uses.
"use strict";

const outbox = { sending: null, refused: [], retryTimer: null };
const RETRY_MS = 3000;

function outboxStore() { return `corespond_outbox_${state.principal.responder_id}`; }

function queuedSteps() {
  if (!state.principal || state.principal.role !== "responder") return [];
  try { return JSON.parse(localStorage.getItem(outboxStore())) || []; } catch { return []; }
}

function saveSteps(steps) {
  localStorage.setItem(outboxStore(), JSON.stringify(steps));
  renderOutbox();
}

function newIdempotencyKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  // Pages served over plain http (not localhost) have no randomUUID.
  return [...crypto.getRandomValues(new Uint8Array(16))].map((b) => b.toString(16).padStart(2, "0")).join("");
}

// Queue one step and start sending. `step`: {method, path, body, label, and what the
// cards use to show it waiting: assignment_id and status, or duty}.
function queueStep(step) {
  saveSteps([...queuedSteps(), { ...step, key: newIdempotencyKey(), queued_at: new Date().toISOString() }]);
  sendQueued();
}

// The state a step still waiting will put this assignment in (the cards offer the next
// step from it), or null.
function waitingState(assignmentId) {
  const steps = queuedSteps().filter((s) => s.assignment_id === assignmentId && s.status);
  return steps.length ? steps[steps.length - 1].status : null;
}

function waitingDuty() {
  const steps = queuedSteps().filter((s) => s.duty);
  return steps.length ? steps[steps.length - 1].duty : null;
}

function waitingCheckin(assignmentId) {
  return queuedSteps().some((s) => s.assignment_id === assignmentId && s.checkin);
}

// Send what is queued, oldest first, one at a time; stop at the first that cannot get
// through now and try again later (on `online`, on every reconnect, every few seconds).
async function sendQueued() {
  if (outbox.sending) return outbox.sending;
  outbox.sending = (async () => {
    let delivered = false;
    for (let step = queuedSteps()[0]; step; step = queuedSteps()[0]) {
      const answer = await deliver(step);
      if (answer.later) break;
      saveSteps(queuedSteps().filter((s) => s.key !== step.key));
      delivered = true;
      if (answer.refused && !step.own_refusal) outbox.refused.push({ label: step.label, why: answer.refused });
      window.dispatchEvent(new CustomEvent("corespond:step-settled", { detail: { step, refused: answer.refused || null } }));
    }
    clearTimeout(outbox.retryTimer);
    if (queuedSteps().length) outbox.retryTimer = setTimeout(sendQueued, RETRY_MS);
    renderOutbox();
    if (delivered) refresh();
  })();
  try { await outbox.sending; } finally { outbox.sending = null; }
}

// {done, data}, {later} (no connection, the server busy or restarting, or the same key still
// in flight), or {refused: why} (the server said no: it will say no again).
async function deliver(step) {
  let response;
  try {
    response = await fetch(step.path, {
      method: step.method,
      headers: { Authorization: `Bearer ${state.token}`, "Content-Type": "application/json", "Idempotency-Key": step.key },
      body: JSON.stringify(step.body),
    });
  } catch (error) {
    return { later: true };
  }
  if (response.ok) return { done: true, data: await response.json().catch(() => null) };
  const data = await response.json().catch(() => null);
  const inFlight = response.status === 409 && data && /Idempotency-Key/.test(data.detail || "");
  if (response.status >= 500 || response.status === 429 || response.status === 401 || inFlight) return { later: true };
  return { refused: data && data.detail ? `${data.error}: ${data.detail}` : `HTTP ${response.status}` };
}

function renderOutbox() {
  if (!state.principal || state.principal.role !== "responder") return;
  const steps = queuedSteps();
  $("outbox").replaceChildren(...steps.map((s) => el(`<li data-step-key="${esc(s.key)}">
    <strong>${esc(s.label)}</strong> · made ${time24(s.queued_at)} · waiting for the connection</li>`)));
  $("outbox-refused").replaceChildren(...outbox.refused.map((r) => el(`<li><strong>${esc(r.label)}</strong> was not accepted: ${esc(r.why)}</li>`)));
  $("outbox-count").textContent = steps.length;
  $("outbox-panel").hidden = steps.length === 0 && outbox.refused.length === 0;
  $("outbox-dismiss").hidden = outbox.refused.length === 0;
  $("outbox-waiting-hint").hidden = steps.length === 0;
}

$("outbox-dismiss").addEventListener("click", () => { outbox.refused = []; renderOutbox(); });
window.addEventListener("online", () => sendQueued());
window.addEventListener("corespond:signed-in", () => { renderOutbox(); sendQueued(); });
window.addEventListener("corespond:signed-out", () => { clearTimeout(outbox.retryTimer); outbox.refused = []; });
