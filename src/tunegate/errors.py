"""User-facing errors: each carries a message that names the file, line or key at fault."""

from __future__ import annotations


class TunegateError(Exception):
    """An error the user can act on. The CLI prints its message, without a traceback."""

    exit_code = 2


class ConfigError(TunegateError):
    """The configuration file is invalid (the message names the file and the key)."""


class DataError(TunegateError):
    """A dataset file is invalid (the message names the file and the line)."""


class BackendError(TunegateError):
    """A model backend cannot be set up (missing variable, bad import, ...)."""
