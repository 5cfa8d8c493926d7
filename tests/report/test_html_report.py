"""The HTML report of a real run (three models, two suites, a gate): its content, its
safety (CSP, escaping, no secret), the ``tunegate report`` command, and the page in a
real chromium driven by Playwright."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from chromium import launched, needs_chromium
from report_project import CANARY, HOSTILE, big_answer, write_project
from servers import openai_app, serve

from tunegate.config import load_config
from tunegate.pipeline.flow import RunOptions, run
from tunegate.report.html import render_html, write_html
from tunegate.report.json_report import to_json

KEY_ENV = "TG_REPORT_CANARY_KEY"
browser = needs_chromium


@dataclass
class Report:
    folder: Path
    config: Path
    result: dict[str, Any]
    html: Path
    requests: list[dict[str, Any]]


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Report:
    folder = tmp_path_factory.mktemp("html-report")
    app = openai_app(answer=big_answer, require_key=CANARY)
    old = os.environ.get(KEY_ENV)
    os.environ[KEY_ENV] = CANARY
    try:
        with serve(app) as url:
            config = write_project(folder, url + "/v1")
            result = run(load_config(config), RunOptions(store_path=folder / "t.db"), folder)
            # A second run of the same config (all cached) for `report --against`.
            run(load_config(config), RunOptions(store_path=folder / "t.db"), folder)
    finally:
        if old is None:
            os.environ.pop(KEY_ENV, None)
        else:
            os.environ[KEY_ENV] = old
    data = to_json(result)
    html = write_html(data, folder / "report.html")
    return Report(folder, config, data, html, list(app.state.log.entries))


def _suite(result: dict[str, Any], name: str) -> dict[str, Any]:
    return next(s for s in result["suites"] if s["name"] == name)


def _inline_script(page: str) -> str:
    scripts = re.findall(r"<script( [^>]*)?>(.*?)</script>", page, re.S)
    executable = [body for attrs, body in scripts if "application/json" not in (attrs or "")]
    assert len(executable) == 1
    return executable[0]


def _data_block(page: str) -> Any:
    match = re.search(r'<script type="application/json" id="tg-data">(.*?)</script>', page, re.S)
    assert match is not None
    return json.loads(match.group(1))


def _error_ids(result: dict[str, Any], suite: str) -> set[str]:
    return {r["case_id"] for r in _suite(result, suite)["cases"] if r["error"] is not None}


# --------------------------------------------------------------------------- the file


def test_the_run_used_the_canary_key_and_no_report_contains_it(report: Report) -> None:
    auth = [e["headers"].get("authorization") for e in report.requests]
    assert auth
    assert all(a == f"Bearer {CANARY}" for a in auth)
    assert _suite(report.result, "sentiment")["models"]["big"]["errors"] == 0
    page = report.html.read_text(encoding="utf-8")
    assert CANARY not in page
    assert CANARY[-12:] not in page
    assert KEY_ENV not in page  # not even the variable's name: only identities are shown


def test_content_security_policy_allows_exactly_the_inline_script(report: Report) -> None:
    page = report.html.read_text(encoding="utf-8")
    script = _inline_script(page)
    digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode()
    csp = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]*)">', page)
    assert csp is not None
    assert csp.group(1) == (
        f"default-src 'none'; script-src 'sha256-{digest}'; style-src 'unsafe-inline'; "
        "img-src data:; connect-src 'none'; base-uri 'none'; form-action 'none'"
    )
    assert page.index("Content-Security-Policy") < page.index("<script")
    # No event-handler attribute or javascript: URL anywhere outside the JSON data.
    markup = re.sub(r'<script type="application/json".*?</script>', "", page, flags=re.S)
    assert not re.search(r"<[^>]+\son\w+=", markup)
    assert "javascript:" not in markup.lower()


def test_hostile_outputs_only_inside_the_escaped_json_block(report: Report) -> None:
    page = report.html.read_text(encoding="utf-8")
    for hostile in HOSTILE:
        assert hostile not in page
    assert "window.__pwned" in page  # present, but only escaped
    assert page.count("<script") == 2
    assert page.count("</script>") == 2
    data = _data_block(page)
    sentiment = next(s for s in data["suites"] if s["name"] == "sentiment")
    answers = {c[0]: c[4][sentiment["models"].index("base")][0] for c in sentiment["cases"]}
    assert [answers[f"s-{i:05d}"] for i in range(len(HOSTILE))] == HOSTILE
    inputs = {c[0]: c[1] for c in sentiment["cases"]}
    assert inputs["s-00007"].endswith("<script>window.__pwned=4</script>")


def test_verdict_criteria_and_numbers_come_from_the_result(report: Report) -> None:
    page = report.html.read_text(encoding="utf-8")
    gate = report.result["gate"]
    assert gate["verdict"] == "INCONCLUSIVE"
    assert page.index(gate["verdict"]) < page.index("Paired deltas")  # the verdict first
    for c in gate["criteria"]:
        assert f"{c['estimate']:.3f}" in page
        if c["status"] == "INCONCLUSIVE":
            assert f"≈ {c['required_n']}" in page
    for s in report.result["suites"]:
        for name, m in s["models"].items():
            p50 = m["latency_ms"]["p50"]
            assert f"{p50:.0f} / " in page, name
    big = _suite(report.result, "sentiment")["models"]["big"]
    assert f"{big['cost']['per_1k']:#.3g} USD" in page  # with its currency
    assert f"{big['tokens_per_1k']['prompt']:,.0f} / " in page
    # Token totals labelled as totals (the terminal's and Markdown's numbers), per 1,000 beneath.
    assert "tokens in / out (total)" in page
    assert f"{big['tokens']['prompt']:,} / {big['tokens']['completion']:,}" in page
    assert "per 1,000 answers:" in page


def test_forest_plot_has_one_mark_per_comparison_and_the_thresholds(report: Report) -> None:
    page = report.html.read_text(encoding="utf-8")
    forest = page[
        page.index('<section id="forest">') : page.index(
            "</section>", page.index('<section id="forest">')
        )
    ]
    n = sum(len(s["comparisons"]) for s in report.result["suites"])
    assert n == 6  # sentiment: macro-F1 and accuracy vs base and big; qa: exact match vs both
    assert len(re.findall(r'<g id="forest-mark-\d+"', forest)) == n
    # Thresholds: the three min_delta criteria on a compared metric.
    assert len(re.findall(r'<g id="forest-threshold-\d+"', forest)) == 3


def test_hostile_names_in_tables_and_plots_are_escaped(report: Report) -> None:
    """Run, model, category and criterion names reach tables and SVG text: all escaped."""
    data = json.loads(json.dumps(report.result))
    evil = '<img src=x onerror="window.__pwned=5">'
    data["name"] = evil
    sentiment = data["suites"][0]
    for m in sentiment["models"].values():
        m["categories"][evil] = m["categories"].pop("books")
    sentiment["category_comparisons"][0]["category"] = evil
    data["gate"]["criteria"][0]["description"] = evil
    sentiment["comparisons"][0]["baseline"] = evil  # a forest-plot label
    page = render_html(data)
    markup = re.sub(r'<script type="application/json".*?</script>', "", page, flags=re.S)
    assert evil not in page
    assert "<img" not in markup
    assert markup.count("&lt;img src=x onerror=") >= 4  # title, h1, criterion, table, SVG


def test_same_result_renders_the_same_bytes(report: Report) -> None:
    assert render_html(report.result) == report.html.read_text(encoding="utf-8")


def test_no_judgment_section_without_judges_or_a_study(report: Report) -> None:
    assert "Human evaluation and judges" not in report.html.read_text(encoding="utf-8")


# --------------------------------------------------------------------------- commands


def _cli(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tunegate.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, **(env or {})},
        check=False,
    )


def test_report_command_renders_the_stored_run_and_changes(report: Report) -> None:
    out = report.folder / "cmd"
    done = _cli(
        "report",
        "latest",
        "--against",
        "previous",
        "--store",
        "t.db",
        "--html",
        str(out / "r.html"),
        "--markdown",
        str(out / "r.md"),
        "--json",
        str(out / "r.json"),
        cwd=report.folder,
    )
    assert done.returncode == 0, done.stderr
    assert f"HTML report: {out / 'r.html'}" in done.stdout
    page = (out / "r.html").read_text(encoding="utf-8")
    assert "Changes since run" in page
    assert "0 fixed, 0 broken" in page  # the same config and answers twice
    stored = json.loads((out / "r.json").read_text(encoding="utf-8"))
    assert stored["gate"]["verdict"] == report.result["gate"]["verdict"]
    assert (out / "r.md").read_text(encoding="utf-8").startswith("## tunegate · report-demo")
    assert CANARY not in page + (out / "r.md").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("report", "no-such-run", "--html", "x.html"), "no run matches 'no-such-run'"),
        (("report",), "nothing to write"),
        (("report", "--store", "missing.db", "--html", "x.html"), "no store here"),
    ],
)
def test_report_command_errors_exit_2(report: Report, args: tuple[str, ...], message: str) -> None:
    if "--store" not in args:
        args = (*args, "--store", "t.db")
    done = _cli(*args, cwd=report.folder)
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr
    assert not (report.folder / "x.html").exists()


def test_run_writes_html(report: Report) -> None:
    with serve(openai_app(answer=big_answer, require_key=CANARY)) as url:
        config = write_project(report.folder / "cli-run", url + "/v1", n_sentiment=30)
        done = _cli(
            "run", str(config), "-q", "--html", "out/report.html",
            cwd=config.parent, env={KEY_ENV: CANARY},
        )  # fmt: skip
    verdict = {0: "SHIP", 1: "ITERATE", 3: "INCONCLUSIVE"}.get(done.returncode)
    assert verdict is not None, done.stderr
    page = (config.parent / "out" / "report.html").read_text(encoding="utf-8")
    assert f'<span class="verdict-word">{verdict}</span>' in page
    assert f"HTML report: out{os.sep}report.html" in done.stdout
    assert CANARY not in page


# --------------------------------------------------------------------------- chromium


@pytest.fixture(scope="module")
def chromium(report: Report) -> Iterator[Any]:
    # After the run: Playwright's sync API holds an event loop, and the run starts its own.
    with launched() as browser:
        yield browser


@dataclass
class Opened:
    page: Any
    requests: list[str]
    dialogs: list[str]
    errors: list[str]


@pytest.fixture
def opened(chromium: Any, report: Report) -> Iterator[Opened]:
    context = chromium.new_context()
    page = context.new_page()
    seen = Opened(page, [], [], [])
    page.on("request", lambda r: seen.requests.append(r.url))
    page.on("dialog", lambda d: (seen.dialogs.append(d.message), d.dismiss()))
    page.on("pageerror", lambda e: seen.errors.append(str(e)))
    page.goto(report.html.as_uri())
    page.wait_for_selector("body[data-ready='1']", timeout=10_000)
    yield seen
    context.close()


def _count_is(page: Any, pattern: str) -> None:
    """Wait for the match count (the page's CSP forbids Playwright's string evaluation)."""
    from playwright.sync_api import expect

    expect(page.locator("#p-count")).to_have_text(re.compile("^" + pattern))


def _ids_on_all_pages(page: Any) -> list[str]:
    if page.is_enabled("#p-first"):
        page.click("#p-first")
    ids: list[str] = []
    while True:
        ids += page.eval_on_selector_all(
            "#case-table tbody tr", "rows => rows.map(r => r.dataset.caseId)"
        )
        if page.is_disabled("#p-next"):
            return ids
        page.click("#p-next")


@pytest.mark.browser
@browser
def test_verdict_is_visible(opened: Opened, report: Report) -> None:
    banner = opened.page.locator("#verdict-banner")
    assert banner.is_visible()
    assert report.result["gate"]["verdict"] in banner.inner_text()
    assert not opened.errors


@pytest.mark.browser
@browser
def test_errors_only_shows_exactly_the_error_cases(opened: Opened, report: Report) -> None:
    page = opened.page
    page.select_option("#f-show", "errors")
    ids = _ids_on_all_pages(page)
    expected = _error_ids(report.result, "sentiment")
    assert len(expected) == 7
    assert sorted(ids) == sorted(expected)
    assert page.inner_text("#p-count") == f"{len(expected)} of 120 cases"


@pytest.mark.browser
@browser
def test_search_finds_a_case_by_a_word_of_its_input(opened: Opened) -> None:
    page = opened.page
    page.fill("#f-search", "zephyr")
    _count_is(page, r"1 of ")
    assert _ids_on_all_pages(page) == ["s-00042"]
    page.fill("#f-search", "kettle broken")  # every word, anywhere in the case
    _count_is(page, r"([02-9]|\d\d+) of ")
    for case_id in _ids_on_all_pages(page):
        row = page.locator(f'tr[data-case-id="{case_id}"]').inner_text()
        assert "kettle" in row
        assert "broken" in row


@pytest.mark.browser
@browser
def test_paging_reaches_the_last_case(opened: Opened, report: Report) -> None:
    page = opened.page
    ids = _ids_on_all_pages(page)
    assert len(ids) == 120
    assert ids[-1] == "s-00119"
    assert page.inner_text("#p-info") == "page 3 of 3"
    assert page.locator("#case-table tbody tr").count() == 20  # one page in the DOM
    page.click("#p-first")
    page.click("#p-last")
    assert page.locator('tr[data-case-id="s-00119"]').is_visible()


@pytest.mark.browser
@browser
def test_forest_plot_marks_in_the_browser(opened: Opened, report: Report) -> None:
    n = sum(len(s["comparisons"]) for s in report.result["suites"])
    assert opened.page.locator('#forest g[id^="forest-mark-"]').count() == n
    assert opened.page.locator("#forest svg").is_visible()


@pytest.mark.browser
@browser
def test_fixed_and_failed_scorer_filters(opened: Opened, report: Report) -> None:
    page = opened.page
    rows = {(r["case_id"], r["model"]): r for r in _suite(report.result, "sentiment")["cases"]}
    page.select_option("#f-baseline", "base")
    page.select_option("#f-show", "fixed")
    fixed = {
        cid
        for (cid, m), r in rows.items()
        if m == "tuned" and r["correct"] and not rows[(cid, "base")]["correct"]
    }
    assert sorted(_ids_on_all_pages(page)) == sorted(fixed)
    page.select_option("#f-suite", "1")  # qa
    page.select_option("#f-show", "scorer:contains")
    failed = {
        r["case_id"] for r in _suite(report.result, "qa")["cases"] if "contains" in r["failed"]
    }
    assert failed
    assert sorted(_ids_on_all_pages(page)) == sorted(failed)


@pytest.mark.browser
@browser
def test_hostile_outputs_are_text_and_nothing_runs_or_loads(opened: Opened, report: Report) -> None:
    page = opened.page
    for i, hostile in enumerate(HOSTILE):
        page.click(f'tr[data-case-id="s-{i:05d}"]')
        card = page.locator('#case-detail .card[data-model="base"] pre')
        assert card.inner_text() == hostile
    page.click('tr[data-case-id="s-00007"]')
    assert (
        page.locator("#case-detail pre")
        .first.inner_text()
        .endswith("<script>window.__pwned=4</script>")
    )
    page.fill("#f-search", "pwned")
    _count_is(page, r"4 of ")
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert page.locator("#case-table img, #case-detail img, #case-detail script").count() == 0
    assert opened.dialogs == []
    assert opened.requests == [report.html.as_uri()]
    assert not opened.errors


@pytest.mark.browser
@browser
def test_summary_is_readable_without_javascript(chromium: Any, report: Report) -> None:
    context = chromium.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(report.html.as_uri())
    assert page.locator("#verdict-banner").is_visible()
    assert page.locator("table.criteria tbody tr").count() == len(report.result["gate"]["criteria"])
    assert page.locator("#forest svg").is_visible()
    assert page.locator("#browser").is_hidden()
    context.close()


@pytest.mark.browser
@browser
def test_a_phone_wide_page_never_scrolls_sideways(chromium: Any, report: Report) -> None:
    context = chromium.new_context(viewport={"width": 400, "height": 800})
    page = context.new_page()
    page.goto(report.html.as_uri())
    page.wait_for_selector("body[data-ready='1']", timeout=10_000)
    page.locator("#case-table tbody tr").nth(7).click()  # hostile input, opened under its row
    assert page.locator("tr.detail-row #case-detail").is_visible()
    assert page.evaluate("document.scrollingElement.scrollWidth") <= 400
    # Wide tables scroll in their own box; numbers and intervals stay on one line.
    boxes = page.eval_on_selector_all(".tw", "els => els.map(e => e.scrollWidth > e.clientWidth)")
    assert any(boxes)
    heights = page.eval_on_selector_all(  # (the per-1,000 note may take two lines)
        "table.models td.num .ci:not(.per1k)", "els => els.map(e => e.getClientRects().length)"
    )
    assert heights
    assert set(heights) == {1}
    context.close()


@pytest.mark.browser
@browser
def test_a_confusion_matrix_cell_lists_its_cases(opened: Opened, report: Report) -> None:
    suite = _suite(report.result, "sentiment")
    labels = suite["labels"]
    rows = [r for r in suite["cases"] if r["model"] == "tuned"]
    # Row "positive", column "negative" of tuned's matrix; then its error column.
    want = sorted(
        r["case_id"]
        for r in rows
        if r["reference"] == "positive" and r["error"] is None and r["prediction"] == "negative"
    )
    assert len(want) == suite["models"]["tuned"]["confusion"][0][1]
    page = opened.page
    page.locator("figure.cm[data-model='tuned'] g#cm-0-0-0-1 path").click()
    _count_is(page, f"{len(want)} of ")
    assert sorted(_ids_on_all_pages(page)) == want
    assert "tuned: true positive, predicted negative" in page.locator("#f-show").inner_text()
    errors = sorted(r["case_id"] for r in rows if r["reference"] == "positive" and r["error"])
    page.locator(f"figure.cm[data-model='tuned'] g#cm-0-0-0-{len(labels) + 1} path").click()
    _count_is(page, f"{len(errors)} of ")
    assert sorted(_ids_on_all_pages(page)) == errors
    assert not opened.errors
