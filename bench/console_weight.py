"""The console page's weight and load time, with the map: `python -m bench.console_weight`.

Issue 23's budget: the console page loads in under 1 s on this machine and transfers
under 500 kB (compressed) with the map library.

A real `corespond serve` on a fresh SQLite file with one agency: `--responders` placed
around Norristown and a few calls. Debian's chromium (through Playwright) opens the
console `--runs` times, each in a fresh context (an empty cache, as a dispatcher's first
visit), signs in as a dispatcher and waits for the board: every responder's marker on
the map. Per run it reports the page's `load` event (the HTML, CSS, scripts and Leaflet),
the time from "Sign in" to the board drawn, and the bytes transferred (Resource Timing's
`transferSize`: headers and bodies as they crossed the wire, compressed if the server
compressed them), split into the page's own files and the API's answers. It also says
what the static files would weigh gzipped (level 6), to judge a compressing server.
"""

import argparse
import gzip
import os
import shutil
import socket
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Page, Request, sync_playwright

from bench.load_intake import CORESPOND, start
from models.agency import Agency
from models.vocabulary import Role
from service.agencies.operations import create_agency
from service.settings import Settings
from service.store.engine import make_engine
from service.store.migrate import upgrade
from service.store.transaction import Tx
from service.store.unit_of_work import UnitOfWork
from service.trust.auth import issue_token

NORRISTOWN = (40.1215, -75.3399)
KINDS = ("officer", "clinician", "peer", "medic")
LOAD_BUDGET_MS = 1000.0
WEIGHT_BUDGET_KB = 500.0
WORKER_SETTLE_MS = 2000  # the service worker installs after the page: let it finish

# What the page fetched, read in the page once the board is drawn.
_ENTRIES = """() => performance.getEntries()
  .filter((e) => e.entryType === "navigation" || e.entryType === "resource")
  .map((e) => ({name: e.name, transfer: e.transferSize, encoded: e.encodedBodySize,
                decoded: e.decodedBodySize}))"""


@dataclass(frozen=True, slots=True)
class Run:
    load_ms: float  # navigation start → the load event
    board_ms: float  # "Sign in" clicked → every responder's marker on the map
    static_kb: float  # the page's own files, as transferred
    api_kb: float  # the API's answers, as transferred
    decoded_static_kb: float  # the same files, uncompressed
    worker_kb: float  # what the service worker fetched to keep for offline use


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def seed(url: str, token: str, responders: int) -> None:
    """Responders spread over ~6 km around Norristown, on duty, and three calls."""
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}) as api:
        for n in range(responders):
            kind = KINDS[n % len(KINDS)]
            body: dict[str, Any] = {"kind": kind, "name": f"Unit {n}", "external_id": f"u-{n}"}
            if kind == "officer":
                body["cit_certified_until"] = "2099-01-01"
            rid = api.post("/v1/responders", json=body).raise_for_status().json()["id"]
            lat = NORRISTOWN[0] + ((n * 37) % 100 - 50) / 2000
            lon = NORRISTOWN[1] + ((n * 61) % 100 - 50) / 2000
            api.put(f"/v1/responders/{rid}/position", json={"lat": lat, "lon": lon})
            api.put(f"/v1/responders/{rid}/status", json={"status": "available"})
        for n in range(3):
            call = {
                "location": {
                    "lat": NORRISTOWN[0] + n / 200,
                    "lon": NORRISTOWN[1],
                    "address": f"{n} Main St",
                },
                "category": "welfare_check",
                "priority": 2 + n % 3,
            }
            api.post("/v1/calls", json=call).raise_for_status()


def one_run(page: Page, url: str, token: str, responders: int) -> Run:
    """One cold visit; the service worker's own copies of the files are counted apart
    (by the context's request events, which include the worker's), after it settles."""
    worker: list[int] = []

    def finished(request: Request) -> None:
        if request.service_worker is not None:
            sizes = request.sizes()
            worker.append(sizes["responseBodySize"] + sizes["responseHeadersSize"])

    page.context.on("requestfinished", finished)
    page.goto(f"{url}/console", wait_until="load")
    load_ms = page.evaluate("() => performance.getEntriesByType('navigation')[0].loadEventEnd")
    page.get_by_label("Token").fill(token)
    clicked = time.perf_counter()
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_function(
        f"() => document.querySelectorAll('.responder-marker').length >= {responders}",
        timeout=30_000,
    )
    board_ms = (time.perf_counter() - clicked) * 1000
    entries: list[dict[str, Any]] = page.evaluate(_ENTRIES)
    page.wait_for_timeout(WORKER_SETTLE_MS)
    api = [e for e in entries if "/v1/" in e["name"]]
    static = [e for e in entries if "/v1/" not in e["name"]]
    return Run(
        load_ms=float(load_ms),
        board_ms=board_ms,
        static_kb=sum(e["transfer"] for e in static) / 1000,
        api_kb=sum(e["transfer"] for e in api) / 1000,
        decoded_static_kb=sum(e["decoded"] for e in static) / 1000,
        worker_kb=sum(worker) / 1000,
    )


def gzipped_static_kb() -> tuple[float, float]:
    """The console's own files as index.html names them: raw and gzipped (level 6)."""
    web = Path(__file__).resolve().parents[1] / "service/consoles/web"
    html = (web / "index.html").read_text()
    names = ["index.html"]
    for part in html.split('"/console/static/')[1:]:
        names.append(part.split('"', 1)[0])
    raw = zipped = 0
    for name in names:
        data = (web / name).read_bytes()
        raw += len(data)
        zipped += len(gzip.compress(data, compresslevel=6))
    return raw / 1000, zipped / 1000


def spread(values: list[float]) -> str:
    return f"median {statistics.median(values):.0f} (min {min(values):.0f}, max {max(values):.0f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--responders", type=int, default=60)
    parser.add_argument("--quick", action="store_true", help="2 runs, 8 responders")
    args = parser.parse_args()
    runs, responders = (2, 8) if args.quick else (args.runs, args.responders)
    chromium = shutil.which("chromium")
    if chromium is None:
        raise SystemExit("chromium is missing (apt-get install chromium)")
    with tempfile.TemporaryDirectory(prefix="corespond-weight-") as tmp:
        database_url = f"sqlite:///{tmp}/weight.db"
        engine = make_engine(Settings(database_url=database_url))
        upgrade(engine)
        uow = UnitOfWork(engine, bus=None, serialize_writes=False)
        agency = uow.write_sync(create_agency, slug="weight")

        def token(tx: Tx) -> str:
            row = tx.session.get(Agency, agency.id)
            assert row is not None
            return issue_token(tx, agency=row, role=Role.dispatcher)

        dispatcher = uow.write_sync(token)
        engine.dispose()
        port = free_port()
        env = {
            **os.environ,
            "CORESPOND_DATABASE_URL": database_url,
            "CORESPOND_PORT": str(port),
            "CORESPOND_METRICS_PORT": str(free_port()),
            "CORESPOND_LOG_LEVEL": "warning",
            "CORESPOND_RATE_LIMIT": "100000/second",
        }
        server = start([*CORESPOND, "serve"], env, port, Path(tmp) / "server.log")
        try:
            seed(server.url, dispatcher, responders)
            results = []
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=chromium, headless=True, args=["--no-sandbox"]
                )
                for _ in range(runs):
                    context = browser.new_context(viewport={"width": 1366, "height": 900})
                    results.append(one_run(context.new_page(), server.url, dispatcher, responders))
                    context.close()
                browser.close()
        finally:
            server.stop()
    report(results, runs, responders)


def report(results: list[Run], runs: int, responders: int) -> None:
    raw_kb, zipped_kb = gzipped_static_kb()
    total = [r.static_kb + r.api_kb for r in results]
    static = spread([r.static_kb for r in results])
    worst_load = max(r.load_ms for r in results)
    heaviest = max(total)
    load_verdict = "met" if worst_load < LOAD_BUDGET_MS else "missed"
    weight_verdict = "met" if heaviest < WEIGHT_BUDGET_KB else "missed"
    print(f"console page, {runs} cold loads, {responders} responders, 3 calls, 1366x900")
    print(f"  load event (ms):          {spread([r.load_ms for r in results])}")
    print(f"  sign-in to board (ms):    {spread([r.board_ms for r in results])}")
    print(f"  transferred (kB):         {spread(total)}")
    print(f"    page's own files (kB):  {static}, uncompressed {results[0].decoded_static_kb:.0f}")
    print(f"    API answers (kB):       {spread([r.api_kb for r in results])}")
    print(f"  then the service worker's copies (kB): {spread([r.worker_kb for r in results])}")
    print(f"  static files gzipped (level 6): {zipped_kb:.0f} kB of {raw_kb:.0f} kB")
    print(
        f"verdict: load < {LOAD_BUDGET_MS:.0f} ms {load_verdict} (worst {worst_load:.0f} ms), "
        f"< {WEIGHT_BUDGET_KB:.0f} kB {weight_verdict} (heaviest {heaviest:.0f} kB)"
    )


if __name__ == "__main__":
    main()
