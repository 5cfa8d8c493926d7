"""tunegate.history.changes: the typed diff of two runs (lookups, the primary metric, JSON)."""

from __future__ import annotations

import json
import math

from tunegate.history.changes import MetricChange, ModelDiff, RunDiff, RunSide, SuiteDiff


def _model(name: str, primary: str | None) -> ModelDiff:
    return ModelDiff(
        model=name,
        suite="main",
        primary_metric=primary,
        n_a=10,
        n_b=10,
        errors_a=0,
        errors_b=1,
        metrics=[
            MetricChange("accuracy", 0.5, 0.75, 0.25, (0.3, 0.7), (0.5, 0.9)),
            MetricChange("macro_f1", 0.4, None, None),
        ],
        latency_ms=[MetricChange("p50", 12.0, math.nan, None)],
        categories=[],
        cases=None,
    )


def test_metric_lookup_and_the_primary_metric() -> None:
    diff = _model("ft", "accuracy")
    primary = diff.primary
    assert primary is not None
    assert primary.delta == 0.25
    assert diff.metric("macro_f1") == MetricChange("macro_f1", 0.4, None, None)
    assert diff.metric("bleu") is None
    assert _model("ft", None).primary is None


def test_run_diff_lists_model_diffs_and_is_plain_json() -> None:
    side = RunSide("r1", "n", "ft", ["base"], 0.95)
    suite = SuiteDiff(
        "main",
        "classification",
        "accuracy",
        10,
        10,
        [_model("ft", "accuracy"), _model("base", "accuracy")],
        [],
        ["x"],
    )
    diff = RunDiff(side, side, 0.95, 1000, 0, [suite], [], ["gone"])
    assert [m.model for m in diff.model_diffs] == ["ft", "base"]
    data = diff.to_dict()
    text = json.dumps(data, allow_nan=False)  # NaN became null
    assert json.loads(text)["suites"][0]["models"][0]["metrics"][0]["ci_a"] == [0.3, 0.7]
    assert data["suites"][0]["models"][0]["latency_ms"][0]["b"] is None
    assert data["suites_only_b"] == ["gone"]
