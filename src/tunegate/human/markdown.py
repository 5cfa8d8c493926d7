"""Markdown to safe HTML for the annotation pages: study instructions and model outputs.

CommonMark (markdown-it-py) with raw HTML off, so every ``<`` a text holds is shown as
text; images off (an output could otherwise make the annotator's browser fetch a URL);
a link only when it points to ``http://`` or ``https://`` (no ``javascript:``, ``data:``
or relative links), opened without referrer. Whatever is refused stays visible as text.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

from markupsafe import Markup

if TYPE_CHECKING:
    from markdown_it import MarkdownIt

__all__ = ["render_markdown"]

_SCHEMES = ("http://", "https://")


def _safe_link(url: str) -> bool:
    return url.strip().lower().startswith(_SCHEMES)


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.disable(["image", "html_block", "html_inline"])
    md.validateLink = _safe_link  # type: ignore[method-assign]

    def link_open(renderer: Any, tokens: Any, idx: int, options: Any, env: Any) -> str:
        tokens[idx].attrSet("rel", "noopener noreferrer nofollow")
        tokens[idx].attrSet("target", "_blank")
        return str(renderer.renderToken(tokens, idx, options, env))

    md.add_render_rule("link_open", link_open)
    return md


def render_markdown(text: str) -> Markup:
    """``text`` (Markdown) as HTML safe to put in a page as is."""
    return Markup(_parser().render(text))
