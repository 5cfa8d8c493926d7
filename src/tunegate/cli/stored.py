"""``tunegate runs``, ``cache clear``, ``diff``, ``plan`` and ``report``: the commands over
the SQLite store and its stored runs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from tunegate.cli.base import _fail, _Sigterm, app, out
from tunegate.errors import TunegateError


@app.command()
def runs(
    store: Annotated[Path, typer.Option(help="The SQLite store.")] = Path(".tunegate/tunegate.db"),
    delete: Annotated[
        str | None,
        typer.Option(
            "--delete", help="Delete this run (an id or a unique id prefix) and its answers."
        ),
    ] = None,
) -> None:
    """List the stored runs (or delete one with --delete)."""
    from rich.markup import escape
    from rich.table import Table

    from tunegate.store import Store

    if not store.exists():
        raise _fail(f"{store}: no store here (run `tunegate run` first or pass --store)")
    if delete is not None:
        _delete_run(store, delete)
        return
    try:
        with Store(store) as db:
            infos = db.runs()
            batches = db.batches(in_progress=True)
    except TunegateError as exc:
        raise _fail(str(exc)) from None
    columns = ("run", "name", "started", "status", "verdict", "cases", "models")
    if not out.is_terminal:  # piped: a header, then whole ids, one run per tab-separated line
        typer.echo("\t".join(columns))
        for info in infos:
            models = ", ".join(info.config.get("models", {}))
            n = info.meta.get("n_cases", "")
            verdict = _verdict(info.meta) or "-"
            typer.echo(
                f"{info.id}\t{info.name}\t{info.started_at}\t{info.status}\t{verdict}\t{n}\t{models}"
            )
        _print_batches(batches)
        return
    table = Table(title=escape(str(store)), title_justify="left")
    for col in columns:
        table.add_column(col)
    for info in infos:  # names as written, never read as rich markup
        table.add_row(
            escape(info.id),
            escape(info.name),
            info.started_at,
            info.status,
            _verdict(info.meta) or "—",
            str(info.meta.get("n_cases", "")),
            escape(", ".join(info.config.get("models", {}))),
        )
    out.print(table)
    _print_batches(batches)


#: The columns of the provider batches not collected yet (``batch: true``).
BATCH_COLUMNS = ("batch", "model", "run", "status", "requests", "created")


def _batch_row(batch: Any) -> tuple[str, ...]:
    counts = batch.counts
    done = f"{counts.get('completed', 0)}/{counts.get('total', len(batch.requests))} done"
    requests = f"{done}, {counts.get('failed', 0)} failed"
    return (batch.id, batch.model, batch.run_id, batch.status, requests, batch.created_at)


def _print_batches(batches: list[Any]) -> None:
    """The provider batches sent and not collected yet: a re-run of their config polls
    them again (nothing is sent twice)."""
    if not batches:
        return
    if not out.is_terminal:
        typer.echo("\nbatches in progress (a re-run collects them)")
        typer.echo("\t".join(BATCH_COLUMNS))
        for batch in batches:
            typer.echo("\t".join(_batch_row(batch)))
        return
    from rich.markup import escape
    from rich.table import Table

    table = Table(title="batches in progress (a re-run collects them)", title_justify="left")
    for col in BATCH_COLUMNS:
        table.add_column(col)
    for batch in batches:
        table.add_row(*(escape(v) for v in _batch_row(batch)))
    out.print(table)


def _verdict(meta: dict[str, Any]) -> str | None:
    """The verdict of a run's stored result (None without a gate, or before the end)."""
    result = meta.get("result")
    gate = result.get("gate") if isinstance(result, dict) else None
    verdict = gate.get("verdict") if isinstance(gate, dict) else None
    return verdict if isinstance(verdict, str) else None


def _delete_run(store: Path, ref: str) -> None:
    from tunegate.store import Store, resolve_run

    try:
        with Store(store) as db:
            info = resolve_run(db, ref)
            if info.status == "running":
                raise _fail(
                    f"{store}: run {info.id} is still running; stop it first (or wait for it)"
                )
            removed = db.delete_run(info.id)
            db.vacuum()
    except TunegateError as exc:
        raise _fail(str(exc)) from None
    out.print(
        f"deleted run {info.id} ({info.name}, started {info.started_at}, {info.status})"
        f" and its {removed} stored responses from {store}"
    )


cache_app = typer.Typer(no_args_is_help=True, help="The store's cache of model answers.")
app.add_typer(cache_app, name="cache")


@cache_app.command("clear")
def cache_clear(
    model: Annotated[
        str | None, typer.Option("--model", "-m", help="Only this model's stored answers.")
    ] = None,
    store: Annotated[Path, typer.Option(help="The SQLite store.")] = Path(".tunegate/tunegate.db"),
) -> None:
    """Delete stored answers so the next run asks the models again (runs and results stay)."""
    from tunegate.store import Store

    if not store.exists():
        raise _fail(f"{store}: no store here (run `tunegate run` first or pass --store)")
    try:
        with Store(store) as db:
            known = db.cache_counts()
            if model is not None and model not in known:
                names = ", ".join(sorted(known)) or "none"
                raise _fail(f"{store}: no stored answers of model {model!r} (models: {names})")
            counts = db.clear_cache(model)
            db.vacuum()
    except TunegateError as exc:
        raise _fail(str(exc)) from None
    total = sum(counts.values())
    detail = ", ".join(f"{name}: {n}" for name, n in sorted(counts.items()))
    out.print(f"removed {total} stored responses from {store}" + (f" ({detail})" if detail else ""))


def _stored_results(store: Path, *refs: str) -> list[dict[str, Any]]:
    """The stored result of each run reference (an id, a unique prefix, latest, previous)."""
    if not store.exists():
        raise _fail(f"{store}: no store here (run `tunegate run` first or pass --store)")
    from tunegate.store import Store, load_run_result

    try:
        with Store(store) as db:
            return [load_run_result(db, ref) for ref in refs]
    except TunegateError as exc:
        raise _fail(str(exc)) from None


@app.command("diff")
def diff_cmd(
    run_a: Annotated[
        str, typer.Argument(help="The earlier run: an id, a unique id prefix, latest or previous.")
    ] = "previous",
    run_b: Annotated[str, typer.Argument(help="The later run (same forms).")] = "latest",
    model: Annotated[
        list[str] | None,
        typer.Option("--model", "-m", help="Only this model (repeat for several)."),
    ] = None,
    store: Annotated[Path, typer.Option(help="The SQLite store.")] = Path(".tunegate/tunegate.db"),
    json_path: Annotated[Path | None, typer.Option("--json", help="Write the diff here.")] = None,
) -> None:
    """What changed between two stored runs: metrics, categories, fixed and broken cases."""
    import json

    from tunegate.history.diff import diff_results
    from tunegate.report.diff_terminal import print_diff

    result_a, result_b = _stored_results(store, run_a, run_b)
    try:
        diff = diff_results(result_a, result_b, models=model or None)
    except TunegateError as exc:
        raise _fail(str(exc)) from None
    print_diff(diff, out)
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(diff.to_dict(), indent=2) + "\n", encoding="utf-8")
        out.print(f"JSON report: {json_path}")


@app.command()
def plan(
    run: Annotated[
        str, typer.Argument(help="A stored run: an id, a unique id prefix, latest or previous.")
    ] = "latest",
    store: Annotated[Path, typer.Option(help="The SQLite store.")] = Path(".tunegate/tunegate.db"),
    power: Annotated[float, typer.Option(help="The power to plan for.")] = 0.8,
) -> None:
    """Sample size: each gate criterion's minimum detectable effect and the cases it needs."""
    from rich.table import Table

    from tunegate.history.plan import plan_from_result
    from tunegate.results.wording import interval, num

    (result,) = _stored_results(store, run)
    try:
        rows = plan_from_result(result, power)
    except (TunegateError, ValueError) as exc:
        raise _fail(str(exc)) from None
    table = Table(
        title=f"Sample size for run {result.get('run_id')} ({power:.0%} power)",
        title_justify="left",
    )
    for col in ("status", "criterion", "n", "estimate [CI]", "threshold", "MDE", "MDE at 4x n"):
        table.add_column(col, justify="left" if col in ("status", "criterion") else "right")
    table.add_column("cases to decide", justify="right")
    table.add_column("note")
    for r in rows:
        table.add_row(
            r.status,
            r.description,
            "—" if r.n is None else str(r.n),
            f"{num(r.estimate)} {interval(r.ci)}" if r.ci else num(r.estimate),
            num(r.threshold),
            num(r.mde),
            num(r.mde_4x),
            "—" if r.required_n is None else str(r.required_n),
            r.note,
        )
    out.print(table)


@app.command()
def report(
    run: Annotated[
        str, typer.Argument(help="A stored run: an id, a unique id prefix, latest or previous.")
    ] = "latest",
    html: Annotated[
        Path | None, typer.Option(help="Write the self-contained HTML report here.")
    ] = None,
    against: Annotated[
        str | None,
        typer.Option(help="An earlier run: the report adds what changed since it (tunegate diff)."),
    ] = None,
    json_path: Annotated[
        Path | None, typer.Option("--json", help="Write the stored JSON result here.")
    ] = None,
    markdown: Annotated[
        Path | None, typer.Option(help="Write the Markdown report here (rendered from the run).")
    ] = None,
    store: Annotated[Path, typer.Option(help="The SQLite store.")] = Path(".tunegate/tunegate.db"),
) -> None:
    """Reports of a stored run (default: the latest), rendered from the result kept with it."""
    from tunegate.report.stored import write_stored_reports

    if html is None and json_path is None and markdown is None:
        raise _fail("nothing to write: pass --html PATH, --json PATH and/or --markdown PATH")
    refs = [run] if against is None else [run, against]
    _Sigterm.install()
    try:
        results = _stored_results(store, *refs)
        written = write_stored_reports(
            results[0],
            against=results[1] if against is not None else None,
            html=html,
            json_path=json_path,
            markdown=markdown,
        )
    except TunegateError as exc:
        raise _fail(str(exc)) from None
    except KeyboardInterrupt:
        what = "terminated (SIGTERM)" if _Sigterm.received else "interrupted"
        raise _fail(
            f"{what}: the reports not finished are not written (each report file is "
            "written whole or not at all)",
            _Sigterm.exit_code(),
        ) from None
    for kind, path in written:
        out.print(f"{kind} report: {path}")
