"""``type: max_words``: a case passes when the answer has at most ``words`` words.

A scorer plugin is a pydantic config class, a subclass of
:class:`tunegate.config.ScorerConfig`, with ``type: Literal["max_words"]``, the
metrics it reports declared as class attributes, and a ``build(ctx)`` method
returning the per-case function ``(case, response) -> Score`` (one metric) or
``-> {metric: Score}`` (several, as declared).
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field

from tunegate.config import ScorerConfig
from tunegate.data import Case
from tunegate.data.response import Response
from tunegate.scoring.base import NO_ANSWER, Score
from tunegate.scoring.registry import BuildContext, KindFn


class MaxWordsScorer(ScorerConfig):
    """The answer has at most ``words`` words."""

    type: Literal["max_words"]
    words: Annotated[int, Field(ge=1)]

    #: One metric, named after the scorer (``max_words``, or its ``name``).
    metrics: ClassVar[tuple[str, ...]] = ()
    higher_is_better: ClassVar[bool] = True

    def build(self, ctx: BuildContext) -> KindFn:
        """The per-case function."""
        limit = self.words

        def score(case: Case, response: Response) -> Score:
            if response.error is not None or response.text is None:
                return Score.failure(NO_ANSWER)  # missing evidence is never a pass
            count = len(response.text.split())
            return Score.from_bool(count <= limit, f"{count} words (at most {limit})")

        return score
