"""tunegate.report.plots: inline SVG that is deterministic, self-describing and escaped."""

from __future__ import annotations

import re

from tunegate.report.plots import ForestRow, confusion, forest, latency


def test_forest_marks_every_row_and_threshold_and_is_deterministic() -> None:
    rows = [
        ForestRow("ft vs base: macro_f1", 0.12, 0.05, 0.2, threshold=0.03),
        ForestRow("ft vs big: macro_f1", -0.01, -0.06, 0.04),
    ]
    svg = forest(rows, "Paired deltas")
    assert svg.startswith('<svg class="plot" role="img" ')
    assert "<title>Paired deltas</title>" in svg
    assert len(re.findall(r'<g id="forest-mark-\d+"', svg)) == 2
    assert len(re.findall(r'<g id="forest-threshold-\d+"', svg)) == 1
    assert "<?xml" not in svg
    assert "<metadata>" not in svg
    assert "<!--" not in svg
    assert forest(rows, "Paired deltas") == svg  # same input, same bytes


def test_titles_and_labels_are_escaped() -> None:
    hostile = "<script>alert(1)</script>"
    svg = confusion(["pos", hostile], [[3, 1, 0, 0], [2, 4, 1, 0]], hostile)
    assert "<script>" not in svg
    assert "&lt;script&gt;" in svg


def test_latency_histograms_one_row_per_model_with_samples() -> None:
    samples = {"ftmodel": [10.0, 12.0, 15.0, 40.0], "basemodel": [20.0, 22.0], "empty": []}
    percentiles = {
        "ftmodel": {"p50": 13.5, "p95": 36.0, "p99": 39.0},
        "basemodel": {"p50": 21.0, "p95": 22.0, "p99": 22.0},
    }
    svg = latency(samples, percentiles, "Latency")
    assert "<title>Latency</title>" in svg
    assert svg.count(">ftmodel<") == 1
    assert svg.count(">basemodel<") == 1
    assert "empty" not in svg
