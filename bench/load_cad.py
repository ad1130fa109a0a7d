"""The CAD side of a load run (issue 22): webhook endpoints registered for every event,
with a receiver that answers each delivery, and STA-024 subscribers to every incident
that answer each notification; each in a process of its own, off the server's cores'
books as far as two cores allow.

    python -m bench.load_cad receive <endpoints>            # prints its port, then counts
    python -m bench.load_cad subscribe <ws url> <token> <n> # prints how many subscribed,
                                                            # then counts
"""

import asyncio
import contextlib
import json
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import cast

import httptools
import httpx
import uvloop
from websockets.asyncio.client import connect

from service.priority import yield_to_server


@dataclass
class CadSide:
    """What the CAD side saw, said at the end of the run."""

    webhooks: int
    subscribers: int
    said: list[str] = field(default_factory=list)
    pids: list[int] = field(default_factory=list)  # its processes (receiver, subscribers)

    def note(self) -> str:
        if not (self.webhooks or self.subscribers):
            return ""
        return (
            f"CAD side: {self.webhooks} webhook endpoints (every event), "
            f"{self.subscribers} STA-024 subscribers (every incident): " + "; ".join(self.said)
        )


@contextlib.contextmanager
def cad_side(
    *, url: str, admin_token: str, cad_token: str, webhooks: int, subscribers: int
) -> Iterator[CadSide]:
    """Register `webhooks` endpoints on the server at `url` (its receiver on this host)
    and open `subscribers` STA-024 subscriptions, for the run's duration."""
    side = CadSide(webhooks, subscribers)
    processes: list[tuple[str, subprocess.Popen[str]]] = []
    try:
        if webhooks:
            receiver = subprocess.Popen(
                [sys.executable, "-m", "bench.load_cad", "receive", str(webhooks)],
                stdout=subprocess.PIPE,
                text=True,
            )
            processes.append(("webhooks", receiver))
            side.pids.append(receiver.pid)
            assert receiver.stdout is not None
            port = int(receiver.stdout.readline())
            admin = {"Authorization": f"Bearer {admin_token}"}
            for n in range(webhooks):
                made = httpx.post(
                    f"{url}/v1/webhooks",
                    json={"url": f"http://127.0.0.1:{port}/hook/{n}", "events": ["*"]},
                    headers=admin,
                    timeout=10,
                )
                made.raise_for_status()
        if subscribers:
            ws = url.replace("http://", "ws://") + "/v1/sta024"
            subscribing = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "bench.load_cad",
                    "subscribe",
                    ws,
                    cad_token,
                    str(subscribers),
                ],
                stdout=subprocess.PIPE,
                text=True,
            )
            processes.append(("sta024", subscribing))
            side.pids.append(subscribing.pid)
            assert subscribing.stdout is not None
            taken = subscribing.stdout.readline().strip()
            if taken != str(subscribers):
                raise RuntimeError(f"{taken or 0} of {subscribers} STA-024 subscriptions taken")
        yield side
    finally:
        for _, process in processes:
            process.send_signal(signal.SIGTERM)
        for _, process in processes:
            try:
                out, _ = process.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                out, _ = process.communicate()
            side.said += [line for line in out.splitlines() if line and not line.isdigit()]


def receive(endpoints: int) -> None:
    """Answer 200 to every delivery; on SIGTERM print how many came, and how many
    arrived out of seq order at an endpoint.

    A CAD's receiver runs on the CAD's machines; this one shares the server's two cores,
    so it costs what it must: an asyncio protocol on uvloop with httptools' parser (what
    uvicorn parses with), reading only the path and the seq: a third to a half of the
    CPU http.server's threads took a delivery (bench/HISTORY.md, 2026-12-07).
    """
    counts = [0] * endpoints
    last = [0] * endpoints
    disorder = [0]

    class Hook(asyncio.Protocol):
        # Keep-alive, as receivers in service are (one connection an endpoint).
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport = cast(asyncio.Transport, transport)
            self.parser = httptools.HttpRequestParser(self)
            self.url = b""
            self.body: list[bytes] = []

        def data_received(self, data: bytes) -> None:
            try:
                self.parser.feed_data(data)
            except httptools.HttpParserError:
                self.transport.close()

        def on_message_begin(self) -> None:
            self.url, self.body = b"", []

        def on_url(self, url: bytes) -> None:
            self.url += url

        def on_body(self, body: bytes) -> None:
            self.body.append(body)

        def on_message_complete(self) -> None:
            n = int(self.url.rsplit(b"/", 1)[-1])
            body = b"".join(self.body)
            at = body.find(b'"seq":') + 6  # the envelope: {"type":"event","seq":N,...}
            end = body.find(b",", at)
            seq = int(body[at:end]) if at > 5 and end > 0 else json.loads(body)["seq"]
            counts[n] += 1
            if seq <= last[n]:
                disorder[0] += 1
            last[n] = max(last[n], seq)
            self.transport.write(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")

    async def serve() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(Hook, "127.0.0.1", 0)
        print(server.sockets[0].getsockname()[1], flush=True)
        stop = asyncio.Event()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        await stop.wait()
        server.close()

    uvloop.run(serve())
    print(
        f"webhook deliveries {sum(counts)} ({min(counts)}-{max(counts)} an endpoint, "
        f"{disorder[0]} out of order)",
        flush=True,
    )


def subscribe(url: str, token: str, count: int) -> None:
    """`count` subscribers to every incident, answering every notification."""
    notes = [0] * count
    eidos = [0] * count
    sizes = [0] * count
    fates: list[str] = []  # what ended a subscriber before the run did, or refused it
    said: dict[int, bool] = {}  # whether each one's subscription was taken

    def answered(i: int, taken: bool) -> None:
        said[i] = taken
        if len(said) == count:  # all answered: how many were taken (the run may start)
            print(sum(said.values()), flush=True)

    async def subscriber(i: int) -> None:
        try:
            await follow(i)
            fates.append("the server closed the socket")
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # said in the report
            fates.append(f"{type(exc).__name__}: {str(exc)[:80]}")
            if i not in said:
                answered(i, False)

    async def follow(i: int) -> None:
        headers = {"Authorization": f"Bearer {token}"}
        async with connect(url, additional_headers=headers, max_size=None) as socket:
            ask: dict[str, object] = {"requestId": str(uuid.uuid4()), "requestType": "EIDO"}
            ask |= {"requestSubType": "new", "expires": 86400}
            await socket.send(json.dumps({"subscribe": ask}))
            response = json.loads(await socket.recv())
            if response.get("subscribeResponse", {}).get("statusCode") != 200:
                raise RuntimeError(f"subscribe refused: {str(response)[:100]}")
            answered(i, True)
            async for frame in socket:
                # A CAD elsewhere parses what it gets; this one shares the server's two
                # cores, so it only finds the transaction to answer.
                if isinstance(frame, str) and frame.startswith('{"event"'):
                    at = frame.index('"transactionId":"') + 17
                    transaction = frame[at : frame.index('"', at)]
                    notes[i] += 1
                    sizes[i] += len(frame)
                    eidos[i] += frame.count('"eidoVersion"')
                    answer: dict[str, object] = {"transactionId": transaction}
                    answer |= {"statusCode": 200, "statusText": "OK"}
                    await socket.send(json.dumps({"eventResponse": answer}))
                elif isinstance(frame, str) and '"statusCode":200' not in frame.replace(" ", ""):
                    fates.append(frame[:100])  # a refusal, or a terminate

    async def run() -> None:
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        tasks = [asyncio.create_task(subscriber(i)) for i in range(count)]
        await stop.wait()
        for task in tasks:
            task.cancel()
        print(
            f"STA-024 notifications {sum(notes)} ({min(notes)}-{max(notes)} a subscriber), "
            f"EIDOs {sum(eidos)} "
            f"({min(eidos)}-{max(eidos)} a subscriber), "
            f"{sum(sizes) / max(1, sum(eidos)) / 1000:.1f} kB an EIDO as sent"
            + "".join(f"; {fate}" for fate in sorted(set(fates))),
            flush=True,
        )

    asyncio.run(run())


if __name__ == "__main__":
    # The CAD side stands for the CADs' machines, which are not the server's: it takes
    # only the CPU the server and the consoles leave (Linux's idle class).
    yield_to_server(0)
    if sys.argv[1] == "receive":
        receive(int(sys.argv[2]))
    else:
        subscribe(sys.argv[2], sys.argv[3], int(sys.argv[4]))
