"""The judging stage's parts take what they read: the judge's own model config (not the whole
config) builds its backend; self-preference warnings need the suite's judges and the
candidate."""

from __future__ import annotations

from typing import Any

from tunegate.config import parse_config
from tunegate.evaluation.judging import self_preference_warnings
from tunegate.models.judges import judge_backend
from tunegate.scoring.judge import parse_pairwise

URLS = ["http://10.0.0.1:8000/v1", "http://10.0.0.2:8000/v1", "http://10.0.0.3:8000/v1"]


def _config(task: dict[str, Any] | None = None, **top: Any) -> Any:
    return parse_config(
        {
            "dataset": {"path": "x.jsonl"},
            "task": task or {"labels": ["a", "b"]},
            "models": {
                "tuned": {"type": "python", "function": "m:f"},
                "base": {"type": "python", "function": "m:g"},
                "gpt": {
                    "type": "openai",
                    "model": "gpt",
                    "base_url": URLS,
                    "concurrency": 2,
                    "prompt": "Review: {{ input }}",
                },
            },
            **top,
        }
    )


def test_a_judge_backend_is_built_from_the_judges_own_config() -> None:
    config = _config()
    backend = judge_backend("gpt", config.models["gpt"], ["A", "B", "tie"], parse_pairwise)
    assert backend.name == "judge:gpt"
    assert backend.concurrency == 6  # 3 replicas x 2: the judge runs at its full width
    # The judge prompt is the whole user turn: the contestant's template is dropped.
    from tunegate.data import Case

    case = Case(id="j1", text="Which is better?", reference="")
    request = backend.render(case)
    assert request["messages"][-1]["content"] == "Which is better?"


def test_self_preference_names_a_judge_that_also_answers() -> None:
    config = _config({"type": "generation"}, judge={"model": "tuned"})
    suite = config.all_suites[0]
    pairwise = config.pairwise_judges(suite)
    [warning] = self_preference_warnings(suite, pairwise, ["tuned", "base"], "tuned")
    assert warning.startswith("main: judge 'tuned' is also the candidate")
    [other] = self_preference_warnings(suite, pairwise, ["tuned", "base"], "base")
    assert "'tuned' is also a compared model" in other
    assert self_preference_warnings(suite, pairwise, ["base"], "base") == []
