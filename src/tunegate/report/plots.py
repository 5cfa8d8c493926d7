"""Plots for the HTML report as inline SVG, drawn with matplotlib (Agg, no pyplot state).

Why matplotlib rather than SVG written by hand in templates: axes, ticks, colour
maps and text layout come for free and match what users know from notebooks.
The SVG is made deterministic (fixed ``svg.hashsalt``, no date or creator
metadata, no comments), so the same result renders the same bytes; text stays
text (``svg.fonttype = none``), so the page needs no font and stays small.

Every number drawn comes from the stored result; the only thing done here is
layout (a histogram's bins are how a distribution is drawn, not a metric).
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

#: The candidate's colour, then the baselines'.
COLOURS = ("#1f6feb", "#9a6700", "#8250df", "#1a7f37", "#cf222e", "#57606a")
_STRIP = [
    re.compile(r"<\?xml[^>]*\?>\s*"),
    re.compile(r"<!DOCTYPE[^>]*>\s*"),
    re.compile(r"<!--.*?-->\s*", re.S),
    re.compile(r"<metadata>.*?</metadata>\s*", re.S),
]


@dataclass
class ForestRow:
    """One paired delta (candidate minus baseline) with its interval and the criterion's
    threshold when a gate criterion is set on it."""

    label: str
    delta: float
    lo: float
    hi: float
    threshold: float | None = None
    #: The outcome of the gate criterion on this delta (PASS, FAIL, INCONCLUSIVE, MISSING).
    status: str | None = None


#: A forest row's colour by its criterion's outcome (undecided: amber).
STATUS_COLOURS = {"PASS": "#1a7f37", "FAIL": "#cf222e"}
UNDECIDED = "#9a6700"


@contextmanager
def _style(salt: str) -> Iterator[None]:
    """Agg and the report's look; ``salt`` (the plot's title) keeps the SVG's generated
    ids the same from run to run and distinct between the plots of one page."""
    import matplotlib

    matplotlib.use("Agg")
    with matplotlib.rc_context(
        {
            "svg.hashsalt": f"tunegate:{salt}",
            "svg.fonttype": "none",
            "font.family": "sans-serif",
            "font.size": 9,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.titlesize": 10,
        }
    ):
        yield


def _figure(width: float, height: float) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=72)


def _svg(fig: Figure, title: str) -> str:
    buf = io.StringIO()
    fig.savefig(
        buf,
        format="svg",
        bbox_inches="tight",
        metadata={"Date": None, "Creator": None, "Format": None, "Type": None},
    )
    text = buf.getvalue()
    for pattern in _STRIP:
        text = pattern.sub("", text)
    from html import escape

    # Natural size (CSS caps it at the page width); a title for screen readers.
    text = text.replace("<svg ", '<svg class="plot" role="img" ', 1)
    return text.replace(">", f"><title>{escape(title)}</title>", 1).strip()


def forest(rows: Sequence[ForestRow], title: str) -> str:
    """Paired deltas with intervals, one row each, the zero line and criteria thresholds.

    Each row's mark is a ``<g id="forest-mark-<i>">`` element (tests count them).
    """
    with _style(title):
        fig = _figure(7.5, 0.9 + 0.38 * len(rows))
        ax = fig.add_subplot()
        ys = list(range(len(rows)))[::-1]
        ax.axvline(0.0, color="#57606a", linewidth=1, zorder=1)
        for i, (row, y) in enumerate(zip(rows, ys, strict=True)):
            worse = row.hi < 0
            better = row.lo > 0
            colour = "#1a7f37" if better else "#cf222e" if worse else "#1f6feb"
            if row.status is not None:  # a criterion's row: its outcome, not the delta's sign
                colour = STATUS_COLOURS.get(row.status, UNDECIDED)
            ax.hlines(y, row.lo, row.hi, color=colour, linewidth=2.2, zorder=2)
            (mark,) = ax.plot([row.delta], [y], "o", color=colour, markersize=6, zorder=3)
            mark.set_gid(f"forest-mark-{i}")
            if row.threshold is not None:
                (tick,) = ax.plot(
                    [row.threshold], [y], "|", color="#bf3989", markersize=16, mew=2, zorder=4
                )
                tick.set_gid(f"forest-threshold-{i}")
        ax.set_yticks(ys, [r.label for r in rows])
        ax.set_ylim(-0.7, len(rows) - 0.3)
        ax.set_xlabel("candidate - baseline (paired delta, interval; | = criterion threshold)")
        ax.grid(axis="x", color="#d0d7de", linewidth=0.5)
        ax.set_axisbelow(True)
        return _svg(fig, title)


def confusion(
    labels: Sequence[str], matrix: Sequence[Sequence[int]], title: str, key: str | None = None
) -> str:
    """A confusion-matrix heatmap: true labels down, predicted across; the unparseable and
    error columns drawn apart in their own colour. With ``key``, each cell is covered by a
    transparent ``<g id="<key>-<row>-<column>">`` (columns: the labels, then unparseable,
    then error) that the page's script makes clickable."""
    import numpy as np
    from matplotlib.patches import Rectangle

    counts = np.asarray(matrix, dtype=float).reshape(len(labels), len(labels) + 2)
    main, extra = counts[:, : len(labels)], counts[:, len(labels) :]
    with _style(title):
        side = 0.55 * len(labels)
        fig = _figure(1.6 + side + 1.3, 1.1 + side)
        grid = fig.add_gridspec(1, 2, width_ratios=[len(labels), 2], wspace=0.12)
        ax = fig.add_subplot(grid[0, 0])
        ax_x = fig.add_subplot(grid[0, 1], sharey=ax)
        top = max(float(counts.max()), 1.0)
        for axis, block, cmap, names, offset in (
            (ax, main, "Blues", list(labels), 0),
            (ax_x, extra, "Oranges", ["unparseable", "error"], len(labels)),
        ):
            axis.pcolormesh(block, cmap=cmap, vmin=0, vmax=top, edgecolors="white", linewidth=1)
            for (r, c), v in np.ndenumerate(block):
                axis.text(
                    c + 0.5,
                    r + 0.5,
                    f"{int(v)}",
                    ha="center",
                    va="center",
                    color="white" if v > 0.6 * top else "#24292f",
                )
                if key is not None:
                    cell = Rectangle((c, r), 1, 1, alpha=0.0, linewidth=0, zorder=5)
                    cell.set_gid(f"{key}-{r}-{c + offset}")
                    axis.add_patch(cell)
            axis.set_xticks([i + 0.5 for i in range(len(names))], names, rotation=30, ha="right")
            axis.tick_params(length=0)
            for spine in axis.spines.values():
                spine.set_visible(False)
        ax.set_yticks([i + 0.5 for i in range(len(labels))], list(labels))
        ax.invert_yaxis()
        ax_x.tick_params(labelleft=False)
        ax.set_ylabel("true label")
        ax.set_xlabel("predicted")
        ax.set_title(title, loc="left")
        return _svg(fig, f"confusion matrix: {title}")


def category_bars(
    categories: Sequence[str],
    models: dict[str, dict[str, dict[str, Any]]],
    flagged: set[str],
    title: str,
) -> str:
    """Pass rate per category and model as horizontal bars with their Wilson intervals;
    categories flagged as regressions get a red ``drop`` label."""
    names = list(models)
    with _style(title):
        height = 0.22 * len(names) + 0.15
        fig = _figure(7.5, 0.8 + (height + 0.12) * len(categories))
        ax = fig.add_subplot()
        for j, name in enumerate(names):
            ys: list[float] = []
            rates: list[float] = []
            errs: list[list[float]] = [[], []]
            for i, cat in enumerate(categories):
                info = models[name].get(cat)
                if info is None or info.get("pass_rate") is None:
                    continue
                y = (len(categories) - 1 - i) * (height + 0.12) + (len(names) - 1 - j) * 0.22
                lo, hi = info["ci"]
                ys.append(y)
                rates.append(info["pass_rate"])
                errs[0].append(max(info["pass_rate"] - lo, 0.0))
                errs[1].append(max(hi - info["pass_rate"], 0.0))
            ax.barh(
                ys,
                rates,
                height=0.2,
                color=COLOURS[j % len(COLOURS)],
                xerr=errs,
                error_kw={"ecolor": "#24292f", "elinewidth": 0.8, "capsize": 2},
                label=name,
            )
        centres = [
            (len(categories) - 1 - i) * (height + 0.12) + 0.22 * (len(names) - 1) / 2
            for i in range(len(categories))
        ]
        ax.set_yticks(centres, [f"{c}  ▼ drop" if c in flagged else c for c in categories])
        for tick, cat in zip(ax.get_yticklabels(), categories, strict=True):
            if cat in flagged:
                tick.set_color("#cf222e")
                tick.set_fontweight("bold")
        ax.set_xlim(0, 1.05)
        ax.set_xlabel("pass rate (Wilson interval)")
        ax.legend(
            loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False, reverse=False
        )
        ax.grid(axis="x", color="#d0d7de", linewidth=0.5)
        ax.set_axisbelow(True)
        ax.set_title(title, loc="left")
        return _svg(fig, title)


def latency(
    samples: Mapping[str, Sequence[float]], percentiles: dict[str, dict[str, Any]], title: str
) -> str:
    """Latency distribution per model (one row of histogram each) with the stored
    p50 / p95 / p99 marked."""
    names = [n for n in samples if samples[n]]
    with _style(title):
        fig = _figure(7.5, 0.6 + 1.0 * max(len(names), 1))
        axes: list[Axes] = []
        for k, name in enumerate(names):
            ax = fig.add_subplot(len(names), 1, k + 1, sharex=axes[0] if axes else None)
            axes.append(ax)
            colour = COLOURS[k % len(COLOURS)]
            ax.hist(list(samples[name]), bins=40, color=colour, alpha=0.75, histtype="stepfilled")
            ax.set_yticks([])
            ax.spines["left"].set_visible(False)
            ax.set_ylabel(name, rotation=0, ha="right", va="center")
            marked = []
            for key, style in (("p50", "-"), ("p95", "--"), ("p99", ":")):
                value = percentiles.get(name, {}).get(key)
                if value is not None:
                    ax.axvline(value, color="#24292f", linestyle=style, linewidth=1)
                    marked.append(f"{key} {value:.0f}")
            if marked:  # the values beside the row: near-equal percentiles would overlap
                ax.text(
                    1.01,
                    0.5,
                    "\n".join(marked) + " ms",
                    transform=ax.transAxes,
                    fontsize=8,
                    va="center",
                    ha="left",
                )
            if k < len(names) - 1:
                ax.tick_params(labelbottom=False)
        if axes:
            axes[-1].set_xlabel("latency (ms); lines: p50 solid, p95 dashed, p99 dotted")
            axes[0].set_title(title, loc="left")
        return _svg(fig, title)


@dataclass
class RateRow:
    """One win rate with its interval: a pairwise judge's (``kind`` "judge") or the
    human study's ("human")."""

    label: str
    rate: float
    lo: float
    hi: float
    kind: str


def win_rates(rows: Sequence[RateRow], title: str) -> str:
    """Win rates with intervals on [0, 1], judges (squares) next to people (dots), and
    the line of no preference at 0.5. Each mark is ``<g id="rate-mark-<i>">``."""
    with _style(title):
        fig = _figure(6.0, 0.9 + 0.42 * len(rows))
        ax = fig.add_subplot()
        ys = list(range(len(rows)))[::-1]
        ax.axvline(0.5, color="#57606a", linewidth=1, zorder=1)
        for i, (row, y) in enumerate(zip(rows, ys, strict=True)):
            human = row.kind == "human"
            colour = "#8250df" if human else "#1f6feb"
            ax.hlines(y, row.lo, row.hi, color=colour, linewidth=2.2, zorder=2)
            (mark,) = ax.plot(
                [row.rate], [y], "o" if human else "s", color=colour, markersize=6, zorder=3
            )
            mark.set_gid(f"rate-mark-{i}")
        ax.set_yticks(ys, [r.label for r in rows])
        ax.set_ylim(-0.7, len(rows) - 0.3)
        ax.set_xlim(0.0, 1.0)
        ax.set_xlabel("candidate's win rate (interval); 0.5 = no preference")
        ax.grid(axis="x", color="#d0d7de", linewidth=0.5)
        ax.set_axisbelow(True)
        return _svg(fig, title)
