"""Sending a finished run out to a tracker (docs/tracking.md): it reads the run's JSON
document and the rendered reports, and never changes the run.

- :mod:`tunegate.tracking.values`: the metrics, params and tags, as plain values;
- :mod:`tunegate.tracking.mlflow_run`: an MLflow run through ``MlflowClient`` (the
  ``mlflow`` extra, imported only when a run is tracked).
"""
