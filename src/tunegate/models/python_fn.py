"""A Python function as a model: ``package.module:function``, sync or async."""

from __future__ import annotations

import asyncio
import hashlib
import importlib
import inspect
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tunegate.config import PythonModel
from tunegate.data import Case
from tunegate.errors import BackendError
from tunegate.models.base import Completion, TransportError
from tunegate.models.http import answer_at, completion_from_value
from tunegate.secrets import redact


def import_function(spec: str, key: str, search_path: Path | None = None) -> Callable[..., Any]:
    """Import ``package.module:function``; ``search_path`` (the config's folder) is tried first."""
    module_name, _, attr = spec.partition(":")
    if search_path is not None and str(search_path) not in sys.path:
        sys.path.insert(0, str(search_path))
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise BackendError(f"{key}: cannot import module {module_name!r} ({exc})") from None
    except Exception as exc:
        raise BackendError(
            f"{key}: importing {module_name!r} raised {type(exc).__name__}: {exc}"
        ) from None
    fn = getattr(module, attr, None)
    if not callable(fn):
        raise BackendError(f"{key}: module {module_name!r} has no function {attr!r}")
    return fn  # type: ignore[no-any-return]


def _takes_case(fn: Callable[..., Any]) -> bool:
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return False
    if not params:
        return False
    first = params[0]
    return first.name == "case" or first.annotation in (Case, "Case")


class PythonBackend:
    """Calls the function with the case text (or the :class:`Case` when its first parameter is
    named ``case`` or annotated ``Case``). Sync functions run in worker threads."""

    def __init__(self, name: str, config: PythonModel, search_path: Path | None = None) -> None:
        self.name = name
        self.config = config
        self.concurrency = config.concurrency
        self.timeout: float | None = config.timeout
        self.max_retries = config.max_retries
        self.fn = import_function(config.function, f"models.{name}.function", search_path)
        self._is_async = inspect.iscoroutinefunction(self.fn)
        self._takes_case = _takes_case(self.fn)
        try:
            source = inspect.getsource(self.fn)
        except (OSError, TypeError):
            source = ""
        self._source_hash = hashlib.sha256(source.encode()).hexdigest()[:16]

    async def start(self) -> None:
        return None

    def identity(self) -> dict[str, Any]:
        # The source hash makes an edited function miss the cache.
        return {"type": "python", "function": self.config.function, "source": self._source_hash}

    def render(self, case: Case) -> dict[str, Any]:
        if not self._takes_case:
            return {"input": case.text}
        return {
            "case": {
                "id": case.id,
                "text": case.text,
                "reference": case.reference,
                "messages": [dict(m) for m in case.messages],
                "category": case.category,
                "metadata": case.metadata,
            }
        }

    async def send(self, request: dict[str, Any]) -> Completion:
        if "case" in request:
            c = request["case"]
            arg: Any = Case(
                id=c["id"],
                text=c["text"],
                reference=c["reference"],
                messages=tuple(c["messages"]),
                category=c["category"],
                metadata=c["metadata"],
            )
        else:
            arg = request["input"]
        try:
            if self._is_async:
                value = await self.fn(arg)
            else:
                value = await asyncio.to_thread(self.fn, arg)
        except Exception as exc:
            raise TransportError(
                redact(f"{self.config.function} raised {type(exc).__name__}: {exc}"),
                retryable=False,
                kind="model",
            ) from None
        if isinstance(value, Completion):
            return value
        if self.config.response is not None:
            return answer_at(value, self.config.response, retryable=False)
        return completion_from_value(value)

    async def aclose(self) -> None:
        return None
