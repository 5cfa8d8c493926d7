"""The HTML report's "Human evaluation and judges" section on a real judged run (a
pairwise judge, a rubric judge, a human study read by the gate), in chromium at 1400
and 400 px: designed tables and a plot rather than the JSON, figures equal to the JSON
report's, no sideways scroll on a phone."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from chromium import launched, needs_chromium
from judged_project import build

from tunegate.report.html import render_html, write_html
from tunegate.scoring.base import below

#: JSON keys and Python literals that must never be what a reader sees.
RAW = [
    "n_votes",
    "decisive_rate",
    "sign_test_p",
    "win_rate",
    "cohen_kappa",
    "undefined_resamples",
    "n_items",
    "by_category",
    "decisive_win_rate",
    "left_win_rate",
    "length_bias",
    "no_human_majority",
    "{'",
    "'}",
    "None",
    "True",
    "False",
    "method items",
]


@dataclass
class Judged:
    result: dict[str, Any]
    html: Path


@pytest.fixture(scope="module")
def judged(tmp_path_factory: pytest.TempPathFactory) -> Judged:
    folder = tmp_path_factory.mktemp("judged")
    result = build(folder / "project")
    return Judged(result, write_html(result, folder / "report.html"))


def _pairwise(result: dict[str, Any]) -> dict[str, Any]:
    judges = result["suites"][0]["judges"]["judges"]
    entry: dict[str, Any] = next(e for e in judges if e["kind"] == "pairwise")
    return entry


def _interval(ci: list[float]) -> str:
    return f"[{ci[0]:.3f}, {ci[1]:.3f}]"


def test_the_run_has_both_judges_and_a_study(judged: Judged) -> None:
    kinds = {e["kind"] for e in judged.result["suites"][0]["judges"]["judges"]}
    assert kinds == {"pairwise", "pointwise"}
    assert judged.result["human"]["n_votes"] > 0
    assert judged.result["human"]["judges"][0]["judge"] == "overlap-judge"


def test_the_section_is_designed_not_dumped(judged: Judged) -> None:
    page = judged.html.read_text(encoding="utf-8")
    section = page[page.index('<section id="judgment">') : page.index('<section id="facts">')]
    text = re.sub(r"<[^>]+>", " ", section)
    for raw in RAW:
        assert raw not in text, raw
    assert "Human evaluation · preference" not in text
    assert section.count('id="rate-mark-') == 2  # judge and people on one plot


def test_a_partial_or_hostile_section_renders_escaped(judged: Judged) -> None:
    data = dict(judged.result)
    data["human"] = {"study": "<b>s</b>", "preference": {"baseline": "prompted"}}
    page = render_html(data)
    assert "people (study &lt;b&gt;s&lt;/b&gt;)" in page
    assert "<b>s</b>" not in page


@pytest.mark.browser
@needs_chromium
@pytest.mark.parametrize("width", [1400, 400])
def test_the_section_in_chromium(judged: Judged, width: int) -> None:
    human = judged.result["human"]
    pref = human["preference"]
    pair = _pairwise(judged.result)["baselines"]["prompted"]
    calib = human["judges"][0]
    shots = judged.html.parent
    with launched() as browser:
        page = browser.new_page(viewport={"width": width, "height": 900})
        page.goto(judged.html.as_uri())
        scroll = page.evaluate("document.scrollingElement.scrollWidth")
        assert scroll <= page.evaluate("innerWidth")
        visible = page.inner_text("body")
        for raw in RAW:
            assert raw not in visible, raw
        rows = page.locator('#judgment table.judged[data-baseline="prompted"] tbody tr')
        assert rows.count() == 2
        judge = [c.strip() for c in rows.nth(0).locator("td").all_inner_texts()]
        people = [c.strip() for c in rows.nth(1).locator("td").all_inner_texts()]
        assert judge[0].startswith("judge overlap-judge")
        assert judge[2] == f"{pair['wins']} / {pair['ties']} / {pair['losses']}"
        assert judge[4] == f"{pair['win_rate']['value']:.3f}"
        assert judge[5] == _interval(pair["win_rate"]["ci"])
        assert judge[8] == f"{pair['position_bias']['value']:.1%} of {pair['position_bias']['n']}"
        assert people[0] == f"people (study {human['study']})"
        assert people[2] == f"{pref['wins']} / {pref['ties']} / {pref['losses']}"
        assert people[4] == f"{pref['win_rate']['value']:.3f}"
        assert people[5] == _interval(pref["win_rate"]["ci"])
        assert people[6] == f"{pref['decisive_rate']:.3f}"
        assert people[7] == "<0.0001"  # sign test p of 1.7e-08, never 0.0000
        fleiss = page.locator("#judgment table.agreement tbody tr", has_text="Fleiss")
        assert fleiss.locator("td").nth(1).inner_text() == (
            f"{human['agreement']['fleiss']['value']:.3f}"
        )
        card = page.locator('#judgment .calib[data-judge="overlap-judge"]')
        assert card.locator(".calib-kappa").inner_text() == (f"{calib['cohen_kappa']['value']:.3f}")
        assert "not trusted" in card.inner_text()
        assert "κ 0.00 on 20 items" in card.inner_text()
        heat = card.locator("table.heat tbody tr").first.locator("td").all_inner_texts()
        assert [int(x) for x in heat] == calib["confusion"]["matrix"][0]
        page.locator("#judgment").screenshot(path=str(shots / f"judgment-{width}.png"))
        page.screenshot(path=str(shots / f"report-judged-{width}.png"), full_page=True)


def _votes(result: dict[str, Any], case_id: str) -> list[list[str]]:
    votes: list[list[str]] = result["human"]["item_votes"][case_id]["votes"]
    return votes


@pytest.mark.browser
@needs_chromium
@pytest.mark.parametrize("width", [1400, 400])
def test_the_drill_down_shows_why(judged: Judged, width: int) -> None:
    pair = next(c for c in _pairwise(judged.result)["cases"] if c["case_id"] == "q12")
    rubric = next(
        c
        for e in judged.result["suites"][0]["judges"]["judges"]
        if e["kind"] == "pointwise"
        for c in e["cases"]
        if c["case_id"] == "q12" and c["model"] == "finetuned"
    )
    with launched() as browser:
        page = browser.new_page(viewport={"width": width, "height": 900})
        page.goto(judged.html.as_uri() + "#case=answers/q12")
        page.wait_for_selector("body[data-ready='1']")
        box = page.locator("#case-detail")
        assert box.is_visible()
        # The detail sits in the row right under the clicked case's row.
        assert page.locator("tr[data-case-id='q12'] + tr.detail-row #case-detail").count() == 1
        text = " ".join(box.inner_text().split())
        judge = box.locator(".judge-pair[data-judge='overlap-judge']").inner_text()
        judge = " ".join(judge.split())
        assert f"→ {pair['outcome']}" in judge
        assert (
            f"finetuned shown as A verdict {pair['candidate_first']} — {pair['reasoning'][0]}"
            in judge
        )
        assert (
            f"prompted shown as A verdict {pair['baseline_first']} — {pair['reasoning'][1]}"
            in judge
        )
        assert f"verdict {rubric['verdict']} (score {rubric['score']:.3f})" in text
        votes = _votes(judged.result, "q12")
        people = " ".join(box.locator(".votes").inner_text().split())
        assert f"{len(votes)} votes" in people
        for annotator, choice in votes:
            assert f"{annotator} {choice}" in people
        row = next(
            r
            for r in judged.result["suites"][0]["cases"]
            if r["case_id"] == "q12" and r["model"] == "finetuned"
        )
        limit = row["thresholds"]["rougeL"]  # the numbers behind "rouge: failed"
        assert f"rouge: rougeL {below(row['scores']['rougeL'], limit)}" in text
        assert page.evaluate("document.scrollingElement.scrollWidth") <= width
        box.screenshot(path=str(judged.html.parent / f"detail-{width}.png"))
        # Next / previous move among the filtered cases; Esc closes and clears the link.
        page.locator("#d-next").click()
        assert page.evaluate("location.hash") == "#case=answers/q13"
        page.keyboard.press("ArrowLeft")
        assert page.evaluate("location.hash") == "#case=answers/q12"
        page.keyboard.press("Escape")
        assert not box.is_visible()
        assert page.evaluate("location.hash") == "#cases"


@pytest.mark.browser
@needs_chromium
def test_filters_sorting_links_and_export(judged: Judged, tmp_path: Path) -> None:
    cases = judged.result["suites"][0]["cases"]
    wrong = sorted(r["case_id"] for r in cases if r["model"] == "finetuned" and not r["correct"])
    base_wrong = sorted(
        r["case_id"] for r in cases if r["model"] == "prompted" and not r["correct"]
    )
    pairs = {c["case_id"]: c["outcome"] for c in _pairwise(judged.result)["cases"]}
    disagree = []
    for item, entry in judged.result["human"]["item_votes"].items():
        said = [v[1] for v in entry["votes"]]
        top = max(set(said), key=said.count)
        if said.count(top) * 2 <= len(said) and len(set(said)) > 1:
            continue  # no majority
        judge = {"win": "finetuned", "loss": "prompted"}.get(pairs[item], "tie")
        if judge != top:
            disagree.append(item)
    assert wrong
    assert base_wrong
    assert disagree
    with launched() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 900}, accept_downloads=True)
        page.goto(judged.html.as_uri())
        page.wait_for_selector("body[data-ready='1']")

        def shown() -> list[str]:
            ids = page.locator("#case-table tbody tr[data-case-id]").evaluate_all(
                "rows => rows.map(r => r.getAttribute('data-case-id'))"
            )
            return [str(i) for i in ids]

        page.select_option("#f-show", "cand-wrong")
        assert sorted(shown()) == wrong
        page.select_option("#f-show", "base-wrong")
        assert sorted(shown()) == base_wrong
        page.select_option("#f-show", "judge-vs-people")
        assert sorted(shown()) == sorted(disagree)
        page.select_option("#f-show", "all")
        page.locator("#case-table thead button[data-col='0']").click()
        page.locator("#case-table thead button[data-col='0']").click()
        assert shown()[:2] == ["q24", "q23"]  # descending by case id
        page.select_option("#f-show", "cand-wrong")
        with page.expect_download() as info:
            page.locator("#x-jsonl").click()
        path = tmp_path / "cases.jsonl"
        info.value.save_as(path)

        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
        assert sorted(r["case_id"] for r in rows) == wrong
        assert all(r["finetuned.outcome"] == "fail" for r in rows)
        with page.expect_download() as info:
            page.locator("#x-csv").click()
        info.value.save_as(tmp_path / "cases.csv")
        lines = (tmp_path / "cases.csv").read_text(encoding="utf-8").splitlines()
        assert lines[0].startswith("suite,case_id,category,input,reference,finetuned.answer")
        assert len(lines) == 1 + len(wrong)
        # A link to a case opens it even when the current filter hides it.
        page.select_option("#f-show", "base-wrong")
        hidden = next(i for i in ("q01", "q02", "q04") if i not in base_wrong)
        page.evaluate(f"location.hash = '#case=answers/{hidden}'")
        page.wait_for_selector(f"tr[data-case-id='{hidden}'] + tr.detail-row")
        assert page.locator("#case-detail h3").inner_text().startswith(f"Case {hidden}")


def test_a_models_identity_keeps_how_it_is_prompted() -> None:
    from tunegate.pipeline.facts import model_identity, model_prompting

    spec = {"type": "openai", "model": "m", "system": "Be brief.", "prompt": "Q: {{ input }}"}
    assert model_prompting(spec) == {"system": "Be brief.", "prompt": "Q: {{ input }}"}
    assert model_prompting({"type": "python", "function": "m:f"}) == {}
    assert "system" not in model_identity(spec)  # the identity (MLflow params) stays short


@pytest.mark.browser
@needs_chromium
def test_the_case_view_shows_the_prompt(judged: Judged) -> None:
    data = json.loads(json.dumps(judged.result))
    data["facts"]["prompting"] = {
        "prompted": {"system": "You are <b>terse</b>.", "prompt": "Answer: {{ input }}"}
    }
    data["facts"]["models"]["prompted"]["shots"] = {"k": 3, "seed": 7}
    html = judged.html.parent / "prompting.html"
    html.write_text(render_html(data), encoding="utf-8")
    with launched() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(html.as_uri() + "#case=answers/q12")
        page.wait_for_selector("body[data-ready='1']")
        card = page.locator("#case-detail .card[data-model='prompted']")
        card.locator("details.prompting summary").click()
        text = card.locator("details.prompting").inner_text()
        assert "You are <b>terse</b>." in text  # as text, never markup
        assert "Answer: {{ input }}" in text
        assert "3 examples, drawn once with seed 7 and sent with every case" in text
        assert page.locator("#case-detail .card[data-model='finetuned'] details").count() == 0
