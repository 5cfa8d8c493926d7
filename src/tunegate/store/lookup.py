"""Run lookup: which stored run a reference (id, id prefix, ``latest``, ``previous``)
names, and its stored result."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tunegate.errors import DataError, TunegateError
from tunegate.store.records import RunInfo

if TYPE_CHECKING:
    from tunegate.store import Store

#: Run references with a meaning of their own (besides ids and id prefixes).
SPECIAL_REFS = ("latest", "previous")


def _runs_hint(store: Store) -> str:
    return f"`tunegate runs --store {store.path}` lists them"


def resolve_run(store: Store, run_ref: str) -> RunInfo:
    """The run that ``run_ref`` names in ``store``.

    ``run_ref`` is a full run id, a prefix of exactly one run id, ``latest`` (the
    newest completed run) or ``previous`` (the newest completed run before
    ``latest`` that has the same name). Raises :class:`TunegateError` when nothing
    or several runs match.
    """
    ref = run_ref.strip()
    if not ref:
        raise TunegateError(
            "empty run reference: pass a run id, a unique id prefix, `latest` or `previous`"
        )
    runs = store.runs()
    if ref in SPECIAL_REFS:
        completed = [r for r in runs if r.status == "completed"]
        if not completed:
            raise TunegateError(
                f"{store.path}: no completed run, so there is no `{ref}` run "
                "(run `tunegate run` first)"
            )
        latest = completed[0]
        if ref == "latest":
            return latest
        earlier = [r for r in completed[1:] if r.name == latest.name]
        if not earlier:
            raise TunegateError(
                f"{store.path}: no completed run named {latest.name!r} before the latest "
                f"run {latest.id}, so there is no `previous` run; pass two run ids "
                f"({_runs_hint(store)})"
            )
        return earlier[0]
    exact = [r for r in runs if r.id == ref]
    if exact:
        return exact[0]
    matches = [r for r in runs if r.id.startswith(ref)]
    if not matches:
        raise TunegateError(f"{store.path}: no run matches {ref!r} ({_runs_hint(store)})")
    if len(matches) > 1:
        shown = ", ".join(r.id for r in matches[:5])
        more = f" and {len(matches) - 5} more" if len(matches) > 5 else ""
        raise TunegateError(
            f"{store.path}: {ref!r} is ambiguous: it matches {len(matches)} runs "
            f"({shown}{more}); give more of the id"
        )
    return matches[0]


def load_run_result(store: Store, run_ref: str) -> dict[str, Any]:
    """The stored result (``meta["result"]``) of the run ``run_ref`` names.

    See :func:`resolve_run` for the references. Raises :class:`TunegateError` when
    the run is unknown, ambiguous or not finished, and :class:`DataError` when it
    was stored without a result. The returned dict is a shallow copy whose
    ``run_id`` and ``name`` default to the store's when the result lacks them.
    """
    info = resolve_run(store, run_ref)
    if info.status == "running":
        raise TunegateError(f"run {info.id} has not finished yet (status running)")
    if info.status != "completed":
        raise TunegateError(
            f"run {info.id} did not finish (status {info.status}): it has no result to compare"
        )
    result = info.meta.get("result")
    if result is None:
        raise DataError(
            f"run {info.id} has no stored result (it ran with an older tunegate or did not finish)"
        )
    if not isinstance(result, dict):
        raise DataError(
            f"run {info.id}: the stored result is a {type(result).__name__}, not an object"
        )
    copy = dict(result)
    copy.setdefault("run_id", info.id)
    copy.setdefault("name", info.name)
    return copy
