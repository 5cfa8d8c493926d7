"""A loopback stand-in for the OpenAI Batch API (the provider only: everything of tunegate's
in the tests is real), served by a real uvicorn server through :func:`servers.serve`.

Endpoints and object shapes as documented (https://platform.openai.com/docs/api-reference/batch):

- ``POST /v1/files`` (multipart/form-data: ``purpose=batch`` and ``file``) -> a file object;
- ``POST /v1/batches {input_file_id, endpoint, completion_window}`` -> a batch object;
- ``GET /v1/batches`` (``limit``, ``after``): the batches, newest first;
- ``GET /v1/batches/{id}``: each poll moves the batch one step along ``validating`` ->
  ``in_progress`` -> ``finalizing`` -> the final status (``completed``, or ``failed`` /
  ``expired`` when asked), with ``request_counts {total, completed, failed}``,
  ``output_file_id`` and ``error_file_id`` once final;
- ``GET /v1/files/{id}/content``: the file's bytes (JSONL);
- ``POST /v1/chat/completions``: the same deterministic answers, asked directly.

Configurable failures (:class:`BatchFaults`): custom_ids whose line goes to the error file
(a 400 or a 500), lines missing from both files, a batch that ends ``failed`` (no files) or
``expired`` (only the first ``expired_answered`` lines answered), ``hold`` (the batch
stays ``in_progress`` until released), and ``lost_creates`` (a batch created whose answer
is a 502, as when a connection drops).
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from tunegate.testing.apps import chat_completion_body
from tunegate.testing.toy_model import Answer, sentiment_answer

STEPS = ("validating", "in_progress", "finalizing")


@dataclass
class BatchFaults:
    """What the provider gets wrong (see the module docstring)."""

    error_lines: dict[str, int] = field(default_factory=dict)  # custom_id -> status code
    missing_lines: set[str] = field(default_factory=set)
    final: str = "completed"  # or "failed", "expired"
    expired_answered: int = 0
    hold: bool = False
    lost_creates: int = 0  # creates whose batch is made but whose answer is a 502


@dataclass
class Provider:
    """The provider's state, shared with the test (``app.state.provider``)."""

    faults: BatchFaults = field(default_factory=BatchFaults)
    files: dict[str, bytes] = field(default_factory=dict)
    batches: dict[str, dict[str, Any]] = field(default_factory=dict)
    uploads: int = 0
    created: int = 0
    polls: int = 0
    direct: int = 0  # chat completions asked directly
    lock: threading.Lock = field(default_factory=threading.Lock)


def _error(status: int, message: str) -> JSONResponse:
    body = {"error": {"message": message, "type": "invalid_request_error", "param": None}}
    return JSONResponse(body, status_code=status)


def _multipart(content_type: str, body: bytes) -> dict[str, tuple[str | None, bytes]]:
    """The parts of a multipart/form-data body: name -> (filename, bytes)."""
    head = f"Content-Type: {content_type}\r\n\r\n".encode()
    message = BytesParser(policy=HTTP).parsebytes(head + body)
    parts: dict[str, tuple[str | None, bytes]] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if isinstance(name, str) and isinstance(payload, bytes):
            parts[name] = (part.get_filename(), payload)
    return parts


def batch_provider_app(
    answer: Answer = sentiment_answer, faults: BatchFaults | None = None, *, key: str = "sk-test"
) -> FastAPI:
    """The app; its :class:`Provider` is ``app.state.provider``."""
    app = FastAPI()
    provider = Provider(faults or BatchFaults())
    app.state.provider = provider
    ids = itertools.count(1)

    def authorized(request: Request) -> bool:
        return request.headers.get("authorization") == f"Bearer {key}"

    def answer_line(line: dict[str, Any]) -> dict[str, Any]:
        cid = line["custom_id"]
        status = provider.faults.error_lines.get(cid, 200)
        if status != 200:
            body: dict[str, Any] = {"error": {"message": f"line {cid} refused", "type": "x"}}
        else:
            body = chat_completion_body(line["body"], answer, f"chatcmpl-b{next(ids)}", "toy")
        return {
            "id": f"batch_req_{next(ids)}",
            "custom_id": cid,
            "response": {"status_code": status, "request_id": f"req_{next(ids)}", "body": body},
            "error": None,
        }

    def finish(batch: dict[str, Any]) -> None:
        lines = [json.loads(x) for x in provider.files[batch["input_file_id"]].splitlines()]
        final = provider.faults.final
        batch["status"] = final
        if final == "failed":
            batch["errors"] = {
                "object": "list",
                "data": [{"code": "invalid_request", "message": "bad input", "line": 1}],
            }
            return
        if final == "expired":
            lines = lines[: provider.faults.expired_answered]
        out: list[dict[str, Any]] = []
        err: list[dict[str, Any]] = []
        for line in lines:
            if line["custom_id"] in provider.faults.missing_lines:
                continue
            written = answer_line(line)
            (out if written["response"]["status_code"] == 200 else err).append(written)
        for kind, rows in (("output_file_id", out), ("error_file_id", err)):
            if rows:
                file_id = f"file-{next(ids)}"
                provider.files[file_id] = "".join(json.dumps(r) + "\n" for r in rows).encode()
                batch[kind] = file_id
        batch["request_counts"] = {"total": len(lines), "completed": len(out), "failed": len(err)}

    @app.post("/v1/files")
    async def upload(request: Request) -> Response:
        if not authorized(request):
            return _error(401, "bad key")
        parts = _multipart(request.headers.get("content-type", ""), await request.body())
        if parts.get("purpose", (None, b""))[1] != b"batch" or "file" not in parts:
            return _error(400, "expected purpose=batch and a file")
        filename, content = parts["file"]
        with provider.lock:
            provider.uploads += 1
            file_id = f"file-{next(ids)}"
            provider.files[file_id] = content
        return JSONResponse(
            {
                "id": file_id,
                "object": "file",
                "bytes": len(content),
                "created_at": int(time.time()),
                "filename": filename,
                "purpose": "batch",
            }
        )

    @app.post("/v1/batches")
    async def create(request: Request) -> Response:
        if not authorized(request):
            return _error(401, "bad key")
        body = await request.json()
        if body.get("endpoint") != "/v1/chat/completions" or body.get("input_file_id") not in (
            provider.files
        ):
            return _error(400, "unknown input file or endpoint")
        lines = provider.files[body["input_file_id"]].splitlines()
        for raw in lines:
            line = json.loads(raw)
            if line.get("method") != "POST" or line.get("url") != "/v1/chat/completions":
                return _error(400, "each line: method POST, url /v1/chat/completions")
        with provider.lock:
            provider.created += 1
            batch_id = f"batch_{next(ids)}"
            batch = {
                "id": batch_id,
                "object": "batch",
                "endpoint": body["endpoint"],
                "errors": None,
                "input_file_id": body["input_file_id"],
                "completion_window": body.get("completion_window"),
                "status": "validating",
                "output_file_id": None,
                "error_file_id": None,
                "created_at": int(time.time()),
                "request_counts": {"total": len(lines), "completed": 0, "failed": 0},
                "metadata": body.get("metadata") or {},
            }
            provider.batches[batch_id] = batch
            if provider.faults.lost_creates > 0:
                provider.faults.lost_creates -= 1
                return _error(502, "bad gateway")
        return JSONResponse(batch)

    @app.get("/v1/batches")
    async def listing(request: Request, limit: int = 20, after: str | None = None) -> Response:
        if not authorized(request):
            return _error(401, "bad key")
        with provider.lock:
            newest = list(reversed(provider.batches.values()))
        if after is not None:
            newest = newest[[b["id"] for b in newest].index(after) + 1 :]
        page = newest[:limit]
        return JSONResponse(
            {
                "object": "list",
                "data": page,
                "first_id": page[0]["id"] if page else None,
                "last_id": page[-1]["id"] if page else None,
                "has_more": len(newest) > limit,
            }
        )

    @app.get("/v1/batches/{batch_id}")
    async def retrieve(batch_id: str, request: Request) -> Response:
        if not authorized(request):
            return _error(401, "bad key")
        with provider.lock:
            provider.polls += 1
            batch = provider.batches.get(batch_id)
            if batch is None:
                return _error(404, f"no batch {batch_id}")
            if batch["status"] in STEPS:
                step = STEPS.index(batch["status"])
                if step == 0:
                    batch["status"] = "in_progress"
                elif step == 1:
                    counts = batch["request_counts"]
                    if counts["completed"] < counts["total"] // 2:
                        counts["completed"] = counts["total"] // 2  # half-way
                    elif not provider.faults.hold:
                        batch["status"] = "finalizing"
                elif step == 2:
                    finish(batch)
            return JSONResponse(dict(batch))

    @app.get("/v1/files/{file_id}/content")
    async def content(file_id: str, request: Request) -> Response:
        if not authorized(request):
            return _error(401, "bad key")
        if file_id not in provider.files:
            return _error(404, f"no file {file_id}")
        return Response(provider.files[file_id], media_type="application/octet-stream")

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> Response:
        if not authorized(request):
            return _error(401, "bad key")
        body = await request.json()
        with provider.lock:
            provider.direct += 1
        return JSONResponse(chat_completion_body(body, answer, f"chatcmpl-{next(ids)}", "toy"))

    return app
