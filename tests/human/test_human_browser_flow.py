"""A whole study voted in a real browser, on a 390 px phone and on a desktop (issue 23):
the instructions, both-bad and can't-judge, a failed save, the finish page, a wrong link.

Screenshots of every page go to ``$TUNEGATE_SCREENSHOTS`` when set (else the test's
temporary folder), named ``<width>-<step>.png``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from chromium import launched, needs_chromium
from servers import serve

from tunegate.human.app import create_app
from tunegate.human.store import HumanStore
from tunegate.human.study import PairItem, assign, left_sides

pytestmark = [pytest.mark.browser, needs_chromium]

LONG = (
    "Here is a plan:\n\n1. **Measure** the baseline first.\n2. Change *one* thing.\n"
    "3. Measure again, with `pytest --durations=10`.\n\n```python\nfor step in plan:\n"
    "    run(step)\n```\n\nSee [the guide](https://example.org/guide) for a "
    "very-long-unbroken-word-that-must-wrap-on-a-phone-screen-without-scrolling-sideways."
)
ITEMS = [
    PairItem("q1", "How do I speed up my test suite?", LONG, "Run fewer tests.", "m1", "m2",
             reference="Profile first, then parallelise the slow tests."),
    PairItem("q2", "Name a prime number above 10.", "11", "12 is prime.", "m1", "m2",
             reference="11, 13, 17, ..."),
    PairItem("q3", "Summarise: the cat sat on the mat.", "A cat sat on a mat.",
             "<b>Cats</b> <script>window.__pwned = 1</script>", "m1", "m2"),
]  # fmt: skip


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with launched() as chromium:
        yield chromium


def _shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("TUNEGATE_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _study(db: Path) -> str:
    ids = [i.item_id for i in ITEMS]
    with HumanStore(db) as hs:
        tokens = hs.create_study(
            "flow", 5, ["correctness", "overall"], {"kind": "test"}, ITEMS,
            left_sides(ids, 5), assign(ids, ["ann1"], 1, 5), show_reference=True,
        )  # fmt: skip
    return tokens["ann1"]


def _no_sideways_scroll(page: Any) -> None:
    width = page.evaluate("() => document.documentElement.scrollWidth")
    view = page.evaluate("() => document.documentElement.clientWidth")
    assert width <= view, (width, view)


def _button(page: Any, criterion: str, choice: str) -> Any:
    return page.locator(f'.criterion[data-criterion="{criterion}"] button[data-choice="{choice}"]')


@pytest.mark.parametrize("width", [390, 1400])
def test_vote_through_a_study(browser: Any, tmp_path: Path, width: int) -> None:
    from playwright.sync_api import expect

    phone = width < 700
    shots = _shots(tmp_path)
    db = tmp_path / "h.db"
    token = _study(db)
    app = create_app(db, "flow")
    store = app.state.store
    real_record = store.record_votes
    broken = {"on": False}

    def record(study: str, votes: Any) -> int:
        if broken["on"]:
            raise RuntimeError("disk full")
        return int(real_record(study, votes))

    store.record_votes = record
    context = browser.new_context(
        viewport={"width": width, "height": 844 if phone else 900},
        is_mobile=phone,
        has_touch=phone,
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on(
        "console",
        lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None,
    )

    def shot(name: str) -> None:
        # The whole page in one tall viewport: a full-page screenshot would drop the
        # touch emulation (and show the keyboard hints a phone does not show).
        _no_sideways_scroll(page)
        size = dict(page.viewport_size)
        tall = page.evaluate("() => document.documentElement.scrollHeight")
        page.set_viewport_size({"width": width, "height": max(tall, size["height"])})
        page.screenshot(path=str(shots / f"{width}-{name}.png"))
        page.set_viewport_size(size)

    with serve(app) as url:
        page.goto(f"{url}/a/{token}/")
        expect(page.locator("header")).to_contain_text("Item 1 of 3")
        expect(page.locator("#status")).to_have_text("ready")
        # The instructions are open before the first vote, with the criteria and Tie.
        expect(page.locator("#instructions")).to_contain_text("You will see a prompt")
        expect(page.locator("#instructions")).to_contain_text("Not for two bad answers")
        expect(page.locator("#instructions dd").first).to_be_visible()
        expect(page.locator("#reference")).to_be_visible()
        expect(page.locator(".outputs strong").first).to_have_text("Measure")  # Markdown
        # Stacked outputs are Top / Bottom on a phone, Left / Right side by side; key
        # hints only with a keyboard and a mouse.
        if phone:
            heads = [h.strip() for h in page.locator(".output h2").all_inner_texts()]
            assert heads == ["Top answer", "Bottom answer"]
            assert page.locator(".criterion button").first.inner_text().strip() == "Top"
            expect(page.locator("kbd").first).to_be_hidden()
            expect(page.locator(".keys")).to_be_hidden()
        else:
            heads = [h.strip() for h in page.locator(".output h2").all_inner_texts()]
            assert heads == ["Left answer 1", "Right answer 2"]
            expect(page.locator("kbd").first).to_be_visible()
            expect(page.locator(".keys")).to_be_visible()
        shot("1-item1-instructions")
        _button(page, "correctness", "left").click()
        expect(page.locator("#status")).to_have_text("saved")
        _button(page, "overall", "both_bad").click()
        expect(page.locator("#progress")).to_have_text("1 of 3 done")
        expect(_button(page, "overall", "both_bad")).to_have_attribute("aria-pressed", "true")
        shot("2-item1-voted")
        page.locator("#next").click()
        expect(page.locator("header")).to_contain_text("Item 2 of 3")
        expect(page.locator("#instructions")).not_to_have_attribute("open", "")
        shot("3-item2-unvoted")
        page.locator("#next").click()  # item 2 left without a vote
        expect(page.locator("header")).to_contain_text("Item 3 of 3")
        expect(page.locator("#status")).to_have_text("ready")
        expect(page.locator("#left, #right")).to_have_count(2)
        assert "<script>" in page.locator("main .outputs").inner_text()  # as text
        # A save that fails: a banner with a retry, the choice not shown as made, and
        # finishing waits.
        broken["on"] = True
        _button(page, "overall", "skip").click()
        expect(page.locator("#banner")).to_be_visible()
        expect(page.locator("#banner")).to_contain_text("Not saved")
        expect(page.locator("#status")).to_have_text("not saved")
        expect(_button(page, "overall", "skip")).to_have_attribute("aria-pressed", "false")
        shot("4-item3-save-failed")
        page.locator("#next").click()
        expect(page.locator("header")).to_contain_text("Item 3 of 3")  # still here
        expect(page.locator("#banner")).to_be_visible()
        broken["on"] = False
        page.locator("#retry").click()
        expect(page.locator("#banner")).to_be_hidden()
        expect(_button(page, "overall", "skip")).to_have_attribute("aria-pressed", "true")
        expect(page.locator("#progress")).to_have_text("2 of 3 done")
        # Finish: what is missing, with a link to it.
        page.locator("#next").click()
        expect(page.locator("h1")).to_have_text("Not finished yet: 2 of 3 done")
        shot("5-finish-missing")
        page.locator(".missing a").click()
        expect(page.locator("header")).to_contain_text("Item 2 of 3")
        expect(page.locator("#status")).to_have_text("ready")
        _button(page, "overall", "right").click()
        expect(page.locator("#progress")).to_have_text("3 of 3 done")
        page.goto(f"{url}/a/{token}/3")
        page.locator("#next").click()
        expect(page.locator("h1")).to_have_text("All done, 3 of 3")
        shot("6-all-done")
        # An item number past the end: a page that leads back.
        response = page.goto(f"{url}/a/{token}/9")
        assert response is not None
        assert response.status == 404
        expect(page.locator("main a")).to_have_text("Continue where you left off")
        shot("6b-no-such-item")
        # A wrong (or rotated) link says what to do.
        response = page.goto(f"{url}/a/{'x' * 32}/1")
        assert response is not None
        assert response.status == 403
        expect(page.locator("h1")).to_have_text("This link does not work")
        expect(page.locator("main")).to_contain_text("ask the person who sent you the link")
        # Its inline style is allowed by its hash (the strict policy stays).
        background = page.evaluate("() => getComputedStyle(document.body).backgroundColor")
        assert background == "rgb(246, 247, 249)"
        shot("7-wrong-link")
        assert page.evaluate("() => window.__pwned") is None
    context.close()
    assert errors == []
    with HumanStore(db) as hs:
        shown = {i.item.item_id: i for i in hs.items("flow")}
        order = hs.assigned("flow", "ann1")
        votes = {(v.item_id, v.criterion): v for v in hs.votes("flow")}
    assert votes[(order[0], "overall")].choice == "both_bad"
    assert votes[(order[2], "overall")].choice == "skip"
    second = shown[order[1]]
    assert votes[(order[1], "overall")].choice == second.to_side("right")
    assert votes[(order[0], "correctness")].choice == shown[order[0]].to_side("left")
    assert all(v.seconds is not None and v.seconds >= 0 for v in votes.values())
