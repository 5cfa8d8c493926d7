""":class:`~tunegate.api.suite.EvalCase`'s scorer names, built from the scorer registry.

Each name is a scorer of :mod:`tunegate.scoring.registry` (the one the YAML
``scorers:`` use) with fixed options, so ``scorer="exact_match"`` here and
``{type: exact_match}`` in ``tunegate.yaml`` give the same verdicts. Scorers that
compare with references (``exact_match``, ``rouge_l``, ``bleu``, ``chrf``) take every
expected output at once; those whose option *is* the expected output (``exact``,
``contains``, ``regex``) are built once per expected output and the first pass counts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tunegate.config.scorers import scorer_config
from tunegate.data import Case
from tunegate.data.response import Response
from tunegate.scoring.base import Score
from tunegate.scoring.registry import BuildContext, build_scorer

__all__ = ["SCORERS", "named_score"]


@dataclass(frozen=True)
class _Named:
    """How a name is built: the registry options (from an expected output and the
    threshold), the metric that decides, and whether it is built per expected output."""

    describe: str
    options: Callable[[str, float], dict[str, Any]]
    metric: str | None = None
    per_value: bool = False


_NAMED: dict[str, _Named] = {
    "exact_match": _Named(
        "equals an expected output after stripping and collapsing whitespace, "
        "case-insensitively (the exact_match scorer's default)",
        lambda v, t: {"type": "exact_match"},
    ),
    "exact_match_squad": _Named(
        "equals an expected output after SQuAD normalisation "
        "(case, punctuation, articles a/an/the, whitespace)",
        lambda v, t: {"type": "exact_match", "remove_punctuation": True, "remove_articles": True},
    ),
    "exact": _Named(
        "equals an expected output exactly (case and whitespace count)",
        lambda v, t: {"type": "equals", "value": v, "case_sensitive": True},
        per_value=True,
    ),
    "contains": _Named(
        "contains an expected output (case-insensitive)",
        lambda v, t: {"type": "contains", "value": v},
        per_value=True,
    ),
    "regex": _Named(
        "re.search finds a match for an expected output (a pattern)",
        lambda v, t: {"type": "regex", "value": v, "case_sensitive": True},
        per_value=True,
    ),
    "rouge_l": _Named(
        "ROUGE-L F-measure against the expected output(s) >= threshold",
        lambda v, t: {"type": "rouge", "threshold": t},
        metric="rougeL",
    ),
    "bleu": _Named(
        "sentence BLEU / 100 (sacrebleu) >= threshold",
        lambda v, t: {"type": "bleu", "threshold": t},
    ),
    "chrf": _Named(
        "sentence chrF / 100 (sacrebleu) >= threshold",
        lambda v, t: {"type": "chrf", "threshold": t},
    ),
    "json": _Named(
        "the output is valid JSON (the expected output is not used)",
        lambda v, t: {"type": "json"},
    ),
}

#: The scorer names :class:`EvalCase` accepts, with what each checks.
#: ``threshold`` is :func:`run_eval_suite`'s (0.5 by default).
SCORERS: dict[str, str] = {name: named.describe for name, named in _NAMED.items()}


def check_named(name: str, expected: list[str]) -> None:
    """Raise ValueError for an option the registry rejects (an invalid pattern)."""
    named = _NAMED[name]
    if named.per_value:
        for value in expected:
            _config(name, named, value, 0.5)


def _config(name: str, named: _Named, value: str, threshold: float) -> Any:
    from pydantic import ValidationError

    try:
        return scorer_config(**named.options(value, threshold))
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ValueError(str(first["msg"]).removeprefix("Value error, ")) from None


def _one(name: str, named: _Named, value: str, output: str, case: Case, t: float) -> Score:
    built = build_scorer(_config(name, named, value, t), BuildContext(f"scorer {name!r}"))
    response = Response(case_id=case.id, model="", key="", text=output)
    return built(case, response)[named.metric or built.metrics[0]]


def named_score(name: str, output: str, expected: list[str], threshold: float) -> Score:
    """The verdict of the scorer called ``name`` on ``output`` against ``expected``."""
    named = _NAMED[name]
    case = Case(
        id="",
        text="",
        reference=expected[0] if expected else "",
        metadata={"references": list(expected)},
    )
    if not named.per_value:
        return _one(name, named, "", output, case, threshold)
    return _first_pass([_one(name, named, v, output, case, threshold) for v in expected])


def _first_pass(verdicts: list[Score]) -> Score:
    """The first passing verdict; else the only one, or a failure summing them up."""
    for verdict in verdicts:
        if verdict.passed:
            return verdict
    if len(verdicts) == 1:
        return verdicts[0]
    if not verdicts:
        return Score.failure("no expected output to compare with")
    return Score.failure(
        f"none of the {len(verdicts)} expected outputs matched (first: {verdicts[0].detail})"
    )
