"""User-written scorers: load ``module:function`` and turn its result into a Score.

Call convention. A custom scorer is a plain synchronous function. tunegate calls
it with keyword arguments, passing only the names it declares (all three if it
takes ``**kwargs``):

* ``case`` - the :class:`~tunegate.data.Case` (``case.reference``,
  ``case.metadata``, ...);
* ``output`` - the model's answer text (``None`` if the request produced none);
* ``raw`` - the backend's structured output (``Completion.output``, e.g.
  ``{"tool_calls": [...]}``), usually ``None``.

A function whose required parameters are not all among these names is called
positionally as ``fn(case, output)``. So all of these work::

    def score(case, output): ...
    def score(*, output, case, raw=None): ...
    def score(output): ...            # called as score(output=...)
    def score(example, response): ... # called as score(case, text)

It returns one of:

* a float in ``[0, 1]`` (passes when ``>= threshold``, 0.5 by default);
* a bool (value 1 or 0);
* a tuple ``(score, explanation)`` with ``score`` a float or bool;
* a dict ``{"score": ..., "reason": "..."}``, optionally with ``"pass"`` (a bool
  that overrides the threshold);
* a :class:`~tunegate.scoring.base.Score`.

Anything else, a number outside ``[0, 1]`` or NaN, or an exception gives a scorer error
(:meth:`Score.error`: the case is unscored, not failed) whose ``detail`` says what went
wrong; the run goes on.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import math
import numbers
import sys
from collections.abc import Callable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from tunegate.data import Case
from tunegate.errors import ConfigError
from tunegate.scoring.base import DEFAULT_THRESHOLD, Score

__all__ = ["CustomScorer", "load_scorer", "run_custom"]

#: A user-written scoring function (see the module docstring for the convention).
CustomScorer = Callable[..., Any]

_ARGUMENT_NAMES = ("case", "output", "raw")
_EXPECTED = (
    "a number in [0, 1], a bool, (score, explanation), {'score': ..., 'reason': ...} or a Score"
)


def _load_module(module_part: str, spec: str, config_dir: Path | None) -> Any:
    if module_part.endswith(".py"):
        path = Path(module_part)
        if not path.is_absolute():
            path = (config_dir or Path.cwd()) / path
        path = path.resolve()
        if not path.is_file():
            raise ConfigError(f"custom scorer {spec!r}: file {path} not found")
        digest = hashlib.sha256(str(path).encode()).hexdigest()[:12]
        name = f"tunegate_custom_{path.stem}_{digest}"
        if name in sys.modules:
            return sys.modules[name]
        module_spec = importlib.util.spec_from_file_location(name, path)
        if module_spec is None or module_spec.loader is None:
            raise ConfigError(f"custom scorer {spec!r}: cannot load {path} as a Python module")
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[name] = module
        try:
            module_spec.loader.exec_module(module)
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # SystemExit too: the module is the user's
            del sys.modules[name]
            raise ConfigError(
                f"custom scorer {spec!r}: importing {path} raised {type(exc).__name__}: {exc}"
            ) from exc
        return module
    try:
        return importlib.import_module(module_part)
    except ModuleNotFoundError as exc:
        raise ConfigError(
            f"custom scorer {spec!r}: cannot import module {module_part!r} ({exc})"
        ) from None
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # SystemExit too: the module is the user's
        raise ConfigError(
            f"custom scorer {spec!r}: importing {module_part!r} raised {type(exc).__name__}: {exc}"
        ) from exc


def load_scorer(spec: str, *, config_dir: str | Path | None = None) -> CustomScorer:
    """Import the scorer named by ``spec`` and return it.

    ``spec`` is ``"package.module:function"`` (the module is imported normally) or
    ``"path/to/file.py:function"`` (a relative path is taken from ``config_dir``,
    e.g. the configuration file's folder, else the current directory). The part
    after ``:`` may be dotted (``module:Class.method``). Every problem raises
    :class:`~tunegate.errors.ConfigError` naming the spec.
    """
    module_part, sep, attribute = spec.rpartition(":")
    if not sep or not module_part or not attribute:
        raise ConfigError(
            f"custom scorer {spec!r}: expected 'package.module:function' or 'file.py:function'"
        )
    module = _load_module(module_part, spec, Path(config_dir) if config_dir is not None else None)
    target: Any = module
    for part in attribute.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise ConfigError(
                f"custom scorer {spec!r}: {module_part!r} has no attribute {attribute!r}"
            ) from None
    if not callable(target):
        raise ConfigError(f"custom scorer {spec!r}: {attribute!r} is not callable")
    if inspect.iscoroutinefunction(target):
        raise ConfigError(f"custom scorer {spec!r}: must be a synchronous function, not async")
    return target  # type: ignore[no-any-return]


def _plan(fn: CustomScorer) -> tuple[str, ...] | None:
    """The keyword names to pass to ``fn``, or ``None`` to call it as ``fn(case, output)``.

    Keywords are used when every parameter ``fn`` requires is one of ``case``,
    ``output``, ``raw`` (and at least one of them is declared), or ``fn`` takes
    ``**kwargs``; otherwise the call is positional.
    """
    try:
        parameters = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return None
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return _ARGUMENT_NAMES
    keyword_kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    names = tuple(
        p.name for p in parameters if p.name in _ARGUMENT_NAMES and p.kind in keyword_kinds
    )
    required = [
        p
        for p in parameters
        if p.default is inspect.Parameter.empty
        and p.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    ]
    if names and all(p.name in names for p in required):
        return names
    return None


_cached_plan = lru_cache(maxsize=256)(_plan)


def _call_plan(fn: CustomScorer) -> tuple[str, ...] | None:
    try:
        return _cached_plan(fn)
    except TypeError:  # an unhashable callable object
        return _plan(fn)


def _describe(fn: CustomScorer) -> str:
    return str(getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or repr(fn))


def _number_score(value: Any, threshold: float) -> Score | str:
    """A Score from a bool or a number in [0, 1], or the reason it is not one."""
    if isinstance(value, bool | np.bool_):
        return Score.from_bool(bool(value))
    if isinstance(value, numbers.Real):
        number = float(value)
        if math.isnan(number) or not 0.0 <= number <= 1.0:
            return f"returned score {number!r}, outside [0, 1]"
        return Score.from_value(number, threshold)
    return f"returned a score of type {type(value).__name__}; expected a number or a bool"


def _with_detail(score: Score, detail: Any, passed: Any = None) -> Score:
    text = None if detail is None else str(detail)
    verdict = score.passed if passed is None else bool(passed)
    return Score(score.value, verdict, text, dict(score.parts))


def _to_score(result: Any, threshold: float) -> Score | str:
    if isinstance(result, Score):
        return result
    if isinstance(result, tuple):
        if len(result) != 2:
            return f"returned a tuple of {len(result)} items; expected (score, explanation)"
        score = _number_score(result[0], threshold)
        return score if isinstance(score, str) else _with_detail(score, result[1])
    if isinstance(result, Mapping):
        if "score" not in result:
            return f"returned a dict without 'score' (keys: {sorted(map(str, result))})"
        score = _number_score(result["score"], threshold)
        if isinstance(score, str):
            return score
        passed = result.get("pass", result.get("passed"))
        if passed is not None and not isinstance(passed, bool | np.bool_):
            return f"returned 'pass' of type {type(passed).__name__}; expected a bool"
        return _with_detail(score, result.get("reason", result.get("explanation")), passed)
    if isinstance(result, bool | np.bool_ | numbers.Real):
        return _number_score(result, threshold)
    return f"returned {type(result).__name__}; expected {_EXPECTED}"


def run_custom(
    fn: CustomScorer,
    case: Case,
    completion_text: str | None,
    output: Any = None,
    *,
    threshold: float = DEFAULT_THRESHOLD,
) -> Score:
    """Run a custom scorer on one response and convert what it returns to a Score.

    ``completion_text`` is passed as ``output`` and ``output`` (the structured
    ``Completion.output``) as ``raw`` (see the module docstring). A bare number
    passes when ``>= threshold``. Never raises for what the function does.
    """
    plan = _call_plan(fn)
    try:
        if plan is None:
            result = fn(case, completion_text)
        else:
            available = {"case": case, "output": completion_text, "raw": output}
            result = fn(**{name: available[name] for name in plan})
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # a SystemExit too: the scorer failed, not the run
        message = str(exc)
        return Score.error(
            f"custom scorer {_describe(fn)} raised {type(exc).__name__}"
            + (f": {message}" if message else "")
        )
    if inspect.isawaitable(result):
        close = getattr(result, "close", None)
        if callable(close):
            close()
        return Score.error(
            f"custom scorer {_describe(fn)} returned an awaitable; it must be synchronous"
        )
    converted = _to_score(result, threshold)
    if isinstance(converted, str):
        return Score.error(f"custom scorer {_describe(fn)} {converted}")
    return converted
