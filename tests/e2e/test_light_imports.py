"""Issue 11: a classification run (two python-function models, comparison, gate, JSON,
Markdown and HTML reports) never imports scikit-learn, scipy, statsmodels or pandas.

The run happens in a fresh interpreter with ``tunegate.runner.preload`` made a no-op, so
nothing is imported ahead of use; the numbers in its report are then checked here, in
the test process, against scikit-learn, statsmodels and scipy.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from scipy.stats import binomtest
from sklearn.metrics import f1_score, precision_recall_fscore_support
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.proportion import proportion_confint

HEAVY = ("sklearn", "scipy", "statsmodels", "pandas")
LABELS = ["positive", "negative", "neutral"]
WORDS = {"positive": "great", "negative": "awful", "neutral": "okay"}
NO_LABEL = "<no valid label>"

MODELS_PY = """\
def finetuned(text):
    if "great" in text:
        return "Positive!"
    if "awful" in text:
        return "negative"
    if "meh" in text:
        return "I cannot tell"
    return "neutral"


def baseline(text):
    return "positive" if "Item 1" in text else "neutral"
"""

CONFIG = """\
name: light
dataset:
  path: test.jsonl
task:
  type: classification
  labels: [positive, negative, neutral]
models:
  finetuned:
    type: python
    function: models:finetuned
  baseline:
    type: python
    function: models:baseline
compare:
  candidate: finetuned
"""

# Run the CLI in this interpreter with preloading switched off, then use the sign test
# and the Wilson interval on the report's numbers; record every heavy module imported.
SCRIPT = """\
import json, sys
import tunegate.runner

tunegate.runner.preload = lambda *args, **kwargs: None
from tunegate.cli import main

sys.argv = ["tunegate", "run", "tunegate.yaml", "-q", "--no-cache", "--json", "report.json",
            "--markdown", "report.md", "--html", "report.html"]
code = None
try:
    main()
except SystemExit as stop:
    code = stop.code
from tunegate.stats import sign_test, wilson_interval

[comparison] = [c for c in json.load(open("report.json"))["suites"][0]["comparisons"]
                if c["metric"] == "accuracy"]
extra = {
    "sign_test": sign_test(comparison["wins"], comparison["losses"]),
    "sign_test_large": sign_test(100_400, 99_600),
    "wilson": wilson_interval(7, 60, 0.9),
}
heavy = sorted({m.split(".")[0] for m in sys.modules} & {"sklearn", "scipy", "statsmodels", "pandas"})
json.dump({"exit": code, "heavy": heavy, "extra": extra}, open("probe.json", "w"))
"""


def records(n: int) -> list[dict[str, str]]:
    rows = []
    for i in range(n):
        label = LABELS[i % 3]
        word = "meh" if i % 11 == 5 else WORDS[label]
        rows.append({"id": f"c{i:03d}", "text": f"Item {i}: it is {word}.", "label": label})
    return rows


def expected_predictions(rows: list[dict[str, str]]) -> dict[str, list[str]]:
    """The two models' answers, mapped to labels the way the report parses them."""
    namespace: dict[str, Any] = {}
    exec(MODELS_PY, namespace)
    parse = {"Positive!": "positive", "I cannot tell": NO_LABEL}
    return {
        name: [parse.get(a, a) for a in (namespace[name](r["text"]) for r in rows)]
        for name in ("finetuned", "baseline")
    }


def run_without_preload(folder: Path) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    probe: dict[str, Any] = json.loads((folder / "probe.json").read_text())
    return probe


def test_classification_run_imports_no_heavy_library(tmp_path: Path) -> None:
    rows = records(60)
    (tmp_path / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (tmp_path / "models.py").write_text(MODELS_PY)
    (tmp_path / "tunegate.yaml").write_text(CONFIG)

    probe = run_without_preload(tmp_path)
    assert probe["heavy"] == [], f"imported during the run: {probe['heavy']}"
    assert probe["exit"] in (0, None)  # the gate says SHIP

    report = json.loads((tmp_path / "report.json").read_text())
    suite = report["suites"][0]
    y_true = [r["label"] for r in rows]
    predicted = expected_predictions(rows)

    # Metrics: equal to scikit-learn's (None mapped to a string that is not a label).
    for name, y_pred in predicted.items():
        model = suite["models"][name]
        common: dict[str, Any] = {"labels": LABELS, "zero_division": 0}
        for average in ("macro", "micro", "weighted"):
            expected = f1_score(y_true, y_pred, average=average, **common)
            assert model["metrics"][f"{average}_f1"]["value"] == expected, (name, average)
        precision, recall, f1, support = precision_recall_fscore_support(
            y_true, y_pred, average=None, **common
        )
        for i, label in enumerate(LABELS):
            assert model["per_class"][label] == {
                "precision": precision[i],
                "recall": recall[i],
                "f1": f1[i],
                "support": support[i],
            }
        passed = sum(t == p for t, p in zip(y_true, y_pred, strict=True))
        lo, hi = proportion_confint(passed, len(rows), alpha=0.05, method="wilson")
        pass_rate = model["metrics"]["pass_rate"]
        assert pass_rate["value"] == passed / len(rows)
        assert abs(pass_rate["ci"][0] - lo) <= 1e-14
        assert abs(pass_rate["ci"][1] - hi) <= 1e-14
    assert suite["models"]["finetuned"]["unparseable"] == predicted["finetuned"].count(NO_LABEL)

    # McNemar: statsmodels on the same 2 x 2 table.
    right = {
        name: [t == p for t, p in zip(y_true, y_pred, strict=True)]
        for name, y_pred in predicted.items()
    }
    pairs = list(zip(right["finetuned"], right["baseline"], strict=True))
    b = sum(a and not z for a, z in pairs)
    c = sum(z and not a for a, z in pairs)
    table = [[sum(a and z for a, z in pairs), b], [c, sum(not (a or z) for a, z in pairs)]]
    reference = mcnemar(table, exact=b + c < 25, correction=True)
    [comparison] = [x for x in suite["comparisons"] if x["metric"] == "accuracy"]
    assert (comparison["wins"], comparison["losses"]) == (b, c)
    assert comparison["test"] == f"McNemar ({'exact' if b + c < 25 else 'chi2'})"
    assert abs(comparison["p_value"] - float(reference.pvalue)) <= 1e-12 * float(reference.pvalue)
    markdown = (tmp_path / "report.md").read_text()
    assert "McNemar" in markdown
    assert "macro" in markdown.lower()

    # The sign test and a Wilson interval, computed after the run in the same process.
    extra = probe["extra"]
    expected_sign = float(binomtest(b, b + c, 0.5).pvalue)
    assert abs(extra["sign_test"] - expected_sign) <= 1e-12 * expected_sign
    expected_large = float(binomtest(100_400, 200_000, 0.5).pvalue)
    assert abs(extra["sign_test_large"] - expected_large) <= 1e-12 * expected_large
    lo, hi = proportion_confint(7, 60, alpha=0.1, method="wilson")
    assert abs(extra["wilson"][0] - lo) <= 1e-14
    assert abs(extra["wilson"][1] - hi) <= 1e-14
