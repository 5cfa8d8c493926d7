"""The OpenAI Batch API (``batch: true`` on an ``openai`` model): a run's chat requests sent
as one JSONL file, answered within the completion window at the batch price.

The protocol (https://platform.openai.com/docs/guides/batch):

1. the requests as JSONL lines ``{custom_id, method: POST, url: /v1/chat/completions,
   body}``, uploaded with a multipart ``POST /v1/files`` (``purpose=batch``);
2. ``POST /v1/batches {input_file_id, endpoint, completion_window}`` creates the batch;
3. ``GET /v1/batches/{id}`` until its ``status`` is final (``validating`` ->
   ``in_progress`` -> ``finalizing`` -> ``completed``; or ``failed``, ``expired``,
   ``cancelled``), with ``request_counts {total, completed, failed}`` on the way;
4. ``GET /v1/files/{id}/content`` of its ``output_file_id`` and ``error_file_id``: a line
   per request, ``{custom_id, response: {status_code, body}, error}``.

Each answered line's body is read exactly like a chat completion
(:func:`~tunegate.models.openai_chat.parse_chat`); a failed line becomes the
:class:`TransportError` its status means. The runner (:mod:`tunegate.runner.batch`)
schedules, stores and resumes; this module only speaks the protocol.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from tunegate.config import OpenAIModel
from tunegate.data import Case
from tunegate.models.base import Completion, TransportError
from tunegate.models.errors import http_status_error, malformed_error
from tunegate.models.openai_chat import OpenAIChatBackend, parse_chat
from tunegate.models.transport import Transport
from tunegate.secrets import clip, redact

#: The endpoint every line of a batch calls (and the batch is created for).
CHAT_ENDPOINT = "/v1/chat/completions"
#: Statuses after which a batch changes no more.
FINAL = frozenset({"completed", "failed", "expired", "cancelled"})


@dataclass
class BatchStatus:
    """What ``GET /v1/batches/{id}`` says about a batch."""

    id: str
    status: str
    counts: dict[str, int] = field(default_factory=dict)
    output_file_id: str | None = None
    error_file_id: str | None = None
    errors: list[str] = field(default_factory=list)  # the batch's own (validation) errors

    @property
    def final(self) -> bool:
        """The batch changes no more: its files can be read."""
        return self.status in FINAL


def batch_status(document: Any) -> BatchStatus:
    """A batch object as a :class:`BatchStatus`; malformed without ``id`` and ``status``."""
    if not isinstance(document, dict) or not all(
        isinstance(document.get(k), str) for k in ("id", "status")
    ):
        raise malformed_error("not a batch object (no id and status)")
    raw = document.get("request_counts")
    counts = {
        k: int(v)
        for k, v in (raw.items() if isinstance(raw, dict) else ())
        if isinstance(v, int) and not isinstance(v, bool)
    }
    errors: list[str] = []
    listed = document.get("errors")
    for error in listed.get("data") or [] if isinstance(listed, dict) else []:
        if isinstance(error, dict):
            line = f" (line {error['line']})" if error.get("line") is not None else ""
            errors.append(f"{error.get('code') or 'error'}: {error.get('message') or ''}{line}")

    def file_id(key: str) -> str | None:
        value = document.get(key)
        return value if isinstance(value, str) and value else None

    return BatchStatus(
        id=document["id"],
        status=document["status"],
        counts=counts,
        output_file_id=file_id("output_file_id"),
        error_file_id=file_id("error_file_id"),
        errors=errors,
    )


def request_line(custom_id: str, request: dict[str, Any]) -> bytes:
    """One JSONL line of the input file: the rendered request as the chat body (its
    ``extra_body`` merged in, as a direct request sends it)."""
    body = dict(request)
    body.update(body.pop("extra_body", None) or {})
    line = {"custom_id": custom_id, "method": "POST", "url": CHAT_ENDPOINT, "body": body}
    return json.dumps(line, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


def multipart(fields: dict[str, str], filename: str, content: bytes) -> tuple[str, bytes]:
    """A ``multipart/form-data`` body: ``fields`` and one file part named ``file``."""
    boundary = "tunegate-" + uuid.uuid4().hex
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"'
        "\r\nContent-Type: application/jsonl\r\n\r\n".encode()
        + content
        + b"\r\n"
    )
    return f"multipart/form-data; boundary={boundary}", b"".join(
        parts
    ) + f"--{boundary}--\r\n".encode()


def line_outcome(line: dict[str, Any]) -> Completion | TransportError:
    """What one line of an output or error file says about its request."""
    error = line.get("error")
    response = line.get("response")
    if isinstance(response, dict) and isinstance(response.get("status_code"), int):
        status = int(response["status_code"])
        body = response.get("body")
        if 200 <= status < 300:
            try:
                return parse_chat(body)
            except TransportError as exc:
                return exc
        detail = body.get("error", body) if isinstance(body, dict) else None
        message = detail.get("message") if isinstance(detail, dict) else None
        failed = http_status_error(status, redact(str(message or "")))
        failed.fatal = False  # one line's failure: the others were answered on their own
        return failed
    if isinstance(error, dict):
        message = f"{error.get('code') or 'error'}: {error.get('message') or ''}"
        return TransportError(redact(clip(message, 300)), retryable=False, kind="batch")
    return TransportError(
        "batch line without a response or an error", retryable=False, kind="batch"
    )


def read_lines(content: bytes) -> dict[str, Completion | TransportError]:
    """``custom_id`` -> outcome, for every readable line of an output or error file
    (a line that is not JSON or has no ``custom_id`` names no request: skipped)."""
    outcomes: dict[str, Completion | TransportError] = {}
    for raw in content.splitlines():
        if not raw.strip():
            continue
        try:
            line = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            continue
        if isinstance(line, dict) and isinstance(line.get("custom_id"), str):
            outcomes[line["custom_id"]] = line_outcome(line)
    return outcomes


class OpenAIBatchBackend(OpenAIChatBackend):
    """An ``openai`` chat model asked through the Batch API (``batch: true``).

    Renders requests like the chat backend (same cache identity: an answer is the same
    model's answer either way); the runner sends them with :meth:`submit` and reads
    them back with :meth:`retrieve` and :meth:`results`. Always over the lean transport.
    """

    provider_batch = True

    def __init__(self, name: str, config: OpenAIModel, shots: Sequence[Case] = (), **kw: Any):
        super().__init__(name, config, shots, **kw)
        self.poll_interval = config.batch_poll_interval
        self.window = config.batch_window
        self.wait = config.batch_wait
        self.endpoint = redact(self.base_url)

    async def start(self) -> None:
        api_key, headers = self.credentials()
        self._transport = Transport(
            self.urls[:1],
            headers={"Authorization": f"Bearer {api_key}", "Accept": "application/json", **headers},
            timeout=self.config.timeout,
            connections=4,
        )
        await self._transport.start()

    def _api(self) -> Transport:
        if self._transport is None:
            raise RuntimeError("start() was not called")
        return self._transport

    async def upload(self, lines: Sequence[bytes]) -> str:
        """Upload the input file; its id."""
        kind, body = multipart({"purpose": "batch"}, f"tunegate-{self.name}.jsonl", b"".join(lines))
        reply = await self._api().request("POST", "/files", content=(kind, body))
        document = reply.json()
        file_id = document.get("id") if isinstance(document, dict) else None
        if not isinstance(file_id, str) or not file_id:
            raise malformed_error("the uploaded file has no id")
        return file_id

    async def create(self, input_file_id: str, metadata: dict[str, str]) -> BatchStatus:
        """Create the batch of the uploaded file."""
        body = {
            "input_file_id": input_file_id,
            "endpoint": CHAT_ENDPOINT,
            "completion_window": self.window,
            "metadata": metadata,
        }
        reply = await self._api().request("POST", "/batches", json_body=body)
        return batch_status(reply.json())

    async def find(self, input_file_id: str, pages: int = 20) -> BatchStatus | None:
        """The newest batch made of ``input_file_id`` (``GET /v1/batches``, 100 a page,
        newest first, at most ``pages`` pages), or None."""
        after: str | None = None
        for _ in range(pages):
            params = {"limit": 100, **({"after": after} if after else {})}
            reply = await self._api().request("GET", "/batches", params=params)
            page = reply.json()
            data = page.get("data") if isinstance(page, dict) else None
            if not isinstance(data, list):
                raise malformed_error("the list of batches has no data")
            for document in data:
                if isinstance(document, dict) and document.get("input_file_id") == input_file_id:
                    return batch_status(document)
            if not page.get("has_more") or not data:
                return None
            last = data[-1].get("id") if isinstance(data[-1], dict) else None
            if not isinstance(last, str):
                return None
            after = last
        return None

    async def retrieve(self, batch_id: str) -> BatchStatus:
        """The batch's status now."""
        reply = await self._api().request("GET", f"/batches/{batch_id}")
        return batch_status(reply.json())

    async def results(self, status: BatchStatus) -> dict[str, Completion | TransportError]:
        """Every line of the batch's output and error files, by ``custom_id``."""
        outcomes: dict[str, Completion | TransportError] = {}
        for file_id in (status.error_file_id, status.output_file_id):  # answers win
            if file_id is not None:
                reply = await self._api().request("GET", f"/files/{file_id}/content")
                outcomes.update(read_lines(reply.body))
        return outcomes


def build_batch(
    name: str, config: OpenAIModel, shots: Sequence[Case], *, tools: bool, mode: str
) -> OpenAIBatchBackend:
    """The batch backend of ``name`` (chat requests only)."""
    from tunegate.errors import ConfigError

    if mode != "chat":
        raise ConfigError(
            f"models.{name}.batch: the Batch API is used for chat completions; a perplexity "
            "task scores through the completions endpoint (remove batch: true)"
        )
    return OpenAIBatchBackend(name, config, shots, tools=tools, mode=mode)
