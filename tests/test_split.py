"""Long messages split into parts Telegram accepts: within the limit, balanced, the text kept."""

from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st

from bot.delivery.split import split_html
from tests.fakes.telegram_api import parse_html, utf16_len

words = st.text(alphabet="abc xyz&<>\"'éяж日本😀𝐁", min_size=1, max_size=30).map(
    lambda s: s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
)
piece = st.one_of(
    words,
    words.map(lambda w: f"<b>{w}</b>"),
    words.map(lambda w: f'<a href="https://e.example/?a=1&amp;b=2"><b>{w}</b></a>'),
    words.map(lambda w: f"<i>{w} <b>{w}</b></i>"),
    st.sampled_from(["\n", "\n\n", " "]),
)


def visible(html: str) -> str:
    return "".join(parse_html(html).text.split())


@settings(max_examples=200, deadline=None)
@given(pieces=st.lists(piece, max_size=200), limit=st.integers(min_value=120, max_value=600))
@example(  # a part that starts inside reopened tags must close them too
    pieces=[
        '<a href="https://e.example/?a=1&amp;b=2"><b>&lt;</b></a>',
        '<a href="https://e.example/?a=1&amp;b=2"><b>' + "&lt;" * 21 + "</b></a>",
    ],
    limit=120,
)
def test_parts_fit_parse_and_keep_the_text(pieces: list[str], limit: int) -> None:
    text = "".join(pieces)
    parts = split_html(text, limit)
    for part in parts:
        assert utf16_len(part) <= limit  # Telegram's length: 😀 and 𝐁 count two
        parse_html(part)  # raises on unbalanced tags or a cut entity
    assert "".join(visible(p) for p in parts) == visible(text)


def test_breaks_at_paragraphs_first() -> None:
    alerts = [f"<b>Alert {n}</b>\nLine one of {n}.\nLine two of {n}." for n in range(40)]
    parts = split_html("\n\n".join(alerts), 200)
    assert all(p.startswith("<b>Alert") for p in parts)  # each part starts with a whole alert
    assert sum(p.count("<b>Alert") for p in parts) == 40
