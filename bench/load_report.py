"""A load run's figures (`LoadRun`) and their report: the phases' latencies against the
budget, what the server's own metrics say of each phase, intake against a bare POST,
memory, and the database's check. Markdown tables, so they paste into bench/README.md."""

from dataclasses import dataclass, field

from bench.load_cad import CadSide
from bench.load_search import BUDGET_P99_MS, Phase, offer_ms, pct, post_ms, within_budget


@dataclass
class LoadRun:
    responders: int
    consoles: int
    population: str = ""  # where people and calls were placed (Seeded.population)
    phases: list[Phase] = field(default_factory=list)
    offers_seen: dict[str, float] = field(default_factory=dict)
    console_errors: int = 0
    connected: int = 0
    peak_rss_mb: float = 0.0
    closed_loop_rps: float = 0.0
    double_booked: int = -1
    calls_in_db: int = -1
    calls_unknown_state: int = -1
    cad: CadSide | None = None  # webhooks and STA-024 subscribers, if the run had any
    settled: tuple[float, float] = (0.0, 0.0)  # waited before the steady phase: s, CPU s
    busy_beside: float = 0.0  # the share of a core bench.busy was asked to spin


def inside_the_server(phases: list[Phase]) -> list[str]:
    """What the server's own metrics say of each phase: how long its writes took from
    asking to answer, how many committed together, how late its event loop ran."""

    def histogram(inside: dict[str, float], name: str, within: str) -> str:
        count = inside.get(f"{name}_count", 0.0)
        if not count:
            return "-"
        mean = inside[f"{name}_sum"] / count * 1000
        late = 1 - inside.get(f"{name}_bucket{{{within}}}", count) / count
        return f"{count:,.0f} · {mean:.1f} ms · {late:.1%}"

    lines = [
        "Inside the server (its metrics over each phase): count · mean · share over 25 ms",
        "",
        "| phase | writes, asked → answered | writes' own work: mean · share of the phase "
        "| batches: writes a batch · mean ms held | event loop's lag (10 wakes/s) |",
        "| --- | --- | --- | --- | --- |",
    ]
    for phase in phases:
        inside = phase.inside
        batches = inside.get("corespond_write_batch_size_count", 0.0)
        batch = "-"
        if batches:
            size = inside["corespond_write_batch_size_sum"] / batches
            held = inside["corespond_write_batch_seconds_sum"] / batches * 1000
            batch = f"{batches:,.0f} · {size:.1f} · {held:.1f} ms"
        work = "-"
        if count := inside.get("corespond_write_work_seconds_count", 0.0):
            spent = inside["corespond_write_work_seconds_sum"]
            work = f"{spent / count * 1000:.2f} ms · {spent / phase.wall:.0%}"
        lines.append(
            f"| {phase.name} | {histogram(inside, 'corespond_write_seconds', '0.025')} | {work} | "
            f"{batch} | {histogram(inside, 'corespond_event_loop_lag_seconds', '0.025')} |"
        )
    return lines


def _rates(rates: list[float]) -> str:
    return ", ".join(f"{r:g}" for r in sorted(set(rates))) or "none"


def report(run: LoadRun, bare_rps: float, rss_run: LoadRun | None) -> str:
    lines = [
        run.population,
        f"{run.responders:,} responders, {run.connected:,} of {run.consoles:,} consoles connected"
        f" ({run.console_errors} console errors)",
        "",
        "| phase | rate /s | calls 201 | POST p50 / p95 / p99 ms | "
        "POST→offer p50 / p95 / p99 ms | offers | never arrived | server CPU (loop) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    held: list[float] = []
    missed: list[float] = []
    for phase in run.phases:
        posts = post_ms(phase)
        offers, missing = offer_ms(phase, run.offers_seen)
        (held if within_budget(phase, run.offers_seen) else missed).append(phase.rate)
        lines.append(
            f"| {phase.name} | {phase.rate:g} | {len(posts)}/{len(phase.posted)} | "
            f"{pct(posts, 0.5):.1f} / {pct(posts, 0.95):.1f} / {pct(posts, 0.99):.1f} | "
            f"{pct(offers, 0.5):.1f} / {pct(offers, 0.95):.1f} / {pct(offers, 0.99):.1f} | "
            f"{len(offers)} | {missing} | {phase.cpu:.0%} ({phase.loop_cpu:.0%}) |"
        )
    sustained = max(held, default=0.0)
    lines += ["", *inside_the_server(run.phases)]
    lines += [
        "",
        f"Highest rate with POST→offer p99 ≤ {BUDGET_P99_MS:g} ms: {sustained:g} calls/s "
        f"(held at {_rates(held)}; missed at {_rates(missed)})",
        f"Closed-loop intake (4 clients back to back): {run.closed_loop_rps:.0f} calls/s",
        f"Bare FastAPI POST, same client: {bare_rps:.0f} requests/s; "
        f"sustained / bare = {sustained / bare_rps:.3f}, closed-loop / bare = "
        f"{run.closed_loop_rps / bare_rps:.3f} (budget ≥ 0.05, DESIGN.md)",
        f"Server peak RSS: {run.peak_rss_mb:.0f} MB",
        f"Quiet before the steady phase (the server's processes, the consoles', the CAD "
        f"side's): after {run.settled[0]:.0f} s, {run.settled[1]:.1f} s of CPU meanwhile",
    ]
    if run.cad is not None and run.cad.note():
        lines.append(run.cad.note())
        lines += [
            f"CPU over the {phase.name} phase besides the server's, in cores: its workers "
            f"(webhook delivery, EIDO builder) {phase.workers_cpu:.0%}, "
            f"the CAD side's processes {phase.cad_cpu:.0%}"
            for phase in run.phases[:1]
        ]
    lines += [
        f"A busy loop beside the {phase.name} phase (bench.busy, the idle class, "
        f"{run.busy_beside:.0%} asked): {phase.beside_cpu:.0%} of a core"
        for phase in run.phases[:1]
        if run.busy_beside
    ]
    if rss_run is not None:
        lines.append(
            f"Server peak RSS with {rss_run.responders:,} responders and {rss_run.connected:,} "
            f"consoles: {rss_run.peak_rss_mb:.0f} MB (budget ≤ 250 MB)"
        )
    for checked in filter(None, (run, rss_run)):
        lines.append(
            f"Check ({checked.responders:,} responders): double-booked responders "
            f"{checked.double_booked}, calls {checked.calls_in_db}, "
            f"calls in an unknown state {checked.calls_unknown_state}"
        )
    return "\n".join(lines)
