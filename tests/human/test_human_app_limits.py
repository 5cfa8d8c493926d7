"""The annotation app under hostile requests, over real HTTP (uvicorn on loopback): a body
is refused past 64 KiB while it arrives (declared, chunked or not), a deep JSON body is a
400 without a traceback, types are strict, every response carries the security headers,
and ``human serve`` on a busy port exits 2 naming the address."""

from __future__ import annotations

import logging
import select
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from servers import serve
from test_human_app import csrf_of, make_study

from tunegate.human.app import create_app
from tunegate.human.guard import MAX_BODY
from tunegate.human.store import HumanStore

TUNEGATE = Path(sys.executable).parent / "tunegate"
SECURITY = {
    "content-security-policy",
    "referrer-policy",
    "x-content-type-options",
    "x-frame-options",
    "cache-control",
}


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, str, str, Path]]:
    """The app on loopback: its URL, ann1's token and CSRF token, the store."""
    db = tmp_path / "h.db"
    tokens = make_study(db)
    with serve(create_app(db, "s1")) as url:
        with httpx.Client(base_url=url) as c:
            csrf = csrf_of(c.get(f"/a/{tokens['ann1']}/1").text)
        yield url, tokens["ann1"], csrf, db


def _raw_post(
    url: str, path: str, headers: dict[str, str], chunks: Iterator[bytes]
) -> tuple[str, int]:
    """POST over a bare socket, sending ``chunks`` until the server answers (or closes);
    return the response head and the body bytes sent by then."""
    parts = urlsplit(url)
    assert parts.hostname is not None
    assert parts.port is not None
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as s:
        head = f"POST {path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
        s.sendall(head.encode())
        sent = 0
        for chunk in chunks:
            if select.select([s], [], [], 0)[0]:
                break  # the server answered: stop sending
            try:
                s.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(chunk)
        select.select([s], [], [], 30)
        answer = b""
        try:
            while b"\r\n\r\n" not in answer:
                data = s.recv(65536)
                if not data:
                    break
                answer += data
        except ConnectionResetError:
            pass
    return answer.decode("latin-1"), sent


def _vote_headers(url: str, csrf: str) -> dict[str, str]:
    return {"Content-Type": "application/json", "X-CSRF-Token": csrf, "Origin": url}


def _headers_of(head: str) -> dict[str, str]:
    lines = head.split("\r\n\r\n")[0].split("\r\n")[1:]
    return {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines)}


def test_a_declared_huge_body_is_refused_before_it_is_sent(
    served: tuple[str, str, str, Path],
) -> None:
    url, token, csrf, db = served
    headers = {**_vote_headers(url, csrf), "Content-Length": str(200 * 2**20)}
    head, sent = _raw_post(url, f"/a/{token}/vote", headers, iter([b"x" * 65536] * 3200))
    assert head.startswith("HTTP/1.1 413"), head
    assert sent < 8 * 2**20  # answered at once, not after 200 MB
    assert set(_headers_of(head)) >= SECURITY
    with HumanStore(db) as hs:
        assert hs.votes("s1") == []


def test_a_chunked_body_is_refused_once_past_the_limit(
    served: tuple[str, str, str, Path],
) -> None:
    url, token, csrf, _ = served
    # No Content-Length: the size is only known as the bytes arrive (a 200 MB upload).
    headers = {**_vote_headers(url, csrf), "Transfer-Encoding": "chunked"}
    piece = b"x" * 16384
    chunks = iter([b"4000\r\n" + piece + b"\r\n"] * 12800)
    head, sent = _raw_post(url, f"/a/{token}/vote", headers, chunks)
    assert head.startswith("HTTP/1.1 413"), head
    assert MAX_BODY < sent < 16 * 2**20  # refused while arriving, long before 200 MB
    assert set(_headers_of(head)) >= SECURITY


def test_a_body_just_under_the_limit_is_read(served: tuple[str, str, str, Path]) -> None:
    url, token, csrf, db = served
    comment = "y" * (MAX_BODY - 100)
    with httpx.Client(base_url=url, headers=_vote_headers(url, csrf)) as c:
        ok = c.post(f"/a/{token}/comment", json={"item": 1, "comment": comment})
        assert ok.status_code == 200, ok.text
        big = c.post(f"/a/{token}/comment", json={"item": 1, "comment": comment + "y" * 200})
        assert big.status_code == 413
    with HumanStore(db) as hs:
        (stored,) = hs.comments("s1").values()
    assert stored == comment[:10000]


def test_a_deep_json_body_is_a_400_without_a_traceback(
    served: tuple[str, str, str, Path], caplog: pytest.LogCaptureFixture
) -> None:
    url, token, csrf, _ = served
    caplog.set_level(logging.DEBUG - 1)  # what uvicorn and the app log, tracebacks included
    with httpx.Client(base_url=url, headers=_vote_headers(url, csrf)) as c:
        for body in (
            b'{"item": ' + b"[" * 30000 + b"]" * 30000 + b"}",
            b"[" * 60000,
            b'{"item": ' + b'{"a":' * 9000 + b"1" + b"}" * 9000 + b"}",
            b'{"item": ' + b"9" * 5000 + b', "criterion": "overall", "choice": "left"}',
            b"not json",
            b'"a string"',
            b"\xff\xfe{}",
        ):
            r = c.post(f"/a/{token}/vote", content=body)
            assert r.status_code == 400, (body[:40], r.status_code, r.text)
            assert r.json()["ok"] is False
            assert set(r.headers) >= SECURITY
    assert "Traceback" not in caplog.text
    assert not [r for r in caplog.records if r.exc_info]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.parametrize(
    "body",
    [
        {"item": True, "criterion": "overall", "choice": "left"},
        {"item": 1.0, "criterion": "overall", "choice": "left"},
        {"item": "1", "criterion": "overall", "choice": "left"},
        {"item": 1, "criterion": ["overall"], "choice": "left"},
        {"item": 1, "criterion": "overall", "choice": "left", "extra": 1},
        {"item": 1, "criterion": "overall"},
    ],
)
def test_vote_fields_have_exactly_their_types(
    served: tuple[str, str, str, Path], body: dict[str, object]
) -> None:
    url, token, csrf, db = served
    with httpx.Client(base_url=url, headers=_vote_headers(url, csrf)) as c:
        r = c.post(f"/a/{token}/vote", json=body)
        assert r.status_code == 400, r.text
        comment = c.post(f"/a/{token}/comment", json={"item": True, "comment": "x"})
        assert comment.status_code == 400
    with HumanStore(db) as hs:
        assert hs.votes("s1") == []
        assert hs.comments("s1") == {}


def test_every_response_carries_the_security_headers(
    served: tuple[str, str, str, Path], caplog: pytest.LogCaptureFixture
) -> None:
    url, token, csrf, db = served
    with httpx.Client(base_url=url) as c:
        answers = {
            "page": c.get(f"/a/{token}/1"),
            "403": c.get("/a/wrong/1"),
            "404": c.get(f"/a/{token}/99"),
            "422": c.get(f"/a/{token}/not-a-number"),
            "400": c.post(f"/a/{token}/vote", json=[1], headers=_vote_headers(url, csrf)),
        }
        # A store that fails under the app: 500, still with the headers, no token in the log.
        with sqlite3.connect(db) as con:
            con.execute("DROP TABLE human_votes")
        vote = {"item": 1, "criterion": "overall", "choice": "left"}
        answers["500"] = c.post(f"/a/{token}/vote", json=vote, headers=_vote_headers(url, csrf))
    for name, r in answers.items():
        expected = 200 if name == "page" else int(name)
        assert r.status_code == expected, (name, r.status_code)
        assert set(r.headers) >= SECURITY, (name, sorted(r.headers))
        assert "default-src 'none'" in r.headers["content-security-policy"]
    assert "Traceback" not in answers["500"].text
    assert "answered 500" in caplog.text
    assert token not in caplog.text


def test_serve_on_a_busy_port_is_exit_2_naming_the_address(tmp_path: Path) -> None:
    db = tmp_path / "h.db"
    make_study(db)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = subprocess.run(
            [str(TUNEGATE), "human", "serve", "s1", "--store", str(db), "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 2, (done.returncode, done.stderr)
    assert f"cannot serve on 127.0.0.1:{port}" in done.stderr
    assert "Address already in use" in done.stderr
    assert "Traceback" not in done.stderr
