"""Plugins end to end, through the real ``tunegate`` command: the example plugin package
(plugins/tunegate-example-plugin) adds a backend (``type: echo``) and a scorer
(``type: max_words``) by entry point; a YAML config uses both by name, they are
validated like the built-ins, and a broken plugin is a clear exit-2 message."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from example_plugin import example_plugin_path, write_distribution

TUNEGATE = Path(sys.executable).parent / "tunegate"
SRC = Path(__file__).resolve().parents[2] / "src"

#: 30 long questions and 10 short ones.
TEXTS = [f"please tell me everything you know about item number {i} of the list" for i in range(30)]
TEXTS += [f"item {i}?" for i in range(10)]
SUFFIX = " -- that is all."
LIMIT = 8

CONFIG = f"""
dataset: {{path: cases.jsonl}}
task:
  type: generation
  scorers: [{{type: max_words, words: {LIMIT}}}]
models:
  terse: {{type: echo, words: 5}}
  chatty: {{type: echo, suffix: "{SUFFIX}"}}
compare:
  candidate: terse
  baselines: [chatty]
gate:
  criteria:
    - {{metric: max_words, vs: chatty, min_delta: 0.3}}
    - {{metric: max_words, min: 0.8}}
"""


def _project(folder: Path, config: str = CONFIG) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rows = [{"id": f"c{i}", "text": t, "label": "-"} for i, t in enumerate(TEXTS)]
    (folder / "cases.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8"
    )
    (folder / "tunegate.yaml").write_text(config, encoding="utf-8")
    return folder


def _cli(folder: Path, *args: str, extra_path: tuple[Path, ...] = ()) -> Any:
    paths = [SRC, *example_plugin_path(folder.parent), *extra_path]
    env = {**os.environ, "COLUMNS": "200"}
    env["PYTHONPATH"] = os.pathsep.join([*map(str, paths), env.get("PYTHONPATH", "")])
    return subprocess.run(
        [str(TUNEGATE), *args],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _words(text: str) -> int:
    return len(text.split())


def test_a_plugin_backend_and_scorer_run_by_name_from_yaml(tmp_path: Path) -> None:
    folder = _project(tmp_path / "project")
    proc = _cli(folder, "run", "tunegate.yaml", "--json", "out.json", "-q")
    assert proc.returncode == 0, proc.stdout + proc.stderr  # SHIP
    assert "Traceback" not in proc.stderr
    result = json.loads((folder / "out.json").read_text(encoding="utf-8"))
    assert result["gate"]["verdict"] == "SHIP"
    assert [c["status"] for c in result["gate"]["criteria"]] == ["PASS", "PASS"]
    (suite,) = result["suites"]
    # The echo backend answered: terse cuts each text to 5 words, chatty adds the suffix.
    terse_ok = [_words(" ".join(t.split()[:5])) <= LIMIT for t in TEXTS]
    chatty_ok = [_words(t + SUFFIX) <= LIMIT for t in TEXTS]
    assert sum(chatty_ok) == 10
    models = suite["models"]
    assert models["terse"]["metrics"]["max_words"]["value"] == sum(terse_ok) / len(TEXTS)
    assert models["chatty"]["metrics"]["max_words"]["value"] == sum(chatty_ok) / len(TEXTS)
    assert models["terse"]["errors"] == models["chatty"]["errors"] == 0
    (comparison,) = suite["comparisons"]
    assert comparison["metric"] == "max_words"
    assert comparison["delta"] == pytest.approx(1.0 - 10 / 40)


def test_a_plugins_config_is_validated_like_a_built_in(tmp_path: Path) -> None:
    bad = CONFIG.replace("words: 5}", "wrds: 5}").replace(f"words: {LIMIT}}}", "word: 3}")
    folder = _project(tmp_path / "project", bad.replace("type: echo, suffix", "type: ecko, suffix"))
    proc = _cli(folder, "validate", "tunegate.yaml")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    err = proc.stderr
    assert "tunegate.yaml: models.terse.wrds: unknown key (did you mean 'words'?)" in err
    assert (
        "tunegate.yaml: models.chatty.type: unknown model type 'ecko' (did you mean 'echo'?)" in err
    )
    assert "tunegate.yaml: task.scorers[0].word: unknown key (did you mean 'words'?)" in err
    assert "tunegate.yaml: task.scorers[0].words: required key is missing" in err
    assert "Traceback" not in err


def test_a_broken_plugin_is_an_exit_2_message_naming_its_entry_point(tmp_path: Path) -> None:
    broken = write_distribution(
        tmp_path / "broken",
        "tg-broken-plugin",
        {"tunegate.scorers": {"shiny": "tg_broken_plugin:ShinyScorer"}},
        {"tg_broken_plugin.py": "raise RuntimeError('the plugin is broken')\n"},
    )
    folder = _project(
        tmp_path / "project", CONFIG.replace(f"type: max_words, words: {LIMIT}", "type: shiny")
    )
    proc = _cli(folder, "validate", "tunegate.yaml", extra_path=(broken,))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert (
        "entry point tunegate.scorers: shiny = tg_broken_plugin:ShinyScorer "
        "(package tg-broken-plugin 1.0): cannot be loaded: RuntimeError: the plugin is broken"
    ) in proc.stderr
    assert "Traceback" not in proc.stderr
    # Installed but not asked for, the broken plugin is never imported.
    both = CONFIG.replace("scorers: [", "scorers: [{type: exact_match}, ")
    fine = _project(tmp_path / "fine", both)
    ok = _cli(fine, "validate", "tunegate.yaml", extra_path=(broken,))
    assert ok.returncode == 0, ok.stdout + ok.stderr
