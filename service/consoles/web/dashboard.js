// The supervisor's dashboard (issue 21): the figures of GET /v1/reports/outcomes drawn
// with uPlot (vendored from its npm package by `make vendor`, served by CoRespond: no
// network at run time), a date range and a grouping to pick, and the same figures as CSV.
// For supervisors and admins. console.js says when someone signs in or out
// (`corespond:signed-in`, `corespond:signed-out`); nothing else ties the two files.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const READERS = new Set(["supervisor", "admin"]);
  const COLOURS = ["#0b5cad", "#b00020", "#11703a", "#9a5b00"];
  let token = null;
  let charts = [];
  let asked = 0;  // the latest Show: an earlier, slower answer must not draw over it

  window.addEventListener("corespond:signed-in", (event) => {
    const { principal } = event.detail;
    token = event.detail.token;
    $("dashboard").hidden = !READERS.has(principal.role);
    if (!$("dashboard").hidden) {
      if (!$("dash-from").value) lastMonth();
      show();
    }
  });
  window.addEventListener("corespond:signed-out", () => {
    token = null;
    $("dashboard").hidden = true;
    clearCharts();
  });
  $("dash-form").addEventListener("submit", (e) => { e.preventDefault(); show(); });
  $("dash-csv").addEventListener("click", download);

  function lastMonth() {
    const now = new Date();
    const first = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 1, 1));
    const next = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
    $("dash-from").value = first.toISOString().slice(0, 10);
    $("dash-to").value = next.toISOString().slice(0, 10);
  }

  function query() {
    const params = new URLSearchParams({
      from: `${$("dash-from").value}T00:00:00Z`, to: `${$("dash-to").value}T00:00:00Z`,
    });
    if ($("dash-group").value) params.set("group_by", $("dash-group").value);
    return `/v1/reports/outcomes?${params}`;
  }

  async function fetchReport(accept) {
    const response = await fetch(query(), {
      headers: { Authorization: `Bearer ${token}`, Accept: accept },
    });
    if (!response.ok) {
      const body = await response.json().catch(() => null);
      throw new Error(body && body.detail ? `${body.error}: ${body.detail}` : `HTTP ${response.status}`);
    }
    return response;
  }

  async function show() {
    const mine = ++asked;
    $("dash-error").textContent = "";
    try {
      const report = await (await fetchReport("application/json")).json();
      if (mine === asked) render(report);
    } catch (error) {
      if (mine === asked) $("dash-error").textContent = error.message;
    }
  }

  async function download() {
    $("dash-error").textContent = "";
    try {
      const blob = await (await fetchReport("text/csv")).blob();
      const link = document.createElement("a");
      link.href = URL.createObjectURL(blob);
      link.download = `outcomes-${$("dash-from").value}-${$("dash-to").value}.csv`;
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(link.href), 1000);
    } catch (error) {
      $("dash-error").textContent = error.message;
    }
  }

  // ---- figures as text --------------------------------------------------------------

  const pct = (share) => (share.rate === null ? "—" : `${(share.rate * 100).toFixed(1)} %`);
  const mins = (s) => (s === null ? "—" : `${(s / 60).toFixed(1)} min`);

  function tile(label, value, detail) {
    const div = document.createElement("div");
    div.className = "tile";
    div.dataset.figure = label;
    div.innerHTML = `<span class="tile-label"></span><strong></strong><small></small>`;
    div.querySelector(".tile-label").textContent = label;
    div.querySelector("strong").textContent = value;
    div.querySelector("small").textContent = detail;
    return div;
  }

  function render(report) {
    const t = report.times;
    const unserved = Object.entries(report.eligibility.unserved_by_reason).filter(([, n]) => n);
    $("dash-tiles").replaceChildren(
      tile("Calls", String(report.calls), `${report.statuses.closed} closed`),
      tile("Diverted", pct(report.diversion), `${report.diversion.count} of ${report.diversion.of}`),
      tile("Arrests", pct(report.rates.arrest), `${report.rates.arrest.count} calls`),
      tile("Emergency dept.", pct(report.rates.emergency_department), `${report.rates.emergency_department.count} calls`),
      tile("Involuntary holds", pct(report.rates.involuntary_hold), `${report.rates.involuntary_hold.count} calls`),
      tile("Police backup", pct(report.rates.police_backup), `${report.rates.police_backup.count} calls`),
      tile("To on scene", mins(t.to_on_scene.p50_s), `p90 ${mins(t.to_on_scene.p90_s)}`),
      tile("Eligible served", pct(report.eligibility.served), `${report.eligibility.served.count} of ${report.eligibility.served.of}`),
      tile("Follow-up on time", pct(report.follow_up.completed_within_due), `${report.follow_up.completed_within_due.count} of ${report.follow_up.completed_within_due.of}`),
      tile("Utilisation", report.utilisation && report.utilisation.rate !== null ? `${(report.utilisation.rate * 100).toFixed(1)} %` : "—", "of on-duty time on calls"),
    );
    $("dash-unserved").textContent = unserved.length
      ? `Eligible calls missed: ${unserved.map(([why, n]) => `${why.replaceAll("_", " ")} ${n}`).join(", ")}.`
      : "No eligible call was missed.";
    const groups = report.groups || [{ key: "all", ...report }];
    renderTable(groups);
    renderCharts(groups);
  }

  function renderTable(groups) {
    const rows = groups.map((g) => {
      const tr = document.createElement("tr");
      for (const text of [
        g.key, String(g.calls), pct(g.diversion), pct(g.rates.arrest), pct(g.rates.emergency_department),
        mins(g.times.to_on_scene.p50_s), mins(g.times.to_on_scene.p90_s),
      ]) {
        const td = document.createElement("td");
        td.textContent = text;
        tr.append(td);
      }
      return tr;
    });
    $("dash-groups").querySelector("tbody").replaceChildren(...rows);
  }

  // ---- charts -------------------------------------------------------------------------

  function clearCharts() {
    for (const chart of charts) chart.destroy();
    charts = [];
  }

  const rate = (share) => (share.rate === null ? null : share.rate * 100);
  const minutes = (s) => (s === null ? null : s / 60);
  const count = (n) => (typeof n === "number" ? n : null);

  function renderCharts(groups) {
    clearCharts();
    const labels = groups.map((g) => g.key);
    charts = [
      bars($("dash-chart-rates"), "Diversion and arrest rates (%)", labels, "%", [
        { label: "diverted", values: groups.map((g) => rate(g.diversion)) },
        { label: "arrest", values: groups.map((g) => rate(g.rates.arrest)) },
      ]),
      bars($("dash-chart-times"), "Received to on scene (minutes)", labels, "min", [
        { label: "p50", values: groups.map((g) => minutes(g.times.to_on_scene.p50_s)) },
        { label: "p90", values: groups.map((g) => minutes(g.times.to_on_scene.p90_s)) },
      ]),
      bars($("dash-chart-calls"), "Calls (<5 not drawn)", labels, "calls", [
        { label: "calls", values: groups.map((g) => count(g.calls)) },
      ]),
    ];
  }

  const short = (key) => key.replace(/^\d{4}-(W\d\d)$/, "$1"); // 2026-W10 → W10 under a bar

  // Bars side by side at each group (x is the group's index; a withheld value is a gap).
  function bars(holder, title, labels, unit, series) {
    holder.replaceChildren();
    const width = Math.max(320, holder.clientWidth || 420);
    const size = 0.8 / series.length;
    const opts = {
      title, width, height: 240,
      legend: { show: series.length > 1, live: false },
      cursor: { show: false },
      scales: { x: { time: false, range: () => [-0.5, labels.length - 0.5] }, y: { range: (u, lo, hi) => [0, Math.max(1, hi * 1.1)] } },
      axes: [
        { splits: () => labels.map((_, i) => i), values: (u, splits) => splits.map((i) => short(labels[i] ?? "")) },
        { label: unit },
      ],
      series: [
        {},
        ...series.map((s, k) => ({
          label: s.label, stroke: COLOURS[k], fill: `${COLOURS[k]}cc`, width: 1,
          points: { show: false },
          paths: uPlot.paths.bars({ size: [size, 60], align: series.length === 1 ? 0 : (k === 0 ? -1 : 1) }),
        })),
      ],
    };
    return new uPlot(opts, [labels.map((_, i) => i), ...series.map((s) => s.values)], holder);
  }
})();
