"""The registry of task kinds: what each measures (metadata only).

A suite's ``task.type`` names a :class:`TaskKind` (classification, multiple choice,
generation, tool call, perplexity). The kind says which metrics the suite reports
and which leads, which dataset formats it reads, what a backend is asked to do
(``backend_mode``), whether it takes labels or scorers, and the *names* of the
functions that score and compare its models (registered in
:mod:`tunegate.evaluation.kinds`). Code elsewhere asks the kind
(``task_kind(task.type).metrics``) instead of testing the type's name.

This module is a leaf: it imports nothing of tunegate above :mod:`tunegate.registry`,
so the config, the results and the reports may all read it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from tunegate.registry import Registry

__all__ = [
    "TASK_KINDS",
    "TASK_TYPES",
    "TaskKind",
    "register_task_kind",
    "stored_task_kind",
    "task_kind",
]

#: What a backend is asked to do: pick a label (``classify``), pick a choice
#: (``choice``), write an answer (``generate``) or score the text (``perplexity``).
BackendMode = Literal["classify", "choice", "generate", "perplexity"]

#: The formats read through a field map (text, label, category, id fields).
FIELD_FORMATS = ("auto", "chat", "jsonl", "csv", "json", "parquet")
#: The formats holding four-choice questions.
CHOICE_FORMATS = ("mmlu", "general")


@dataclass(frozen=True)
class TaskKind:
    """A kind of task.

    ``metrics`` empty: the metrics are the scorers' (generation, tool call), and the
    first one leads unless ``default_metric`` is set. ``formats``: the dataset formats
    it reads (``auto`` resolved by ``auto_format`` from the file's path when set).
    ``score`` / ``compare`` / ``notes`` name functions of
    :mod:`tunegate.evaluation.kinds`'s registries (``score_labels``, ...).
    """

    name: str
    description: str
    metrics: tuple[str, ...]
    default_metric: str | None
    formats: tuple[str, ...]
    backend_mode: BackendMode
    score: str
    compare: str
    auto_format: Callable[[Path], str] | None = None
    #: The formats it reads, in words (for messages).
    formats_text: str = "JSONL, chat JSONL, CSV, JSON, Parquet or BFCL files"
    #: The task names its labels (``labels: [...]``, required).
    needs_labels: bool = False
    #: The labels a backend chooses from when the task names none (answer letters).
    fixed_labels: tuple[str, ...] = ()
    #: The per-output scorer used when ``scorers:`` is empty (None: scorers are not used).
    default_scorer: str | None = None
    #: The kind reports its own metric: ``scorers:`` are an error.
    own_metric: bool = False
    #: Judges grade its outputs (``judge`` / ``pairwise_judge`` scorers).
    judged: bool = False
    #: ``target: reference`` is meaningful (what the perplexity is of).
    has_target: bool = False
    #: The kind asks every model with its own standard prompt (a model's ``prompt`` is
    #: not used; the task's is).
    standard_prompt: bool = False
    #: Backends are offered the case's functions and answer with tool calls.
    tools: bool = False
    #: Metrics compared with every baseline besides the primary one.
    also_compared: tuple[str, ...] = ()
    #: What an unparseable answer fails to hold, in a note.
    unparseable: str = "cannot be read"
    #: The prompt a local model gets when the task names none (None: the model's own).
    local_prompt: str | None = None
    #: The system message a chat model gets when the task names none.
    chat_system: str | None = None
    #: The function writing notes on a suite's runs (e.g. perplexities over different
    #: tokenizers), by name (None: no notes).
    notes: str | None = None
    #: Scored per label: reports show per-class metrics and confusion matrices.
    per_class: bool = False
    #: Answers can be unreadable (no label, no tool call): reports count them.
    shows_unparsed: bool = False
    #: The metrics a models table shows beside the primary one (empty: the suite's
    #: scorers' metrics, then the pass rate).
    table_metrics: tuple[str, ...] = ()

    @property
    def picks_label(self) -> bool:
        """Whether an answer is one of a set of labels (named or fixed), so a case is right
        or wrong by its label and accuracy is its correctness."""
        return self.needs_labels or bool(self.fixed_labels)

    @property
    def uses_scorers(self) -> bool:
        """Whether cases are scored by ``scorers:`` (and a ``pass:`` rule applies)."""
        return self.default_scorer is not None

    def labels(self, configured: Sequence[str] | None) -> list[str]:
        """The labels a backend chooses from: the configured ones or the fixed ones."""
        return list(self.fixed_labels) if self.fixed_labels else list(configured or [])

    def resolve_format(self, fmt: str, path: Path) -> str:
        """``auto`` resolved from the file's path for kinds that know their format."""
        if fmt == "auto" and self.auto_format is not None:
            return self.auto_format(path)
        return fmt


#: How a local model is asked a multiple-choice question: the log-likelihood of each
#: choice's text after this prompt decides (the most likely choice is the answer).
MULTIPLE_CHOICE_PROMPT = "Question: {{ question }}\nAnswer:"

#: What a multiple-choice question asks of a chat model.
MULTIPLE_CHOICE_SYSTEM = (
    "Answer the multiple-choice question with the letter (A, B, C or D) of the correct choice only."
)

#: The default prompt of a local model in a tool-calling suite.
TOOL_CALL_PROMPT = (
    "You can call these functions (JSON descriptions):\n{{ functions | tojson }}\n\n"
    'Reply with a JSON list of calls, e.g. [{"name": "f", "arguments": {"x": 1}}], '
    "or [] when no function fits the request.\n\nRequest: {{ input }}\nCalls:"
)


def _choice_format(path: Path) -> str:
    return "mmlu" if path.suffix.lower() == ".csv" else "general"


# --------------------------------------------------------------------------- the kinds

_NOT_CHOICES = (*FIELD_FORMATS, "bfcl")

#: The task kinds by name: the built-in ones, then any added with
#: :func:`register_task_kind`.
TASK_KINDS: Registry[TaskKind] = Registry("task type")

for _kind in (
    TaskKind(
        name="classification",
        description="a label per case",
        metrics=("accuracy", "macro_f1", "micro_f1", "weighted_f1"),
        default_metric="macro_f1",
        formats=_NOT_CHOICES,
        backend_mode="classify",
        score="score_labels",
        compare="compare_labels",
        needs_labels=True,
        also_compared=("accuracy",),
        per_class=True,
        shows_unparsed=True,
        table_metrics=("accuracy", "macro_f1"),
    ),
    TaskKind(
        name="multiple_choice",
        description="a choice (A-D) per question",
        metrics=("accuracy",),
        default_metric="accuracy",
        formats=CHOICE_FORMATS,
        formats_text="MMLU CSV (question,A,B,C,D,answer) or general-knowledge JSONL "
        "(format: mmlu or general)",
        backend_mode="choice",
        score="score_labels",
        compare="compare_outputs",
        auto_format=_choice_format,
        fixed_labels=("A", "B", "C", "D"),
        own_metric=True,
        standard_prompt=True,
        local_prompt=MULTIPLE_CHOICE_PROMPT,
        chat_system=MULTIPLE_CHOICE_SYSTEM,
    ),
    TaskKind(
        name="generation",
        description="free text, scored by the task's scorers",
        metrics=(),
        default_metric=None,
        formats=_NOT_CHOICES,
        backend_mode="generate",
        score="score_outputs",
        compare="compare_outputs",
        default_scorer="exact_match",
        judged=True,
    ),
    TaskKind(
        name="tool_call",
        description="function calls, scored against the reference calls",
        metrics=(),
        default_metric=None,
        formats=_NOT_CHOICES,
        backend_mode="generate",
        score="score_outputs",
        compare="compare_outputs",
        auto_format=lambda path: "bfcl",
        default_scorer="tool_call",
        tools=True,
        shows_unparsed=True,
        unparseable="hold no tool call",
        local_prompt=TOOL_CALL_PROMPT,
    ),
    TaskKind(
        name="perplexity",
        description="the model's perplexity of the text",
        metrics=("perplexity",),
        default_metric="perplexity",
        formats=_NOT_CHOICES,
        backend_mode="perplexity",
        score="score_perplexity_of",
        compare="compare_outputs",
        own_metric=True,
        has_target=True,
        local_prompt="{{ input }}",
        notes="tokenizer_notes",
    ),
):
    TASK_KINDS.add(_kind.name, _kind)

#: The built-in task types.
TASK_TYPES: tuple[str, ...] = tuple(TASK_KINDS.names())


def register_task_kind(kind: TaskKind) -> TaskKind:
    """Add a task kind (its functions registered in :mod:`tunegate.evaluation.kinds`
    under the names it gives); a name already registered is an error."""
    return TASK_KINDS.add(kind.name, kind)


def task_kind(name: str) -> TaskKind:
    """The kind called ``name`` (:class:`~tunegate.registry.UnknownNameError`, a
    ``ConfigError``, lists the known ones for another name)."""
    return TASK_KINDS.get(name)


def stored_task_kind(name: object) -> TaskKind | None:
    """The kind of a stored result's ``task`` (None for a name this version does not know,
    e.g. in a result written by another version): what reports ask instead of the name."""
    return TASK_KINDS.find(name) if isinstance(name, str) else None
