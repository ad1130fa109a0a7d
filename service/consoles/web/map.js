// The dispatcher's map: Leaflet (vendored, served by CoRespond), with calls and responders
// as DOM markers whose class and title say what they are, lines from each call to its
// responders, and a click that sets the call form's place. Tiles only if
// CORESPOND_CONSOLE_TILE_URL names some; without them an offline base of the agency's
// service areas (its programme rules) and a scale. Loaded before console.js: it touches
// the page only when console.js or board.js calls drawMap(), so console.js's state, $, esc
// and board.js's helpers exist by then.
"use strict";

const boardMap = {
  map: null, tiles: null, tileUrl: "", areas: null, areasFor: null, fitted: false,
  responders: new Map(), calls: new Map(), lines: null, pick: null,
};

const KIND_GLYPH = { officer: "O", clinician: "C", peer: "P", medic: "M" };
const DEFAULT_CENTRE = [40.1215, -75.3399];

// A class-safe word: kinds are an agency's own names.
const cssWord = (text) => String(text).toLowerCase().replace(/[^a-z0-9_-]/g, "-");
const statusWords = (status) => String(status).replaceAll("_", " ");
const capital = (text) => String(text).charAt(0).toUpperCase() + String(text).slice(1);

/** "Officer Dana Ruiz (unit-214), available": what a marker's title and tooltip say. */
function responderTitle(r) {
  const sos = boardEmergencyFor(r.id) ? " — EMERGENCY" : "";
  return `${capital(r.kind)} ${responderLabel(r)}, ${statusWords(r.status)}${sos}`;
}

function boardEmergencyFor(responderId) {
  return typeof boardAlarms !== "undefined" && boardAlarms.emergencyOf(responderId);
}

function responderIcon(r) {
  const known = Object.hasOwn(KIND_GLYPH, r.kind);
  const kind = known ? `kind-${r.kind}` : `kind-other kind-${cssWord(r.kind)}`;
  const sos = boardEmergencyFor(r.id) ? " emergency" : "";
  const glyph = known ? KIND_GLYPH[r.kind] : esc(r.kind.charAt(0).toUpperCase());
  return L.divIcon({
    className: `marker responder-marker ${kind} status-${cssWord(r.status)}${sos}`,
    html: `<span aria-hidden="true">${glyph}</span>`,
    iconSize: [22, 22],
  });
}

function callTitle(c) {
  const category = c.category ? c.category.replaceAll("_", " ") : "category withheld";
  const where = c.location.address || `${c.location.lat.toFixed(4)}, ${c.location.lon.toFixed(4)}`;
  const number = c.external_id ? ` ${c.external_id}` : "";
  const seats = c.plan.missing.length ? `waiting for ${c.plan.missing.join(", ")}` : "every seat filled";
  return `Call${number}: P${c.priority} ${category} at ${where}, ${seats}`;
}

function callIcon(c) {
  return L.divIcon({
    className: `marker call-marker priority-${c.priority} status-${cssWord(c.status)}`,
    html: `<span aria-hidden="true">P${c.priority}</span>`,
    iconSize: [36, 36],
  });
}

function startMap() {
  const map = L.map("map", { zoomControl: true, attributionControl: true, keyboard: true });
  map.setView(DEFAULT_CENTRE, 13);
  L.control.scale({ metric: true, imperial: true }).addTo(map);
  map.attributionControl.setPrefix(false);
  map.on("click", (e) => pickPlace(e.latlng));
  boardMap.lines = L.layerGroup().addTo(map);
  boardMap.map = map;
}

/** The click that places a new call: the form's latitude and longitude, and a cross. */
function pickPlace(latlng) {
  $("call-lat").value = latlng.lat.toFixed(5);
  $("call-lon").value = latlng.lng.toFixed(5);
  state.pick = { lat: latlng.lat, lon: latlng.lng };
  const icon = L.divIcon({ className: "marker pick-marker", html: "", iconSize: [24, 24] });
  if (boardMap.pick) boardMap.pick.setLatLng(latlng);
  else boardMap.pick = L.marker(latlng, { icon, title: "The new call's place", interactive: false }).addTo(boardMap.map);
}

function showTiles() {
  const url = state.config.tile_url || "";
  if (url === boardMap.tileUrl) return;
  if (boardMap.tiles) boardMap.tiles.remove();
  boardMap.tiles = null;
  boardMap.tileUrl = url;
  if (!url) return;
  let host = "";
  try { host = new URL(url.replaceAll(/[{}]/g, "")).host; } catch (error) { host = "the configured server"; }
  // A provider's required credit, if the server names one; else at least whose tiles.
  const credit = state.config.tile_attribution ? esc(state.config.tile_attribution) : `Map tiles: ${esc(host)}`;
  boardMap.tiles = L.tileLayer(url, { maxZoom: 19, attribution: credit }).addTo(boardMap.map);
}

// The agency's service areas from its programme rules: the offline base, loaded once a
// sign-in (staff and CAD may read the rules; anyone else simply gets no areas).
async function showAreas() {
  const agency = state.principal && state.principal.agency_slug;
  if (!agency || boardMap.areasFor === agency) return;
  boardMap.areasFor = agency;
  let programme = {};
  try { programme = (await api("GET", "/v1/rules")).document || {}; } catch (error) { return; }
  if (boardMap.areas) boardMap.areas.remove();
  boardMap.areas = L.layerGroup().addTo(boardMap.map);
  for (const [name, polygon] of Object.entries(programme.areas || {})) {
    const area = L.geoJSON(polygon, { interactive: false, style: { className: "service-area" } }).addTo(boardMap.areas);
    // The name in the area's corner, where it hides no marker in the middle.
    const label = L.divIcon({ className: "area-label", html: esc(name), iconSize: null, iconAnchor: [-6, -6] });
    L.marker(area.getBounds().getNorthWest(), { icon: label, interactive: false, keyboard: false }).addTo(boardMap.areas);
  }
  boardMap.fitted = false;
  drawMap();
}

function syncMarkers(store, items, place, icon, title, above, make) {
  const seen = new Set();
  for (const item of items) {
    const where = place(item);
    if (!where) continue;
    seen.add(item.id);
    const tip = title(item);
    let marker = store.get(item.id);
    if (!marker) {
      marker = L.marker([where.lat, where.lon], { icon: icon(item), title: tip, keyboard: true, zIndexOffset: above }).addTo(boardMap.map);
      if (make) make(marker, item);
      store.set(item.id, marker);
    } else {
      marker.setLatLng([where.lat, where.lon]);
      if (marker.options.title !== tip) {
        marker.options.title = tip;
        marker.setIcon(icon(item));
        marker.getElement().title = tip; // a divIcon keeps its element, and with it the old title
      }
    }
  }
  for (const [id, marker] of store) if (!seen.has(id)) { marker.remove(); store.delete(id); }
}

function openCalls() {
  return state.calls.filter((c) => c.status === "pending" || c.status === "dispatched");
}

/** Draw (or redraw) calls, responders, their lines and the base; called on every refresh. */
function drawMap() {
  if ($("dispatcher").hidden || typeof L === "undefined") return;
  if (!boardMap.map) startMap();
  showTiles();
  showAreas();
  // Responders above calls: one on scene sits inside its call's ring.
  syncMarkers(boardMap.responders, state.responders, (r) => r.position, responderIcon, responderTitle, 1000);
  const calls = openCalls();
  syncMarkers(boardMap.calls, calls, (c) => c.location, callIcon, callTitle, 0, (marker, c) => {
    marker.on("click", () => { const row = document.querySelector(`[data-call="${c.id}"]`); if (row) row.scrollIntoView({ block: "nearest" }); });
  });
  boardMap.lines.clearLayers();
  const byId = new Map(state.responders.map((r) => [r.id, r]));
  for (const c of calls) {
    for (const a of c.assignments) {
      const r = byId.get(a.responder_id);
      if (!ACTIVE.has(a.state) || !r || !r.position) continue;
      L.polyline([[c.location.lat, c.location.lon], [r.position.lat, r.position.lon]], {
        className: `assignment-line state-${cssWord(a.state)}`, interactive: false,
      }).addTo(boardMap.lines);
    }
  }
  fitOnce(calls);
}

// The first view holds every call, responder and area; after that the dispatcher pans.
function fitOnce(calls) {
  if (boardMap.fitted) return;
  const points = [
    ...calls.map((c) => [c.location.lat, c.location.lon]),
    ...state.responders.filter((r) => r.position).map((r) => [r.position.lat, r.position.lon]),
  ];
  let bounds = points.length ? L.latLngBounds(points) : null;
  if (boardMap.areas) {
    boardMap.areas.eachLayer((layer) => {
      if (!layer.getBounds) return;
      bounds = bounds ? bounds.extend(layer.getBounds()) : L.latLngBounds(layer.getBounds().getSouthWest(), layer.getBounds().getNorthEast());
    });
  }
  if (!bounds) return;
  boardMap.map.fitBounds(bounds.pad(0.15), { maxZoom: 15, animate: false });
  boardMap.fitted = true;
}

window.addEventListener("corespond:signed-out", () => {
  if (!boardMap.map) return;
  for (const store of [boardMap.responders, boardMap.calls]) { for (const m of store.values()) m.remove(); store.clear(); }
  boardMap.lines.clearLayers();
  if (boardMap.areas) boardMap.areas.remove();
  if (boardMap.pick) boardMap.pick.remove();
  Object.assign(boardMap, { areas: null, areasFor: null, fitted: false, pick: null });
});
