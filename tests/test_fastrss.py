"""The RSS fast path gives exactly what feedparser's reading gives, wherever it accepts a
document: on every file of feedparser's own test suite, on real news feeds, and on generated
feeds; and it does accept the plain UTF-8 RSS 2.0 that most news sites serve."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from feedparser.urls import _urljoin
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import shared
from tests.fakes.feed_server import FeedEntry, rss
from watchers.fastrss import _join, parse_simple_rss
from watchers.items import ParsedFeed
from watchers.parse import parse_feed, parse_with_feedparser

URL = "http://example.com/feeds/news.xml"
HEADERS = [
    {"content-type": "application/rss+xml"},
    {"content-type": "application/rss+xml; charset=utf-8"},
    {"content-type": "text/xml; charset=UTF-8", "content-language": "ru_RU"},
    {"content-type": "text/xml"},  # us-ascii by RFC 3023: left to feedparser
    {},  # feedparser warns of a missing type: left to it
    # relative links resolve against the document's own URL, also when given relative
    {"content-type": "application/rss+xml", "content-location": "https://cdn.example/a/b.xml"},
    {"content-type": "application/rss+xml", "content-location": "/mirror/feed.xml"},
]


def both(content: bytes, headers: dict[str, str]) -> tuple[object, object]:
    fast = parse_simple_rss(content, feed_id="f", url=URL, headers=headers)
    slow = parse_with_feedparser(content, feed_id="f", url=URL, headers=headers)
    return fast, slow


def test_agrees_with_feedparser_on_the_whole_corpus() -> None:
    corpus = shared("corpus")
    accepted = 0
    disagreements = []
    for path in sorted(p for p in corpus.rglob("*") if p.is_file() and p.name != "LICENSE"):
        content = path.read_bytes()
        for headers in HEADERS:
            fast, slow = both(content, headers)
            if fast is None:
                continue
            accepted += 1
            if fast != slow:
                disagreements.append(f"{path.relative_to(corpus)} {headers}")
    assert not disagreements, "\n".join(disagreements[:20])
    assert accepted >= 100  # the comparison covered a real share of the corpus


@pytest.mark.parametrize("headers", HEADERS[:3])
def test_accepts_plain_utf8_rss(headers: dict[str, str]) -> None:
    entries = [
        FeedEntry(
            "Итуруп: новый аэропорт",
            "https://tass.ru/x/1?utm_source=rss",
            guid="1",
            summary="<p>Аэропорт <b>открыт</b>.</p>",
            published=datetime(2026, 11, 26, 8, 30, tzinfo=UTC),
        ),
        FeedEntry("北方領土", "https://www3.nhk.or.jp/news/2", summary="択捉島で訓練"),
    ]
    content = rss(entries, title="TASS", language="ru", ttl=15)
    fast, slow = both(content, headers)
    assert fast is not None and fast == slow
    assert fast.items[0].canonical_url == "https://tass.ru/x/1"
    assert fast.ttl == 15


def test_declines_what_only_feedparser_reads() -> None:
    atom = b'<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title></feed>'
    latin1 = b'<?xml version="1.0" encoding="iso-8859-1"?><rss version="2.0"><channel/></rss>'
    broken = b'<rss version="2.0"><channel><item><title>a &nbsp; b</title></item></channel>'
    html_title = rss([FeedEntry("a <b>bold</b> title", "https://e.example/1")])
    for content in (atom, latin1, broken, html_title):
        assert parse_simple_rss(content, feed_id="f", url=URL, headers=HEADERS[0]) is None
    # and parse_feed still reads them through feedparser
    parsed = parse_feed(html_title, feed_id="f", url=URL, headers=HEADERS[0])
    assert parsed.items[0].title == "a bold title"


@pytest.mark.parametrize(
    ("location", "base"),
    [
        ("https://cdn.example/a/b.xml", "https://cdn.example/a/"),
        ("/mirror/feed.xml", "http://example.com/mirror/"),
        ("", "http://example.com/feeds/"),
        ("javascript:alert(1)", "http://example.com/feeds/"),  # not a base: the URL fetched
    ],
)
def test_relative_links_resolve_against_content_location(location: str, base: str) -> None:
    content = (
        b'<rss version="2.0"><channel><title>T</title>'
        b"<item><title>A</title><link>1.html</link></item>"
        b"<item><title>B</title><guid>2.html</guid></item></channel></rss>"
    )
    headers = {"content-type": "application/rss+xml", "content-location": location}
    fast, slow = both(content, headers)
    assert fast is not None
    assert [i.link for i in fast.items] == [base + "1.html", base + "2.html"]
    assert fast == slow


@pytest.mark.parametrize(
    ("written", "hour"),
    [
        ("Thu, 26 Nov 2026 10:00:00 MSK", 7),  # Moscow: read as UTC, three hours late
        ("Thu, 26 Nov 2026 10:00:00 JST", 1),  # Japan: nine hours in the future
        ("Thu, 26 Nov 2026 22:00:00 SAKT", 11),
        ("Thu, 26 Nov 2026 10:00:00 +0300", 7),
        ("Thu, 26 Nov 2026 10:00:00", 10),  # no zone: UTC (it was no date at all)
        ("Thu, 26 Nov 2026 10:00", 10),
        ("Thu, 26 Nov 2026 10:00:00 EST", 15),  # feedparser's own zones still read
    ],
)
def test_dates_in_the_zones_of_our_feeds_are_read(written: str, hour: int) -> None:
    content = (
        '<rss version="2.0"><channel><title>T</title><item><title>A</title>'
        f"<link>https://e.example/1</link><pubDate>{written}</pubDate></item></channel></rss>"
    ).encode()
    fast, slow = both(content, HEADERS[0])
    assert fast is not None and fast == slow
    assert fast.items[0].published == datetime(2026, 11, 26, hour, tzinfo=UTC)


text = st.text(st.characters(exclude_categories=("Cs",)), max_size=60)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    entries=st.lists(
        st.builds(
            FeedEntry,
            title=text,
            link=st.sampled_from(
                ["https://e.example/a?x=1&y=2", "/relative/path", "https://e.example/b#frag", ""]
            ),
            guid=st.one_of(st.none(), text),
            summary=text,
            published=st.one_of(
                st.none(),
                st.datetimes(
                    min_value=datetime(1990, 1, 1),
                    max_value=datetime(2060, 1, 1),
                    timezones=st.just(UTC),
                ),
            ),
            # an aggregator's <source>: both paths must find the same outlet and title
            source=st.one_of(
                st.none(),
                st.tuples(
                    st.one_of(text, st.sampled_from(["TASS", "ТАСС", "中国新聞デジタル"])),
                    st.sampled_from(
                        ["https://tass.com", "", "/relative", "https://www.e.example/"]
                    ),
                ),
            ),
        ),
        max_size=4,
    ),
    title=text,
    language=st.one_of(st.none(), st.sampled_from(["en", "ru", "ja", ""])),
)
def test_agrees_with_feedparser_on_generated_feeds(
    entries: list[FeedEntry], title: str, language: str | None
) -> None:
    content = rss(entries, title=title, language=language)
    fast, slow = both(content, {"content-type": "application/rss+xml; charset=utf-8"})
    assert fast is None or fast == slow
    if all("<" not in e.title and "&" not in e.title and e.link for e in entries):
        assert fast is not None


@settings(max_examples=400, deadline=None)
@given(
    base=st.sampled_from(
        [URL, "", "https://e.example/rss?x=1#top", "http://[::1/feed", "feed://e.example/x"]
    ),
    url=st.one_of(
        st.text(alphabet="hHtTpPsS:/.[]-_~!$&'()*+,;=:@%?#aZ09 \t\n", max_size=40),
        st.builds(
            "".join,
            st.tuples(
                st.sampled_from(["http://", "https://", "HTTP://", "http:///", "ftp://"]),
                st.text(alphabet="a.-:0[]", min_size=1, max_size=12),
                st.text(alphabet="/abc.;?=&#%~ ", max_size=20),
            ),
        ),
    ),
)
def test_joining_a_plain_link_agrees_with_feedparser(base: str, url: str) -> None:
    assert _join(base, url) == _urljoin(base, url)


@pytest.mark.parametrize("headers", HEADERS[:3])
def test_agrees_with_feedparser_on_aggregator_items(headers: dict[str, str]) -> None:
    token = "CBMiIWh0dHBzOi8vdGFzcy5jb20vcG9saXRpY3MvMjA0MTE4Nw"
    google = f"https://news.google.com/rss/articles/{token}?oc=5"
    grey = (
        f'<a href="{google}">Bastion on Paramushir</a>&nbsp;&nbsp;<font color="#6f6f6f">TASS</font>'
    )
    entries = [
        FeedEntry(
            "Bastion on Paramushir - TASS",
            google,
            guid=token,
            summary=grey,
            source=("TASS", "https://tass.com"),
        ),
        FeedEntry(
            "Бастион на Парамушире - ТАСС",
            google,
            guid="2",
            summary=grey.replace("TASS", "ТАСС").replace(
                "Bastion on Paramushir", "Бастион на Парамушире"
            ),
        ),
        FeedEntry(
            "No outlet - here",
            "https://e.example/3",
            summary="A plain item.",
            source=("", "https://ria.ru"),
        ),
    ]
    fast, slow = both(rss(entries, title="Google News"), headers)
    assert isinstance(fast, ParsedFeed) and fast == slow
    titles = [(i.title, i.outlet, i.link, i.summary) for i in fast.items]
    assert titles == [
        ("Bastion on Paramushir", "TASS", "https://tass.com/politics/2041187", ""),
        ("Бастион на Парамушире", "ТАСС", "https://tass.com/politics/2041187", ""),
        ("No outlet - here", "ria.ru", "https://e.example/3", "A plain item."),
    ]


_ENTITY = "A" * 1000
_SUBSET = f'<!DOCTYPE rss [<!ENTITY a "{_ENTITY}">]>\n'
_EXPANDING = (
    '<rss version="2.0"><channel><title>t</title><item><title>Kuril</title>'
    "<link>https://a.example/1</link><description>" + "&a;" * 100 + "</description></item>"
    "</channel></rss>"
)


@pytest.mark.parametrize(
    "content",
    [
        # an internal subset after a comment of 5 KB (only the first 4096 bytes were looked at)
        (
            '<?xml version="1.0" encoding="utf-8"?>\n<!--'
            + " " * 5000
            + "-->\n"
            + _SUBSET
            + _EXPANDING
        ).encode(),
        # UTF-16 without a byte order mark, which expat reads as well
        (_SUBSET + _EXPANDING).encode("utf-16-le"),
        (_SUBSET + _EXPANDING).encode("utf-16-be"),
    ],
    ids=["past-4096-bytes", "utf-16-le", "utf-16-be"],
)
def test_an_entity_declared_anywhere_is_never_expanded(content: bytes) -> None:
    """README: entity bombs are defused before parsing; expat expands an internal subset's
    entities (100 times the input and more), so the fast path leaves any such document to
    feedparser's defused reading."""
    headers = {"content-type": "application/rss+xml"}
    assert parse_simple_rss(content, feed_id="f", url=URL, headers=headers) is None
    parsed = parse_feed(content, feed_id="f", url=URL, headers=headers)
    if content.startswith(b"<?xml"):  # read, its entity left as it is
        assert parsed.items and all(_ENTITY not in item.summary for item in parsed.items)
    else:  # UTF-16 with no byte order mark nor charset: no feed, and nothing expanded
        assert parsed.error is not None and not parsed.items
