"""The HTML report of a run with a pairwise judge, a rubric judge, a human study (with
both-bad and skipped votes), a model asked each case three times and a served model
priced in EUR with a system prompt, a template and k-shot examples, in chromium at 1400
and 400 px: what it shows equals the JSON report (cost with its currency, token units,
the repeats, the numbers behind a failure, the prompt as sent, run facts without
absolute paths), and nothing scrolls sideways. Screenshots go to the test's folder, or
to ``$TUNEGATE_SHOTS`` when set."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from chromium import launched, needs_chromium
from readable_project import KEY, build, served_answer
from servers import openai_app, serve

from tunegate.report.html import write_html
from tunegate.scoring.base import below

pytestmark = [pytest.mark.browser, needs_chromium]
WIDTHS = [1400, 400]


@dataclass
class Readable:
    result: dict[str, Any]
    html: Path
    folder: Path
    shots: Path


@pytest.fixture(scope="module")
def readable(tmp_path_factory: pytest.TempPathFactory) -> Readable:
    folder = tmp_path_factory.mktemp("readable")
    with serve(openai_app(answer=served_answer, require_key=KEY, model="served-model")) as url:
        result = build(folder / "project", url)
    shots = Path(os.environ.get("TUNEGATE_SHOTS") or folder)
    shots.mkdir(parents=True, exist_ok=True)
    return Readable(result, write_html(result, folder / "report.html"), folder, shots)


def _flat(text: str) -> str:
    return " ".join(text.split())


def _models(result: dict[str, Any]) -> dict[str, Any]:
    models: dict[str, Any] = result["suites"][0]["models"]
    return models


def _row(result: dict[str, Any], case_id: str, model: str) -> dict[str, Any]:
    return next(
        r for r in result["suites"][0]["cases"] if r["case_id"] == case_id and r["model"] == model
    )


def _open(browser: Any, readable: Readable, width: int, case: str = "") -> Any:
    page = browser.new_page(viewport={"width": width, "height": 900})
    page.goto(readable.html.as_uri() + (f"#case=answers/{case}" if case else ""))
    page.wait_for_selector("body[data-ready='1']")
    return page


@pytest.mark.parametrize("width", WIDTHS)
def test_models_facts_and_study_read_as_the_json_says(readable: Readable, width: int) -> None:
    models = _models(readable.result)
    served, tuned = models["served"], models["finetuned"]
    human = readable.result["human"]
    with launched() as browser:
        page = _open(browser, readable, width)
        assert page.evaluate("document.scrollingElement.scrollWidth") <= width
        row = page.locator("#suite-0 table.models tbody tr", has_text="served")
        cells = [_flat(c) for c in row.locator("td").all_inner_texts()]
        per_1k = served["cost"]["per_1k"]
        assert served["cost"]["currency"] == "EUR"
        assert cells[-1] == f"{per_1k:#.3g} EUR"  # the cost, with its currency
        tokens = served["tokens"]
        per = served["tokens_per_1k"]
        assert cells[-2] == (
            f"{tokens['prompt']:,} / {tokens['completion']:,} "
            f"per 1,000 answers: {per['prompt']:,.0f} / {per['completion']:,.0f}"
        )
        head = _flat(page.locator("#suite-0 table.models thead").inner_text())
        assert "tokens in / out (total)" in head
        assert "cost per 1,000 answers" in head
        assert "pass rate" in head
        assert "pass_rate" not in head
        # Repeats: the fine-tune's figures, as stored.
        rep = tuned["repeats"]
        shown = [
            _flat(c)
            for c in page.locator("#suite-0 table.repeats tbody tr")
            .first.locator("td")
            .all_inner_texts()
        ]
        figures = [rep["metrics"][k] for k in ("mean", "pass_at_k", "pass_all_k", "flakiness")]
        assert shown[:3] == ["finetuned", "3", str(rep["complete_cases"])]
        assert shown[3:7] == [
            f"{f['value']:.3f} [{f['ci'][0]:.3f}, {f['ci'][1]:.3f}]" for f in figures
        ]
        assert rep["metrics"]["flakiness"]["value"] > 0  # two questions answered both ways
        # Run facts: the shots file relative to the config's folder, no local path at all.
        facts = _flat(page.locator("#facts").inner_text())
        assert "path: data/train.jsonl" in facts
        assert str(readable.folder) not in page.inner_text("body")
        # The study's line counts the votes that are in no preference.
        both, skipped = human["n_both_bad"], human["n_skipped"]
        assert both
        assert skipped
        study = _flat(page.locator("#judgment").inner_text())
        assert f"{human['n_votes']} votes ({both} both bad, {skipped} skipped among them)" in study
        page.locator("#suite-0").screenshot(path=str(readable.shots / f"report_models_{width}.png"))
        page.screenshot(path=str(readable.shots / f"report_full_{width}.png"), full_page=True)


@pytest.mark.parametrize("width", WIDTHS)
def test_the_drill_down_shows_repeats_prompt_and_numbers(readable: Readable, width: int) -> None:
    rep = _models(readable.result)["finetuned"]["repeats"]
    sent = readable.result["facts"]["prompts"]["answers"]["served"]
    flaky = next(c for c in sorted(rep["outcomes"]) if len(set(rep["outcomes"][c])) > 1)
    with launched() as browser:
        page = _open(browser, readable, width, flaky)
        card = page.locator("#case-detail .card[data-model='finetuned']")
        passed = rep["passed"][flaky]
        share = f"{100 * passed / 3:.1f}%"
        assert _flat(card.locator(".repeats h4").inner_text()) == (
            f"asked 3 times: {passed} of 3 answers pass ({share})"
        )
        items = [_flat(x) for x in card.locator(".repeats li").all_inner_texts()]
        expected = [
            f"{'pass' if o else 'fail'} {_flat(a)}"
            for o, a in zip(rep["outcomes"][flaky], rep["answers"][flaky], strict=True)
        ]
        assert items == expected
        assert "fail" in [i.split()[0] for i in items]
        assert "pass" in [i.split()[0] for i in items]
        # The prompt the served model was sent: system, the examples, this case's turn.
        served = page.locator("#case-detail .card[data-model='served']")
        served.locator("details.prompting summary").click()
        turns = served.locator("details.prompting .turn")
        messages = sent["shared"] + sent["turns"][flaky]
        assert turns.count() == len(messages)
        assert messages[0]["role"] == "system"
        assert messages[-1]["content"].startswith("Question: ")  # the template, rendered
        for i, m in enumerate(messages):
            assert turns.nth(i).get_attribute("data-role") == m["role"]
            assert turns.nth(i).locator("pre").inner_text() == m["content"]
        assert turns.nth(1).locator("h4").inner_text() == "user (example)"
        assert page.evaluate("document.scrollingElement.scrollWidth") <= width
        page.locator("#case-detail").screenshot(
            path=str(readable.shots / f"report_case_{width}.png")
        )
        # A failing case: the numbers behind each failed scorer, as the JSON has them.
        page.goto(readable.html.as_uri() + "#case=answers/q12")
        page.wait_for_selector("tr[data-case-id='q12'] + tr.detail-row")
        row = _row(readable.result, "q12", "finetuned")
        limits = row["thresholds"]
        assert set(limits) == {"rougeL", "judge_score"}
        why = page.locator("#case-detail .card[data-model='finetuned'] dd").first.inner_text()
        lines = why.splitlines()
        assert lines[0] == f"rouge: rougeL {below(row['scores']['rougeL'], limits['rougeL'])}"
        assert lines[1].startswith(
            f"judge_score: {below(row['scores']['judge_score'], limits['judge_score'])}: verdict"
        )
        assert row["detail"] == "; ".join(lines)  # the JSON's detail, one reason a line
        assert page.evaluate("document.scrollingElement.scrollWidth") <= width
        page.locator("#case-detail").screenshot(
            path=str(readable.shots / f"report_failing_{width}.png")
        )
