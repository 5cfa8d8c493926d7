"""Store housekeeping (runs --delete, cache clear, VACUUM) and resource limits: a read-only
or full store, a file that is not SQLite, a store from a newer tunegate, a 10 MB answer."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tunegate.cli import app
from tunegate.errors import TunegateError
from tunegate.pipeline.flow import RunOptions, run
from tunegate.store import MAX_ANSWER_CHARS, SCHEMA_VERSION, Response, Store

TUNEGATE = Path(sys.executable).parent / "tunegate"
LABELS = ["positive", "negative", "neutral"]


def write_project(folder: Path, n: int = 12, answer_size: int = 0) -> Path:
    """A config with two Python-function models over ``n`` cases; returns the config path."""
    words = {"positive": "great", "negative": "awful", "neutral": "okay"}
    rows = [
        {"id": f"r{i:02d}", "text": f"It is {words[LABELS[i % 3]]} {i}", "label": LABELS[i % 3]}
        for i in range(n)
    ]
    (folder / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    module = f"fns{answer_size}"  # a module name per content: pytest imports it only once
    (folder / f"{module}.py").write_text(
        textwrap.dedent(
            f"""
            def good(text):
                label = "positive" if "great" in text else "negative" if "awful" in text else "neutral"
                return label + "x" * {answer_size}

            def flat(text):
                return "neutral"
            """
        )
    )
    path = folder / "tunegate.yaml"
    path.write_text(
        "dataset: {path: test.jsonl}\n"
        "task: {type: classification, labels: [positive, negative, neutral]}\n"
        "models:\n"
        f"  good: {{type: python, function: '{module}:good'}}\n"
        f"  flat: {{type: python, function: '{module}:flat'}}\n"
        "compare: {candidate: good, baselines: [flat]}\n"
    )
    return path


def run_config(path: Path, store: Path, use_cache: bool = True) -> None:
    from tunegate.config import load_config

    options = RunOptions(store_path=store, use_cache=use_cache)
    run(load_config(path), options, config_dir=path.parent)


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    return result.exit_code, " ".join(result.output.split())  # rich wraps long lines


@pytest.fixture
def two_runs(tmp_path: Path) -> tuple[Path, list[str]]:
    config = write_project(tmp_path)
    db = tmp_path / "t.db"
    run_config(config, db)
    run_config(config, db, use_cache=False)  # two runs, 24 responses each
    with Store(db) as store:
        ids = [info.id for info in store.runs()]
    return db, ids


def test_runs_delete_removes_one_run_and_its_answers(two_runs: tuple[Path, list[str]]) -> None:
    db, (newest, oldest) = two_runs
    code, text = invoke("runs", "--store", str(db), "--delete", oldest[:-2])
    assert code == 0, text
    assert f"deleted run {oldest}" in text
    assert "its 24 stored responses" in text
    with Store(db) as store:
        assert [info.id for info in store.runs()] == [newest]
        assert len(list(store.responses(newest))) == 24
        assert list(store.responses(oldest)) == []
    code, text = invoke("runs", "--store", str(db))
    assert code == 0
    assert newest in text
    assert oldest not in text


def test_runs_delete_unknown_run_is_exit_2(two_runs: tuple[Path, list[str]]) -> None:
    db, _ = two_runs
    code, text = invoke("runs", "--store", str(db), "--delete", "nope-123")
    assert code == 2
    assert "nope-123" in text


def test_cache_clear_one_model_then_everything(two_runs: tuple[Path, list[str]]) -> None:
    db, (newest, _) = two_runs
    code, text = invoke("cache", "clear", "--store", str(db), "--model", "flat")
    assert code == 0, text
    assert "removed 24 stored responses" in text
    assert "(flat: 24)" in text
    with Store(db) as store:
        assert store.cache_counts() == {"good": 24}
        assert store.get_run(newest).meta.get("result") is not None  # results stay
    code, text = invoke("cache", "clear", "--store", str(db), "--model", "flat")
    assert code == 2
    assert "no stored answers of model 'flat' (models: good)" in text
    code, text = invoke("cache", "clear", "--store", str(db))
    assert code == 0
    assert "removed 24 stored responses" in text
    with Store(db) as store:
        assert store.cache_counts() == {}


def test_cache_clear_makes_the_next_run_ask_again(tmp_path: Path) -> None:
    config = write_project(tmp_path, n=6)
    db = tmp_path / "t.db"
    run_config(config, db)
    assert invoke("cache", "clear", "--store", str(db), "--model", "good")[0] == 0
    from tunegate.config import load_config

    result = run(load_config(config), RunOptions(store_path=db), config_dir=tmp_path)
    assert result.main.models["good"].cached == 0
    assert result.main.models["flat"].cached == 6


def test_vacuum_gives_space_back(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    with Store(db) as store:
        run_id = store.start_run("big", {"models": {}}, 0)
        store.record_many(
            run_id,
            (
                (Response(case_id=f"c{i}", model="m", key=f"k{i}", text="x" * 20_000), {})
                for i in range(300)
            ),
        )
        store.finish_run(run_id)  # cache clear refuses while a run is in progress
        store.vacuum()
        before = db.stat().st_size
    assert before > 300 * 20_000
    code, text = invoke("cache", "clear", "--store", str(db))
    assert code == 0
    assert "removed 300 stored responses" in text
    assert db.stat().st_size < before / 10
    with sqlite3.connect(db) as con:
        assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_housekeeping_without_a_store_is_exit_2(tmp_path: Path) -> None:
    for args in (["cache", "clear"], ["runs", "--delete", "x"]):
        code, text = invoke(*args, "--store", str(tmp_path / "none.db"))
        assert code == 2
        assert "no store here" in text


# ------------------------------------------------------------------ resource limits


def test_a_file_that_is_not_sqlite(tmp_path: Path) -> None:
    junk = tmp_path / "t.db"
    junk.write_bytes(b"this is a text file, not a database\n" * 200)
    for args in (["runs"], ["cache", "clear"], ["runs", "--delete", "x"]):
        code, text = invoke(*args, "--store", str(junk))
        assert code == 2, text
        assert f"{junk}: cannot use the store: the file is not a tunegate store" in text


def test_a_store_from_a_newer_tunegate(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    Store(db).close()
    with sqlite3.connect(db) as con:
        con.execute("UPDATE meta SET value=? WHERE key='schema'", (str(SCHEMA_VERSION + 1),))
    code, text = invoke("runs", "--store", str(db))
    assert code == 2
    assert "written by a newer tunegate" in text
    assert f"store schema {SCHEMA_VERSION + 1}" in text


def test_a_full_store_is_a_clear_error(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    with Store(db) as store:
        run_id = store.start_run("full", {}, 0)
        pages = store._db.execute("PRAGMA page_count").fetchone()[0]
        store._db.execute(f"PRAGMA max_page_count={pages + 2}")  # SQLite's own "disk is full"
        big = Response(case_id="c", model="m", key="k", text="y" * 200_000)
        with pytest.raises(TunegateError) as info:
            store.record(run_id, big, {})
    assert str(info.value).startswith(f"{db}: cannot write to the store: no space left")


def test_a_ten_megabyte_answer_is_stored_cut_with_a_note(tmp_path: Path) -> None:
    config = write_project(tmp_path, n=3, answer_size=MAX_ANSWER_CHARS + 1000)
    db = tmp_path / "t.db"
    run_config(config, db)
    with Store(db) as store:
        [run_info] = store.runs()
        answers = list(store.responses(run_info.id, "good"))
    assert len(answers) == 3
    for answer in answers:
        assert answer.error is None
        assert answer.text is not None
        assert len(answer.text) == MAX_ANSWER_CHARS
        assert answer.extra is not None
        assert answer.extra["truncated_from"] > MAX_ANSWER_CHARS


def _without_root_powers(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run ``tunegate args``; as root, without the capabilities that ignore file modes."""
    prefix: list[str] = []
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root without setpriv: file modes cannot be enforced")
        prefix = [setpriv, "--bounding-set=-dac_override,-dac_read_search", "--"]
    return subprocess.run(
        [*prefix, str(TUNEGATE), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def open_folder(tmp_path: Path) -> Iterator[Path]:
    """A folder whose read-only parts are made writable again at the end."""
    yield tmp_path
    for path in [tmp_path, *tmp_path.rglob("*")]:
        if path.is_dir():
            path.chmod(0o755)


def test_a_read_only_store_folder(open_folder: Path) -> None:
    config = write_project(open_folder, n=3)
    readonly = open_folder / "ro"
    readonly.mkdir()
    readonly.chmod(0o555)
    proc = _without_root_powers(
        ["run", str(config), "--store", str(readonly / "t.db"), "-q"], open_folder
    )
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    flat = " ".join(proc.stderr.split())
    assert f"{readonly / 't.db'}: cannot open the store" in flat
    assert not (readonly / "t.db").exists()


def test_a_read_only_store_file(open_folder: Path) -> None:
    config = write_project(open_folder, n=3)
    store_dir = open_folder / "s"
    store_dir.mkdir()
    run_config(config, store_dir / "t.db")
    for path in store_dir.iterdir():
        path.chmod(0o444)
    store_dir.chmod(0o555)
    proc = _without_root_powers(["cache", "clear", "--store", str(store_dir / "t.db")], open_folder)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    flat = " ".join(proc.stderr.split())
    assert str(store_dir / "t.db") in flat
    assert "read-only" in flat or "cannot open the file" in flat


def test_a_running_run_is_not_deleted(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    with Store(db) as store:  # started by this (live) process: running
        run_id = store.start_run("busy", {}, 0)
    code, text = invoke("runs", "--store", str(db), "--delete", run_id)
    assert code == 2
    assert f"run {run_id} is still running" in text
    with Store(db) as store:
        assert store.get_run(run_id).status == "running"


def test_the_recorded_answer_is_cut_in_place(tmp_path: Path) -> None:
    """What this run scores is what a re-run from the cache scores: the cut answer."""
    with Store(tmp_path / "t.db") as store:
        run_id = store.start_run("big", {}, 0)
        answer = Response(case_id="c", model="m", key="k", text="z" * (MAX_ANSWER_CHARS + 7))
        store.record(run_id, answer, {})
        [cached] = store.cached_answers(["k"]).values()
    assert answer.text is not None
    assert len(answer.text) == MAX_ANSWER_CHARS
    assert answer.extra == {"truncated_from": MAX_ANSWER_CHARS + 7}
    assert cached.text == answer.text
    assert cached.extra == answer.extra


def test_a_damaged_store_is_exit_2_everywhere(tmp_path: Path) -> None:
    config = write_project(tmp_path, n=30)
    db = tmp_path / "t.db"
    run_config(config, db)
    with Store(db) as store:
        store.vacuum()
    data = bytearray(db.read_bytes())
    for offset in range(2 * 4096, len(data) - 4096, 4096):  # garble every page but the first
        data[offset + 64 : offset + 1024] = bytes(range(256)) * 3 + bytes(192)
    db.write_bytes(bytes(data))
    for args in (["cache", "clear"], ["runs"], ["diff", "latest", "latest"]):
        code, text = invoke(*args, "--store", str(db))
        assert code == 2, (args, text)
        assert f"{db}: cannot use the store: the store file is damaged" in text
    result = CliRunner().invoke(app, ["run", str(config), "--store", str(db), "-q"])
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)
