"""Feeds whose bytes are not in the charset they declare: read right, by both parse paths."""

from __future__ import annotations

import pytest

from tests.fakes.feed_server import FeedEntry, rss
from watchers.charset import read_charset
from watchers.fastrss import parse_simple_rss
from watchers.parse import parse_feed, parse_with_feedparser
from watchers.text import one_line

URL = "https://n.example/rss"
RU = [
    FeedEntry(
        "Курильские острова: новый аэропорт на Итурупе",
        "https://n.example/1",
        summary="Правительство России объявило о строительстве нового терминала.",
    ),
    FeedEntry(
        "Переговоры о мирном договоре с Японией",
        "https://n.example/2",
        summary="Министр иностранных дел заявил, что переговоры продолжатся.",
    ),
]
JA = [
    FeedEntry(
        "北方領土で新しい空港",
        "https://n.example/1",
        summary="ロシア政府は択捉島に新しいターミナルを建設すると発表した。",
    ),
    FeedEntry(
        "日露平和条約交渉", "https://n.example/2", summary="外務大臣は交渉を継続すると述べた。"
    ),
]
UTF8_HEADER = {"content-type": "application/rss+xml; charset=utf-8"}
NO_CHARSET = {"content-type": "application/rss+xml"}


@pytest.mark.parametrize(
    ("entries", "encoding"),
    [(RU, "cp1251"), (RU, "koi8-r"), (RU, "iso-8859-5"), (JA, "shift_jis"), (JA, "euc-jp")],
)
@pytest.mark.parametrize("headers", [UTF8_HEADER, NO_CHARSET], ids=["header", "prolog"])
def test_a_feed_that_declares_utf8_but_is_not_is_read_in_its_real_charset(
    entries: list[FeedEntry], encoding: str, headers: dict[str, str]
) -> None:
    """The document says utf-8 (in its prolog, and with `header` in Content-Type too) but its
    bytes are in another charset: its text comes out as written, not as mojibake."""
    utf8 = rss(entries)
    wrong = utf8.decode().encode(encoding)
    parsed = parse_feed(wrong, feed_id="f", url=URL, headers=headers)
    assert [i.title for i in parsed.items] == [e.title for e in entries]
    assert [i.summary for i in parsed.items] == [e.summary for e in entries]
    # both parse paths read it alike, and as they read the same feed sent in UTF-8
    fast = parse_simple_rss(utf8, feed_id="f", url=URL, headers=UTF8_HEADER)
    assert fast is not None
    slow = parse_with_feedparser(utf8, feed_id="f", url=URL, headers=UTF8_HEADER)
    assert parsed.items == fast.items == slow.items
    assert "declared utf-8" in (parsed.warning or "")


def test_a_feed_that_decodes_under_its_declared_charset_is_never_second_guessed() -> None:
    """KOI8-R decodes any bytes: a feed that says so is read so, even when its bytes look
    like UTF-8 (the operator sees the mojibake and tells the outlet; we do not guess)."""
    headers = {"content-type": "application/rss+xml; charset=koi8-r"}
    document = rss(RU).replace(b'encoding="utf-8"', b'encoding="koi8-r"')
    parsed = parse_feed(document, feed_id="f", url=URL, headers=headers)
    assert [i.title for i in parsed.items] == [
        one_line(e.title.encode().decode("koi8-r")) for e in RU
    ]
    assert read_charset(document, headers) == (document, headers, None)


def test_a_utf8_feed_with_a_stray_byte_keeps_its_text() -> None:
    """One broken byte in a UTF-8 feed (a cut multi-byte character) costs that character
    only, not every other letter of the feed read as cp1252."""
    document = rss(RU).replace("аэропорт".encode(), "аэропор".encode() + b"\xff", 1)
    parsed = parse_feed(document, feed_id="f", url=URL, headers=UTF8_HEADER)
    first, second = parsed.items
    assert first.title == "Курильские острова: новый аэропор\ufffd на Итурупе"
    assert second.title == RU[1].title and second.summary == RU[1].summary


def test_a_utf8_feed_is_given_back_as_it_came() -> None:
    document = rss(JA)
    assert read_charset(document, UTF8_HEADER) == (document, UTF8_HEADER, None)
    assert read_charset(document.decode().encode("utf-16"), {}) == (
        document.decode().encode("utf-16"),
        {},
        None,
    )


@pytest.mark.parametrize(
    ("encoding", "mark"),
    [
        ("utf-8", b"\xef\xbb\xbf"),
        ("utf-16le", b"\xff\xfe"),
        ("utf-16be", b"\xfe\xff"),
        ("utf-32le", b"\xff\xfe\x00\x00"),
        ("utf-32be", b"\x00\x00\xfe\xff"),
    ],
    ids=["utf-8", "utf-16le", "utf-16be", "utf-32le", "utf-32be"],
)
@pytest.mark.parametrize(
    ("content_type", "named"),
    [
        ("text/xml; charset=windows-1251", "windows-1251"),
        ("application/rss+xml; charset=koi8-r", "koi8-r"),
        ("text/xml", None),  # us-ascii, by RFC 3023
    ],
)
def test_a_byte_order_mark_says_the_charset_over_the_content_type(
    encoding: str, mark: bytes, content_type: str, named: str | None
) -> None:
    """RFC 7303 3.3: a Russian host's default charset for every file (windows-1251) garbled
    a UTF-8 feed with a byte order mark, and text/xml's default made a UTF-16 one 'not a
    feed'."""
    text = rss(RU).decode().replace('encoding="utf-8"', f'encoding="{encoding[:6]}"')
    document = mark + text.encode(encoding)
    parsed = parse_feed(document, feed_id="f", url=URL, headers={"content-type": content_type})
    assert parsed.error is None
    assert [i.title for i in parsed.items] == [e.title for e in RU]
    if named is not None:
        assert parsed.warning == f"declared {named} but its byte order mark says {encoding}"
