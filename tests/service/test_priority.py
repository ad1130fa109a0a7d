"""A background process put behind the server is behind it in every thread: those it
had already (an import may start some) and those it starts after; and it loads nothing
heavy before it gets there."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import classes_of_threads

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(
    not Path("/proc/self/task").exists() or not hasattr(os, "SCHED_IDLE"),
    reason="Linux's threads and idle class",
)


PROCESS = """
import os, threading, time
from service.priority import yield_to_server

def wait():
    time.sleep(60)

threading.Thread(target=wait, daemon=True).start()  # before
yield_to_server(7)
threading.Thread(target=wait, daemon=True).start()  # after
print(threading.get_native_id(), flush=True)
time.sleep(60)
"""


def test_every_thread_before_and_after_is_in_the_idle_class_and_nicer() -> None:
    process = subprocess.Popen(
        [sys.executable, "-c", PROCESS], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        main = int(process.stdout.readline())
        classes = classes_of_threads(process.pid)
        assert len(classes) == 3 and main in classes
        assert set(classes.values()) == {os.SCHED_IDLE}
        nice = {os.getpriority(os.PRIO_PROCESS, thread) for thread in classes}
        assert nice == {os.getpriority(os.PRIO_PROCESS, os.getpid()) + 7}
    finally:
        process.kill()
        process.wait()


@pytest.mark.parametrize("entry", ["service.webhooks.spawned", "service.sta024.worker"])
def test_a_background_process_loads_nothing_heavy_before_it_is_behind_the_server(
    entry: str,
) -> None:
    """Spawned, the delivery process and the EIDO builder unpickle their target (and so
    import its module) and their arguments at the server's priority: those modules may
    load only the standard library and `service.priority`, and the arguments must be
    plain (the delivery process's `Settings` come as bytes)."""
    probe = (
        f"import json, sys, multiprocessing.connection, {entry}; "
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('service', 'models', 'dispatch', 'sqlalchemy', 'sqlmodel', 'pydantic', "
        "'pydantic_settings', 'fastapi', 'structlog', 'httpx', 'numpy'))))"
    )
    ran = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert ran.returncode == 0, ran.stderr
    package = entry.rsplit(".", 1)[0]
    assert json.loads(ran.stdout) == sorted({"service", "service.priority", package, entry})
