"""The fine-tuned demo model behind ``POST /classify`` — the tutorial's HTTP setup.

    python -m tunegate.examples.sentiment.serve --port 8000
    curl -s localhost:8000/classify -d '{"text": "Love it"}' -H 'content-type: application/json'
    # {"label": "positive", "logprobs": {"positive": -0.1, ...}}

Point a ``type: http`` model at it (``url: http://localhost:8000/classify``,
``body: {text: "{{ input }}"}``, ``response: label``) to evaluate it like any
service of your own. Needs the local extra (torch, transformers, peft).
"""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException
from pydantic import BaseModel

from tunegate.data import Case
from tunegate.models.base import BatchBackend, TransportError

ADAPTER = Path(__file__).parent / "adapter"


class ClassifyRequest(BaseModel):
    """The request body."""

    text: str


def create_app(backend: BatchBackend | None = None) -> FastAPI:
    """The service. A given ``backend`` must already be started; without one, Gemma 3
    270M with the shipped adapter is loaded when the server starts.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if backend is None:
            from tunegate.models.hf import HFBackend

            app.state.backend = HFBackend("finetuned", adapter=ADAPTER)
            await app.state.backend.start()
        yield

    app = FastAPI(title="tunegate sentiment demo", lifespan=lifespan)
    app.state.backend = backend

    @app.post("/classify")
    async def classify(body: ClassifyRequest) -> dict[str, Any]:
        model: Any = app.state.backend  # an HFBackend: render and send_batch
        request = model.render(Case(id="request", text=body.text, reference=""))
        (outcome,) = await model.send_batch([request])
        if isinstance(outcome, TransportError):
            raise HTTPException(status_code=500, detail=outcome.message)
        return {"label": outcome.text, "logprobs": outcome.extra.get("label_logprobs", {})}

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    return app


def main() -> None:
    """Serve on the given host and port."""
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    uvicorn.run(create_app(), host=args.host, port=args.port)


if __name__ == "__main__":
    main()
