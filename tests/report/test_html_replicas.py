"""The per-replica table of the HTML report, from a real run, and in a real chromium.

``ft`` is served by three replicas of the loopback OpenAI server: one with
``user:password@`` in its URL, a plain one, and one where nothing listens (refused,
taken out of rotation). ``base`` has a single URL and gets no table. The HTML table
must hold the rows the JSON report's ``run.replicas`` gives (the terminal's and
Markdown's rows), with no password anywhere in the file.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from chromium import launched, needs_chromium
from servers import openai_app, serve

from tunegate.config import parse_config
from tunegate.pipeline.flow import RunOptions, run
from tunegate.report.html import render_html, write_html
from tunegate.report.json_report import to_json
from tunegate.report.markdown import to_markdown
from tunegate.report.replicas import REPLICA_HEADER
from tunegate.runner import RetryPolicy
from tunegate.store import Store, load_run_result

PASSWORD = "hunter2-html-replica-secret"
N = 60
browser = needs_chromium


@dataclass
class Served:
    folder: Path
    result: dict[str, Any]  # the JSON report's dict
    html: Path
    urls: list[str]  # ft's three URLs as configured
    markdown: str


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Served:
    folder: Path = tmp_path_factory.mktemp("html-replicas")
    data = folder / "reviews.jsonl"
    words = {"positive": "great", "negative": "awful"}
    with data.open("w", encoding="utf-8") as f:
        for i in range(N):
            label = ("positive", "negative")[i % 2]
            text = f"review {i}: it is {words[label]}"
            f.write(json.dumps({"text": text, "label": label}) + "\n")
    with serve(openai_app()) as gone:
        pass  # the port is free again: connections to it are refused
    with (
        serve(openai_app(latency_ms=5.0)) as a,
        serve(openai_app(latency_ms=5.0)) as b,
        serve(openai_app()) as c,
    ):
        urls = [a.replace("http://", f"http://tg:{PASSWORD}@") + "/v1", b + "/v1", gone + "/v1"]
        config = parse_config(
            {
                "dataset": {"path": str(data)},
                "task": {"labels": ["positive", "negative"]},
                "models": {
                    "ft": {"type": "openai", "model": "toy", "base_url": urls, "timeout": 5},
                    "base": {"type": "openai", "model": "toy", "base_url": c + "/v1"},
                },
                "compare": {"candidate": "ft", "baselines": ["base"]},
                "bootstrap": 200,
            },
            source=folder / "tunegate.yaml",
        )
        policy = RetryPolicy(base_delay=0.01, max_delay=0.05)
        result = run(config, RunOptions(store_path=folder / "t.db", policy=policy))
    report = to_json(result)
    html = write_html(report, folder / "report.html")
    return Served(folder, report, html, urls, to_markdown(result))


class _Tables(HTMLParser):
    """Every ``<table class="replicas">``: its model, header cells and body rows (text)."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[dict[str, Any]] = []
        self._cell: list[str] | None = None
        self._row: list[str] | None = None
        self._in = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "table" and "replicas" in (a.get("class") or "").split():
            self._in = True
            self.tables.append({"model": a.get("data-model"), "header": [], "rows": []})
        elif self._in and tag == "tr":
            self._row = []
        elif self._in and tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if not self._in:
            return
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None:
            table = self.tables[-1]
            if not table["header"]:
                table["header"] = self._row
            else:
                table["rows"].append(self._row)
            self._row = None
        elif tag == "table":
            self._in = False

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def _tables(page: str) -> list[dict[str, Any]]:
    parser = _Tables()
    parser.feed(page)
    return parser.tables


def _replicas(result: dict[str, Any], model: str) -> dict[str, dict[str, Any]]:
    stats: dict[str, dict[str, Any]] = result["suites"][0]["models"][model]["run"].get(
        "replicas", {}
    )
    return stats


def _expected_rows(stats: dict[str, dict[str, Any]]) -> list[list[str]]:
    """The rows the JSON figures call for, spelled out independently of the renderer."""

    def ms(v: float | None) -> str:
        return "—" if v is None else str(round(v))

    rows = []
    for url, s in stats.items():
        errors = str(s["errors"])
        if s["errors"]:
            errors += " ({:.1f}%)".format(100 * s["errors"] / s["requests"])
        rows.append(
            [
                url,
                str(s["requests"]),
                errors,
                str(s["taken_out"]),
                ms(s["latency_ms_p50"]),
                ms(s["latency_ms_p95"]),
            ]
        )
    return rows


def test_the_json_report_has_ft_replicas_redacted(served: Served) -> None:
    stats = _replicas(served.result, "ft")
    assert list(stats) == [
        served.urls[0].replace(f"tg:{PASSWORD}@", "***@"),
        served.urls[1],
        served.urls[2],
    ]
    live, plain, dead = stats.values()
    assert live["requests"] > 0
    assert plain["requests"] > 0
    assert dead["errors"] == dead["requests"] > 0
    assert dead["taken_out"] >= 1
    assert _replicas(served.result, "base") == {}


def test_html_has_one_replica_table_with_the_json_rows(served: Served) -> None:
    page = served.html.read_text(encoding="utf-8")
    [table] = _tables(page)  # none for base: it has one URL
    assert table["model"] == "ft"
    assert table["header"] == REPLICA_HEADER
    expected = _expected_rows(_replicas(served.result, "ft"))
    assert table["rows"] == expected
    assert any(row[2].endswith("(100.0%)") for row in table["rows"])  # the refused one
    assert "ft: 3 replicas</h3>" in page
    assert "base: 1 replicas" not in page
    # After the models table, before the paired comparison, as in the Markdown report.
    assert (
        page.index('<table class="models">')
        < page.index('<table class="replicas"')
        < page.index("ft against baselines (paired)")
    )


class _AllRows(HTMLParser):
    """The text of every table row of a page (cells stripped)."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def test_html_and_markdown_tables_agree(served: Served) -> None:
    """Each replica row of the HTML report reads the same in the Markdown report as a
    GitHub-flavoured renderer shows it (the Markdown escapes data, e.g. ``\\*``)."""
    import cmarkgfm  # type: ignore[import-untyped]

    [table] = _tables(served.html.read_text(encoding="utf-8"))
    rendered = _AllRows()
    rendered.feed(str(cmarkgfm.github_flavored_markdown_to_html(served.markdown)))
    shown = [[cell.replace("\u2060", "") for cell in row] for row in rendered.rows]
    for row in table["rows"]:
        assert row in shown


def test_no_password_anywhere_in_the_html(served: Served) -> None:
    raw = served.html.read_bytes()
    assert PASSWORD.encode() not in raw
    assert b"tg:" + PASSWORD.encode() not in raw
    assert PASSWORD not in json.dumps(served.result)


def test_the_stored_result_renders_the_same_table(served: Served) -> None:
    # `tunegate report` renders the result stored with the run.
    with Store(served.folder / "t.db") as db:
        stored = load_run_result(db, "latest")
    page = render_html(stored)
    assert PASSWORD not in page
    assert _tables(page) == _tables(served.html.read_text(encoding="utf-8"))


def test_hostile_replica_keys_and_model_names_are_escaped_and_redacted(served: Served) -> None:
    data = copy.deepcopy(served.result)
    suite = data["suites"][0]
    hostile = 'evil"><img src=x onerror=alert(1)>'
    url = "http://u:pa55word@h/<script>alert(2)</script>?api_key=k3ysecret&x=1"
    runs = suite["models"]["ft"]["run"]["replicas"]
    runs[url] = next(iter(runs.values()))
    suite["models"][hostile] = suite["models"].pop("ft")
    page = render_html(data)
    for raw in ("<img src=x", "<script>alert(2)", "pa55word", "k3ysecret", 'evil">'):
        assert raw not in page
    [table] = _tables(page)
    assert table["model"] == hostile  # the parser unescapes the attribute
    assert table["rows"][-1][0] == "http://***@h/<script>alert(2)</script>?api_key=***&x=1"
    assert f"{hostile}: 4 replicas" in page.replace("&#34;", '"').replace("&gt;", ">").replace(
        "&lt;", "<"
    )


# --------------------------------------------------------------------------- chromium


@pytest.fixture(scope="module")
def chromium(served: Served) -> Iterator[Any]:
    # After the run: Playwright's sync API holds an event loop, and the run starts its own.
    with launched() as browser:
        yield browser


@pytest.mark.browser
@browser
@pytest.mark.parametrize("javascript", [True, False])
def test_replica_table_is_visible_in_chromium(
    chromium: Any, served: Served, javascript: bool
) -> None:
    context = chromium.new_context(
        java_script_enabled=javascript, viewport={"width": 1100, "height": 800}
    )
    page = context.new_page()
    errors: list[str] = []
    requests: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: requests.append(r.url))
    page.goto(served.html.as_uri())
    if javascript:
        page.wait_for_selector("body[data-ready='1']", timeout=10_000)
    table = page.locator('table.replicas[data-model="ft"]')
    table.scroll_into_view_if_needed()
    assert table.is_visible()
    box = table.bounding_box()
    assert box is not None
    assert box["width"] > 300
    assert box["height"] > 60
    rows = table.locator("tbody tr")
    expected = _expected_rows(_replicas(served.result, "ft"))
    assert rows.count() == len(expected) == 3
    for i, row in enumerate(expected):
        cells = rows.nth(i).locator("td").all_inner_texts()
        assert [c.strip() for c in cells] == row
        # The long URL cell stays inside the table (it wraps rather than overflows).
        cell = rows.nth(i).locator("td").first.bounding_box()
        assert cell is not None
        assert cell["x"] + cell["width"] <= box["x"] + box["width"] + 1
    assert page.locator("h3.replicas-title").all_inner_texts() == ["ft: 3 replicas"]
    assert PASSWORD not in page.content()
    shot = served.folder / f"replicas-{'js' if javascript else 'nojs'}.png"
    table.screenshot(path=str(shot))
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page.screenshot(path=str(served.folder / "report-page.png"), full_page=True)
    assert not errors
    assert requests == [served.html.as_uri()]  # nothing loaded from anywhere else
    context.close()
