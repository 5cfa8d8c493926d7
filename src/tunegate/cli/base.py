"""What every ``tunegate`` command shares: the typer app, the consoles, exit codes,
error printing, config loading and the SIGTERM handling."""

from __future__ import annotations

import contextlib
import signal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from tunegate.errors import TunegateError

if TYPE_CHECKING:
    from tunegate.config import Config

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Decide, with evidence, whether a fine-tuned model should ship.",
    pretty_exceptions_enable=False,
)
out = Console(highlight=False)
err = Console(stderr=True, highlight=False)

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
            # A process started in the background by a non-interactive shell (a CI step's
            # `cmd &`) inherits SIGINT ignored, and SIGTERM, handled through SIGINT, would
            # then be ignored too: the run would end with a verdict. Take SIGINT back.
            if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
                signal.signal(signal.SIGINT, signal.default_int_handler)

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


def _fail(message: str, code: int = EXIT_ERROR) -> typer.Exit:
    from rich.markup import escape

    from tunegate.secrets import redact

    # A message may quote a config value or an exception that echoes a URL: no secret,
    # and no rich markup from user input.
    err.print(f"[bold red]error:[/] {escape(redact(message))}", markup=True, soft_wrap=True)
    return typer.Exit(code)


def _load(config_path: Path) -> Config:
    # Imported here: pydantic and the schema are not needed for `--help`.
    import warnings

    from rich.markup import escape

    from tunegate.config import load_config
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
