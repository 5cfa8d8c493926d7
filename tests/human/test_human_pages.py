"""What the annotation pages say (issue 23): instructions, criteria, the reference, outputs
as safe Markdown, the finish page, a page for a wrong link, a viewport on every page."""

from __future__ import annotations

from pathlib import Path

import httpx
from servers import serve
from test_human_app import csrf_of, make_study

from tunegate.human.app import create_app
from tunegate.human.store import HumanStore
from tunegate.human.study import PairItem, assign, left_sides

VIEWPORT = '<meta name="viewport" content="width=device-width, initial-scale=1">'
HOSTILE_MD = (
    "# Read me\n\nBe **careful**. <script>alert(1)</script> [bad](javascript:alert(1)) "
    "[good](https://example.org/guide) ![pixel](https://example.org/p.png)"
)


def _markdown_study(db: Path, instructions: str | None, show_reference: bool) -> str:
    items = [
        PairItem(
            "c1",
            "Explain X",
            "**bold answer**\n\n- one\n- two\n\n[x](javascript:alert(1))",
            "plain <b>answer</b>",
            "m1",
            "m2",
            reference="The gold answer",
        )
    ]
    with HumanStore(db) as hs:
        tokens = hs.create_study(
            "md",
            1,
            ["correctness", "my_thing", "overall"],
            {"kind": "test"},
            items,
            left_sides(["c1"], 1),
            assign(["c1"], ["ann1"], 1, 1),
            instructions=instructions,
            show_reference=show_reference,
        )
    return tokens["ann1"]


def test_instructions_definitions_reference_and_markdown(tmp_path: Path) -> None:
    db = tmp_path / "h.db"
    token = _markdown_study(db, HOSTILE_MD, True)
    with serve(create_app(db, "md")) as url, httpx.Client(base_url=url) as c:
        page = c.get(f"/a/{token}/1").text
    assert VIEWPORT in page
    assert '<details id="instructions" open>' in page  # open before the first vote
    assert "<h1>Read me</h1>" in page
    assert "<strong>careful</strong>" in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script>alert" not in page
    assert 'href="javascript:' not in page
    assert '<a href="https://example.org/guide" rel="noopener noreferrer nofollow"' in page
    assert "<img" not in page
    # Each criterion's definition (a known one and a generic one), Tie and the keys.
    assert "Which answer is factually right and answers what was asked?" in page
    assert "Which answer is better in my thing?" in page
    assert "Not for two bad answers" in page
    assert '<p class="keys">' in page
    # The reference answer, and the outputs as Markdown with raw HTML as text.
    assert '<pre id="reference">The gold answer</pre>' in page
    assert "<strong>bold answer</strong>" in page
    assert "<li>one</li>" in page
    assert "plain &lt;b&gt;answer&lt;/b&gt;" in page
    # Every choice, with its label for side by side and for stacked outputs.
    for choice in ("left", "tie", "right", "both_bad", "skip"):
        assert f'data-choice="{choice}"' in page
    assert '<span class="wide">Left</span><span class="narrow">Top</span>' in page
    assert '<span class="wide">Right</span><span class="narrow">Bottom</span>' in page


def test_default_instructions_and_no_reference_unless_asked(tmp_path: Path) -> None:
    db = tmp_path / "h.db"
    token = _markdown_study(db, None, False)
    with serve(create_app(db, "md")) as url, httpx.Client(base_url=url) as c:
        page = c.get(f"/a/{token}/1").text
    assert "You will see a <strong>prompt</strong> and two answers" in page
    assert "The gold answer" not in page


def test_finish_lists_what_is_missing_then_says_all_done(tmp_path: Path) -> None:
    db = tmp_path / "h.db"
    tokens = make_study(db)
    token = tokens["ann1"]
    with serve(create_app(db, "s1")) as url, httpx.Client(base_url=url) as c:
        last = c.get(f"/a/{token}/3").text
        assert f'<a id="next" href="/a/{token}/done">finish' in last
        good = {"X-CSRF-Token": csrf_of(last)}
        vote = {"item": 2, "criterion": "overall", "choice": "skip"}
        assert c.post(f"/a/{token}/vote", json=vote, headers=good).status_code == 200
        page = c.get(f"/a/{token}/done")
        assert page.status_code == 200
        assert VIEWPORT in page.text
        assert "Not finished yet: 1 of 3 done" in page.text
        assert f'<a href="/a/{token}/1">Item 1 of 3</a>' in page.text
        assert f'<a href="/a/{token}/3">Item 3 of 3</a>' in page.text
        assert f'href="/a/{token}/2"' not in page.text
        for k in (1, 3):
            vote = {"item": k, "criterion": "overall", "choice": "both_bad"}
            assert c.post(f"/a/{token}/vote", json=vote, headers=good).status_code == 200
        done = c.get(f"/a/{token}/done").text
        assert "<h1>All done, 3 of 3</h1>" in done
        assert c.get(f"/a/{token}/").text == done  # the start link ends there too
        missing = c.get(f"/a/{token}/4")
        assert missing.status_code == 404
        assert VIEWPORT in missing.text
        assert f'<a href="/a/{token}/">Continue where you left off</a>' in missing.text


def test_a_wrong_or_rotated_link_says_to_ask_for_a_new_one(tmp_path: Path) -> None:
    db = tmp_path / "h.db"
    tokens = make_study(db)
    with HumanStore(db) as hs:
        hs.rotate_tokens("s1")
    with serve(create_app(db, "s1")) as url, httpx.Client(base_url=url) as c:
        for path in (f"/a/{tokens['ann1']}/1", "/a/wrong/done", "/"):
            r = c.get(path)
            assert r.status_code == 403
            assert r.headers["content-type"].startswith("text/html")
            assert "default-src 'none'" in r.headers["content-security-policy"]
            assert VIEWPORT in r.text
            assert "ask the person who sent you the link for a new one" in r.text


def test_create_takes_instructions_reference_and_prints_full_urls(tmp_path: Path) -> None:
    from test_human_study import invoke

    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text(
        '{"id": "1", "prompt": "p", "output_a": "x", "output_b": "y", "model_a": "m",'
        ' "model_b": "n", "reference": "gold"}\n',
        encoding="utf-8",
    )
    guide = tmp_path / "guide.md"
    guide.write_text("# Our rules\n\nPrefer **short** answers.\n", encoding="utf-8")
    store = str(tmp_path / "s.db")
    base = ("human", "create", "--pairs", str(pairs), "--annotators", "u1", "--store", store)
    created = invoke(
        *base, "--instructions", str(guide), "--show-reference",
        "--base-url", "http://10.0.0.5:9000/",
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    urls = [line.split()[1] for line in created.output.splitlines() if "/a/" in line]
    assert len(urls) == 1
    assert urls[0].startswith("http://10.0.0.5:9000/a/")
    token = urls[0].split("/a/")[1].strip("/")
    with HumanStore(store) as hs:
        info = hs.study("pairs")
        assert info.instructions == "# Our rules\n\nPrefer **short** answers.\n"
        assert info.show_reference is True
        assert [i.item.reference for i in hs.items("pairs")] == ["gold"]
    with serve(create_app(store, "pairs")) as url, httpx.Client(base_url=url) as c:
        page = c.get(f"/a/{token}/1").text
    assert "<h1>Our rules</h1>" in page
    assert '<pre id="reference">gold</pre>' in page
    # Bad input: exit 2, naming the file or the option, no traceback.
    for extra, message in (
        (("--instructions", str(tmp_path / "nope.md")), "nope.md: cannot read"),
        (("--base-url", "eval.example.org"), "--base-url 'eval.example.org'"),
        (("--base-url", "ftp://x"), "--base-url 'ftp://x'"),
    ):
        bad = invoke(*base, "--name", "other", *extra)
        assert bad.exit_code == 2, bad.output
        assert message in " ".join(bad.output.split())
        assert "Traceback" not in bad.output
    (tmp_path / "empty.md").write_text(" \n", encoding="utf-8")
    empty = invoke(*base, "--name", "other", "--instructions", str(tmp_path / "empty.md"))
    assert empty.exit_code == 2
    assert "empty.md: the file is empty" in " ".join(empty.output.split())
