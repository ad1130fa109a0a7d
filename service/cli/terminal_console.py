"""`corespond console`: a terminal console over the `/v1/ws` protocol.

It prints events as readable lines, takes short commands on standard input
(`accept`, `decline`, `enroute`, `onscene`, `near`, `clear <disposition> …`,
`available`, `off`, `ok` (check in on scene), `sos [note]` (raise an emergency), `help`,
`quit`), acks what it has shown, and on a dropped connection reconnects with backoff and
resumes from the last event it saw. A check-in prompt shows as a `CHECK IN NOW` line.

The close in a few keys: `near` lists the open resources with room nearest the call,
numbered; `clear transported_crisis_centre dest=1 ref=2 backup fu=24` closes with
the destination and referral by those numbers (or `ref="free text"`), police backup
and follow-up within 24 h. A clear with such parts goes over HTTP (the socket's
`status` action carries only the disposition).
"""

import asyncio
import json
import random
import re
import shlex
import sys
import threading
from collections.abc import Callable
from typing import Any, TextIO
from urllib.parse import urlsplit, urlunsplit

import httpx
import websockets
from websockets.exceptions import ConnectionClosed, InvalidHandshake
from websockets.typing import Subprotocol

from models.vocabulary import Disposition

HELP = (
    "commands: accept [id] · decline [id] · enroute [id] · onscene [id] · "
    'near [id] · clear [id] <disposition> [dest=N] [ref=N|ref="text"] [backup] [fu=H] · '
    "ok [id] (check in on scene) · available · off · sos [note] · help · quit   "
    "(an id may be its first characters, or left out when only one fits; N numbers what "
    "`near` listed)\n"
    f"dispositions: {', '.join(d.value for d in Disposition)}"
)
_CLOSE_PART = re.compile(r"^(dest|ref|fu)=(.+)$|^backup$")
_STEPS = {"enroute": "en_route", "onscene": "on_scene", "clear": "cleared"}
REFUSED = {4401: "the token is unknown, revoked or expired", 4403: "this client is not allowed"}


class TerminalConsole:
    def __init__(self, url: str, token: str, out: TextIO) -> None:
        self.url, self.token, self.out = url, token, out
        self.seq: int | None = None  # the last event seen: where a reconnect resumes
        self.principal: dict[str, Any] = {}
        self.assignments: dict[str, str] = {}  # id -> state, for the ones seen
        self.commands: asyncio.Queue[str | None] = asyncio.Queue()
        self.nearby: list[dict[str, Any]] = []  # what `near` listed last, numbered from 1

    def say(self, line: str) -> None:
        print(line, file=self.out, flush=True)

    async def run(self) -> int:
        """Serve until `quit` or end of input (0), or a refused token (2)."""
        backoff = 1.0
        while True:
            try:
                async with websockets.connect(
                    self.url, subprotocols=[Subprotocol("corespond.v1")], open_timeout=10
                ) as ws:
                    backoff = 1.0
                    if await self._session(ws):
                        return 0
            except ConnectionClosed as closed:
                code = closed.rcvd.code if closed.rcvd else None
                if code in REFUSED:
                    self.say(f"refused: {REFUSED[code]}")
                    return 2
                reason = closed.rcvd.reason if closed.rcvd else ""
                why = f"{code}: {reason}" if reason else code
                self.say(f"connection lost ({why}); reconnecting in {backoff:.0f} s")
            except (OSError, InvalidHandshake, TimeoutError) as exc:
                self.say(f"cannot connect ({exc.__class__.__name__}); retrying in {backoff:.0f} s")
            await asyncio.sleep(backoff * random.uniform(0.75, 1.25))
            backoff = min(backoff * 2, 15.0)

    async def _session(self, ws: Any) -> bool:
        """One connection: hello, then events and commands until it drops (False) or the
        user quits (True)."""
        await ws.send(json.dumps({"type": "hello", "token": self.token, "resume_after": self.seq}))
        reader = asyncio.create_task(self._read(ws))
        try:
            while True:
                command_task = asyncio.create_task(self.commands.get())
                done, _ = await asyncio.wait(
                    {reader, command_task}, return_when=asyncio.FIRST_COMPLETED
                )
                if reader in done:
                    command_task.cancel()
                    reader.result()  # raises ConnectionClosed
                    return False
                command = command_task.result()
                if command is None or command.strip() in ("quit", "exit"):
                    return True
                await self._command(ws, command.strip())
        finally:
            reader.cancel()

    async def _read(self, ws: Any) -> None:
        async for raw in ws:
            frame = json.loads(raw)
            kind = frame.get("type")
            if kind == "welcome":
                self._welcome(frame)
            elif kind == "event":
                self._event(frame)
                await ws.send(json.dumps({"type": "ack", "seq": frame["seq"]}))
            elif kind == "result" and "checkin" in frame:
                self.say(f"ok: {_checkin_said(frame)}")
            elif kind == "result" and "emergency" in frame:
                raised = "raised" if frame.get("created") else "already open"
                self.say(f"ok: emergency {raised} · {_emergency_said(frame['emergency'])}")
            elif kind == "result":
                a = frame["assignment"]
                self.assignments[a["id"]] = a["state"]
                self.say(f"ok: {frame['action']} {a['id'][:8]} → {a['state']}")
            elif kind == "error":
                self.say(f"error: {frame.get('error')}: {frame.get('detail')}")
            elif kind == "resync":
                self.say("resync: too much was missed; re-read the state over HTTP")
                self.seq = frame["seq"]

    def _welcome(self, frame: dict[str, Any]) -> None:
        self.principal = frame["principal"]
        who = f"{self.principal['role']} in {self.principal['agency_slug']}"
        if self.seq is None:
            self.say(f"connected as {who}; live from #{frame['seq']}. Type help for commands.")
            self.seq = frame["seq"]
        else:
            self.say(f"reconnected as {who}; resuming after #{self.seq}")

    def _event(self, frame: dict[str, Any]) -> None:
        self.seq = max(self.seq or 0, frame["seq"])
        data, name = frame.get("data", {}), frame["event"]
        stamp = frame["at"][11:19]
        if name in _EMERGENCY_EVENTS:
            self.say(f"#{frame['seq']} {stamp} {_EMERGENCY_EVENTS[name](data)}")
            return
        if name in _CHECKIN_EVENTS:
            if name == "checkin.due":  # the prompt says the assignment is on scene
                self.assignments[data["checkin"]["assignment_id"]] = "on_scene"
            self.say(f"#{frame['seq']} {stamp} {_CHECKIN_EVENTS[name](data)}")
            return
        assignment = data.get("assignment")
        if assignment:
            self.assignments[assignment["id"]] = assignment["state"]
        if name == "assignment.offered" and assignment:
            call = data.get("call", {})
            short = assignment["id"][:8]
            self.say(
                f"#{frame['seq']} {stamp} OFFER {short} as {assignment['role']}"
                f"{_team(assignment)}{_backup_for(assignment)} · "
                f"{_category(call)} · P{call.get('priority')} · {_where(call)} · "
                f"{assignment['distance_m'] / 1000:.1f} km, ETA {assignment['eta_s'] / 60:.0f} min"
                f"{_by_road(assignment)}"
                f" · {_risks(call)}  → accept {short} | decline {short}"
            )
            return
        detail = (
            f"{assignment['id'][:8]} {assignment['role']} → {assignment['state']}"
            if (assignment)
            else " ".join(str(v) for k, v in data.items() if k in ("status", "disposition"))
        )
        if data.get("reason"):  # why a seat was cancelled or moved to another team
            detail += f" ({data['reason']})"
        self.say(f"#{frame['seq']} {stamp} {name} {detail}".rstrip())

    async def _command(self, ws: Any, line: str) -> None:
        try:
            words = shlex.split(line)
        except ValueError as bad:
            self.say(f"cannot read that: {bad}")
            return
        if not words:
            return
        verb, args = words[0].lower(), words[1:]
        if verb == "help":
            self.say(HELP)
        elif verb == "near":
            await self._near(args)
        elif verb == "clear" and any(_CLOSE_PART.match(a) for a in args):
            await self._close(args)
        elif verb in ("accept", "decline"):
            await self._act(ws, verb, args, {"offered"}, lambda aid: {"assignment_id": aid})
        elif verb in _STEPS:
            disposition = None
            if verb == "clear":
                known = {d.value for d in Disposition}
                disposition = next((a for a in args if a in known), None)
                args = [a for a in args if a not in known]
            await self._act(
                ws,
                "status",
                args,
                {"accepted", "en_route", "on_scene"},
                lambda aid: {
                    "assignment_id": aid,
                    "status": _STEPS[verb],
                    "disposition": disposition,
                },
            )
        elif verb == "ok":
            await self._act(ws, "checkin", args, {"on_scene"}, lambda aid: {"assignment_id": aid})
        elif verb == "sos":
            note = " ".join(args).strip()
            await ws.send(json.dumps({"type": "emergency", **({"note": note} if note else {})}))
        elif verb in ("available", "off"):
            await self._availability("available" if verb == "available" else "off_duty")
        else:
            self.say(f"unknown command {verb!r}; {HELP}")

    async def _act(
        self,
        ws: Any,
        kind: str,
        args: list[str],
        states: set[str],
        body: Callable[[str], dict[str, Any]],
    ) -> None:
        matches = [
            aid
            for aid, current in self.assignments.items()
            if current in states and (not args or aid.startswith(args[0]))
        ]
        if len(matches) != 1:
            which = f"starting {args[0]!r}" if args else "open"
            self.say(f"{len(matches)} assignments {which} fit; give the id's first characters")
            return
        await ws.send(json.dumps({"type": kind, **body(matches[0])}))

    def _one(self, args: list[str], states: set[str]) -> str | None:
        matches = [
            aid
            for aid, current in self.assignments.items()
            if current in states and (not args or aid.startswith(args[0]))
        ]
        if len(matches) != 1:
            which = f"starting {args[0]!r}" if args else "open"
            self.say(f"{len(matches)} assignments {which} fit; give the id's first characters")
            return None
        return matches[0]

    async def _http(self, method: str, path: str, body: Any = None) -> Any:
        """The answer's JSON, or None after saying the error."""
        async with httpx.AsyncClient(base_url=_http_base(self.url), timeout=10) as client:
            answer = await client.request(
                method, path, json=body, headers={"Authorization": f"Bearer {self.token}"}
            )
        if answer.is_success:
            return answer.json()
        said = answer.json()
        self.say(f"error: {said.get('error')}: {said.get('detail')}")
        return None

    async def _near(self, args: list[str]) -> None:
        aid = self._one(args, {"offered", "accepted", "en_route", "on_scene"})
        if aid is None:
            return
        found = await self._http("GET", f"/v1/assignments/{aid}/suggested-resources")
        if found is None:
            return
        self.nearby = found
        if not found:
            self.say("no open resource with room fits this call")
        for n, place in enumerate(found, start=1):
            room = "" if place["capacity"] is None else f" · {place['capacity']} free"
            self.say(
                f"{n}. {place['name']} · {place['kind'].replace('_', ' ')} · "
                f"{place['distance_m'] / 1000:.1f} km{room}"
            )

    async def _close(self, args: list[str]) -> None:
        """The last clear with the close's parts, over HTTP."""
        known = {d.value for d in Disposition}
        body: dict[str, Any] = {"status": "cleared"}
        rest = []
        for arg in args:
            part = _CLOSE_PART.match(arg)
            if arg in known:
                body["disposition"] = arg
            elif part is None:
                rest.append(arg)
            elif arg == "backup":
                body["backup_requested"] = True
            elif part.group(1) == "fu":
                body["follow_up"] = {"within_h": int(part.group(2).rstrip("h"))}
            else:
                picked = self._picked(part.group(2))
                if picked is None and part.group(1) == "dest":
                    self.say(f"dest={part.group(2)}: give the number `near` listed")
                    return
                key = "destination_id" if part.group(1) == "dest" else "referral"
                body[key] = picked if key == "destination_id" else _referral(picked, part.group(2))
        aid = self._one(rest, {"accepted", "en_route", "on_scene"})
        if aid is None:
            return
        done = await self._http("POST", f"/v1/assignments/{aid}/status", body)
        if done is not None:
            self.assignments[aid] = done["state"]
            self.say(f"ok: status {aid[:8]} → {done['state']}")

    def _picked(self, text: str) -> str | None:
        """The id of the resource `near` listed as number `text`, if it is one."""
        if text.isdigit() and 1 <= int(text) <= len(self.nearby):
            return str(self.nearby[int(text) - 1]["id"])
        return None

    async def _availability(self, status: str) -> None:
        responder_id = self.principal.get("responder_id")
        if not responder_id:
            self.say("only a responder's console sets its availability")
            return
        async with httpx.AsyncClient(base_url=_http_base(self.url), timeout=10) as client:
            answer = await client.put(
                f"/v1/responders/{responder_id}/status",
                json={"status": status},
                headers={"Authorization": f"Bearer {self.token}"},
            )
        if answer.is_success:
            self.say(f"ok: you are {status.replace('_', ' ')}")
        else:
            body = answer.json()
            self.say(f"error: {body.get('error')}: {body.get('detail')}")


def _emergency_said(emergency: dict[str, Any]) -> str:
    """An emergency in one line: who, where, which call, what backup."""
    who = emergency["responder"]
    name = f"{who['name']} ({who['external_id']})" if who.get("external_id") else who["name"]
    at = emergency.get("position")
    where = f"at {at['lat']:.5f}, {at['lon']:.5f}" if at else "position unknown"
    call = f"call {emergency['call_id'][:8]}" if emergency.get("call_id") else "no call"
    backup = f"{len(emergency['backup'])} of {emergency['backup_wanted']} backup offered"
    if emergency.get("backup_missing"):
        backup += f" ({emergency['backup_missing']})"
    note = f" · {emergency['note']!r}" if emergency.get("note") else ""
    return f"{name} {where} · {call} · {backup}{note}"


_EMERGENCY_EVENTS: dict[str, Callable[[dict[str, Any]], str]] = {
    "responder.emergency": lambda d: f"!!! EMERGENCY {_emergency_said(d['emergency'])}",
    "emergency.updated": lambda d: f"emergency backup now: {_emergency_said(d['emergency'])}",
    "emergency.closed": lambda d: (
        f"emergency closed by {d['emergency']['closed_by']}: {_emergency_said(d['emergency'])}"
    ),
    "emergency.position_wanted": lambda d: (
        f"emergency raised: position wanted every {d['interval_s']} s (this console has no "
        "position of its own; report it with PUT /v1/responders/{id}/position)"
    ),
}


def _checkin_said(done: dict[str, Any]) -> str:
    """A check-in's answer in one line: which assignment, and when the next is due."""
    then = done.get("next_due_at")
    upcoming = f"next due {then[11:19]}" if then else "check-ins are off"
    return f"checked in {done['checkin']['assignment_id'][:8]}; {upcoming}"


def _whose(d: dict[str, Any]) -> str:
    who = d["responder"]
    name = f"{who['name']} ({who['external_id']})" if who.get("external_id") else who["name"]
    return f"{name} on call {d['call']['id'][:8]} at {d['call'].get('address') or 'no address'}"


_CHECKIN_EVENTS: dict[str, Callable[[dict[str, Any]], str]] = {
    "checkin.due": lambda d: (
        f"CHECK IN NOW on {d['checkin']['assignment_id'][:8]} (by "
        f"{d['checkin']['grace_until'][11:19]}) → ok"
    ),
    "checkin.done": lambda d: (
        f"checked in on {d['checkin']['assignment_id'][:8]} by {d['checkin']['by']}"
    ),
    "checkin.missed": lambda d: (
        f"!!! MISSED CHECK-IN {_whose(d)} · ack: POST /v1/checkins/{d['checkin']['id']}/acknowledge"
    ),
    "checkin.escalated": lambda d: (
        f"missed check-in {d['checkin']['id'][:8]}: rule {d['rule']}, "
        f"{len(d['backup'])} backup offered"
    ),
    "checkin.acknowledged": lambda d: (
        f"missed check-in {d['checkin']['id'][:8]} acknowledged by {d['acknowledged_by']}"
    ),
}


def _referral(resource_id: str | None, text: str) -> dict[str, str]:
    return {"resource_id": resource_id} if resource_id else {"text": text}


def _category(call: dict[str, Any]) -> str:
    category = call.get("category")
    return str(category).replace("_", " ") if category else "category withheld"


def _by_road(assignment: dict[str, Any]) -> str:
    by = assignment.get("travel_by")
    return f" by road ({by})" if by and by != "straight line" else ""


def _team(assignment: dict[str, Any]) -> str:
    team = assignment.get("team")
    return f" on team {team}" if team else ""


_BACKUP_FOR = {
    "emergency_backup": "BACKUP: a responder on this call raised an emergency",
    "checkin_backup": "BACKUP: a responder on this call missed a check-in",
}


def _backup_for(assignment: dict[str, Any]) -> str:
    """Why a backup offer is made (its `purpose`); nothing for a seat of the team."""
    why = _BACKUP_FOR.get(assignment.get("purpose", "team"))
    return f" · {why}" if why else ""


def _where(call: dict[str, Any]) -> str:
    location = call.get("location") or {}
    return str(location.get("address") or f"{location.get('lat')}, {location.get('lon')}")


def _risks(call: dict[str, Any]) -> str:
    flags = [name.upper() for name, on in (call.get("risk") or {}).items() if on]
    return " ".join(flags) or "no risk flags"


def _http_base(ws_url: str) -> str:
    parts = urlsplit(ws_url)
    scheme = "https" if parts.scheme == "wss" else "http"
    return urlunsplit((scheme, parts.netloc, "", "", ""))


def run(url: str, token: str) -> int:
    """Run the console on this terminal; the exit status."""

    async def main() -> int:
        console = TerminalConsole(url, token, sys.stdout)
        loop = asyncio.get_running_loop()

        def read_lines() -> None:  # input() blocks, so it has a thread of its own
            for line in sys.stdin:
                loop.call_soon_threadsafe(console.commands.put_nowait, line)
            loop.call_soon_threadsafe(console.commands.put_nowait, None)

        threading.Thread(target=read_lines, daemon=True).start()
        return await console.run()

    try:
        return asyncio.run(main())
    except KeyboardInterrupt:
        return 0
