"""Cache keys: the per-backend keyer hashes the same text as the canonical formula,
so answers stored by earlier versions are still found."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from tunegate.models.base import cache_key, cache_keyer


def canonical(identity: dict[str, Any], request: dict[str, Any]) -> str:
    """The key as stores have always held it: SHA-256 of the whole canonical JSON."""
    blob = json.dumps(
        {"identity": identity, "request": request},
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


IDENTITIES: list[dict[str, Any]] = [
    {"type": "openai", "model": "toy", "base_url": "http://127.0.0.1:8000/v1"},
    {"z": 1, "a": {"nested": [1, 2.5, None, True]}, "unicode": "naïve — 日本"},
    {"type": "hf", "adapter": Path("/tmp/adapter"), "labels": ("a", "b")},
    {},
]
REQUESTS: list[dict[str, Any]] = [
    {"model": "toy", "messages": [{"role": "user", "content": 'great "quoted" \n'}]},
    {"prompt": "Review: ☃\u2028", "labels": ["positive", "negative"], "mode": "classify"},
    {"b": {"y": 2, "x": 1}, "a": [float("inf"), -0.0]},
    {},
]


@pytest.mark.parametrize("identity", IDENTITIES)
def test_the_keyer_gives_the_canonical_key(identity: dict[str, Any]) -> None:
    key = cache_keyer(identity)
    for request in REQUESTS:
        assert key(request) == canonical(identity, request)
        assert cache_key(identity, request) == canonical(identity, request)


def test_keys_differ_with_the_identity_and_the_request() -> None:
    keys = {cache_key(i, r) for i in IDENTITIES for r in REQUESTS}
    assert len(keys) == len(IDENTITIES) * len(REQUESTS)
    # the boundary between identity and request is part of what is hashed
    assert cache_key({"a": 1}, {"b": 2}) != cache_key({"a": 1, "b": 2}, {})
