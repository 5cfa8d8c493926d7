"""YAML as users write it: YAML 1.2 core-schema scalars, duplicate keys rejected.

PyYAML implements YAML 1.1, where ``yes``/``no``/``on``/``off`` are booleans,
``0123`` is octal, ``1:30`` is a base-60 number and ``2024-01-01`` a date. A
label list ``[yes, no]`` then arrives as ``[True, False]``. This loader keeps
PyYAML's parser but resolves plain scalars by the YAML 1.2 core schema:

- booleans: only ``true``/``True``/``TRUE`` and ``false``/``False``/``FALSE``;
- null: ``~``, ``null``/``Null``/``NULL`` and the empty scalar;
- numbers: a scalar is a number only when it is written the way the number
  reads back: ``42``, ``-7`` (int), ``0.5``, ``-12.25`` (float). Anything else
  that YAML 1.2 would also call a number (``0123``, ``+5``, ``1e3``, ``.5``,
  ``0x1F``) stays the string the user typed; pydantic still turns it into a
  number wherever the schema asks for one (``"1e3"`` → ``1000.0``);
- ``.inf``/``-.inf``/``.nan`` are floats; everything else is a string
  (``1:30``, ``2024-01-01``, ``y``, ``n``, ``on``, ``off``). (The config refuses
  non-finite numbers: :func:`tunegate.config.load.parse_config`.)
- an integer longer than 4,300 digits is an error (Python would refuse to convert it).

Errors are :class:`~tunegate.errors.ConfigError` naming ``file:line:column``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from tunegate.errors import ConfigError

__all__ = ["load_yaml", "load_yaml_file"]

_BOOL = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
_NULL = re.compile(r"^(?:~|null|Null|NULL|)$")
# YAML 1.2 core-schema numbers (what the spec resolves), and the canonical subset we keep as numbers.
_INT_12 = re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$")
_FLOAT_12 = re.compile(
    r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
)
#: The longest integer read (Python's default limit on converting text to an integer).
MAX_DIGITS = 4300
_CANONICAL_INT = re.compile(r"^-?(?:0|[1-9][0-9]*)$")
_CANONICAL_FLOAT = re.compile(r"^-?(?:0|[1-9][0-9]*)\.[0-9]+$")
_SPECIAL_FLOAT = {
    ".inf": float("inf"),
    ".Inf": float("inf"),
    ".INF": float("inf"),
    "+.inf": float("inf"),
    "+.Inf": float("inf"),
    "+.INF": float("inf"),
    "-.inf": float("-inf"),
    "-.Inf": float("-inf"),
    "-.INF": float("-inf"),
}

_STR_TAG = "tag:yaml.org,2002:str"
_INT_TAG = "tag:yaml.org,2002:int"
_FLOAT_TAG = "tag:yaml.org,2002:float"


class Yaml12Loader(yaml.SafeLoader):
    """PyYAML's safe loader with YAML 1.2 core-schema plain scalars and unique keys."""


# Start from no implicit resolvers at all (PyYAML's are YAML 1.1), then add the 1.2 core ones.
Yaml12Loader.yaml_implicit_resolvers = {}
Yaml12Loader.add_implicit_resolver("tag:yaml.org,2002:bool", _BOOL, list("tTfF"))
Yaml12Loader.add_implicit_resolver("tag:yaml.org,2002:null", _NULL, ["~", "n", "N", ""])
Yaml12Loader.add_implicit_resolver(_INT_TAG, _INT_12, list("-+0123456789"))
Yaml12Loader.add_implicit_resolver(_FLOAT_TAG, _FLOAT_12, list("-+.0123456789"))
Yaml12Loader.add_implicit_resolver("tag:yaml.org,2002:merge", re.compile(r"^<<$"), ["<"])


def _construct_bool(loader: Yaml12Loader, node: yaml.ScalarNode) -> bool:
    return str(loader.construct_scalar(node)).lower() == "true"


def _construct_int(loader: Yaml12Loader, node: yaml.ScalarNode) -> int | str:
    text = str(loader.construct_scalar(node))
    if node.style is None and _CANONICAL_INT.match(text):
        if len(text.lstrip("-")) > MAX_DIGITS:  # int() would raise ValueError
            raise yaml.constructor.ConstructorError(
                None, None, f"a number longer than {MAX_DIGITS:,} digits", node.start_mark
            )
        return int(text)
    return text  # 0123, +5, 0x1F, or an explicit !!int on odd text: keep what was typed


def _construct_float(loader: Yaml12Loader, node: yaml.ScalarNode) -> float | str:
    text = str(loader.construct_scalar(node))
    if node.style is None:
        if _CANONICAL_FLOAT.match(text):
            return float(text)
        if text in _SPECIAL_FLOAT:
            return _SPECIAL_FLOAT[text]
        if text.lower() == ".nan":
            return float("nan")
    return text  # 1e3, .5, 1., +1.0: keep what was typed


def _construct_mapping(loader: Yaml12Loader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue
        key = loader.construct_object(key_node, deep=True)
        try:
            first = seen.get(key)
        except TypeError:  # an unhashable key (a list or mapping as key)
            raise yaml.constructor.ConstructorError(
                None,
                None,
                "a key must be a plain value, not a list or mapping",
                key_node.start_mark,
            ) from None
        if first is not None:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r} (first on line {first})", key_node.start_mark
            )
        seen[key] = key_node.start_mark.line + 1
    return loader.construct_mapping(node, deep=True)


Yaml12Loader.add_constructor("tag:yaml.org,2002:bool", _construct_bool)
Yaml12Loader.add_constructor(_INT_TAG, _construct_int)
Yaml12Loader.add_constructor(_FLOAT_TAG, _construct_float)
Yaml12Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


MAX_VALUES = 1_000_000
"""A document may expand to at most this many values (aliases count each time they repeat)."""


def _too_big(data: Any, budget: int = MAX_VALUES) -> bool:
    """True when ``data`` holds more than ``budget`` values counting shared parts each time
    they are reached (a "billion laughs" of nested aliases); stops as soon as it knows."""
    stack = [data]
    seen = 0
    while stack:
        value = stack.pop()
        seen += 1
        if seen > budget:
            return True
        if isinstance(value, dict):
            stack.extend(value.keys())
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return False


def load_yaml(text: str, source: str | Path = "<yaml>") -> Any:
    """Parse ``text`` (one YAML document); errors name ``source:line:column``."""
    try:
        data = yaml.load(text, Loader=Yaml12Loader)
        if "*" in text and _too_big(data):
            raise ConfigError(
                f"{source}: the document expands to more than {MAX_VALUES:,} values through"
                " its aliases (*name): write the repeated parts out or simplify"
            )
        return data
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else str(source)
        raise ConfigError(f"{where}: invalid YAML: {exc.problem or exc}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: invalid YAML: {exc}") from None
    except RecursionError:
        raise ConfigError(f"{source}: invalid YAML: nested too deeply") from None


def load_yaml_file(path: str | Path) -> Any:
    """Read and parse a YAML file; a missing or unreadable file is a :class:`ConfigError`."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{p}: file not found") from None
    except IsADirectoryError:
        raise ConfigError(f"{p}: cannot read (a folder, not a file)") from None
    except UnicodeDecodeError as exc:
        if exc.object[:2] in (b"\xff\xfe", b"\xfe\xff"):
            raise ConfigError(f"{p}: cannot read (UTF-16 text: save the file as UTF-8)") from None
        raise ConfigError(f"{p}: cannot read (not UTF-8 text, byte {exc.start})") from None
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read ({exc.strerror})") from None
    return load_yaml(text, p)
