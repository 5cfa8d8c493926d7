"""The Batch API's protocol pieces: input lines, batch objects, output and error lines read
like chat completions (a failed line is an error of its own case only), batch prices."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from tunegate.config import OpenAIModel, PriceConfig
from tunegate.config.models import HTTPModel
from tunegate.models.base import Completion, TransportError
from tunegate.models.openai_batch import (
    CHAT_ENDPOINT,
    batch_status,
    line_outcome,
    multipart,
    read_lines,
    request_line,
)


def _chat(text: str) -> dict[str, object]:
    return {
        "choices": [{"message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 7, "completion_tokens": 1},
        "model": "gpt-x",
    }


def test_an_input_line_is_the_direct_request_with_extra_body_merged() -> None:
    request = {"model": "m", "messages": [], "seed": 3, "extra_body": {"top_k": 5}}
    line = json.loads(request_line("c1#r2", request))
    assert line == {
        "custom_id": "c1#r2",
        "method": "POST",
        "url": CHAT_ENDPOINT,
        "body": {"model": "m", "messages": [], "seed": 3, "top_k": 5},
    }
    assert "extra_body" in request  # the rendered request is not changed


def test_an_answered_line_reads_like_a_chat_completion() -> None:
    outcome = line_outcome(
        {"custom_id": "c1", "response": {"status_code": 200, "body": _chat("positive")}}
    )
    assert isinstance(outcome, Completion)
    assert outcome.text == "positive"
    assert (outcome.prompt_tokens, outcome.completion_tokens) == (7, 1)
    assert outcome.extra["served_model"] == "gpt-x"


def test_failed_lines_are_errors_of_their_own_case_only() -> None:
    limited = line_outcome(
        {
            "custom_id": "c1",
            "response": {"status_code": 429, "body": {"error": {"message": "slow down"}}},
        }
    )
    assert isinstance(limited, TransportError)
    assert limited.kind == "rate_limit"
    assert "slow down" in limited.message
    refused = line_outcome({"custom_id": "c2", "response": {"status_code": 401, "body": {}}})
    assert isinstance(refused, TransportError)
    assert not refused.fatal  # the other lines were answered: the model is not stopped
    only_error = line_outcome(
        {"custom_id": "c3", "response": None, "error": {"code": "x", "message": "too long"}}
    )
    assert isinstance(only_error, TransportError)
    assert only_error.kind == "batch"
    assert "too long" in only_error.message
    no_choices = line_outcome({"custom_id": "c4", "response": {"status_code": 200, "body": {}}})
    assert isinstance(no_choices, TransportError)
    assert no_choices.kind == "malformed"


def test_unreadable_lines_name_no_request() -> None:
    ok = json.dumps({"custom_id": "a", "response": {"status_code": 200, "body": _chat("x")}})
    content = f'not json\n{{"response": {{}}}}\n\n{ok}\n'.encode()
    assert list(read_lines(content)) == ["a"]


def test_a_batch_object() -> None:
    status = batch_status(
        {
            "id": "batch_1",
            "status": "failed",
            "request_counts": {"total": 3, "completed": 1, "failed": True},
            "errors": {"data": [{"code": "invalid", "message": "bad line", "line": 2}]},
            "output_file_id": None,
            "error_file_id": "",
        }
    )
    assert status.final
    assert status.counts == {"total": 3, "completed": 1}
    assert status.errors == ["invalid: bad line (line 2)"]
    assert (status.output_file_id, status.error_file_id) == (None, None)
    with pytest.raises(TransportError, match="not a batch object"):
        batch_status({"object": "batch"})


def test_multipart_carries_the_purpose_and_the_file() -> None:
    kind, body = multipart({"purpose": "batch"}, "x.jsonl", b'{"a": 1}\n')
    boundary = kind.split("boundary=")[1]
    assert body.endswith(f"--{boundary}--\r\n".encode())
    assert b'name="purpose"\r\n\r\nbatch\r\n' in body
    assert b'filename="x.jsonl"' in body
    assert b'{"a": 1}\n\r\n' in body


def test_batch_prices() -> None:
    price = PriceConfig(input_per_1m=1.0, output_per_1m=4.0)
    assert (price.batched().input_per_1m, price.batched().output_per_1m) == (0.5, 2.0)
    given = PriceConfig(input_per_1m=1.0, output_per_1m=4.0, batch_input_per_1m=0.2)
    assert (given.batched().input_per_1m, given.batched().output_per_1m) == (0.2, None)
    with pytest.raises(ValidationError, match="per-token"):
        PriceConfig(per_hour=1.0, batch_input_per_1m=0.1)


def test_batch_is_an_openai_key_with_one_endpoint() -> None:
    with pytest.raises(ValidationError, match="one base_url"):
        OpenAIModel(type="openai", model="m", batch=True, base_url=["http://a/v1", "http://b/v1"])
    with pytest.raises(ValidationError, match="batch"):
        HTTPModel.model_validate({"type": "http", "url": "http://a/x", "batch": True})
    with pytest.raises(ValidationError, match="batch_window"):
        OpenAIModel(type="openai", model="m", batch=True, batch_window="1 day")


def test_progress_bars_show_the_batch_counts() -> None:
    from rich.console import Console
    from rich.progress import Progress, TextColumn

    from tunegate.cli.progress import ProgressBars

    progress = Progress(TextColumn("{task.fields[info]}"), console=Console(file=None))
    bars = ProgressBars(progress)
    bars.model_started("tuned", 60, 0)
    bars.batch_progress("tuned", "batch_1", "in_progress", {"total": 60, "completed": 30})
    [task] = progress.tasks
    assert task.fields["info"] == "batch batch_1: in_progress, 30/60 done, 0 failed"
