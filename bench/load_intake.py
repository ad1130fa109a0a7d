"""The intake side of a load run: servers started and stopped as processes, calls
posted at a steady rate, and the baseline's throughput."""

import asyncio
import contextlib
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil

from bench.http_client import LeanClient
from bench.population import place
from service.metrics import samples

# `corespond`, run so that its code is found from the working directory first: the
# console script would import the editable install's checkout wherever it ran, so a
# baseline run from another checkout would have served this one's code.
CORESPOND = [sys.executable, "-m", "service"]
CATEGORIES = ("mental_health_crisis", "suicidal_ideation", "welfare_check", "disturbance")


@dataclass
class Process:
    popen: subprocess.Popen[bytes]
    url: str
    metrics_url: str | None = None  # its Prometheus listener, if it has one

    def peak_rss_mb(self) -> float:
        """VmHWM: the most resident memory the process has held."""
        # Read by hand: psutil's memory_info is the resident set now, not the most held.
        for line in Path(f"/proc/{self.popen.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def metrics(self) -> dict[str, float]:
        """The server's Prometheus samples (`service.metrics.samples`), from its metrics
        listener; empty if it serves none."""
        if self.metrics_url is None:
            return {}
        try:
            return samples(httpx.get(self.metrics_url, timeout=10).text)
        except httpx.HTTPError:
            return {}

    def cpu_seconds(self) -> tuple[float, float]:
        """CPU time used so far (user + system): the whole process, and its main thread
        (the event loop, where uvicorn serves and, on SQLite, every write runs)."""
        process = psutil.Process(self.popen.pid)
        main = next(t for t in process.threads() if t.id == process.pid)
        return _cpu_seconds(process), main.user_time + main.system_time

    def workers_cpu_seconds(self) -> float:
        """CPU time used so far by the server's live child processes (webhook delivery,
        the EIDO builder), which share its process group."""
        return groups_cpu_seconds([self.popen.pid]) - self.cpu_seconds()[0]

    def stop(self) -> None:
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait()


def _cpu_seconds(process: psutil.Process) -> float:
    """A process's CPU time so far (user + system; not its ended children's)."""
    used = process.cpu_times()
    return used.user + used.system


def groups_cpu_seconds(groups: Sequence[int]) -> float:
    """CPU time used so far by the live processes of these process groups, together."""
    return sum(_groups_cpu_by_pid(groups).values())


def _groups_cpu_by_pid(groups: Sequence[int]) -> dict[int, float]:
    """The CPU time used so far by each live process of these process groups."""
    used: dict[int, float] = {}
    for process in psutil.process_iter():
        try:
            if os.getpgid(process.pid) in groups:
                used[process.pid] = _cpu_seconds(process)
        except (psutil.NoSuchProcess, ProcessLookupError):  # ended meanwhile
            continue
    return used


def _used_since(before: dict[int, float], now: dict[int, float]) -> float:
    """CPU seconds the processes of `now` used since `before` (all of it, for one that
    started since); one that ended meanwhile takes its time with it, and counts none."""
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in now.items())


def pids_cpu_seconds(pids: Sequence[int]) -> float:
    """CPU time used so far by these processes (those still running), together."""
    total = 0.0
    for pid in pids:
        with contextlib.suppress(psutil.NoSuchProcess):  # ended meanwhile
            total += _cpu_seconds(psutil.Process(pid))
    return total


def settle(
    groups: Sequence[int], *, below: float = 0.1, window_s: float = 1.0, within_s: float = 120.0
) -> tuple[float, float]:
    """Wait until the processes of `groups` together use less than `below` of a core
    over `window_s` (or `within_s` has passed): a process started just before a phase
    (the CAD side's, the server's workers for it) imports and connects first, seconds
    of CPU that belong to no phase. The seconds waited and the CPU seconds used."""
    started, at_start = time.monotonic(), _groups_cpu_by_pid(groups)
    last, used = at_start, 0.0
    while time.monotonic() - started < within_s:
        time.sleep(window_s)
        now = _groups_cpu_by_pid(groups)
        window = _used_since(last, now)
        used += window
        if window < below * window_s:
            break
        last = now
    return time.monotonic() - started, used


def start(command: Sequence[str], env: dict[str, str], port: int, log: Path) -> Process:
    """Start a server in its own process group and wait until it answers (its metrics
    on `CORESPOND_METRICS_PORT` in `env`, if set and not 0)."""
    popen = subprocess.Popen(
        list(command),
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    metrics_port = int(env.get("CORESPOND_METRICS_PORT", "0"))
    metrics_url = f"http://127.0.0.1:{metrics_port}/metrics" if metrics_port else None
    process = Process(popen, url, metrics_url)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/openapi.json", timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            pass
        if popen.poll() is not None:
            break
        time.sleep(0.1)
    process.stop()
    raise RuntimeError(f"{' '.join(command)} did not start:\n{log.read_text()[-2000:]}")


@dataclass
class Posted:
    sent: float
    answered: float
    status: int
    assignments: list[str] = field(default_factory=list)


def call_body(rng: random.Random, anchors: Sequence[tuple[float, float]], n: int) -> dict[str, Any]:
    lat, lon = place(rng, anchors)
    return {
        "external_id": f"LOAD-{n}",
        "location": {"lat": round(lat, 6), "lon": round(lon, 6), "address": f"{n} Load St"},
        "category": rng.choice(CATEGORIES),
        "risk": {"weapon": rng.random() < 0.2, "violence": False, "medical": rng.random() < 0.1},
        "priority": rng.randint(1, 4),
    }


async def post_steadily(
    url: str,
    token: str,
    *,
    rate: float,
    duration_s: float,
    anchors: Sequence[tuple[float, float]],
    first: int,
    rng: random.Random,
) -> list[Posted]:
    """Post `rate` calls a second for `duration_s` (open loop: on schedule, not on answer)."""
    count = int(rate * duration_s)
    client = LeanClient(url, connections=16, headers={"Authorization": f"Bearer {token}"})
    try:

        async def one(body: dict[str, Any]) -> Posted:
            sent = time.perf_counter()
            try:
                status, answer = await client.post_json("/v1/calls", body)
            except (OSError, EOFError, TimeoutError, ValueError):
                return Posted(sent, time.perf_counter(), 0)
            done = time.perf_counter()
            ids = [a["id"] for a in answer.get("assignments", [])] if status < 300 else []
            return Posted(sent, done, status, ids)

        bodies = [call_body(rng, anchors, first + n) for n in range(count)]
        start = time.perf_counter() + 0.05
        tasks = []
        for n, body in enumerate(bodies):
            delay = start + n / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(body)))
        await asyncio.wait(tasks, timeout=duration_s + 60)
        # A call still unanswered a minute after the last was sent counts as failed.
        answered = [t.result() if t.done() else Posted(0, 0, 0) for t in tasks]
        for task in tasks:
            task.cancel()
        return answered
    finally:
        await client.aclose()


async def max_throughput(
    url: str,
    path: str,
    body: dict[str, Any],
    *,
    seconds: float,
    workers: int = 4,
    token: str | None = None,
) -> float:
    """Requests a second that `workers` back-to-back clients get through (closed loop)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    client = LeanClient(url, connections=workers, headers=headers)
    done = 0
    try:
        stop_at = time.perf_counter() + seconds

        async def worker(w: int) -> None:
            nonlocal done
            n = 0
            while time.perf_counter() < stop_at:
                status, _ = await client.post_json(path, {**body, "external_id": f"T-{w}-{n}"})
                n += 1
                if status < 300:
                    done += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker(w) for w in range(workers)))
        return done / (time.perf_counter() - started)
    finally:
        await client.aclose()
