"""Scorer configs declare their metrics (tunegate.config.scorers), the scorer registry
(tunegate.scoring.registry) builds them: for every built-in scorer type what the built
scorer reports is exactly what its config declares, and a drift is caught."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, ClassVar

import pytest

from tunegate.config import SCORER_TYPES, TaskConfig, suite_metrics
from tunegate.config.scorers import SCORER_CONFIGS, RougeScorer, scorer_config
from tunegate.data import Case
from tunegate.data.response import Response
from tunegate.registry import UnknownNameError
from tunegate.scoring.base import Score
from tunegate.scoring.registry import (
    BUILDERS,
    BuildContext,
    ScorerKind,
    build_scorer,
    build_scorers,
    scorer_kind,
)

#: Options that make each built-in type valid, and an answer each scores without failing.
SAMPLES: dict[str, tuple[dict[str, Any], str]] = {
    "exact_match": ({}, "Paris"),
    "rouge": ({}, "Paris is the capital of France"),
    "bleu": ({}, "Paris is the capital of France"),
    "chrf": ({}, "Paris is the capital of France"),
    "json": ({}, '{"city": "Paris"}'),
    "json_schema": ({"schema": {"type": "object"}}, '{"city": "Paris"}'),
    "tool_call": ({}, '[{"name": "f", "arguments": {"x": 1}}]'),
    "contains": ({"value": "Par"}, "Paris"),
    "regex": ({"value": "^Pa"}, "Paris"),
    "equals": ({"value": "Paris"}, "Paris"),
    "contains_reference": ({}, "It is Paris."),
    "max_latency_ms": ({"ms": 100}, "Paris"),
    "custom": ({"function": "tg_metrics_scorer.py:score"}, "Paris"),
}


def _case(kind: str) -> Case:
    if kind == "tool_call":  # the expected calls, in BFCL's form
        return Case(id="c1", text="Call f", reference='[{"f": {"x": [1]}}]')
    reference = "Paris is the capital of France" if kind in ("rouge", "bleu", "chrf") else "Paris"
    return Case(id="c1", text="Capital of France?", reference=reference)


def test_every_built_in_type_has_a_sample() -> None:
    assert set(SAMPLES) == set(SCORER_TYPES)


@pytest.mark.parametrize("kind", SCORER_TYPES)
@pytest.mark.parametrize("name", [None, "s"])
def test_a_scorer_reports_exactly_the_metrics_its_config_declares(
    kind: str, name: str | None, tmp_path: Path
) -> None:
    (tmp_path / "tg_metrics_scorer.py").write_text(
        "def score(case, output):\n    return output == case.reference\n", encoding="utf-8"
    )
    options, answer = SAMPLES[kind]
    sc = scorer_config(type=kind, **options, **({"name": name} if name else {}))
    declared = sc.metric_names()
    built = build_scorer(sc, BuildContext("task.scorers[0]", config_dir=tmp_path))
    assert built.metrics == declared
    assert built.higher_is_better == type(sc).higher_is_better
    assert built.reads_tool_calls == type(sc).reads_tool_calls
    response = Response(case_id="c1", model="m", key="k", text=answer, latency_ms=5.0)
    scores = built(_case(kind), response)
    assert tuple(scores) == declared
    for metric, score in scores.items():
        assert score.passed, (metric, score.detail)  # really scored, not a failure
    # The config alone gives the suite's metric names (no scoring code asked).
    task = TaskConfig(type="generation", scorers=[sc])
    assert suite_metrics(task) == list(declared)


class _Drifted(RougeScorer):
    metrics: ClassVar[tuple[str, ...]] = ("rougeL", "rouge1")  # the scorer gives four


def test_a_config_whose_declared_metrics_drift_from_the_scorer_fails_every_case(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    kind = scorer_kind("rouge")
    drifted = ScorerKind("rouge", _Drifted, kind.make)
    sc = _Drifted(type="rouge")
    made = drifted.make(sc, BuildContext("t"))
    assert callable(made)
    produced = made(_case("rouge"), Response(case_id="c1", model="m", key="k", text="Paris"))
    assert isinstance(produced, dict)
    assert set(produced) != set(_Drifted.metrics)
    # Through build_scorer, the mismatch is a failed score naming it, for every metric.
    import tunegate.scoring.registry as registry

    monkeypatch.setattr(registry, "scorer_kind", lambda t: drifted)
    built = build_scorer(sc, BuildContext("t"))
    scores = built(_case("rouge"), Response(case_id="c1", model="m", key="k", text="Paris"))
    assert set(scores) == {"rougeL", "rouge1"}
    for score in scores.values():
        assert not score.passed
        assert "not the metrics its config class declares ['rouge1', 'rougeL']" in str(score.detail)


def test_build_scorers_takes_the_scorer_configs_and_skips_judges() -> None:
    task = TaskConfig.model_validate(
        {
            "type": "generation",
            "scorers": [{"type": "rouge"}, {"type": "judge", "judge": "m"}, {"type": "json"}],
        }
    )
    built = build_scorers(task.scorer_list, "suites.qa.task")
    assert [b.kind for b in built] == ["rouge", "json"]


def test_the_built_in_builders_are_named_not_imported() -> None:
    assert BUILDERS.names() == list(SCORER_TYPES)
    assert SCORER_CONFIGS.names()[: len(SCORER_TYPES)] == list(SCORER_TYPES)
    with pytest.raises(UnknownNameError, match="unknown scorer type 'rogue'"):
        scorer_kind("rogue")
    assert isinstance(
        scorer_kind("json").make(scorer_config(type="json"), BuildContext("t"))(
            _case("json"), Response(case_id="c1", model="m", key="k", text="{}")
        ),
        Score,
    )


_DECORATOR = textwrap.dedent(
    """
    from typing import ClassVar, Literal
    from tunegate.config import parse_config
    from tunegate.config.scorers import ScorerConfig
    from tunegate.scoring.base import Score
    from tunegate.scoring.registry import scorer, build_scorers

    class Shout(ScorerConfig):
        type: Literal["shout"]
        metrics: ClassVar[tuple[str, ...]] = ("loud", "long")

    @scorer("shout", config=Shout, metrics=("loud", "long"))
    def _shout(sc, ctx):
        return lambda case, response: {
            "loud": Score.from_bool(response.text.isupper()),
            "long": Score.from_bool(len(response.text) > 3),
        }

    try:
        @scorer("shout", config=Shout)
        def _again(sc, ctx):
            return None
    except ValueError as exc:
        print("twice:", exc)
    try:
        @scorer("exact_match", metrics=("em",))
        def _em(sc, ctx):
            return None
    except ValueError as exc:
        print("disagrees:", exc)
    config = parse_config({
        "dataset": {"path": "x.jsonl"},
        "task": {"type": "generation", "scorers": [{"type": "shout", "name": "s"}]},
        "models": {"m": {"type": "python", "function": "a.b:c"}},
        "gate": {"criteria": [{"metric": "s.long", "min": 0.5}]},
    })
    [built] = build_scorers(config.main_task.scorer_list, "task")
    print(built.metrics)
    """
)


def test_the_scorer_decorator_registers_a_config_class_and_a_builder() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _DECORATOR], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "twice: scorer type 'shout' is registered twice"
    assert lines[1] == (
        "disagrees: @scorer('exact_match', metrics=('em',)): its config class "
        "ExactMatchScorer declares metrics = ()"
    )
    assert lines[2] == "('s.loud', 's.long')"
