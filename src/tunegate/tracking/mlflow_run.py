"""A finished run as an MLflow run, through ``MlflowClient`` (the ``mlflow`` extra:
``pip install 'tunegate[mlflow]'``; imported only here, only when a run is tracked).

Never loses the run: any failure of the tracking server (unreachable, refusing, failing
half way) is returned as a warning; the run, its store and its exit code are untouched.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

from tunegate.secrets import redact
from tunegate.tracking.values import dataset_digest, metric_values, params, tags

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

#: MLflow's defaults retry an unreachable server for minutes (7 retries, backoff 2,
#: 120 s timeouts); a run's end should not wait that long. Each can be set otherwise in
#: the environment. Telemetry is off unless MLFLOW_DISABLE_TELEMETRY says otherwise, and
#: MLflow does not print its own links on stdout (the CLI prints the run's).
_ENV_DEFAULTS = {
    "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT": "true",
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "30",
    "MLFLOW_DISABLE_TELEMETRY": "true",
}

T = TypeVar("T")


@dataclass(frozen=True)
class Tracked:
    """Where the run went (``run_id`` set) or why it did not (``warning`` set)."""

    uri: str
    experiment: str
    run_id: str | None = None
    url: str | None = None
    warning: str | None = None


def safe_uri(uri: str) -> str:
    """``uri`` as a message may show it: no user, password or query."""
    parts = urlsplit(uri)
    if not parts.netloc:
        return redact(uri)
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return redact(urlunsplit((parts.scheme, host, parts.path, "", "")))


def _chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def track_mlflow(
    document: dict[str, Any],
    uri: str,
    experiment: str,
    artifacts: Mapping[str, str],
    sources: Mapping[str, str] | None = None,
) -> Tracked:
    """Log the run (its JSON ``document``) to the MLflow tracking server at ``uri``, in
    ``experiment`` (created when missing): params, metrics, tags, the ``artifacts``
    (file name -> text: the reports) and each suite's test set as a dataset input
    (``sources``: suite -> where its data came from). Returns where it went, or a warning."""
    for key, value in _ENV_DEFAULTS.items():
        os.environ.setdefault(key, value)
    shown = safe_uri(uri)
    try:
        from mlflow.tracking import MlflowClient
    except ImportError:
        return Tracked(
            shown,
            experiment,
            warning="MLflow tracking needs the mlflow package: pip install 'tunegate[mlflow]'",
        )
    run_id: str | None = None
    client: MlflowClient | None = None
    try:
        client = MlflowClient(tracking_uri=uri)
        found = client.get_experiment_by_name(experiment)
        experiment_id = (
            found.experiment_id if found is not None else client.create_experiment(experiment)
        )
        run = client.create_run(
            experiment_id, run_name=str(document.get("run_id")), tags=tags(document)
        )
        run_id = run.info.run_id
        _log(client, run_id, document, artifacts, sources or {})
        client.set_terminated(run_id, "FINISHED")
    except Exception as exc:  # the server's failure is a warning: the run stands
        if client is not None and run_id is not None:
            with contextlib.suppress(Exception):  # the server is already failing
                client.set_terminated(run_id, "FAILED")
        what = redact(f"{type(exc).__name__}: {exc}").strip().splitlines()
        first = what[0][:300] if what else type(exc).__name__
        where = f" (MLflow run {run_id}, marked FAILED)" if run_id is not None else ""
        return Tracked(
            shown,
            experiment,
            run_id=run_id,
            warning=f"MLflow tracking at {shown} failed{where}: {first}; "
            "the run itself is stored and its verdict stands",
        )
    url = None
    if urlsplit(uri).scheme in ("http", "https"):
        url = f"{shown.rstrip('/')}/#/experiments/{experiment_id}/runs/{run_id}"
    return Tracked(shown, experiment, run_id=run_id, url=url)


def _log(
    client: MlflowClient,
    run_id: str,
    document: dict[str, Any],
    artifacts: Mapping[str, str],
    sources: Mapping[str, str],
) -> None:
    from mlflow.entities import Dataset, DatasetInput, InputTag, Metric, Param

    now = int(time.time() * 1000)
    suites = document.get("suites", [])
    digests = {s["name"]: dataset_digest(s) for s in suites}
    settings = [Param(k, v) for k, v in params(document, digests).items()]
    for some in _chunks(settings, 100):
        client.log_batch(run_id, params=some)
    metrics = [Metric(k, v, now, 0) for k, v in metric_values(document).items()]
    for chunk in _chunks(metrics, 1000):
        client.log_batch(run_id, metrics=chunk)
    inputs = [
        DatasetInput(
            Dataset(
                name=str(s["name"]),
                digest=digests[s["name"]][:32],
                source_type="local" if s["name"] in sources else "tunegate",
                source=_json({"uri": sources.get(s["name"], f"tunegate:{s['name']}")}),
                profile=_json({"num_rows": s.get("n_cases"), "task": s.get("task")}),
            ),
            [InputTag("mlflow.data.context", "eval")],
        )
        for s in suites
    ]
    if inputs:
        client.log_inputs(run_id, datasets=inputs)
    with tempfile.TemporaryDirectory(prefix="tunegate-mlflow-") as folder:
        for name, text in artifacts.items():
            path = Path(folder) / name
            path.write_text(text, encoding="utf-8")
            client.log_artifact(run_id, str(path))


def _json(value: Any) -> str:
    import json

    return json.dumps(value, ensure_ascii=False, sort_keys=True)
