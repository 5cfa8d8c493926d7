"""What a finished run sends to a tracker, as plain values: metrics, params, tags and
the test sets' digests. Read from the run's JSON document (the JSON report), so a
tracked number is the report's number, bit for bit; nothing here imports a tracker.

Metric keys name the suite, the model and the metric (``main.finetuned.accuracy``,
with ``main.finetuned.accuracy_ci_low`` / ``_ci_high`` for its interval); a comparison
is ``main.finetuned_vs_base.accuracy_delta`` (with ``_ci_low`` / ``_ci_high`` and
``_p_value``). A number the run could not define (``null`` in the report) is not logged.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from typing import Any

#: Characters a tracker's key accepts (MLflow: word characters, ``.``, ``-``); any other
#: becomes ``_``.
_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-]|\.{2,}")

#: A tag's or param's longest value we send (MLflow: 6,000 for params, 8,000 for tags).
MAX_VALUE = 5000


def key_part(name: str) -> str:
    """``name`` (a suite, model or metric) as one part of a key."""
    return _UNSAFE.sub("_", name).strip(".") or "_"


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return None if math.isnan(value) or math.isinf(value) else float(value)


def _unique(out: dict[str, float], key: str) -> str:
    """``key``, or ``key_2``, ``key_3``... when two names differ only in unsafe characters."""
    unique, i = key, 2
    while unique in out or f"{unique}_ci_low" in out or f"{unique}_ci_high" in out:
        unique, i = f"{key}_{i}", i + 1
    return unique


def _put(out: dict[str, float], key: str, value: Any, ci: Any = None) -> str:
    """Log ``value`` (and its interval ``ci``) under ``key`` made unique; return the key."""
    key = _unique(out, key)
    number = _number(value)
    if number is not None:
        out[key] = number
    if isinstance(ci, list | tuple) and len(ci) == 2:
        for end, bound in (("low", ci[0]), ("high", ci[1])):
            number = _number(bound)
            if number is not None:
                out[f"{key}_ci_{end}"] = number
    return key


def metric_values(document: dict[str, Any]) -> dict[str, float]:
    """Every metric of the run's JSON document, keyed by suite, model and metric."""
    out: dict[str, float] = {}
    for suite in document.get("suites", []):
        s = key_part(str(suite["name"]))
        for name, model in suite.get("models", {}).items():
            prefix = f"{s}.{key_part(name)}"
            for metric, est in (model.get("metrics") or {}).items():
                _put(out, f"{prefix}.{key_part(metric)}", est.get("value"), est.get("ci"))
            for count in ("n", "errors", "unparseable", "cached"):
                _put(out, f"{prefix}.{count}", model.get(count))
            for stat, ms in (model.get("latency_ms") or {}).items():
                _put(out, f"{prefix}.latency_{key_part(stat)}_ms", ms)
        for comp in suite.get("comparisons", []):
            pair = f"{key_part(comp['candidate'])}_vs_{key_part(comp['baseline'])}"
            key = f"{s}.{pair}.{key_part(comp['metric'])}_delta"
            key = _put(out, key, comp.get("delta"), comp.get("ci"))
            # A p-value is logged beside the metric it tests only (McNemar's p tests
            # the 0/1 metric named in ``p_value_of``, not the macro-F1 delta).
            if comp.get("p_value_of") in (None, comp["metric"]):
                _put(out, f"{key}_p_value", comp.get("p_value"))
    gate = document.get("gate")
    if isinstance(gate, dict):
        _put(out, "gate.exit_code", gate.get("exit_code"))
    human = document.get("human")
    if isinstance(human, dict):
        _flatten(out, "human", human)
    return out


def _flatten(out: dict[str, float], prefix: str, value: Any) -> None:
    """Every number inside a human study's summary, keyed by its path."""
    if isinstance(value, dict):
        for k, v in value.items():
            _flatten(out, f"{prefix}.{key_part(str(k))}", v)
    elif isinstance(value, list | tuple):
        for i, v in enumerate(value):
            _flatten(out, f"{prefix}.{i}", v)
    else:
        _put(out, prefix, value)


def _clip(text: str) -> str:
    return text if len(text) <= MAX_VALUE else text[: MAX_VALUE - 1] + "…"


def params(document: dict[str, Any], digests: dict[str, str]) -> dict[str, str]:
    """The run's settings: seed, config hash, candidate and baselines, each model's
    identity (secret-free: the run's facts), each suite's test set digest and size."""
    facts = document.get("facts") or {}
    out = {
        "tunegate.run_id": str(document.get("run_id", "")),
        "seed": str(document.get("seed")),
        "config_sha256": str(facts.get("config_sha256", "")),
        "tunegate_version": str(facts.get("tunegate_version", "")),
        "candidate": str(document.get("candidate", "")),
        "baselines": ",".join(document.get("baselines", [])),
        "confidence": str(document.get("confidence")),
        "n_resamples": str(document.get("n_resamples")),
    }
    for name, identity in (facts.get("models") or {}).items():
        out[f"model.{key_part(name)}"] = _clip(json.dumps(identity, sort_keys=True))
    for suite in document.get("suites", []):
        s = key_part(str(suite["name"]))
        out[f"dataset.{s}.sha256"] = digests.get(suite["name"], "")
        out[f"dataset.{s}.n_cases"] = str(suite.get("n_cases"))
    return out


def tags(document: dict[str, Any]) -> dict[str, str]:
    """The verdict and each criterion's result (``tunegate.criterion.01``: ``FAIL:
    error_rate <= 0.01``, with its evidence in ``tunegate.criterion.01.reason``)."""
    out = {"tunegate.run_id": str(document.get("run_id", ""))}
    gate = document.get("gate")
    if not isinstance(gate, dict):
        out["tunegate.verdict"] = "none (--no-gate)"
        return out
    out["tunegate.verdict"] = str(gate["verdict"])
    out["tunegate.verdict.reason"] = _clip(str(gate.get("reason", "")))
    out["mlflow.note.content"] = _clip(f"**{gate['verdict']}**: {gate.get('reason', '')}")
    for i, c in enumerate(gate.get("criteria", []), start=1):
        out[f"tunegate.criterion.{i:02d}"] = _clip(f"{c['status']}: {c['description']}")
        out[f"tunegate.criterion.{i:02d}.reason"] = _clip(str(c.get("reason", "")))
    return out


def dataset_digest(suite: dict[str, Any]) -> str:
    """SHA-256 of a suite's test set as the run used it: each case's id, input and
    reference, in id order (the same cases give the same digest, whatever file held them)."""
    references = {row["case_id"]: row.get("reference") for row in suite.get("cases", [])}
    inputs = suite.get("inputs") or {}
    ids = sorted(set(inputs) | set(references))
    rows = [[i, inputs.get(i), references.get(i)] for i in ids]
    canonical = json.dumps(rows, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
