"""``type: echo``: a model that answers each case with its own input, offline.

A backend plugin is a pydantic config class, a subclass of
:class:`tunegate.config.BackendConfig` (which brings ``price``, ``version``,
``concurrency``, ``timeout`` and ``max_retries``), with ``type: Literal["echo"]`` and
a ``build(name, context)`` method returning the backend.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from tunegate.config import BackendConfig
from tunegate.data import Case
from tunegate.models.base import BackendDefaults, Completion
from tunegate.models.registry import BuildContext


class EchoConfig(BackendConfig):
    """The options of ``type: echo`` (unknown keys are refused, as for every model)."""

    type: Literal["echo"]
    prefix: str = ""
    suffix: str = ""
    #: Answer with the input's first ``words`` words only (None: all of them).
    words: Annotated[int, Field(ge=1)] | None = None

    def build(self, name: str, context: BuildContext) -> EchoBackend:
        """The backend of model ``name``."""
        return EchoBackend(name, self)


class EchoBackend(BackendDefaults):
    """Answers ``prefix + input + suffix`` (the input cut to ``words`` words)."""

    def __init__(self, name: str, config: EchoConfig) -> None:
        super().__init__()
        self.name = name
        self.config = config
        self.concurrency = config.effective_concurrency()
        self.timeout: float | None = config.timeout
        self.max_retries = config.max_retries
        self.version = config.version

    async def start(self) -> None:
        return None

    def identity(self) -> dict[str, Any]:
        """What the answers depend on (tunegate keys its cache by it)."""
        c = self.config
        return {"type": "echo", "prefix": c.prefix, "suffix": c.suffix, "words": c.words}

    def render(self, case: Case) -> dict[str, Any]:
        return {"input": case.text}

    async def send(self, request: dict[str, Any]) -> Completion:
        text = str(request["input"])
        if self.config.words is not None:
            text = " ".join(text.split()[: self.config.words])
        return Completion(text=f"{self.config.prefix}{text}{self.config.suffix}")

    async def aclose(self) -> None:
        return None
