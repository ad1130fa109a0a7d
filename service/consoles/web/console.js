// CoRespond web console: one page, no framework, no build step. This file is what the
// dispatcher's board (board.js) and the responder's page (responder.js) share: the
// token, the socket, the frames (each event is also a `corespond:event` on window). It
// speaks the HTTP API and the /v1/ws protocol described in docs/api.md, with the token
// kept in this tab only.
"use strict";

const $ = (id) => document.getElementById(id);
const DISPOSITIONS = [
  "resolved_on_scene", "referred", "transported_crisis_centre", "transported_ed",
  "voluntary_hold", "involuntary_hold", "arrest", "no_contact",
];
const ACTIVE = new Set(["offered", "accepted", "en_route", "on_scene"]);
const state = {
  token: null, principal: null, ws: null, welcomed: false, seq: 0, seen: new Set(),
  backoffMs: 1000, reconnectTimer: null, refreshTimer: null, config: {},
  calls: [], responders: [], me: null, offers: new Map(), work: new Map(), pick: null,
  // Refreshes overlap (an event's, the 30 s timer's, a reconnect's): each takes the next
  // number, and an answer is drawn only if no newer refresh's answer was drawn before it.
  refreshesAsked: 0, refreshDrawn: 0,
};

// ---- HTTP ---------------------------------------------------------------------------

async function api(method, path, body) {
  const headers = { Authorization: `Bearer ${state.token}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    throw new Error(data && data.detail ? `${data.error}: ${data.detail}` : `HTTP ${response.status}`);
  }
  return data;
}

// Every page of a list, newest first, until a short one: a list that stopped at the
// first would drop the 501st waiting call without a word. A call that arrives between
// two pages pushes one on to the next page, read twice and kept once; one that leaves
// between them may be missed until the next refresh (the next event).
const LIST_PAGE = 500;
async function everyPage(path) {
  const byId = new Map();
  for (let offset = 0; ; offset += LIST_PAGE) {
    const page = await api("GET", `${path}&limit=${LIST_PAGE}${offset ? `&offset=${offset}` : ""}`);
    for (const item of page) byId.set(item.id, item);
    if (page.length < LIST_PAGE) return [...byId.values()];
  }
}

// ---- signing in and out -------------------------------------------------------------

$("sign-in-form").addEventListener("submit", (e) => {
  e.preventDefault();
  signIn($("token").value.trim());
});
$("sign-out").addEventListener("click", () => signOut(""));

function signIn(token) {
  state.token = token;
  state.welcomed = false;
  $("sign-in-error").textContent = "";
  connect();
}

// A phone or a desk is shared by a shift: nothing of the last user's stays on the page,
// and an answer still on its way for them is never drawn.
function signOut(reason) {
  sessionStorage.removeItem("corespond_token");
  sessionStorage.removeItem("corespond_principal");
  clearTimeout(state.reconnectTimer);
  clearTimeout(state.refreshTimer);
  if (state.ws) { state.ws.onclose = null; state.ws.close(); }
  Object.assign(state, {
    token: null, principal: null, ws: null, welcomed: false, seq: 0,
    calls: [], responders: [], me: null, pick: null, refreshDrawn: ++state.refreshesAsked,
  });
  state.seen.clear();
  state.offers.clear();
  state.work.clear();
  $("events").replaceChildren();
  for (const id of ["dispatcher", "responder", "events-panel", "sign-out", "webhook-notice"]) $(id).hidden = true;
  $("sign-in").hidden = false;
  $("who").textContent = "";
  $("sign-in-error").textContent = reason;
  setConnection("offline", "Signed out");
  window.dispatchEvent(new Event("corespond:signed-out"));
}

// ---- the socket: connect, resume, reconnect with backoff ---------------------------

function setConnection(kind, text) {
  const badge = $("connection");
  badge.className = `connection ${kind}`;
  badge.textContent = text;
}

function connect() {
  const scheme = location.protocol === "https:" ? "wss://" : "ws://";
  const ws = new WebSocket(`${scheme}${location.host}/v1/ws`, ["corespond.v1"]);
  state.ws = ws;
  setConnection("reconnecting", state.welcomed ? "Reconnecting…" : "Connecting…");
  ws.onopen = () => ws.send(JSON.stringify({
    type: "hello", token: state.token, resume_after: state.welcomed ? state.seq : null,
  }));
  ws.onmessage = (message) => onFrame(JSON.parse(message.data));
  ws.onclose = (event) => onClose(event);
}

function onClose(event) {
  state.ws = null;
  if (event.code === 4401) {
    signOut(state.welcomed ? "Your token was revoked or has expired." : "That token is unknown, revoked or expired.");
    return;
  }
  if (event.code === 4403) { signOut("This page's origin is not allowed to connect."); return; }
  if (event.code === 4429) note(`The server closed the connection: ${event.reason}.`);
  if (!state.token) return;
  const delay = state.backoffMs * (0.75 + Math.random() / 2);
  state.backoffMs = Math.min(state.backoffMs * 2, 15000);
  setConnection("reconnecting", `Reconnecting in ${Math.ceil(delay / 1000)} s`);
  state.reconnectTimer = setTimeout(connect, delay);
}

function send(message) {
  if (state.ws && state.ws.readyState === WebSocket.OPEN) {
    state.ws.send(JSON.stringify(message));
    return true;
  }
  note("Not connected: try again when the badge says Live.");
  return false;
}

function onFrame(frame) {
  if (frame.type === "welcome") return onWelcome(frame);
  if (frame.type === "event") return onEvent(frame);
  if (frame.type === "resync") {
    logLine("resync: the log no longer holds what was missed; re-reading");
    window.dispatchEvent(new Event("corespond:reread"));
    return refresh();
  }
  if (frame.type === "result") { logLine(`${frame.action}: ${frame.assignment ? frame.assignment.state : "done"}`); return refresh(); }
  if (frame.type === "error") { note(`${frame.error}: ${frame.detail}`); return refresh(); }
}

function onWelcome(frame) {
  const first = !state.welcomed;
  const shown = state.principal; // a reload with no connection shows the page it kept
  state.principal = frame.principal;
  state.welcomed = true;
  state.backoffMs = 1000;
  if (first) state.seq = frame.seq;
  sessionStorage.setItem("corespond_token", state.token);
  sessionStorage.setItem("corespond_principal", JSON.stringify(frame.principal));
  setConnection("live", "Live");
  if (first && !samePrincipal(shown, frame.principal)) showView();
  // What the socket sent while this page was away (or before it loaded) is read again.
  window.dispatchEvent(new Event("corespond:reread"));
  refresh();
}

function onEvent(frame) {
  if (state.seen.has(frame.seq)) return;
  state.seen.add(frame.seq);
  state.seq = Math.max(state.seq, frame.seq);
  // Staff read events in words with names (board.js); a responder's page has no roster.
  const staff = state.principal && state.principal.role !== "responder";
  logLine(`#${frame.seq} ${time24(frame.at)} ${staff ? eventInWords(frame) : describe(frame)}`);
  if (frame.event === "assignment.offered" && isMine(frame.data.assignment)) showOffer(frame.data);
  if (frame.event === "webhook.disabled") showWebhookDisabled(frame.data);
  window.dispatchEvent(new CustomEvent("corespond:event", { detail: frame }));
  send({ type: "ack", seq: frame.seq });
  scheduleRefresh();
}

// A CAD's webhook stopped getting events (docs/webhooks.md): dispatchers must know the
// CAD is no longer told what happens, until an admin resumes it.
function showWebhookDisabled(data) {
  $("webhook-notice-text").textContent = `⚠ CAD not being told: ${data.reason}.`;
  $("webhook-notice").hidden = false;
}
$("webhook-notice-dismiss").addEventListener("click", () => { $("webhook-notice").hidden = true; });

function isMine(assignment) {
  return state.principal && state.principal.role === "responder"
    && assignment && assignment.responder_id === state.principal.responder_id;
}

function describe(frame) {
  const d = frame.data || {};
  const call = d.call || (frame.event.startsWith("call.") ? d : null);
  const parts = [];
  if (d.assignment) parts.push(`${d.assignment.role} → ${d.assignment.state}`);
  if (call && call.category !== undefined) parts.push(call.category === null ? "(category withheld)" : call.category.replaceAll("_", " "));
  if (call && call.location && call.location.address) parts.push(call.location.address);
  if (d.status && !d.assignment) parts.push(d.status);
  if (d.disposition) parts.push(d.disposition.replaceAll("_", " "));
  if (d.reason) parts.push(d.reason);
  return parts.join(" · ");
}

function logLine(text) {
  const item = document.createElement("li");
  item.textContent = text;
  $("events").prepend(item);
  while ($("events").children.length > 200) $("events").lastChild.remove();
}

function note(text) { logLine(`⚠ ${text}`); }

// ---- views --------------------------------------------------------------------------

function showView() {
  const p = state.principal;
  $("sign-in").hidden = true;
  $("sign-out").hidden = false;
  $("events-panel").hidden = false;
  $("who").textContent = `${p.role} · ${p.agency_slug}`;
  const responder = p.role === "responder";
  $("responder").hidden = !responder;
  $("dispatcher").hidden = responder;
  if (!responder) fetch("/console/config.json").then((r) => r.json()).then((c) => { state.config = c; drawMap(); });
  window.dispatchEvent(new CustomEvent("corespond:signed-in", { detail: { principal: p, token: state.token } }));
}

function scheduleRefresh() {
  clearTimeout(state.refreshTimer);
  state.refreshTimer = setTimeout(refresh, 150);
}

async function refresh() {
  if (!state.principal) return;
  const number = ++state.refreshesAsked;
  try {
    if (state.principal.role === "responder") await refreshResponder(number);
    else await refreshDispatcher(number);
  } catch (error) {
    if (number >= state.refreshDrawn) note(error.message);
  }
}

// Called by a refresh once its answers are in: false if a newer refresh's answer has
// been drawn (this one is older and must not overwrite it), else true, and this one's
// answer is the newest drawn.
function newestAnswer(number) {
  if (number < state.refreshDrawn) return false;
  state.refreshDrawn = number;
  return true;
}

// ---- shared by the board and the responder's page ---------------------------------

/** A 24-hour local time, "19:02:11" (or "19:02" with seconds false). */
function time24(iso, seconds = true) {
  if (!iso) return "—";
  const options = { hour: "2-digit", minute: "2-digit", hourCycle: "h23" };
  if (seconds) options.second = "2-digit";
  return new Date(iso).toLocaleTimeString("en-GB", options);
}

function since(iso) {
  const s = Math.max(0, Math.round((Date.now() - new Date(iso).getTime()) / 1000));
  return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${s % 60} s`;
}

function tags(call) {
  const risk = Object.entries(call.risk).filter(([, on]) => on).map(([k]) => `<span class="tag risk">${k}</span>`);
  const category = call.category ? call.category.replaceAll("_", " ") : "category withheld";
  return `<span class="tag">P${call.priority}</span><span class="tag">${category}</span>${risk.join("")}`;
}

function el(html) {
  const t = document.createElement("template");
  t.innerHTML = html.trim();
  return t.content.firstChild;
}

function esc(text) {
  return String(text ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

function lastStamp(a) {
  return a.cleared_at || a.on_scene_at || a.en_route_at || a.accepted_at || a.offered_at;
}

// The ETA and distance, and what made them: a road network, or the straight-line estimate.
function travelText(a) {
  const km = `${(a.distance_m / 1000).toFixed(1)} km`;
  const minutes = `${Math.max(1, Math.ceil(a.eta_s / 60))} min`;
  if (!a.travel_by || a.travel_by === "straight line") return `${km} away · ETA ${minutes}`;
  return `${km} by road · ETA ${minutes} by road (${a.travel_by})`;
}

function beep() {
  try {
    const audio = new AudioContext();
    const tone = audio.createOscillator();
    const gain = audio.createGain();
    tone.frequency.value = 880;
    gain.gain.setValueAtTime(0.2, audio.currentTime);
    gain.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + 0.6);
    tone.connect(gain).connect(audio.destination);
    tone.start();
    tone.stop(audio.currentTime + 0.6);
  } catch (error) {
    // No sound device: the card and the live region still announce the offer.
  }
}

function samePrincipal(a, b) {
  return Boolean(a && b) && a.token_id === b.token_id && a.role === b.role && a.responder_id === b.responder_id;
}

// A reload in the same tab keeps the session; a new tab must sign in again.
// (After every script has loaded: the board's and the responder's handlers too.)
// A responder's page is shown at once as this tab kept it, before the server answers:
// a phone reloaded with no connection still has its SOS button and its queued steps.
window.addEventListener("DOMContentLoaded", () => {
  const saved = sessionStorage.getItem("corespond_token");
  if (!saved) return;
  let kept = null;
  try { kept = JSON.parse(sessionStorage.getItem("corespond_principal")); } catch { kept = null; }
  if (kept && kept.role === "responder") {
    Object.assign(state, { token: saved, principal: kept });
    showView();
  }
  signIn(saved);
});
