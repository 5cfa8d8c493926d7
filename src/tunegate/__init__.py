"""tunegate: decide, with evidence, whether a fine-tuned model should ship.

The Python API (:mod:`tunegate.api`) is exported here lazily: ``import tunegate``
stays cheap, and the scoring libraries load on first use of one of these names. So are
the names that run a ``tunegate.yaml`` from Python (``load_config``, ``run``,
``RunOptions``; see docs/library.md).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from tunegate.api import (
        ABTestResults,
        CallOptions,
        CaseResult,
        EvalCase,
        EvalPipeline,
        HumanEvalTask,
        PassStats,
        SuiteReport,
        ab_test_models,
        calculate_perplexity,
        check_go_no_go,
        compare_results,
        compute_inter_annotator_agreement,
        create_human_eval_batch,
        evaluate_go_no_go,
        exact_match_score,
        go_no_go_checklist,
        go_no_go_evidence,
        go_no_go_numbers,
        regression_test,
        rouge_l_score,
        run_eval_suite,
        write_pairs,
    )
    from tunegate.config import load_config
    from tunegate.pipeline import RunOptions, run

__all__ = [
    "ABTestResults",
    "CallOptions",
    "CaseResult",
    "EvalCase",
    "EvalPipeline",
    "HumanEvalTask",
    "PassStats",
    "RunOptions",
    "SuiteReport",
    "__version__",
    "ab_test_models",
    "calculate_perplexity",
    "check_go_no_go",
    "compare_results",
    "compute_inter_annotator_agreement",
    "create_human_eval_batch",
    "evaluate_go_no_go",
    "exact_match_score",
    "go_no_go_checklist",
    "go_no_go_evidence",
    "go_no_go_numbers",
    "load_config",
    "regression_test",
    "rouge_l_score",
    "run",
    "run_eval_suite",
    "write_pairs",
]

#: Where each lazily exported name lives.
_HOMES = {
    "load_config": "tunegate.config",
    "run": "tunegate.pipeline",
    "RunOptions": "tunegate.pipeline",
}
_API_NAMES = frozenset(__all__) - {"__version__"}


def __getattr__(name: str) -> Any:
    if name in _API_NAMES:
        value = getattr(importlib.import_module(_HOMES.get(name, "tunegate.api")), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'tunegate' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | _API_NAMES)
