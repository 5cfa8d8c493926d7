"""The annotation app in a real browser: Playwright driving Debian's chromium."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from chromium import launched, needs_chromium
from servers import serve
from test_human_app import MODELS, make_study

from tunegate.human.app import create_app
from tunegate.human.store import HumanStore

pytestmark = [pytest.mark.browser, needs_chromium]


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with launched() as chromium:
        yield chromium


def pressed(page: object, criterion: str) -> list[str]:
    buttons = page.locator(f'.criterion[data-criterion="{criterion}"] button[aria-pressed="true"]')  # type: ignore[attr-defined]
    return [buttons.nth(i).get_attribute("data-choice") for i in range(buttons.count())]


def test_keyboard_votes_survive_reload_and_restart(browser: object, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    db = tmp_path / "h.db"
    tokens = make_study(db, n=6)
    token = tokens["ann1"]
    errors: list[str] = []
    html: list[str] = []
    with serve(create_app(db, "s1")) as url:
        page = browser.new_page()  # type: ignore[attr-defined]
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{url}/a/{token}/")
        expect(page.locator("header")).to_contain_text("Item 1 of 3")
        expect(page.locator("#status")).to_have_text("ready")  # the script is running
        # Item 1: correctness left (1), overall right (2); the active row moves down.
        page.keyboard.press("1")
        expect(page.locator("#status")).to_have_text("saved")
        page.keyboard.press("2")
        expect(page.locator("#progress")).to_have_text("1 of 3 done")
        html.append(page.content())
        page.keyboard.press("n")
        expect(page.locator("header")).to_contain_text("Item 2 of 3")
        expect(page.locator("#status")).to_have_text("ready")
        page.keyboard.press("0")
        page.keyboard.press("0")
        expect(page.locator("#progress")).to_have_text("2 of 3 done")
        html.append(page.content())
        page.keyboard.press("n")
        expect(page.locator("header")).to_contain_text("Item 3 of 3")
        expect(page.locator("#status")).to_have_text("ready")
        page.keyboard.press("2")
        page.keyboard.press("1")
        expect(page.locator("#progress")).to_have_text("3 of 3 done")
        # Changing a vote by clicking.
        page.locator('.criterion[data-criterion="overall"] button[data-choice="tie"]').click()
        expect(page.locator("#status")).to_have_text("saved")
        page.reload()
        expect(page.locator("#status")).to_have_text("ready")
        assert pressed(page, "correctness") == ["right"]
        assert pressed(page, "overall") == ["tie"]
        page.keyboard.press("p")
        expect(page.locator("header")).to_contain_text("Item 2 of 3")
        expect(page.locator("#status")).to_have_text("ready")
        assert pressed(page, "overall") == ["tie"]
        html.append(page.content())
        page.close()
    # A new server process on the same store: everything is still there.
    with serve(create_app(db, "s1")) as url:
        page = browser.new_page()  # type: ignore[attr-defined]
        page.goto(f"{url}/a/{token}/1")
        assert pressed(page, "correctness") == ["left"]
        assert pressed(page, "overall") == ["right"]
        expect(page.locator("#progress")).to_have_text("3 of 3 done")
        page.goto(f"{url}/a/{token}/")
        expect(page.locator("h1")).to_have_text("All done, 3 of 3")
        html.append(page.content())
        page.close()
    assert errors == []
    with HumanStore(db) as hs:
        votes = hs.votes("s1", "ann1")
    assert len(votes) == 6
    for model in MODELS:
        assert all(model not in h for h in html)


def test_hostile_outputs_are_text_and_nothing_runs(browser: object, tmp_path: Path) -> None:
    db = tmp_path / "h.db"
    tokens = make_study(db, n=6)
    with HumanStore(db) as hs:
        hostile = {"case0", "case1"}
        owners = [a for a in ("ann1", "ann2") if hostile & set(hs.assigned("s1", a))]
    dialogs: list[str] = []
    with serve(create_app(db, "s1")) as url:
        page = browser.new_page()  # type: ignore[attr-defined]
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        seen = 0
        for annotator in owners:
            for k in range(1, 4):
                page.goto(f"{url}/a/{tokens[annotator]}/{k}")
                text = page.locator("#left").inner_text() + page.locator("#right").inner_text()
                if "<script>" in text:
                    seen += 1
                    assert '<img src=x onerror="window.__pwned = 2">' in text
                    assert page.locator("main img").count() == 0
                    assert page.locator("main script").count() == 0
                assert page.evaluate("() => window.__pwned") is None
        assert seen == 2
        # Wrong token: 403 in the browser as well.
        response = page.goto(f"{url}/a/{'x' * 32}/1")
        assert response is not None
        assert response.status == 403
        # A cross-site page posting to the vote URL without the CSRF token is refused.
        with serve(_evil_app(f"{url}/a/{tokens['ann1']}/vote")) as evil:
            page.goto(evil)
            page.wait_for_selector("#result:not(:empty)")
            assert page.locator("#result").inner_text() in ("403", "blocked")
        page.close()
    assert dialogs == []
    with HumanStore(db) as hs:
        assert hs.votes("s1") == []


def _evil_app(target: str) -> object:
    from fastapi import FastAPI
    from fastapi.responses import HTMLResponse

    app = FastAPI()
    page = f"""<!doctype html><div id="result"></div><script>
fetch({target!r}, {{method: "POST", mode: "no-cors", credentials: "include",
  headers: {{"Content-Type": "text/plain"}},
  body: JSON.stringify({{item: 1, criterion: "overall", choice: "left"}})}})
  .then(() => fetch({target!r}, {{method: "POST", headers: {{"Content-Type": "application/json"}},
        body: JSON.stringify({{item: 1, criterion: "overall", choice: "left"}})}}))
  .then(r => {{ document.getElementById("result").textContent = String(r.status); }})
  .catch(() => {{ document.getElementById("result").textContent = "blocked"; }});
</script>"""

    @app.get("/")
    def index() -> HTMLResponse:
        return HTMLResponse(page)

    return app
