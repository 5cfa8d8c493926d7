"""A small client for Label Studio's REST API: read a project's export and the users,
create a project from a study and import its tasks.

The token is read by the CLI from an environment variable (``LABEL_STUDIO_API_KEY``) and
lives only in the client's headers: it is never written anywhere, and no message shows
it. Both kinds of Label Studio token work: a personal access token (a JWT, exchanged for
a short-lived access token at ``/api/token/refresh``) and a legacy token (``Authorization:
Token ...``). Every failure (unreachable, refused token, unknown project, an answer that
is not Label Studio's) is a :class:`LabelStudioError` with a message that says what to do.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tunegate import secrets
from tunegate.errors import TunegateError
from tunegate.human.address import web_address

if TYPE_CHECKING:
    import httpx

#: The environment variable the CLI reads the token from.
TOKEN_ENV = "LABEL_STUDIO_API_KEY"


class LabelStudioError(TunegateError):
    """Label Studio could not be reached or refused a request (exit 2)."""


def _base(url: str) -> str:
    text = url.strip().rstrip("/")
    parts = web_address(text)
    if parts is None:
        raise LabelStudioError(
            f"--label-studio {url!r}: give Label Studio's address, e.g. http://localhost:8080"
        )
    if parts.username or parts.password or parts.query or parts.fragment:
        raise LabelStudioError(
            "--label-studio: give the address only (no user, password, query or fragment); "
            f"the token comes from ${TOKEN_ENV}"
        )
    return text


def _is_jwt(token: str) -> bool:
    """A personal access token is a JWT (three base64url parts); a legacy token is hex."""
    return token.count(".") == 2 and token.startswith("ey")


class LabelStudio:
    """Label Studio at ``url`` (its root, e.g. ``http://localhost:8080``), as the owner of
    ``token``. ``transport`` replaces the network in tests."""

    def __init__(
        self,
        url: str,
        token: str,
        *,
        timeout: float = 60.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = _base(url)
        token = token.strip()
        if not token:
            raise LabelStudioError(f"${TOKEN_ENV} is empty: set it to a Label Studio token")
        secrets.remember(token)  # scrubbed from every message, should one ever echo it
        import httpx  # not on the CLI's start-up path

        self._client = httpx.Client(
            base_url=self.url, timeout=timeout, transport=transport, follow_redirects=False
        )
        if _is_jwt(token):
            access = self._call("POST", "/api/token/refresh/", json={"refresh": token})
            if not isinstance(access, dict) or not isinstance(access.get("access"), str):
                raise LabelStudioError(
                    f"{self.url}: no access token for the personal access token in ${TOKEN_ENV}"
                )
            self._client.headers["Authorization"] = f"Bearer {access['access']}"
        else:
            self._client.headers["Authorization"] = f"Token {token}"

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> LabelStudio:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        import httpx

        where = f"{self.url}{path}"
        try:
            response = self._client.request(method, path, **kwargs)
        except httpx.TimeoutException:
            raise LabelStudioError(f"{where}: Label Studio did not answer in time") from None
        except httpx.HTTPError as exc:
            reason = type(exc).__name__
            raise LabelStudioError(
                f"{self.url}: cannot reach Label Studio ({reason}): is it running there?"
            ) from None
        code = response.status_code
        if code in (401, 403):
            raise LabelStudioError(
                f"{where}: Label Studio refused the token in ${TOKEN_ENV} (HTTP {code}): use "
                "an access token from Account & Settings (a legacy token works only where "
                "the organization allows legacy tokens)"
            )
        if code == 404:
            raise LabelStudioError(
                f"{where}: not found (HTTP 404): is {self.url} Label Studio's address, and "
                "does the project exist there?"
            )
        if 300 <= code < 400:
            raise LabelStudioError(
                f"{where}: redirected (HTTP {code}): is {self.url} Label Studio's address?"
            )
        if code >= 400:
            raise LabelStudioError(f"{where}: HTTP {code}: {_detail(response)}")
        try:
            return response.json()
        except ValueError:
            raise LabelStudioError(
                f"{where}: the answer is not JSON: is {self.url} Label Studio's address?"
            ) from None

    def version(self) -> str:
        """The server's release (``GET /api/version``)."""
        data = self._call("GET", "/api/version")
        return str(data.get("release", "?")) if isinstance(data, dict) else "?"

    def users(self) -> list[dict[str, Any]]:
        """The organization's users (``GET /api/users``): ids, emails, usernames."""
        data = self._call("GET", "/api/users/")
        rows = data.get("results") if isinstance(data, dict) else data
        if not isinstance(rows, list):
            raise LabelStudioError(f"{self.url}/api/users/: not a list of users")
        return rows

    def export(self, project: int) -> list[dict[str, Any]]:
        """The project's annotated tasks, as the Export button's JSON (``completed_by`` is
        a user id)."""
        path = f"/api/projects/{project}/export"
        data = self._call("GET", path, params={"exportType": "JSON"})
        if not isinstance(data, list):
            raise LabelStudioError(f"{self.url}{path}: not a list of tasks")
        return data

    def create_project(self, title: str, label_config: str, description: str = "") -> int:
        """A new project with ``label_config``; its id."""
        body = {"title": title, "label_config": label_config, "description": description}
        data = self._call("POST", "/api/projects/", json=body)
        if not isinstance(data, dict) or not isinstance(data.get("id"), int):
            raise LabelStudioError(f"{self.url}/api/projects/: no project id in the answer")
        return int(data["id"])

    def import_tasks(self, project: int, tasks: list[dict[str, Any]]) -> int:
        """Imports ``tasks`` into the project; how many Label Studio took."""
        path = f"/api/projects/{project}/import"
        data = self._call("POST", path, json=tasks)
        count = data.get("task_count") if isinstance(data, dict) else None
        if not isinstance(count, int):
            raise LabelStudioError(f"{self.url}{path}: no task count in the answer")
        return count


def _detail(response: httpx.Response) -> str:
    """Label Studio's own reason (``detail``, validation errors), shortened."""
    try:
        data = response.json()
    except ValueError:
        return "the answer is not Label Studio's (not JSON)"
    if isinstance(data, dict):
        parts = [str(data.get("detail") or "")]
        if data.get("validation_errors"):
            parts.append(str(data["validation_errors"]))
        text = " ".join(p for p in parts if p)
    else:
        text = str(data)
    return secrets.redact_known(text)[:300] or "no reason given"
