"""The HTML report's run facts: the run's identity, times and each model's identity and
shots, written as a reader writes them (lists joined, no Python literals) and with local
paths relative to the config's folder (``facts.config_dir``)."""

from __future__ import annotations

from typing import Any

from tunegate.results import units
from tunegate.results.paths import shown_path


def _plain(value: Any) -> str:
    """A fact's value as a reader writes it: lists joined, mappings as ``k=v``, no
    Python literals."""
    if isinstance(value, list | tuple):
        return ", ".join(_plain(v) for v in value) or "none"
    if isinstance(value, dict):
        return "; ".join(f"{k}={_plain(v)}" for k, v in value.items()) or "none"
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def run_facts(result: dict[str, Any]) -> dict[str, Any]:
    """The run facts section: the run's identity and each model's, as a reader writes
    them (no Python literals, local paths relative to the config's folder)."""
    facts = result.get("facts") or {}
    meta = result.get("model_meta") or {}
    models = []
    for name, identity in (facts.get("models") or {}).items():
        shots = dict((meta.get(name) or {}).get("shots") or {})
        if "path" in shots:  # the file the shots were drawn from
            shots["path"] = shown_path(shots["path"], facts.get("config_dir"))
        models.append(
            {
                "name": name,
                "identity": ", ".join(
                    f"{k}={_plain(v)}" for k, v in identity.items() if not isinstance(v, dict)
                ),
                "params": {k: _plain(v) for k, v in (identity.get("params") or {}).items()},
                "shots": {k: _plain(v) for k, v in shots.items()} if shots else None,
            }
        )
    return {
        "rows": [
            ("run", result.get("run_id")),
            ("name", result.get("name")),
            ("config SHA-256", facts.get("config_sha256")),
            ("seed", result.get("seed")),
            (
                "intervals",
                f"{units.percent(result.get('confidence'), 0)} "
                f"({units.count(result.get('n_resamples'))} bootstrap resamples)",
            ),
            ("tunegate", facts.get("tunegate_version")),
            ("started", facts.get("started_at")),
            ("finished", facts.get("finished_at")),
            ("duration", f"{facts['duration_s']:.1f} s" if "duration_s" in facts else None),
        ],
        "models": models,
    }
