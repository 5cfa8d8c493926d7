"""tunegate: decide, with evidence, whether a fine-tuned model should ship.

The Python API (:mod:`tunegate.api`) is exported here lazily: ``import tunegate``
stays cheap, and the scoring libraries load on first use of one of these names. So are
the names that run a ``tunegate.yaml`` from Python (``load_config``, ``run``,
``RunOptions``; see docs/library.md).
"""

from __future__ import annotations

import importlib
import sys
import warnings
from importlib.machinery import ModuleSpec
from types import ModuleType
from typing import TYPE_CHECKING, Any, cast

from tunegate.version import __version__

if TYPE_CHECKING:
    from importlib.abc import Loader

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
    from tunegate.pipeline.flow import RunOptions, run

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
    "run": "tunegate.pipeline.flow",
    "RunOptions": "tunegate.pipeline.flow",
}
_API_NAMES = frozenset(__all__) - {"__version__"}


#: Modules that moved into the stage packages: the old import path still works, with a
#: DeprecationWarning, for one release.
_MOVED = {
    "tunegate.evaluate": ("tunegate.evaluation.scores",),
    "tunegate.compare": ("tunegate.evaluation.compare",),
    "tunegate.task_scoring": ("tunegate.evaluation.kinds",),
    "tunegate.judging": ("tunegate.evaluation.judging",),
    "tunegate.cost": ("tunegate.evaluation.cost",),
    "tunegate.provenance": ("tunegate.evaluation.provenance",),
    "tunegate.gate_judges": ("tunegate.gate.judges",),
    "tunegate.gate_evidence": ("tunegate.gate.evidence",),
    "tunegate.preflight": ("tunegate.pipeline.preflight",),
    "tunegate.suites": ("tunegate.pipeline.suites",),
    "tunegate.facts": ("tunegate.pipeline.facts",),
    "tunegate.human_link": ("tunegate.pipeline.human_link",),
    "tunegate.leakage": ("tunegate.data.leakage",),
    "tunegate.demo": ("tunegate.cli.demo",),
    "tunegate.bfcl": ("tunegate.data.bfcl",),
    "tunegate.mmlu": (
        "tunegate.data.mmlu",
        "tunegate.data.general",
        "tunegate.data.multiple_choice",
    ),
}


class _MovedModules:
    """Finds a moved module under its old name: the new module itself (one home) or a
    module holding the public names of its homes (several)."""

    @staticmethod
    def find_spec(fullname: str, path: object = None, target: object = None) -> ModuleSpec | None:
        if fullname not in _MOVED:
            return None
        return ModuleSpec(fullname, cast("Loader", _MovedModules))

    @staticmethod
    def create_module(spec: ModuleSpec) -> ModuleType:
        homes = _MOVED[spec.name]
        warnings.warn(
            f"{spec.name} moved to {' and '.join(homes)}; the old path goes in the next release",
            DeprecationWarning,
            stacklevel=2,
        )
        modules = [importlib.import_module(home) for home in homes]
        if len(modules) == 1:
            return modules[0]
        merged = ModuleType(spec.name, f"Moved: see {', '.join(homes)}.")
        for module in modules:
            for name in getattr(module, "__all__", None) or dir(module):
                if not name.startswith("_"):
                    setattr(merged, name, getattr(module, name))
        return merged

    @staticmethod
    def exec_module(module: ModuleType) -> None:
        return None


if not any(finder is _MovedModules for finder in sys.meta_path):
    sys.meta_path.append(_MovedModules)


def __getattr__(name: str) -> Any:
    if name in _API_NAMES:
        value = getattr(importlib.import_module(_HOMES.get(name, "tunegate.api")), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'tunegate' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | _API_NAMES)
