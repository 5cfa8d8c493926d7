"""``tunegate run``, ``demo``, ``validate`` and ``check-data``: the commands that read a
config or data files."""

from __future__ import annotations

import gc
import os
import shlex
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from tunegate.cli.base import _fail, _load, _Sigterm, app, err, out
from tunegate.errors import TunegateError

if TYPE_CHECKING:
    from tunegate.config import Config
    from tunegate.pipeline.flow import RunOptions
    from tunegate.results import RunResult


class CiOutputs:
    """What ``--junit``, ``--github-annotations``, ``GITHUB_STEP_SUMMARY`` (docs/ci.md) and
    ``--mlflow`` / ``tracking:`` (docs/tracking.md) ask of a finished run."""

    def __init__(
        self,
        junit: Path | None,
        annotations: bool,
        mlflow: tuple[str, str] | None = None,
        sources: dict[str, str] | None = None,
    ) -> None:
        self.junit = junit
        self.annotations = annotations
        self.step_summary = os.environ.get("GITHUB_STEP_SUMMARY") or None
        self.mlflow = mlflow  # (uri, experiment)
        self.sources = sources or {}

    def after(self, result: RunResult) -> None:
        """Print the annotations (raw: GitHub reads them from stdout line by line) and
        append the Markdown report to the step summary; a summary that cannot be written
        is a warning, the verdict's exit code stands."""
        from tunegate.report.github import annotation_lines, append_step_summary

        if self.annotations:
            out.file.write("".join(line + "\n" for line in annotation_lines(result)))
            out.file.flush()
        if self.step_summary is not None:
            try:
                append_step_summary(result, self.step_summary)
            except OSError as exc:
                err.print(
                    f"warning: GITHUB_STEP_SUMMARY {self.step_summary}: {exc.strerror or exc}",
                    markup=False,
                    highlight=False,
                    soft_wrap=True,
                )
        if self.mlflow is not None:
            self._track(result, *self.mlflow)

    def _track(self, result: RunResult, uri: str, experiment: str) -> None:
        """Send the run to MLflow; a failure is a warning (the run is stored, the exit
        code stays the verdict's)."""
        from tunegate.report.html import render_html
        from tunegate.report.json_report import dumps_report
        from tunegate.report.markdown import to_markdown
        from tunegate.results.document import to_json
        from tunegate.tracking.mlflow_run import track_mlflow

        document = result.stored_json() or to_json(result)
        artifacts = {
            "tunegate-report.json": dumps_report(document),
            "tunegate-report.md": to_markdown(result),
            "tunegate-report.html": render_html(document),
        }
        tracked = track_mlflow(document, uri, experiment, artifacts, self.sources)
        if tracked.warning is not None:
            err.print(f"warning: {tracked.warning}", markup=False, highlight=False, soft_wrap=True)
        else:
            where = tracked.url or tracked.uri
            out.print(
                f"MLflow run {tracked.run_id} (experiment {experiment}): {where}",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )


def _mlflow_target(cfg: Config, flag: str | None) -> tuple[str, str] | None:
    """The MLflow server and experiment of this run: ``--mlflow`` over ``tracking:``."""
    from tunegate.config.tracking import check_uri

    section = cfg.tracking.mlflow if cfg.tracking is not None else None
    if flag is None and section is None:
        return None
    experiment = (section.experiment if section is not None else None) or cfg.name
    if flag is None:
        assert section is not None
        return section.uri, experiment
    try:
        return check_uri(flag), experiment
    except ValueError as exc:
        raise _fail(f"--mlflow: {exc}") from None


def _dataset_sources(cfg: Config, config_dir: Path) -> dict[str, str]:
    """Each suite's test file, for a tracker's dataset inputs."""
    return {
        s.name: str(s.dataset.path)
        if str(s.dataset.path).startswith("builtin:")
        else str((config_dir / s.dataset.path).resolve())
        for s in cfg.all_suites
    }


def _resume_command(run_id: str) -> str:
    """This command line with ``--resume RUN_ID`` (replacing one it had)."""
    args: list[str] = []
    skip = False
    for arg in sys.argv[1:]:
        if skip:
            skip = False
        elif arg == "--resume":
            skip = True
        elif not arg.startswith("--resume="):
            args.append(arg)
    return shlex.join(["tunegate", *args, "--resume", run_id])


def _interrupted(options: RunOptions) -> str:
    """What an interrupted run left behind, and the command that resumes it."""
    what = "terminated (SIGTERM)" if _Sigterm.received else "interrupted"
    if options.run_id is None:
        return f"{what} before the run started; nothing was sent"
    kept = (
        f"{what}; the run is marked interrupted and every answer received so far is stored "
        f"(run {options.run_id})"
    )
    if options.use_cache and not options.fresh:
        return f"{kept}; run the same command again to resume"
    # Asked again on purpose: the same command would ask again what this run paid for.
    return (
        f"{kept}; to resume without asking again what it received, run "
        f"`{_resume_command(options.run_id)}`"
    )


def _ignore_signals() -> None:
    """From here on the run is complete: SIGINT and SIGTERM no longer stop it."""
    for signum in (signal.SIGINT, signal.SIGTERM):
        try:
            signal.signal(signum, signal.SIG_IGN)
        except ValueError:  # not the main thread
            return


def _execute(
    cfg: Config,
    options: RunOptions,
    config_dir: Path,
    json_path: Path | None,
    quiet: bool,
    gate_exit: bool,
    markdown_path: Path | None = None,
    html_path: Path | None = None,
    ci: CiOutputs | None = None,
) -> None:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from tunegate.cli.progress import ProgressBars

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
    # Imported here, after the config loaded: its errors should not wait on numpy & co.
    from tunegate.pipeline.flow import run
    from tunegate.report.json_report import write_json_document
    from tunegate.report.terminal import print_summary
    from tunegate.results.document import to_json

    printed: list[str] = []

    def finish(result: RunResult) -> None:
        """Write the reports and render the summary before the run is marked completed: a
        signal until then leaves an interrupted run, no verdict and exit 130/143."""
        lines: list[str] = []
        # The document the run stored is the report: built once (~0.1 s at 5,000 cases).
        document = result.stored_json() or to_json(result)
        if json_path is not None:
            lines.append(f"JSON report: {write_json_document(document, json_path)}")
        if markdown_path is not None:
            from tunegate.report.markdown import write_markdown

            lines.append(f"Markdown report: {write_markdown(result, markdown_path)}")
        if html_path is not None:
            from tunegate.report.html import write_html

            lines.append(f"HTML report: {write_html(document, html_path)}")
        if ci is not None and ci.junit is not None:
            from tunegate.report.junit import write_junit

            lines.append(f"JUnit report: {write_junit(result, ci.junit)}")
        with out.capture() as summary:
            print_summary(result, out)
            for line in lines:
                out.print(line)
        printed.append(summary.get())
        _ignore_signals()

    options.observer = ProgressBars(progress)
    options.gate = gate_exit
    options.on_result = finish
    _Sigterm.install()
    # What is alive now (modules, the config) lives as long as the process: exempt it from
    # the garbage collector's full passes, which otherwise rescan it while answers pile up.
    gc.freeze()
    try:
        with progress:
            result = run(cfg, options, config_dir=config_dir)
    except TunegateError as exc:
        raise _fail(str(exc), exc.exit_code) from None
    except KeyboardInterrupt:
        raise _fail(_interrupted(options), _Sigterm.exit_code()) from None
    out.file.write(printed[0])
    out.file.flush()
    if ci is not None:
        ci.after(result)
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
    resume: Annotated[
        str | None,
        typer.Option(
            help="Resume this interrupted run (its id): reuse every answer it received, even "
            "for the models --no-cache asks again.",
        ),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")] = False,
    sequential: Annotated[
        bool | None,
        typer.Option(
            "--sequential/--no-sequential",
            help="Send the cases in looks and stop once the verdict is settled "
            "(docs/cost.md; default: as the config's sequential: says).",
        ),
    ] = None,
    gate: Annotated[
        bool,
        typer.Option(
            "--gate/--no-gate",
            help="Judge the gate (the config's, or the default one) and exit with the "
            "verdict's code: 0 SHIP, 1 ITERATE, 3 INCONCLUSIVE. --no-gate: no verdict, exit 0.",
        ),
    ] = True,
    junit: Annotated[
        Path | None,
        typer.Option(help="Write a JUnit XML report here: a test case per gate criterion."),
    ] = None,
    github_annotations: Annotated[
        bool,
        typer.Option(
            "--github-annotations",
            help="Print GitHub Actions ::error::/::warning:: lines for failed and undecided "
            "criteria and warnings.",
        ),
    ] = False,
    mlflow: Annotated[
        str | None,
        typer.Option(
            help="Log the run to this MLflow tracking server (overrides tracking.mlflow.uri).",
        ),
    ] = None,
) -> None:
    """Run every model on the test set, score, compare, judge the gate, print the summary."""
    cfg = _load(config)  # before importing the pipeline: config errors should not wait
    from tunegate.pipeline.flow import RunOptions

    fresh = tuple(no_cache_model or ())
    unknown = [m for m in fresh if m not in cfg.models]
    if unknown:
        from tunegate.config import suggest

        raise _fail(
            f"--no-cache {unknown[0]}: no model named {unknown[0]!r} in {config}"
            f"{suggest(unknown[0], list(cfg.models))}"
        )
    options = RunOptions(
        use_cache=not no_cache, limit=limit, store_path=store, fresh=fresh, resume=resume
    )
    options.sequential = sequential
    target = _mlflow_target(cfg, mlflow)
    sources = _dataset_sources(cfg, config.resolve().parent) if target is not None else None
    ci = CiOutputs(junit, github_annotations, target, sources)
    _execute(cfg, options, config.resolve().parent, json_path, quiet, gate, markdown, html, ci)


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
    resume: Annotated[
        str | None,
        typer.Option(help="Resume this interrupted run (its id): reuse every answer it received."),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")] = False,
) -> None:
    """The offline demo: a LoRA-fine-tuned Gemma 3 270M against its prompted base model.

    With OPENAI_API_KEY set, gpt-4o-mini zero-shot joins as another baseline.
    """
    from tunegate.cli.demo import demo_config_path, with_openai_baseline
    from tunegate.pipeline.flow import RunOptions

    config_path = demo_config_path()

    cfg = _load(config_path)
    if html is None:
        html = json_path.with_suffix(".html")
    if os.environ.get("OPENAI_API_KEY"):
        cfg = with_openai_baseline(cfg)
    options = RunOptions(use_cache=not no_cache, limit=limit, store_path=store, resume=resume)
    _execute(cfg, options, config_path.parent, json_path, quiet, True, markdown, html)


@app.command()
def validate(config: Annotated[Path, typer.Argument(help="The tunegate.yaml to check.")]) -> None:
    """Check everything a run checks, without calling any model: datasets, templates
    (rendered against the real cases), environment variables, python functions, custom
    scorers and shots files."""
    cfg = _load(config)
    from tunegate.pipeline.preflight import preflight

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
    from tunegate.data.leakage import check_leakage
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
