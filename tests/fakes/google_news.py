"""Google News RSS, as its search feeds write it: article tokens and items."""

from __future__ import annotations

import base64
import html
from datetime import datetime
from email.utils import format_datetime


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        low, n = n & 0x7F, n >> 7
        out.append(low | (0x80 if n else 0))
        if not n:
            return bytes(out)


def google_token(url: str, amp: str | None = None) -> str:
    """An article token as older Google News links carry it: field 1 = 19, field 4 the URL,
    optionally field 26 the AMP URL; URL-safe base64 without padding."""
    message = b"\x08\x13\x22" + _varint(len(url.encode())) + url.encode()
    if amp is not None:
        message += b"\xd2\x01" + _varint(len(amp.encode())) + amp.encode()
    return base64.urlsafe_b64encode(message).decode().rstrip("=")


def google_news_item(
    title: str, outlet: str, outlet_url: str, article_url: str, published: datetime
) -> str:
    """One <item> of a Google News feed: the title with " - Outlet", the article's link through
    Google, a description that repeats title and outlet, and <source>."""
    token = google_token(article_url)
    link = f"https://news.google.com/rss/articles/{token}?oc=5"
    description = (
        f'<a href="{link}" target="_blank">{html.escape(title, quote=False)}</a>&nbsp;&nbsp;'
        f'<font color="#6f6f6f">{html.escape(outlet, quote=False)}</font>'
    )
    return (
        f"<item><title>{html.escape(f'{title} - {outlet}', quote=False)}</title>"
        f'<link>{link}</link><guid isPermaLink="false">{token}</guid>'
        f"<pubDate>{format_datetime(published, usegmt=True)}</pubDate>"
        f"<description>{html.escape(description, quote=False)}</description>"
        f'<source url="{html.escape(outlet_url)}">{html.escape(outlet, quote=False)}</source>'
        "</item>"
    )
