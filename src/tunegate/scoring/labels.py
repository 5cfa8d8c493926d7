"""How a free-text answer becomes one of a fixed set of labels: the parse rules.

The rules (``parse:`` of a classification task; docs/labels.md has examples):

* ``word`` (default): the answer names exactly one label, as whole words, and no
  occurrence of it is negated;
* ``first``: the first label the answer names, unless that occurrence is negated;
* ``exact``: the whole answer is a label (case and punctuation aside);
* ``regex``: a pattern's capture group is a label;
* ``substring``: the first configured label found as a substring of the lower-cased
  answer (the common tutorial's rule: lenient, ``"Not positive"`` is ``positive``).

Every rule runs in time linear in the answer's length: occurrences are found in one
left-to-right pass over the answer's words, each compared only with the earlier
occurrence that reaches furthest (never pairwise). Answers longer than
:data:`~tunegate.store.MAX_ANSWER_CHARS` are parsed on their first that many
characters, as the store keeps them.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from tunegate.data.response import MAX_ANSWER_CHARS

__all__ = [
    "DEFAULT_RULE",
    "NEGATION_WINDOW",
    "NEGATION_WORDS",
    "PARSE_RULES",
    "LabelParser",
    "Parsed",
    "check_pattern",
    "normalize",
    "parse_counts",
]

#: The parse rules, by name (the config's ``parse:`` accepts exactly these).
PARSE_RULES: tuple[str, ...] = ("word", "first", "exact", "regex", "substring")
#: The rule used when the config names none.
DEFAULT_RULE = "word"

#: Words that negate a label they precede (after normalisation: ``isn't`` is the two
#: words ``isn t``; a ``t`` after a word ending in ``n`` counts as ``n't``).
NEGATION_WORDS: frozenset[str] = frozenset(
    [
        "not",
        "no",
        "never",
        "neither",
        "nor",
        "none",
        "nothing",
        "without",
        "cannot",
        "isnt",
        "arent",
        "wasnt",
        "werent",
        "dont",
        "doesnt",
        "didnt",
        "cant",
        "couldnt",
        "wont",
        "wouldnt",
        "shouldnt",
        "hasnt",
        "havent",
        "hadnt",
        "aint",
        "mustnt",
        "neednt",
    ]
)
# Every word after which a label may be negated (``t``: the second half of ``n't``).
_NEGATING = NEGATION_WORDS | {"t"}
#: How many words before a label a negation word may stand (in the same clause).
NEGATION_WINDOW = 5
#: Words that start a new clause: a negation before them does not reach past them.
_CLAUSE_WORDS = frozenset({"but", "however", "although", "though", "yet", "whereas"})

#: ``how`` of a parsed answer.
How = Literal["exact", "matched", "unparseable"]


class _PunctuationToSpace(dict[int, str]):
    """A ``str.translate`` table mapping punctuation (P*) and symbols (S*) to a space.

    Filled lazily: each code point's Unicode category is looked up once, on first use.
    """

    def __missing__(self, codepoint: int) -> str:
        char = chr(codepoint)
        value = " " if unicodedata.category(char)[0] in "PS" else char
        self[codepoint] = value
        return value


_PUNCTUATION_TO_SPACE = _PunctuationToSpace()

#: Marks a clause break in the word list (never a word of a normalised label).
_BREAK = "\x00"
#: Punctuation that ends a clause when whitespace or the end follows it ("3.5" and
#: "a,b" are not breaks), and characters that always end one.
_CLAUSE_PUNCTUATION = ".,;:!?\u2026"
_ALWAYS_BREAK = "\n\r\u3001\u3002\uff0c\uff1b\uff1a\uff01\uff1f"


class _WordTable(_PunctuationToSpace):
    """Like :class:`_PunctuationToSpace`, but clause punctuation becomes :data:`_BREAK`
    (a candidate break, kept only before whitespace or the end) and line breaks a break."""

    def __missing__(self, codepoint: int) -> str:
        char = chr(codepoint)
        if char == _BREAK:  # a NUL in the answer itself is a space
            value = " "
        elif char in _CLAUSE_PUNCTUATION:
            value = _BREAK
        elif char in _ALWAYS_BREAK:
            value = f" {_BREAK} "
        else:
            return super().__missing__(codepoint)
        self[codepoint] = value
        return value


_WORD_TABLE = _WordTable()
_NOT_A_BREAK = re.compile(f"{_BREAK}(?=\\S)")


def normalize(text: str) -> str:
    """Normalise text for label matching.

    ``normalize(text) = " ".join(casefold(text) with every P*/S* character -> " ")``
    split on whitespace: casefold, replace each Unicode punctuation or symbol
    character by a space, collapse runs of whitespace and strip the ends.

    >>> normalize("  Very-POSITIVE!! ")
    'very positive'
    """
    return " ".join(text.casefold().translate(_PUNCTUATION_TO_SPACE).split())


def _words(text: str) -> list[str]:
    """The normalised words of ``text``, with :data:`_BREAK` where a clause ends.

    Three passes of C string code (translate, one substitution at candidate breaks,
    split): linear in the length of ``text``.
    """
    marked = text.casefold().translate(_WORD_TABLE)
    if _BREAK in marked:
        marked = _NOT_A_BREAK.sub(" ", marked).replace(_BREAK, f" {_BREAK} ")
    return marked.split()


@dataclass(frozen=True)
class Parsed:
    """How one answer was parsed.

    ``how``: ``exact`` (the normalised answer is a label), ``matched`` (the rule found
    the label in a longer answer) or ``unparseable`` (``label`` is None; ``why`` says
    why: ``no label``, ``several labels``, ``negated``, ``not exactly a label``, ``no match``,
    ``not a label``).
    A failed request (``answer`` None) is unparseable with ``why`` ``no answer``.
    """

    label: str | None
    how: How
    why: str | None = None


def _unparseable(why: str) -> Parsed:
    return Parsed(None, "unparseable", why)


def check_pattern(pattern: str) -> str | None:
    """What is wrong with a ``regex`` rule's pattern (compile error, no group), or None."""
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        return f"invalid regular expression {pattern!r}: {exc}"
    if compiled.groups < 1:
        return f"the pattern {pattern!r} needs a capture group (the label), e.g. 'is (\\w+)'"
    return None


class LabelParser:
    """Map free-text answers to one of a fixed set of labels, by a parse rule.

    ``LabelParser(labels)`` uses the default rule (``word``); ``rule`` names another of
    :data:`PARSE_RULES`, and ``pattern`` is the ``regex`` rule's pattern (its group named
    ``label``, else its first group, holds the label). The labels are normalised once,
    here; two labels that normalise to the same text, or a label that normalises to
    nothing, are rejected with :class:`ValueError`, as are an unknown rule and a bad
    pattern. Calling the parser returns the label (None: unparseable); :meth:`parse`
    also says how the answer was parsed.
    """

    __slots__ = ("_by_first_token", "_exact", "_longest", "_regex", "labels", "pattern", "rule")

    def __init__(
        self, labels: Sequence[str], rule: str = DEFAULT_RULE, pattern: str | None = None
    ) -> None:
        self.labels: tuple[str, ...] = tuple(labels)
        if not self.labels:
            raise ValueError("labels must not be empty")
        if rule not in PARSE_RULES:
            raise ValueError(f"unknown parse rule {rule!r}; choose from {', '.join(PARSE_RULES)}")
        self.rule = rule
        self.pattern = pattern
        self._regex: re.Pattern[str] | None = None
        if rule == "regex":
            if pattern is None:
                raise ValueError("the regex parse rule needs a pattern")
            problem = check_pattern(pattern)
            if problem:
                raise ValueError(problem)
            self._regex = re.compile(pattern)
        elif pattern is not None:
            raise ValueError(f"a pattern is for the regex parse rule, not {rule!r}")
        exact: dict[str, str] = {}
        by_first_token: dict[str, list[tuple[list[str], str]]] = {}
        for label in self.labels:
            key = normalize(label)
            if not key:
                raise ValueError(f"label {label!r} is empty once punctuation is removed")
            if key in exact:
                raise ValueError(
                    f"labels {exact[key]!r} and {label!r} are the same once normalised ({key!r})"
                )
            exact[key] = label
            tokens = key.split()
            by_first_token.setdefault(tokens[0], []).append((tokens, label))
        for candidates in by_first_token.values():  # the longest label first at a position
            candidates.sort(key=lambda item: -len(item[0]))
        self._exact = exact
        self._by_first_token = by_first_token
        self._longest = max(len(key.split()) for key in exact)

    def __call__(self, answer: str | None) -> str | None:
        """Return the configured label the answer names, or ``None`` if unparseable."""
        return self.parse(answer).label

    def parse(self, answer: str | None) -> Parsed:
        """The label of ``answer`` under the parser's rule, and how it was found."""
        if answer is None:
            return _unparseable("no answer")
        if len(answer) > MAX_ANSWER_CHARS:
            answer = answer[:MAX_ANSWER_CHARS]
        if self.rule in ("word", "first"):
            return self._scan(_words(answer), first=self.rule == "first")
        exact = self._exact.get(normalize(answer))
        if exact is not None:
            return Parsed(exact, "exact")
        if self.rule == "substring":
            lowered = answer.lower()
            for label in self.labels:
                if label.lower() in lowered:
                    return Parsed(label, "matched")
            return _unparseable("no label")
        if self.rule == "regex":
            assert self._regex is not None
            match = self._regex.search(answer)
            if match is None:
                return _unparseable("no match")
            group = "label" if "label" in self._regex.groupindex else 1
            found = self._exact.get(normalize(match.group(group) or ""))
            return _unparseable("not a label") if found is None else Parsed(found, "matched")
        return _unparseable("not exactly a label")

    def _scan(self, words: list[str], *, first: bool) -> Parsed:
        """The ``word`` and ``first`` rules: one pass over the answer's words.

        At each position only the longest label starting there counts. An occurrence is
        dropped when it lies inside an earlier occurrence (``reach``: the furthest end
        of the occurrences so far; an earlier start with an end at least as far is a
        longer occurrence holding it), so no occurrence is compared with another.
        """
        n = len(words)
        if n <= 4 * self._longest + 4:  # short enough to be a label and its punctuation
            exact = self._exact.get(" ".join(w for w in words if w != _BREAK))
            if exact is not None:
                return Parsed(exact, "exact")
        vocabulary = set(words)
        starts = vocabulary.intersection(self._by_first_token)
        if not starts:
            return _unparseable("no label")
        one_word = all(len(self._by_first_token[w][0][0]) == 1 for w in starts)
        if one_word and not first and vocabulary.isdisjoint(_NEGATING):
            # Single-word labels, nothing that could negate them: the labels present are
            # the answer's (a shortcut with the result of the pass below).
            present = {self._by_first_token[w][0][1] for w in starts}
            if len(present) > 1:
                return _unparseable("several labels")
            return Parsed(present.pop(), "matched")
        if one_word and first:
            start = min(words.index(w) for w in starts)
            if _negated(words, max(0, start - NEGATION_WINDOW), start):
                return _unparseable("negated")
            return Parsed(self._by_first_token[words[start]][0][1], "matched")
        return self._walk(words, first=first)

    def _walk(self, words: list[str], *, first: bool) -> Parsed:
        by_first = self._by_first_token
        reach = 0
        found: str | None = None
        for start, word in enumerate(words):
            candidates = by_first.get(word)
            if candidates is None:
                continue
            hit = _longest_at(words, start, candidates)
            if hit is None:
                continue
            end, label = hit
            if end <= reach:  # inside an earlier, longer occurrence
                continue
            negated = _negated(words, max(reach, start - NEGATION_WINDOW), start)
            reach = end
            if negated:
                return _unparseable("negated")
            if first:
                return Parsed(label, "matched")
            if found is None:
                found = label
            elif found != label:
                return _unparseable("several labels")
        return _unparseable("no label") if found is None else Parsed(found, "matched")


def _longest_at(
    words: list[str], start: int, candidates: list[tuple[list[str], str]]
) -> tuple[int, str] | None:
    """The end and label of the longest label starting at ``words[start]`` (candidates:
    the labels whose first word it is, longest first), or None."""
    for label_words, label in candidates:
        end = start + len(label_words)
        if len(label_words) == 1 or words[start:end] == label_words:
            return end, label
    return None


def _negated(words: list[str], low: int, start: int) -> bool:
    """A negation word among ``words[low:start]``, nearest first, before a clause break."""
    for position in range(start - 1, low - 1, -1):
        word = words[position]
        if word == _BREAK or word in _CLAUSE_WORDS:
            return False
        if word in NEGATION_WORDS:
            return True
        if word == "t" and position > 0 and words[position - 1].endswith("n"):
            return True  # isn't, don't, can't, won't ...
    return False


def parse_counts(parsed: Iterable[Parsed], rule: str = DEFAULT_RULE) -> dict[str, Any]:
    """How a model's answers were parsed, for the reports.

    ``{"rule": ..., "exact": n, "matched": n, "unparseable": n, "failed": n, "why":
    {reason: n}}``; failed requests (``why`` ``no answer``) had nothing to parse: they are
    counted under ``failed`` only, never as unparseable.
    """
    counts: Counter[str] = Counter()
    why: Counter[str] = Counter()
    failed = 0
    for p in parsed:
        if p.why == "no answer":
            failed += 1
            continue
        counts[p.how] += 1
        if p.why is not None:
            why[p.why] += 1
    return {
        "rule": rule,
        "exact": counts["exact"],
        "matched": counts["matched"],
        "unparseable": counts["unparseable"],
        "failed": failed,
        "why": dict(sorted(why.items())),
    }
