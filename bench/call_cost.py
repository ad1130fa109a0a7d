"""What one call's writes cost in-process: intake, accept, en route, on scene, clear.

The service functions through the unit of work on a seeded SQLite file, with
their audit records and commits, no HTTP and no sockets: the database side of
the load benchmark without its noise (a shared two-core VM varies 2-5x from run
to run near saturation; this varies by a few percent). Use it to judge a change
to the write path before the load run.

    .venv/bin/python -m bench.call_cost                  # 300 calls, 10,000 responders
    .venv/bin/python -m bench.call_cost --profile out.prof   # and a cProfile of them
"""

import argparse
import cProfile
import pstats
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.load_intake import call_body
from bench.load_seed import seed
from dispatch.config import DispatchConfig
from models.agency import Principal
from models.call import CallCreate
from models.vocabulary import AssignmentState, Disposition
from service.assignments import operations as assignments
from service.calls import operations as calls
from service.settings import Settings
from service.store.engine import make_engine
from service.store.migrate import upgrade
from service.store.unit_of_work import UnitOfWork
from service.trust.audit import Actor
from service.trust.auth import check_token

STEPS = ("token", "intake", "accept", "en_route", "on_scene", "cleared")


def measure(
    *, calls_n: int, responders: int, on_duty: int, profile: Path | None = None
) -> tuple[str, dict[str, list[float]]]:
    """Where the run placed people (`Seeded.population`), and the seconds each step
    took, over `calls_n` calls after 20 unmeasured ones."""
    rng = random.Random(7)
    with tempfile.TemporaryDirectory(prefix="corespond-cost-") as tmp:
        engine = make_engine(Settings(database_url=f"sqlite:///{tmp}/cost.db"))
        upgrade(engine)
        seeded = seed(
            UnitOfWork(engine, bus=None, serialize_writes=False),
            responders=responders,
            on_duty=on_duty,
            dispatchers=1,
            rng=rng,
        )
        uow = UnitOfWork(engine, bus=None, serialize_writes=True)
        config = DispatchConfig()

        def principal(token: str) -> Principal:
            found, refusal = uow.read_sync(check_token, token)
            assert found is not None and refusal is None
            return found

        cad = principal(seeded.cad_token)
        crew = {rid: principal(token) for rid, token in seeded.responder_tokens}
        times: dict[str, list[float]] = {step: [] for step in STEPS}

        def timed(step: str, actor: Actor, work: Callable[..., Any], **kwargs: Any) -> Any:
            started = time.perf_counter()
            result = uow.write_as_sync(actor, work, **kwargs)
            times[step].append(time.perf_counter() - started)
            return result

        def one_call(n: int) -> None:
            started = time.perf_counter()
            uow.read_sync(check_token, seeded.cad_token)
            times["token"].append(time.perf_counter() - started)
            body = CallCreate.model_validate(call_body(rng, seeded.anchors, n))
            call = timed(
                "intake",
                Actor(principal=cad, source="127.0.0.1", action="POST /v1/calls"),
                calls.create_call,
                principal=cad,
                body=body,
                config=config,
            )
            for offer in call.assignments:
                who = crew[str(offer.responder_id)]
                timed(
                    "accept",
                    Actor(principal=who, source="127.0.0.1", action="ws accept"),
                    assignments.accept,
                    principal=who,
                    assignment_id=offer.id,
                )
                for status in (
                    AssignmentState.en_route,
                    AssignmentState.on_scene,
                    AssignmentState.cleared,
                ):
                    timed(
                        status.value,
                        Actor(principal=who, source="127.0.0.1", action="ws progress"),
                        assignments.report_progress,
                        principal=who,
                        assignment_id=offer.id,
                        status=status,
                        disposition=Disposition.referred
                        if status == AssignmentState.cleared
                        else None,
                        config=config,
                    )

        for n in range(20):  # warm the caches and the statement cache
            one_call(1_000_000 + n)
        for each in times.values():
            each.clear()
        profiler = cProfile.Profile() if profile else None
        if profiler:
            profiler.enable()
        for n in range(calls_n):
            one_call(n)
        if profiler and profile:
            profiler.disable()
            profiler.dump_stats(profile)
        engine.dispose()
    return seeded.population, times


def report(times: dict[str, list[float]], calls_n: int) -> str:
    lines = ["| step | count | median ms | mean ms |", "| --- | --- | --- | --- |"]
    for step, values in times.items():
        lines.append(
            f"| {step} | {len(values)} | {statistics.median(values) * 1e3:.2f} | "
            f"{statistics.mean(values) * 1e3:.2f} |"
        )
    whole = sum(sum(v) for v in times.values()) / calls_n
    lines.append(f"\nA call's whole life, every step: {whole * 1e3:.2f} ms")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--responders", type=int, default=10_000)
    parser.add_argument("--on-duty", type=int, default=995, help="available responders")
    parser.add_argument("--profile", type=Path, help="write a cProfile of the measured calls")
    args = parser.parse_args(argv)
    population, times = measure(
        calls_n=args.calls, responders=args.responders, on_duty=args.on_duty, profile=args.profile
    )
    print(population, end="\n\n")
    print(report(times, args.calls), flush=True)
    if args.profile:
        pstats.Stats(str(args.profile)).sort_stats("cumulative").print_stats(40)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
