"""The facts of a run that a report shows: versions, config hash, times, model identities.

Only what identifies a model is kept (type, model name, function, path, URL without
credentials, generation parameters, shots): header values, API key variables and prices
never enter the result, so no report can show a secret.
"""

from __future__ import annotations

import hashlib
import json
import platform
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from tunegate.config import Config
from tunegate.secrets import redact
from tunegate.version import __version__

#: The spec keys a report may show, per model.
_SHOWN = ("type", "model", "function", "path", "gguf", "gguf_file", "adapter", "dtype")


def _safe_url(url: str) -> str:
    """``url`` without user:password and without a query string (tokens hide there)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return redact(urlunsplit((parts.scheme, host, parts.path, "", "")))


def model_identity(spec: dict[str, Any]) -> dict[str, Any]:
    """The parts of one model's config (``model_dump(mode="json")``) that identify it."""
    out: dict[str, Any] = {k: spec[k] for k in _SHOWN if spec.get(k) is not None}
    for key in ("base_url", "url"):
        if isinstance(spec.get(key), str):
            out[key] = _safe_url(spec[key])
        elif isinstance(spec.get(key), list):  # replicas of one model
            out[key] = [_safe_url(str(u)) for u in spec[key]]
    if spec.get("params"):
        out["params"] = spec["params"]
    for key in ("max_new_tokens", "batch_size"):
        if key in spec and spec.get("type") == "hf":
            out[key] = spec[key]
    shots = spec.get("shots")
    if isinstance(shots, dict):
        out["shots"] = {"k": shots.get("k"), "seed": shots.get("seed")}
    return out


def model_prompting(spec: dict[str, Any]) -> dict[str, str]:
    """How a model is prompted (``system``, ``prompt`` template), for the HTML report's
    case view; empty for a model without either."""
    return {k: spec[k] for k in ("system", "prompt") if isinstance(spec.get(k), str)}


def config_hash(config: Config) -> str:
    """SHA-256 of the validated config (canonical JSON), the same for the same settings."""
    dumped = json.dumps(config.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(dumped.encode("utf-8")).hexdigest()


def run_facts(
    config: Config, started_at: str, finished_at: str, duration_s: float
) -> dict[str, Any]:
    """Facts of one run for its result (JSON-ready, secret-free)."""
    dumped = config.model_dump(mode="json")
    return {
        "tunegate_version": __version__,
        "python": platform.python_version(),
        "config_sha256": config_hash(config),
        "started_at": started_at,
        "finished_at": finished_at,
        "duration_s": round(duration_s, 3),
        "models": {name: model_identity(spec) for name, spec in dumped["models"].items()},
        "prompting": {
            name: how for name, spec in dumped["models"].items() if (how := model_prompting(spec))
        },
    }
