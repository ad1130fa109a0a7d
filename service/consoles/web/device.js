// What the phone does for the responder: it installs as an app (the service worker keeps
// the console's files for offline use), keeps the screen awake while an offer or an
// assignment is open, reports its position with the responder's consent, and vibrates.
// Loaded after console.js, whose `state`, `$`, `api` and `note` it uses.
"use strict";

const device = {
  wakeLock: null, wantAwake: false, asking: false,
  intervalS: 30, positionTimer: null, emergencyTimer: null, lastFix: null,
};
// Consent is the device's, not the token's: a phone shared by a shift keeps its owner's choice.
const SHARE_KEY = "corespond_share_position";

if ("serviceWorker" in navigator) {
  // Scope /console (the page itself) is above the worker's folder: the server allows it.
  navigator.serviceWorker.register("/console/sw.js", { scope: "/console" }).catch(() => undefined);
}

function isResponder() { return Boolean(state.principal && state.principal.role === "responder"); }

function buzz(pattern) {
  if (navigator.vibrate) navigator.vibrate(pattern);
}

// ---- the screen stays awake while there is something to answer or do ---------------

function keepAwake(want) {
  device.wantAwake = want;
  $("responder").dataset.awake = want ? "wanted" : "no";
  if (!("wakeLock" in navigator)) return;
  if (!want) { releaseWake(); return; }
  if (device.wakeLock || device.asking || document.visibilityState !== "visible") return;
  device.asking = true;
  navigator.wakeLock.request("screen").then((lock) => {
    device.wakeLock = lock;
    $("responder").dataset.awake = "held";
    lock.addEventListener("release", () => { if (device.wakeLock === lock) device.wakeLock = null; });
    if (!device.wantAwake) releaseWake();
  }).catch(() => undefined).finally(() => { device.asking = false; });
}

function releaseWake() {
  const lock = device.wakeLock;
  device.wakeLock = null;
  if (lock) lock.release().catch(() => undefined);
}

// The browser lets go of the lock whenever the page is hidden; take it again on return.
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible") keepAwake(device.wantAwake);
});

// ---- position, with consent ---------------------------------------------------------

function sharing() { return localStorage.getItem(SHARE_KEY) === "yes"; }

function renderShare() {
  const on = sharing();
  const button = $("share-position");
  button.setAttribute("aria-checked", String(on));
  button.textContent = on ? "Sharing my position" : "Share my position";
  $("share-hint").textContent = on
    ? `From this device every ${device.intervalS} s while on duty.`
    : "Off: dispatch knows only the positions you or your CAD report.";
}

$("share-position").addEventListener("click", () => {
  localStorage.setItem(SHARE_KEY, sharing() ? "no" : "yes");
  renderShare();
  schedulePositions();
  if (sharing()) reportPosition(false);
});

function schedulePositions() {
  clearInterval(device.positionTimer);
  device.positionTimer = null;
  if (isResponder() && sharing()) device.positionTimer = setInterval(() => reportPosition(false), device.intervalS * 1000);
}

// One fix, sent at once. Off duty is the responder's own time: nothing is sent then,
// unless `always` (an emergency).
function reportPosition(always) {
  if (!isResponder() || !("geolocation" in navigator)) return;
  if (!always && (!state.me || state.me.status === "off_duty")) return;
  const id = state.principal.responder_id;
  navigator.geolocation.getCurrentPosition((fix) => {
    device.lastFix = { lat: fix.coords.latitude, lon: fix.coords.longitude };
    // Not queued when offline: an old position would only mislead.
    api("PUT", `/v1/responders/${id}/position`, device.lastFix).catch(() => undefined);
  }, (error) => {
    if (error.code !== error.PERMISSION_DENIED || !sharing()) return;
    localStorage.setItem(SHARE_KEY, "no");
    renderShare();
    schedulePositions();
    note("The browser refused this page your location: allow it in the site's settings, then switch sharing on again.");
  }, { enableHighAccuracy: true, maximumAge: 5000, timeout: 20000 });
}

// During an emergency the server asks for a position every few seconds, until it closes.
function emergencyPositions(intervalS) {
  clearInterval(device.emergencyTimer);
  device.emergencyTimer = null;
  if (!intervalS) return;
  reportPosition(true);
  device.emergencyTimer = setInterval(() => reportPosition(true), intervalS * 1000);
}

async function loadAgencySettings() {
  try {
    const agency = await api("GET", "/v1/agency");
    device.intervalS = agency.position_report_interval_s || 30;
  } catch (error) {
    device.intervalS = 30; // a server without agency settings: the contract's default
  }
  renderShare();
  schedulePositions();
}

window.addEventListener("corespond:signed-in", () => {
  if (!isResponder()) return;
  renderShare();
  loadAgencySettings();
});

window.addEventListener("corespond:signed-out", () => {
  clearInterval(device.positionTimer);
  clearInterval(device.emergencyTimer);
  device.positionTimer = device.emergencyTimer = null;
  keepAwake(false);
});
