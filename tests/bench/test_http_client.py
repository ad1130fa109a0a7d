"""The load run's lean HTTP client keeps connections open between requests, and a
connection the server closed meanwhile is not used again (a call posted into it
would be counted as lost)."""

import asyncio
import os
import tempfile
from pathlib import Path

from bench.http_client import LeanClient
from bench.load import MINIMAL_CALL, bare_command, free_port
from bench.load_intake import start


def test_a_post_after_the_server_closed_an_idle_connection_still_gets_through() -> None:
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        server = start(
            bare_command(port, "--timeout-keep-alive", "1"),
            dict(os.environ),
            port,
            Path(tmp) / "bare.log",
        )
        try:

            async def twice() -> list[tuple[int, object]]:
                client = LeanClient(server.url, connections=1)
                try:
                    first = await client.post_json("/v1/calls", MINIMAL_CALL)
                    await asyncio.sleep(1.5)  # the server closes the idle connection
                    return [first, await client.post_json("/v1/calls", MINIMAL_CALL)]
                finally:
                    await client.aclose()

            answers = asyncio.run(twice())
        finally:
            server.stop()
    assert [status for status, _ in answers] == [201, 201]
    assert all(isinstance(a, dict) and a["category"] == "welfare_check" for _, a in answers)
