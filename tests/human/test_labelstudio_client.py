"""The Label Studio client's behaviour that needs no server (issue 25): which header each
kind of token gets, and that every failure is one clear :class:`LabelStudioError` that
never shows the token. (tests/human/test_labelstudio_server.py runs it against the real
server.)"""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest

from tunegate.human.labelstudio import LabelStudio, LabelStudioError

LEGACY = "f" * 40
#: A personal access token: a JWT (header.payload.signature).
PERSONAL = "eyJhbGciOiJIUzI1NiJ9.eyJ0b2tlbl90eXBlIjoicmVmcmVzaCJ9.c2lnbmF0dXJl"


def _client(handler: Callable[[httpx.Request], httpx.Response], token: str = LEGACY) -> LabelStudio:
    return LabelStudio("http://ls.test:8080/", token, transport=httpx.MockTransport(handler))


def test_legacy_and_personal_tokens_get_their_headers() -> None:
    seen: list[tuple[str, str | None]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append((request.url.path, request.headers.get("Authorization")))
        if request.url.path == "/api/token/refresh/":
            assert json.loads(request.content) == {"refresh": PERSONAL}
            return httpx.Response(200, json={"access": "short-lived"})
        return httpx.Response(200, json=[{"id": 1, "email": "a@example.org"}])

    assert _client(handler).users() == [{"id": 1, "email": "a@example.org"}]
    assert seen == [("/api/users/", f"Token {LEGACY}")]
    seen.clear()
    with _client(handler, PERSONAL) as ls:
        ls.export(3)
    assert seen == [
        ("/api/token/refresh/", None),
        ("/api/projects/3/export", "Bearer short-lived"),
    ]


@pytest.mark.parametrize(
    ("response", "message"),
    [
        (httpx.Response(401, json={"detail": "Invalid token."}), "refused the token"),
        (httpx.Response(403, json={"detail": "nope"}), "refused the token"),
        (httpx.Response(404, text="<html>"), "not found (HTTP 404)"),
        (httpx.Response(302, headers={"Location": "/user/login/"}), "redirected (HTTP 302)"),
        (httpx.Response(200, text="<html>hello</html>"), "the answer is not JSON"),
        (
            httpx.Response(500, json={"detail": f"token {LEGACY} broke"}),
            "HTTP 500: token *** broke",
        ),
        (httpx.Response(200, json={"unexpected": 1}), "not a list of tasks"),
    ],
)
def test_every_failure_is_one_clear_error_without_the_token(
    response: httpx.Response, message: str
) -> None:
    with pytest.raises(LabelStudioError) as info:
        _client(lambda _: response).export(3)
    text = str(info.value)
    assert message in text
    assert text.startswith("http://ls.test:8080/api/projects/3/export: ")
    assert LEGACY not in text


def test_unreachable_and_bad_addresses() -> None:
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with pytest.raises(LabelStudioError, match="cannot reach Label Studio"):
        _client(down).users()
    for url in ("ls.test:8080", "ftp://ls.test", "http://user:pw@ls.test", "http://ls.test:99999"):
        with pytest.raises(LabelStudioError, match="--label-studio"):
            LabelStudio(url, LEGACY)
    with pytest.raises(LabelStudioError, match="is empty"):
        LabelStudio("http://ls.test", "  ")
