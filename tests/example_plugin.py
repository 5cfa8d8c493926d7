"""Installed packages with entry points, for the plugin tests.

:func:`write_distribution` makes a folder that, on ``sys.path`` (or ``PYTHONPATH``),
holds an installed distribution as ``importlib.metadata`` sees one: modules plus a
``.dist-info`` folder with ``METADATA`` and ``entry_points.txt``.

:func:`example_plugin_path` gives the folders a subprocess needs on ``PYTHONPATH`` to
use ``plugins/tunegate-example-plugin``: none when it is installed (``scripts/setup.sh``
installs it with the dev extras), else its sources plus a distribution whose entry
points are read from the plugin's own ``pyproject.toml``, so the test exercises the
entry points the package declares either way.
"""

from __future__ import annotations

import importlib.metadata
import textwrap
import tomllib
from pathlib import Path

PLUGIN = Path(__file__).resolve().parents[1] / "plugins" / "tunegate-example-plugin"


def write_distribution(
    root: Path,
    name: str,
    entry_points: dict[str, dict[str, str]],
    modules: dict[str, str] | None = None,
    version: str = "1.0",
) -> Path:
    """Write distribution ``name`` (its ``modules``, by relative file name, and its entry
    points by group) under ``root``; return ``root`` (the folder to put on the path)."""
    for file, source in (modules or {}).items():
        path = root / file
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source), encoding="utf-8")
    info = root / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n", encoding="utf-8"
    )
    lines: list[str] = []
    for group, points in entry_points.items():
        lines.append(f"[{group}]")
        lines += [f"{key} = {value}" for key, value in points.items()]
        lines.append("")
    (info / "entry_points.txt").write_text("\n".join(lines), encoding="utf-8")
    return root


def declared_entry_points() -> dict[str, dict[str, str]]:
    """The entry points the example plugin's ``pyproject.toml`` declares."""
    project = tomllib.loads((PLUGIN / "pyproject.toml").read_text(encoding="utf-8"))
    points: dict[str, dict[str, str]] = project["project"]["entry-points"]
    return points


def example_plugin_path(tmp: Path) -> list[Path]:
    """The folders to add to ``PYTHONPATH`` for the example plugin (none if installed)."""
    try:
        importlib.metadata.distribution("tunegate-example-plugin")
    except importlib.metadata.PackageNotFoundError:
        pass
    else:
        return []
    dist = write_distribution(tmp / "site", "tunegate-example-plugin", declared_entry_points())
    return [PLUGIN / "src", dist]
