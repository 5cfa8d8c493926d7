"""``tunegate human ...``: blind pairwise human evaluation from the command line."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from tunegate.errors import TunegateError

if TYPE_CHECKING:
    from tunegate.store import RunInfo, Store

human_app = typer.Typer(
    no_args_is_help=True,
    help="Blind pairwise human evaluation: create a study, serve it, import / export votes, report.",
)
out = Console(highlight=False)
err = Console(stderr=True, highlight=False)

StoreOpt = Annotated[Path, typer.Option(help="The SQLite store.")]
DEFAULT_STORE = Path(".tunegate/tunegate.db")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,80}$")
_LOOPBACK = ("127.0.0.1", "localhost", "::1")


@contextmanager
def _errors() -> Iterator[None]:
    """Print a :class:`TunegateError` without a traceback and exit 2."""
    try:
        yield
    except TunegateError as exc:
        err.print(f"[bold red]error:[/] {exc}", markup=True, soft_wrap=True)
        raise typer.Exit(exc.exit_code) from None


def _need_store(store: Path) -> None:
    if not store.exists():
        raise TunegateError(f"{store}: no store here (pass --store)")


DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
BaseUrlOpt = Annotated[
    str | None,
    typer.Option(
        "--base-url",
        help="Where annotators reach `tunegate human serve` (default "
        f"http://{DEFAULT_HOST}:{DEFAULT_PORT}, its own default host and port); the links "
        "printed are this address followed by each annotator's path.",
    ),
]
#: The most an instructions file may hold.
MAX_INSTRUCTIONS = 100_000


def _base_url(base_url: str | None) -> str:
    """``--base-url`` checked (http or https, a host, no query), without a trailing /."""
    from tunegate.human.address import web_address

    if base_url is None:
        return f"http://{DEFAULT_HOST}:{DEFAULT_PORT}"
    url = base_url.strip().rstrip("/")
    parts = web_address(url)
    if parts is None:
        raise TunegateError(
            f"--base-url {base_url!r}: give the address annotators open, e.g. "
            "https://eval.example.org or http://10.0.0.5:8765"
        )
    if parts.query or parts.fragment:
        raise TunegateError(f"--base-url {base_url!r}: no query or fragment")
    return url


def _print_links(tokens: dict[str, str], base: str) -> None:
    width = max(len(n) for n in tokens)
    for name, token in tokens.items():
        out.print(f"{name:<{width}}  {base}/a/{token}/", soft_wrap=True)


def _read_instructions(path: Path | None) -> str | None:
    """The instructions file's Markdown (None without one); errors name the file."""
    if path is None:
        return None
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise TunegateError(f"--instructions {path}: cannot read ({exc.strerror})") from None
    if len(raw) > MAX_INSTRUCTIONS:
        raise TunegateError(
            f"--instructions {path}: {len(raw):,} bytes; keep instructions under "
            f"{MAX_INSTRUCTIONS:,}"
        )
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise TunegateError(f"--instructions {path}: not UTF-8 (byte {exc.start})") from None
    if not text.strip():
        raise TunegateError(f"--instructions {path}: the file is empty")
    return text


def _run_of_config(db: Store, ref: str, config_name: str | None) -> str:
    """The run ``ref`` names; ``latest`` / ``previous`` among the completed runs of one
    config: ``config_name``, else the only config the store has runs of (several: refused,
    naming each config's newest run)."""
    from tunegate.store.lookup import SPECIAL_REFS

    ref = ref.strip()
    if ref not in SPECIAL_REFS:
        if config_name is not None:
            raise TunegateError("--config-name chooses among runs for --run latest or previous")
        return ref
    completed = [r for r in db.runs() if r.status == "completed"]  # newest first
    newest: dict[str, RunInfo] = {}
    for r in completed:
        newest.setdefault(r.name, r)
    if config_name is None:
        if len(newest) > 1:
            shown = "; ".join(
                f"{name}: {r.id} ({r.started_at})" for name, r in list(newest.items())[:8]
            )
            raise TunegateError(
                f"--run {ref} is ambiguous: the store holds completed runs of {len(newest)} "
                f"configs (newest of each: {shown}); pass --config-name NAME or a run id"
            )
        config_name = next(iter(newest), None)
    mine = [r for r in completed if r.name == config_name]
    if not mine:
        known = ", ".join(newest) or "none"
        raise TunegateError(
            f"no completed run of config {config_name!r} in the store (configs: {known})"
        )
    if ref == "latest":
        return mine[0].id
    if len(mine) < 2:
        raise TunegateError(
            f"config {config_name!r} has one completed run ({mine[0].id}): there is no "
            "`previous` run"
        )
    return mine[1].id


@human_app.command("create")
def create(
    annotators: Annotated[str, typer.Option(help="Annotator names, comma-separated.")],
    run: Annotated[
        str | None,
        typer.Option(help="A stored run: an id, a unique prefix, `latest` or `previous`."),
    ] = None,
    config_name: Annotated[
        str | None,
        typer.Option(
            "--config-name",
            help="With --run latest/previous: the config `name:` whose runs count "
            "(needed when the store holds runs of several configs).",
        ),
    ] = None,
    pairs: Annotated[
        Path | None, typer.Option(help="External pairs (JSONL) instead of --run.")
    ] = None,
    candidate: Annotated[str | None, typer.Option(help="With --run: the candidate model.")] = None,
    baseline: Annotated[str | None, typer.Option(help="With --run: the baseline model.")] = None,
    suite: Annotated[str | None, typer.Option(help="With --run: the suite (default main).")] = None,
    n: Annotated[int | None, typer.Option("--n", help="Items to draw (default all).")] = None,
    overlap: Annotated[
        int | None, typer.Option(help="Annotators per item (default 2, or 1 with one annotator).")
    ] = None,
    criteria: Annotated[
        str | None, typer.Option(help="Criteria besides `overall`, comma-separated.")
    ] = None,
    name: Annotated[str | None, typer.Option(help="Study name (default from the run).")] = None,
    seed: Annotated[int | None, typer.Option(help="Seed (default: the run's, else 0).")] = None,
    instructions: Annotated[
        Path | None,
        typer.Option(
            help="A Markdown file of instructions shown to annotators (default: a general "
            "text on judging two answers)."
        ),
    ] = None,
    show_reference: Annotated[
        bool,
        typer.Option(
            "--show-reference",
            help="Show each item's reference answer (the case's expected output), to judge "
            "correctness against.",
        ),
    ] = False,
    base_url: BaseUrlOpt = None,
    store: StoreOpt = DEFAULT_STORE,
) -> None:
    """Create a study: draw items, record the left/right order, assign annotators."""
    from tunegate.human.store import HumanStore
    from tunegate.human.study import (
        assign,
        items_from_pairs,
        items_from_run,
        left_sides,
        parse_annotators,
        parse_criteria,
        stratified_sample,
    )

    with _errors():
        names = parse_annotators(annotators)
        crit = parse_criteria(criteria)
        base = _base_url(base_url)
        guide = _read_instructions(instructions)
        source: dict[str, Any]
        if (run is None) == (pairs is None):
            raise TunegateError("pass exactly one of --run RUN and --pairs FILE.jsonl")
        if run is not None:
            from tunegate.store import Store, load_run_result

            if candidate is None or baseline is None:
                raise TunegateError("--run needs --candidate and --baseline")
            _need_store(store)
            with Store(store) as db:
                result = load_run_result(db, _run_of_config(db, run, config_name))
            items = items_from_run(result, candidate, baseline, suite)
            run_id = str(result["run_id"])
            seed = int(result.get("seed") or 0) if seed is None else seed
            source = {
                "kind": "run",
                "run_id": run_id,
                "candidate": candidate,
                "baseline": baseline,
                "suite": suite,
            }
            default_name = f"{run_id}-{candidate}-vs-{baseline}"
        else:
            assert pairs is not None
            items = items_from_pairs(pairs)
            seed = 0 if seed is None else seed
            source = {"kind": "pairs", "file": pairs.name}
            if candidate is not None:
                source["candidate"] = candidate
            default_name = pairs.stem
        study = name or re.sub(r"[^A-Za-z0-9_.-]", "-", default_name)[:80]
        if not _NAME.match(study):
            raise TunegateError(f"--name {study!r}: use letters, digits, '_', '.', '-'")
        drawn = stratified_sample(items, n, seed)
        ids = [i.item_id for i in drawn]
        lists = assign(ids, names, overlap if overlap is not None else min(2, len(names)), seed)
        with HumanStore(store) as hs:
            tokens = hs.create_study(
                study,
                seed,
                crit,
                source,
                drawn,
                left_sides(ids, seed),
                lists,
                instructions=guide,
                show_reference=show_reference,
            )
        if show_reference and not any(i.reference for i in drawn):
            err.print(
                "[bold yellow]warning:[/] --show-reference: no item has a reference answer",
                markup=True,
            )
    out.print(
        f"Study [bold]{study}[/bold]: {len(drawn)} items, {len(names)} annotators, "
        f"criteria {', '.join(crit)}, seed {seed}"
    )
    out.print("Annotator links (shown only now; `tunegate human links --rotate` issues new ones):")
    _print_links(tokens, base)


@human_app.command("links")
def links(
    study: str,
    rotate: Annotated[bool, typer.Option(help="Issue and print new tokens.")] = False,
    base_url: BaseUrlOpt = None,
    store: StoreOpt = DEFAULT_STORE,
) -> None:
    """Annotators and their progress; with --rotate, new links (old ones stop working)."""
    from tunegate.human.store import HumanStore

    with _errors():
        _need_store(store)
        base = _base_url(base_url)
        with HumanStore(store) as hs:
            hs.study(study)
            if rotate:
                tokens = hs.rotate_tokens(study)
            else:
                for ann in hs.annotators(study):
                    total = len(hs.assigned(study, ann))
                    done = len(
                        {v.item_id for v in hs.votes(study, ann) if v.criterion == "overall"}
                    )
                    out.print(f"{ann}: {done} of {total} items voted")
                out.print("Tokens are stored hashed: pass --rotate to issue new links.")
                return
    out.print("New annotator links (the old ones no longer work):")
    _print_links(tokens, base)


@human_app.command("serve")
def serve(
    study: str,
    host: Annotated[str, typer.Option(help="Address to bind (default loopback).")] = DEFAULT_HOST,
    port: Annotated[int, typer.Option(help="Port.")] = DEFAULT_PORT,
    store: StoreOpt = DEFAULT_STORE,
) -> None:
    """Serve the annotation pages of a study."""
    from tunegate.human.app import create_app, listen, serve_on

    with _errors():
        _need_store(store)
        app = create_app(store, study)
        sock = listen(host, port)  # a busy port: exit 2, naming host:port
        port = int(sock.getsockname()[1])
    if host not in _LOOPBACK:
        err.print(
            f"[bold yellow]warning:[/] binding to {host}: anyone who can reach this address "
            "and holds a link can vote; the links are the only protection (no TLS here)",
            markup=True,
        )
    shown = f"[{host}]" if ":" in host else host
    out.print(
        f"Serving study {study} at http://{shown}:{port} (append each annotator's /a/... path)"
    )
    serve_on(app, sock)


@human_app.command("import")
def import_cmd(
    study: str,
    path: Path,
    format: Annotated[
        str, typer.Option("--format", help="csv, label-studio (labelstudio) or argilla.")
    ] = "csv",
    judge: Annotated[
        str | None, typer.Option(help="Import CSV `item_id, verdict` as this judge's verdicts.")
    ] = None,
    users: Annotated[
        Path | None,
        typer.Option(
            help="Label Studio: its user list (GET /api/users) to map user ids to emails.",
        ),
    ] = None,
    store: StoreOpt = DEFAULT_STORE,
) -> None:
    """Import votes (or, with --judge, a judge's verdicts)."""
    from tunegate.human import exchange
    from tunegate.human.store import HumanStore

    with _errors():
        _need_store(store)
        format = exchange.format_name(format)
        if format not in exchange.FORMATS:
            raise TunegateError(f"--format {format!r}: use one of {', '.join(exchange.FORMATS)}")
        with HumanStore(store) as hs:
            info = hs.study(study)
            items = hs.items(study)
            if judge is not None:
                if format != "csv":
                    raise TunegateError("--judge reads CSV `item_id, verdict` (use --format csv)")
                verdicts = exchange.import_csv_verdicts(path, items)
                hs.set_judge_verdicts(study, judge, verdicts, source=f"csv:{path.name}")
                errors = sum(v is None for v in verdicts.values())
                out.print(
                    f"Imported {len(verdicts)} verdicts of judge {judge} ({errors} judge errors)"
                )
                return
            if users is not None and format != "labelstudio":
                raise TunegateError("--users maps Label Studio user ids (--format label-studio)")
            importer: Callable[..., Any] = exchange.IMPORTERS[format]
            extra = {"users": exchange.read_labelstudio_users(users)} if users else {}
            votes = importer(path, items, hs.annotators(study), info.criteria, **extra)
            hs.record_votes(study, votes)
    out.print(f"Imported {len(votes)} votes into study {study}")


@human_app.command("export")
def export_cmd(
    study: str,
    format: Annotated[
        str, typer.Option("--format", help="csv, label-studio (labelstudio) or argilla.")
    ] = "csv",
    output: Annotated[Path, typer.Option("-o", "--output", help="File to write.")] = Path(
        "export.json"
    ),
    store: StoreOpt = DEFAULT_STORE,
) -> None:
    """Export the items (Label Studio tasks, Argilla records) or the votes (CSV).

    Label Studio: ``-o tasks.json`` gets the task list (importable as is) and
    ``tasks.config.xml`` next to it the labeling config."""
    from tunegate.human import exchange
    from tunegate.human.store import HumanStore

    files: dict[Path, str] = {}
    with _errors():
        _need_store(store)
        format = exchange.format_name(format)
        if format not in exchange.FORMATS:
            raise TunegateError(f"--format {format!r}: use one of {', '.join(exchange.FORMATS)}")
        with HumanStore(store) as hs:
            info = hs.study(study)
            items = hs.items(study)
            if format == "csv":
                files[output] = exchange.export_csv(items, hs.votes(study))
            elif format == "labelstudio":
                exported = exchange.export_labelstudio(items, info.criteria)
                files[output] = json.dumps(exported["tasks"], indent=2)
                files[output.with_suffix(".config.xml")] = exported["label_config"] + "\n"
            else:
                files[output] = json.dumps(exchange.export_argilla(items, info.criteria), indent=2)
        for path, text in files.items():
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text, encoding="utf-8")
            except OSError as exc:
                raise TunegateError(f"{path}: cannot write ({exc.strerror})") from None
    for path in files:
        out.print(f"Wrote {path}")


@human_app.command("report")
def report_cmd(
    study: str,
    json_path: Annotated[Path | None, typer.Option("--json", help="Write the JSON here.")] = None,
    candidate: Annotated[
        str | None, typer.Option(help="Model whose preference to report (pairs studies).")
    ] = None,
    resamples: Annotated[int, typer.Option(help="Bootstrap resamples.")] = 1000,
    store: StoreOpt = DEFAULT_STORE,
) -> None:
    """Preference, position bias, agreement and judge calibration of a study."""
    from tunegate.human.report import analyze_study, render_report

    with _errors():
        _need_store(store)
        if resamples < 10:
            raise TunegateError("--resamples must be at least 10")
        result = analyze_study(store, study, candidate=candidate, n_resamples=resamples)
        render_report(result, out)
        if json_path is not None:
            try:
                json_path.parent.mkdir(parents=True, exist_ok=True)
                json_path.write_text(json.dumps(result, indent=2), encoding="utf-8")
            except OSError as exc:
                raise TunegateError(f"{json_path}: cannot write ({exc.strerror})") from None
            out.print(f"JSON: {json_path}")


# `human push` and `human pull` (Label Studio's REST API) register themselves on human_app.
from tunegate.human import labelstudio_cli  # noqa: E402, F401
