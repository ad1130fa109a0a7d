"""A bulk AVL batch: 1,000 unit positions applied in one write, against the same 1,000
sent one at a time (the only way before the bulk feed), in one run.

In-process on a seeded SQLite file, as bench/call_cost.py: the body parsed and
validated as the route does, then the write through the unit of work with its audit
record and commit; no HTTP. Budget (issue 22): a batch of 1,000 within 100 ms, held
at the 90th percentile. The collector runs as `corespond serve` runs it
(service/app.py: start-up frozen, a larger youngest generation); with Python's
defaults (`--default-gc`) a full collection of this process's heap, ~100 ms, landed
in one batch of ten.

    .venv/bin/python -m bench.positions_batch                 # 20 batches, 10,000 units
"""

import argparse
import gc
import json
import random
import statistics
import tempfile
import time
import uuid
from datetime import timedelta

from sqlalchemy import select
from sqlmodel import col

from bench.load_seed import seed
from dispatch.config import DispatchConfig
from models.agency import Principal
from models.columns import utcnow
from models.positions import PositionBatch
from models.responder import PositionUpdate, Responder
from service.responders import operations as responders
from service.responders import positions
from service.settings import Settings
from service.store.engine import make_engine
from service.store.migrate import upgrade
from service.store.unit_of_work import UnitOfWork
from service.trust.audit import Actor
from service.trust.auth import check_token

BUDGET_S = 0.100


def measure(
    *, batches: int, size: int, units: int, server_gc: bool = True
) -> tuple[list[float], list[float]]:
    """Seconds per batch of `size` (parse, validate, write) and per `size` single PUTs'
    writes, over `batches` of each, alternating; the collector as the server runs it
    unless `server_gc` is False."""
    rng = random.Random(11)
    with tempfile.TemporaryDirectory(prefix="corespond-avl-") as tmp:
        engine = make_engine(Settings(database_url=f"sqlite:///{tmp}/avl.db"))
        upgrade(engine)
        seeded = seed(
            UnitOfWork(engine, bus=None, serialize_writes=False),
            responders=units,
            on_duty=units // 10,
            dispatchers=0,
            rng=rng,
        )
        uow = UnitOfWork(engine, bus=None, serialize_writes=True)
        config = DispatchConfig()
        cad, refusal = uow.read_sync(check_token, seeded.cad_token)
        assert cad is not None and refusal is None
        ids = uow.read_sync(
            lambda tx: list(tx.session.execute(select(col(Responder.id))).scalars())
        )
        if server_gc:  # as `corespond serve` runs (service/app.py), once started
            gc.freeze()
            gc.set_threshold(10_000, 50, 100)
        batched, single = [], []
        for n in range(batches):
            chosen = rng.sample(ids, size)
            at = (utcnow() + timedelta(milliseconds=n)).isoformat()
            reports = [
                {"responder_id": str(rid), "lat": lat, "lon": lon, "at": at}
                for rid, (lat, lon) in zip(chosen, _spots(rng, seeded.anchors, size), strict=True)
            ]
            raw = json.dumps({"positions": reports}).encode()
            started = time.perf_counter()
            body = PositionBatch.model_validate_json(raw)
            result = uow.write_as_sync(
                _actor(cad), positions.apply_positions, principal=cad, body=body, config=config
            )
            batched.append(time.perf_counter() - started)
            assert result.applied == size, result.model_dump(exclude={"results"})
            started = time.perf_counter()
            for report in reports:
                move = PositionUpdate(lat=report["lat"], lon=report["lon"])
                uow.write_as_sync(
                    _actor(cad),
                    responders.set_position,
                    principal=cad,
                    responder_id=uuid.UUID(str(report["responder_id"])),
                    body=move,
                    config=config,
                )
            single.append(time.perf_counter() - started)
        return batched, single


def _actor(who: Principal) -> Actor:
    return Actor(principal=who, source="bench", action="PUT /v1/responders/positions")


def _spots(
    rng: random.Random, anchors: list[tuple[float, float]], n: int
) -> list[tuple[float, float]]:
    return [
        (lat + rng.uniform(-0.005, 0.005), lon + rng.uniform(-0.005, 0.005))
        for lat, lon in (rng.choice(anchors) for _ in range(n))
    ]


def report(batched: list[float], single: list[float], size: int) -> str:
    def ms(values: list[float], q: float) -> float:
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1e3

    lines = [
        f"| {size} positions | median ms | p90 ms | max ms |",
        "| --- | --- | --- | --- |",
        f"| one batch (parse, validate, write) | {statistics.median(batched) * 1e3:.1f} | "
        f"{ms(batched, 0.9):.1f} | {max(batched) * 1e3:.1f} |",
        f"| one write each (today's single PUT's write) | {statistics.median(single) * 1e3:.1f} | "
        f"{ms(single, 0.9):.1f} | {max(single) * 1e3:.1f} |",
    ]
    held = "met" if ms(batched, 0.9) <= BUDGET_S * 1e3 else "MISSED"
    lines.append(f"\nBudget: a batch of 1,000 within 100 ms on SQLite: {held} (p90).")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--size", type=int, default=1_000)
    parser.add_argument("--units", type=int, default=10_000)
    parser.add_argument(
        "--default-gc", action="store_true", help="Python's collector settings, not the server's"
    )
    args = parser.parse_args(argv)
    batched, single = measure(
        batches=args.batches, size=args.size, units=args.units, server_gc=not args.default_gc
    )
    print(report(batched, single, args.size), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
