"""The Python API in the call shapes of the common fine-tuning evaluation tutorial.

Same names and call shapes as the tutorial, built on tunegate's runner, scorers
and statistics, so the answers come with intervals, paired tests and an honest
INCONCLUSIVE when the data cannot tell (see ``docs/python-api.md``):

1. :func:`exact_match_score`, :func:`rouge_l_score`, :func:`calculate_perplexity`;
2. :class:`EvalCase`; 3. :func:`run_eval_suite`;
4. :func:`ab_test_models`; 5. :func:`compare_results`;
6. :class:`HumanEvalTask`, :func:`create_human_eval_batch` (and :func:`write_pairs`);
7. :func:`compute_inter_annotator_agreement`;
8. :func:`regression_test`; 9. :class:`EvalPipeline`;
10. :data:`go_no_go_checklist`, :func:`evaluate_go_no_go`.

Models are functions of the prompt (sync or ``async def``) or model names, called
on an OpenAI-compatible endpoint through tunegate's runner (bounded concurrency,
retries); :class:`CallOptions` says where and how.
"""

from __future__ import annotations

from tunegate.api._run import CallOptions
from tunegate.api.ab import ABTestResults, ab_test_models, compare_results
from tunegate.api.checklist import (
    check_go_no_go,
    evaluate_go_no_go,
    go_no_go_checklist,
    go_no_go_evidence,
    go_no_go_numbers,
)
from tunegate.api.human import (
    DEFAULT_CRITERIA,
    HumanEvalTask,
    compute_inter_annotator_agreement,
    create_human_eval_batch,
    write_pairs,
)
from tunegate.api.metrics import calculate_perplexity, exact_match_score, rouge_l_score
from tunegate.api.pipeline import EvalPipeline
from tunegate.api.regression import regression_test
from tunegate.api.suite import SCORERS, CaseResult, EvalCase, PassStats, SuiteReport, run_eval_suite

__all__ = [
    "DEFAULT_CRITERIA",
    "SCORERS",
    "ABTestResults",
    "CallOptions",
    "CaseResult",
    "EvalCase",
    "EvalPipeline",
    "HumanEvalTask",
    "PassStats",
    "SuiteReport",
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
    "regression_test",
    "rouge_l_score",
    "run_eval_suite",
    "write_pairs",
]
