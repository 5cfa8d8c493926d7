"""Secrets at every offset around every cut: a hostile server echoes the credential it
received (an ``api_key_env`` key, a ``${VAR}`` header value, a URL's Basic-auth
``user:password``, a query-string token) into each text tunegate cuts for a message,
placed so that the cut falls before, inside and after it, one offset per case. The real
CLI runs every backend against it once; every byte the run writes or prints is then
searched for each canary and every fragment of four or more characters of it, in each
form tunegate sends it (as is, percent-encoded, base64 inside ``Basic``).

The cuts (characters kept of the text that is cut, after the text before it):

- an error status's body: 300 (``HTTP 400: <body>``; ``Error code: 400 - <message>``
  for OpenAI-shaped errors);
- a 3xx ``Location``: 300 (``redirected to <location>, not followed``);
- a body that is not JSON: 80;
- a status line or header line that is not HTTP: 80; a chunk size that is not hex: 40.
"""

from __future__ import annotations

import base64
import json
import os
import re
import socketserver
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote, unquote_plus

TUNEGATE = Path(sys.executable).parent / "tunegate"

KEY = "sk-Qv7Jx2Wq9Zk4Pz8Ym3Tn"  # api_key_env of the openai backends (sent as Bearer)
HEADER = "hdrVw6Kp3Xq8Jz5Rt2Ly"  # ${VAR} in an x-api-key header of the http backends
USER = "tguser"
PASSWORD = "pwNc4Fv7Bx2Gq9Hm6"  # http://tguser:PASSWORD@host (sent as Basic base64)
PASSWORD2 = "pwRd8Ks3Lw6Zf2Jy9"  # the same, through the openai SDK
QUERY = "qTk5+Wz8/Jp3=Rv6Xb"  # ?token=<percent-encoded QUERY>
QUERY2 = "qMx4+Hc7/Nd2=Pg5Vs"  # the same, through httpx
CANARIES = [KEY, HEADER, PASSWORD, PASSWORD2, QUERY, QUERY2]

# mode: (the cut, the characters tunegate puts before the echoed text, per client)
MODES = {
    "status": 300,  # a 400 whose body (raw, or OpenAI's error.message) echoes it
    "decoded": 300,  # the same, echoing the decoded credential (user:password, the token)
    "redirect": 300,  # a 302 whose Location echoes it
    "nonjson": 80,  # a 200 whose body is not JSON
    "statusline": 80,  # a status line that is not HTTP/1.x
    "headerline": 80,  # a header line without a colon
    "chunk": 40,  # a chunk size that is not hex
}
LONGEST = 40  # characters of the longest echoed credential (base64 of user:password)
OFFSETS = range(-LONGEST - 2, 3)  # the credential's start, relative to the cut
OK_CASES = 4
REPORTS = {"json": "json", "markdown": "md", "html": "html"}


def prefix(mode: str, openai: bool) -> int:
    """Characters that precede the echoed text in what tunegate cuts."""
    if mode in ("status", "decoded") and openai:
        return len("Error code: 400 - ")
    return len("redirected to ") if mode == "redirect" else 0


# --------------------------------------------------------------------------- the server


def _credential(target: str, headers: dict[str, str]) -> str | None:
    """The secret a request carries, as sent: a query token, x-api-key, Basic or Bearer."""
    match = re.search(r"[?&]token=([^&]+)", target)
    if match:
        return match.group(1)
    if "x-api-key" in headers:
        return headers["x-api-key"]
    scheme, _, value = headers.get("authorization", "").partition(" ")
    return value if scheme in ("Basic", "Bearer") and value != "not-needed" else None


def _decoded(secret: str) -> str:
    """The credential as the server may print it once decoded (user:password, the token)."""
    try:
        text = base64.b64decode(secret, validate=True).decode()
        if ":" in text:
            return text
    except ValueError:
        pass
    return unquote_plus(secret)


def _ok(openai: bool) -> bytes:
    if openai:
        message = {"role": "assistant", "content": "positive"}
        body = {"id": "x", "object": "chat.completion", "created": 0, "model": "toy"}
        body["choices"] = [{"index": 0, "message": message, "finish_reason": "stop"}]
    else:
        body = {"label": "positive"}
    return _answer("200 OK", json.dumps(body).encode(), "application/json")


def _answer(status: str, body: bytes, kind: str = "text/plain", extra: str = "") -> bytes:
    head = f"HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {len(body)}\r\n"
    return (head + extra + "\r\n").encode("latin-1") + body


def echo(mode: str, offset: int, secret: str, openai: bool) -> bytes:
    """The answer placing ``secret`` so that it starts ``offset`` characters after the cut."""
    cut = MODES[mode]
    text = "." * (cut + offset - prefix(mode, openai)) + secret + "." * 60
    if mode == "status" or mode == "decoded":
        if openai:
            body = json.dumps({"error": {"message": text, "type": "invalid_request_error"}})
            return _answer("400 Bad Request", body.encode(), "application/json")
        return _answer("400 Bad Request", text.encode())
    if mode == "redirect":
        return _answer("302 Found", b"", extra=f"Location: {text}\r\n")
    if mode == "nonjson":
        return _answer("200 OK", text.encode())
    if mode == "statusline":
        return f"{text}\r\nContent-Length: 0\r\n\r\n".encode()
    if mode == "headerline":
        return f"HTTP/1.1 200 OK\r\n{text}\r\nContent-Length: 0\r\n\r\n".encode()
    assert mode == "chunk"
    return f"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n{text}\r\n".encode()


class _Handler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        while True:
            line = self.rfile.readline()
            if not line:
                return
            _, target, _ = line.decode("latin-1").split(" ", 2)
            headers: dict[str, str] = {}
            while (line := self.rfile.readline()) not in (b"\r\n", b"\n", b""):
                name, _, value = line.decode("latin-1").partition(":")
                headers[name.strip().lower()] = value.strip()
            body = self.rfile.read(int(headers.get("content-length", "0")))
            openai = "chat/completions" in target
            probe = re.search(rb"probe-([a-z]+)-(m?\d+)", body)
            secret = _credential(target, headers)
            if probe is None or secret is None:
                self.wfile.write(_ok(openai))
                continue
            mode = probe.group(1).decode()
            offset = int(probe.group(2).decode().replace("m", "-"))
            self.server.placements += 1  # type: ignore[attr-defined]
            shown = _decoded(secret) if mode == "decoded" else secret
            self.wfile.write(echo(mode, offset, shown, openai))
            if mode in ("statusline", "headerline", "chunk"):
                return  # the client drops the connection after a protocol error


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    placements = 0


@contextmanager
def echo_server() -> Iterator[_Server]:
    server = _Server(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


# --------------------------------------------------------------------------- the run


def case_text(mode: str, offset: int) -> str:
    return f"probe-{mode}-{str(offset).replace('-', 'm')}"


def write_project(folder: Path, host: str) -> Path:
    rows = [{"id": f"ok{i}", "text": "great", "label": "positive"} for i in range(OK_CASES)]
    rows += [
        {"id": case_text(mode, offset), "text": case_text(mode, offset), "label": "positive"}
        for mode in MODES
        for offset in OFFSETS
    ]
    (folder / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    common = "max_retries: 0, concurrency: 4"
    query, query2 = quote(QUERY, safe=""), quote(QUERY2, safe="")
    (folder / "tunegate.yaml").write_text(
        f"""\
dataset: {{path: test.jsonl}}
task: {{type: classification, labels: [positive, negative]}}
models:
  openai-key: {{type: openai, model: toy, base_url: "http://{host}/v1",
               api_key_env: TG_SWEEP_KEY, {common}}}
  openai-key-sdk: {{type: openai, model: toy, base_url: "http://{host}/v1",
                   api_key_env: TG_SWEEP_KEY, transport: sdk, {common}}}
  openai-basic-sdk: {{type: openai, model: toy, transport: sdk,
                     base_url: "http://{USER}:{PASSWORD2}@{host}/v1", {common}}}
  http-header: {{type: http, url: "http://{host}/classify",
                headers: {{x-api-key: "${{TG_SWEEP_HEADER}}"}}, {common}}}
  http-header-sdk: {{type: http, url: "http://{host}/classify", transport: sdk,
                    headers: {{x-api-key: "${{TG_SWEEP_HEADER}}"}}, {common}}}
  http-basic: {{type: http, url: "http://{USER}:{PASSWORD}@{host}/classify", {common}}}
  http-query: {{type: http, url: "http://{host}/classify?x=1&token={query}", {common}}}
  http-query-sdk: {{type: http, url: "http://{host}/classify?token={query2}",
                   transport: sdk, {common}}}
compare: {{candidate: http-header, baselines: [openai-key]}}
"""
    )
    return folder / "tunegate.yaml"


def fragments(canary: str) -> set[str]:
    """Every piece of four or more characters of each form of ``canary`` that tunegate
    sends or a server prints: as is, percent-encoded, and base64 (after ``tguser:`` in
    Basic auth, and alone at each of base64's three alignments)."""
    forms = {canary, quote(canary, safe=""), quote(canary)}
    pieces = {f[i:j] for f in forms for i in range(len(f)) for j in range(i + 4, len(f) + 1)}
    for before in (f"{USER}:", "", "a", "ab"):
        token = base64.b64encode(f"{before}{canary}".encode()).decode()
        free = -(-len(before) * 8 // 6)  # characters that depend on ``before`` (in part)
        pieces |= {
            token[i:j]
            for i in range(len(token))
            for j in range(max(i + 4, free + 1), len(token) + 1)
        }
    return pieces


def test_no_fragment_of_a_secret_at_any_offset_around_any_cut(tmp_path: Path) -> None:
    env = {**os.environ, "TG_SWEEP_KEY": KEY, "TG_SWEEP_HEADER": HEADER}
    with echo_server() as server:
        host = f"127.0.0.1:{server.server_address[1]}"
        (tmp_path / "project").mkdir()
        config = write_project(tmp_path / "project", host)
        out = tmp_path / "out"
        reports = [f"--{k}={out / f'r.{ext}'}" for k, ext in REPORTS.items()]
        proc = subprocess.run(
            [TUNEGATE, "run", config, f"--store={out / 't.db'}", *reports, "--no-gate"],
            env=env,
            capture_output=True,
            timeout=600,
        )
        placements = server.placements
    assert proc.returncode in (0, 1, 3), proc.stderr.decode()[-3000:]
    errors = _stored_errors(out / "t.db")

    # Every placement reached the server, and every probe was an error of its model.
    probes = len(MODES) * len(OFFSETS)
    assert {m: len(e) for m, e in errors.items()} == dict.fromkeys(errors, probes)
    assert len(errors) == 8
    assert placements == 8 * probes
    files = sorted(p for p in out.rglob("*") if p.is_file())
    assert {p.name for p in files} >= {"t.db", "r.json", "r.md", "r.html"}
    searched = [(p.name, p.read_bytes()) for p in files]
    searched += [("stdout", proc.stdout), ("stderr", proc.stderr)]
    pieces = {c: [f.encode() for f in fragments(c)] for c in CANARIES}
    found = [
        (name, canary, piece)
        for name, data in searched
        for grams in [{data[i : i + 4] for i in range(len(data) - 3)}]  # one pass a file
        for canary, of_canary in pieces.items()
        for piece in of_canary
        if piece[:4] in grams and piece in data
    ]
    assert found == [], f"{len(found)} fragments found, e.g. {found[:5]}"
    # The offsets are aligned on the cuts: a credential starting right at the cut leaves
    # exactly the padding before it (this is where the text was cut) ...
    for model in ("openai-key", "http-header", "http-basic", "http-query", "http-header-sdk"):
        for mode, cut in MODES.items():
            if model.endswith("-sdk") and mode not in ("status", "decoded", "nonjson"):
                continue
            kept = cut - prefix(mode, model.startswith("openai"))
            message = errors[model][case_text(mode, 0)]
            assert "." * kept in message, (model, message)
            assert "." * (kept + 1) not in message, (model, message)
            # ... and one that starts four characters before it is masked, not cut.
            assert "***" in errors[model][case_text(mode, -4)], (model, mode)

    total = sum(len(data) for _, data in searched)
    print(
        f"secrets at the cuts: {placements} placements ({len(MODES)} modes x {len(OFFSETS)}"
        f" offsets x 8 models), {sum(len(p) for p in pieces.values())} fragments searched"
        f" in {len(searched)} files/streams ({total} bytes): {len(found)} found"
    )


def _stored_errors(db: Path) -> dict[str, dict[str, str]]:
    with sqlite3.connect(db) as con:
        rows = con.execute(
            "SELECT model, case_id, error FROM responses WHERE error IS NOT NULL"
        ).fetchall()
    errors: dict[str, dict[str, str]] = {}
    for model, case_id, error in rows:
        errors.setdefault(model, {})[case_id] = error
    return errors
