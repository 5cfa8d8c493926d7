"""One format per kind of number, and one label per column, for every renderer
(terminal, Markdown, HTML): money with its currency, token totals and token counts per
1,000 answers, latencies in milliseconds, shares as percentages.

Each function takes what the stored result holds (a model's ``cost`` and ``tokens``
mappings, plain numbers), so the HTML report, which renders the JSON dict, and the
terminal and Markdown reports, which render :class:`~tunegate.results.RunResult`,
write the same text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

#: The models table's token column: the run's totals (prompt / completion tokens).
TOKENS_HEADER = "tokens in / out (total)"
#: What the figure under the totals is: tokens per 1,000 answers that reported tokens.
TOKENS_PER_1K = "per 1,000 answers"
#: The models table's cost column (each cell carries its currency).
COST_HEADER = "cost per 1,000 answers"
#: The models table's latency column.
LATENCY_HEADER = "latency p50 / p95 / p99 ms"
#: Shown for a number the run does not have.
DASH = "—"
_CODE = re.compile(r"[A-Z]{3}")


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        return None
    return float(value)


def count(value: Any) -> str:
    """A count with thousands separators (``12,345``), or a dash."""
    number = _number(value)
    return DASH if number is None else f"{round(number):,}"


def money(amount: Any, currency: str | None) -> str:
    """An amount of money with its currency: ``1,234.50 USD`` from 1 up, three significant
    digits below (``0.0123 USD``); no currency for a result stored before prices had one."""
    number = _number(amount)
    if number is None:
        return DASH
    text = f"{number:,.2f}" if abs(number) >= 1 else f"{number:#.3g}"
    if not currency:
        return text
    # The config allows three capital letters; anything else read back is not a currency.
    return f"{text} {currency if _CODE.fullmatch(currency) else '(unknown currency)'}"


def cost(entry: Mapping[str, Any] | None) -> str:
    """A model's cost per 1,000 answers with its currency (``0.0123 USD``), or a dash."""
    if not isinstance(entry, Mapping):
        return DASH
    return money(entry.get("per_1k"), entry.get("currency"))


def currencies(entries: Iterable[Mapping[str, Any] | None]) -> list[str]:
    """The currencies of the priced models, in first-seen order (one: the costs can be
    compared; several: they never are)."""
    seen = [str(e.get("currency") or "") for e in entries if isinstance(e, Mapping)]
    return list(dict.fromkeys(seen))


def tokens(entry: Mapping[str, Any] | None) -> str:
    """Prompt / completion token totals (``1,234 / 567``); a dash for a side not reported."""
    entry = entry or {}
    if _number(entry.get("prompt")) is None and _number(entry.get("completion")) is None:
        return DASH
    return f"{count(entry.get('prompt'))} / {count(entry.get('completion'))}"


def tokens_per_1k(entry: Mapping[str, Any] | None) -> str:
    """``per 1,000 answers: 10,283 / 4,725``, or empty when no tokens were reported."""
    text = tokens(entry)
    return "" if text == DASH else f"{TOKENS_PER_1K}: {text}"


def tokens_cell(
    total: Mapping[str, Any] | None, per_1k: Mapping[str, Any] | None, sep: str = " "
) -> str:
    """The token cell: totals, then ``per 1,000 answers: …`` after ``sep`` (the terminal
    puts it on a line of its own, as the HTML report does; Markdown after a space)."""
    head, tail = tokens(total), tokens_per_1k(per_1k)
    if not tail or head == DASH:
        return head
    return f"{head}\n{tail}" if sep == "\n" else f"{head}{sep}({tail})"


def ms(value: Any) -> str:
    """A latency in whole milliseconds (``1,250``), or a dash."""
    number = _number(value)
    return DASH if number is None else f"{number:,.0f}"


def latencies(entry: Mapping[str, Any] | None) -> str:
    """``p50 / p95 / p99`` in whole milliseconds."""
    entry = entry or {}
    return " / ".join(ms(entry.get(k)) for k in ("p50", "p95", "p99"))


def percent(share: Any, digits: int = 1) -> str:
    """A share (0..1) as a percentage (``12.5%``), or a dash."""
    number = _number(share)
    return DASH if number is None else f"{number:.{digits}%}"


def votes_apart(both_bad: Any, skipped: Any, among: bool = False) -> str:
    """`` (and 3 both bad, 2 skipped)`` after a count of votes for a side or a tie (the
    votes in no preference, besides them), `` (3 both bad, 2 skipped among them)`` after a
    count of all votes (``among``); empty when there are none."""
    parts = [
        f"{int(n)} {what}"
        for n, what in ((both_bad, "both bad"), (skipped, "skipped"))
        if isinstance(n, int) and n
    ]
    if not parts:
        return ""
    return f" ({', '.join(parts)} among them)" if among else f" (and {', '.join(parts)})"
