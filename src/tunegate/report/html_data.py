"""The drill-down's data: every case of every suite packed for the page's one JSON block.

Packing only regroups what the stored result holds (rows per model become one
entry per case with each model's outcome); nothing is scored or counted here.
The JSON is made safe to sit inside ``<script type="application/json">``: ``<``,
``>`` and ``&`` are written as ``\\u003c``-style escapes, so no output can close the
element or open a comment, and ``JSON.parse`` restores them.
"""

from __future__ import annotations

import json
from typing import Any

from tunegate.tasks import stored_task_kind

#: Per-model outcome fields, in the order they are packed (the page's script reads them so).
OUTCOME_FIELDS = (
    "answer",
    "prediction",
    "correct",
    "error",
    "latency_ms",
    "detail",
    "failed",
    "scores",
)
_SAFE = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"})


def _latency(value: Any) -> Any:
    """A latency to the 0.1 ms the case view shows (full float digits were an eighth of
    a 10,000-case page's data)."""
    return round(float(value), 1) if isinstance(value, int | float) else None


def _outcome(row: dict[str, Any], parsed: bool) -> list[Any]:
    answer = row.get("answer")
    prediction = row.get("prediction")
    return [
        answer,
        # Classification keeps the parsed label (None: unparseable or error); other tasks'
        # prediction is the answer itself, so it is not repeated.
        prediction if parsed or prediction != answer else None,
        1 if row.get("correct") else 0,
        row.get("error"),
        _latency(row.get("latency_ms")),
        row.get("detail"),
        list(row.get("failed") or []),
        dict(row.get("scores") or {}),
    ]


def picks_label(suite: dict[str, Any]) -> bool:
    """Whether the stored suite's task kind answers with a label (classification, multiple
    choice): its answers are parsed, and can be unparseable."""
    kind = stored_task_kind(suite.get("task"))
    return kind is not None and kind.picks_label


def suite_cases(suite: dict[str, Any], models: list[str]) -> list[list[Any]]:
    """``[id, input, reference, category, [outcome per model in models order]]`` per case,
    in the suite's case order (a model without a row for a case gets None)."""
    inputs: dict[str, str] = suite.get("inputs") or {}
    parsed = picks_label(suite)
    by_case: dict[str, dict[str, dict[str, Any]]] = {}
    for row in suite.get("cases") or []:
        by_case.setdefault(str(row.get("case_id")), {})[str(row.get("model"))] = row
    packed = []
    for case_id, rows in by_case.items():
        first = next(iter(rows.values()))
        packed.append(
            [
                case_id,
                inputs.get(case_id),
                first.get("reference"),
                first.get("category"),
                [_outcome(rows[m], parsed) if m in rows else None for m in models],
            ]
        )
    return packed


def scorer_labels(suite: dict[str, Any]) -> list[str]:
    """The scorers any case of the suite failed, in first-seen order (for the filter)."""
    seen: dict[str, None] = {}
    for row in suite.get("cases") or []:
        for label in row.get("failed") or []:
            seen.setdefault(str(label), None)
    return list(seen)


def judge_verdicts(suite: dict[str, Any]) -> dict[str, list[list[Any]]]:
    """Each case's judge verdicts as stored: ``{case_id: [verdict, ...]}`` where a pairwise
    verdict is ``["pair", judge, baseline, candidate_first, baseline_first, outcome,
    reasoning_first, reasoning_second, errors]`` and a rubric one ``["rubric", judge,
    model, verdict, score, reasoning, error]``."""
    out: dict[str, list[list[Any]]] = {}
    for e in (suite.get("judges") or {}).get("judges") or []:
        name = e.get("name")
        for c in e.get("cases") or []:
            if e.get("kind") == "pairwise":
                why = [*(c.get("reasoning") or []), None, None]
                row = [
                    "pair",
                    name,
                    c.get("baseline"),
                    c.get("candidate_first"),
                    c.get("baseline_first"),
                    c.get("outcome"),
                    why[0],
                    why[1],
                    list(c.get("errors") or []),
                ]
            else:
                row = [
                    "rubric",
                    name,
                    c.get("model"),
                    c.get("verdict"),
                    c.get("score"),
                    c.get("reasoning"),
                    c.get("error"),
                ]
            out.setdefault(str(c.get("case_id")), []).append(row)
    return out


def repeat_answers(suite: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per model asked each case k times (``repeats: k``): ``{k, passed: {case: answers
    passing, null if one is missing}, outcomes: {case: [1|0|null per repeat]}, answers:
    {case: [text|null per repeat]}}``, as stored (older results have no outcomes)."""
    out = {}
    for name, m in (suite.get("models") or {}).items():
        rep = m.get("repeats")
        if isinstance(rep, dict) and rep.get("k"):
            out[str(name)] = {
                "k": rep["k"],
                "passed": rep.get("passed") or {},
                "outcomes": rep.get("outcomes") or {},
                "answers": rep.get("answers") or {},
            }
    return out


def page_data(result: dict[str, Any]) -> dict[str, Any]:
    """Everything the drill-down script needs, per suite."""
    candidate = result.get("candidate")
    sent = (result.get("facts") or {}).get("prompts") or {}
    suites = []
    for suite in result.get("suites") or []:
        models = list(suite.get("models") or {})
        if candidate in models:  # the candidate first, as in every table
            models.remove(candidate)
            models.insert(0, candidate)
        suites.append(
            {
                "name": suite.get("name"),
                "task": suite.get("task"),
                # The task kind answers with a label: an answer can be unparseable.
                "picks_label": picks_label(suite),
                "labels": suite.get("labels") or [],
                "models": models,
                "candidate": candidate if candidate in models else None,
                "scorers": scorer_labels(suite),
                "categories": sorted(
                    {str(r["category"]) for r in suite.get("cases") or [] if r.get("category")}
                ),
                "cases": suite_cases(suite, models),
                "judged": judge_verdicts(suite),
                "repeats": repeat_answers(suite),
                # The prompt as sent: {model: {shared: [messages], turns: {case: [...]}}}
                "sent": sent.get(str(suite.get("name"))) or {},
            }
        )
    facts = result.get("facts") or {}
    prompts = facts.get("prompting") or {}
    meta = result.get("model_meta") or {}

    def drawn(name: str, identity: dict[str, Any]) -> Any:
        """k and the seed the shots were drawn with (the run's seed when the config
        gives none: the draw records it)."""
        shots = (meta.get(name) or {}).get("shots")
        if isinstance(shots, dict) and shots.get("k") is not None:
            return {"k": shots.get("k"), "seed": shots.get("seed")}
        return identity.get("shots")

    prompting = {
        name: {**(prompts.get(name) or {}), "shots": drawn(name, identity)}
        for name, identity in (facts.get("models") or {}).items()
        if prompts.get(name) or drawn(name, identity)
    }
    human = result.get("human") or {}
    votes = {k: v.get("votes") or [] for k, v in (human.get("item_votes") or {}).items()}
    return {
        "fields": list(OUTCOME_FIELDS),
        "suites": suites,
        "study": human.get("study"),
        "votes": votes,
        "prompting": prompting,
    }


def script_json(data: Any) -> str:
    """``data`` as JSON that is safe inside a ``<script type="application/json">`` element."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return text.translate(_SAFE)
