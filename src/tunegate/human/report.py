"""The analysis of a study (preference, position bias, agreement, judges) and its terminal
rendering. The numbers come from :mod:`agreement`, :mod:`calibration` and
:func:`tunegate.stats.sign_test`; rendering only formats them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from tunegate.errors import TunegateError
from tunegate.human.agreement import (
    MIN_ITEMS,
    agreement_with_intervals,
    cluster_bootstrap_indices,
)
from tunegate.human.calibration import calibrate, human_majority
from tunegate.human.store import BOTH_BAD, CHOICES, SKIP, HumanStore, StudyItem, Vote
from tunegate.human.study import OVERALL
from tunegate.results.wording import p_text
from tunegate.stats import sign_test

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["analyze_study", "latest_study_for_run", "render_report", "small_sample_warnings"]


def _rate_block(
    rows: Sequence[tuple[str, float]],
    clusters: Mapping[str, str],
    n_resamples: int,
    seed: int,
    level: float,
) -> dict[str, Any]:
    """Win rate (ties as half) with a cluster-bootstrap interval, counts, decisive rate and
    sign test, from (item_id, score) rows with score 1 win / 0.5 tie / 0 loss."""
    scores = np.array([s for _, s in rows], dtype=float)
    wins = int((scores == 1.0).sum())
    ties = int((scores == 0.5).sum())
    losses = int((scores == 0.0).sum())
    items = list(dict.fromkeys(i for i, _ in rows))
    ci: list[float] | None = None
    if len(items) >= 2:
        index = {item: k for k, item in enumerate(items)}
        sums = np.zeros(len(items))
        counts = np.zeros(len(items))
        for item, score in rows:
            sums[index[item]] += score
            counts[index[item]] += 1
        boots = [
            sums[r].sum() / counts[r].sum()
            for r in cluster_bootstrap_indices(items, clusters, n_resamples, seed)
        ]
        tail = (1.0 - level) / 2.0
        lo, hi = np.quantile(boots, [tail, 1.0 - tail])
        ci = [float(lo), float(hi)]
    decisive = wins + losses
    return {
        "win_rate": {"value": float(scores.mean()) if rows else None, "ci": ci},
        "wins": wins,
        "ties": ties,
        "losses": losses,
        "n_votes": len(rows),
        "n_items": len(items),
        "decisive_rate": wins / decisive if decisive else None,
        "sign_test_p": sign_test(wins, losses),
    }


def _candidate_sides(
    items: Sequence[StudyItem], candidate: str | None
) -> tuple[dict[str, str], str, str]:
    """The side holding the candidate on each item; the candidate's and baseline's names."""
    models_a = {i.item.model_a for i in items}
    models_b = {i.item.model_b for i in items}
    if candidate is None:
        if len(models_a) == 1 and len(models_b) == 1:
            return {i.item.item_id: "a" for i in items}, models_a.pop(), models_b.pop()
        return {i.item.item_id: "a" for i in items}, "output a", "output b"
    sides: dict[str, str] = {}
    baselines: set[str] = set()
    for i in items:
        if i.item.model_a == candidate:
            sides[i.item.item_id] = "a"
            baselines.add(i.item.model_b)
        elif i.item.model_b == candidate:
            sides[i.item.item_id] = "b"
            baselines.add(i.item.model_a)
    baseline = baselines.pop() if len(baselines) == 1 else "others"
    return sides, candidate, baseline


def _score(choice: str, side: str) -> float:
    return 0.5 if choice == "tie" else (1.0 if choice == side else 0.0)


def analyze_study(
    store_path: str | Path,
    study: str,
    candidate: str | None = None,
    n_resamples: int = 1000,
    seed: int | None = None,
    level: float = 0.95,
) -> dict[str, Any]:
    """Everything ``tunegate human report`` shows, as a JSON-ready dict.

    ``preference`` is the candidate's (side ``a`` for studies made from a run) win rate
    with ties as half over the votes, with a bootstrap interval over items (clusters of
    items sharing a prompt are resampled whole), the decisive-only rate and a sign test,
    overall (criterion ``overall``), per criterion and per category. ``position_bias`` is
    the share of decisive overall votes won by the left output; ``annotator_summary`` gives
    each annotator's progress, tie rate and left-wins rate (a lazy or side-biased annotator
    shows there). ``agreement`` is computed on the overall votes; ``judges`` holds one
    calibration per judge.
    """
    with HumanStore(store_path) as store:
        info = store.study(study)
        items = store.items(study)
        votes = store.votes(study)
        annotators = store.annotators(study)
        verdicts = store.judge_verdicts(study)
        assigned = {a: len(store.assigned(study, a)) for a in annotators}
    seed = info.seed if seed is None else seed
    candidate = candidate or info.source.get("candidate")
    clusters = {i.item.item_id: i.cluster for i in items}
    by_id = {i.item.item_id: i for i in items}
    sides, cand_name, base_name = _candidate_sides(items, candidate)
    if items and not sides:
        models = sorted({i.item.model_a for i in items} | {i.item.model_b for i in items})
        shown = ", ".join(models[:10]) + (" ..." if len(models) > 10 else "")
        raise TunegateError(
            f"study {study!r}: candidate {candidate!r} is in none of its pairs (models: {shown})"
        )

    def block(selected: Sequence[Vote]) -> dict[str, Any]:
        # Skips are no evidence and both-bad is no preference: neither is in the rates.
        mine = [v for v in selected if v.item_id in sides]
        rows = [
            (v.item_id, _score(v.choice, sides[v.item_id])) for v in mine if v.choice in CHOICES
        ]
        out = _rate_block(rows, clusters, n_resamples, seed, level)
        both_bad = sum(v.choice == BOTH_BAD for v in mine)
        out["both_bad"] = both_bad
        out["skipped"] = sum(v.choice == SKIP for v in mine)
        answered = len(rows) + both_bad
        out["both_bad_rate"] = both_bad / answered if answered else None
        return out

    overall_votes = [v for v in votes if v.criterion == OVERALL]
    preference = block(overall_votes)
    preference["candidate"] = cand_name
    preference["baseline"] = base_name
    preference["by_criterion"] = {
        c: block([v for v in votes if v.criterion == c]) for c in info.criteria
    }
    categories = sorted({i.item.category for i in items if i.item.category is not None})
    preference["by_category"] = {
        cat: block([v for v in overall_votes if by_id[v.item_id].item.category == cat])
        for cat in categories
    }
    left_rows = [
        (v.item_id, 1.0 if v.choice == v.left_side else 0.0)
        for v in overall_votes
        if v.choice in ("a", "b")
    ]
    position = _rate_block(left_rows, clusters, n_resamples, seed, level)
    position_bias = {
        "left_win_rate": position["win_rate"],
        "left_wins": position["wins"],
        "right_wins": position["losses"],
        "n_decisive": position["n_votes"],
        "sign_test_p": position["sign_test_p"],
    }
    per_annotator = []
    for name in annotators:
        answered = [v for v in overall_votes if v.annotator == name]
        mine = [v for v in answered if v.choice in CHOICES]
        decisive = [v for v in mine if v.choice != "tie"]
        times = sorted(v.seconds for v in answered if v.seconds is not None)
        per_annotator.append(
            {
                "annotator": name,
                "assigned": assigned.get(name, 0),
                "voted": len(answered),
                "both_bad": sum(v.choice == BOTH_BAD for v in answered),
                "skipped": sum(v.choice == SKIP for v in answered),
                "median_seconds": float(np.median(times)) if times else None,
                "tie_rate": sum(v.choice == "tie" for v in mine) / len(mine) if mine else None,
                "left_rate": (
                    sum(v.choice == v.left_side for v in decisive) / len(decisive)
                    if decisive
                    else None
                ),
            }
        )
    # Agreement: both-bad is a label like the others, a skip is no rating. Judges answer
    # a / b / tie only, so their calibration rests on the human votes of those labels.
    triples = [(v.item_id, v.annotator, v.choice) for v in overall_votes if v.choice != SKIP]
    agreement = agreement_with_intervals(triples, clusters, n_resamples, seed, level)
    majority = human_majority([t for t in triples if t[2] in CHOICES])
    judges = [
        calibrate(judge, judged, majority, clusters, n_resamples, seed, level)
        for judge, judged in sorted(verdicts.items())
    ]
    result = {
        "study": study,
        "source": info.source,
        "criteria": info.criteria,
        "annotators": annotators,
        "n_items": len(items),
        "n_items_voted": len({v.item_id for v in overall_votes}),
        "n_votes": len(votes),
        "n_skipped": sum(v.choice == SKIP for v in votes),
        "n_both_bad": sum(v.choice == BOTH_BAD for v in votes),
        "n_resamples": n_resamples,
        "seed": seed,
        "confidence": level,
        "preference": preference,
        "position_bias": position_bias,
        "annotator_summary": per_annotator,
        "agreement": agreement,
        "judges": judges,
    }
    result["warnings"] = small_sample_warnings(result)
    return result


def _undefined(block: Mapping[str, Any], n_resamples: int) -> str:
    k = int(block.get("undefined_resamples") or 0)
    if not k:
        return ""
    return (
        f"; {k:,} of {n_resamples:,} resamples left it undefined (one label everywhere) "
        "and count at both ends of its range"
    )


def small_sample_warnings(result: Mapping[str, Any]) -> list[str]:
    """A warning for each agreement or calibration figure that rests on fewer than
    :data:`~tunegate.human.agreement.MIN_ITEMS` items (its bootstrap interval is rough)."""
    out: list[str] = []
    study = result.get("study")
    resamples = int(result.get("n_resamples") or 0)
    agreement = result.get("agreement") or {}
    n = int(agreement.get("n_items") or 0)
    has_value = any(
        (agreement.get(k) or {}).get("value") is not None for k in ("fleiss", "krippendorff_alpha")
    ) or any(b.get("value") is not None for b in (agreement.get("cohen") or {}).values())
    if has_value and n < MIN_ITEMS:
        out.append(
            f"study {study}: annotator agreement rests on {n} items (fewer than {MIN_ITEMS}): "
            "its intervals are rough; collect votes on more items"
            + _undefined(agreement.get("fleiss") or {}, resamples)
        )
    for judge in result.get("judges") or []:
        k = int(judge.get("n_items") or 0)
        kappa = judge.get("cohen_kappa") or {}
        if k < MIN_ITEMS:
            out.append(
                f"study {study}: judge {judge.get('judge')}'s Cohen's κ against the human "
                f"majority rests on {k} items (fewer than {MIN_ITEMS}): its interval is "
                "rough" + _undefined(kappa, resamples)
            )
        elif kappa.get("undefined_resamples"):
            out.append(
                f"study {study}: judge {judge.get('judge')}'s Cohen's κ"
                + _undefined(kappa, resamples)
            )
    return out


def latest_study_for_run(store_path: str | Path, run_id: str) -> str | None:
    """The newest study made from run ``run_id`` (None when there is none)."""
    with HumanStore(store_path) as store:
        for info in store.studies():
            if info.source.get("run_id") == run_id:
                return info.name
    return None


# --------------------------------------------------------------------------- rendering


_MAX_CATEGORIES = 8


def _num(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _with_ci(block: Mapping[str, Any], digits: int = 3) -> str:
    value = block.get("value")
    ci = block.get("ci")
    text = _num(value, digits)
    if ci:
        text += f" [{ci[0]:.{digits}f}, {ci[1]:.{digits}f}]"
    return text


def _apart(result: Mapping[str, Any]) -> str:
    """``(3 both bad, 2 can't judge: not in the preference)`` when there are any."""
    both, skipped = int(result.get("n_both_bad") or 0), int(result.get("n_skipped") or 0)
    if not both and not skipped:
        return ""
    return f" ({both} both bad, {skipped} can't judge: not in the preference)"


def _secs(value: float | None) -> str:
    return "time -" if value is None else f"{value:.0f} s"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def render_report(result: Mapping[str, Any], console: Console) -> None:
    """Print a study's analysis as rich tables."""
    from rich.markup import escape
    from rich.table import Table

    pref = result["preference"]
    level = round(100 * result["confidence"])
    console.print(
        f"[bold]Study {result['study']}[/bold]: {result['n_items']} items "
        f"({result['n_items_voted']} with votes), {result['n_votes']} votes{_apart(result)}, "
        f"{len(result['annotators'])} annotators; {pref['candidate']} vs {pref['baseline']}"
    )
    table = Table(
        title=f"Human preference for {pref['candidate']} (win rate, ties as half, {level}% CI)",
        title_justify="left",
    )
    for col in (
        "",
        "win rate",
        "W / T / L",
        "decisive",
        "sign test p",
        "votes",
        "both bad",
        "skipped",
    ):
        table.add_column(col, justify="left" if not col else "right")

    def row(name: str, b: Mapping[str, Any]) -> None:
        table.add_row(
            name,
            _with_ci(b["win_rate"]),
            f"{b['wins']} / {b['ties']} / {b['losses']}",
            _pct(b["decisive_rate"]),
            p_text(b["sign_test_p"]),
            str(b["n_votes"]),
            str(b.get("both_bad", 0)),
            str(b.get("skipped", 0)),
        )

    row("overall", pref)
    for crit, b in pref["by_criterion"].items():
        if crit != OVERALL:
            row(f"criterion {crit}", b)
    categories = sorted(pref["by_category"].items(), key=lambda kv: -kv[1]["n_votes"])
    for cat, b in categories[:_MAX_CATEGORIES]:
        row(f"category {cat}", b)
    console.print(table)
    if len(categories) > _MAX_CATEGORIES:
        console.print(
            f"({len(categories) - _MAX_CATEGORIES} smaller categories of {len(categories)} "
            "left out here; the JSON has them all)"
        )
    pos = result["position_bias"]
    console.print(
        f"Position bias: the left output wins {_with_ci(pos['left_win_rate'])} of "
        f"{pos['n_decisive']} decisive votes (sign test p {p_text(pos['sign_test_p'])})"
    )
    summary = result.get("annotator_summary") or []
    if summary:
        console.print(
            "Annotators (overall votes / assigned, tie rate, left-wins rate, both bad, "
            "skipped, median time per item): "
            + "; ".join(
                f"{a['annotator']} {a['voted']}/{a['assigned']}, ties {_pct(a['tie_rate'])}, "
                f"left {_pct(a['left_rate'])}, both bad {a.get('both_bad', 0)}, "
                f"skipped {a.get('skipped', 0)}, {_secs(a.get('median_seconds'))}"
                for a in summary
            ),
            soft_wrap=True,
        )
    agr = result["agreement"]
    table = Table(
        title=f"Agreement on the overall preference ({agr['n_items']} items, "
        f"intervals over {agr['n_clusters']} prompt clusters)",
        title_justify="left",
    )
    table.add_column("statistic")
    table.add_column(f"value [{level}% CI]", justify="right")
    for pair, b in agr["cohen"].items():
        table.add_row(f"Cohen's kappa {pair}", _with_ci(b, 4))
    table.add_row("Fleiss' kappa", _with_ci(agr["fleiss"], 4))
    table.add_row("Krippendorff's alpha (nominal)", _with_ci(agr["krippendorff_alpha"], 4))
    table.add_row("percent agreement", _with_ci(agr["percent"], 4))
    console.print(table)
    if result["judges"]:
        table = Table(title="Judges against the human majority", title_justify="left")
        for col in ("judge", "items", "errors", "agree", "agree w/o ties", "Cohen's kappa"):
            table.add_column(col, justify="left" if col == "judge" else "right")
        for j in result["judges"]:
            table.add_row(
                j["judge"],
                str(j["n_items"]),
                str(j["errors"]),
                _with_ci(j["percent"]),
                f"{_num(j['percent_without_ties']['value'])} (n={j['percent_without_ties']['n']})",
                _with_ci(j["cohen_kappa"]),
            )
        console.print(table)
        for j in result["judges"]:
            m = j["confusion"]["matrix"]
            console.print(
                f"  {j['judge']} confusion (rows human a/b/tie, cols judge a/b/tie): "
                + "  ".join("/".join(str(x) for x in r) for r in m)
            )
    for warning in result.get("warnings") or []:
        console.print(f"[yellow]warning:[/yellow] {escape(warning)}", soft_wrap=True)
