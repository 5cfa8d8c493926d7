"""tunegate's Label Studio exchange against a real Label Studio (issue 25).

A Label Studio server (scripts/install-labelstudio.sh puts it in .venv-labelstudio: its
pins clash with tunegate's) is started on loopback in a temporary data dir, with a fresh
SQLite database, no version check, no error reporting and no analytics. Two people
annotate: the admin created on the command line and a second user who signs up through
the web form. The tests then check, on the server's own output:

- the labeling config and the tasks ``tunegate human export`` writes are taken as they
  are; votes cast on every criterion come back through Label Studio's default export
  (``completed_by`` a user id) and ``human import --users``, and ``human report`` counts
  exactly the votes cast, per criterion and per annotator;
- ``human push`` creates the project, ``human pull`` reads the export and the users over
  the API, and a wrong token, project or address is a clear error (exit 2, no token shown);
- in chromium, the labeling page shows the two answers side by side, a person clicks one
  answer per criterion and submits, and the export holds every criterion.

scripts/test.sh installs Label Studio in the background while the other tests run; these
tests run last and wait for it (a failed install fails them). Run directly without it,
they skip with the command that installs it.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from chromium import launched, needs_chromium
from typer.testing import CliRunner

from tunegate.cli import app
from tunegate.human.store import HumanStore

pytestmark = [pytest.mark.labelstudio, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
VENV = Path(os.environ.get("TUNEGATE_LABELSTUDIO_VENV", ROOT / ".venv-labelstudio"))
LABEL_STUDIO = VENV / "bin" / "label-studio"
#: How long the tests wait for scripts/test.sh's background install of Label Studio.
INSTALL_WAIT_S = 20 * 60
#: A fresh database is migrated at the first start: about 25 s to 2 min on 2 cores.
STARTUP_TIMEOUT_S = 300
SHOTS = Path(os.environ.get("TUNEGATE_SHOTS", "/work/notes/shots"))

ADMIN = "admin@example.org"
CAROL = "carol@example.org"
CRITERIA = ["correctness", "overall"]


@dataclass
class Server:
    url: str
    token: str  # the admin's legacy token
    password: str
    carol_token: str
    carol_password: str
    log: Path

    def api(self, token: str | None = None) -> httpx.Client:
        auth = {"Authorization": f"Token {token or self.token}"}
        return httpx.Client(base_url=self.url, headers=auth, timeout=60)


def _wait_for_background_install() -> None:
    """When scripts/test.sh installs Label Studio in the background, wait for it to end;
    a failed install fails the test with the end of its log (never a skip)."""
    status = os.environ.get("TUNEGATE_LABELSTUDIO_STATUS")
    if not status:
        if not LABEL_STUDIO.is_file():
            pytest.skip(
                "Label Studio is not installed: bash scripts/install-labelstudio.sh "
                "(its own virtualenv, .venv-labelstudio; about a minute)"
            )
        return
    deadline = time.monotonic() + INSTALL_WAIT_S
    while not Path(status).is_file():
        if time.monotonic() > deadline:
            pytest.fail(f"Label Studio's install did not end within {INSTALL_WAIT_S} s")
        time.sleep(2.0)
    code = Path(status).read_text().strip()
    if code != "0" or not LABEL_STUDIO.is_file():
        log = Path(os.environ.get("TUNEGATE_LABELSTUDIO_LOG", "/nonexistent"))
        tail = log.read_text(errors="replace")[-3000:] if log.is_file() else "(no log)"
        pytest.fail(f"scripts/install-labelstudio.sh failed (exit {code}):\n{tail}")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start(home: Path, port: int, token: str, password: str) -> subprocess.Popen[bytes]:
    env = {
        "PATH": f"{VENV / 'bin'}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "LATEST_VERSION_CHECK": "false",
        "SENTRY_DSN": "",
        "FRONTEND_SENTRY_DSN": "",
        "COLLECT_ANALYTICS": "false",
        "XDG_DATA_HOME": str(home / "xdg-data"),
        "XDG_CONFIG_HOME": str(home / "xdg-config"),
        "XDG_CACHE_HOME": str(home / "xdg-cache"),
        "LABEL_STUDIO_BASE_DATA_DIR": str(home / "data"),
    }
    command = [
        str(LABEL_STUDIO),
        "start",
        "--no-browser",
        "--internal-host",
        "127.0.0.1",
        "--port",
        str(port),
        "--data-dir",
        str(home / "data"),
        "--username",
        ADMIN,
        "--password",
        password,
        "--user-token",
        token,
        "--enable-legacy-api-token",
        "--log-level",
        "WARNING",
    ]
    log = (home / "server.log").open("wb")
    # Its own process group: the teardown ends the server and everything it started.
    return subprocess.Popen(
        command, cwd=home, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=15)
    except ProcessLookupError:
        return
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=15)


def _sign_up(url: str, email: str, password: str) -> str:
    """A second user through Label Studio's own sign-up form; their legacy token."""
    with httpx.Client(base_url=url, timeout=60, follow_redirects=True) as web:
        web.get("/user/signup/").raise_for_status()
        form = {
            "email": email,
            "password": password,
            "csrfmiddlewaretoken": web.cookies["csrftoken"],
        }
        web.post("/user/signup/", data=form, headers={"Referer": f"{url}/user/signup/"})
        answer = web.get("/api/current-user/token")
        answer.raise_for_status()
        return str(answer.json()["token"])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    _wait_for_background_install()
    home = tmp_path_factory.mktemp("labelstudio")
    port = _free_port()
    token, password = os.urandom(20).hex(), f"Pw-{os.urandom(8).hex()}"
    process = _start(home, port, token, password)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while True:
            if process.poll() is not None:
                tail = (home / "server.log").read_text(errors="replace")[-3000:]
                pytest.fail(f"label-studio exited with {process.returncode}:\n{tail}")
            try:
                if httpx.get(f"{url}/health", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"label-studio did not answer /health within {STARTUP_TIMEOUT_S} s")
            time.sleep(1.0)
        carol_password = f"Pw-{os.urandom(8).hex()}"
        carol_token = _sign_up(url, CAROL, carol_password)
        yield Server(url, token, password, carol_token, carol_password, home / "server.log")
    finally:
        _stop(process)


def cli(*args: str) -> Any:
    result = CliRunner().invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result


def _study(tmp_path: Path, name: str, n: int = 4) -> str:
    """A pairs study of ``n`` items; both people annotate every item."""
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text(
        "".join(
            json.dumps(
                {
                    "id": f"t{k}",
                    "prompt": f"Question {k}: how do I boil an egg?",
                    "output_a": f"Candidate answer {k}: put it in boiling water for 8 minutes.",
                    "output_b": f"Baseline answer {k}: boil it.",
                    "model_a": "cand",
                    "model_b": "base",
                }
            )
            + "\n"
            for k in range(n)
        )
    )
    store = str(tmp_path / "store.db")
    created = cli(
        "human", "create", "--pairs", str(pairs), "--annotators", f"{ADMIN},{CAROL}",
        "--overlap", "2", "--criteria", "correctness", "--name", name, "--store", store,
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    return store


#: The votes cast, as stored sides (a = the candidate): (person, item, criterion) -> choice.
VOTES = {
    (ADMIN, "t0", "overall"): "a", (ADMIN, "t0", "correctness"): "a",
    (ADMIN, "t1", "overall"): "a", (ADMIN, "t1", "correctness"): "b",
    (ADMIN, "t2", "overall"): "b", (ADMIN, "t2", "correctness"): "both_bad",
    (ADMIN, "t3", "overall"): "tie", (ADMIN, "t3", "correctness"): "a",
    (CAROL, "t0", "overall"): "a", (CAROL, "t0", "correctness"): "tie",
    (CAROL, "t1", "overall"): "tie", (CAROL, "t1", "correctness"): "b",
    (CAROL, "t2", "overall"): "b", (CAROL, "t2", "correctness"): "a",
    (CAROL, "t3", "overall"): "a", (CAROL, "t3", "correctness"): "skip",
}  # fmt: skip


def _annotate(server: Server, project: int, store: str, study: str) -> None:
    """Posts :data:`VOTES` as each person, the way the labeling page records them: the
    side as shown (the study's left / right order), a ``choices`` result per criterion."""
    with HumanStore(store) as hs:
        left = {i.item.item_id: i.left_side for i in hs.items(study)}
    tokens = {ADMIN: server.token, CAROL: server.carol_token}
    with server.api() as api:
        tasks = api.get("/api/tasks/", params={"project": project, "page_size": 100}).json()
    by_item = {t["data"]["item_id"]: t["id"] for t in tasks["tasks"]}
    assert sorted(by_item) == ["t0", "t1", "t2", "t3"]
    for person, token in tokens.items():
        with server.api(token) as api:
            for item, task in by_item.items():
                result = []
                for crit in CRITERIA:
                    choice = VOTES[(person, item, crit)]
                    if choice in ("a", "b"):
                        choice = "left" if choice == left[item] else "right"
                    result.append(
                        {
                            "from_name": crit,
                            "to_name": "prompt",
                            "type": "choices",
                            "origin": "manual",
                            "value": {"choices": [choice]},
                        }
                    )
                posted = api.post(f"/api/tasks/{task}/annotations/", json={"result": result})
                assert posted.status_code == 201, posted.text


def _stored(store: str, study: str) -> dict[tuple[str, str, str], str]:
    with HumanStore(store) as hs:
        return {(v.annotator, v.item_id, v.criterion): v.choice for v in hs.votes(study)}


def _expected(criterion: str) -> dict[str, int]:
    mine = [c for (_, _, crit), c in VOTES.items() if crit == criterion]
    return {
        "wins": mine.count("a"),
        "ties": mine.count("tie"),
        "losses": mine.count("b"),
        "both_bad": mine.count("both_bad"),
        "skipped": mine.count("skip"),
    }


def _check_report(store: str, study: str, tmp_path: Path) -> str:
    path = tmp_path / "report.json"
    shown = cli("human", "report", study, "--json", str(path), "--store", store)
    assert shown.exit_code == 0, shown.output
    report = json.loads(path.read_text())
    for crit in CRITERIA:
        block = report["preference"]["by_criterion"][crit]
        got = {k: block[k] for k in ("wins", "ties", "losses", "both_bad", "skipped")}
        assert got == _expected(crit), crit
    assert report["n_votes"] == len(VOTES)
    summary = {row["annotator"]: row for row in report["annotator_summary"]}
    for person in (ADMIN, CAROL):
        overall = [c for (who, _, crit), c in VOTES.items() if who == person and crit == "overall"]
        assert summary[person]["voted"] == len(overall) == 4
        ties = overall.count("tie") / sum(c in ("a", "b", "tie") for c in overall)
        assert summary[person]["tie_rate"] == pytest.approx(ties)
    return str(shown.output)


def test_default_export_round_trip_counts_the_votes_cast(server: Server, tmp_path: Path) -> None:
    store = _study(tmp_path, "ls-file")
    tasks = tmp_path / "tasks.json"
    exported = cli("human", "export", "ls-file", "--format", "label-studio", "-o", str(tasks),
                   "--store", store)  # fmt: skip
    assert exported.exit_code == 0, exported.output
    config = tasks.with_suffix(".config.xml").read_text()
    with server.api() as api:
        made = api.post("/api/projects/", json={"title": "tunegate file", "label_config": config})
        assert made.status_code == 201, made.text
        project = made.json()["id"]
        # Label Studio validated the config: every criterion is one of its controls.
        assert sorted(made.json()["parsed_label_config"]) == sorted(CRITERIA)
        taken = api.post(f"/api/projects/{project}/import", json=json.loads(tasks.read_text()))
        assert taken.json()["task_count"] == 4, taken.text
    _annotate(server, project, store, "ls-file")
    with server.api() as api:
        export = api.get(f"/api/projects/{project}/export", params={"exportType": "JSON"})
        users = api.get("/api/users/")
    assert {type(a["completed_by"]) for t in export.json() for a in t["annotations"]} == {int}
    (tmp_path / "export.json").write_bytes(export.content)
    (tmp_path / "users.json").write_bytes(users.content)
    args = ["human", "import", "ls-file", str(tmp_path / "export.json"), "--format",
            "label-studio", "--store", store]  # fmt: skip
    refused = cli(*args)  # user ids without the user list
    assert refused.exit_code == 2
    assert "pass --users FILE" in refused.output
    imported = cli(*args, "--users", str(tmp_path / "users.json"))
    assert imported.exit_code == 0, imported.output
    assert f"Imported {len(VOTES)} votes into study ls-file" in imported.output
    assert _stored(store, "ls-file") == VOTES
    report = _check_report(store, "ls-file", tmp_path)
    print(report)  # shown with -s: the round trip's report


def test_push_and_pull_through_the_api(
    server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = _study(tmp_path, "ls-api")
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", server.token)
    pushed = cli("human", "push", "ls-api", "--label-studio", server.url, "--store", store)
    assert pushed.exit_code == 0, pushed.output
    project = int(pushed.output.split("Created Label Studio project ")[1].split()[0])
    assert "with 4 tasks" in pushed.output
    _annotate(server, project, store, "ls-api")
    pull = ["human", "pull", "ls-api", "--label-studio", server.url, "--project", str(project),
            "--store", store]  # fmt: skip
    pulled = cli(*pull)
    assert pulled.exit_code == 0, pulled.output
    assert f"Pulled {len(VOTES)} votes by 2 annotators on 4 tasks" in pulled.output
    assert _stored(store, "ls-api") == VOTES
    _check_report(store, "ls-api", tmp_path)
    assert cli(*pull).exit_code == 0  # pulling again replaces, never doubles
    assert _stored(store, "ls-api") == VOTES

    # A personal access token (a JWT) works too: exchanged for an access token.
    with server.api() as api:
        personal = api.post("/api/token/").json()["token"]
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", personal)
    assert cli(*pull).exit_code == 0

    def refused(*args: str, env: str = server.token) -> str:
        monkeypatch.setenv("LABEL_STUDIO_API_KEY", env)
        result = cli(*args)
        assert result.exit_code == 2, result.output
        assert "Traceback" not in result.output
        assert env not in result.output
        return " ".join(str(result.output).split())

    wrong = refused(*pull, env="0" * 40)
    assert "Label Studio refused the token in $LABEL_STUDIO_API_KEY (HTTP 401)" in wrong
    assert "not found (HTTP 404)" in refused(*pull[:6], "9999", *pull[7:])
    closed = f"http://127.0.0.1:{_free_port()}"
    assert "cannot reach Label Studio" in refused(*pull[:4], closed, *pull[5:])
    monkeypatch.delenv("LABEL_STUDIO_API_KEY")
    unset = cli(*pull)
    assert unset.exit_code == 2
    assert "$LABEL_STUDIO_API_KEY is not set" in unset.output


@needs_chromium
@pytest.mark.browser
def test_labeling_page_records_every_criterion(
    server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = _study(tmp_path, "ls-page", n=2)
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", server.token)
    pushed = cli("human", "push", "ls-page", "--label-studio", server.url, "--store", store)
    assert pushed.exit_code == 0, pushed.output
    project = int(pushed.output.split("Created Label Studio project ")[1].split()[0])
    with server.api() as api:
        tasks = api.get("/api/tasks/", params={"project": project}).json()["tasks"]
    task = next(t for t in tasks if t["data"]["item_id"] == "t0")
    with HumanStore(store) as hs:
        left = {i.item.item_id: i.left_side for i in hs.items("ls-page")}["t0"]
    SHOTS.mkdir(parents=True, exist_ok=True)
    with launched() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(f"{server.url}/user/login/")
        page.fill("input[name=email]", CAROL)
        page.fill("input[name=password]", server.carol_password)
        page.click("button[type=submit]")
        page.wait_for_url(f"{server.url}/**")
        page.goto(f"{server.url}/projects/{project}/data?task={task['id']}")
        texts = page.locator(".lsf-richtext__line")  # the labeling page's Text objects
        answer_a = texts.filter(has_text=task["data"]["left"])
        answer_b = texts.filter(has_text=task["data"]["right"])
        answer_a.wait_for(timeout=60_000)
        box_a, box_b = answer_a.bounding_box(), answer_b.bounding_box()
        assert box_a is not None
        assert box_b is not None
        # Side by side: one row, A to the left of B.
        assert box_a["x"] + box_a["width"] <= box_b["x"]
        assert abs(box_a["y"] - box_b["y"]) < 5
        # One radio group per criterion, under its heading: A for correctness, Tie overall.
        groups = page.locator(".lsf-choices")
        assert groups.count() == len(CRITERIA)
        picks = {"correctness": "A", "overall": "Tie"}
        for k, crit in enumerate(CRITERIA):
            group = groups.nth(k)
            heading = group.evaluate("el => el.previousElementSibling.textContent")
            assert crit in heading.lower()
            group.locator(f'input[type=radio][name="{picks[crit]}"]').check()
        page.screenshot(path=str(SHOTS / "ls_label_1400.png"), full_page=True)
        page.set_viewport_size({"width": 400, "height": 900})
        page.wait_for_timeout(500)
        page.screenshot(path=str(SHOTS / "ls_label_400.png"), full_page=True)
        # On a phone the answers stack (so the page names them A and B, never left/right).
        box_a, box_b = answer_a.bounding_box(), answer_b.bounding_box()
        assert box_a is not None
        assert box_b is not None
        assert box_a["y"] + box_a["height"] <= box_b["y"]
        page.set_viewport_size({"width": 1400, "height": 900})
        page.get_by_role("button", name="Submit").click()
        with server.api() as api:
            deadline = time.monotonic() + 30
            while True:
                export = api.get(f"/api/projects/{project}/export", params={"exportType": "JSON"})
                done = [t for t in export.json() if t["annotations"]]
                if done or time.monotonic() > deadline:
                    break
                time.sleep(0.5)
    assert len(done) == 1, "the submitted annotation is not in the export"
    results = {r["from_name"]: r["value"]["choices"] for r in done[0]["annotations"][0]["result"]}
    assert results == {"correctness": ["left"], "overall": ["tie"]}  # the aliases
    pulled = cli("human", "pull", "ls-page", "--label-studio", server.url, "--project",
                 str(project), "--store", store)  # fmt: skip
    assert pulled.exit_code == 0, pulled.output
    assert _stored(store, "ls-page") == {
        (CAROL, "t0", "correctness"): left,
        (CAROL, "t0", "overall"): "tie",
    }
