"""Report files are written atomically: a failed or killed write never leaves half a file."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tunegate.report import files
from tunegate.report.files import write_atomic


def test_writes_creates_folders_and_replaces(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "report.html"
    assert write_atomic(target, "first") == target
    write_atomic(target, "second ✓")
    assert target.read_text(encoding="utf-8") == "second ✓"
    assert sorted(p.name for p in target.parent.iterdir()) == ["report.html"]
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask


def test_a_failed_write_keeps_the_old_file_and_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "report.json"
    target.write_text("the old report", encoding="utf-8")

    def broken_fsync(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(files.os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="No space left"):
        write_atomic(target, "x" * 100_000)
    assert target.read_text(encoding="utf-8") == "the old report"
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]


def test_a_killed_writer_leaves_the_old_file_whole(tmp_path: Path) -> None:
    """SIGKILL while the new report is half written: the old report is intact."""
    target = tmp_path / "report.md"
    target.write_text("the old report\n", encoding="utf-8")
    child = textwrap.dedent(
        f"""
        import os, time
        from tunegate.report import files

        def slow_fsync(fd):  # the data is in the temporary file; hang before the rename
            open({str(tmp_path / "ready")!r}, "w").close()
            time.sleep(60)

        files.os.fsync = slow_fsync
        files.write_atomic({str(target)!r}, "the new report\\n" * 200_000)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", child])
    try:
        deadline = time.monotonic() + 60
        while not (tmp_path / "ready").exists():
            assert proc.poll() is None, "the writer exited early"
            assert time.monotonic() < deadline, "the writer never started writing"
            time.sleep(0.05)
        temps = [p for p in tmp_path.iterdir() if p.name.startswith(".report.md.")]
        assert len(temps) == 1
        assert temps[0].stat().st_size > 0
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert target.read_text(encoding="utf-8") == "the old report\n"
    # What remains is the hidden temporary file, never a partial report.md.
    assert {p.name for p in tmp_path.iterdir()} - {"ready", temps[0].name} == {"report.md"}
