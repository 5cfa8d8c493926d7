"""Old import path of the BFCL source (tests and the tool-calling example's README use it):
it lives in :mod:`tunegate.data.bfcl`."""

from __future__ import annotations

from tunegate.data.bfcl import NO_CALL_CATEGORIES, bfcl_category, load_bfcl, to_openai_tools

__all__ = ["NO_CALL_CATEGORIES", "bfcl_category", "load_bfcl", "to_openai_tools"]
