"""The annotation web app: FastAPI, server-rendered Jinja2 pages (autoescaped), a little
vanilla JS. (This module imports FastAPI at the top: only ``tunegate human serve`` and the
tests import it.)

Every URL carries the annotator's secret token (``/a/<token>/...``); a request without a
valid one gets 403, whatever the path (a page that says to ask for a new link). An annotator sees only their own items, in their
recorded left/right order, never model names nor anyone else's votes. Votes (left, right,
tie, both bad, can't judge) are posted as JSON with a CSRF token header on every click and
stored at once, with the seconds spent on the page; a later click replaces the earlier
vote. ``/a/<token>/done`` lists the items still missing, or says that all are done.

Every request passes :class:`tunegate.human.guard.Guard` first (a body of at most 64 KiB,
the security headers on every response, no traceback to anyone); a body must be a JSON
object at most :data:`MAX_DEPTH` deep whose fields have exactly their types (``"item":
true`` is no item number): anything else is answered 400.
"""

from __future__ import annotations

import base64
import errno
import hashlib
import hmac
import json
import math
import re
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from pydantic import BaseModel, ConfigDict, StrictFloat, StrictInt, StrictStr, ValidationError

from tunegate.errors import TunegateError
from tunegate.human.guard import Guard
from tunegate.human.markdown import render_markdown
from tunegate.human.store import HumanStore, StudyItem, Vote
from tunegate.human.study import DEFAULT_INSTRUCTIONS, OVERALL, criterion_definition

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
_SHOWN = ("left", "right", "tie", "both_bad", "skip")
#: The longest time on a page recorded for a vote (a tab left open overnight is not work).
MAX_SECONDS = 6 * 3600.0
#: The page for a wrong link has no token to fetch the stylesheet with: its few rules are
#: inline, allowed by their hash alone (no quotes or angle brackets: escaping keeps them).
_DENIED_STYLE = (
    "body { font-family: system-ui, sans-serif; margin: 0; background: #f6f7f9; color: #1d232b; }"
    " main { max-width: 40rem; margin: 0 auto; padding: 1.5rem 1rem; line-height: 1.5; }"
    " h1 { font-size: 1.5rem; } .todo { background: #fff; border: 1px solid #d7dce2;"
    " border-left: 4px solid #2f6fd6; border-radius: 6px; padding: .7rem 1rem; }"
)
_DENIED_HEADERS = {
    **_HEADERS,
    "Content-Security-Policy": _HEADERS["Content-Security-Policy"].replace(
        "style-src 'self'",
        "style-src 'sha256-"
        + base64.b64encode(hashlib.sha256(_DENIED_STYLE.encode()).digest()).decode()
        + "'",
    ),
}
#: How deeply a request body may nest (a vote is a flat object: depth 1).
MAX_DEPTH = 8
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')
_BRACKETS = re.compile(rb"[\[\]{}]")


class _VoteBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    item: StrictInt
    criterion: StrictStr
    choice: StrictStr
    seconds: StrictFloat | StrictInt | None = None


class _CommentBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    item: StrictInt
    comment: StrictStr


class _BadBody(Exception):
    """Answer 400 with this message."""


def _depth(raw: bytes) -> int:
    """How deeply ``raw`` (JSON text) nests arrays and objects, strings aside."""
    depth = deepest = 0
    for bracket in _BRACKETS.findall(_JSON_STRING.sub(b"", raw)):
        depth += 1 if bracket in (b"[", b"{") else -1
        deepest = max(deepest, depth)
    return deepest


def _json_object(raw: bytes) -> dict[str, Any]:
    """The JSON object ``raw`` holds; :class:`_BadBody` for anything else."""
    if _depth(raw) > MAX_DEPTH:
        raise _BadBody(f"the body nests deeper than {MAX_DEPTH} levels")
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):  # not JSON, not UTF-8, a 5,000-digit number
        raise _BadBody("the body is not valid JSON") from None
    if not isinstance(body, dict):
        raise _BadBody("the body is not a JSON object")
    return body


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

    denied_page = env.get_template("denied.html").render(style=_DENIED_STYLE)

    def forbidden() -> Response:
        return HTMLResponse(denied_page, status_code=403, headers=_DENIED_HEADERS)

    @app.exception_handler(_Denied)
    async def denied(request: Request, exc: _Denied) -> Response:
        return forbidden()

    @app.exception_handler(_BadBody)
    async def bad_body(request: Request, exc: _BadBody) -> Response:
        return bad(str(exc))

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
                if v.criterion == OVERALL and v.item_id in ids
            }
        )

    instructions = render_markdown(info.instructions or DEFAULT_INSTRUCTIONS)
    definitions = [(c, criterion_definition(c)) for c in info.criteria]

    def finish_page(token: str, annotator: str) -> Response:
        items = mine(annotator)
        voted = {v.item_id for v in store.votes(study, annotator) if v.criterion == OVERALL}
        missing = [k for k, i in enumerate(items, 1) if i.item.item_id not in voted]
        page = env.get_template("done.html").render(
            annotator=annotator,
            total=len(items),
            done=len(items) - len(missing),
            missing=missing,
            base=f"/a/{token}",
        )
        return HTMLResponse(page, headers=_HEADERS)

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
            return finish_page(token, annotator)
        return RedirectResponse(f"/a/{token}/{first}", status_code=303, headers=_HEADERS)

    @app.get("/a/{token}/done")
    def done(token: str) -> Response:
        return finish_page(token, who(token))

    @app.get("/a/{token}/{k}")
    def item_page(token: str, k: int) -> Response:
        annotator = who(token)
        items = mine(annotator)
        if not 1 <= k <= len(items):
            page = env.get_template("missing.html").render(total=len(items), base=f"/a/{token}")
            return HTMLResponse(page, status_code=404, headers=_HEADERS)
        item = items[k - 1]
        votes = {
            v.criterion: item.to_shown(v.choice)
            for v in store.votes(study, annotator)
            if v.item_id == item.item.item_id
        }
        comment = store.comments(study, annotator).get((annotator, item.item.item_id), "")
        done = done_count(annotator, {i.item.item_id for i in items})
        page = env.get_template("item.html").render(
            annotator=annotator,
            k=k,
            total=len(items),
            done=done,
            prompt=item.item.prompt,
            left=render_markdown(item.left_output),
            right=render_markdown(item.right_output),
            reference=item.item.reference if info.show_reference else None,
            instructions=instructions,
            show_instructions=done == 0 and not votes,
            definitions=definitions,
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
        return annotator, _json_object(await request.body())

    def bad(message: str) -> Response:
        return JSONResponse({"ok": False, "error": message}, status_code=400, headers=_HEADERS)

    @app.post("/a/{token}/vote")
    async def vote(token: str, request: Request) -> Response:
        annotator, body = await checked_body(request, token)
        items = mine(annotator)
        try:
            sent = _VoteBody.model_validate(body)
        except ValidationError:
            return bad("expected an item number, a criterion and a choice")
        k, criterion, choice = sent.item, sent.criterion, sent.choice
        if not 1 <= k <= len(items):
            return bad("unknown item")
        if criterion not in info.criteria:
            return bad("unknown criterion")
        if choice not in _SHOWN:
            return bad("choice must be left, right, tie, both_bad or skip")
        seconds = None
        if sent.seconds is not None and math.isfinite(sent.seconds):
            seconds = min(max(float(sent.seconds), 0.0), MAX_SECONDS)
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
                    seconds,
                )
            ],
        )
        done = done_count(annotator, {i.item.item_id for i in items})
        return JSONResponse({"ok": True, "done": done, "total": len(items)}, headers=_HEADERS)

    @app.post("/a/{token}/comment")
    async def comment(token: str, request: Request) -> Response:
        annotator, body = await checked_body(request, token)
        items = mine(annotator)
        try:
            sent = _CommentBody.model_validate(body)
        except ValidationError:
            return bad("expected an item number and a comment")
        k, text = sent.item, sent.comment
        if not 1 <= k <= len(items):
            return bad("expected an item number and a comment")
        store.set_comment(study, annotator, items[k - 1].item.item_id, text[:10000])
        return JSONResponse({"ok": True}, headers=_HEADERS)

    @app.api_route("/{rest:path}", methods=["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"])
    def anything_else(rest: str) -> Response:
        raise _Denied

    app.add_middleware(Guard, headers=_HEADERS)  # added last: runs first
    app.state.store = store
    return app


def listen(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` for :func:`serve_on`; a :class:`TunegateError`
    naming the address when it cannot be (a busy port, an unknown host)."""
    shown = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except (OSError, OverflowError, UnicodeError) as exc:
        raise TunegateError(f"cannot serve on {shown}: {_why(exc)}") from None
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except (OSError, OverflowError) as exc:
        sock.close()
        busy = isinstance(exc, OSError) and exc.errno == errno.EADDRINUSE
        hint = " (another server listens there: stop it or pass another --port)" if busy else ""
        raise TunegateError(f"cannot serve on {shown}: {_why(exc)}{hint}") from None
    return sock


def _why(exc: BaseException) -> str:
    return (exc.strerror if isinstance(exc, OSError) else None) or str(exc)


def serve_on(app: FastAPI, sock: socket.socket) -> None:
    """Serve ``app`` with uvicorn on the bound ``sock`` until interrupted."""
    import uvicorn

    config = uvicorn.Config(app, log_level="warning", access_log=False)
    uvicorn.Server(config).run(sockets=[sock])
