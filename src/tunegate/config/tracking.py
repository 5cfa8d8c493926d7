"""``tracking:``: where a finished run is also sent (docs/tracking.md)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from pydantic import Field, field_validator

from tunegate.config.base import _Strict


class MlflowTracking(_Strict):
    """``tracking: {mlflow: {uri, experiment}}``: each run becomes an MLflow run."""

    # The tracking server (http(s)://host:port, a file: or sqlite: URI, databricks).
    # Credentials belong in MLflow's own variables (MLFLOW_TRACKING_TOKEN, ...), not here.
    uri: Annotated[str, Field(min_length=1)]
    # Default: the config's name.
    experiment: Annotated[str, Field(min_length=1, max_length=500)] | None = None

    @field_validator("uri")
    @classmethod
    def _no_credentials(cls, uri: str) -> str:
        return check_uri(uri)


def check_uri(uri: str) -> str:
    """``uri`` if it carries no credentials: a user, a password or a query string would
    be stored with the config and shown in messages."""
    parts = urlsplit(uri.strip())
    if parts.username is not None or parts.password is not None or parts.query:
        raise ValueError(
            "credentials do not belong in the tracking URI (it is stored with the run): "
            "give MLflow's own MLFLOW_TRACKING_TOKEN, or MLFLOW_TRACKING_USERNAME and "
            "MLFLOW_TRACKING_PASSWORD, in the environment"
        )
    if not parts.scheme and uri.strip() != "databricks" and not uri.startswith(("/", ".")):
        raise ValueError(
            f"not a tracking URI: {uri!r} (http://host:port, https://..., file:///path, "
            "sqlite:///path, databricks)"
        )
    return uri.strip()


class TrackingConfig(_Strict):
    """``tracking:``."""

    mlflow: MlflowTracking | None = None
