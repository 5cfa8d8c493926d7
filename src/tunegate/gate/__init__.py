"""The go/no-go gate: criteria -> PASS / FAIL / INCONCLUSIVE / MISSING -> a verdict.

:mod:`~tunegate.gate.criteria` judges each criterion; :mod:`~tunegate.gate.evidence`
the operational ones (error rates, stopped models, latency);
:mod:`~tunegate.gate.judges` the judge and human ones.
"""

from __future__ import annotations

from tunegate.gate.criteria import default_gate, describe, evaluate_gate

__all__ = ["default_gate", "describe", "evaluate_gate"]
