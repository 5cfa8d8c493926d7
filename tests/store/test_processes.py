"""tunegate.store.processes: is the process that started a run gone (dead or a zombie)?"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

from tunegate.store.processes import _is_zombie, _process_gone


def _meta(pid: object, host: str | None = None) -> dict[str, object]:
    return {"process": {"pid": pid, "host": host or socket.gethostname()}}


def test_a_live_process_this_one_and_other_hosts_are_not_gone() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert not _process_gone(_meta(child.pid))
        assert not _process_gone(_meta(child.pid, host="another-host"))
    finally:
        child.kill()
        child.wait()
    assert not _process_gone(_meta(os.getpid()))
    assert not _process_gone({})
    assert not _process_gone(_meta("123"))


def test_a_killed_child_is_gone_as_a_zombie_and_after_it_is_reaped() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    os.kill(child.pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while not _is_zombie(child.pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert _is_zombie(child.pid)  # killed, not reaped yet
    assert _process_gone(_meta(child.pid))
    child.wait()
    assert not _is_zombie(child.pid)
    assert _process_gone(_meta(child.pid))
