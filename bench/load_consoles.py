"""The consoles of a load run, in a process of their own: responders that accept
their offers, work them and clear, and dispatchers that watch everything.

Arrival times are `time.perf_counter()` (CLOCK_MONOTONIC on Linux: the same clock
in every process), so the intake process can subtract its send times from them.
"""

import asyncio
import json
import multiprocessing
import multiprocessing.process
import multiprocessing.synchronize
import random
import time
from dataclasses import dataclass, field
from multiprocessing.queues import Queue
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection


@dataclass
class Tally:
    offers_seen: dict[str, float] = field(default_factory=dict)  # assignment id -> arrival
    events: int = 0
    actions: int = 0
    errors: list[str] = field(default_factory=list)
    closed: int = 0
    connected: int = 0


@dataclass(frozen=True, slots=True)
class Behaviour:
    accept_after_s: tuple[float, float] = (0.2, 1.0)
    work_for_s: tuple[float, float] = (2.0, 4.0)


async def _signed_in(
    ws_url: str, token: str, handshakes: asyncio.Semaphore, tally: Tally
) -> ClientConnection:
    async with handshakes:  # a thousand handshakes at once would time out on two cores
        ws = await websockets.connect(ws_url, max_queue=None, open_timeout=60)
        await ws.send(json.dumps({"type": "hello", "token": token}))
        welcome = json.loads(await ws.recv())
        if welcome.get("type") != "welcome":
            raise RuntimeError(f"no welcome: {welcome}")
        tally.connected += 1
        return ws


async def _responder(
    ws: ClientConnection, token: str, tally: Tally, behaviour: Behaviour, stop: asyncio.Event
) -> None:
    rng = random.Random(token)
    tasks: set[asyncio.Task[None]] = set()
    reader = asyncio.create_task(_read(ws, tally, behaviour, rng, tasks))
    await stop.wait()
    reader.cancel()
    for task in tasks:
        task.cancel()
    await ws.close()


async def _read(
    ws: ClientConnection, tally: Tally, behaviour: Behaviour, rng: random.Random, tasks: set[Any]
) -> None:
    async for raw in ws:
        arrived = time.perf_counter()
        frame = json.loads(raw)
        if frame.get("type") == "error":
            tally.errors.append(f"{frame.get('error')}: {frame.get('detail')}")
            continue
        if frame.get("type") != "event":
            continue
        tally.events += 1
        await ws.send(json.dumps({"type": "ack", "seq": frame["seq"]}))
        if frame["event"] == "assignment.offered":
            assignment = frame["data"]["assignment"]["id"]
            tally.offers_seen.setdefault(assignment, arrived)
            task = asyncio.create_task(_work(ws, assignment, tally, behaviour, rng))
            tasks.add(task)
            task.add_done_callback(tasks.discard)


async def _work(
    ws: ClientConnection, assignment: str, tally: Tally, behaviour: Behaviour, rng: random.Random
) -> None:
    """Accept, then go en route, on scene and clear: the responder is free again."""
    await asyncio.sleep(rng.uniform(*behaviour.accept_after_s))
    await ws.send(json.dumps({"type": "accept", "assignment_id": assignment}))
    step = rng.uniform(*behaviour.work_for_s) / 3
    for status in ("en_route", "on_scene", "cleared"):
        await asyncio.sleep(step)
        body = {"type": "status", "assignment_id": assignment, "status": status}
        if status == "cleared":
            body["disposition"] = "referred"
        await ws.send(json.dumps(body))
    tally.actions += 4


async def _dispatcher(ws: ClientConnection, tally: Tally, stop: asyncio.Event) -> None:
    async def read() -> None:
        async for raw in ws:
            if json.loads(raw).get("type") == "event":
                tally.events += 1

    reader = asyncio.create_task(read())
    await stop.wait()
    reader.cancel()
    await ws.close()


async def _main(
    ws_url: str,
    responder_tokens: list[str],
    dispatcher_tokens: list[str],
    ready: multiprocessing.synchronize.Event,
    finish: multiprocessing.synchronize.Event,
    asked: multiprocessing.synchronize.Event,
    results: "Queue[dict[str, Any]]",
) -> Tally:
    tally, stop, behaviour = Tally(), asyncio.Event(), Behaviour()
    # At most as many handshakes at once as one address may keep waiting for their hello
    # (CORESPOND_WS_MAX_WAITING_PER_ADDRESS, 50).
    handshakes = asyncio.Semaphore(50)

    async def guarded(coro: Any) -> None:
        try:
            await coro
        except Exception as exc:  # a console that fails is counted, not fatal
            tally.errors.append(repr(exc))
        finally:
            tally.closed += 1

    async def responder(token: str) -> None:
        ws = await _signed_in(ws_url, token, handshakes, tally)
        await _responder(ws, token, tally, behaviour, stop)

    async def dispatcher(token: str) -> None:
        ws = await _signed_in(ws_url, token, handshakes, tally)
        await _dispatcher(ws, tally, stop)

    consoles = [asyncio.create_task(guarded(responder(t))) for t in responder_tokens]
    consoles += [asyncio.create_task(guarded(dispatcher(t))) for t in dispatcher_tokens]
    while tally.connected + tally.closed < len(consoles):
        await asyncio.sleep(0.1)
    ready.set()
    while not finish.is_set():
        if asked.is_set():
            asked.clear()
            results.put({"offers_seen": dict(tally.offers_seen)})
        await asyncio.sleep(0.1)
    stop.set()
    await asyncio.wait(consoles, timeout=10)
    return tally


def run_consoles(
    ws_url: str,
    responder_tokens: list[str],
    dispatcher_tokens: list[str],
    ready: multiprocessing.synchronize.Event,
    finish: multiprocessing.synchronize.Event,
    asked: multiprocessing.synchronize.Event,
    results: "Queue[dict[str, Any]]",
) -> None:
    """The process's entry point: run until `finish`, then send the tally back. While
    it runs, each time `asked` is set it sends the offers seen so far (the load run
    judges a phase as soon as it ends, to choose the next)."""
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    tally = asyncio.run(
        _main(ws_url, responder_tokens, dispatcher_tokens, ready, finish, asked, results)
    )
    results.put(
        {
            "offers_seen": tally.offers_seen,
            "events": tally.events,
            "errors": tally.errors[:20],
            "error_count": len(tally.errors),
            "connected": tally.connected,
        }
    )


@dataclass
class ConsoleHolder:
    """`run_consoles` in a process of its own (spawned: a fresh interpreter, no
    inherited loop), and the events and queue that talk to it."""

    process: multiprocessing.process.BaseProcess
    ready: multiprocessing.synchronize.Event
    finish: multiprocessing.synchronize.Event
    asked: multiprocessing.synchronize.Event
    results: "Queue[dict[str, Any]]"

    @classmethod
    def start(
        cls, ws_url: str, responder_tokens: list[str], dispatcher_tokens: list[str]
    ) -> "ConsoleHolder":
        spawn = multiprocessing.get_context("spawn")
        ready, finish, asked = spawn.Event(), spawn.Event(), spawn.Event()
        results: Queue[dict[str, Any]] = spawn.Queue()
        process = spawn.Process(
            target=run_consoles,
            args=(ws_url, responder_tokens, dispatcher_tokens, ready, finish, asked, results),
            daemon=True,
        )
        process.start()
        return cls(process, ready, finish, asked, results)

    def tally(self) -> dict[str, Any]:
        """Stop the consoles and take their tally."""
        self.finish.set()
        return self.results.get(timeout=120)

    def stop(self) -> None:
        self.finish.set()
        self.process.join(timeout=15)
        if self.process.is_alive():
            self.process.kill()
