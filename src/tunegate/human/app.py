"""The annotation web app: FastAPI, server-rendered Jinja2 pages (autoescaped), a little
vanilla JS. (This module imports FastAPI at the top: only ``tunegate human serve`` and the
tests import it.)

Every URL carries the annotator's secret token (``/a/<token>/...``); a request without a
valid one gets 403, whatever the path. An annotator sees only their own items, in their
recorded left/right order, never model names nor anyone else's votes. Votes are posted as
JSON with a CSRF token header on every click and stored at once; a later click replaces
the earlier vote.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from tunegate.human.store import HumanStore, StudyItem, Vote

_HERE = Path(__file__).parent
_STATIC = {"app.js": "text/javascript", "app.css": "text/css"}
_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self' data:; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}
_SHOWN = ("left", "right", "tie")


class _Denied(Exception):
    """Answer 403."""


def create_app(store_path: str | Path, study: str) -> FastAPI:
    """The app serving ``study`` from the store at ``store_path``."""
    store = HumanStore(store_path)
    info = store.study(study)
    env = Environment(
        loader=FileSystemLoader(_HERE / "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
    )
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)

    def forbidden() -> Response:
        return Response("Forbidden", status_code=403, media_type="text/plain", headers=_HEADERS)

    @app.exception_handler(_Denied)
    async def denied(request: Request, exc: _Denied) -> Response:
        return forbidden()

    @app.middleware("http")
    async def token_first(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        # Before any routing or validation: a request without a valid token learns nothing.
        parts = request.url.path.split("/")
        if len(parts) < 4 or parts[1] != "a" or store.annotator_for_token(study, parts[2]) is None:
            return forbidden()
        return await call_next(request)

    def who(token: str) -> str:
        name = store.annotator_for_token(study, token)
        if name is None:
            raise _Denied
        return name

    def mine(annotator: str) -> list[StudyItem]:
        items = {i.item.item_id: i for i in store.items(study)}
        return [items[i] for i in store.assigned(study, annotator) if i in items]

    def done_count(annotator: str, ids: set[str]) -> int:
        return len(
            {
                v.item_id
                for v in store.votes(study, annotator)
                if v.criterion == "overall" and v.item_id in ids
            }
        )

    @app.get("/a/{token}/static/{name}")
    def static(token: str, name: str) -> Response:
        who(token)
        if name not in _STATIC:
            raise _Denied
        body = (_HERE / "static" / name).read_text(encoding="utf-8")
        return Response(body, media_type=_STATIC[name], headers=_HEADERS)

    @app.get("/a/{token}/")
    def start(token: str) -> Response:
        annotator = who(token)
        items = mine(annotator)
        voted = {v.item_id for v in store.votes(study, annotator) if v.criterion == "overall"}
        first = next((k for k, i in enumerate(items, 1) if i.item.item_id not in voted), None)
        if first is None:
            page = env.get_template("done.html").render(
                annotator=annotator, total=len(items), base=f"/a/{token}"
            )
            return HTMLResponse(page, headers=_HEADERS)
        return RedirectResponse(f"/a/{token}/{first}", status_code=303, headers=_HEADERS)

    @app.get("/a/{token}/{k}")
    def item_page(token: str, k: int) -> Response:
        annotator = who(token)
        items = mine(annotator)
        if not 1 <= k <= len(items):
            return HTMLResponse("No such item", status_code=404, headers=_HEADERS)
        item = items[k - 1]
        votes = {
            v.criterion: item.to_shown(v.choice)
            for v in store.votes(study, annotator)
            if v.item_id == item.item.item_id
        }
        comment = store.comments(study, annotator).get((annotator, item.item.item_id), "")
        page = env.get_template("item.html").render(
            annotator=annotator,
            k=k,
            total=len(items),
            done=done_count(annotator, {i.item.item_id for i in items}),
            prompt=item.item.prompt,
            left=item.left_output,
            right=item.right_output,
            criteria=info.criteria,
            votes=votes,
            comment=comment,
            base=f"/a/{token}",
            csrf=info.csrf_token(annotator),
        )
        return HTMLResponse(page, headers=_HEADERS)

    async def checked_body(request: Request, token: str) -> tuple[str, dict[str, Any]]:
        annotator = who(token)
        sent = request.headers.get("x-csrf-token", "")
        if not hmac.compare_digest(sent, info.csrf_token(annotator)):
            raise _Denied
        origin = request.headers.get("origin")
        if origin is not None and urlsplit(origin).netloc != request.headers.get("host"):
            raise _Denied
        if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
            raise _Denied
        try:
            body = await request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise _Denied
        return annotator, body

    def bad(message: str) -> Response:
        return JSONResponse({"ok": False, "error": message}, status_code=400, headers=_HEADERS)

    @app.post("/a/{token}/vote")
    async def vote(token: str, request: Request) -> Response:
        annotator, body = await checked_body(request, token)
        items = mine(annotator)
        k, criterion, choice = body.get("item"), body.get("criterion"), body.get("choice")
        if not isinstance(k, int) or not 1 <= k <= len(items):
            return bad("unknown item")
        if criterion not in info.criteria:
            return bad("unknown criterion")
        if choice not in _SHOWN:
            return bad("choice must be left, right or tie")
        item = items[k - 1]
        store.record_votes(
            study,
            [
                Vote(
                    annotator,
                    item.item.item_id,
                    criterion,
                    item.to_side(choice),
                    item.left_side,
                    "app",
                )
            ],
        )
        done = done_count(annotator, {i.item.item_id for i in items})
        return JSONResponse({"ok": True, "done": done, "total": len(items)}, headers=_HEADERS)

    @app.post("/a/{token}/comment")
    async def comment(token: str, request: Request) -> Response:
        annotator, body = await checked_body(request, token)
        items = mine(annotator)
        k, text = body.get("item"), body.get("comment")
        if not isinstance(k, int) or not 1 <= k <= len(items) or not isinstance(text, str):
            return bad("expected an item number and a comment")
        store.set_comment(study, annotator, items[k - 1].item.item_id, text[:10000])
        return JSONResponse({"ok": True}, headers=_HEADERS)

    @app.api_route("/{rest:path}", methods=["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"])
    def anything_else(rest: str) -> Response:
        raise _Denied

    app.state.store = store
    return app
