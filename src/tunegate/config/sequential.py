"""``sequential:``: send the cases in looks and stop when the verdict is settled."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from tunegate.config.base import Int, _Strict


class SequentialConfig(_Strict):
    """Sequential evaluation of the main suite (docs/cost.md).

    ``look_every``: the gate looks after every this many cases (the last look: the whole
    test set). ``method``: how the looks are kept honest: ``obrien_fleming`` (Lan-DeMets
    alpha spending with the O'Brien-Fleming-type function over the planned looks).
    ``enabled: false`` keeps the settings but runs the whole test set (as does
    ``tunegate run --no-sequential``).
    """

    look_every: Annotated[Int, Field(ge=1, le=1_000_000)] = 50
    method: Literal["obrien_fleming"] = "obrien_fleming"
    enabled: bool = True
