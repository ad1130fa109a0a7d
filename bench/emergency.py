"""Emergencies, quiet and under load: `python -m bench.emergency`.

Issue 23's budget: an emergency reaches every dispatcher console within 1 s, and the
backup offer reaches the officer within 2 s, also while calls arrive at 20 a second.

A real `corespond serve` on a fresh SQLite file, seeded as `bench.load` seeds it (its
responders near a real county's calls, their consoles held in a process of their own,
accepting, working and clearing their offers). Beside them, in the same agency, a cast
far from the county: for each trial a responder in trouble and a CIT officer 300 m away
(the nearest), and `--watchers` dispatcher consoles, all held here. Each trial raises
one emergency over HTTP and times, from just before the POST, its `responder.emergency`
frame on every watcher's socket and the `assignment.offered` (role `backup`) on the
officer's; then a dispatcher closes it. First `--trials` with no calls posted (the
consoles connected, idle), then as many while calls are posted at `--rate`.
"""

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import websockets
from sqlalchemy import select, update
from sqlmodel import col

from bench.load_consoles import ConsoleHolder
from bench.load_intake import CORESPOND, Posted, Process, post_steadily, start
from bench.load_seed import CIT_UNTIL, Seeded, seed
from dispatch.cells import position_cell
from models.agency import Agency
from models.columns import utcnow
from models.responder import Responder
from models.vocabulary import ResponderKind, ResponderStatus, Role
from service.settings import Settings
from service.store.engine import make_engine
from service.store.migrate import upgrade
from service.store.transaction import Tx
from service.store.unit_of_work import UnitOfWork
from service.trust.auth import issue_token

# The cast stands ~200 km from the county's calls, each pair 0.05° (~5 km) apart: the
# trial's officer is the nearest CIT officer free, and no load call reaches the cast.
CAST_ORIGIN = (41.5, -77.5)
OFFICER_OFFSET_DEG = 0.0027  # ~300 m north
TIMEOUT_S = 10.0  # a frame not seen by then counts as missing


@dataclass(frozen=True, slots=True)
class Pair:
    raiser_id: str
    raiser_token: str
    officer_token: str


@dataclass(frozen=True, slots=True)
class Cast:
    pairs: list[Pair]
    watcher_tokens: list[str]


@dataclass
class Trial:
    emergency_ms: list[float] = field(default_factory=list)  # one a watcher that saw it
    backup_ms: float | None = None
    watchers: int = 0
    status: int = 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _place_cast(uow: UnitOfWork, seeded: Seeded, *, pairs: int, watchers: int) -> Cast:
    """The trials' responders, their tokens and the watchers' tokens, written directly;
    the agency asks for one backup (the trial's officer)."""

    def write(tx: Tx) -> Cast:
        found = tx.session.execute(
            select(Agency).where(col(Agency.slug) == seeded.agency_slug)
        ).scalar_one()
        tx.session.execute(
            update(Agency).where(col(Agency.id) == found.id).values(emergency_backup_count=1)
        )
        now, made = utcnow(), []
        for n in range(pairs):
            lat, lon = CAST_ORIGIN[0] + 0.05 * (n // 10), CAST_ORIGIN[1] + 0.05 * (n % 10)
            raiser = _responder(found.id, ResponderKind.clinician, n, lat, lon, now)
            # Out of service: no load call is ever offered to the responder in trouble.
            raiser.status = ResponderStatus.out_of_service
            officer = _responder(
                found.id, ResponderKind.officer, n, lat + OFFICER_OFFSET_DEG, lon, now
            )
            tx.session.add_all([raiser, officer])
            tx.session.flush()
            made.append(
                Pair(
                    raiser_id=str(raiser.id),
                    raiser_token=issue_token(
                        tx, agency=found, role=Role.responder, responder_id=raiser.id
                    ),
                    officer_token=issue_token(
                        tx, agency=found, role=Role.responder, responder_id=officer.id
                    ),
                )
            )
        tokens = [issue_token(tx, agency=found, role=Role.dispatcher) for _ in range(watchers)]
        return Cast(pairs=made, watcher_tokens=tokens)

    return uow.write_sync(write)


def _responder(
    agency_id: uuid.UUID, kind: ResponderKind, n: int, lat: float, lon: float, now: Any
) -> Responder:
    officer = kind == ResponderKind.officer
    return Responder(
        agency_id=agency_id,
        kind=kind,
        name=f"Trial {'officer' if officer else 'clinician'} {n}",
        external_id=f"trial-{kind.value}-{n}",
        cit_certified_until=CIT_UNTIL if officer else None,
        status=ResponderStatus.available,
        lat=lat,
        lon=lon,
        position_cell=position_cell(lat, lon),
        position_at=now,
    )


class Watch:
    """The sockets held here: arrival times of emergencies (by id, one a watcher) and of
    backup offers (by officer)."""

    def __init__(self) -> None:
        self.emergencies: dict[str, list[float]] = {}
        self.backups: dict[int, float] = {}
        self.tasks: list[asyncio.Task[None]] = []

    async def connect(self, ws_url: str, cast: Cast) -> None:
        for n, token in enumerate(cast.watcher_tokens):
            ws = await _signed_in(ws_url, token)
            self.tasks.append(asyncio.create_task(self._watch(ws), name=f"watcher-{n}"))
        for n, pair in enumerate(cast.pairs):
            ws = await _signed_in(ws_url, pair.officer_token)
            self.tasks.append(asyncio.create_task(self._officer(ws, n), name=f"officer-{n}"))

    async def _watch(self, ws: Any) -> None:
        async for raw in ws:
            arrived = time.perf_counter()
            frame = json.loads(raw)
            if frame.get("type") == "event" and frame["event"] == "responder.emergency":
                eid = frame["data"]["emergency"]["id"]
                self.emergencies.setdefault(eid, []).append(arrived)

    async def _officer(self, ws: Any, n: int) -> None:
        async for raw in ws:
            arrived = time.perf_counter()
            frame = json.loads(raw)
            if frame.get("type") != "event":
                continue
            await ws.send(json.dumps({"type": "ack", "seq": frame["seq"]}))
            data = frame["data"]
            if (
                frame["event"] == "assignment.offered"
                and data["assignment"]["purpose"] == "emergency_backup"
            ):
                self.backups.setdefault(n, arrived)

    def stop(self) -> None:
        for task in self.tasks:
            task.cancel()


async def _signed_in(ws_url: str, token: str) -> Any:
    ws = await websockets.connect(ws_url, max_queue=None, open_timeout=60)
    await ws.send(json.dumps({"type": "hello", "token": token}))
    welcome = json.loads(await ws.recv())
    if welcome.get("type") != "welcome":
        raise RuntimeError(f"no welcome: {welcome}")
    return ws


async def _trial(
    client: httpx.AsyncClient, watch: Watch, pair: Pair, n: int, watchers: int, closer: str
) -> Trial:
    trial = Trial(watchers=watchers)
    sent = time.perf_counter()
    answer = await client.post(
        f"/v1/responders/{pair.raiser_id}/emergency",
        headers={"Authorization": f"Bearer {pair.raiser_token}"},
    )
    trial.status = answer.status_code
    if answer.status_code != 201:
        return trial
    eid = answer.json()["id"]
    deadline = sent + TIMEOUT_S
    while time.perf_counter() < deadline:
        if len(watch.emergencies.get(eid, [])) >= watchers and n in watch.backups:
            break
        await asyncio.sleep(0.005)
    trial.emergency_ms = [(t - sent) * 1000 for t in watch.emergencies.get(eid, [])]
    if n in watch.backups:
        trial.backup_ms = (watch.backups[n] - sent) * 1000
    await client.post(f"/v1/emergencies/{eid}/close", headers={"Authorization": f"Bearer {closer}"})
    return trial


async def _phase(
    url: str, watch: Watch, cast: Cast, first: int, trials: int, spacing_s: float
) -> list[Trial]:
    rng = random.Random(first)
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        pending = []
        for n in range(first, first + trials):
            pending.append(
                asyncio.create_task(
                    _trial(
                        client,
                        watch,
                        cast.pairs[n],
                        n,
                        len(cast.watcher_tokens),
                        cast.watcher_tokens[0],
                    )
                )
            )
            await asyncio.sleep(spacing_s * rng.uniform(0.5, 1.5))
        return list(await asyncio.gather(*pending))


async def _measure(
    server: Process, seeded: Seeded, cast: Cast, *, trials: int, rate: float, spacing_s: float
) -> tuple[list[Trial], list[Trial], list[Posted], list[str]]:
    ws_url = server.url.replace("http://", "ws://") + "/v1/ws"
    watch = Watch()
    await watch.connect(ws_url, cast)
    busy = []
    try:
        mark = _cpu_mark(server)
        quiet = await _phase(server.url, watch, cast, 0, trials, spacing_s)
        busy.append(_cpu_since(server, mark))
        duration = trials * spacing_s + 2
        load = asyncio.create_task(
            post_steadily(
                server.url,
                seeded.cad_token,
                rate=rate,
                duration_s=duration,
                anchors=seeded.anchors,
                first=0,
                rng=random.Random(7),
            )
        )
        await asyncio.sleep(1)  # the load under way before the first trial
        mark = _cpu_mark(server)
        loaded = await _phase(server.url, watch, cast, trials, trials, spacing_s)
        busy.append(_cpu_since(server, mark))
        posted = await load
    finally:
        watch.stop()
    return quiet, loaded, posted, busy


def _cpu_mark(server: Process) -> tuple[float, float, float]:
    cpu, loop = server.cpu_seconds()
    return cpu, loop, time.monotonic()


def _cpu_since(server: Process, mark: tuple[float, float, float]) -> str:
    """The server's CPU over the phase, of one core: the process (its event loop)."""
    (cpu, loop), wall = server.cpu_seconds(), time.monotonic() - mark[2]
    return f"{100 * (cpu - mark[0]) / wall:.0f}% ({100 * (loop - mark[1]) / wall:.0f}%)"


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _row(name: str, trials: list[Trial], busy: str) -> str:
    every = [max(t.emergency_ms) for t in trials if len(t.emergency_ms) >= t.watchers]
    each = [ms for t in trials for ms in t.emergency_ms]
    backup = [t.backup_ms for t in trials if t.backup_ms is not None]
    missing_e = sum(1 for t in trials if len(t.emergency_ms) < t.watchers)
    missing_b = len(trials) - len(backup)
    refused = sum(1 for t in trials if t.status != 201)

    def said(values: list[float]) -> str:
        return " / ".join(
            f"{_percentile(values, q):,.0f}" if values else "-" for q in (0.5, 0.99, 1.0)
        )

    return (
        f"| {name} | {len(trials)} | {said(every)} | {said(each)} | {said(backup)} | "
        f"{missing_e} / {missing_b} / {refused} | {busy} |"
    )


def _ordinary(posted: list[Posted], offers_seen: dict[str, float]) -> str:
    """The load's calls from POST to their first offer on the responder's socket."""
    waits = [
        (offers_seen[p.assignments[0]] - p.sent) * 1000
        for p in posted
        if p.assignments and p.assignments[0] in offers_seen
    ]
    if not waits:
        return "-"
    return " / ".join(f"{_percentile(waits, q):,.0f}" for q in (0.5, 0.99, 1.0))


def _load_average() -> str:
    return Path("/proc/loadavg").read_text().split()[0]


def _verdict(trials: list[Trial]) -> str:
    every = [max(t.emergency_ms) for t in trials if t.emergency_ms]
    backup = [t.backup_ms for t in trials if t.backup_ms is not None]
    complete = all(len(t.emergency_ms) >= t.watchers and t.backup_ms for t in trials)
    held = complete and max(every, default=1e9) <= 1000 and max(backup, default=1e9) <= 2000
    return "met" if held else "missed"


def run(args: argparse.Namespace) -> str:
    rng = random.Random(7)
    with tempfile.TemporaryDirectory(prefix="corespond-emergency-") as tmp:
        database_url = f"sqlite:///{Path(tmp) / 'emergency.db'}"
        engine = make_engine(Settings(database_url=database_url))
        upgrade(engine)
        uow = UnitOfWork(engine, bus=None, serialize_writes=False)
        seeded = seed(
            uow,
            responders=args.responders,
            on_duty=args.consoles - args.dispatchers,
            dispatchers=args.dispatchers,
            rng=rng,
        )
        cast = _place_cast(uow, seeded, pairs=2 * args.trials, watchers=args.watchers)
        engine.dispose()
        port = _free_port()
        env = {
            **os.environ,
            "CORESPOND_DATABASE_URL": database_url,
            "CORESPOND_BUS_URL": "memory://",
            "CORESPOND_LOG_LEVEL": "warning",
            "CORESPOND_RATE_LIMIT": "1000000/second",
            "CORESPOND_WS_MAX_PER_ADDRESS": str(max(2000, args.consoles + 4 * args.trials)),
            "CORESPOND_PORT": str(port),
            "CORESPOND_METRICS_PORT": "0",
        }
        server = start([*CORESPOND, "serve"], env, port, Path(tmp) / "server.log")
        holder = ConsoleHolder.start(
            server.url.replace("http://", "ws://") + "/v1/ws",
            [token for _, token in seeded.responder_tokens],
            seeded.dispatcher_tokens,
        )
        try:
            if not holder.ready.wait(timeout=600):
                raise RuntimeError("the consoles did not connect within 10 minutes")
            load_before = _load_average()
            quiet, loaded, posted, busy = asyncio.run(
                _measure(
                    server,
                    seeded,
                    cast,
                    trials=args.trials,
                    rate=args.rate,
                    spacing_s=args.spacing,
                )
            )
            load_after = _load_average()
            tally = holder.tally()
        finally:
            holder.stop()
            server.stop()
    lines = [
        f"Emergencies: {args.responders:,} responders ({tally['connected']} of "
        f"{args.consoles} load consoles connected, {args.dispatchers} of them dispatchers), "
        f"{args.watchers} measured dispatcher consoles; {args.trials} trials a phase, "
        f"~{args.spacing:g} s apart",
        "",
        "| phase | trials | to every watcher p50 / p99 / max ms | to each watcher p50 / p99 / "
        "max ms | backup offer p50 / p99 / max ms | missing emergency / backup / refused | "
        "server CPU (loop) |",
        "| --- | --- | --- | --- | --- | --- | --- |",
        _row("quiet", quiet, busy[0]),
        _row(f"{args.rate:g} calls/s", loaded, busy[1]),
        "",
        f"Calls created during the loaded phase: {sum(p.status == 201 for p in posted)}; "
        f"their POST→offer (an ordinary offer, same seconds) p50 / p99 / max ms: "
        f"{_ordinary(posted, tally['offers_seen'])}",
        f"Machine load average (1 min) before / after: {load_before} / {load_after} "
        "(2 cores; other work on the machine shows here)",
        f"Budget (1 s to every dispatcher, 2 s to the officer): quiet {_verdict(quiet)}, "
        f"loaded {_verdict(loaded)}",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--trials", type=int, default=30, help="emergencies a phase")
    parser.add_argument("--spacing", type=float, default=0.7, help="seconds between trials")
    parser.add_argument("--rate", type=float, default=20, help="calls/s in the loaded phase")
    parser.add_argument("--responders", type=int, default=10_000)
    parser.add_argument("--consoles", type=int, default=1_000, help="the load's consoles")
    parser.add_argument("--dispatchers", type=int, default=5, help="of the load's consoles")
    parser.add_argument("--watchers", type=int, default=5, help="measured dispatcher consoles")
    parser.add_argument("--quick", action="store_true", help="a few seconds, tiny counts")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if args.quick:
        args.trials, args.spacing, args.rate = 3, 0.3, 5
        args.responders, args.consoles, args.dispatchers, args.watchers = 200, 20, 1, 2
    print(run(args), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
