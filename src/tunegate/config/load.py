"""Reading a config file: validation, cross-references, paths, readable errors.

Every error names the file and the key (``tunegate.yaml: models.zero-shot.base_url:
not a URL``). Relative paths are resolved against the config file's folder.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from tunegate.config.base import ENV_REF, ConfigWarning, _suggest
from tunegate.config.gate import GATE_METRICS
from tunegate.config.models import MODEL_CONFIGS, HFModel
from tunegate.config.root import Config
from tunegate.config.scorers import (
    _JUDGE_CLASSES,
    DEPRECATED_OPTIONS,
    JUDGE_CONFIGS,
    SCORER_CONFIGS,
    JsonSchemaScorer,
    PairwiseJudgeConfig,
    renamed_value,
)
from tunegate.config.tasks import DatasetConfig, SuiteConfig, TaskConfig, suite_metrics
from tunegate.data.values import value_problem
from tunegate.errors import ConfigError


def load_config(path: str | Path) -> Config:
    """Read, validate and resolve a config file; raise :class:`ConfigError` on any problem."""
    from tunegate.yamlio import load_yaml_file

    p = Path(path)
    return parse_config(load_yaml_file(p), source=p)


def parse_config(data: Any, source: str | Path = "tunegate.yaml") -> Config:
    """Validate an already-parsed mapping; paths are resolved against ``source``'s folder."""
    src = Path(source)
    if data is None:
        raise ConfigError(f"{src}: the file is empty")
    if not isinstance(data, dict):
        raise ConfigError(f"{src}: expected a mapping of keys at the top level")
    bad = value_problem(data, finite=True)
    if bad is not None:  # NaN, .inf, a lone surrogate, nesting past the limit: anywhere
        raise ConfigError(f"{src}: {bad[0]}: {bad[1].removeprefix('is ')}")
    if not data.get("suites"):
        absent = [k for k in ("dataset", "task") if k not in data]
        if absent:
            raise ConfigError("\n".join(f"{src}: {k}: required key is missing" for k in absent))
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_format_errors(src, exc, data)) from None
    for message in _deprecated_keys(src, data, ""):
        warnings.warn(message, ConfigWarning, stacklevel=2)
    _check_references(src, config)
    return _resolve_paths(config, src.resolve().parent)


def _yaml(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _deprecated_keys(src: Path, data: Any, where: str) -> list[str]:
    """A message for every deprecated scorer option spelling under ``data``."""
    found: list[str] = []
    if isinstance(data, dict):
        for old, new in DEPRECATED_OPTIONS.get(str(data.get("type")), {}).items():
            if old in data:
                found.append(
                    f"{src}: {where}.{old}: deprecated, write {new}: {_yaml(renamed_value(data[old]))} instead"
                )
        for key, value in data.items():
            found += _deprecated_keys(src, value, f"{where}.{key}" if where else str(key))
    elif isinstance(data, list):
        for i, item in enumerate(data):
            found += _deprecated_keys(src, item, f"{where}[{i}]")
    return found


def _check_pass_rule(src: Path, where: str, suite: SuiteConfig) -> list[str]:
    """``pass.metric`` names one of the suite's metrics."""
    rule = suite.task.pass_
    known = suite_metrics(suite.task)
    if rule is None or rule.metric in known:
        return []
    return [
        f"{src}: {where}.pass.metric: {rule.metric!r} is not a metric of suite {suite.name}"
        f"{_suggest(rule.metric, known)}"
    ]


def _check_references(src: Path, config: Config) -> None:
    names = list(config.models)
    problems: list[str] = []
    if config.compare:
        refs = [("compare.candidate", config.compare.candidate)] + [
            (f"compare.baselines[{i}]", b) for i, b in enumerate(config.compare.baselines)
        ]
        for key, ref in refs:
            if ref not in config.models:
                problems.append(f"{src}: {key}: no model named {ref!r}{_suggest(ref, names)}")
        if config.compare.candidate in config.compare.baselines:
            problems.append(f"{src}: compare.baselines: the candidate cannot be its own baseline")
    if config.gate:
        gate_refs = [("gate.candidate", config.gate.candidate)] + [
            (f"gate.criteria[{i}].{key}", ref)
            for i, c in enumerate(config.gate.criteria)
            for key, ref in (("vs", c.vs), ("model", c.model))
        ]
        for gate_key, gate_ref in gate_refs:
            if gate_ref is not None and gate_ref not in config.models:
                problems.append(
                    f"{src}: {gate_key}: no model named {gate_ref!r}{_suggest(gate_ref, names)}"
                )
        if (
            config.compare
            and config.gate.candidate
            and config.gate.candidate != config.compare.candidate
        ):
            problems.append(
                f"{src}: gate.candidate: {config.gate.candidate!r} differs from "
                f"compare.candidate {config.compare.candidate!r}"
            )
        for i, crit in enumerate(config.gate.criteria):
            if crit.vs is not None and crit.vs == config.candidate:
                problems.append(
                    f"{src}: gate.criteria[{i}].vs: the candidate cannot be compared with itself"
                )
    suites = {suite.name: suite for suite in config.all_suites}
    if config.dataset is not None:
        problems += _check_pass_rule(src, "task", config.all_suites[0])
    for i, suite in enumerate(config.suites):
        suite_refs: list[tuple[str, str | None]] = [(f"suites[{i}].base", suite.base)]
        suite_refs += [(f"suites[{i}].models[{j}]", m) for j, m in enumerate(suite.models or [])]
        for where, model_ref in suite_refs:
            if model_ref is not None and model_ref not in config.models:
                problems.append(
                    f"{src}: {where}: no model named {model_ref!r}{_suggest(model_ref, names)}"
                )
        problems += _check_pass_rule(src, f"suites[{i}].task", suite)
        labels = [sc.label for sc in suite.task.scorer_list]
        dupes = sorted({x for x in labels if labels.count(x) > 1})
        if dupes:
            problems.append(
                f"{src}: suites[{i}].task.scorers: two scorers named {dupes}; give one a name"
            )
    if config.compare and config.compare.metric:
        known = [*suite_metrics(config.main_task), "pass_rate"]
        if config.compare.metric not in known:
            problems.append(
                f"{src}: compare.metric: {config.compare.metric!r} is not a metric of the "
                f"main suite{_suggest(config.compare.metric, known)}"
            )
    for i, c in enumerate(config.gate.criteria if config.gate else []):
        suite_cfg = suites.get(c.suite) if c.suite is not None else config.all_suites[0]
        if suite_cfg is None:
            problems.append(
                f"{src}: gate.criteria[{i}].suite: no suite named {c.suite!r}"
                f"{_suggest(str(c.suite), list(suites))}"
            )
            continue
        known = list(dict.fromkeys([*GATE_METRICS, *suite_metrics(suite_cfg.task)]))
        if c.metric not in known:
            problems.append(
                f"{src}: gate.criteria[{i}].metric: unknown metric {c.metric!r}"
                f"{_suggest(c.metric, known)}"
            )
    problems += _check_judges(src, config, names, suites)
    for name, model in config.models.items():
        for header, value in getattr(model, "headers", {}).items():
            if not ENV_REF.search(value) and header.lower() in {"authorization", "x-api-key"}:
                problems.append(
                    f"{src}: models.{name}.headers.{header}: put secrets in an environment "
                    f"variable and write it as ${{VAR}}, not in the config"
                )
    if problems:
        raise ConfigError("\n".join(problems))


def _rubric_problem(rubric: str, kind: Literal["pointwise", "pairwise"]) -> str | None:
    # Imported here: jinja2 loads only for a config with a rubric.
    from tunegate.templates import check_rubric

    return check_rubric(rubric, kind)


def _check_judges(
    src: Path, config: Config, names: list[str], suites: dict[str, SuiteConfig]
) -> list[str]:
    """Judges name models, rubrics compile, the ``judge:`` section names generation suites."""
    problems: list[str] = []
    offset = 1 if config.dataset is not None else 0
    for i, suite in enumerate(config.all_suites):
        where = "task" if i < offset else f"suites[{i - offset}].task"
        for j, sc in enumerate(suite.task.scorers):
            if not isinstance(sc, _JUDGE_CLASSES):
                continue
            key = f"{src}: {where}.scorers[{j}]"
            if sc.judge not in config.models:
                problems.append(
                    f"{key}.judge: no model named {sc.judge!r}{_suggest(sc.judge, names)}"
                )
            if not suite.task.kind.judged:
                problems.append(f"{key}: judges grade generation suites, not {suite.task.type}")
            kind: Literal["pointwise", "pairwise"] = (
                "pairwise" if isinstance(sc, PairwiseJudgeConfig) else "pointwise"
            )
            problem = _rubric_problem(sc.rubric, kind) if sc.rubric is not None else None
            if problem:
                problems.append(f"{key}.rubric: {problem}")
    section = config.judge
    if section is not None:
        if section.model not in config.models:
            problems.append(
                f"{src}: judge.model: no model named {section.model!r}"
                f"{_suggest(section.model, names)}"
            )
        for k, name in enumerate(section.suites or []):
            found = suites.get(name)
            if found is None:
                problems.append(
                    f"{src}: judge.suites[{k}]: no suite named {name!r}"
                    f"{_suggest(name, list(suites))}"
                )
            elif not found.task.kind.judged:
                problems.append(
                    f"{src}: judge.suites[{k}]: {name} is a {found.task.type} suite; "
                    "judges grade generation suites"
                )
        problem = _rubric_problem(section.rubric, "pairwise") if section.rubric else None
        if problem:
            problems.append(f"{src}: judge.rubric: {problem}")
        if section.suites is None and not any(s.task.kind.judged for s in config.all_suites):
            problems.append(f"{src}: judge: there is no generation suite to judge")
    return problems


def _resolve_paths(config: Config, base: Path) -> Config:
    def fix(p: Path) -> Path:
        p = p.expanduser()
        return p if p.is_absolute() else base / p

    models: dict[str, Any] = {}
    for name, model in config.models.items():
        update: dict[str, Any] = {}
        shots = getattr(model, "shots", None)
        if shots is not None:
            update["shots"] = shots.model_copy(update={"path": fix(shots.path)})
        if isinstance(model, HFModel):
            for key in ("path", "gguf_file", "adapter"):
                value = getattr(model, key)
                if value is not None:
                    update[key] = fix(value)
        models[name] = model.model_copy(update=update) if update else model

    def fix_dataset(ds: DatasetConfig) -> DatasetConfig:
        if str(ds.path) == "builtin:general":
            from tunegate.data.general import GENERAL_KNOWLEDGE

            return ds.model_copy(update={"path": GENERAL_KNOWLEDGE, "format": "general"})
        return ds.model_copy(update={"path": fix(ds.path)})

    def fix_task(task: TaskConfig) -> TaskConfig:
        scorers = [
            sc.model_copy(update={"schema_file": fix(sc.schema_file)})
            if isinstance(sc, JsonSchemaScorer) and sc.schema_file is not None
            else sc
            for sc in task.scorers
        ]
        return task.model_copy(update={"scorers": scorers})

    suites = [
        suite.model_copy(
            update={"dataset": fix_dataset(suite.dataset), "task": fix_task(suite.task)}
        )
        for suite in config.suites
    ]
    changes: dict[str, Any] = {"models": models, "store": fix(config.store), "suites": suites}
    if config.dataset is not None and config.task is not None:
        changes["dataset"] = fix_dataset(config.dataset)
        changes["task"] = fix_task(config.task)
    return config.model_copy(update=changes)


def _class_by_type(node: Any, scorer: bool) -> type[BaseModel] | None:
    """The config class a model's or a scorer's mapping names by its ``type``."""
    kind = node.get("type") if isinstance(node, dict) else None
    if not isinstance(kind, str):
        return None
    if not scorer:
        return MODEL_CONFIGS.find(kind)
    return SCORER_CONFIGS.find(kind) or JUDGE_CONFIGS.find(kind)


def _allowed_keys(loc: tuple[int | str, ...], data: Any) -> list[str]:
    """The keys allowed in the mapping at ``loc`` (for did-you-mean hints): the config's
    models are walked along ``loc``, and a model or scorer entry's class is the one its
    ``type`` (in ``data``) names."""
    model: type[BaseModel] | None = Config
    node, parent = data, None
    for part in loc:
        node = _child(node, part)
        if parent == ("models", Config) and isinstance(part, str):
            model = _class_by_type(node, scorer=False)  # models.<name>
        elif parent is not None and parent[0] == "scorers" and isinstance(part, int):
            model = _class_by_type(node, scorer=True)  # ...scorers[i]
        elif not isinstance(part, int):  # an item of a list: the list's element model applies
            field = model.model_fields.get(str(part)) if model is not None else None
            if field is None:
                return []
            parent = (str(part), model)
            candidates = [field.annotation, *getattr(field.annotation, "__args__", ())]
            model = next(
                (c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None
            )
            continue
        parent = None
    return list(model.model_fields) if model is not None else []


def _child(node: Any, part: int | str) -> Any:
    if isinstance(node, dict):
        return node.get(part)
    if isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
        return node[part]
    return None


def _format_errors(src: Path, exc: ValidationError, data: Any = None) -> str:
    lines: list[str] = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        key = ""
        for part in loc:
            key += f"[{part}]" if isinstance(part, int) else f".{part}" if key else str(part)
        key = key or "(top level)"
        kind = err["type"]
        if kind == "extra_forbidden":
            known = [k for k in _allowed_keys(loc[:-1], data) if k != "type"]
            message = f"unknown key{_suggest(str(loc[-1]), known)}"
        elif kind == "missing":
            message = "required key is missing"
        elif kind in {"type_unknown", "type_missing"}:  # a model's or a scorer's type
            message = str(err["msg"])
            key = f"{key}.type"
        else:
            message = str(err["msg"]).removeprefix("Value error, ")
            if (
                "input" in err
                and kind not in {"dict_type", "model_type", "secret_in_config", "bool_not_number"}
                and _short(err["input"])
            ):
                message += f" (got {err['input']!r})"
        lines.append(f"{src}: {key}: {message}")
    return "\n".join(lines)


def _short(value: Any) -> bool:
    if isinstance(value, int) and not -(10**60) < value < 10**60:
        return False  # and repr() of a 5,000-digit integer raises ValueError
    return isinstance(value, (int, float, str, bool)) and len(repr(value)) <= 60
