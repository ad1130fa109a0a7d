"""Arms of the load benchmark, compared over rounds: `python -m bench.series`.

An arm is one way to run `bench.load`: its own flags, and the checkout it runs from
(another commit's worktree, for a before and after). The first arm is the baseline.
Each round runs every arm once, one after another, the order rotated round by round,
so that the hour's drift falls on every arm alike.

One run's p99 is its eighth-slowest offer of 750: it moves by a third from run to
run at one commit. So each arm's offers (POST → offer on the responder's socket) are
pooled over its runs, and its pooled percentiles are set against the baseline's with a
95 % interval from a paired bootstrap over rounds: rounds are drawn with replacement,
the same rounds for every arm, so the interval holds the spread between runs and
hours, and a slow hour lands on both sides of a ratio.

    .venv/bin/python -m bench.series --rounds 8 --arm none= \\
        --arm 'cad=--webhooks 3 --sta024 10'
    .venv/bin/python -m bench.series --arm before@/tmp/wt-base= --arm after=
"""

import argparse
import json
import shlex
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
COMMON = "--rate 25 --duration 30 --probes 0 --steps '' --rss-responders 0"
QUANTILES = (0.50, 0.95, 0.99)
DRAWS = 2000


@dataclass
class Arm:
    name: str
    flags: list[str]
    tree: Path = ROOT
    runs: list[dict[str, object]] = field(default_factory=list)  # bench.load --samples

    @classmethod
    def parse(cls, text: str) -> "Arm":
        """`NAME=FLAGS` or `NAME@TREE=FLAGS` (FLAGS as a shell would split them)."""
        label, sep, flags = text.partition("=")
        name, _, tree = label.partition("@")
        if not sep or not name:
            raise ValueError(f"an arm is NAME=FLAGS or NAME@TREE=FLAGS, not {text!r}")
        return cls(name, shlex.split(flags), Path(tree).resolve() if tree else ROOT)

    def offers(self, rounds: list[int] | np.ndarray | range) -> np.ndarray:
        return np.concatenate([np.asarray(self.runs[r]["offer_ms"], float) for r in rounds])


def pct(values: np.ndarray, q: float) -> float:
    """As bench.load reports a phase: the value at index ⌊q·n⌋ of the sorted values."""
    k = min(len(values) - 1, int(q * len(values)))
    return float(np.partition(values, k)[k])


def ratios(
    base: Arm, other: Arm, q: float, *, draws: int = DRAWS, seed: int = 7
) -> tuple[float, float, float]:
    """`other`'s pooled q-quantile over `base`'s, and its 95 % interval from a paired
    bootstrap over rounds (the same rounds drawn for both arms)."""
    rounds = len(base.runs)
    point = pct(other.offers(range(rounds)), q) / pct(base.offers(range(rounds)), q)
    rng = np.random.default_rng(seed)
    drawn = []
    for _ in range(draws):
        picked = rng.integers(0, rounds, rounds)
        drawn.append(pct(other.offers(picked), q) / pct(base.offers(picked), q))
    low, high = np.percentile(drawn, [2.5, 97.5])
    return point, float(low), float(high)


def run_arm(arm: Arm, common: list[str], out: Path, n: int) -> None:
    """One `bench.load` run of `arm`, from inside its tree (python -m puts the working
    directory first on the path: run from elsewhere, it would load that checkout)."""
    samples, log = out / f"{n:02d}-{arm.name}.json", out / f"{n:02d}-{arm.name}.log"
    command = [sys.executable, "-m", "bench.load", *common, *arm.flags, "--samples", str(samples)]
    with log.open("w") as sink:
        done = subprocess.run(
            command, cwd=arm.tree, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True
        )
    if done.returncode != 0:
        raise SystemExit(f"{arm.name}'s run {n} exited {done.returncode}: see {log}")
    arm.runs.append(json.loads(samples.read_text()))


def table(arms: list[Arm]) -> str:
    base = arms[0]
    lines = [
        "| arm | runs · offers | POST → offer p50 / p95 / p99 ms, pooled | "
        f"p95 x {base.name} [95 %] | p99 x {base.name} [95 %] | runs' p99, median (range) | "
        "CPU: server · workers · CAD side · beside |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for arm in arms:
        rounds = range(len(arm.runs))
        pooled = arm.offers(rounds)
        each = sorted(pct(arm.offers([r]), 0.99) for r in rounds)
        cpu = {
            part: float(np.median([run["cpu"].get(part, 0.0) for run in arm.runs]))  # type: ignore[attr-defined]
            for part in ("server", "workers", "cad", "beside")
        }
        versus = [
            "—" if arm is base else "{:.2f} [{:.2f}-{:.2f}]".format(*ratios(base, arm, q))
            for q in (0.95, 0.99)
        ]
        lines.append(
            f"| {arm.name} | {len(arm.runs)} · {len(pooled):,} | "
            + " / ".join(f"{pct(pooled, q):.1f}" for q in QUANTILES)
            + f" | {versus[0]} | {versus[1]} | {np.median(each):.1f} ({each[0]:.1f}-{each[-1]:.1f})"
            + " | "
            + " · ".join(f"{cpu[part]:.0%}" for part in ("server", "workers", "cad", "beside"))
            + " |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--arm",
        action="append",
        type=Arm.parse,
        required=True,
        help="NAME=FLAGS or NAME@TREE=FLAGS; the first is the baseline",
    )
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--common", default=COMMON, help=f"every run's flags ({COMMON})")
    parser.add_argument("--out", type=Path, help="keep each run's log and samples here")
    args = parser.parse_args(argv)
    arms: list[Arm] = args.arm
    if len(arms) < 2 or len({a.name for a in arms}) != len(arms):
        parser.error("give at least two arms, each its own name")
    for arm in arms:
        if not (arm.tree / "bench" / "load.py").exists():
            parser.error(f"{arm.name}'s tree {arm.tree} has no bench/load.py")
        if not (arm.tree.parent / "shared" / "data").exists():
            parser.error(
                f"{arm.name}'s tree has no ../shared/data: without it every call is placed "
                f"around one point, another workload (ln -s /work/shared {arm.tree.parent}/shared)"
            )
    out = args.out or Path(tempfile.mkdtemp(prefix="corespond-series-"))
    out.mkdir(parents=True, exist_ok=True)
    common = shlex.split(args.common)
    began = time.strftime("%Y-%m-%d %H:%M", time.gmtime())
    n = 0
    for r in range(args.rounds):
        for k in range(len(arms)):
            arm = arms[(r + k) % len(arms)]
            n += 1
            run_arm(arm, common, out, n)
            print(f"round {r + 1}, {arm.name}: p99 {pct(arm.offers([r]), 0.99):.1f} ms", flush=True)
    ended = time.strftime("%H:%M", time.gmtime())
    print(
        f"\n{args.rounds} rounds, {began} to {ended} UTC, `bench.load {args.common}`; logs in {out}"
    )
    print(table(arms))
    return 0


if __name__ == "__main__":
    sys.exit(main())
