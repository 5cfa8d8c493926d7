"""Judge prompts and strict verdict parsing (pure: no I/O, no model calls).

A *pointwise* judge grades one output on a scale (``pass_fail``, ``1-5``,
``1-10``); a *pairwise* judge says which of two outputs is better (``A``, ``B``
or ``tie``). Rubrics are Jinja2 templates with ``{{ input }}``, ``{{ output }}``
(pointwise) or ``{{ output_a }}`` / ``{{ output_b }}`` (pairwise) and
``{{ reference }}``.

Parsing is strict. A verdict is read from, in this order:

1. a JSON object holding the whole answer (or its last line), with a
   ``verdict`` (or ``score``) key, optionally ``reasoning``;
2. the last non-empty line, of the form ``Verdict: X`` (``Final verdict``,
   ``Score`` and ``Winner`` are accepted too; Markdown emphasis and a trailing
   period are ignored);
3. an answer that is exactly one verdict token (what a local judge scoring the
   verdict tokens by log-likelihood answers).

Anything else -- no verdict line, a score outside the scale, several verdicts in
one line, an earlier ``Verdict: X`` line that names a *different* valid verdict than
the final one (``Verdict: A`` ... ``Verdict: B``) -- is a *judge error*, never a
score. The same verdict repeated is fine. Everything before the verdict line is the
judge's reasoning.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Literal

from tunegate import templates

__all__ = [
    "DEFAULT_PAIRWISE_RUBRIC",
    "DEFAULT_RUBRICS",
    "LOCAL_SUFFIX",
    "PAIRWISE_VERDICTS",
    "SCALES",
    "Scale",
    "Verdict",
    "check_rubric",
    "normalise",
    "parse_pairwise",
    "parse_pointwise",
    "render_rubric",
    "verdict_labels",
]

Scale = Literal["pass_fail", "1-5", "1-10"]
SCALES: tuple[Scale, ...] = ("pass_fail", "1-5", "1-10")
PairwiseVerdict = Literal["A", "B", "tie"]
PAIRWISE_VERDICTS: tuple[PairwiseVerdict, ...] = ("A", "B", "tie")

_SHARED_INSTRUCTIONS = (
    "Explain your reasoning briefly, then end your answer with a single final line "
    "of the form\nVerdict: {choices}\n"
)

_CASE_BLOCK = (
    "[Task]\n{{ input }}\n\n"
    "{% if reference %}[Reference answer]\n{{ reference }}\n\n{% endif %}"
    "[Response]\n{{ output }}\n\n"
)

#: The rubric a pointwise judge uses when the config gives none, per scale.
DEFAULT_RUBRICS: dict[Scale, str] = {
    "pass_fail": (
        "You are grading a model's response to a task. The response passes when it is "
        "correct, complete and follows the task's instructions"
        "{% if reference %} (the reference answer shows what is expected){% endif %}; "
        "otherwise it fails.\n\n"
        + _CASE_BLOCK
        + _SHARED_INSTRUCTIONS.format(choices="PASS or FAIL")
    ),
    "1-5": (
        "You are grading a model's response to a task on a scale from 1 (useless or wrong) "
        "to 5 (correct, complete, clear and following every instruction)"
        "{% if reference %}; the reference answer shows what is expected{% endif %}.\n\n"
        + _CASE_BLOCK
        + _SHARED_INSTRUCTIONS.format(choices="<an integer from 1 to 5>")
    ),
    "1-10": (
        "You are grading a model's response to a task on a scale from 1 (useless or wrong) "
        "to 10 (correct, complete, clear and following every instruction)"
        "{% if reference %}; the reference answer shows what is expected{% endif %}.\n\n"
        + _CASE_BLOCK
        + _SHARED_INSTRUCTIONS.format(choices="<an integer from 1 to 10>")
    ),
}

#: The rubric of a pairwise judge when the config gives none.
DEFAULT_PAIRWISE_RUBRIC = (
    "You are comparing two responses to the same task. Decide which response is "
    "better: more correct, more helpful, and closer to the task's instructions"
    "{% if reference %} (the reference answer shows what is expected){% endif %}. "
    "Do not let the order of the responses or their length influence you.\n\n"
    "[Task]\n{{ input }}\n\n"
    "{% if reference %}[Reference answer]\n{{ reference }}\n\n{% endif %}"
    "[Response A]\n{{ output_a }}\n\n"
    "[Response B]\n{{ output_b }}\n\n" + _SHARED_INSTRUCTIONS.format(choices="A, B or tie")
)

#: What a local judge's prompt ends with: the verdict tokens are scored after it.
LOCAL_SUFFIX = "\nVerdict:"


@dataclass(frozen=True)
class Verdict:
    """A parsed judge answer: the verdict (None for a judge error) and the reasoning.

    ``score`` is the verdict normalised to [0, 1] (pointwise only): pass_fail
    gives 1 / 0, a 1-k scale ``(s - 1) / (k - 1)``.
    """

    verdict: str | None
    reasoning: str
    error: str | None = None
    score: float | None = None

    @property
    def ok(self) -> bool:
        """True when the answer held a valid verdict."""
        return self.error is None


_LINE = re.compile(
    r"^(?:final\s+)?(?:verdict|score|rating|winner|grade)\s*[:=]\s*(?P<value>.+?)\s*$",
    re.IGNORECASE,
)
_DECOR = re.compile(r"^[\s*_`#>\-]+|[\s*_`.!]+$")


def _clean(token: str) -> str:
    return _DECOR.sub("", token).strip().strip("[]()\"'").strip()


def _earlier_verdicts(lines: list[str]) -> list[str]:
    """The values of the ``Verdict: X`` lines among ``lines`` (the lines before the final one)."""
    out = []
    for line in lines:
        match = _LINE.match(_clean(line))
        if match:
            out.append(_clean(match.group("value")))
    return out


def _split(text: str) -> tuple[str | None, str, str | None, list[str]]:
    """(raw verdict token, reasoning, problem, earlier verdict-line values) from a judge's
    answer."""
    token, reasoning, problem, before = _split_final(text)
    return token, reasoning, problem, _earlier_verdicts(before) if token is not None else []


def _split_final(text: str) -> tuple[str | None, str, str | None, list[str]]:
    """(raw verdict token, reasoning, problem, the lines before the verdict) from a judge's
    answer."""
    stripped = text.strip()
    if not stripped:
        return None, "", "the judge answered nothing", []
    lines = [ln for ln in stripped.splitlines() if ln.strip()]
    for candidate, reasoning, before in (
        (stripped, "", []),
        (lines[-1].strip(), "\n".join(lines[:-1]).strip(), lines[:-1]),
    ):
        if candidate.startswith("{") and candidate.endswith("}"):
            try:
                data = json.loads(candidate)
            except json.JSONDecodeError:
                continue
            if not isinstance(data, dict):
                continue
            key = next((k for k in ("verdict", "score", "winner") if k in data), None)
            if key is None:
                return None, stripped, "the JSON answer has no 'verdict' key", []
            why = data.get("reasoning") or data.get("explanation")
            text_why = why if isinstance(why, str) else reasoning
            return str(data[key]), text_why.strip(), None, before
    last = _clean(lines[-1])
    match = _LINE.match(last)
    reasoning = "\n".join(lines[:-1]).strip()
    if match:
        return _clean(match.group("value")), reasoning, None, lines[:-1]
    if len(lines) == 1 and " " not in last and last:
        return last, "", None, []
    return None, stripped, "no final 'Verdict: ...' line", []


def _snippet(text: str, limit: int = 120) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def normalise(value: int | str, scale: Scale) -> float:
    """A verdict on ``scale`` as a number in [0, 1] (1 = best)."""
    if scale == "pass_fail":
        return 1.0 if str(value).upper() == "PASS" else 0.0
    top = 5 if scale == "1-5" else 10
    return (int(value) - 1) / (top - 1)


def _one_verdict(final: Verdict, earlier: list[Verdict]) -> Verdict:
    """``final``, or a judge error when an earlier verdict line names a different verdict."""
    if not final.ok:
        return final
    for other in earlier:
        if other.ok and other.verdict != final.verdict:
            return Verdict(
                None,
                final.reasoning,
                f"two different verdicts in one answer: {other.verdict!r} then {final.verdict!r}",
            )
    return final


def parse_pointwise(text: str | None, scale: Scale) -> Verdict:
    """The verdict of a pointwise judge's answer on ``scale`` (strict; see the module doc)."""
    if text is None:
        return Verdict(None, "", "the judge gave no answer")
    token, reasoning, problem, earlier = _split(text)
    if token is None:
        return Verdict(None, reasoning, f"{problem}: {_snippet(text)!r}")
    return _one_verdict(
        _pointwise_token(token, reasoning, scale),
        [_pointwise_token(t, "", scale) for t in earlier],
    )


def _pointwise_token(token: str, reasoning: str, scale: Scale) -> Verdict:
    """A verdict token on ``scale`` as a :class:`Verdict` (an error when it is not one)."""
    if scale == "pass_fail":
        word = token.upper()
        aliases = {"PASS": "PASS", "PASSED": "PASS", "FAIL": "FAIL", "FAILED": "FAIL"}
        if word not in aliases:
            return Verdict(None, reasoning, f"verdict {token!r} is not PASS or FAIL")
        verdict = aliases[word]
        return Verdict(verdict, reasoning, score=normalise(verdict, scale))
    top = 5 if scale == "1-5" else 10
    match = re.fullmatch(r"(\d{1,2})(?:\s*/\s*(\d{1,2}))?", token)
    if match is None or (match.group(2) is not None and int(match.group(2)) != top):
        return Verdict(None, reasoning, f"verdict {token!r} is not an integer from 1 to {top}")
    value = int(match.group(1))
    if not 1 <= value <= top:
        return Verdict(None, reasoning, f"verdict {value} is outside the scale 1-{top}")
    return Verdict(str(value), reasoning, score=normalise(value, scale))


def parse_pairwise(text: str | None) -> Verdict:
    """``A``, ``B`` or ``tie`` from a pairwise judge's answer (strict; see the module doc)."""
    if text is None:
        return Verdict(None, "", "the judge gave no answer")
    token, reasoning, problem, earlier = _split(text)
    if token is None:
        return Verdict(None, reasoning, f"{problem}: {_snippet(text)!r}")
    return _one_verdict(
        _pairwise_token(token, reasoning), [_pairwise_token(t, "") for t in earlier]
    )


def _pairwise_token(token: str, reasoning: str) -> Verdict:
    """``A`` / ``B`` / ``tie`` as a :class:`Verdict` (an error for any other token)."""
    word = token.casefold()
    word = re.sub(r"^(?:response|output|assistant)\s+", "", word)
    mapping: dict[str, PairwiseVerdict] = {"a": "A", "b": "B", "tie": "tie", "draw": "tie"}
    if word not in mapping:
        return Verdict(None, reasoning, f"verdict {token!r} is not A, B or tie")
    return Verdict(mapping[word], reasoning)


def verdict_labels(scale: Scale | Literal["pairwise"]) -> list[str]:
    """The verdict tokens a local judge scores by log-likelihood after its prompt."""
    if scale == "pairwise":
        return list(PAIRWISE_VERDICTS)
    if scale == "pass_fail":
        return ["PASS", "FAIL"]
    top = 5 if scale == "1-5" else 10
    return [str(i) for i in range(1, top + 1)]


def check_rubric(template: str, kind: Literal["pointwise", "pairwise"]) -> str | None:
    """What is wrong with a rubric template (syntax, unknown names, no output), or None."""
    return templates.check_rubric(template, kind)


def render_rubric(template: str, **values: str) -> str:
    """The judge prompt: ``template`` rendered with ``input``, ``output``... (plain text)."""
    return templates.render(template, values)
