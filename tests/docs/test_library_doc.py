"""docs/library.md runs as written: its files are written to a temporary folder, its
``run.py`` (``load_config`` + ``run``, then reading the typed result) runs there in a fresh
interpreter, and prints exactly the output the page shows."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "library.md"
BLOCK = re.compile(r'^```\w+ title="([^"]+)"\n(.*?)^```', re.MULTILINE | re.DOTALL)


def _blocks() -> dict[str, str]:
    return dict(BLOCK.findall(DOC.read_text(encoding="utf-8")))


def test_the_page_holds_a_project_a_script_and_its_output() -> None:
    blocks = _blocks()
    assert set(blocks) == {
        "proj/tunegate.yaml",
        "proj/rules.py",
        "proj/cases.jsonl",
        "run.py",
        "output",
    }
    assert "load_config(path)" in blocks["run.py"]
    assert "run(config, RunOptions(), config_dir=path.parent)" in blocks["run.py"]


def test_the_documented_snippet_runs_and_prints_what_the_page_says(tmp_path: Path) -> None:
    blocks = _blocks()
    expected = blocks.pop("output")
    for name, body in blocks.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(body, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "run.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == expected
    # The answers went to the config's store, and the JSON report reads back.
    assert (tmp_path / "proj" / ".tunegate" / "tunegate.db").is_file()
    from tunegate.results import read_result

    report = read_result(json.loads((tmp_path / "result.json").read_text(encoding="utf-8")))
    assert report.gate is not None
    assert report.gate.verdict == "SHIP"
    assert report.models["tuned"].metrics["macro_f1"].value == 1.0


def test_a_config_error_is_a_message_not_a_traceback(tmp_path: Path) -> None:
    blocks = _blocks()
    for name, body in blocks.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(body, encoding="utf-8")
    yaml_path = tmp_path / "proj" / "tunegate.yaml"
    yaml_path.write_text(yaml_path.read_text().replace("min_delta: 0.0", "min_dleta: 0.0"))
    done = subprocess.run(
        [sys.executable, "run.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith("error: proj/tunegate.yaml")
    assert "min_dleta" in done.stderr
