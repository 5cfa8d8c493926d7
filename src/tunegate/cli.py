"""The ``tunegate`` command: thin typer commands over the library."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from tunegate.config import Config, load_config
from tunegate.demo import demo_config_path, with_openai_baseline
from tunegate.errors import TunegateError
from tunegate.store import Response, Store

if TYPE_CHECKING:
    from tunegate.pipeline import RunOptions
    from tunegate.runner import ModelRunStats

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Decide, with evidence, whether a fine-tuned model should ship.",
    pretty_exceptions_enable=False,
)
out = Console(highlight=False)
err = Console(stderr=True, highlight=False)

from tunegate.human.cli import human_app  # noqa: E402  (light: heavy imports inside commands)

app.add_typer(human_app, name="human")

EXIT_OK = 0
EXIT_ERROR = 2
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143  # 128 + SIGTERM, what CI cancellation and `docker stop` expect


class _Sigterm:
    """SIGTERM is handled like Ctrl-C (stop sending, keep every answer, mark the run
    interrupted); this remembers that it was SIGTERM, for the exit code."""

    received = False

    @classmethod
    def handle(cls, signum: int, frame: object) -> None:
        cls.received = True
        # asyncio.run turns SIGINT into a cancellation of the run; elsewhere it raises
        # KeyboardInterrupt. Either way the pipeline marks the run interrupted.
        signal.raise_signal(signal.SIGINT)

    @classmethod
    def install(cls) -> None:
        with contextlib.suppress(ValueError):  # not the main thread: leave the default
            signal.signal(signal.SIGTERM, cls.handle)

    @classmethod
    def exit_code(cls) -> int:
        return EXIT_TERMINATED if cls.received else EXIT_INTERRUPTED

    @classmethod
    def message(cls) -> str:
        what = "terminated (SIGTERM)" if cls.received else "interrupted"
        return (
            f"{what}; the run is marked interrupted and every answer received so far is "
            "stored; run the same command again to resume"
        )


class ProgressBars:
    """One rich progress bar per model, fed by the runner's events."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.tasks: dict[str, TaskID] = {}
        self.errors: dict[str, int] = {}

    def model_loading(self, model: str) -> None:
        self.tasks[model] = self.progress.add_task(model, total=None, info="starting / loading")

    def model_started(self, model: str, total: int, cached: int) -> None:
        self.errors[model] = 0
        info = f"{cached} cached" if cached else ""
        if model in self.tasks:
            self.progress.update(self.tasks[model], total=total, completed=cached, info=info)
        else:
            self.tasks[model] = self.progress.add_task(
                model, total=total, completed=cached, info=info
            )

    def response(self, model: str, response: Response) -> None:
        if response.error is not None:
            self.errors[model] += 1
        info = f"{self.errors[model]} errors" if self.errors[model] else ""
        self.progress.update(self.tasks[model], advance=1, info=info)

    def model_finished(self, model: str, stats: ModelRunStats) -> None:
        parts = [f"{stats.sent} sent", f"{stats.cached} cached"]
        if stats.errors:
            parts.append(f"{stats.errors} errors")
        if stats.retries:
            parts.append(f"{stats.retries} retries")
        self.progress.update(self.tasks[model], info=", ".join(parts))


def _fail(message: str, code: int = EXIT_ERROR) -> typer.Exit:
    from rich.markup import escape

    from tunegate.secrets import redact

    # A message may quote a config value or an exception that echoes a URL: no secret,
    # and no rich markup from user input.
    err.print(f"[bold red]error:[/] {escape(redact(message))}", markup=True, soft_wrap=True)
    return typer.Exit(code)


def _load(config_path: Path) -> Config:
    import warnings

    from rich.markup import escape

    from tunegate.config.base import ConfigWarning

    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConfigWarning)
            config = load_config(config_path)
    except TunegateError as exc:
        raise _fail(str(exc)) from None
    for warning in caught:  # deprecated key spellings: said once, without a traceback line
        if issubclass(warning.category, ConfigWarning):
            err.print(f"[yellow]warning:[/] {escape(str(warning.message))}", soft_wrap=True)
        else:
            warnings.warn_explicit(
                warning.message, warning.category, warning.filename, warning.lineno
            )
    return config


def _execute(
    cfg: Config,
    options: RunOptions,
    config_dir: Path,
    json_path: Path | None,
    quiet: bool,
    gate_exit: bool,
    markdown_path: Path | None = None,
    html_path: Path | None = None,
) -> None:
    progress = Progress(
        TextColumn("{task.description}", style="bold"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[info]}", style="dim"),
        console=err,
        disable=quiet,
    )
    # Imported here: scikit-learn and friends take seconds, config errors should not wait.
    from tunegate.pipeline import run
    from tunegate.report.json_report import write_json
    from tunegate.report.terminal import print_summary

    options.observer = ProgressBars(progress)
    options.gate = gate_exit
    _Sigterm.install()
    try:
        with progress:
            result = run(cfg, options, config_dir=config_dir)
    except TunegateError as exc:
        raise _fail(str(exc), exc.exit_code) from None
    except KeyboardInterrupt:
        raise _fail(_Sigterm.message(), _Sigterm.exit_code()) from None
    print_summary(result, out)
    if json_path is not None:
        path = write_json(result, json_path)
        out.print(f"JSON report: {path}")
    if markdown_path is not None:
        from tunegate.report.markdown import write_markdown

        out.print(f"Markdown report: {write_markdown(result, markdown_path)}")
    if html_path is not None:
        from tunegate.report.html import write_html
        from tunegate.report.json_report import to_json

        out.print(f"HTML report: {write_html(to_json(result), html_path)}")
    # The exit code follows the printed verdict (--no-gate: no verdict, 0).
    if result.gate is not None and result.gate.exit_code:
        raise typer.Exit(result.gate.exit_code)


@app.command("run")
def run_cmd(
    config: Annotated[Path, typer.Argument(help="The tunegate.yaml to run.")],
    json_path: Annotated[
        Path | None, typer.Option("--json", help="Write the JSON report here.")
    ] = None,
    markdown: Annotated[
        Path | None, typer.Option(help="Write a Markdown report (for a pull request) here.")
    ] = None,
    html: Annotated[
        Path | None, typer.Option(help="Write the self-contained HTML report here.")
    ] = None,
    no_cache: Annotated[
        bool,
        typer.Option(
            "--no-cache",
            help="Send every request again; --no-cache MODEL asks only MODEL again (repeatable).",
        ),
    ] = False,
    no_cache_model: Annotated[
        list[str] | None, typer.Option("--no-cache-model", hidden=True)
    ] = None,
    limit: Annotated[int | None, typer.Option(help="Only the first N cases.", min=1)] = None,
    store: Annotated[
        Path | None, typer.Option(help="The SQLite store (default from the config).")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")] = False,
    gate: Annotated[
        bool,
        typer.Option(
            "--gate/--no-gate",
            help="Judge the gate (the config's, or the default one) and exit with the "
            "verdict's code: 0 SHIP, 1 ITERATE, 3 INCONCLUSIVE. --no-gate: no verdict, exit 0.",
        ),
    ] = True,
) -> None:
    """Run every model on the test set, score, compare, judge the gate, print the summary."""
    cfg = _load(config)  # before importing the pipeline: config errors should not wait
    from tunegate.pipeline import RunOptions

    fresh = tuple(no_cache_model or ())
    unknown = [m for m in fresh if m not in cfg.models]
    if unknown:
        from tunegate.config import suggest

        raise _fail(
            f"--no-cache {unknown[0]}: no model named {unknown[0]!r} in {config}"
            f"{suggest(unknown[0], list(cfg.models))}"
        )
    options = RunOptions(use_cache=not no_cache, limit=limit, store_path=store, fresh=fresh)
    _execute(cfg, options, config.resolve().parent, json_path, quiet, gate, markdown, html)


@app.command()
def demo(
    json_path: Annotated[Path, typer.Option("--json", help="Write the JSON report here.")] = Path(
        "tunegate-demo.json"
    ),
    markdown: Annotated[
        Path | None, typer.Option(help="Write a Markdown report (for a pull request) here.")
    ] = None,
    html: Annotated[
        Path | None,
        typer.Option(help="Write the HTML report here (default: next to the JSON report)."),
    ] = None,
    store: Annotated[Path, typer.Option(help="The SQLite store.")] = Path(".tunegate/demo.db"),
    limit: Annotated[int | None, typer.Option(help="Only the first N cases.", min=1)] = None,
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Compute every answer again.")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")] = False,
) -> None:
    """The offline demo: a LoRA-fine-tuned Gemma 3 270M against its prompted base model.

    With OPENAI_API_KEY set, gpt-4o-mini zero-shot joins as another baseline.
    """
    config_path = demo_config_path()
    from tunegate.pipeline import RunOptions

    cfg = _load(config_path)
    if html is None:
        html = json_path.with_suffix(".html")
    if os.environ.get("OPENAI_API_KEY"):
        cfg = with_openai_baseline(cfg)
    options = RunOptions(use_cache=not no_cache, limit=limit, store_path=store)
    _execute(cfg, options, config_path.parent, json_path, quiet, True, markdown, html)


@app.command()
def validate(config: Annotated[Path, typer.Argument(help="The tunegate.yaml to check.")]) -> None:
    """Check everything a run checks, without calling any model: datasets, templates
    (rendered against the real cases), environment variables, python functions, custom
    scorers and shots files."""
    cfg = _load(config)
    from tunegate.preflight import preflight

    found = preflight(cfg, config.resolve().parent, str(config))
    for warning in found.warnings:
        err.print(f"[yellow]warning:[/] {warning}", markup=True, soft_wrap=True)
    if found.problems:
        raise _fail("\n".join(found.problems))
    task = cfg.main_task
    what = f"{len(task.labels)} labels" if task.labels else task.type
    suites = list(found.cases.items())
    more = "".join(
        f"; suite {cfg.all_suites[i + 1].name}: {len(cases)} cases "
        f"({cfg.all_suites[i + 1].task.type})"
        for i, (_, cases) in enumerate(suites[1:])
    )
    out.print(
        f"{config}: OK — {len(suites[0][1])} cases, {what}, "
        f"{len(cfg.models)} models (candidate {cfg.candidate}){more}"
    )


@app.command("check-data")
def check_data(
    train: Annotated[Path, typer.Option(help="The training file (JSONL, chat JSONL or CSV).")],
    test: Annotated[Path, typer.Option(help="The test file.")],
    threshold: Annotated[
        float, typer.Option(help="Jaccard of word 3-grams from which a pair is a near duplicate.")
    ] = 0.8,
    input_field: Annotated[str, typer.Option(help="Input field of JSONL/CSV records.")] = "text",
    label_field: Annotated[str, typer.Option(help="Label field of JSONL/CSV records.")] = "label",
    json_path: Annotated[Path | None, typer.Option("--json", help="Write the report here.")] = None,
) -> None:
    """Train/test leakage (exact and near-duplicate inputs) and label balance."""
    import json

    from tunegate.data import FieldMap, load_cases
    from tunegate.leakage import check_leakage
    from tunegate.report.terminal import print_leakage

    fields = FieldMap(input_field=input_field, label_field=label_field)
    try:
        report = check_leakage(
            load_cases(train, fields=fields), load_cases(test, fields=fields), threshold=threshold
        )
    except TunegateError as exc:
        raise _fail(str(exc)) from None
    print_leakage(report, str(train), str(test), out)
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(report.to_dict(), indent=2) + "\n", encoding="utf-8")
        out.print(f"JSON report: {json_path}")


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
    if not store.exists():
        raise _fail(f"{store}: no store here (run `tunegate run` first or pass --store)")
    if delete is not None:
        _delete_run(store, delete)
        return
    try:
        with Store(store) as db:
            infos = db.runs()
    except TunegateError as exc:
        raise _fail(str(exc)) from None
    if not out.is_terminal:  # piped: whole ids, one run per tab-separated line
        for info in infos:
            models = ", ".join(info.config.get("models", {}))
            n = info.meta.get("n_cases", "")
            typer.echo(f"{info.id}\t{info.name}\t{info.started_at}\t{info.status}\t{n}\t{models}")
        return
    table = Table(title=str(store), title_justify="left")
    for col in ("run", "name", "started", "status", "cases", "models"):
        table.add_column(col)
    for info in infos:
        table.add_row(
            info.id,
            info.name,
            info.started_at,
            info.status,
            str(info.meta.get("n_cases", "")),
            ", ".join(info.config.get("models", {})),
        )
    out.print(table)


def _delete_run(store: Path, ref: str) -> None:
    from tunegate.store import resolve_run

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
    from tunegate.store import load_run_result

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
    from tunegate.history.plan import plan_from_result
    from tunegate.report.wording import interval, num

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
    results = _stored_results(store, *refs)
    try:
        written = write_stored_reports(
            results[0],
            against=results[1] if against is not None else None,
            html=html,
            json_path=json_path,
            markdown=markdown,
        )
    except TunegateError as exc:
        raise _fail(str(exc)) from None
    for kind, path in written:
        out.print(f"{kind} report: {path}")


def _version(value: bool) -> None:
    if value:
        from tunegate import __version__

        out.print(f"tunegate {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Decide, with evidence, whether a fine-tuned model should ship."""


def split_no_cache(argv: list[str]) -> list[str]:
    """``--no-cache MODEL`` (or ``--no-cache=MODEL``) becomes ``--no-cache-model MODEL``.

    ``--no-cache`` alone stays the flag: a following word counts as a model only when
    it is not an option and not an existing file (the config).
    """
    out_args: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg.startswith("--no-cache="):
            out_args += ["--no-cache-model", arg.split("=", 1)[1]]
        elif arg == "--no-cache" and i + 1 < len(argv):
            nxt = argv[i + 1]
            if not nxt.startswith("-") and not Path(nxt).exists():
                out_args += ["--no-cache-model", nxt]
                i += 1
            else:
                out_args.append(arg)
        else:
            out_args.append(arg)
        i += 1
    return out_args


def main() -> None:
    """Console-script entry point."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        app(args=split_no_cache(sys.argv[1:]), prog_name="tunegate")
    except KeyboardInterrupt:
        err.print(_Sigterm.message())
        sys.exit(_Sigterm.exit_code())


if __name__ == "__main__":
    main()
