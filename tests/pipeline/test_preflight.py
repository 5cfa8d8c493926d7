"""tunegate.pipeline.preflight: what ``tunegate validate`` checks before any model call (environment
variables, cases, scorers, templates), each problem naming the config file and key."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tunegate.config import parse_config
from tunegate.data import Case
from tunegate.pipeline.preflight import preflight, template_problem


def _project(tmp_path: Path, **overrides: Any) -> tuple[Any, Path]:
    (tmp_path / "cases.jsonl").write_text(
        "".join(
            json.dumps({"id": f"c{i}", "text": f"t{i}", "label": ["yes", "no"][i % 2]}) + "\n"
            for i in range(4)
        )
    )
    data: dict[str, Any] = {
        "dataset": {"path": "cases.jsonl"},
        "task": {"labels": ["yes", "no"]},
        "models": {
            "api": {
                "type": "openai",
                "model": "m",
                "base_url": "http://127.0.0.1:9/v1",
                "api_key_env": "TUNEGATE_TEST_PREFLIGHT_KEY",
            },
            "fn": {"type": "python", "function": "m:f"},
        },
    }
    data.update(overrides)
    path = tmp_path / "tunegate.yaml"
    return parse_config(data, source=path), path


def test_a_good_config_has_no_problem_and_its_cases(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TUNEGATE_TEST_PREFLIGHT_KEY", "x")
    (tmp_path / "m.py").write_text("def f(text):\n    return 'yes'\n")
    config, path = _project(tmp_path)
    found = preflight(config, tmp_path, str(path))
    assert found.problems == []
    [cases] = found.cases.values()
    assert [c.id for c in cases] == ["c0", "c1", "c2", "c3"]


def test_a_missing_key_and_a_bad_template_are_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TUNEGATE_TEST_PREFLIGHT_KEY", raising=False)
    (tmp_path / "m.py").write_text("def f(text):\n    return 'yes'\n")
    config, path = _project(tmp_path, task={"labels": ["yes", "no"], "prompt": "{{ review }}"})
    found = preflight(config, tmp_path, str(path))
    assert (
        f"{path}: models.api.api_key_env: environment variable "
        "TUNEGATE_TEST_PREFLIGHT_KEY is not set" in found.problems
    )
    bad = [p for p in found.problems if "task.prompt" in p]
    assert len(bad) == 1
    assert bad[0].startswith(f"{path}: task.prompt: 'review' is undefined when rendered for case")
    assert "(a template can use: input, id, category)" in bad[0]


def test_missing_data_is_a_problem_not_a_traceback(tmp_path: Path) -> None:
    config, path = _project(tmp_path, dataset={"path": "absent.jsonl"})
    found = preflight(config, tmp_path, str(path))
    assert any("absent.jsonl" in p for p in found.problems)
    assert found.cases == {}


def test_template_problem_syntax_and_undefined_names() -> None:
    case = Case(id="c1", text="t", reference="r", metadata={"lang": "en"})
    assert template_problem("k", "{{ input }} {{ lang }}", case, "main") is None
    syntax = template_problem("k", "{{ input ", case, "main")
    assert syntax is not None
    assert syntax.startswith("k: template syntax error")
    undefined = template_problem("k", "{{ nope }}", case, "main")
    assert undefined == (
        "k: 'nope' is undefined when rendered for case 'c1' of suite main "
        "(a template can use: input, id, category, lang)"
    )


class _Unrenderable:
    """A backend whose request cannot be rendered (as a broken template would)."""

    name = "broken"

    def __init__(self, error: Exception) -> None:
        self.error = error

    def render(self, case: Case) -> dict[str, Any]:
        raise self.error


@pytest.mark.parametrize(
    "error",
    [
        KeyError("lang"),
        ValueError("bad value with sk-abcdefghijklmnopqrstuvwxyz0123456789 inside"),
        RuntimeError(),
    ],
)
def test_render_request_names_the_model_the_case_and_the_names_a_template_can_use(
    error: Exception,
) -> None:
    """One function renders requests for the run and for validate (secrets redacted)."""
    from tunegate.errors import ConfigError
    from tunegate.models.base import render_request

    case = Case(id="c1", text="t", reference="r", metadata={"lang": "en"})
    backend: Any = _Unrenderable(error)
    with pytest.raises(ConfigError) as ours:
        render_request(backend, case)
    assert str(ours.value).startswith("models.broken: the request for case 'c1' cannot be rendered")
    assert str(ours.value).endswith("(a template can use: input, id, category, lang)")
    assert "sk-abcdefghijklmnopqrstuvwxyz0123456789" not in str(ours.value)


def test_render_request_returns_the_request_and_keeps_tunegate_errors() -> None:
    from tunegate.errors import ConfigError
    from tunegate.models.base import render_request

    class _Fine:
        name = "fine"

        def render(self, case: Case) -> dict[str, Any]:
            return {"text": case.text}

    case = Case(id="c1", text="t", reference="r")
    fine: Any = _Fine()
    assert render_request(fine, case) == {"text": "t"}
    own: Any = _Unrenderable(ConfigError("models.broken: said already"))
    with pytest.raises(ConfigError) as raised:
        render_request(own, case)
    assert str(raised.value) == "models.broken: said already"
