"""The Markdown report quotes data as text: rendered by GitHub's own renderer (cmark-gfm,
every GFM extension, raw HTML let through so that any would show) and by markdown-it-py
(CommonMark with tables), nothing that came from a model name, a category, an error text
or a judge's or study's name becomes an HTML element, a link, an image or emphasis, and
every table keeps its columns."""

from __future__ import annotations

import re
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path

import cmarkgfm  # type: ignore[import-untyped]
import pytest
from cmarkgfm.cmark import Options  # type: ignore[import-untyped]
from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from tunegate.config import parse_config
from tunegate.data import Case
from tunegate.pipeline.evaluating import evaluate_run
from tunegate.report.markdown import md_escape, to_markdown
from tunegate.results import RunResult
from tunegate.runner import ModelRun
from tunegate.store import Response

HOSTILE = [
    "<img src=//host/x>",
    "<script>alert(1)</script>",
    "[click](http://evil.example/)",
    "![i](//host/i.png)",
    "http://evil.example/a",
    "www.evil.example",
    "mail@evil.example",
    "@everyone",
    "<http://evil.example>",
    "[ref]: http://evil.example",
    "`code` *em* _em_ __strong__ ~~del~~ $x$",
    "a | b | c",
    "line\n# heading\n- item\n> quote",
    "&lt;img src=x&gt; &amp;",
    "<!-- hidden -->",
    "1. first",
    "\\*not em\\*",
    "x]: y",
    "name #",
]


def _gfm(text: str) -> str:
    return str(cmarkgfm.github_flavored_markdown_to_html(text, options=Options.CMARK_OPT_UNSAFE))


_MDIT = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
RENDERERS: dict[str, Callable[[str], str]] = {"cmark-gfm": _gfm, "markdown-it": _MDIT.render}


class _Page(HTMLParser):
    """The tags of a rendered page, its text, and the cells of each table row."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.text: list[str] = []
        self.tables: list[list[int]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append(0)
        elif tag in ("td", "th"):
            self.tables[-1][-1] += 1

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(rendered: str) -> _Page:
    page = _Page()
    page.feed(rendered)
    page.close()
    return page


# What the report's own Markdown makes; anything else came from the data.
OWN_TAGS = {"h2", "h3", "h4", "p", "strong", "ul", "li", "code", "table", "thead", "tbody"}
OWN_TAGS |= {"tr", "th", "td"}


def _shown(text: str) -> str:
    """``text`` as it reads once rendered: one line, the word joiner after ``@`` dropped."""
    return re.sub(r"[\x00-\x1f\x7f\x85\u2028\u2029]+", " ", text).replace("\u2060", "")


def _words(text: str) -> str:
    """Whitespace aside (renderers trim and some collapse it)."""
    return " ".join(text.split())


def _hostile_result(tmp_path: Path) -> RunResult:
    labels = ["pos<img src=//host/l>", "neg"]
    cand, base = "ft<img src=//host/m>", "[b](http://evil.example/)|x"
    cases = [
        Case(id=f"c{i}", text=f"t{i}", reference=labels[i % 2], category=HOSTILE[i % len(HOSTILE)])
        for i in range(2 * len(HOSTILE))
    ]
    failure = "HTTP 500: " + " ".join(HOSTILE)

    def run(name: str, right: int) -> ModelRun:
        responses = []
        for i, c in enumerate(cases):
            wrong = labels[(labels.index(c.reference) + 1) % 2]
            error = failure if i == len(cases) - 1 else None
            text = None if error else (c.reference if i < right else wrong)
            responses.append(
                Response(
                    case_id=c.id,
                    model=name,
                    key=f"{name}{i}",
                    text=text,
                    error=error,
                    latency_ms=10.0 + i,
                )
            )
        return ModelRun(name, responses)

    config = parse_config(
        {
            "name": "run <script>x</script> *now*",
            "dataset": {"path": "x.jsonl"},
            "task": {"labels": labels},
            "models": {
                cand: {"type": "python", "function": "m:f"},
                base: {"type": "python", "function": "m:g"},
            },
            "gate": {"criteria": [{"metric": "accuracy", "vs": base, "min_delta": 0.05}]},
            "bootstrap": 200,
        },
        source=tmp_path / "tunegate.yaml",
    )
    result = evaluate_run(config, "run-1", cases, {cand: run(cand, 30), base: run(base, 8)})
    # A judge and a human study with hostile names, in the shape the reports read.
    rate = {"value": 0.5, "ci": [0.25, 0.75]}
    pair = {
        "wins": 3,
        "ties": 1,
        "losses": 2,
        "inconsistent": 0,
        "errors": 1,
        "win_rate": rate,
        "decisive_win_rate": {"value": 0.6, "p_value": 0.5},
        "position_bias": {"value": 0.5, "n": 6},
        "length_bias": {"value": 0.5, "n": 6},
    }
    result.main.judges = {
        "judges": [
            {
                "kind": "pointwise",
                "name": "grader <img src=//host/j>",
                "judge": "[j](http://evil.example/)",
                "scale": "1-5 | <b>",
                "models": {
                    cand: {"judged": 5, "n": 6, "errors": 1, "mean_score": 4.0, "pass_rate": 0.8}
                },
                "calls": {"total": 6, "cached": 0, "errors": 1, "retries": 0},
            },
            {
                "kind": "pairwise",
                "name": "pair <img src=//host/p>",
                "judge": "j",
                "baselines": {base: {**pair, "categories": {HOSTILE[0]: pair}}},
                "calls": {"total": 12, "cached": 0, "errors": 1, "retries": 0},
            },
        ]
    }
    result.human = {
        "study": "study <img src=//host/s>",
        "preference": {"candidate": cand, "baseline": base, "win_rate": rate, "n_votes": 10},
        "agreement": {"fleiss": {"value": 0.4}},
        "judges": [
            {
                "judge": "judge <img src=//host/h> | x",
                "n_items": 10,
                "errors": 0,
                "percent": {"value": 0.8},
                "cohen_kappa": {"value": 0.6, "ci": [0.2, 0.9]},
            }
        ],
    }
    return result


@pytest.mark.parametrize("renderer", sorted(RENDERERS))
def test_hostile_names_and_errors_render_as_text(tmp_path: Path, renderer: str) -> None:
    result = _hostile_result(tmp_path)
    markdown = to_markdown(result)
    page = _parse(RENDERERS[renderer](markdown))
    assert set(page.tags) <= OWN_TAGS, set(page.tags) - OWN_TAGS
    # Every table keeps its columns: as many cells in each row as in the header.
    assert len(page.tables) >= 6  # gate, models, categories, comparisons, 2 judges, human
    for rows in page.tables:
        assert len(set(rows)) == 1, rows
    shown = "".join(page.text)
    # The data reads as written (a new line in a table cell or a list item becomes a space).
    for text in [*HOSTILE, "ft<img src=//host/m>", "[b](http://evil.example/)|x"]:
        assert _shown(text) in shown.replace("\u2060", ""), text
    assert "run <script>x</script> *now*" in shown
    assert "grader <img src=//host/j>" in shown
    assert "judge <img src=//host/h> | x" in shown
    assert "study <img src=//host/s>" in shown


@pytest.mark.parametrize("renderer", sorted(RENDERERS))
@pytest.mark.parametrize("text", HOSTILE)
def test_each_escaped_string_is_its_text_in_every_place(renderer: str, text: str) -> None:
    escaped = md_escape(text)
    assert "\n" not in escaped
    for block, tags in (
        (f"{escaped}\n", {"p"}),
        (f"- {escaped}\n", {"ul", "li"}),
        (f"### x {escaped}\n", {"h3"}),
        (f"| a | b |\n|---|---|\n| {escaped} | z |\n", {"table", "thead", "tbody", "tr"}),
        (f"**{escaped}**\n", {"p", "strong"}),
    ):
        page = _parse(RENDERERS[renderer](block))
        assert set(page.tags) <= tags | {"th", "td"}, (block, page.tags)
        assert _shown(text).strip(" ") in "".join(page.text).replace("\u2060", "")
        for rows in page.tables:
            assert rows == [2, 2]


_ANY_TEXT = st.text(
    st.characters(blacklist_categories=["Cs"]) | st.sampled_from(list("<>&[]()!`*_~|#-+=:/@.\\$ ")),
    max_size=40,
)


@settings(max_examples=400, deadline=None)
@given(_ANY_TEXT)
def test_any_text_renders_as_itself_in_a_table_cell_and_a_list_item(text: str) -> None:
    escaped = md_escape(text)
    expected = _words(_shown(text))
    for render in RENDERERS.values():
        cell = _parse(render(f"| a | b |\n|---|---|\n| {escaped} | z |\n"))
        assert set(cell.tags) <= {"table", "thead", "tbody", "tr", "th", "td"}, (text, cell.tags)
        assert cell.tables == [[2, 2]], text
        item = _parse(render(f"- {escaped}\n"))
        assert set(item.tags) <= {"ul", "li"}, (text, item.tags)
        assert _words("".join(item.text).replace("\u2060", "")) == expected, (text, escaped)


def test_code_spans_hold_any_name() -> None:
    for name in ("sentiment", "a`b", "`x", "x``", "<img src=//h/x>", "a\nb"):
        page = _parse(_gfm(f"### Suite {md_escape(name, code=True)}\n"))
        assert page.tags == ["h3", "code"], name
        assert "".join(page.text).strip("\n") == "Suite " + name.replace("\n", " ")
