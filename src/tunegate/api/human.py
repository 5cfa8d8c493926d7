"""Blind pairwise human evaluation in the tutorial's shapes.

* :func:`create_human_eval_batch` pairs two models' outputs per prompt, shows them
  in a random order (seeded) and **records the order on each task** so a vote for
  "A" can be mapped back to the model that wrote it;
* :func:`write_pairs` writes the tasks, de-blinded, in the JSONL format that
  ``tunegate human create --pairs FILE.jsonl`` reads (the annotation app blinds
  them again itself);
* :func:`compute_inter_annotator_agreement` computes Cohen's kappa per annotator
  pair, Fleiss' kappa, Krippendorff's alpha and raw percent agreement from votes,
  through :func:`tunegate.human.agreement.agreement_values` (scikit-learn,
  statsmodels and the ``krippendorff`` package).
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "DEFAULT_CRITERIA",
    "HumanEvalTask",
    "compute_inter_annotator_agreement",
    "create_human_eval_batch",
    "write_pairs",
]

#: The tutorial's default criteria.
DEFAULT_CRITERIA: tuple[str, ...] = ("correctness", "helpfulness", "safety", "format_adherence")


@dataclass
class HumanEvalTask:
    """One blind comparison: a prompt and two outputs shown as "A" and "B".

    ``model_a_output`` / ``model_b_output`` are what the annotator sees in the
    first and second position. ``swapped`` records the order: ``False`` when the
    first position holds the first model's output (``model_a``), ``True`` when
    the two were swapped. :meth:`shown_model` and :meth:`unblind` map a position
    or a vote back to the model's name.
    """

    prompt: str
    model_a_output: str
    model_b_output: str
    criteria: list[str]
    evaluator_id: str | None = None
    scores: dict[str, Any] | None = None
    id: str = ""
    swapped: bool = False
    model_a: str = "model_a"
    model_b: str = "model_b"
    category: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def shown_model(self, position: str) -> str:
        """The model whose output is shown in ``position`` (``"A"`` or ``"B"``)."""
        pos = position.strip().upper()
        if pos not in ("A", "B"):
            raise ValueError(f"position must be 'A' or 'B', got {position!r}")
        first_is_a = (pos == "A") != self.swapped
        return self.model_a if first_is_a else self.model_b

    def unblind(self, winner: str) -> str:
        """The model a vote picks: ``"A"``/``"B"`` become a model name; ``"tie"`` stays."""
        if winner.strip().lower() == "tie":
            return "tie"
        return self.shown_model(winner)

    def output_of(self, model: str) -> str:
        """The output the named model (``model_a`` or ``model_b``) wrote."""
        if model == self.model_a:
            return self.model_b_output if self.swapped else self.model_a_output
        if model == self.model_b:
            return self.model_a_output if self.swapped else self.model_b_output
        raise ValueError(
            f"unknown model {model!r}; this task compares {self.model_a!r} and {self.model_b!r}"
        )


def create_human_eval_batch(
    prompts: Sequence[str],
    model_a_outputs: Sequence[str],
    model_b_outputs: Sequence[str],
    criteria: Sequence[str] | None = None,
    *,
    seed: int = 0,
    model_names: tuple[str, str] = ("model_a", "model_b"),
    ids: Sequence[str] | None = None,
    categories: Sequence[str | None] | None = None,
) -> list[HumanEvalTask]:
    """One :class:`HumanEvalTask` per prompt, each in a random order (seeded).

    Each task's order is drawn independently with ``random.Random(seed)``: with
    probability 1/2 the two outputs are swapped, and ``swapped`` records it.
    ``criteria`` defaults to :data:`DEFAULT_CRITERIA`. Task ids default to the
    prompt's position (``"0"``, ``"1"``, ...).
    """
    n = len(prompts)
    lengths = {"model_a_outputs": len(model_a_outputs), "model_b_outputs": len(model_b_outputs)}
    if ids is not None:
        lengths["ids"] = len(ids)
    if categories is not None:
        lengths["categories"] = len(categories)
    for name, length in lengths.items():
        if length != n:
            raise ValueError(f"{n} prompts but {length} {name}")
    if len(model_names) != 2 or model_names[0] == model_names[1]:
        raise ValueError(f"model_names must be two different names, got {model_names!r}")
    task_ids = [str(i) for i in range(n)] if ids is None else [str(i) for i in ids]
    if len(set(task_ids)) != n:
        raise ValueError("ids must be unique")
    chosen = list(DEFAULT_CRITERIA if criteria is None else criteria)
    rng = random.Random(seed)
    tasks = []
    for i in range(n):
        swapped = rng.random() < 0.5
        first, second = model_a_outputs[i], model_b_outputs[i]
        if swapped:
            first, second = second, first
        tasks.append(
            HumanEvalTask(
                prompt=prompts[i],
                model_a_output=first,
                model_b_output=second,
                criteria=list(chosen),
                id=task_ids[i],
                swapped=swapped,
                model_a=model_names[0],
                model_b=model_names[1],
                category=None if categories is None else categories[i],
            )
        )
    return tasks


def write_pairs(tasks: Iterable[HumanEvalTask], path: str | Path) -> Path:
    """Write ``tasks`` as JSONL for ``tunegate human create --pairs``; return the path.

    One line per task: ``{"id", "prompt", "output_a", "output_b", "model_a",
    "model_b", "category"?}``, where ``output_a`` is what ``model_a`` wrote
    (de-blinded from the recorded order; the annotation app blinds each pair
    again, with its own recorded order).
    """
    target = Path(path)
    lines = []
    for task in tasks:
        row: dict[str, Any] = {
            "id": task.id,
            "prompt": task.prompt,
            "output_a": task.output_of(task.model_a),
            "output_b": task.output_of(task.model_b),
            "model_a": task.model_a,
            "model_b": task.model_b,
        }
        if task.category is not None:
            row["category"] = task.category
        lines.append(json.dumps(row, ensure_ascii=False))
    target.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return target


def _vote(evaluation: Any, i: int) -> tuple[str, str, str]:
    if not isinstance(evaluation, Mapping):
        raise TypeError(f"evaluations[{i}] is a {type(evaluation).__name__}; expected a dict")
    for key in ("item_id", "evaluator_id"):
        if key not in evaluation:
            raise ValueError(f"evaluations[{i}] has no {key!r} key")
    label_key = next((k for k in ("winner", "label", "score") if k in evaluation), None)
    if label_key is None:
        raise ValueError(f"evaluations[{i}] has no 'winner' key (the vote)")
    label = evaluation[label_key]
    if label is None:
        raise ValueError(f"evaluations[{i}][{label_key!r}] is None")
    return str(evaluation["item_id"]), str(evaluation["evaluator_id"]), str(label)


def compute_inter_annotator_agreement(
    evaluations: Iterable[Mapping[str, Any]],
) -> dict[str, Any]:
    """Agreement between annotators who voted on the same items.

    ``evaluations`` are dicts ``{"item_id", "evaluator_id", "winner"}``, one vote
    each (a later vote of the same evaluator on the same item replaces the earlier).
    Returns:

    * ``"cohen_kappa"``: ``{"ann1|ann2": kappa}`` per annotator pair (names sorted),
      :func:`sklearn.metrics.cohen_kappa_score` on the items both rated;
    * ``"fleiss_kappa"``: :func:`statsmodels.stats.inter_rater.fleiss_kappa` on the
      items every annotator rated;
    * ``"krippendorff_alpha"``: nominal alpha from the ``krippendorff`` package;
    * ``"percent"``: agreeing annotator pairs over all pairs (the raw agreement the
      tutorial reports, which is not a kappa: it ignores chance agreement);
    * ``"n_items"``, ``"n_annotators"``, ``"n_votes"``.

    A statistic is ``None`` when undefined (one annotator, a single label everywhere).
    """
    from tunegate.human.agreement import agreement_values

    votes = [_vote(evaluation, i) for i, evaluation in enumerate(evaluations)]
    if not votes:
        raise ValueError("no evaluations: pass at least one vote")
    values = dict(agreement_values(votes))
    values["n_annotators"] = len({annotator for _, annotator, _ in votes})
    values["n_votes"] = len(votes)
    return values
