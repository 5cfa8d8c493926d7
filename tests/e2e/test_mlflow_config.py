"""``tracking: {mlflow: ...}`` and ``--mlflow`` without a server (issue 25): bad URIs are
config errors (exit 2, naming the key, never echoing a password); the tracking values are
the JSON document's; nothing imports mlflow unless a run is tracked."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from tunegate.tracking.values import dataset_digest, key_part, metric_values, params, tags

TUNEGATE = Path(sys.executable).parent / "tunegate"
FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "stored_result_v1.json"
PASSWORD = "hunter2-Secret-9f3"

CONFIG = """\
name: cfg
dataset: {{path: test.jsonl}}
task: {{type: classification, labels: [positive, negative]}}
models:
  tuned: {{type: python, function: models:tuned}}
{tracking}"""


def _project(folder: Path, tracking: str) -> None:
    rows = [{"id": f"c{i}", "text": "good", "label": "positive"} for i in range(4)]
    (folder / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (folder / "models.py").write_text("def tuned(text):\n    return 'positive'\n")
    (folder / "tunegate.yaml").write_text(CONFIG.format(tracking=tracking))


def _cli(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(TUNEGATE), *args],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    "uri",
    [f"https://user:{PASSWORD}@mlflow.example", f"http://127.0.0.1:5000/?token={PASSWORD}"],
)
def test_credentials_in_the_config_uri_are_refused_without_echoing_them(
    tmp_path: Path, uri: str
) -> None:
    _project(tmp_path, f"tracking: {{mlflow: {{uri: '{uri}'}}}}\n")
    proc = _cli(tmp_path, "validate", "tunegate.yaml")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    text = " ".join((proc.stdout + proc.stderr).split())
    assert "tracking.mlflow.uri" in text
    assert "MLFLOW_TRACKING_TOKEN" in text
    assert PASSWORD not in text
    assert "Traceback" not in text


def test_an_unknown_tracking_key_and_a_bad_flag_are_exit_2(tmp_path: Path) -> None:
    _project(tmp_path, "tracking: {mlflow: {url: 'http://127.0.0.1:5000'}}\n")
    proc = _cli(tmp_path, "validate", "tunegate.yaml")
    assert proc.returncode == 2
    assert "tracking.mlflow" in proc.stdout + proc.stderr
    _project(tmp_path, "")
    proc = _cli(tmp_path, "run", "tunegate.yaml", "-q", "--mlflow", f"https://a:{PASSWORD}@h")
    assert proc.returncode == 2, proc.stderr
    assert "--mlflow: credentials do not belong" in " ".join(proc.stderr.split())
    assert PASSWORD not in proc.stdout + proc.stderr
    assert not (tmp_path / ".tunegate").exists()  # refused before the run started


RUN = ["tunegate.yaml", "-q", "--store", "t.db", "--no-gate"]
_PROBE = """
import json, sys
sys.argv = ["tunegate", *sys.argv[2:]]
from tunegate.cli import main
code = 0
try:
    main()
except SystemExit as exc:
    code = exc.code
with open(OUT, "w") as f:
    json.dump({"code": code, "mlflow": sorted(m for m in sys.modules if m.split(".")[0] == "mlflow")}, f)
"""


def test_a_run_without_tracking_and_validate_of_a_tracked_config_never_import_mlflow(
    tmp_path: Path,
) -> None:
    _project(tmp_path, "tracking: {mlflow: {uri: 'http://127.0.0.1:9'}}\n")
    for args in (["validate", "tunegate.yaml"], ["--help"]):
        listing = tmp_path / "modules.json"
        code = _PROBE.replace("OUT", repr(str(listing)))
        subprocess.run(
            [sys.executable, "-c", code, "x", *args], cwd=tmp_path, timeout=120, check=False
        )
        found = json.loads(listing.read_text())
        assert found["code"] in (0, None), found
        assert found["mlflow"] == []
    _project(tmp_path, "")
    subprocess.run(
        [sys.executable, "-c", _PROBE.replace("OUT", repr(str(listing))), "x", "run", *RUN],
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert json.loads(listing.read_text()) == {"code": 0, "mlflow": []}


def _document() -> dict[str, object]:
    data: dict[str, object] = json.loads(FIXTURE.read_text(encoding="utf-8"))
    return data


def test_metric_values_are_the_documents_numbers_and_skip_nulls() -> None:
    doc = _document()
    values = metric_values(doc)
    suites = doc["suites"]
    assert isinstance(suites, list)
    tuned = suites[0]["models"]["tuned"]
    assert values["sentiment.tuned.accuracy"] == tuned["metrics"]["accuracy"]["value"]
    assert values["sentiment.tuned.accuracy_ci_high"] == tuned["metrics"]["accuracy"]["ci"][1]
    assert "sentiment.tuned.error_rate_ci_low" not in values  # no interval: not logged
    assert values["qa.tuned_vs_base.exact_match_delta"] == 0.5
    assert all(isinstance(v, float) and math.isfinite(v) for v in values.values())
    assert "sentiment.tuned.tokens" not in values


def test_keys_are_safe_and_distinct() -> None:
    assert key_part("gpt-4o:mini / v2") == "gpt-4o_mini___v2"
    assert key_part("../x") == "__x"
    doc = {
        "suites": [
            {
                "name": "main",
                "models": {
                    "a:b": {"metrics": {"accuracy": {"value": 0.5, "ci": None}}},
                    "a/b": {"metrics": {"accuracy": {"value": 0.25, "ci": [None, 0.3]}}},
                },
                "comparisons": [],
            }
        ]
    }
    assert metric_values(doc) == {
        "main.a_b.accuracy": 0.5,
        "main.a_b.accuracy_2": 0.25,
        "main.a_b.accuracy_2_ci_high": 0.3,  # the interval stays with its own value
    }


def test_params_and_tags_carry_identities_digests_and_each_criterion() -> None:
    doc = _document()
    suites = doc["suites"]
    assert isinstance(suites, list)
    digests = {s["name"]: dataset_digest(s) for s in suites}
    got = params(doc, digests)
    assert got["seed"] == str(doc["seed"])
    assert json.loads(got["model.big"])["base_url"].startswith("http://127.0.0.1:")
    assert got["dataset.qa.sha256"] == digests["qa"]
    assert digests["qa"] != digests["sentiment"]
    # The digest is of the cases (id, input, reference), not of their order.
    shuffled = dict(suites[1], cases=list(reversed(suites[1]["cases"])))
    assert dataset_digest(shuffled) == digests["qa"]
    changed = dict(suites[1], inputs={**suites[1]["inputs"], "q1": "another question"})
    assert dataset_digest(changed) != digests["qa"]
    t = tags(doc)
    assert t["tunegate.verdict"] == "INCONCLUSIVE"
    assert t["tunegate.criterion.02"] == "INCONCLUSIVE: macro_f1 - big >= -0.05 [suite sentiment]"
    assert "315 cases" in t["tunegate.criterion.02.reason"]


def test_a_human_studys_numbers_are_logged_under_human() -> None:
    doc = _document()
    doc["human"] = {
        "study": "s1",
        "preference": {"win_rate": 0.625, "ci": [0.5, 0.75], "n": 16},
        "agreement": {"kappa": None},
    }
    values = metric_values(doc)
    human = {k: v for k, v in values.items() if k.startswith("human.")}
    assert human == {
        "human.preference.win_rate": 0.625,
        "human.preference.ci.0": 0.5,
        "human.preference.ci.1": 0.75,
        "human.preference.n": 16.0,
    }
