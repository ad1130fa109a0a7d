// The dispatcher's map (console.js draws it): calls and responders on a canvas in Web
// Mercator, over map tiles only if CORESPOND_CONSOLE_TILE_URL names some. Loaded before
// console.js, whose state, $ and helpers it reads when it draws.
"use strict";

// ---- the map: Web Mercator on a canvas, tiles only if configured -------------------

const mercX = (lon) => (lon + 180) / 360;
const mercY = (lat) => (1 - Math.log(Math.tan((lat * Math.PI) / 180) + 1 / Math.cos((lat * Math.PI) / 180)) / Math.PI) / 2;
const unMercY = (y) => (Math.atan(Math.sinh(Math.PI * (1 - 2 * y))) * 180) / Math.PI;

function mapFrame() {
  const canvas = $("map");
  const points = [
    ...state.calls.filter((c) => c.status !== "closed" && c.status !== "cancelled").map((c) => c.location),
    ...state.responders.filter((r) => r.position).map((r) => r.position),
  ];
  if (state.pick) points.push(state.pick);
  if (!points.length) points.push({ lat: 40.1215, lon: -75.3399 });
  let [x0, x1, y0, y1] = [Infinity, -Infinity, Infinity, -Infinity];
  for (const p of points) {
    x0 = Math.min(x0, mercX(p.lon)); x1 = Math.max(x1, mercX(p.lon));
    y0 = Math.min(y0, mercY(p.lat)); y1 = Math.max(y1, mercY(p.lat));
  }
  const span = Math.max(x1 - x0, (y1 - y0) * (canvas.width / canvas.height), 0.0005) * 1.2;
  const cx = (x0 + x1) / 2, cy = (y0 + y1) / 2;
  const scale = canvas.width / span;
  return {
    canvas, scale, left: cx - canvas.width / 2 / scale, top: cy - canvas.height / 2 / scale,
    toPx(p) { return [(mercX(p.lon) - this.left) * this.scale, (mercY(p.lat) - this.top) * this.scale]; },
    toLatLon(px, py) { return { lat: unMercY(this.top + py / this.scale), lon: (this.left + px / this.scale) * 360 - 180 }; },
  };
}

function drawMap() {
  if ($("dispatcher").hidden) return;
  const f = mapFrame();
  const g = f.canvas.getContext("2d");
  g.fillStyle = "#e9eef3";
  g.fillRect(0, 0, f.canvas.width, f.canvas.height);
  if (state.config.tile_url) drawTiles(f, g);
  const dot = (p, colour, r) => {
    const [x, y] = f.toPx(p);
    g.beginPath(); g.arc(x, y, r, 0, 2 * Math.PI); g.fillStyle = colour; g.fill();
    g.lineWidth = 1; g.strokeStyle = "#fff"; g.stroke();
  };
  for (const r of state.responders) if (r.position) dot(r.position, r.status === "available" ? "#11703a" : "#777", 4);
  for (const c of state.calls) if (c.status === "pending" || c.status === "dispatched") dot(c.location, "#b00020", 7);
  if (state.pick) {
    const [x, y] = f.toPx(state.pick);
    g.strokeStyle = "#0b5cad"; g.lineWidth = 2;
    g.beginPath(); g.moveTo(x - 8, y); g.lineTo(x + 8, y); g.moveTo(x, y - 8); g.lineTo(x, y + 8); g.stroke();
  }
}

const tileCache = new Map();
function drawTiles(f, g) {
  const z = Math.max(0, Math.min(18, Math.floor(Math.log2(f.scale / 256))));
  const n = 2 ** z, size = f.scale / n;
  for (let tx = Math.floor(f.left * n); tx <= Math.floor((f.left + f.canvas.width / f.scale) * n); tx++) {
    for (let ty = Math.floor(f.top * n); ty <= Math.floor((f.top + f.canvas.height / f.scale) * n); ty++) {
      const url = state.config.tile_url.replace("{z}", z).replace("{x}", tx).replace("{y}", ty);
      let img = tileCache.get(url);
      if (!img) { img = new Image(); img.onload = drawMap; img.src = url; tileCache.set(url, img); }
      if (img.complete && img.naturalWidth) g.drawImage(img, (tx / n - f.left) * f.scale, (ty / n - f.top) * f.scale, size, size);
    }
  }
}

$("map").addEventListener("click", (e) => {
  const f = mapFrame();
  const rect = f.canvas.getBoundingClientRect();
  const px = ((e.clientX - rect.left) * f.canvas.width) / rect.width;
  const py = ((e.clientY - rect.top) * f.canvas.height) / rect.height;
  const p = f.toLatLon(px, py);
  $("call-lat").value = p.lat.toFixed(5);
  $("call-lon").value = p.lon.toFixed(5);
  state.pick = p;
  drawMap();
});
