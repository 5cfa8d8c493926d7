"""Scorers built from a suite's configuration: each turns one response into named Scores.

A built scorer returns one :class:`~tunegate.scoring.base.Score` per metric it
measures (ROUGE measures four); its *main* score decides whether the case passes
that scorer. Every call is guarded by :func:`~tunegate.scoring.base.safe_score`
semantics: what a model answered never raises, it fails the case with the reason.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tunegate.config import ScorerConfig, TaskConfig
from tunegate.data import Case
from tunegate.errors import ConfigError
from tunegate.scoring import assertions, structured, text
from tunegate.scoring.base import Score
from tunegate.scoring.custom import load_scorer, run_custom
from tunegate.store import Response

__all__ = ["BuiltScorer", "build_scorers", "references"]

ScoreFn = Callable[[Case, Response], dict[str, Score]]


@dataclass(frozen=True)
class BuiltScorer:
    """A configured scorer: its metric names (the first is the main one) and function."""

    label: str
    kind: str
    metrics: tuple[str, ...]
    fn: ScoreFn

    def __call__(self, case: Case, response: Response) -> dict[str, Score]:
        """Scores by metric name; an exception becomes a failed score for every metric."""
        try:
            scores = self.fn(case, response)
        except Exception as exc:  # a scorer must never abort the run
            message = str(exc)
            why = f"scorer {self.label} failed: {type(exc).__name__}" + (
                f": {message}" if message else ""
            )
            return {m: Score.failure(why) for m in self.metrics}
        return scores


def references(case: Case) -> list[str]:
    """Every acceptable reference of a case (``metadata["references"]`` or the reference)."""
    refs = case.metadata.get("references")
    if isinstance(refs, list) and refs and all(isinstance(r, str) for r in refs):
        return list(refs)
    return [case.reference]


def _answer(response: Response) -> str | None:
    return response.text if response.error is None else None


def _load_schema(sc: ScorerConfig, where: str) -> Mapping[str, Any] | bool:
    if sc.schema_file is not None:
        try:
            schema = json.loads(Path(sc.schema_file).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"{where}.schema_file: {sc.schema_file} not found") from None
        except (OSError, json.JSONDecodeError) as exc:
            raise ConfigError(f"{where}.schema_file: {sc.schema_file}: {exc}") from None
    else:
        schema = sc.schema_
    if not isinstance(schema, (dict, bool)):
        raise ConfigError(f"{where}.schema: a JSON Schema must be an object")
    try:
        structured.compile_schema(schema)
    except ValueError as exc:
        raise ConfigError(f"{where}.schema: {exc}") from None
    return schema


def _one(metric: str, fn: Callable[[Case, Response], Score]) -> ScoreFn:
    return lambda case, response: {metric: fn(case, response)}


def _build(sc: ScorerConfig, where: str, base_dir: Path | None) -> BuiltScorer:
    label = sc.label
    kind = sc.type
    if kind == "exact_match":
        options = {
            "strip": sc.strip,
            "casefold": sc.casefold,
            "remove_punctuation": sc.remove_punctuation,
            "remove_articles": sc.remove_articles,
        }
        fn = _one(label, lambda c, r: text.exact_match(_answer(r), references(c), **options))
        return BuiltScorer(label, kind, (label,), fn)
    if kind == "rouge":
        types = text.ROUGE_TYPES
        names = tuple(f"{sc.name}.{t}" if sc.name else t for t in types)
        lead = names[types.index("rougeL")]
        main_first = (lead, *(n for n in names if n != lead))

        def rouge_fn(case: Case, response: Response) -> dict[str, Score]:
            scores = text.rouge(
                _answer(response),
                references(case),
                types,
                sc.use_stemmer,
                threshold=sc.threshold,
            )
            return {name: scores[t] for name, t in zip(names, types, strict=True)}

        return BuiltScorer(label, kind, main_first, rouge_fn)
    if kind == "bleu":
        fn = _one(
            label,
            lambda c, r: text.sentence_bleu(
                _answer(r),
                references(c),
                tokenize=sc.tokenize,
                lowercase=sc.lowercase,
                threshold=sc.threshold,
            ),
        )
        return BuiltScorer(label, kind, (label,), fn)
    if kind == "chrf":
        fn = _one(
            label,
            lambda c, r: text.sentence_chrf(
                _answer(r), references(c), lowercase=sc.lowercase, threshold=sc.threshold
            ),
        )
        return BuiltScorer(label, kind, (label,), fn)
    if kind == "json":
        return BuiltScorer(
            label, kind, (label,), _one(label, lambda c, r: structured.json_valid(_answer(r)))
        )
    if kind == "json_schema":
        schema = _load_schema(sc, where)
        fn = _one(label, lambda c, r: structured.json_schema(_answer(r), schema))
        return BuiltScorer(label, kind, (label,), fn)
    if kind == "tool_call":

        def tool_fn(case: Case, response: Response) -> dict[str, Score]:
            if response.error is not None:
                return {label: Score.failure("no answer (the request failed)")}
            calls = structured.parse_tool_calls(response.text, response.output)
            expected = case.metadata.get("ground_truth")
            if expected is None:
                expected = json.loads(case.reference)
            return {
                label: structured.score_tool_calls(
                    calls, expected, functions=case.metadata.get("functions")
                )
            }

        return BuiltScorer(label, kind, (label,), tool_fn)
    if kind in ("contains", "regex", "equals"):
        value = sc.value or ""
        negate = sc.negate
        if kind == "contains":
            check = lambda c, r: assertions.contains(  # noqa: E731
                _answer(r), value, case_sensitive=sc.case_sensitive, negate=negate
            )
        elif kind == "regex":
            check = lambda c, r: assertions.regex(  # noqa: E731
                _answer(r), value, ignore_case=not sc.case_sensitive, negate=negate
            )
        else:
            check = lambda c, r: assertions.equals(  # noqa: E731
                _answer(r), value, case_sensitive=sc.case_sensitive, negate=negate
            )
        return BuiltScorer(label, kind, (label,), _one(label, check))
    if kind == "max_latency_ms":
        limit = float(sc.limit or 0)
        fn = _one(
            label, lambda c, r: assertions.max_latency_ms(r.latency_ms, limit, negate=sc.negate)
        )
        return BuiltScorer(label, kind, (label,), fn)
    # custom
    assert sc.function is not None
    user_fn = load_scorer(sc.function, base_dir=base_dir)
    fn = _one(
        label,
        lambda c, r: run_custom(user_fn, c, _answer(r), r.output, threshold=sc.threshold),
    )
    return BuiltScorer(label, kind, (label,), fn)


def build_scorers(task: TaskConfig, where: str, base_dir: Path | None = None) -> list[BuiltScorer]:
    """The task's scorers, ready to call; configuration problems raise ConfigError.

    Judges are left out: their verdicts come from model calls (see :mod:`tunegate.judging`).
    """
    return [
        _build(sc, f"{where}.scorers[{i}]", base_dir)
        for i, sc in enumerate(task.scorer_list)
        if isinstance(sc, ScorerConfig)
    ]
