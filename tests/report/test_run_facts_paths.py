"""Run facts without absolute local paths: a model's checkpoint, GGUF file and adapter
are kept relative to the config's folder (recorded with the facts), a path under the
user's home is written ``~/...`` and any other as given; the HTML run facts show the
shots file the same way and no Python list or dict text."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tunegate.config import parse_config
from tunegate.pipeline.facts import model_identity, run_facts, shown_path
from tunegate.report.html import render_html


def test_local_paths_are_shown_relative_to_the_config_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home" / "ada"
    project = home / "work" / "proj"
    monkeypatch.setenv("HOME", str(home))
    spec = {
        "type": "hf",
        "path": str(project / "ckpt" / "base"),
        "adapter": str(home / "adapters" / "lora-7"),
        "gguf_file": "/srv/models/m.gguf",
        "gguf": "org/repo:q4",
    }
    shown = model_identity(spec, project)
    assert shown["path"] == "ckpt/base"
    assert shown["adapter"] == "~/adapters/lora-7"  # outside the folder: home never expanded
    assert shown["gguf_file"] == "/srv/models/m.gguf"  # elsewhere: as given
    assert shown["gguf"] == "org/repo:q4"  # a packaged name, not a path
    assert shown_path("relative/x.bin", project) == "relative/x.bin"
    assert model_identity(spec)["path"] == "~/work/proj/ckpt/base"  # no folder known


def test_the_facts_record_the_config_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "proj").mkdir()
    config = parse_config(
        {
            "dataset": {"path": "x.jsonl"},
            "task": {"labels": ["a", "b"]},
            "models": {
                "ft": {"type": "hf", "path": "ckpt", "adapter": "../shared/lora"},
                "base": {"type": "python", "function": "m:f"},
            },
        },
        source=tmp_path / "proj" / "tunegate.yaml",
    )
    facts = run_facts(config, "t0", "t1", 1.0, tmp_path / "proj")
    assert facts["config_dir"] == "~/proj"
    assert facts["models"]["ft"]["path"] == "ckpt"
    assert facts["models"]["ft"]["adapter"] == "~/shared/lora"


def test_the_html_run_facts_show_no_absolute_path_and_no_python_text(tmp_path: Path) -> None:
    folder = tmp_path / "proj"
    result = {
        "run_id": "r1",
        "name": "facts",
        "candidate": "ft",
        "suites": [],
        "facts": {
            "config_dir": str(folder),
            "models": {
                "ft": {"type": "hf", "path": "ckpt", "params": {"stop": ["\\n", "###"]}},
                "big": {"type": "openai", "model": "m", "base_url": ["http://a/v1", "http://b/v1"]},
            },
        },
        "model_meta": {
            "big": {"shots": {"path": str(folder / "train.jsonl"), "k": 2, "ids": ["a", "b"]}}
        },
    }
    page = render_html(result)
    start = page.index('<section id="facts">')
    facts = page[start : page.index("</section>", start)]
    text = " ".join(re.sub(r"<[^>]+>", " ", facts).split())
    assert "path: train.jsonl" in text
    assert "path=ckpt" in text
    assert str(tmp_path) not in text
    for python in ("['", "{'", "']", "'}", "None", "True", "False"):
        assert python not in text, python
    assert "http://a/v1, http://b/v1" in text
