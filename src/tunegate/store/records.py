"""What the store holds: a model's :class:`Response`, a run's :class:`RunInfo`, and
their rows (secret-free JSON, answers cut at :data:`MAX_ANSWER_CHARS`)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from tunegate.data.response import MAX_ANSWER_CHARS, Response
from tunegate.secrets import redact, redact_known, redact_urls, remember_urls_in
from tunegate.store.sqlite import _dump, _load


@dataclass
class RunInfo:
    """A stored run."""

    id: str
    name: str
    started_at: str
    finished_at: str | None
    status: str
    seed: int | None
    config: dict[str, Any]
    meta: dict[str, Any]


def _safe_dump(value: Any) -> str | None:
    text = _dump(value)
    return None if text is None else redact_known(text)


def _secret_free_config(config: dict[str, Any]) -> str | None:
    remember_urls_in(config)  # so that their secrets are scrubbed from every later message too
    text = _dump(config)
    return None if text is None else redact_urls(text)


_INSERT_RESPONSE = (
    "INSERT OR REPLACE INTO responses(run_id, model, case_id, key, request, text, output,"
    " extra, error, error_kind, latency_ms, prompt_tokens, completion_tokens, attempts,"
    " cached, created_at, origin_run, origin_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def _response_row(run_id: str, response: Response, request: dict[str, Any]) -> tuple[Any, ...]:
    """The values of one ``responses`` row (answers cut, secrets redacted)."""
    response = _truncated(response)
    return (
        run_id,
        response.model,
        response.case_id,
        response.key,
        _safe_dump(request),
        response.text,
        _dump(response.output),
        _dump(response.extra),
        None if response.error is None else redact(response.error),
        response.error_kind,
        response.latency_ms,
        response.prompt_tokens,
        response.completion_tokens,
        response.attempts,
        int(response.cached),
        time.time(),
        response.origin_run,
        response.origin_at,
    )


def _truncated(response: Response) -> Response:
    """``response`` with an answer over :data:`MAX_ANSWER_CHARS` cut, noting the length.

    Cut in place: the caller's copy (scored in this run) then matches what the store keeps
    (scored on a re-run from the cache), and the whole answer is not held on to."""
    text = response.text
    if text is None or len(text) <= MAX_ANSWER_CHARS:
        return response
    response.extra = {**(response.extra or {}), "truncated_from": len(text)}
    if isinstance(response.output, str) and len(response.output) > MAX_ANSWER_CHARS:
        response.output = response.output[:MAX_ANSWER_CHARS]
    response.text = text[:MAX_ANSWER_CHARS]
    return response


_COLUMNS = (
    "case_id, model, key, text, output, extra, error, error_kind, latency_ms,"
    " prompt_tokens, completion_tokens, attempts, cached, origin_run, origin_at"
)


def _response(row: tuple[Any, ...]) -> Response:
    """A :class:`Response` from a row selected with ``_COLUMNS``."""
    return Response(
        case_id=row[0],
        model=row[1],
        key=row[2],
        text=row[3],
        output=_load(row[4]),
        extra=_load(row[5]),
        error=row[6],
        error_kind=row[7],
        latency_ms=row[8],
        prompt_tokens=row[9],
        completion_tokens=row[10],
        attempts=row[11],
        cached=bool(row[12]),
        origin_run=row[13],
        origin_at=row[14],
    )


# --------------------------------------------------------------------------- run lookup
