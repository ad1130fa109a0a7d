"""Where the service's background processes stand for the cores: behind the server.

The webhooks' delivery process and the STA-024 EIDO builder do work that waits well
(in order, retried, read a second at a time); an offer does not. On Linux they run in
the idle scheduling class (SCHED_IDLE): a server thread that wakes takes a core from
them at once, and a core that runs only them counts as free when the kernel places
it. Lowered by `nice` alone they kept a core for the rest of their turn while an offer
waited for it: in a busy hour, with three webhook endpoints and ten STA-024 subscribers,
POST → offer's p99 was 1.8 times that without them; in the idle class, 1.3 times
(bench/HISTORY.md, 2026-12-07).

The idle class is not starvation: where every core is wanted they still get a little
time (a weight of 3 to a thread's 1,024, some 0.3 % of a core) and catch up when the
load falls. They are also `nice`: alone, where there is no idle class.
"""

import contextlib
import os
from pathlib import Path


def yield_to_server(niceness: int) -> None:
    """Put this process behind the server: every thread it has (an import may have
    started some: OpenBLAS's, with numpy) and every thread started after, `niceness`
    lower, and in the idle class where the platform has one (both are a thread's own
    on Linux, and a new thread takes its starter's)."""
    tasks = Path("/proc/self/task")
    idle = getattr(os, "SCHED_IDLE", None)
    done: set[int] = set()
    while True:  # again, for a thread started meanwhile by one not yet lowered
        threads = {int(task.name) for task in tasks.iterdir()} if tasks.is_dir() else {0}
        if threads <= done:
            return
        for thread in threads - done:
            with contextlib.suppress(OSError):  # (refused: at equal priority; ended)
                os.setpriority(
                    os.PRIO_PROCESS, thread, os.getpriority(os.PRIO_PROCESS, thread) + niceness
                )
            if idle is not None:
                with contextlib.suppress(OSError):
                    os.sched_setscheduler(thread, idle, os.sched_param(0))
        done |= threads
