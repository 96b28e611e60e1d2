"""Job instructions are Markdown written by requesters and read by workers: rendered with Python-Markdown and then
sanitised with nh3 (Rust's ammonia), so that no script, handler or style of the author's reaches a reader's page."""

import markdown as md
import nh3
from django.utils.safestring import SafeString, mark_safe

# What instructions may use: text structure, emphasis, lists, tables, code, links and images (http(s) only).
ALLOWED_TAGS = {
    *("p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "code"),
    *("em", "strong", "del", "ul", "ol", "li", "a", "img", "table", "thead", "tbody", "tr", "th", "td"),
}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt", "title"}, "th": {"align"}, "td": {"align"}}


def markdown_html(text: str) -> SafeString:
    """The instructions as HTML fit for a page: Markdown rendered, then everything outside the allow-list dropped."""
    html = md.markdown(text or "", extensions=["tables", "fenced_code", "sane_lists"])
    clean = nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )
    return mark_safe(clean)  # noqa: S308 - nh3 has just removed everything outside the allow-list
