"""The whole path under load: `python -m bench.load` (or `make bench-load`).

A real `corespond serve` on a fresh SQLite file; an agency of responders placed
where a real county's 911 calls happen; a separate process holding the consoles
over real WebSockets (responders accept, work and clear their offers; a few
dispatchers watch); calls posted at a steady rate. Reported: POST latency, the
time from POST to the offer on the chosen responder's socket, the highest rate
whose p99 stays within 25 ms, the server's peak RSS, and a bare FastAPI POST's
throughput measured in the same run. It ends by checking the database: nobody
double-booked, every call in a known state. See bench/README.md.
"""

import argparse
import asyncio
import contextlib
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import create_engine, text

from bench.load_cad import cad_side
from bench.load_consoles import ConsoleHolder
from bench.load_intake import (
    CORESPOND,
    max_throughput,
    pids_cpu_seconds,
    post_steadily,
    settle,
    start,
)
from bench.load_report import LoadRun, report
from bench.load_search import (
    Phase,
    next_probe,
    offer_ms,
    post_ms,
    within_budget,
)
from bench.load_seed import seed
from service.settings import Settings
from service.store.engine import make_engine
from service.store.migrate import upgrade
from service.store.unit_of_work import UnitOfWork


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_load(
    *,
    responders: int,
    consoles: int,
    dispatchers: int,
    rate: float,
    duration_s: float,
    steps: list[float],
    step_s: float,
    closed_loop_s: float,
    probes: int = 0,
    seed_value: int = 7,
    profile: Path | None = None,
    postgres: str | None = None,
    bus: str = "memory://",
    replicas: int = 1,
    webhooks: int = 0,
    subscribers: int = 0,
    busy_beside: float = 0.0,
) -> LoadRun:
    """The steady phase; then up to `probes` phases of `step_s` searching for the
    highest rate within budget (`next_probe`, from the steady phase's verdict); then
    the `steps` (overload: is every call still answered?).

    With `replicas` > 1 (PostgreSQL and a shared bus), calls are posted to the first
    replica and every console is connected to the last: each offer crosses the bus.
    With `busy_beside`, `bench.busy` spins that share of a core through the steady
    phase, in the idle class (the CAD listeners' calibration)."""
    rng = random.Random(seed_value)
    run = LoadRun(responders=responders, consoles=consoles, busy_beside=busy_beside)
    with (
        tempfile.TemporaryDirectory(prefix="corespond-load-") as tmp,
        _database(Path(tmp), postgres) as database_url,
    ):
        settings = Settings(database_url=database_url)
        engine = make_engine(settings)
        upgrade(engine)
        seeded = seed(
            UnitOfWork(engine, bus=None, serialize_writes=False),
            responders=responders,
            on_duty=consoles - dispatchers,
            dispatchers=dispatchers,
            rng=rng,
        )
        run.population = seeded.population
        engine.dispose()
        env = {
            **os.environ,
            "CORESPOND_DATABASE_URL": settings.database_url,
            "CORESPOND_BUS_URL": bus,
            "CORESPOND_LOG_LEVEL": "warning",
            "CORESPOND_RATE_LIMIT": "1000000/second",
            "CORESPOND_WEBHOOK_ALLOW_PRIVATE": "true",  # the run's receiver is on this host
            # Every console of the run comes from this one address (each has a token of
            # its own, as deployed); a deployment's come from many.
            "CORESPOND_WS_MAX_PER_ADDRESS": str(max(2000, consoles + 100)),
        }
        servers = []
        for n in range(replicas):
            port = free_port()
            servers.append(
                start(
                    [*CORESPOND, "serve"],
                    # Each replica its own metrics port, as on one host it must have.
                    {
                        **env,
                        "CORESPOND_PORT": str(port),
                        "CORESPOND_METRICS_PORT": str(free_port()),
                    },
                    port,
                    Path(tmp) / f"server-{n}.log",
                )
            )
        server = servers[0]  # takes the calls; the consoles are on servers[-1]
        holder = ConsoleHolder.start(
            servers[-1].url.replace("http://", "ws://") + "/v1/ws",
            [token for _, token in seeded.responder_tokens],
            seeded.dispatcher_tokens,
        )
        cad = cad_side(
            url=server.url,
            admin_token=seeded.admin_token,
            cad_token=seeded.cad_token,
            webhooks=webhooks,
            subscribers=subscribers,
        )
        beside: subprocess.Popen[bytes] | None = None
        try:
            if not holder.ready.wait(timeout=600):
                raise RuntimeError("the consoles did not connect within 10 minutes")
            run.cad = side = cad.__enter__()
            # The server's group (its workers too) and this one's (consoles, CAD side).
            run.settled = settle([os.getpgid(s.popen.pid) for s in servers] + [os.getpgrp()])
            spy = _profile(server.popen.pid, duration_s, profile) if profile else None
            if busy_beside:
                beside = _busy(busy_beside)
                time.sleep(1)  # started (its imports are no part of the phase)

            def run_phase(name: str, phase_rate: float, seconds: float) -> Phase:
                inside_before = server.metrics()
                cpu_before, wall_before = server.cpu_seconds(), time.monotonic()
                sides_before = server.workers_cpu_seconds(), pids_cpu_seconds(side.pids)
                beside_before = pids_cpu_seconds(beside_pids)
                posted = asyncio.run(
                    post_steadily(
                        server.url,
                        seeded.cad_token,
                        rate=phase_rate,
                        duration_s=seconds,
                        anchors=seeded.anchors,
                        first=sum(len(p.posted) for p in run.phases),
                        rng=rng,
                    )
                )
                (cpu, loop), (cpu0, loop0) = server.cpu_seconds(), cpu_before
                wall = time.monotonic() - wall_before
                inside = server.metrics()
                inside = {k: v - inside_before.get(k, 0.0) for k, v in inside.items()}
                phase = Phase(
                    name,
                    phase_rate,
                    posted,
                    (cpu - cpu0) / wall,
                    (loop - loop0) / wall,
                    inside,
                    wall,
                    workers_cpu=(server.workers_cpu_seconds() - sides_before[0]) / wall,
                    cad_cpu=(pids_cpu_seconds(side.pids) - sides_before[1]) / wall,
                    beside_cpu=(pids_cpu_seconds(beside_pids) - beside_before) / wall,
                )
                run.phases.append(phase)
                time.sleep(6)  # responders clear their calls and come free again
                return phase

            def offers_so_far() -> dict[str, float]:
                holder.asked.set()
                seen: dict[str, float] = holder.results.get(timeout=60)["offers_seen"]
                return seen

            beside_pids = [beside.pid] if beside is not None else []
            steady = run_phase("steady", rate, duration_s)
            if beside is not None:
                beside_pids.clear()
                _stop(beside)
            judged = {rate: within_budget(steady, offers_so_far())} if probes else {}
            for _ in range(probes):
                probe = next_probe(judged)
                if probe is None:
                    break
                phase = run_phase(f"probe {probe:g}/s", probe, step_s)
                judged[probe] = within_budget(phase, offers_so_far())
            for step in steps:
                run_phase(f"step {step:g}/s", step, step_s)
            if closed_loop_s:
                run.closed_loop_rps = asyncio.run(
                    max_throughput(
                        server.url,
                        "/v1/calls",
                        MINIMAL_CALL,
                        seconds=closed_loop_s,
                        token=seeded.cad_token,
                    )
                )
            if spy is not None:
                spy.wait(timeout=60)
            tally = holder.tally()
            run.offers_seen = tally["offers_seen"]
            run.console_errors = tally["error_count"]
            run.connected = tally["connected"]
            run.peak_rss_mb = max(s.peak_rss_mb() for s in servers)
        finally:
            if beside is not None:
                _stop(beside)
            cad.__exit__(None, None, None)
            holder.stop()
            for each in servers:
                each.stop()
        _check(run, database_url)
    return run


def _profile(pid: int, seconds: float, out: Path) -> subprocess.Popen[bytes]:
    """py-spy on the server for the steady phase (raw stacks, one line a stack)."""
    spy = Path(sys.executable).with_name("py-spy")
    if not spy.exists():
        raise SystemExit("--profile needs py-spy: .venv/bin/pip install py-spy")
    command = [
        str(spy),
        "record",
        "--pid",
        str(pid),
        "-d",
        str(int(seconds)),
        "-r",
        "100",
        "-f",
        "raw",
        "-o",
        str(out),
        "--nonblocking",
        "--gil",
    ]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _busy(share: float) -> subprocess.Popen[bytes]:
    """`bench.busy` beside the run, in a session of its own (not the bench's group,
    whose quiet the run waits for)."""
    return subprocess.Popen(
        [sys.executable, "-m", "bench.busy", str(share)], start_new_session=True
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        process.wait(timeout=10)


def steady_samples(run: LoadRun) -> dict[str, object]:
    """The steady phase as `bench.series` pools it: every POST's and every offer's
    latency in ms, offers that never arrived, and the CPU of the server (its loop), its
    workers, the CAD side and a busy loop beside, in cores."""
    steady = run.phases[0]
    offers, missing = offer_ms(steady, run.offers_seen)
    return {
        "rate": steady.rate,
        "post_ms": post_ms(steady),
        "offer_ms": offers,
        "never_arrived": missing,
        "cpu": {
            "server": steady.cpu,
            "loop": steady.loop_cpu,
            "workers": steady.workers_cpu,
            "cad": steady.cad_cpu,
            "beside": steady.beside_cpu,
        },
    }


def _check(run: LoadRun, database_url: str) -> None:
    """What must hold whatever the load: nobody double-booked, no call in limbo."""
    engine = create_engine(database_url)
    active = "('offered', 'accepted', 'en_route', 'on_scene')"
    try:
        with engine.connect() as conn:
            run.double_booked = conn.execute(
                text(
                    "SELECT COUNT(*) FROM (SELECT responder_id FROM assignment "  # noqa: S608
                    f"WHERE state IN {active} GROUP BY responder_id HAVING COUNT(*) > 1) AS d"
                )
            ).scalar_one()
            run.calls_in_db = conn.execute(text("SELECT COUNT(*) FROM call")).scalar_one()
            run.calls_unknown_state = conn.execute(
                text(
                    "SELECT COUNT(*) FROM call WHERE status NOT IN "
                    "('pending', 'dispatched', 'closed', 'cancelled')"
                )
            ).scalar_one()
    finally:
        engine.dispose()


@contextlib.contextmanager
def _database(tmp: Path, postgres: str | None) -> Iterator[str]:
    """A fresh SQLite file in `tmp`, or a throwaway PostgreSQL database (dropped after)."""
    if postgres is None:
        yield f"sqlite:///{tmp / 'load.db'}"
        return
    name = f"corespond_load_{os.getpid()}"
    admin = create_engine(postgres, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield postgres.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


# A minimal valid call: the body the baseline and the closed loop post.
MINIMAL_CALL = {"location": {"lat": 40.2, "lon": -75.4}, "category": "welfare_check", "priority": 4}


def bare_command(port: int, *options: str) -> list[str]:
    """The baseline app on uvicorn, as `corespond serve` runs (uvloop, httptools)."""
    return [
        sys.executable, "-m", "uvicorn", "bench.bare_app:app", "--host", "127.0.0.1",
        "--port", str(port), "--log-level", "warning", *options,
    ]  # fmt: skip


def bare_throughput(seconds: float) -> float:
    """The baseline: a bare FastAPI POST on uvicorn with the same options, same client."""
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        server = start(bare_command(port), dict(os.environ), port, Path(tmp) / "bare.log")
        try:
            return asyncio.run(
                max_throughput(server.url, "/v1/calls", MINIMAL_CALL, seconds=seconds)
            )
        finally:
            server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rate", type=float, default=50)
    parser.add_argument("--duration", type=float, default=60)
    parser.add_argument("--responders", type=int, default=10_000)
    parser.add_argument("--consoles", type=int, default=1_000)
    parser.add_argument("--dispatchers", type=int, default=5)
    parser.add_argument(
        "--probes",
        type=int,
        default=4,
        help="phases searching for the highest rate within budget, after the steady one",
    )
    parser.add_argument(
        "--steps", default="100,150,200,300", help="overload rates, after the search"
    )
    parser.add_argument("--step-seconds", type=float, default=10, help="a probe's or step's")
    parser.add_argument("--rss-responders", type=int, default=100_000, help="0 to skip")
    parser.add_argument("--baseline-seconds", type=float, default=5)
    parser.add_argument("--quick", action="store_true", help="a few seconds, tiny counts")
    parser.add_argument("--profile", type=Path, help="py-spy the steady phase into this file")
    parser.add_argument(
        "--samples",
        type=Path,
        help="write the steady phase's latencies and CPU here, as JSON (bench.series)",
    )
    parser.add_argument(
        "--postgres",
        metavar="ADMIN_URL",
        help="run on a throwaway PostgreSQL database made through this URL "
        "(postgresql+psycopg://postgres@127.0.0.1/postgres)",
    )
    parser.add_argument("--bus", default="memory://", help="the servers' CORESPOND_BUS_URL")
    parser.add_argument("--webhooks", type=int, default=0, help="endpoints for every event")
    parser.add_argument("--sta024", type=int, default=0, help="STA-024 subscribers")
    parser.add_argument(
        "--busy-beside",
        type=float,
        default=0.0,
        metavar="SHARE",
        help="spin this share of a core through the steady phase, in the idle class "
        "(bench.busy: what the CAD listeners' CPU would cost if it did nothing)",
    )
    parser.add_argument(
        "--replicas",
        type=int,
        default=1,
        help="servers sharing the database and bus (needs --postgres and a shared --bus): "
        "calls go to the first, consoles to the last",
    )
    args = parser.parse_args(argv)
    if args.replicas > 1 and (args.postgres is None or args.bus.startswith("memory")):
        parser.error("--replicas above 1 needs --postgres and a shared --bus (redis://…)")
    # A SIGTERM must still run the finally blocks that stop the server and the consoles.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if args.quick:
        args.rate, args.duration, args.responders, args.consoles = 5, 2, 200, 20
        args.dispatchers, args.steps, args.rss_responders, args.baseline_seconds = 1, "", 0, 1
        args.step_seconds, args.probes = 1, 1
    steps = [float(s) for s in args.steps.split(",") if s.strip()]
    closed = 1.0 if args.quick else 5.0
    run = run_load(
        responders=args.responders,
        consoles=args.consoles,
        dispatchers=args.dispatchers,
        rate=args.rate,
        duration_s=args.duration,
        steps=steps,
        step_s=args.step_seconds,
        closed_loop_s=closed,
        probes=args.probes,
        postgres=args.postgres,
        bus=args.bus,
        replicas=args.replicas,
        profile=args.profile,
        webhooks=args.webhooks,
        subscribers=args.sta024,
        busy_beside=args.busy_beside,
    )
    rss_run = None
    if args.rss_responders:
        rss_run = run_load(
            responders=args.rss_responders,
            consoles=args.consoles,
            dispatchers=args.dispatchers,
            rate=args.rate,
            duration_s=10,
            steps=[],
            step_s=0,
            closed_loop_s=0,
        )
    bare = bare_throughput(args.baseline_seconds)
    print(report(run, bare, rss_run), flush=True)
    if args.samples is not None:
        args.samples.write_text(json.dumps(steady_samples(run)))
    broken = (
        run.double_booked
        or run.calls_unknown_state
        or (rss_run is not None and (rss_run.double_booked or rss_run.calls_unknown_state))
    )
    return 1 if broken else 0


if __name__ == "__main__":
    raise SystemExit(main())
