"""The facts of a run that a report shows: versions, config hash, times, model identities.

Only what identifies a model is kept (type, model name, function, path, URL without
credentials, generation parameters, shots): header values, API key variables and prices
never enter the result, so no report can show a secret. Local paths (a checkpoint, a GGUF
file, an adapter) are kept relative to the config's folder (``config_dir``, recorded with
the facts, the user's home written ``~``), so a report shows no absolute local path.
"""

from __future__ import annotations

import hashlib
import json
import platform
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from tunegate.config import Config
from tunegate.data import Case
from tunegate.models import Backend
from tunegate.results.paths import shown_path
from tunegate.secrets import redact
from tunegate.version import __version__

#: The spec keys a report may show, per model.
_SHOWN = ("type", "model", "function", "path", "gguf", "gguf_file", "adapter", "dtype")
#: Of those, the local paths (``gguf`` names a packaged model, not a file).
_PATHS = ("path", "gguf_file", "adapter")


def home_short(path: str | Path) -> str:
    """``path`` with the user's home written ``~`` (the config folder the facts record)."""
    return shown_path(str(Path(path).resolve()), None)


def _safe_url(url: str) -> str:
    """``url`` without user:password and without a query string (tokens hide there)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return redact(urlunsplit((parts.scheme, host, parts.path, "", "")))


def model_identity(spec: dict[str, Any], config_dir: str | Path | None = None) -> dict[str, Any]:
    """The parts of one model's config (``model_dump(mode="json")``) that identify it;
    local paths relative to ``config_dir`` (see :func:`shown_path`)."""
    out: dict[str, Any] = {k: spec[k] for k in _SHOWN if spec.get(k) is not None}
    for key in _PATHS:
        if isinstance(out.get(key), str):
            out[key] = shown_path(out[key], config_dir)
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


def _sent(request: Any) -> list[dict[str, str]] | None:
    """The messages a request sends (a chat request's ``messages``; a text prompt as one
    ``prompt`` turn); None when the backend sends the case itself (a Python function)."""
    if not isinstance(request, dict):
        return None
    messages = request.get("messages")
    if isinstance(messages, list):
        return [
            {"role": str(m.get("role")), "content": str(m.get("content") or "")}
            for m in messages
            if isinstance(m, dict)
        ]
    prompt = request.get("prompt")
    if isinstance(prompt, str) and not request.get("echo_logprobs"):
        return [{"role": "prompt", "content": prompt}]
    return None


def _shared_prefix(turns: list[list[dict[str, str]]]) -> int:
    """How many leading messages every case's request has in common (system, shots),
    keeping at least the last message of each case its own."""
    n = min(len(t) for t in turns) - 1
    first = turns[0]
    for i in range(max(n, 0)):
        if any(t[i] != first[i] for t in turns):
            return i
    return max(n, 0)


def _only_input(turns: list[dict[str, str]], case: Case) -> bool:
    """Whether a case's own turns are just its input (one user message or text prompt)."""
    return (
        len(turns) == 1
        and turns[0]["role"] in ("user", "prompt")
        and turns[0]["content"] == case.text
    )


def prompts_sent(
    suites: Sequence[tuple[str, Sequence[Case], Mapping[str, Backend]]],
) -> dict[str, dict[str, Any]]:
    """The prompt each model was actually sent, per suite and model, stored once where it
    is shared: ``{suite: {model: {shared: [messages], turns: {case id: [messages]}}}}``.
    ``shared`` is what every case's request starts with (the system message, the k-shot
    examples); ``turns`` the rest of a case's request, left out when it is only the case's
    input as one user message (the report shows the input). Models that are sent the
    case itself (Python functions) are not listed."""
    out: dict[str, dict[str, Any]] = {}
    for suite, cases, backends in suites:
        for name, backend in backends.items():
            sent: list[tuple[Case, list[dict[str, str]]]] = []
            for case in cases:
                try:
                    messages = _sent(backend.render(case))
                except Exception:  # the runner recorded the case's error already
                    messages = None
                if messages is None:
                    break
                sent.append((case, messages))
            if not sent or len(sent) < len(cases):
                continue
            cut = _shared_prefix([m for _, m in sent])
            turns = {
                case.id: rest
                for case, messages in sent
                if not _only_input(rest := messages[cut:], case)
            }
            out.setdefault(suite, {})[name] = {"shared": sent[0][1][:cut], "turns": turns}
    return out


def config_hash(config: Config) -> str:
    """SHA-256 of the validated config (canonical JSON), the same for the same settings.
    Where the run is reported (``tracking:``) is not a setting of the evaluation: two runs
    differing only in it have the same hash."""
    settings = config.model_dump(mode="json", exclude={"tracking"})
    dumped = json.dumps(settings, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(dumped.encode("utf-8")).hexdigest()


def run_facts(
    config: Config,
    started_at: str,
    finished_at: str,
    duration_s: float,
    config_dir: str | Path | None = None,
) -> dict[str, Any]:
    """Facts of one run for its result (JSON-ready, secret-free); ``config_dir`` is the
    config's folder, which local paths are shown relative to."""
    dumped = config.model_dump(mode="json")
    facts: dict[str, Any] = {
        "tunegate_version": __version__,
        "python": platform.python_version(),
        "config_sha256": config_hash(config),
        "started_at": started_at,
        "finished_at": finished_at,
        "duration_s": round(duration_s, 3),
        "models": {
            name: model_identity(spec, config_dir) for name, spec in dumped["models"].items()
        },
        "prompting": {
            name: how for name, spec in dumped["models"].items() if (how := model_prompting(spec))
        },
    }
    if config_dir is not None:
        facts["config_dir"] = home_short(config_dir)
    return facts
