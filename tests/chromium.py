"""Debian's chromium driven by Playwright, for the tests marked ``browser``.

Playwright's own browser download does not work here: the tests launch the system's
``chromium`` (installed by scripts/install-chromium.sh), headless, with the flags that
keep it off the network (background networking would be refused by the sandbox).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

CHROMIUM = shutil.which("chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]
#: Skips a test where chromium is absent, with the reason.
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed")


@contextmanager
def launched() -> Iterator[Any]:
    """A headless chromium (a Playwright ``Browser``), closed afterwards."""
    if CHROMIUM is None:
        pytest.skip("Debian's chromium is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield browser
        finally:
            browser.close()
