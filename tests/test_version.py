"""tunegate.version: the version lives in a leaf module, so the stages that record it (the
run's facts) do not import the package root, whose ``__init__`` names the Python API."""

from __future__ import annotations

import tomllib
from pathlib import Path

import grimp

import tunegate
from tunegate.config import parse_config
from tunegate.pipeline.facts import run_facts
from tunegate.version import __version__

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"


def test_the_version_is_the_projects_and_the_packages() -> None:
    project = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]
    assert __version__ == project["version"]
    assert tunegate.__version__ == __version__
    assert "__version__" in tunegate.__all__


def test_run_facts_record_the_version() -> None:
    config = parse_config(
        {
            "dataset": {"path": "unused.jsonl"},
            "task": {"labels": ["a", "b"]},
            "models": {"m": {"type": "python", "function": "toy.models:predict"}},
        }
    )
    facts = run_facts(config, "2026-01-01T00:00:00+00:00", "2026-01-01T00:00:01+00:00", 1.0)
    assert facts["tunegate_version"] == __version__


def test_no_stage_imports_the_package_root() -> None:
    """``from tunegate import __version__`` in a stage is an import of ``tunegate``, whose
    ``__init__`` names the API: a chain pipeline -> tunegate -> api that breaks the layers."""
    graph = grimp.build_graph("tunegate", include_external_packages=False)
    importers = sorted(graph.find_modules_that_directly_import("tunegate"))
    allowed = {"tunegate.cli", "tunegate.api"}  # the layers above the API may
    assert [m for m in importers if not any(m.startswith(f"{a}.") for a in allowed)] == []
