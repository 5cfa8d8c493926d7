"""Whether the process that started a run is gone (dead, a zombie, or on another
host's record), so a run left ``running`` can be marked interrupted."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any


def _process_gone(meta: dict[str, Any]) -> bool:
    """True when the run's process (on this host) no longer exists."""
    process = meta.get("process") if isinstance(meta, dict) else None
    if not isinstance(process, dict) or process.get("host") != socket.gethostname():
        return False
    pid = process.get("pid")
    if not isinstance(pid, int) or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # exists, but another user's
        return False
    return _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    """A killed child its parent has not reaped yet (Linux /proc; False elsewhere)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[:1] == ["Z"]
