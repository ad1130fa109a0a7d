"""A busy loop beside a load run: `python -m bench.busy SHARE` spins SHARE of a core
(0.25: 2.5 ms of every 10) in the idle scheduling class, as the server's background
workers run, until it is stopped.

It is the load bench's calibration (`bench.load --busy-beside SHARE`): on a 2-vCPU
machine a busy other core slows the server's, so the CAD listeners' cost to the offers
is set against what the same share of a core costs when it does nothing at all.
"""

import sys
import time

from service.priority import yield_to_server

PERIOD_S = 0.010


def spin(share: float) -> None:
    yield_to_server(19)
    busy = share * PERIOD_S
    while True:
        started = time.perf_counter()
        while time.perf_counter() - started < busy:
            pass
        time.sleep(max(0.0, PERIOD_S - (time.perf_counter() - started)))


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    share = float(args[0]) if args else -1.0
    if not 0.0 < share <= 1.0:
        raise SystemExit("usage: python -m bench.busy SHARE (of a core, above 0 and up to 1)")
    spin(share)
    return 0


if __name__ == "__main__":
    sys.exit(main())
