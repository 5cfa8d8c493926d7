"""The Markdown report renders finished results: verdict first, then the evidence."""

from __future__ import annotations

from pathlib import Path

from tunegate.config import parse_config
from tunegate.data import Case
from tunegate.pipeline.evaluating import evaluate_run
from tunegate.report.markdown import to_markdown, write_markdown
from tunegate.runner import ModelRun
from tunegate.store import Response

LABELS = ["positive", "negative"]


def _result(tmp_path: Path, cand_right: int, base_right: int, n: int = 60):
    cases = [
        Case(
            id=f"c{i}",
            text=f"t{i}",
            reference=LABELS[i % 2],
            category=["simple", "edge|case"][i % 2],
        )
        for i in range(n)
    ]

    def run(name: str, right: int) -> ModelRun:
        responses = []
        for i, c in enumerate(cases):
            wrong = LABELS[(LABELS.index(c.reference) + 1) % 2]
            responses.append(
                Response(
                    case_id=c.id,
                    model=name,
                    key=f"{name}{i}",
                    text=c.reference if i < right else wrong,
                    latency_ms=10.0 + i,
                )
            )
        return ModelRun(name, responses)

    config = parse_config(
        {
            "dataset": {"path": "x.jsonl"},
            "task": {"labels": LABELS},
            "models": {
                "ft": {"type": "python", "function": "m:f"},
                "base": {"type": "python", "function": "m:g"},
            },
            "gate": {"criteria": [{"metric": "accuracy", "vs": "base", "min_delta": 0.05}]},
            "bootstrap": 500,
        },
        source=tmp_path / "tunegate.yaml",
    )
    return evaluate_run(
        config, "run-1", cases, {"ft": run("ft", cand_right), "base": run("base", base_right)}
    )


def test_verdict_comes_first_and_tables_follow(tmp_path: Path) -> None:
    result = _result(tmp_path, cand_right=58, base_right=20)
    text = to_markdown(result)
    lines = [line for line in text.splitlines() if line.strip()]
    assert lines[0] == "## tunegate · tunegate"
    assert lines[1].startswith("**✅ SHIP**")
    assert "| ✅ PASS | accuracy - base >= 0.05 |" in text
    order = [
        text.index(h)
        for h in ("**✅ SHIP**", "### Models", "### Pass rate per category", "### ft vs baselines")
    ]
    assert order == sorted(order)
    # A pipe inside a category name must not break the table.
    assert "| edge\\|case |" in text
    acc = result.models["ft"].metrics["accuracy"]
    assert f"{acc.value:.3f} [{acc.ci[0]:.3f}, {acc.ci[1]:.3f}]" in text


def test_iterate_verdict_and_file_written(tmp_path: Path) -> None:
    result = _result(tmp_path, cand_right=20, base_right=58)
    path = write_markdown(result, tmp_path / "out" / "report.md")
    text = path.read_text(encoding="utf-8")
    assert "**❌ ITERATE**" in text
    assert "| ❌ FAIL | accuracy - base >= 0.05 |" in text
    assert "ft is worse than base on macro-F1" in text
