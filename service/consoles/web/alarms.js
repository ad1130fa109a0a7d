// The board's alarms, on top of everything (docs/consoles.md): a responder's emergency
// (full width, red, Close for dispatchers, supervisors and admins) and a missed check-in
// (Acknowledge), each with a sound when it arrives; the webhook notice sits with them.
// They arrive as events and are re-read from the server on load, on a reconnect and
// after a resync, so a page that missed one still shows it; a re-read leaves alone an
// alarm that an event or this page raised or closed while it was being asked, since the
// answer is older than that. Deferred: runs after console.js and board.js, whose state
// and helpers it uses.
"use strict";

const boardAlarms = (() => {
  const emergencies = new Map(); // id → EmergencyPublic (docs/api.md)
  const missed = new Map(); // check-in id → {checkin, responder, call}
  const failures = new Map(); // alarm id → why the last Close/Acknowledge failed
  const CLOSERS = new Set(["dispatcher", "supervisor", "admin"]);
  // Each live change to an alarm (an event, a Close or Acknowledge that went through)
  // takes the next number; reload() keeps the number it started at, and the server's
  // answer does not undo a change numbered after it.
  let changes = 0;
  const changed = new Map(); // alarm id → the number of its last live change
  const touch = (id) => changed.set(id, ++changes);
  const changedSince = (id, asked) => (changed.get(id) || 0) > asked;

  // ---- sound: an emergency's three falling tones, a missed check-in's two -----------

  function sound(kind) {
    try {
      const audio = new AudioContext();
      const notes = kind === "emergency" ? [988, 740, 988, 740, 988, 740] : [660, 660];
      notes.forEach((hz, n) => {
        const tone = audio.createOscillator();
        const gain = audio.createGain();
        const start = audio.currentTime + n * 0.3;
        tone.frequency.value = hz;
        gain.gain.setValueAtTime(0.25, start);
        gain.gain.exponentialRampToValueAtTime(0.001, start + 0.25);
        tone.connect(gain).connect(audio.destination);
        tone.start(start);
        tone.stop(start + 0.26);
      });
    } catch (error) {
      // No sound device (or no gesture yet): the red alarm and the live region remain.
    }
  }

  // ---- what the server says -----------------------------------------------------------

  function addEmergency(emergency, loud) {
    const fresh = !emergencies.has(emergency.id);
    emergencies.set(emergency.id, emergency);
    if (fresh && loud) sound("emergency");
  }

  function addMissed(entry, loud) {
    const fresh = !missed.has(entry.checkin.id);
    missed.set(entry.checkin.id, { ...missed.get(entry.checkin.id), ...entry });
    if (fresh && loud) sound("checkin");
  }

  // A listed check-in may carry its responder and call beside it or inside it.
  const asEntry = (item) => {
    const checkin = item.checkin || item;
    return { checkin, responder: item.responder || checkin.responder || null, call: item.call || checkin.call || null };
  };

  async function reload() {
    const staff = state.principal && ["admin", "supervisor", "dispatcher"].includes(state.principal.role);
    if (!staff) return;
    const asked = changes;
    $("alarms").setAttribute("aria-busy", "true");
    try {
      const [open, checkins] = await Promise.all([
        api("GET", "/v1/emergencies?open=true").catch(() => null),
        api("GET", "/v1/checkins?open=true").catch(() => null),
      ]);
      if (open) {
        const ids = new Set(open.map((x) => x.id));
        for (const id of emergencies.keys()) if (!ids.has(id) && !changedSince(id, asked)) emergencies.delete(id);
        for (const emergency of open) if (!changedSince(emergency.id, asked)) addEmergency(emergency, true);
      }
      if (checkins) {
        const entries = checkins.map(asEntry).filter((x) => x.checkin.state === "missed" && !x.checkin.acknowledged_at);
        const ids = new Set(entries.map((x) => x.checkin.id));
        for (const id of missed.keys()) if (!ids.has(id) && !changedSince(id, asked)) missed.delete(id);
        for (const entry of entries) if (!changedSince(entry.checkin.id, asked)) addMissed(entry, true);
      }
      render();
      if (state.principal.role === "admin") await showDisabledWebhooks();
    } finally {
      $("alarms").removeAttribute("aria-busy");
    }
  }

  // Only admins may list webhooks; other staff learn of a disabled one from its event.
  async function showDisabledWebhooks() {
    const hooks = await api("GET", "/v1/webhooks").catch(() => []);
    const off = hooks.filter((h) => h.state === "disabled" && !dismissed.has(h.id));
    if (!off.length) return;
    const hosts = off.map((h) => { try { return new URL(h.url).hostname; } catch (error) { return h.url; } });
    $("webhook-notice-text").textContent = `⚠ CAD not being told: webhook to ${hosts.join(", ")} disabled since ${time24(off[0].disabled_at)}.`;
    $("webhook-notice").dataset.ids = off.map((h) => h.id).join(" ");
    $("webhook-notice").hidden = false;
  }
  const dismissed = new Set();
  $("webhook-notice-dismiss").addEventListener("click", () => {
    for (const id of ($("webhook-notice").dataset.ids || "").split(" ")) if (id) dismissed.add(id);
  });

  window.addEventListener("corespond:event", (e) => {
    const { event, data } = e.detail;
    if (event === "responder.emergency") addEmergency(data.emergency, true);
    else if (event === "emergency.closed") emergencies.delete(data.emergency.id);
    // Its backup changed: the alarm shown says so, without a second sound; one not
    // shown here (closed, or not yet read) is not raised by it.
    else if (event === "emergency.updated" && emergencies.has(data.emergency.id)) emergencies.set(data.emergency.id, data.emergency);
    else if (event === "checkin.missed") addMissed(asEntry(data), true);
    else if (event === "checkin.escalated" && missed.has(data.checkin.id)) addMissed({ checkin: { ...missed.get(data.checkin.id).checkin, ...data.checkin, rule: data.rule, backup: data.backup } }, false);
    else if (event === "checkin.acknowledged") missed.delete(data.checkin.id);
    // Answered late: the responder is OK, and the alarm says so until a dispatcher
    // acknowledges it (the server lists it till then, so a re-read keeps it, silently).
    else if (event === "checkin.done" && missed.has(data.checkin.id)) addMissed({ checkin: { ...missed.get(data.checkin.id).checkin, ...data.checkin } }, false);
    else if (event === "checkin.done") return;
    else return;
    touch((data.emergency || data.checkin).id);
    render();
    if (typeof drawMap === "function") drawMap();
  });

  window.addEventListener("corespond:signed-out", () => { emergencies.clear(); missed.clear(); changed.clear(); render(); });

  // ---- drawing --------------------------------------------------------------------------

  function responderOf(entry) {
    const known = entry && state.responders.find((r) => r.id === entry.id);
    return known || entry;
  }

  function whereText(position) {
    if (!position) return "last position unknown";
    return `last position ${position.lat.toFixed(5)}, ${position.lon.toFixed(5)} at ${time24(position.at)} (${since(position.at)} ago)`;
  }

  function latest(...positions) {
    return positions.filter(Boolean).sort((x, y) => new Date(y.at) - new Date(x.at))[0] || null;
  }

  function backupText(emergency) {
    const names = [];
    for (const call of state.calls) {
      for (const a of call.assignments) if (emergency.backup.includes(a.id)) names.push(`${nameOf(a.responder_id)} (${words(a.state)})`);
    }
    const offered = names.length ? `backup: ${names.join(", ")}` : `backup offered: ${emergency.backup.length}`;
    return emergency.backup_missing ? `${offered} — ${emergency.backup_missing}` : offered;
  }

  function emergencyItem(emergency) {
    const r = responderOf(emergency.responder);
    const call = emergency.call_id ? callById(emergency.call_id) : null;
    const onCall = call ? `${emergency.call_made ? "emergency call" : "call"}: ${callWords(call)}` : emergency.call_id ? "on a call" : "on no call";
    const closer = state.principal && CLOSERS.has(state.principal.role);
    return el(`<li class="alarm emergency" data-emergency="${emergency.id}" role="alert">
      <p class="alarm-head"><strong>EMERGENCY</strong> · ${esc(capitalWord(r.kind))} <strong class="who">${esc(responderLabel(r))}</strong>
      · raised ${time24(emergency.raised_at)} by ${esc(emergency.raised_by)}</p>
      <p>${esc(whereText(latest(emergency.position, r.position)))} · ${esc(onCall)}</p>
      <p>${emergency.note ? `“${esc(emergency.note)}” · ` : ""}${esc(backupText(emergency))}</p>
      ${closer ? '<button type="button" class="close-emergency">Close</button>' : ""}
      <p class="error">${esc(failures.get(emergency.id) || "")}</p></li>`);
  }

  function missedItem({ checkin, responder, call }) {
    const r = responder ? responderOf(responder) : { name: nameOf(checkin.responder_id), kind: "responder" };
    const onCall = callById(checkin.call_id) || call;
    const place = onCall ? placeOf(onCall.location ? onCall : { location: onCall }) : "";
    const rule = checkin.rule === "backup" ? ` · backup offered (${(checkin.backup || []).length})` : checkin.rule === "alarm" ? " · alarm only" : "";
    const acknowledger = state.principal && CLOSERS.has(state.principal.role);
    const late = checkin.done_at ? ` · answered late at ${time24(checkin.done_at)}: OK` : "";
    return el(`<li class="alarm checkin${checkin.done_at ? " answered" : ""}" data-checkin="${checkin.id}" role="alert">
      <p class="alarm-head"><strong>Missed check-in</strong> · ${esc(capitalWord(r.kind))} <strong class="who">${esc(responderLabel(r))}</strong>
      · due ${time24(checkin.due_at)}, no answer by ${time24(checkin.grace_until)}${rule}${late}</p>
      <p>${place ? `on scene at ${esc(place)} · ` : ""}${esc(whereText(r.position || null))}</p>
      ${acknowledger ? '<button type="button" class="acknowledge">Acknowledge</button>' : ""}
      <p class="error">${esc(failures.get(checkin.id) || "")}</p></li>`);
  }

  const capitalWord = (text) => String(text || "").charAt(0).toUpperCase() + String(text || "").slice(1);

  function render() {
    $("emergencies").replaceChildren(...[...emergencies.values()].map(emergencyItem));
    $("missed-checkins").replaceChildren(...[...missed.values()].map(missedItem));
  }

  async function act(id, path, forget) {
    try {
      await api("POST", path);
      failures.delete(id);
      forget.delete(id);
      touch(id);
    } catch (error) {
      failures.set(id, error.message);
    }
    render();
    if (typeof drawMap === "function") drawMap();
  }

  $("alarms").addEventListener("click", (e) => {
    const close = e.target.closest(".close-emergency");
    const ack = e.target.closest(".acknowledge");
    if (close) {
      const id = close.closest("[data-emergency]").dataset.emergency;
      close.disabled = true;
      act(id, `/v1/emergencies/${id}/close`, emergencies);
    } else if (ack) {
      const id = ack.closest("[data-checkin]").dataset.checkin;
      ack.disabled = true;
      act(id, `/v1/checkins/${id}/acknowledge`, missed);
    }
  });

  /** The open emergency of a responder, if any (the map rings its marker). */
  function emergencyOf(responderId) {
    for (const emergency of emergencies.values()) if (emergency.responder.id === responderId) return emergency;
    return null;
  }

  return { reload, render, emergencyOf };
})();
