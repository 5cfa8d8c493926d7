"""Time the HTML report of a large stored run, and how soon chromium makes it usable.

Run: ``.venv/bin/python benchmarks/report_speed.py [--cases N] [--keep DIR]``

Runs a classification suite of ``--cases`` (default 10,000) product reviews on three
Python-function models with ``tunegate``'s pipeline (so the result is stored with the
run exactly as ``tunegate run`` stores it), reads the stored result back as
``tunegate report`` does, renders the HTML report and prints:

* the file size (goal: at most 15 MB at 10,000 cases x 3 models);
* the render time (Jinja2, plots, the JSON block) and the write;
* the JSON report writer (``dumps_report``: one line per case, the C encoder) against
  ``json.dumps(indent=2)`` on the same stored result (goal: faster than ``indent=``);
* the time until the page is interactive in headless chromium (Debian's, through
  Playwright): from navigation start until the case browser has parsed the data and
  drawn its first page (``performance.now()`` at that moment; goal: at most 2 s), and
  the wall time of ``page.goto`` + that wait; then one filter change and one search.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import tempfile
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from tunegate.config import load_config
from tunegate.pipeline.flow import RunOptions, run
from tunegate.report.files import write_atomic
from tunegate.report.html import render_html
from tunegate.report.json_report import dumps_report
from tunegate.store import Store, load_run_result

LABELS = ["positive", "negative", "neutral"]
WORDS = {"positive": "wonderful", "negative": "disappointing", "neutral": "acceptable"}
MODELS = textwrap.dedent(
    """
    LABELS = ["positive", "negative", "neutral"]

    def _truth(text):
        return "positive" if "wonderful" in text else "negative" if "disappointing" in text else "neutral"

    def _n(case):
        return int(case.id.split("-")[1])

    def tuned(case):
        i = _n(case)
        if i % 97 == 5:
            raise RuntimeError("backend error")
        t = _truth(case.text)
        return t if i % 10 else LABELS[(LABELS.index(t) + 1) % 3]

    def base(case):
        i = _n(case)
        t = _truth(case.text)
        if i % 23 == 1:
            return "I am not sure about this one."
        return t if i % 4 else "neutral"

    def big(case):
        t = _truth(case.text)
        return t if _n(case) % 8 else LABELS[(LABELS.index(t) + 2) % 3]
    """
)


def write_project(folder: Path, n: int) -> Path:
    (folder / "bench_models.py").write_text(MODELS, encoding="utf-8")
    with (folder / "cases.jsonl").open("w", encoding="utf-8") as fh:
        for i in range(n):
            label = LABELS[i % 3]
            text = (
                f"Review {i}: I bought this item (batch {i * 7919 % 10007}) last month and the "
                f"experience was {WORDS[label]}; delivery took {i % 9 + 1} days."
            )
            fh.write(
                json.dumps(
                    {"id": f"c-{i:06d}", "text": text, "label": label, "category": f"cat{i % 6}"}
                )
                + "\n"
            )
    config = {
        "name": "report-speed",
        "seed": 0,
        "bootstrap": 1000,
        "store": str(folder / "bench.db"),
        "dataset": {"path": "cases.jsonl"},
        "task": {"type": "classification", "labels": LABELS},
        "models": {
            name: {"type": "python", "function": f"bench_models:{name}", "concurrency": 8}
            for name in ("tuned", "base", "big")
        },
        "compare": {"candidate": "tuned", "baselines": ["base", "big"]},
        "gate": {
            "criteria": [
                {"metric": "macro_f1", "vs": "base", "min_delta": -0.02},
                {"metric": "macro_f1", "vs": "big", "min_delta": -0.02},
                {"metric": "error_rate", "max": 0.02},
            ]
        },
    }
    path = folder / "tunegate.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def best_of(write: Callable[[], object], times: int = 3) -> float:
    """The fastest of ``times`` calls, in seconds (the machine may be shared)."""
    best = float("inf")
    for _ in range(times):
        t0 = time.perf_counter()
        write()
        best = min(best, time.perf_counter() - t0)
    return best


def json_writer_times(result: dict[str, Any]) -> dict[str, float]:
    """The JSON report's writer against ``json.dumps(indent=2)`` on the same dict."""
    ours = dumps_report(result)
    indented = json.dumps(result, indent=2, ensure_ascii=False)
    if json.loads(ours) != json.loads(indented):
        raise SystemExit("dumps_report wrote a different document than json.dumps")
    return {
        "ours_s": best_of(lambda: dumps_report(result)),
        "indent_s": best_of(lambda: json.dumps(result, indent=2, ensure_ascii=False)),
        "ours_mb": len(ours.encode("utf-8")) / 1e6,
        "indent_mb": len(indented.encode("utf-8")) / 1e6,
    }


def browser_times(path: Path) -> dict[str, float]:
    from playwright.sync_api import expect, sync_playwright

    chromium = shutil.which("chromium")
    if chromium is None:
        raise SystemExit("chromium is not installed: apt-get install chromium")
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=chromium,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
            ],
        )
        out: dict[str, float] = {}
        for attempt in range(3):
            page = browser.new_page()
            t0 = time.perf_counter()
            page.goto(path.as_uri())
            page.wait_for_selector("body[data-ready='1']", timeout=60_000)
            wall = time.perf_counter() - t0
            ready = float(page.get_attribute("body", "data-ready-ms") or "nan") / 1000.0
            if attempt == 0 or ready < out["interactive_s"]:
                out["interactive_s"], out["goto_wall_s"] = ready, wall
            if attempt == 0:
                # The filter re-renders synchronously in its change handler: time it in the page.
                out["filter_s"] = (
                    page.evaluate(
                        """() => {
                            const s = document.querySelector("#f-show");
                            s.value = "errors";
                            const t = performance.now();
                            s.dispatchEvent(new Event("change"));
                            return performance.now() - t;
                        }"""
                    )
                    / 1000.0
                )
                out["errors_shown"] = float(page.inner_text("#p-count").split()[0])
                t0 = time.perf_counter()
                page.select_option("#f-show", "all")
                page.fill("#f-search", "review 4242:")
                expect(page.locator("#p-count")).to_have_text(re.compile(r"^1 of "))
                out["search_s"] = time.perf_counter() - t0
            page.close()
        browser.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--keep", type=Path, help="Keep the run and the report in this folder.")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="tunegate-report-speed-"))
    folder.mkdir(parents=True, exist_ok=True)
    config = write_project(folder, args.cases)
    t0 = time.perf_counter()
    run(load_config(config), RunOptions(store_path=folder / "bench.db"), folder)
    run_s = time.perf_counter() - t0
    with Store(folder / "bench.db") as db:
        t0 = time.perf_counter()
        result = load_run_result(db, "latest")
        load_s = time.perf_counter() - t0
    renders = []
    for _ in range(3):
        t0 = time.perf_counter()
        page = render_html(result)
        renders.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    path = write_atomic(folder / "report.html", page)
    write_s = time.perf_counter() - t0
    size = path.stat().st_size
    writer = json_writer_times(result)
    times = browser_times(path)
    n_rows = sum(len(s["cases"]) for s in result["suites"])
    print(f"stored run: {args.cases} cases x 3 models = {n_rows} rows (run took {run_s:.1f} s)")
    print(f"load the stored result: {load_s:.2f} s")
    print(f"HTML size: {size / 1e6:.2f} MB (goal <= 15 MB)")
    print(
        f"render: first {renders[0]:.2f} s, best {min(renders):.2f} s (plots, template, JSON); "
        f"atomic write {write_s:.3f} s"
    )
    print(
        f"JSON report writer: dumps_report {writer['ours_s']:.3f} s ({writer['ours_mb']:.1f} MB), "
        f"json.dumps(indent=2) {writer['indent_s']:.3f} s ({writer['indent_mb']:.1f} MB): "
        f"{writer['indent_s'] / writer['ours_s']:.1f}x faster (goal > 1x; best of 3 each)"
    )
    print(
        f"chromium: interactive after {times['interactive_s']:.2f} s from navigation start "
        f"(goal <= 2 s; goto + wait {times['goto_wall_s']:.2f} s, best of 3)"
    )
    print(
        f"chromium: 'errors only' filter {times['filter_s'] * 1000:.0f} ms "
        f"({times['errors_shown']:.0f} cases), search for one case "
        f"{times['search_s'] * 1000:.0f} ms (typing pause of 120 ms included)"
    )
    if args.keep is None:
        shutil.rmtree(folder, ignore_errors=True)
    else:
        print(f"kept in {folder}")


if __name__ == "__main__":
    main()
