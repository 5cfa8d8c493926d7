"""A web address given on the command line (``--base-url``, ``--label-studio``)."""

from __future__ import annotations

from urllib.parse import SplitResult, urlsplit


def web_address(url: str) -> SplitResult | None:
    """``url`` (stripped, without a trailing /) split, if it is http or https with a host
    and a valid port; else None. What else it may hold is the caller's to check."""
    try:
        parts = urlsplit(url.strip().rstrip("/"))
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return parts
