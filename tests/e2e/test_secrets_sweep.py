"""Secrets everywhere: canary keys in ``api_key_env``, in ``${VAR}`` header values, in a
URL's userinfo and in a query string never reach the store, the terminal, the JSON,
Markdown or HTML reports, nor exception texts (httpx, aiohttp, the openai SDK)."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from servers import classify_app, openai_app, serve

from tunegate.secrets import redact, remember, remember_url, safe_error

TUNEGATE = Path(sys.executable).parent / "tunegate"

KEY = "sk-canaryAPIKEY0001zz"  # api_key_env
HEADER = "canaryHEADERvalue0002"  # ${VAR} in a header
BEARER = "canaryBEARERvalue0003"  # ${VAR} in an Authorization header
USERINFO = "canaryUSERINFO0004"  # https://user:KEY@host
QUERY = "canaryQUERY0005"  # ?api-key=KEY
QUERY2 = "canaryQUERY0006"  # ?token=KEY
DEAD_USER = "canaryDEADuser0007"  # userinfo of an unreachable endpoint
DEAD_QUERY = "canaryDEADquery0008"  # query key of an unreachable endpoint
CANARIES = [KEY, HEADER, BEARER, USERINFO, QUERY, QUERY2, DEAD_USER, DEAD_QUERY]


def forms(secret: str) -> list[bytes]:
    """The ways a secret can be written down: as is, percent-encoded, in Basic auth."""
    out = {secret, quote(secret, safe="")}
    out.add(base64.b64encode(f"tguser:{secret}".encode()).decode())
    return [f.encode() for f in out]


def echo_app() -> FastAPI:
    """Answers 400 with the request's URL (query string included) and headers in the body."""
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

    @app.post("/classify")
    async def classify(request: Request) -> JSONResponse:
        message = f"bad request to {request.url} with headers {dict(request.headers)}"
        return JSONResponse({"error": {"message": message}}, status_code=400)

    return app


def write_project(folder: Path, openai_url: str, keyed_url: str, classify: str, echo: str) -> Path:
    rows = [
        {"id": f"r{i}", "text": t, "label": lab}
        for i, (t, lab) in enumerate(
            [("great", "positive"), ("awful", "negative"), ("okay", "neutral")] * 2
        )
    ]
    (folder / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    host = openai_url.removeprefix("http://")
    (folder / "tunegate.yaml").write_text(
        f"""\
dataset: {{path: test.jsonl}}
task: {{type: classification, labels: [positive, negative, neutral]}}
models:
  headered:
    type: http
    url: "{classify}/classify?api-key={QUERY}"
    headers: {{x-api-key: "${{TG_CANARY_HEADER}}"}}
    max_retries: 0
  keyed:
    type: openai
    model: toy
    base_url: "{keyed_url}/v1"
    api_key_env: TG_CANARY_KEY
    max_retries: 0
  userinfo:
    type: openai
    model: toy
    base_url: "http://tguser:{USERINFO}@{host}/v1"
    max_retries: 0
  echo:
    type: http
    url: "{echo}/classify?token={QUERY2}"
    headers: {{Authorization: "Bearer ${{TG_CANARY_BEARER}}"}}
    max_retries: 0
  dead-openai:
    type: openai
    model: toy
    base_url: "http://tguser:{DEAD_USER}@127.0.0.1:9/v1"
    api_key_env: TG_CANARY_KEY
    max_retries: 0
  dead-http:
    type: http
    url: "http://tguser:{DEAD_USER}@127.0.0.1:9/classify?api-key={DEAD_QUERY}"
    max_retries: 0
compare: {{candidate: headered, baselines: [keyed]}}
"""
    )
    return folder / "tunegate.yaml"


def test_no_canary_in_any_file_or_output_of_a_run(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "TG_CANARY_KEY": KEY,
        "TG_CANARY_HEADER": HEADER,
        "TG_CANARY_BEARER": BEARER,
    }
    with (
        serve(openai_app()) as plain,
        serve(openai_app(require_key=KEY)) as keyed,
        serve(classify_app(require_header=("x-api-key", HEADER))) as classify,
        serve(echo_app()) as echo,
    ):
        (tmp_path / "project").mkdir()
        config = write_project(tmp_path / "project", plain, keyed, classify, echo)
        out = tmp_path / "out"
        proc = subprocess.run(
            [
                str(TUNEGATE),
                "run",
                str(config),
                "--store",
                str(out / "t.db"),
                "--json",
                str(out / "r.json"),
                "--markdown",
                str(out / "r.md"),
                "--html",
                str(out / "r.html"),
                "--no-gate",
            ],
            env=env,
            capture_output=True,
            timeout=300,
        )
    assert proc.returncode == 0, proc.stderr.decode()[-3000:]
    report = json.loads((out / "r.json").read_text())
    models = report["suites"][0]["models"] if "suites" in report else report["models"]
    # The run really exercised every path: answers with the secrets, errors echoing them.
    stored = _stored_errors(out / "t.db")
    assert stored["headered"] == 0
    assert stored["keyed"] == 0
    assert stored["userinfo"] == 0
    assert stored["echo"] == 6
    assert stored["dead-openai"] == 6
    assert stored["dead-http"] == 6
    assert models
    with sqlite3.connect(out / "t.db") as con:
        [(stored_config,)] = con.execute("SELECT config FROM runs").fetchall()
    assert "tguser:***@" not in stored_config
    assert "://***@" in stored_config  # the URLs are kept, without their credentials

    files = [p for p in out.rglob("*") if p.is_file()]
    assert {p.name for p in files} >= {"t.db", "r.json", "r.md", "r.html"}
    searched = [(p.name, p.read_bytes()) for p in files]
    searched += [("stdout", proc.stdout), ("stderr", proc.stderr)]
    leaks = [
        (name, canary)
        for name, data in searched
        for canary in CANARIES
        for form in forms(canary)
        if form in data
    ]
    assert leaks == []
    total = sum(len(data) for _, data in searched)
    print(f"secrets sweep: {len(searched)} files/streams, {total} bytes, {len(CANARIES)} canaries")


def _stored_errors(db: Path) -> dict[str, int]:
    with sqlite3.connect(db) as con:
        rows = con.execute(
            "SELECT model, SUM(error IS NOT NULL) FROM responses GROUP BY model"
        ).fetchall()
    return {model: int(n) for model, n in rows}


# ------------------------------------------------- exception texts of the HTTP libraries


def test_httpx_errors_echoing_the_url_are_scrubbed() -> None:
    import httpx

    secret_url = f"http://tguser:{USERINFO}@127.0.0.1:9/v1?api-key={QUERY}"
    with pytest.raises(httpx.HTTPError) as info:
        httpx.get(secret_url, timeout=2)
    with serve(echo_app()) as url:
        response = httpx.post(f"{url}/classify?token={QUERY2}")
        with pytest.raises(httpx.HTTPStatusError) as status:
            response.raise_for_status()
    assert QUERY2 in str(status.value)  # httpx does echo the URL ...
    for exc in (info.value, status.value):
        text = safe_error(exc)
        assert all(c not in text for c in CANARIES), text  # ... and the text we keep does not


def test_aiohttp_errors_echoing_the_url_are_scrubbed() -> None:
    import aiohttp

    async def fetch(url: str) -> None:
        async with aiohttp.ClientSession() as session, session.post(url) as response:
            response.raise_for_status()

    with serve(echo_app()) as url, pytest.raises(aiohttp.ClientResponseError) as status:
        asyncio.run(fetch(f"http://tguser:{USERINFO}@{url[7:]}/classify?api-key={QUERY}"))
    with pytest.raises(aiohttp.ClientError) as connect:
        asyncio.run(fetch(f"http://tguser:{USERINFO}@127.0.0.1:9/x?key={QUERY}"))
    echoed = str(status.value) + str(connect.value)
    assert QUERY in echoed
    for exc in (status.value, connect.value):
        text = safe_error(exc)
        assert all(c not in text for c in CANARIES), text


def test_openai_sdk_errors_are_scrubbed() -> None:
    import openai

    remember(KEY)
    with serve(openai_app(require_key="another-key")) as url:
        client = openai.OpenAI(base_url=f"{url}/v1?api-key={QUERY}", api_key=KEY, max_retries=0)
        with pytest.raises(openai.APIError) as info:
            client.chat.completions.create(model="toy", messages=[{"role": "user", "content": "x"}])
    client = openai.OpenAI(
        base_url=f"http://tguser:{USERINFO}@127.0.0.1:9/v1", api_key=KEY, max_retries=0
    )
    with pytest.raises(openai.APIConnectionError) as connect:
        client.models.list()
    for exc in (info.value, connect.value, connect.value.__cause__):
        assert exc is not None
        text = safe_error(exc)
        assert all(c not in text for c in CANARIES), text
        assert "sk-" not in text or "sk-***" in text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"https://u:{USERINFO}@h/v1", "https://***@h/v1"),
        (f"https://{USERINFO}@github.com/x", "https://***@github.com/x"),
        (f"GET http://h/v1?api-key={QUERY}&x=1", "GET http://h/v1?api-key=***&x=1"),
        (f"http://h/?x=1&access_token={QUERY}#f", "http://h/?x=1&access_token=***#f"),
        (f"href='/a?b=1&amp;key={QUERY}'", "href='/a?b=1&amp;key=***'"),
        (f"{{'authorization': 'Bearer {BEARER}'}}", "{'authorization': 'Bearer ***'}"),
        (f'"x-api-key": "{HEADER}"', '"x-api-key": "***"'),
        (f"Authorization: Basic {USERINFO}", "Authorization: Basic ***"),
        ("token usage: 12 tokens; key points: a, b", "token usage: 12 tokens; key points: a, b"),
        ("monkey=5 keyboard=3", "monkey=5 keyboard=3"),
        ("HTTP status code: 503; max_tokens=5", "HTTP status code: 503; max_tokens=5"),
        (f"GET /cb?code={QUERY}", "GET /cb?code=***"),
    ],
)
def test_redact_by_shape(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_remembered_url_secrets_are_scrubbed_in_any_form() -> None:
    remember_url(f"http://tguser:{quote('p@ss/' + DEAD_USER, safe='')}@h/v1?sig={DEAD_QUERY}")
    assert redact(f"p@ss/{DEAD_USER} and {DEAD_QUERY}") == "*** and ***"
    assert DEAD_USER not in redact(quote(f"p@ss/{DEAD_USER}", safe=""))
