"""The Markdown report, fit for a pull-request comment: verdict first."""

from __future__ import annotations

import re
from pathlib import Path

from tunegate.report.batch import batch_lines
from tunegate.report.files import write_atomic
from tunegate.report.judges import (
    HUMAN_HEADER,
    PAIRWISE_HEADER,
    POINTWISE_HEADER,
    human_line,
    human_rows,
    judge_calls,
    pairwise_rows,
    pointwise_rows,
)
from tunegate.report.parsing import parsing_heading, parsing_line
from tunegate.report.repeats import REPEAT_HEADER, REPEAT_NOTE, repeat_rows
from tunegate.report.replicas import REPLICA_HEADER, replicated_models
from tunegate.report.sequential import sequential_lines
from tunegate.results import CaseRow, RunResult, SuiteResult, units
from tunegate.results.wording import (
    cache_lines,
    column_name,
    conclusion,
    errors_rule,
    estimate,
    interval,
    left_out,
    metric_columns,
    metric_name,
    num,
    p_value,
    run_notes,
    shows_test,
)

_ICON = {"PASS": "✅", "FAIL": "❌", "INCONCLUSIVE": "⚠️", "MISSING": "❔"}
_VERDICT = {"SHIP": "✅ SHIP", "ITERATE": "❌ ITERATE", "INCONCLUSIVE": "⚠️ INCONCLUSIVE"}


# Data quoted by the report (names of models, suites, categories, metrics, labels; error
# text; every sentence that carries them) goes through md_escape, as GitHub renders it.
_BREAKS = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]+")  # a new line starts a block
_ALWAYS = re.compile(r"([\\`*|~$])")  # escapes, code, emphasis, cells, strikethrough, math
_TAG = re.compile(r"<(?=[A-Za-z/!?])")  # an HTML tag, comment, or <autolink>
_UNDERSCORES = re.compile(r"_+")
_LINK = re.compile(r"\](?=[(\[:])")  # closes [text](url), [text][ref], [ref]: url
_URL = re.compile(r"(?i)(?<=[a-z0-9+.-]):(?=//)|(?<![a-z0-9])(www)\.")  # GFM autolinks
_AT = re.compile(r"@(?=[^\W_])")  # e-mail autolinks, @mentions
_FIRST = re.compile(r"^(\s*)(?:([#>+\-=\[])|(\d{1,9})(?=[.)]))")  # blocks at a line start
_LAST = re.compile(r"(\s)(#+)(\s*)$")  # a heading's closing #s


def _in_word(text: str, i: int) -> bool:
    return 0 <= i < len(text) and text[i].isalnum()


def _underscores(m: re.Match[str]) -> str:
    inside = _in_word(m.string, m.start() - 1) and _in_word(m.string, m.end())
    return m.group() if inside else "\\_" * len(m.group())


def md_escape(text: str, code: bool = False) -> str:
    """``text`` from the data as Markdown (CommonMark, GFM) that renders as that text
    (``code``: as a code span, outside tables).

    No HTML element, link, image, emphasis, code span, table cell, heading or list comes
    out of it. Escaped where it would act: ``&`` and a ``<`` that could open a tag become
    entities; ``\\ ` * | ~ $`` always, ``_`` unless inside a word, ``]`` before ``( [ :``,
    ``# > + - = [`` and ``1.`` at the start (``#`` at the end) take a backslash; a URL's
    ``://`` and ``www.`` take one, ``@`` is followed by a word joiner (U+2060: no e-mail
    link, no @mention); a new line or control character becomes a space (in a code span
    too, which only needs a fence longer than any run of backticks inside). Quotes and a
    ``>`` inside the text cannot act once ``<`` and ``[`` cannot open anything.
    """
    text = _BREAKS.sub(" ", text)
    if code and text.strip():  # nothing acts in a code span but a backtick run as long
        fence = "`" * (max(map(len, re.findall("`+", text)), default=0) + 1)
        pad = " " if text[0] in "` " or text[-1] in "` " else ""
        return f"{fence}{pad}{text}{pad}{fence}"
    text = _ALWAYS.sub(r"\\\1", text).replace("&", "&amp;")
    text = _TAG.sub("&lt;", text)
    text = _UNDERSCORES.sub(_underscores, text)
    text = _LINK.sub(r"\\]", text)
    text = _URL.sub(lambda m: m.group(1) + "\\." if m.group(1) else "\\:", text)
    text = _AT.sub("@&#8288;", text)
    text = _FIRST.sub(
        lambda m: m.group(1) + ("\\" + m.group(2) if m.group(2) else m.group(3) + "\\"),
        text,
        count=1,
    )
    return _LAST.sub(r"\1\\\2\3", text)


def _data(row: list[str], *columns: int) -> list[str]:
    """``row`` with the cells at ``columns`` (data) escaped."""
    return [md_escape(c) if i in columns else c for i, c in enumerate(row)]


def _cell(text: str) -> str:
    return re.sub(r"(?<!\\)\|", r"\\|", text).replace("\n", " ")


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return [*lines, ""]


def to_markdown(result: RunResult) -> str:
    """The whole report as Markdown."""
    out: list[str] = [f"## tunegate · {md_escape(result.name)}", ""]
    gate = result.gate
    if gate is not None:
        out += [f"**{_VERDICT[gate.verdict]}** — {md_escape(gate.reason)}", ""]
        out += _table(
            [
                "",
                "criterion",
                "estimate",
                f"{gate.confidence:.0%} interval",
                "judged on",
                "evidence",
            ],
            [
                [
                    _ICON[c.status] + " " + c.status,
                    md_escape(c.description),
                    num(c.estimate),
                    interval(c.ci),
                    md_escape(c.judge),
                    md_escape(c.reason),
                ]
                for c in gate.criteria
            ],
        )
    seq = [x for x in sequential_lines(result.sequential) if x]
    if seq:
        out += [md_escape(x) + "  " for x in seq[:-1]] + [md_escape(seq[-1]), ""]
    out += [
        f"Run {md_escape(result.run_id, code=True)} · seed {result.seed} · {result.confidence:.0%} intervals "
        f"({units.count(result.n_resamples)} bootstrap resamples)",
        "",
    ]
    for suite in result.suites:
        out += _suite_section(suite, result.candidate, result.confidence)
    if batch_lines(result):  # batch: true
        out += [f"- {md_escape(x)}" for x in batch_lines(result)] + [""]
    reused = cache_lines(result)
    if reused:
        out += ["### Answers reused from earlier runs", ""] + [f"- {md_escape(x)}" for x in reused]
        out += [""]
    line = human_line(result)
    if line is not None:
        out += ["### Human evaluation", "", md_escape(line), ""]
        calibrated = human_rows(result)
        if calibrated:
            out += _table(HUMAN_HEADER, [_data(r, 0) for r in calibrated])
    notes = run_notes(result)
    if notes:
        out += ["### Notes", ""] + [f"- {md_escape(n)}" for n in notes] + [""]
    return "\n".join(out)


def _suite_section(suite: SuiteResult, candidate: str, confidence: float) -> list[str]:
    title = (
        "Models"
        if suite.name == "main"
        else f"Suite {md_escape(suite.name, code=True)} ({md_escape(suite.task)})"
    )
    out = [f"### {title} — {suite.n_cases} cases", ""]
    columns = metric_columns(suite)
    priced = any(m.cost is not None for m in suite.models.values())
    rows = []
    for name, m in suite.models.items():
        lat = m.latency_ms
        row = [f"**{md_escape(name)}**" if name == candidate else md_escape(name)]
        row += [estimate(m.metrics[c]) if c in m.metrics else "—" for c in columns]
        row += [
            f"{m.errors} / {m.unparseable}",
            units.latencies(lat),
            units.tokens_cell(m.tokens, m.tokens_per_1k),
        ]
        if priced:
            row.append(units.cost(m.cost))  # digits and a checked currency code
        rows.append(row)
    header = [
        "model",
        *(md_escape(column_name(suite, c)) for c in columns),
        "errors / unparseable",
        units.LATENCY_HEADER,
        units.TOKENS_HEADER,
    ]
    if priced:
        header.append(units.COST_HEADER)
    out += _table(header, rows)
    legacy = any(not c.per_case for c in suite.comparisons)  # stored before issue 20
    if not legacy and any(m.errors for m in suite.models.values()):
        out += [f"Errors: {errors_rule(suite)} in a model's own metrics.", ""]
    heading = parsing_heading({n: m.parsing for n, m in suite.models.items()})
    if heading is not None:
        out += [f"{md_escape(heading)}:", ""]
        for name, m in suite.models.items():
            line = parsing_line(m.parsing)
            if line is not None:
                out.append(f"- {md_escape(name)}: {md_escape(line)}")
        out.append("")
    for name, replica_rows in replicated_models(suite):
        out += [f"#### {md_escape(name)}: {len(replica_rows)} replicas", ""]
        out += _table(REPLICA_HEADER, [_data(r, 0) for r in replica_rows])
    repeated = repeat_rows(suite)
    if repeated:
        out += ["#### Repeated answers", ""]
        out += _table(REPEAT_HEADER, [_data(r, 0) for r in repeated])
        out += [md_escape(REPEAT_NOTE), ""]
    categories = suite.categories
    if categories:
        baselines = suite.category_baselines
        title = "Pass rate per category"
        if suite.regression is not None:
            base = md_escape(str(suite.regression["base"]))
            title += f" (regression vs {base}, margin {suite.regression['margin']:g})"
        out += [f"#### {title}", ""]
        cat_rows = []
        for cat in categories:
            row = [md_escape(cat)]
            for m in suite.models.values():
                info = m.categories.get(cat)
                row.append(
                    "—"
                    if info is None
                    else f"{info['pass_rate']:.3f} {interval(tuple(info['ci']))} (n={info['n']})"
                )
            for b in baselines:
                comp = suite.category_comparison(b, cat)
                row.append(
                    "—"
                    if comp is None
                    else f"{comp.delta:+.3f} {interval(comp.ci)}"
                    + (" ⚠️ drop" if comp.flagged else "")
                )
            cat_rows.append(row)
        out += _table(
            [
                "category",
                *map(md_escape, suite.models),
                *(f"{md_escape(candidate)} - {md_escape(b)}" for b in baselines),
            ],
            cat_rows,
        )
    if suite.comparisons:
        out += [f"#### {md_escape(candidate)} vs baselines (paired)", ""]
        out += _comparison_table(suite)
        out += [
            f"- {md_escape(conclusion(c, confidence, suite))}"
            for c in suite.comparisons
            if c.metric == suite.primary_metric
        ] + [""]
    out += _judges_section(suite)
    out += _failing_cases(suite, candidate)
    return out


#: How many of the candidate's failing cases the Markdown report lists per suite.
FAILING_SHOWN = 10


def case_reason(row: CaseRow) -> str:
    """Why a case did not pass, with the numbers behind it: the error, the scorers' own
    words (``rouge: rougeL 0.37 < 0.5``), or the label given against the expected one."""
    if row.error is not None:
        return f"error: {row.error}"
    if row.detail:
        return row.detail
    if row.prediction is None:
        return "unparseable"
    return f"answered {row.prediction}, expected {row.reference}"


def _failing_cases(suite: SuiteResult, candidate: str) -> list[str]:
    failing = [r for r in suite.cases if r.model == candidate and not r.correct]
    if not failing or suite.metrics == ["perplexity"]:
        return []
    shown = failing[:FAILING_SHOWN]
    more = f" (the first {len(shown)} of {len(failing)})" if len(failing) > len(shown) else ""
    out = [f"#### Cases {md_escape(candidate)} does not pass{more}", ""]
    out += [f"- {md_escape(r.case_id, code=True)}: {md_escape(case_reason(r))}" for r in shown]
    return [*out, ""]


def _comparison_table(suite: SuiteResult) -> list[str]:
    """Delta, interval, McNemar and wins/ties/losses per baseline and metric; the p-value
    and the counts only on the row of the metric they are about, and a column of the cases
    each comparison rests on when some were left out (a model's failed requests)."""
    counted = any(c.n_excluded or not c.n for c in suite.comparisons)
    rows = []
    for c in suite.comparisons:
        show_p, show_wtl = shows_test(c)
        row = [md_escape(c.baseline), md_escape(metric_name(c.metric))]
        row += [md_escape(left_out(c))] if counted else []
        row += [
            f"{c.delta:+.3f}" if c.n else "—",
            interval(c.ci) if c.n else "no case answered by both",
            p_value(c.p_value) if show_p else "—",
            f"{c.wins} / {c.ties} / {c.losses}" if show_wtl else "—",
        ]
        rows.append(row)
    header = ["baseline", "metric", *(["cases (left out)"] if counted else [])]
    header += ["delta", "paired interval", "McNemar", "wins / ties / losses"]
    return _table(header, rows)


def _judges_section(suite: SuiteResult) -> list[str]:
    out: list[str] = []
    pointwise, pairwise = pointwise_rows(suite), pairwise_rows(suite)
    if pointwise:
        rows = [_data(r, 0, 1, 2) for r in pointwise]
        out += ["#### Judge scores", "", *_table(POINTWISE_HEADER, rows)]
    if pairwise:
        rows = [_data(r, 0, 1, 2) for r in pairwise]
        out += ["#### Pairwise judges (both orders)", "", *_table(PAIRWISE_HEADER, rows)]
    calls = judge_calls(suite)
    if calls:
        out += [f"- {md_escape(calls)}", ""]
    return out


def write_markdown(result: RunResult, path: str | Path) -> Path:
    """Write the Markdown report (creating folders); return the path."""
    return write_atomic(path, to_markdown(result))
