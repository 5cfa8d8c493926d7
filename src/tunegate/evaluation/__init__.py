"""Evaluation: from stored answers to results. Per-case scores and per-model metrics
(:mod:`~tunegate.evaluation.scores`), paired comparisons on the cases both models
answered (:mod:`~tunegate.evaluation.compare`), each task kind's scoring
(:mod:`~tunegate.evaluation.kinds`), judges (:mod:`~tunegate.evaluation.judging`),
cost (:mod:`~tunegate.evaluation.cost`) and what the run rests on
(:mod:`~tunegate.evaluation.provenance`)."""
