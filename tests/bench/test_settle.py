"""Before a phase, the load bench waits for its processes to be quiet (`settle`): a
process started just before it imports and connects first, seconds of CPU that belong
to no phase."""

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from bench.load_intake import settle

# A second and a half of CPU, however busy the machine (CPU time, not wall time), then
# asleep: a process starting up.
STARTS_UP_THEN_SLEEPS = "import time\nwhile time.process_time() < 1.5: pass\ntime.sleep(60)"
ALREADY_ASLEEP = "import time\nprint('started', flush=True)\ntime.sleep(60)"


@contextmanager
def own_group(code: str) -> Iterator[subprocess.Popen[bytes]]:
    """A Python process running `code` in a process group of its own (its id is the
    process's), killed with its group afterwards."""
    process = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, start_new_session=True
    )
    try:
        yield process
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def test_a_group_still_starting_up_is_waited_for_until_it_is_quiet() -> None:
    with own_group(STARTS_UP_THEN_SLEEPS) as process:
        waited, used = settle([process.pid], below=0.1, window_s=0.25, within_s=20)
    assert used >= 1.0  # the start-up's CPU, seen while waiting
    assert 1.2 <= waited < 20  # until the start-up ended, not until the time ran out


def test_a_quiet_group_settles_after_one_window() -> None:
    with own_group(ALREADY_ASLEEP) as process:
        assert process.stdout is not None
        assert process.stdout.readline() == b"started\n"
        waited, used = settle([process.pid], below=0.1, window_s=1.0, within_s=20)
    assert 1.0 <= waited < 2.0
    assert used < 0.1


# A child busy for three seconds of CPU, saying so after the first, then ended and
# reaped by its parent, which sleeps on in the same group.
BUSY_CHILD_THEN_GONE = (
    "import subprocess, sys, time\n"
    "subprocess.run([sys.executable, '-c', 'import time\\n"
    'while time.process_time() < 1.0: pass\\nprint("busy", flush=True)\\n'
    "while time.process_time() < 3.0: pass'])\n"
    "time.sleep(60)"
)


def test_a_process_that_ends_while_waited_for_counts_what_it_used_meanwhile() -> None:
    with own_group(BUSY_CHILD_THEN_GONE) as process:
        assert process.stdout is not None
        assert process.stdout.readline() == b"busy\n"
        waited, used = settle([process.pid], below=0.1, window_s=0.25, within_s=20)
    # Its last two seconds, not less than nothing: what it had used before the wait
    # began is not taken away when it ends.
    assert used >= 1.0
    assert waited < 20
