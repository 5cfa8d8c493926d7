"""Redaction: text is redacted before it is cut, a cut never ends in a fragment of a
secret, the forms tunegate sends a secret in are scrubbed, key shapes are recognised
where they are keys, and tunegate's own messages keep their words."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest

from tunegate.errors import BackendError
from tunegate.models.base import TransportError
from tunegate.models.errors import http_status_error
from tunegate.models.transport import Reply
from tunegate.secrets import clip, read_env, redact, remember, remember_url

TUNEGATE = Path(sys.executable).parent / "tunegate"

KNOWN = "cnryKnownVal7Qx2Wz9"  # remembered (as a ${VAR} value would be)
UNKNOWN_TOKEN = "cnryUnknownTok4Jk8"  # never remembered: recognised by shape only


def fragments(secret: str) -> set[str]:
    """Every piece of four or more characters of ``secret``."""
    return {secret[i:j] for i in range(len(secret)) for j in range(i + 4, len(secret) + 1)}


def leaked(text: str, secret: str) -> list[str]:
    return sorted(f for f in fragments(secret) if f in text)


@pytest.fixture(autouse=True)
def _known() -> None:
    remember(KNOWN)


# ------------------------------------------------------------ redacted, then cut


@pytest.mark.parametrize(
    "shown",
    [KNOWN, f"Authorization: Bearer {UNKNOWN_TOKEN}", f"Bearer {UNKNOWN_TOKEN}"],
    ids=["remembered", "header", "bearer"],
)
def test_an_error_status_body_is_redacted_before_it_is_cut(shown: str) -> None:
    secret = KNOWN if shown == KNOWN else UNKNOWN_TOKEN
    for start in range(300 - len(shown) - 2, 303):  # the secret across the 300-character cut
        detail = "." * start + shown + " and more text after it"
        message = http_status_error(400, detail).message
        assert leaked(message, secret) == [], (start, message)
        assert message.startswith("HTTP 400: ...")


def test_a_body_that_is_not_json_is_redacted_before_it_is_cut() -> None:
    for start in range(80 - len(KNOWN) - 2, 83):
        reply = Reply(200, ("." * start + KNOWN + "<html>" * 20).encode(), "http://h")
        with pytest.raises(TransportError) as info:
            reply.json()
        assert leaked(str(info.value), KNOWN) == [], start


def test_a_cut_never_ends_in_four_or_more_characters_of_a_remembered_secret() -> None:
    # A text that already holds only the start of the secret (a server cut it): redaction
    # cannot recognise it, the cut must not leave it at the edge.
    for size in range(4, len(KNOWN)):
        text = "x" * 10 + KNOWN[:size]
        assert clip(text, len(text)) == "x" * 10 + "***"
    assert clip("x" * 10 + KNOWN[:3], 13) == "x" * 10 + KNOWN[:3]  # three characters: kept
    assert clip("a text without secrets", 6) == "a text"


def test_clip_redacts_past_a_long_redaction() -> None:
    # A long key-like token shrinks to ``sk-***``: what followed it moves into the kept part
    # and must have been redacted too.
    text = "sk-" + "A1" * 5000 + " then " + KNOWN + " " + "." * 200
    assert clip(text, 80) == redact(text)[:80]
    assert leaked(clip(text, 80), KNOWN) == []


# ------------------------------------------------------------ the forms a secret is sent in


def pure_base64(before: str, secret: str) -> str:
    """The characters of base64(before + secret) that depend on ``secret`` alone."""
    token = base64.b64encode(f"{before}{secret}".encode()).decode().rstrip("=")
    start = -(-len(before) * 8 // 6)
    end = (len(before) + len(secret)) * 8 // 6
    return token[start:end]


def test_basic_auth_credentials_are_scrubbed_as_sent_and_at_any_alignment() -> None:
    password = "pwdBasicCnry5Vh3Lt"
    remember_url(f"http://tguser:{password}@127.0.0.1:9/v1")
    token = base64.b64encode(f"tguser:{password}".encode()).decode()
    assert redact(f"got credential {token} from you") == "got credential *** from you"
    assert redact(f"got credential {token.rstrip('=')}!") == "got credential ***!"
    for before in ("", "a", "ab", "someone-else:", "x:"):  # the password in any base64 text
        text = base64.b64encode(f"{before}{password}".encode()).decode()
        assert leaked(redact(f"seen: {text}"), pure_base64(before, password)) == [], before


def test_percent_and_plus_encoded_values_are_scrubbed() -> None:
    value = "sp ace+plus/sl=eqCnry8"
    remember(value)
    for form in (value, quote(value, safe=""), quote(value), quote_plus(value)):
        assert redact(f"echo: {form}.") == "echo: ***.", form


def test_query_values_are_scrubbed_as_written_in_the_url() -> None:
    remember_url("http://h/x?token=ab%2bcd%2fQry3Cnry&x=1&sig=a+b+c+QryPlus9")
    for form in ("ab%2bcd%2fQry3Cnry", "ab+cd/Qry3Cnry", "a+b+c+QryPlus9", "a b c QryPlus9"):
        assert redact(f"[{form}]") == "[***]", form


# ------------------------------------------------------------ key shapes


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("key xsk-CANARY-1234 rejected", "key xsk-*** rejected"),  # glued to a letter
        ("Incorrect API key provided: sk-abc*****wxyz", "Incorrect API key provided: sk-***"),
        ("got sk-AB12C", "got sk-***"),  # 8 characters
        ("token hf_Ab3dEf", "token hf_***"),
        ("header was Bearer abc", "header was Bearer ***"),  # a short bearer token
        ("Authorization:Bearer abc", "Authorization:Bearer ***"),
        ("Authorization: Basic dGd1c2VyOnB3", "Authorization: Basic ***"),
    ],
)
def test_key_shapes_are_recognised(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "risk-assessment-2024-q1",
        "task-specific_model",
        "basic authentication required",
        "Missing bearer token",
        'WWW-Authenticate: Bearer realm="api"',
        "unknown field 'key_phrases_list'",
        "install sk-learn",
    ],
)
def test_ordinary_words_are_not_keys(text: str) -> None:
    assert redact(text) == text


# ------------------------------------------------------------ tunegate's own messages


@pytest.mark.parametrize(
    "message",
    [
        "models.m.headers.Authorization: environment variable CANARY_HDR is not set",
        "models.m.headers.x-api-key: environment variable CANARY_HDR is not set",
        "models.m.headers.Ocp-Apim-Subscription-Key: environment variable K is not set",
        "models.m.api_key_env: environment variable OPENAI_API_KEY is not set",
        "custom scorer '/etc/passwd:score': cannot import module '/etc/passwd'",
        "custom scorer 'token:score': 'token' has no attribute 'score'",
        "models.m.function: module 'auth.secret:check' not found",
        "models.my-token: unknown key",
        "/home/u/token: line 3: not JSON",
        r"C:\keys\api-key: line 3: not JSON",
    ],
)
def test_tunegate_messages_keep_their_words(message: str) -> None:
    assert redact(message) == message


def test_the_message_of_a_missing_variable_names_it() -> None:
    os.environ.pop("TG_NO_SUCH_SECRET_VAR", None)
    with pytest.raises(BackendError) as info:
        read_env("TG_NO_SUCH_SECRET_VAR", "models.m.headers.Authorization")
    message = redact(str(info.value))
    assert message == (
        "models.m.headers.Authorization: environment variable TG_NO_SUCH_SECRET_VAR is not set"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Authorization: Bearer abc123", "Authorization: Bearer ***"),
        ("{'x-api-key': 'abc123'}", "{'x-api-key': '***'}"),
        ("x-api-key=abc123", "x-api-key=***"),
        ("Ocp-Apim-Subscription-Key: abc123", "Ocp-Apim-Subscription-Key: ***"),
        ("password: hunter22", "password: ***"),
    ],
)
def test_header_values_are_still_scrubbed(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_the_cli_prints_paths_and_variable_names_whole(tmp_path: Path) -> None:
    (tmp_path / "t.jsonl").write_text('{"id": "1", "text": "x", "label": "a"}\n')
    scorer = "task: {type: generation, scorers: [{type: custom, function: '/etc/passwd:score'}]}"
    header = "headers: {Authorization: 'Bearer ${TG_NO_SUCH_SECRET_VAR}'}"
    model = "models: {m: {type: http, url: 'http://127.0.0.1:9/x', %s}}"
    env = {k: v for k, v in os.environ.items() if k != "TG_NO_SUCH_SECRET_VAR"}
    for task, headers, expected in [
        (scorer, "", "custom scorer '/etc/passwd:score'"),
        (
            "task: {type: classification, labels: [a, b]}",
            header,
            "models.m.headers.Authorization: environment variable TG_NO_SUCH_SECRET_VAR",
        ),
    ]:
        config = tmp_path / "tunegate.yaml"
        config.write_text(f"dataset: {{path: t.jsonl}}\n{task}\n{model % headers}\n")
        proc = subprocess.run(
            [TUNEGATE, "validate", str(config)], capture_output=True, text=True, env=env
        )
        assert proc.returncode == 2
        assert expected in proc.stderr.replace("\n", " "), proc.stderr
