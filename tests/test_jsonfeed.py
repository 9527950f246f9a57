"""JSON Feed documents into Items: golden feeds, error values, and never a crash on odd JSON."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from watchers.items import ParsedFeed
from watchers.jsonfeed import looks_like_json_feed, parse_json_feed
from watchers.parse import parse_feed

V1 = "https://jsonfeed.org/version/1"
V11 = "https://jsonfeed.org/version/1.1"
FEED_URL = "https://example.org/feeds/main.json"

FEED_1_0 = {
    "version": V1,
    "title": "Kuril  News\n",
    "home_page_url": "https://example.org/",
    "feed_url": FEED_URL,
    "author": {"name": "Desk"},
    "items": [
        {
            "id": "kn-1",
            "url": "https://www.example.org/2020/07/talks?utm_source=feed",
            "title": "Japan to continue peace treaty talks",
            "content_text": "Motegi said talks go on.\n\n\nNo date was set.",
            "summary": "Talks go on.",
            "date_published": "2020-07-10T09:30:00+03:00",
        },
        {
            "id": "kn-2",
            "external_url": "https://tass.com/world/2",
            "content_html": "<p>A link post about the <b>Kurils</b>.</p>",
            "date_modified": "2020-07-11T01:02:03Z",
        },
    ],
}

FEED_1_1 = {
    "version": V11,
    "title": "Хроника",
    "home_page_url": "https://example.org/news/",
    "feed_url": FEED_URL,
    "language": "ru",
    "authors": [{"name": "A. Author", "url": "https://example.org/a"}],
    "items": [
        {
            "id": 42,
            "url": "2024/kurils.html",
            "title": "Kurils & <the> treaty",
            "content_html": (
                "<p>Motegi &amp; Lavrov said &ldquo;talks&rdquo; go on.</p>"
                '<script>track("&lt;x&gt;")</script>'
                "<p>Caf&eacute; &#8212; 5 &lt; 6</p>"
            ),
            "summary": "Short.",
            "date_published": "2024-03-01T12:00:00.123456789-05:00",
            "authors": [{"name": "B. Author"}],
        },
        {
            "url": "/2024/no-id/",
            "title": "No id here",
            "language": "en-US",
            "date_published": "yesterday",
            "date_modified": "2024-03-02T00:00:00Z",
        },
        {"content_text": "Only text, no id, title or url"},
        {"id": "empty", "title": "", "content_html": "<script>x()</script>", "url": ""},
        {"id": 7.5, "title": "A float id", "url": "mailto:desk@example.org"},
    ],
}


def parse(document: Any, url: str = FEED_URL) -> ParsedFeed:
    return parse_json_feed(json.dumps(document).encode(), feed_id="kn", url=url)


def one_item_feed(**fields: Any) -> dict[str, Any]:
    return {"version": V11, "title": "t", "items": [fields]}


def test_json_feed_1_0_items_are_normalised() -> None:
    parsed = parse(FEED_1_0)
    assert parsed.error is None
    assert parsed.title == "Kuril News"
    first, second = parsed.items
    assert first.feed_id == "kn"
    assert first.guid == "kn-1"
    assert first.link == "https://www.example.org/2020/07/talks?utm_source=feed"
    assert first.canonical_url == "https://example.org/2020/07/talks"
    assert first.title == "Japan to continue peace treaty talks"
    # the longest text wins over the short summary
    assert first.summary == "Motegi said talks go on.\n\nNo date was set."
    assert first.published == datetime(2020, 7, 10, 6, 30, tzinfo=UTC)
    assert first.lang is None
    # a link post: external_url stands in for the missing url, the text for the missing title
    assert second.guid == "kn-2"
    assert second.link == "https://tass.com/world/2"
    assert second.title == "A link post about the Kurils."
    assert second.summary == "A link post about the Kurils."
    assert second.published == datetime(2020, 7, 11, 1, 2, 3, tzinfo=UTC)


def test_json_feed_1_1_items_are_normalised() -> None:
    parsed = parse(FEED_1_1)
    assert parsed.error is None
    assert parsed.title == "Хроника"
    numeric, no_id, text_only, float_id = parsed.items
    assert numeric.guid == "42"
    # relative URLs resolve against the home page
    assert numeric.link == "https://example.org/news/2024/kurils.html"
    assert numeric.title == "Kurils & <the> treaty"  # titles are plain text: nothing unescaped
    assert numeric.summary == "Motegi & Lavrov said “talks” go on.\n\nCafé — 5 < 6"
    assert "track" not in numeric.summary
    assert numeric.published == datetime(2024, 3, 1, 17, 0, 0, 123456, tzinfo=UTC)
    assert numeric.lang == "ru"
    # no id: the canonical URL is the guid; an invalid date_published gives way to date_modified
    assert no_id.guid == "https://example.org/2024/no-id"
    assert no_id.link == "https://example.org/2024/no-id/"
    assert no_id.lang == "en-US"
    assert no_id.published == datetime(2024, 3, 2, tzinfo=UTC)
    # neither id nor url: a content hash, as for RSS
    assert text_only.guid.startswith("sha256:") and len(text_only.guid) == 39
    assert text_only.title == "Only text, no id, title or url"
    assert text_only.link is None and text_only.published is None
    # a mailto: url is no link; the item with no title, text or url is skipped
    assert float_id.guid == "7.5"
    assert float_id.link is None and float_id.title == "A float id"


def test_same_text_gets_the_same_content_key() -> None:
    first = parse(one_item_feed(content_text="Same text")).items[0]
    again = parse(one_item_feed(content_text="Same text")).items[0]
    other = parse(one_item_feed(content_text="Other text")).items[0]
    assert first.guid == again.guid != other.guid


@pytest.mark.parametrize(
    ("value", "guid"),
    [
        (42, "42"),
        (-1, "-1"),
        (1.5, "1.5"),
        ("  kn-9 ", "kn-9"),
        (True, "https://example.org/9"),
        ("   ", "https://example.org/9"),
        (None, "https://example.org/9"),
        ([9], "https://example.org/9"),
    ],
)
def test_ids_are_strings_and_fall_back_to_the_url(value: object, guid: str) -> None:
    item = parse(one_item_feed(id=value, title="t", url="https://example.org/9/")).items[0]
    assert item.guid == guid


def test_malformed_url_is_no_link() -> None:
    item = parse(one_item_feed(id="1", title="t", url="http://[::1/x")).items[0]
    assert item.link is None and item.canonical_url is None


def test_relative_url_without_a_home_page_resolves_against_the_feed_url() -> None:
    parsed = parse(one_item_feed(id="1", url="../story/1?x=1"))
    assert parsed.items[0].link == "https://example.org/story/1?x=1"
    assert parsed.items[0].canonical_url == "https://example.org/story/1?x=1"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-03-01T12:00:00Z", datetime(2024, 3, 1, 12, tzinfo=UTC)),
        ("2024-03-01t12:00:00z", datetime(2024, 3, 1, 12, tzinfo=UTC)),
        ("2024-03-01 12:00:00+09:00", datetime(2024, 3, 1, 3, tzinfo=UTC)),
        ("2024-03-01T12:00:00+0900", datetime(2024, 3, 1, 3, tzinfo=UTC)),
        ("2024-03-01T12:00:00", datetime(2024, 3, 1, 12, tzinfo=UTC)),
        ("2024-03-01", datetime(2024, 3, 1, tzinfo=UTC)),
        ("2016-12-31T23:59:60Z", datetime(2017, 1, 1, tzinfo=UTC)),
        (" 2024-03-01T12:00Z ", datetime(2024, 3, 1, 12, tzinfo=UTC)),
        ("2024-02-30T12:00:00Z", None),
        ("2024-03-01T25:00:00Z", None),
        ("2024-03-01T12:00:00+24:00", None),
        ("0001-01-01T00:00:00+01:00", None),
        ("Fri, 01 Mar 2024 12:00:00 GMT", None),
        ("٢٠٢٤-٠٣-٠١", None),
        ("", None),
        (1709294400, None),
        (None, None),
    ],
)
def test_dates(value: object, expected: datetime | None) -> None:
    item = parse(one_item_feed(id="1", title="t", date_published=value)).items[0]
    assert item.published == expected
    assert item.published is None or item.published.tzinfo is UTC


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "not a feed: invalid JSON (Expecting value"),
        (b'{"version": "https://jsonfeed.org/version/1.1", "items": [', "not a feed: invalid JSON"),
        (b'{"version": "\xff\xfe", "items": []}', "not a feed: invalid JSON (not UTF-8"),
        (b"[" * 100_000 + b"]" * 100_000, "not a feed: invalid JSON (nested too deeply)"),
        (
            b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
            "not a feed: invalid JSON (nested too deeply)",
        ),
        (b"<?xml version='1.0'?><rss/>", "not a feed: invalid JSON"),
        (b'{"id": ' + b"9" * 5000 + b"}", "not a feed: invalid JSON (Exceeds the limit"),
        (b'{"items": [{"id": "1", "title": "t"}]}', "not a feed: JSON without a JSON Feed version"),
        (b'{"version": 1.1, "items": []}', "not a feed: JSON without a JSON Feed version"),
        (b'{"version": "1.1", "items": []}', "not a feed: JSON without a JSON Feed version"),
        (b'[{"version": "https://jsonfeed.org/version/1"}]', "not a feed: JSON without a"),
        (b'"https://jsonfeed.org/version/1"', "not a feed: JSON without a JSON Feed version"),
        (
            b'{"version": "https://jsonfeed.org/version/1"}',
            "not a feed: JSON Feed without an items",
        ),
        (
            b'{"version": "https://jsonfeed.org/version/1", "items": {}}',
            "not a feed: JSON Feed without an items list",
        ),
    ],
)
def test_what_is_not_a_json_feed_is_an_error_value(content: bytes, message: str) -> None:
    parsed = parse_json_feed(content, feed_id="kn", url=FEED_URL)
    assert parsed.items == () and parsed.title is None
    assert parsed.error is not None and parsed.error.startswith(message)


def test_utf8_bom_and_version_variants_are_accepted() -> None:
    for version in (
        V1,
        V11,
        "https://www.jsonfeed.org/version/1.1",
        "http://jsonfeed.org/version/1",
    ):
        document = {"version": version, "items": [{"id": "1", "title": "Ok"}]}
        parsed = parse_json_feed(
            b"\xef\xbb\xbf" + json.dumps(document).encode(), feed_id="kn", url=FEED_URL
        )
        assert parsed.error is None, version
        assert [item.title for item in parsed.items] == ["Ok"]


def test_wrongly_typed_fields_are_ignored() -> None:
    document = {
        "version": V11,
        "title": 5,
        "home_page_url": ["https://evil.example/"],
        "language": {"code": "ru"},
        "items": [
            1,
            None,
            "x",
            [],
            {"id": True, "url": 5, "title": ["t"], "content_html": {"a": 1}, "language": 3},
            {"id": {"nested": [1, [2, [3]]]}, "title": "Kept", "date_published": [2024]},
            {"id": None, "summary": 3.5, "content_text": False, "external_url": {}},
        ],
    }
    parsed = parse(document)
    assert parsed.error is None
    assert parsed.title is None
    (item,) = parsed.items
    assert item.title == "Kept"
    assert item.guid.startswith("sha256:")
    assert item.lang is None and item.published is None and item.link is None


def test_empty_items_list_is_a_feed_without_items() -> None:
    parsed = parse({"version": V11, "title": "Quiet", "items": []})
    assert parsed == ParsedFeed("Quiet", ())


def test_at_most_1000_items_are_read() -> None:
    document = {"version": V11, "items": [{"id": str(n), "title": f"n{n}"} for n in range(1500)]}
    parsed = parse(document)
    assert len(parsed.items) == 1000
    assert parsed.items[-1].guid == "999"


def test_long_fields_are_capped() -> None:
    item = parse(one_item_feed(id="i" * 5000, title="t" * 5000, content_text="s" * 50_000)).items[0]
    assert len(item.guid) == 2000
    assert len(item.title) == 1000
    assert len(item.summary) == 20_000


def test_lone_surrogates_are_replaced() -> None:
    content = b'{"version": "https://jsonfeed.org/version/1.1", "title": "a\\ud800", "items": [{"id": "\\udfff", "title": "b\\ud83d", "content_text": "\\ud83d\\ude00 ok"}]}'
    parsed = parse_json_feed(content, feed_id="kn", url=FEED_URL)
    (item,) = parsed.items
    assert parsed.title == "a\ufffd"
    assert (item.guid, item.title, item.summary) == ("\ufffd", "b\ufffd", "😀 ok")


def test_malformed_marked_section_in_html_does_not_crash() -> None:
    # html.parser raises AssertionError on `<![0`
    item = parse(one_item_feed(id="1", content_html="<p>a <![0 b</p>")).items[0]
    assert item.summary == "a <![0 b"


def test_moderately_nested_junk_inside_an_item_is_fine() -> None:
    junk: Any = "deep"
    for _ in range(200):
        junk = {"x": [junk]}
    parsed = parse(one_item_feed(id="1", title="t", _ext=junk, content_html=junk))
    assert [item.title for item in parsed.items] == ["t"]


@pytest.mark.parametrize(
    ("content", "content_type", "expected"),
    [
        (b"", "application/feed+json", True),
        (b"<rss/>", "application/json; charset=utf-8", True),
        (b"", " Application/Feed+JSON ;charset=UTF-8", True),
        (b'{"version": "x"}', None, True),
        (b' \r\n\t{"version": "x"}', "text/plain", True),
        (b'\xef\xbb\xbf  {"version": "x"}', "application/octet-stream", True),
        (b"<?xml version='1.0'?><rss/>", "application/rss+xml", False),
        (b"[1, 2]", None, False),
        (b"  <feed/>{", "text/xml", False),
        (b"", None, False),
        (b"\xef\xbb\xbf", "", False),
        (b"\xff\xfe{\x00", None, False),
        (b'{"a": 1}', "application/jsonp", True),
        (b"[]", "application/jsonp", False),
    ],
)
def test_looks_like_json_feed(content: bytes, content_type: str | None, expected: bool) -> None:
    assert looks_like_json_feed(content, content_type) is expected


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=25,
)
PLAUSIBLE = st.sampled_from(
    [
        "https://example.org/a",
        "/relative/b",
        "c?d=1",
        "//other.example/x",
        "javascript:alert(1)",
        "http://[::1",
        "2024-03-01T12:00:00Z",
        "9999-12-31T23:59:59-23:59",
        "<p>x &amp; <![y</p>",
        "",
        " ",
    ]
)
FIELD_VALUES = JSON_VALUES | PLAUSIBLE
ITEM_FIELDS = (
    "id",
    "url",
    "external_url",
    "title",
    "content_html",
    "content_text",
    "summary",
    "date_published",
    "date_modified",
    "language",
    "authors",
)
ITEMS = st.fixed_dictionaries({}, optional=dict.fromkeys(ITEM_FIELDS, FIELD_VALUES))
FEEDS = st.fixed_dictionaries(
    {"version": st.sampled_from([V1, V11]), "items": st.lists(ITEMS | JSON_VALUES, max_size=5)},
    optional=dict.fromkeys(("title", "home_page_url", "language"), FIELD_VALUES),
)
DOCUMENTS = (
    JSON_VALUES
    | FEEDS
    | st.builds(lambda items: {"version": V11, "items": items}, JSON_VALUES)
    | st.builds(lambda item: {"version": V1, "items": [item]}, JSON_VALUES)
)


def assert_well_formed(parsed: ParsedFeed) -> None:
    assert parsed.error is None or (parsed.items == () and parsed.error.startswith("not a feed"))
    assert parsed.title is None or (isinstance(parsed.title, str) and parsed.title)
    for item in parsed.items:
        assert isinstance(item.guid, str) and item.guid.strip()
        assert isinstance(item.title, str) and item.title
        assert isinstance(item.summary, str)
        assert item.link is None or item.link.startswith(("http://", "https://"))
        assert item.published is None or item.published.tzinfo is UTC
        assert item.lang is None or (isinstance(item.lang, str) and item.lang)
        assert item.feed_id == "kn"
        # everything must survive the trip to SQLite and Telegram as UTF-8
        for text in (item.guid, item.title, item.summary, item.link or "", item.lang or ""):
            text.encode()


@settings(max_examples=400, deadline=None)
@given(DOCUMENTS, st.sampled_from([FEED_URL, "", "not a url", "http://[::1"]))
def test_any_json_document_parses_without_raising(document: Any, url: str) -> None:
    content = json.dumps(document).encode()
    parsed = parse_json_feed(content, feed_id="kn", url=url)
    assert_well_formed(parsed)
    # whatever reads as a JSON Feed is taken for one without a Content-Type, and parse_feed
    # (the daemon's entry point) gives the same reading
    if parsed.error is None:
        assert looks_like_json_feed(content, None)
        assert parse_feed(content, feed_id="kn", url=url) == parsed


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_any_bytes_parse_without_raising(content: bytes) -> None:
    parsed = parse_json_feed(content, feed_id="kn", url=FEED_URL)
    assert_well_formed(parsed)
    # taken for JSON exactly when the bytes open an object (after a BOM and blanks); bytes
    # that do not are never a JSON Feed
    opens_object = content.removeprefix(b"\xef\xbb\xbf").lstrip(b" \t\r\n").startswith(b"{")
    assert looks_like_json_feed(content, None) == opens_object
    if not opens_object:
        assert parsed.error is not None and parsed.items == ()


def test_control_characters_and_direction_overrides_do_not_reach_an_items_text() -> None:
    """A JSON Feed carries any character: an escape sequence in a title reached the
    console-mode operator's terminal (retitling it, colouring what followed), and a
    right-to-left override turned the rest of an alert's line around."""
    [item] = parse(
        one_item_feed(
            id="1",
            url="https://n.example/1",
            title="Iturup\x1b]0;owned\x07 fog \x1b[31mred \u202eenil",
            content_text="Fog\x00 closes\x1b[2J the airport.\nAgain\x9b tomorrow.",
        )
    ).items
    for text in (item.title, item.summary):
        assert not any(c in text for c in "\x00\x07\x1b\x9b\u202e"), repr(text)
    assert item.title == "Iturup]0;owned fog [31mred enil"
    assert item.summary == "Fog closes[2J the airport.\nAgain tomorrow."
