"""The annotation app over real HTTP (uvicorn on loopback): tokens, CSRF, scoping, storage."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import httpx
import pytest
from servers import serve

from tunegate.human.app import create_app
from tunegate.human.store import HumanStore, hash_token
from tunegate.human.study import PairItem, assign, left_sides

XSS = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">'
MODELS = ("secret-finetune-v3", "gpt-4o-mini-zeroshot")


def make_study(path: Path, name: str = "s1", n: int = 6) -> dict[str, str]:
    items = [
        PairItem(
            item_id=f"case{i}",
            prompt=f"Question {i}: what is {i} + {i}?",
            output_a=f"Answer A{i}: {2 * i}" + (XSS if i == 0 else ""),
            output_b=f"Answer B{i}: {2 * i + 1}" + (XSS if i == 1 else ""),
            model_a=MODELS[0],
            model_b=MODELS[1],
            category="math" if i % 2 else "text",
        )
        for i in range(n)
    ]
    ids = [i.item_id for i in items]
    with HumanStore(path) as hs:
        return hs.create_study(
            name,
            3,
            ["correctness", "overall"],
            {"kind": "test"},
            items,
            left_sides(ids, 3),
            assign(ids, ["ann1", "ann2"], 1, 3),
        )


@pytest.fixture
def served(tmp_path: Path):  # type: ignore[no-untyped-def]
    db = tmp_path / "h.db"
    tokens = make_study(db)
    with serve(create_app(db, "s1")) as url:
        yield url, tokens, db


def csrf_of(page: str) -> str:
    marker = 'data-csrf="'
    start = page.index(marker) + len(marker)
    return page[start : page.index('"', start)]


def test_tokens_are_long_random_and_stored_hashed(tmp_path: Path) -> None:
    db = tmp_path / "h.db"
    tokens = make_study(db)
    assert all(len(t) >= 32 for t in tokens.values())  # 24 random bytes, 192 bits
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    for token in tokens.values():
        assert token.encode() not in raw
    with sqlite3.connect(db) as con:
        stored = {r[0] for r in con.execute("SELECT token_sha256 FROM human_annotators")}
    assert stored == {hash_token(t) for t in tokens.values()}


def test_every_path_needs_a_valid_token(served: tuple[str, dict[str, str], Path]) -> None:
    url, tokens, _ = served
    with httpx.Client(base_url=url) as c:
        for path in (
            "/",
            "/a/",
            "/a/wrong/",
            "/a/wrong/1",
            "/a/wrong/static/app.js",
            "/docs",
            "/openapi.json",
            "/a/" + tokens["ann1"][:-1] + "/1",
        ):
            assert c.get(path).status_code == 403, path
        assert c.post("/a/wrong/vote", json={"item": 1}).status_code == 403
        for method in ("OPTIONS", "PUT", "DELETE", "HEAD"):
            assert c.request(method, "/a/wrong/1").status_code == 403, method
        assert c.get("/a/wrong/not-a-number").status_code == 403
        assert c.post("/a/wrong/vote", content=b"{bad json").status_code == 403
        r = c.get(f"/a/{tokens['ann1']}/")
        assert r.status_code == 303
        page = c.get(f"/a/{tokens['ann1']}/1")
        assert page.status_code == 200
        assert "default-src 'none'" in page.headers["content-security-policy"]
        assert page.headers["referrer-policy"] == "no-referrer"


def test_pages_escape_outputs_and_hide_models(served: tuple[str, dict[str, str], Path]) -> None:
    url, tokens, _ = served
    seen = ""
    with httpx.Client(base_url=url) as c:
        for token in tokens.values():
            for k in range(1, 4):
                seen += c.get(f"/a/{token}/{k}").text
    assert "<script>window" not in seen
    assert "<img src=x" not in seen
    assert "&lt;script&gt;window.__pwned = 1&lt;/script&gt;" in seen
    for model in MODELS:
        assert model not in seen
    assert "Item 1 of 3" in seen


def test_votes_need_the_csrf_token_and_same_origin(
    served: tuple[str, dict[str, str], Path],
) -> None:
    url, tokens, db = served
    token = tokens["ann1"]
    with httpx.Client(base_url=url) as c:
        csrf = csrf_of(c.get(f"/a/{token}/1").text)
        body = {"item": 1, "criterion": "overall", "choice": "left"}
        assert c.post(f"/a/{token}/vote", json=body).status_code == 403
        bad = {"X-CSRF-Token": "0" * 64}
        assert c.post(f"/a/{token}/vote", json=body, headers=bad).status_code == 403
        # The other annotator's CSRF token does not work on this annotator's link.
        other = csrf_of(c.get(f"/a/{tokens['ann2']}/1").text)
        assert (
            c.post(f"/a/{token}/vote", json=body, headers={"X-CSRF-Token": other}).status_code
            == 403
        )
        good = {"X-CSRF-Token": csrf}
        cross = {**good, "Origin": "http://evil.example"}
        assert c.post(f"/a/{token}/vote", json=body, headers=cross).status_code == 403
        form = c.post(f"/a/{token}/vote", data={"item": "1"}, headers=good)
        assert form.status_code == 403  # a form post (no JSON) is refused
        with HumanStore(db) as hs:
            assert hs.votes("s1") == []
        ok = c.post(f"/a/{token}/vote", json=body, headers=good)
        assert ok.status_code == 200
        assert ok.json() == {"ok": True, "done": 1, "total": 3}
        # Change of vote: the later click replaces the earlier one.
        body["choice"] = "tie"
        assert c.post(f"/a/{token}/vote", json=body, headers=good).status_code == 200
        for wrong in (
            {"item": 9, "criterion": "overall", "choice": "left"},
            {"item": 1, "criterion": "style", "choice": "left"},
            {"item": 1, "criterion": "overall", "choice": "a"},
        ):
            assert c.post(f"/a/{token}/vote", json=wrong, headers=good).status_code == 400
        assert (
            c.post(
                f"/a/{token}/comment", json={"item": 1, "comment": "close call"}, headers=good
            ).status_code
            == 200
        )
    with HumanStore(db) as hs:
        votes = hs.votes("s1")
        first = hs.assigned("s1", "ann1")[0]
        assert [(v.annotator, v.item_id, v.criterion, v.choice) for v in votes] == [
            ("ann1", first, "overall", "tie")
        ]
        assert hs.comments("s1") == {("ann1", first): "close call"}


def test_left_right_map_back_through_the_recorded_order(
    served: tuple[str, dict[str, str], Path],
) -> None:
    url, tokens, db = served
    token = tokens["ann2"]
    with HumanStore(db) as hs:
        items = {i.item.item_id: i for i in hs.items("s1")}
        mine = [items[i] for i in hs.assigned("s1", "ann2")]
    with httpx.Client(base_url=url) as c:
        for k, item in enumerate(mine, start=1):
            page = c.get(f"/a/{token}/{k}").text
            assert f"Answer {'A' if item.left_side == 'a' else 'B'}" in page.split('id="left"')[1]
            r = c.post(
                f"/a/{token}/vote",
                json={"item": k, "criterion": "overall", "choice": "left"},
                headers={"X-CSRF-Token": csrf_of(page)},
            )
            assert r.status_code == 200
    with HumanStore(db) as hs:
        got = {v.item_id: (v.choice, v.left_side) for v in hs.votes("s1", "ann2")}
    assert got == {i.item.item_id: (i.left_side, i.left_side) for i in mine}
    assert {i.left_side for i in items.values()} == {"a", "b"}  # the order is really shuffled


def test_a_failed_write_stores_nothing(tmp_path: Path) -> None:
    from tunegate.errors import TunegateError
    from tunegate.human.store import Vote

    db = tmp_path / "h.db"
    make_study(db)
    with HumanStore(db) as hs:
        first = hs.assigned("s1", "ann1")[0]
        good = Vote("ann1", first, "overall", "a", "a", "test")
        bad = Vote("ann1", first, "correctness", "left", "a", "test")  # not a stored side
        with pytest.raises(TunegateError, match="cannot write"):
            hs.record_votes("s1", [good, bad])
        assert hs.votes("s1") == []
        hs.record_votes("s1", [good])
        assert hs.votes("s1") == [good]
