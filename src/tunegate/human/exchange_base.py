"""What every vote importer shares: reading a file, reporting its bad rows, and checking
each vote against the study (item ids, annotators, criteria, choices)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tunegate.errors import DataError
from tunegate.human.store import VOTE_CHOICES, StudyItem, Vote
from tunegate.human.study import OVERALL

_MAX_SHOWN = 20


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise DataError(f"{path}: not UTF-8 text") from None


def _raise_if(errors: list[str], path: Path | str) -> None:
    if errors:
        shown = "\n  ".join(errors[:_MAX_SHOWN])
        more = f"\n  ... and {len(errors) - _MAX_SHOWN} more" if len(errors) > _MAX_SHOWN else ""
        raise DataError(f"{path}: {len(errors)} invalid row(s), nothing imported:\n  {shown}{more}")


#: How people write the two choices that are not a preference.
_SPELLED = {"both bad": "both_bad", "can't judge": "skip", "cant_judge": "skip"}


class _Checker:
    """Validates item ids, annotators, criteria and choices against a study."""

    def __init__(
        self, items: Sequence[StudyItem], annotators: Sequence[str], criteria: Sequence[str]
    ) -> None:
        self.items = {i.item.item_id: i for i in items}
        self.annotators = set(annotators)
        self.criteria = list(criteria)

    def vote(
        self,
        where: str,
        item_id: Any,
        annotator: Any,
        criterion: Any,
        choice: Any,
        source: str,
        errors: list[str],
    ) -> Vote | None:
        item = self.items.get(str(item_id)) if item_id is not None else None
        problems = []
        if item is None:
            problems.append(f"unknown item id {item_id!r}")
        if str(annotator) not in self.annotators:
            problems.append(f"unknown annotator {annotator!r}")
        crit = str(criterion or OVERALL)
        if crit not in self.criteria:
            problems.append(
                f"unknown criterion {crit!r} (study criteria: {', '.join(self.criteria)})"
            )
        text = str(choice or "").strip().lower()
        text = _SPELLED.get(text, text)
        if text not in ("left", "right", *VOTE_CHOICES):
            problems.append(f"invalid choice {choice!r} (left, right, tie, a, b, both_bad or skip)")
        if problems or item is None:
            errors.append(f"{where}: {'; '.join(problems)}")
            return None
        side = item.to_side(text) if text in ("left", "right") else text
        return Vote(str(annotator), item.item.item_id, crit, side, item.left_side, source)


def _load_json(path: Path) -> Any:
    try:
        return json.loads(_read(path))
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}:{exc.lineno}: invalid JSON ({exc.msg})") from None
