"""Adapter folders: the ``tunegate.json`` the training script writes, and the
content hash that makes a changed adapter a different model for the cache."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from tunegate.errors import BackendError
from tunegate.models.hf.loading import _sha256_file

#: Name of the file the training script writes into an adapter folder.
ADAPTER_META = "tunegate.json"


def _dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _dir_sha256(path: Path) -> str:
    """Hash of every file's relative path and content, in sorted order."""
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(file.relative_to(path).as_posix().encode() + b"\0")
        digest.update(_sha256_file(file).encode())
    return digest.hexdigest()


def read_adapter_meta(adapter: Path) -> dict[str, Any]:
    """The adapter's ``tunegate.json`` (prompt template, labels, training record) or {}."""
    meta_file = adapter / ADAPTER_META
    if not meta_file.is_file():
        return {}
    try:
        meta = json.loads(meta_file.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise BackendError(f"{meta_file}: cannot read ({exc})") from None
    if not isinstance(meta, dict):
        raise BackendError(f"{meta_file}: expected a JSON object")
    return meta
