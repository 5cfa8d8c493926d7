"""The HTML report's "Human evaluation and judges" section on a real judged run (a
pairwise judge, a rubric judge, a human study read by the gate), in chromium at 1400
and 400 px: designed tables and a plot rather than the JSON, figures equal to the JSON
report's, no sideways scroll on a phone."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from chromium import launched, needs_chromium
from judged_project import build

from tunegate.report.html import render_html, write_html

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
