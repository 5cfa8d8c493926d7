"""Local paths as reports show them: relative to the config's folder, else ``~/...``
under the user's home, else as given (never the user's home spelled out)."""

from __future__ import annotations

import os
from pathlib import Path


def shown_path(value: str, config_dir: str | Path | None) -> str:
    """``value`` relative to ``config_dir`` when inside it (the folder as given, with
    ``~`` expanded, or resolved), else under the user's home as ``~/...``, else as it is.
    A relative ``value`` is returned unchanged; ``ckpt/../x`` is ``x``, never shown as
    inside the folder."""
    if not Path(value).is_absolute():
        return value
    path = Path(os.path.normpath(value))
    if config_dir is not None and str(config_dir):
        folder = Path(config_dir).expanduser()
        for base in (folder, folder.resolve()):
            if path.is_relative_to(base):
                return path.relative_to(base).as_posix() or "."
    home = Path.home()
    if home != Path("/") and path.is_relative_to(home):
        return "~/" + path.relative_to(home).as_posix()
    return value
