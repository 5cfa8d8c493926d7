"""Label parsing rules (issue 20 item 5) and their cost on long answers (issue 21 item 1)."""

from __future__ import annotations

import signal
import time
import typing
from collections.abc import Iterator

import pytest

from tunegate.config.tasks import LabelParse, ParseRuleName
from tunegate.scoring import labels as labels_module
from tunegate.scoring.classification import LabelParser, parse_label
from tunegate.scoring.labels import PARSE_RULES, Parsed, parse_counts

SENTIMENT = ["negative", "neutral", "positive"]


# --------------------------------------------------------------------------- default: word


@pytest.mark.parametrize(
    "answer",
    [
        "Not positive",
        "not positive.",
        "It isn't negative",
        "It isn\u2019t negative",  # a typographic apostrophe
        "never neutral",
        "I don't think it's positive",
        "It is not very positive",
        "neither positive nor negative",
        "No positive words here",
    ],
)
def test_a_negated_label_is_unparseable_by_default(answer: str) -> None:
    assert parse_label(answer, SENTIMENT) is None
    assert LabelParser(SENTIMENT).parse(answer) == Parsed(None, "unparseable", "negated")


@pytest.mark.parametrize(
    "answer", ["positive or neutral", "Positive, negative", "positive and negative?"]
)
def test_two_labels_are_unparseable_by_default(answer: str) -> None:
    assert LabelParser(SENTIMENT).parse(answer) == Parsed(None, "unparseable", "several labels")


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("No. Positive.", "positive"),  # the negation is in another sentence
        ("No, it is positive", "positive"),  # ... another clause
        ("Not great but positive", "positive"),  # "but" starts a clause
        ("It is positive, not very", "positive"),  # a negation after the label
        ("Not bad at all; overall the review reads as clearly positive", "positive"),
        ("The sentiment is positive", "positive"),
        ("positive positive", "positive"),
    ],
)
def test_a_negation_elsewhere_does_not_touch_the_label(answer: str, expected: str) -> None:
    assert parse_label(answer, SENTIMENT) == expected


def test_exact_answers_are_counted_apart_from_found_ones() -> None:
    parser = LabelParser(SENTIMENT)
    assert parser.parse("  Positive! ") == Parsed("positive", "exact")
    assert parser.parse("It is positive") == Parsed("positive", "matched")
    assert parser.parse("meh") == Parsed(None, "unparseable", "no label")
    assert parser.parse(None) == Parsed(None, "unparseable", "no answer")


def test_a_label_made_of_negation_words_is_a_label_not_a_negation() -> None:
    assert parse_label("No.", ["yes", "no"]) == "no"
    assert parse_label("The answer is no", ["yes", "no"]) == "no"
    assert parse_label("It's not spam.", ["Not_Spam", "SPAM"]) == "Not_Spam"


def test_numbers_with_a_point_still_match() -> None:
    assert parse_label("Rating: 3.5", ["3.5", "4.0"]) == "3.5"


# --------------------------------------------------------------------------- other rules


def test_substring_is_the_tutorial_rule() -> None:
    """The first configured label found in the lower-cased answer, negation or not."""
    parser = LabelParser(SENTIMENT, "substring")
    assert parser("Not positive") == "positive"
    assert parser("positive or negative") == "negative"  # configured order, not position
    assert parser("positively glowing") == "positive"
    assert parser("meh") is None


def test_first_takes_the_first_label_unless_negated() -> None:
    parser = LabelParser(SENTIMENT, "first")
    assert parser("positive, not negative") == "positive"
    assert parser("positive or neutral") == "positive"
    assert parser.parse("Not positive, rather neutral") == Parsed(None, "unparseable", "negated")
    multi = LabelParser(["positive", "very positive"], "first")
    assert multi("very positive, or positive") == "very positive"


def test_exact_takes_only_a_whole_answer() -> None:
    parser = LabelParser(SENTIMENT, "exact")
    assert parser.parse("NEUTRAL.") == Parsed("neutral", "exact")
    assert parser.parse("It is neutral") == Parsed(None, "unparseable", "not exactly a label")


def test_regex_rule_reads_the_capture_group() -> None:
    parser = LabelParser(SENTIMENT, "regex", r"(?i)final answer:\s*(\w+)")
    text = "It is not negative and hardly neutral. Final answer: Positive"
    assert parser.parse(text) == Parsed("positive", "matched")
    assert parser.parse("Final answer: great") == Parsed(None, "unparseable", "not a label")
    assert parser.parse("positive") == Parsed("positive", "exact")
    assert parser.parse("I think positive") == Parsed(None, "unparseable", "no match")
    named = LabelParser(SENTIMENT, "regex", r"(\d+)\. (?P<label>\w+)")
    assert named("1. negative") == "negative"


@pytest.mark.parametrize(
    ("rule", "pattern", "message"),
    [
        ("regex", None, "needs a pattern"),
        ("regex", "no group", "capture group"),
        ("regex", "(", "invalid regular expression"),
        ("word", "(x)", "pattern is for the regex"),
        ("fuzzy", None, "unknown parse rule"),
    ],
)
def test_bad_rules_are_refused(rule: str, pattern: str | None, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        LabelParser(SENTIMENT, rule, pattern)


def test_the_config_offers_the_parser_rules() -> None:
    assert typing.get_args(ParseRuleName) == PARSE_RULES
    assert LabelParse.model_validate("substring").rule == "substring"


def test_parse_counts() -> None:
    parser = LabelParser(SENTIMENT)
    answers = ["positive", "It is negative", "not positive", "positive or neutral", None, "x"]
    counts = parse_counts([parser.parse(a) for a in answers], "word")
    assert counts == {
        "rule": "word",
        "exact": 1,
        "matched": 1,
        "unparseable": 3,
        "failed": 1,  # the None: a failed request, never counted as unparseable
        "why": {"negated": 1, "no label": 1, "several labels": 1},
    }


# --------------------------------------------------------------------------- long answers


@pytest.fixture
def deadline() -> Iterator[None]:
    """Fail (instead of hanging for hours, as the pairwise comparison did) after 60 s."""

    def expire(signum: int, frame: object) -> None:
        raise TimeoutError("parsing took over 60 s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(60)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


LONG = 1_000_000


@pytest.mark.parametrize(
    ("labels", "unit", "rule", "expected"),
    [
        (SENTIMENT, "positive ", "word", "positive"),
        (SENTIMENT, "positive. No, ", "word", "positive"),  # every occurrence looked at
        (["positive", "very positive"], "very positive positive ", "word", None),
        (["positive", "very positive"], "very positive, ", "word", "very positive"),
        (SENTIMENT, "positive ", "first", "positive"),
        (SENTIMENT, "positive ", "substring", "positive"),
    ],
)
def test_a_long_repeated_answer_is_parsed_in_linear_time(
    deadline: None, labels: list[str], unit: str, rule: str, expected: str | None
) -> None:
    """1 MB of repeated labels: ~0.1 s here; the old pairwise comparison took hours.
    The bound is generous (a slow shared machine passes); the speed goal is in
    benchmarks/label_parsing.py."""
    answer = unit * (LONG // len(unit))
    started = time.perf_counter()
    assert LabelParser(labels, rule)(answer) == expected
    assert time.perf_counter() - started < 20


def test_the_walk_looks_at_each_occurrence_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Work is counted, not timed: one negation look-back per occurrence, each over at
    most NEGATION_WINDOW words."""
    looked: list[int] = []
    original = labels_module._negated

    def counting(words: list[str], low: int, start: int) -> bool:
        looked.append(start - low)
        return original(words, low, start)

    monkeypatch.setattr(labels_module, "_negated", counting)
    n = 20_000
    answer = "very positive. no, positive " * n  # negation words and a two-word label
    assert LabelParser(["positive", "very positive"])(answer) is None  # both labels
    looked.clear()
    answer = "very positive. no, " * n
    assert LabelParser(["positive", "very positive"])(answer) == "very positive"
    assert len(looked) == n
    assert max(looked) <= labels_module.NEGATION_WINDOW


def test_an_answer_over_the_store_limit_is_parsed_on_its_stored_part(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(labels_module, "MAX_ANSWER_CHARS", 100)
    answer = "positive " * 11 + "negative"  # "negative" lies beyond the 100 characters kept
    assert LabelParser(SENTIMENT)(answer) == "positive"
