"""The built-in scorer types: ``build_<type>`` builds a configured scorer of ``<type>``
(:data:`tunegate.scoring.registry.BUILDERS` names each, imported on first use; the
metrics each reports are declared by its config class in :mod:`tunegate.config.scorers`).

A built scorer returns one :class:`~tunegate.scoring.base.Score` per metric it
measures (ROUGE measures four); its *main* score decides whether the case passes
that scorer. Every call is guarded: what a model answered never raises, it fails
the case with the reason.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from tunegate.config.scorers import (
    BleuScorer,
    ChrfScorer,
    ContainsReferenceScorer,
    ContainsScorer,
    CustomScorer,
    EqualsScorer,
    ExactMatchScorer,
    JsonSchemaScorer,
    JsonScorer,
    MaxLatencyScorer,
    RegexScorer,
    RougeScorer,
    ToolCallScorer,
)
from tunegate.data import Case
from tunegate.data.response import MAX_ANSWER_CHARS, Response
from tunegate.errors import ConfigError
from tunegate.scoring import assertions, structured, text
from tunegate.scoring.base import Score
from tunegate.scoring.custom import load_scorer, run_custom
from tunegate.scoring.registry import (
    BuildContext,
    BuiltScorer,
    KindFn,
    WithCorpus,
    build_scorer,
    build_scorers,
)
from tunegate.scoring.values import is_template, render_value

__all__ = ["BuiltScorer", "build_scorer", "build_scorers", "references"]


def references(case: Case) -> list[str]:
    """Every acceptable reference of a case (``metadata["references"]`` or the reference)."""
    refs = case.metadata.get("references")
    if isinstance(refs, list) and refs and all(isinstance(r, str) for r in refs):
        return list(refs)
    return [case.reference]


#: The longest answer ROUGE, BLEU and chrF compare with the references (characters):
#: their cost grows with the answer times the reference (ROUGE-L) or with the answer's
#: n-grams (chrF), so a runaway answer would stall scoring. A longer answer fails these
#: scorers with a detail saying so; corpus BLEU/chrF read its first that many characters.
MAX_COMPARED_CHARS = 100_000


def _answer(response: Response) -> str | None:
    """The answer scored: None for a failed request; cut at the store's cap (an answer
    read back from the store is cut there too, so a re-run scores the same text)."""
    if response.error is not None:
        return None
    text = response.text
    return text[:MAX_ANSWER_CHARS] if text is not None and len(text) > MAX_ANSWER_CHARS else text


def _too_long(answer: str | None) -> str | None:
    if answer is None or len(answer) <= MAX_COMPARED_CHARS:
        return None
    return (
        f"not compared: the answer has {len(answer):,} characters, over the "
        f"{MAX_COMPARED_CHARS:,} that ROUGE, BLEU and chrF compare"
    )


def _compared(texts: Sequence[str | None]) -> list[str | None]:
    return [t[:MAX_COMPARED_CHARS] if t is not None else None for t in texts]


def build_exact_match(sc: ExactMatchScorer, ctx: BuildContext) -> KindFn:
    options = {
        "strip": sc.strip,
        "casefold": not sc.case_sensitive,
        "remove_punctuation": sc.remove_punctuation,
        "remove_articles": sc.remove_articles,
    }
    return lambda c, r: text.exact_match(_answer(r), references(c), **options)


def build_rouge(sc: RougeScorer, ctx: BuildContext) -> KindFn:
    types = text.ROUGE_TYPES

    def rouge_fn(case: Case, response: Response) -> dict[str, Score]:
        answer = _answer(response)
        why = _too_long(answer)
        if why is not None:
            return {t: Score.failure(why) for t in types}
        return text.rouge(answer, references(case), types, sc.use_stemmer, threshold=sc.threshold)

    return rouge_fn


def build_bleu(sc: BleuScorer, ctx: BuildContext) -> WithCorpus:
    lowercase = not sc.case_sensitive

    def bleu_fn(case: Case, response: Response) -> Score:
        answer = _answer(response)
        why = _too_long(answer)
        if why is not None:
            return Score.failure(why)
        return text.sentence_bleu(
            answer,
            references(case),
            tokenize=sc.tokenize,
            lowercase=lowercase,
            threshold=sc.threshold,
        )

    return WithCorpus(
        bleu_fn,
        lambda hyps, refs: (
            text.corpus_bleu(_compared(hyps), refs, sc.tokenize, lowercase=lowercase) / 100
        ),
    )


def build_chrf(sc: ChrfScorer, ctx: BuildContext) -> WithCorpus:
    lowercase = not sc.case_sensitive

    def chrf_fn(case: Case, response: Response) -> Score:
        answer = _answer(response)
        why = _too_long(answer)
        if why is not None:
            return Score.failure(why)
        return text.sentence_chrf(
            answer, references(case), lowercase=lowercase, threshold=sc.threshold
        )

    return WithCorpus(
        chrf_fn,
        lambda hyps, refs: text.corpus_chrf(_compared(hyps), refs, lowercase=lowercase) / 100,
    )


def build_json(sc: JsonScorer, ctx: BuildContext) -> KindFn:
    return lambda c, r: structured.json_valid(_answer(r))


def _load_schema(sc: JsonSchemaScorer, where: str) -> Mapping[str, Any] | bool:
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


def build_json_schema(sc: JsonSchemaScorer, ctx: BuildContext) -> KindFn:
    schema = _load_schema(sc, ctx.where)
    return lambda c, r: structured.json_schema(_answer(r), schema)


def build_tool_call(sc: ToolCallScorer, ctx: BuildContext) -> KindFn:
    def tool_fn(case: Case, response: Response) -> Score:
        if response.error is not None:
            return Score.failure("no answer (the request failed)")
        calls = structured.parse_tool_calls(_answer(response), response.output)
        expected = case.metadata.get("ground_truth")
        if expected is None:
            expected = json.loads(case.reference)
        return structured.score_tool_calls(
            calls, expected, functions=case.metadata.get("functions")
        )

    return tool_fn


def _value(template: str, *, regex: bool = False) -> Callable[[Case], str]:
    """A scorer's value for a case: the value itself, or the template rendered for the
    case (in a regex, inserted text escaped; see :mod:`tunegate.scoring.values`)."""
    if not is_template(template):
        return lambda case: template
    return lambda case: render_value(template, case, regex=regex)


def build_contains(sc: ContainsScorer, ctx: BuildContext) -> KindFn:
    value = _value(sc.value)
    return lambda c, r: assertions.contains(
        _answer(r), value(c), case_sensitive=sc.case_sensitive, negate=sc.negate
    )


def build_contains_reference(sc: ContainsReferenceScorer, ctx: BuildContext) -> KindFn:
    return lambda c, r: assertions.contains_any(
        _answer(r), references(c), case_sensitive=sc.case_sensitive, negate=sc.negate
    )


def build_regex(sc: RegexScorer, ctx: BuildContext) -> KindFn:
    value = _value(sc.value, regex=True)
    return lambda c, r: assertions.regex(
        _answer(r), value(c), case_sensitive=sc.case_sensitive, negate=sc.negate
    )


def build_equals(sc: EqualsScorer, ctx: BuildContext) -> KindFn:
    value = _value(sc.value)
    return lambda c, r: assertions.equals(
        _answer(r), value(c), case_sensitive=sc.case_sensitive, negate=sc.negate
    )


def build_max_latency_ms(sc: MaxLatencyScorer, ctx: BuildContext) -> KindFn:
    return lambda c, r: assertions.max_latency_ms(r.latency_ms, sc.ms, negate=sc.negate)


def build_custom(sc: CustomScorer, ctx: BuildContext) -> KindFn:
    user_fn = load_scorer(sc.function, config_dir=ctx.config_dir)
    return lambda c, r: run_custom(user_fn, c, _answer(r), r.output, threshold=sc.threshold)
