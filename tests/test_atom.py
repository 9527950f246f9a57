"""The Atom builder: what feedparser reads back, and RFC 4287's rules checked offline."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import feedparser
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.http.atom import ATOM, FeedInfo, build_feed, clean, etag, not_modified
from bot.http.feeds import accepted
from bot.i18n import LANGUAGES
from store import Story

T0 = datetime(2026, 11, 1, 9, 30, tzinfo=UTC)
INFO = FeedInfo(
    "urn:kurilwatch:topic:kuril", "Kuril Islands", "http://127.0.0.1:9/feeds/kuril.atom"
)
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")
A = f"{{{ATOM}}}"


def story(
    n: int, title: str | None = None, link: str | None = "https://n.example/x", **kw: object
) -> Story:
    fields: dict[str, object] = {
        "id": n,
        "title": f"Story {n}" if title is None else title,
        "link": link,
        "summary": f"Summary {n}",
        "outlets": ("TASS", "NHK"),
        "topics": ("kuril",),
        "published_at": None,
        "first_seen": T0 + timedelta(hours=n),
        "updated": T0 + timedelta(hours=n, minutes=5),
    }
    fields.update(kw)
    return Story(**fields)  # type: ignore[arg-type]


def check_rfc4287(body: bytes) -> None:
    """The rules of RFC 4287 a validator checks that need no network."""
    root = ET.fromstring(body)
    assert root.tag == f"{A}feed"
    for name in ("id", "title", "updated"):
        assert len(root.findall(f"{A}{name}")) == 1, name
    assert RFC3339.match(root.findtext(f"{A}updated") or "")
    entries = root.findall(f"{A}entry")
    has_feed_author = root.find(f"{A}author/{A}name") is not None
    for entry in entries:
        for name in ("id", "title", "updated"):
            assert len(entry.findall(f"{A}{name}")) == 1, name
        for name in ("updated", "published"):
            for value in entry.findall(f"{A}{name}"):
                assert RFC3339.match(value.text or ""), value.text
        alternates = [
            link
            for link in entry.findall(f"{A}link")
            if link.get("rel", "alternate") == "alternate"
        ]
        assert len(alternates) <= 1
        assert alternates or entry.find(f"{A}content") is not None
        assert has_feed_author or entry.find(f"{A}author/{A}name") is not None
    ids = [e.findtext(f"{A}id") for e in entries]
    assert len(ids) == len(set(ids))
    selfs = [link for link in root.findall(f"{A}link") if link.get("rel") == "self"]
    assert len(selfs) == 1


def test_feedparser_reads_every_story_back() -> None:
    stories = [story(3, 'Tokyo & Moscow: <talks> "resume"'), story(2), story(1, link=None)]
    body = build_feed(INFO, stories)
    check_rfc4287(body)
    parsed = feedparser.parse(body)
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    assert parsed.version == "atom10"
    assert parsed.feed.title == "Kuril Islands"
    assert parsed.feed.updated == "2026-11-01T12:35:00Z"
    titles = [e.title for e in parsed.entries]
    assert titles == ['Tokyo & Moscow: <talks> "resume"', "Story 2", "Story 1"]
    first = parsed.entries[0]
    assert first.link == "https://n.example/x" and first.summary == "Summary 3"
    assert [a.name for a in first.authors] == ["TASS", "NHK"]
    assert [t.term for t in first.tags] == ["kuril"]
    assert first.id == "urn:kurilwatch:story:3"
    assert parsed.entries[2].content[0].value == "Summary 1"  # no link: the summary is content


def test_an_empty_feed_is_valid_and_stable() -> None:
    body = build_feed(INFO, [])
    check_rfc4287(body)
    assert feedparser.parse(body).bozo == 0
    assert etag(body) == etag(build_feed(INFO, []))


def test_if_none_match() -> None:
    tag = etag(b"x")
    assert not_modified(tag, tag) and not_modified(f'"other", W/{tag}', tag)
    assert not_modified("*", tag)
    assert not not_modified('"other"', tag) and not not_modified(None, tag)


@given(st.text(max_size=60), st.text(max_size=120), st.lists(st.text(max_size=20), max_size=3))
@settings(max_examples=200, deadline=None)
def test_any_text_makes_a_valid_feed(title: str, summary: str, outlets: list[str]) -> None:
    body = build_feed(INFO, [story(1, title, summary=summary, outlets=tuple(outlets))])
    check_rfc4287(body)
    parsed = feedparser.parse(body)
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    [entry] = parsed.entries
    expected = " ".join(clean(title).split()) or "(untitled)"
    assert ET.fromstring(body).findtext(f"{A}entry/{A}title") == expected  # the document's text
    assert entry.title == feedparser_repair(expected)


def feedparser_repair(text: str) -> str:
    """What feedparser makes of text: UTF-8 read as Latin-1 ("Â¡") it takes for mojibake and
    decodes again ("¡"), a reader's guess on valid text, not a fault of the feed."""
    try:
        return text.encode("iso-8859-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return text


def test_the_feeds_address_follows_listen_and_public_url() -> None:
    from bot.config import MetricsConfig

    assert MetricsConfig().feeds_url is None
    assert MetricsConfig(listen="127.0.0.1:9464").feeds_url == "http://127.0.0.1:9464/feeds"
    public = MetricsConfig(listen="127.0.0.1:9464", public_url="https://news.example.org/")
    assert public.feeds_url == "https://news.example.org/feeds"
    any_port = MetricsConfig(listen="[::1]:0")  # the port bound is the address
    assert any_port.feeds_url_on(41993) == "http://[::1]:41993/feeds"
    assert public.feeds_url_on(41993) == "https://news.example.org/feeds"


@pytest.mark.parametrize(
    ("header", "lang"),
    [
        (None, "en"),
        ("ru-RU,ru;q=0.9,en;q=0.8", "ru"),
        ("de, ja;q=0.5, ru;q=0.4", "ja"),  # German is not spoken: the next wanted
        ("fr", "en"),
        ("ru;q=0, ja", "ja"),  # q=0 means "not this one"
        ("en;q=0.2, ru_RU;q=0.7", "ru"),
        ("zz;q=abc, ru", "ru"),
        ("ru;Q=0.1, ja;q=0.5", "ja"),  # `Q` is `q`: Russian, the least wanted, was given
        ("ja;Q=0, en", "en"),
    ],
)
def test_a_topic_feed_speaks_the_language_the_reader_asks_for(
    header: str | None, lang: str
) -> None:
    assert accepted(header) == lang


@given(st.text(max_size=300))
def test_any_accept_language_header_gives_one_of_the_bots_languages(header: str) -> None:
    assert accepted(header) in LANGUAGES


def test_a_self_link_from_a_hostile_host_header_still_makes_valid_xml() -> None:
    info = FeedInfo("urn:kurilwatch:topic:kuril", "kurilwatch", "http://e.org\x01\x1b/feeds/k.atom")
    check_rfc4287(build_feed(info, []))  # the Host header names the self link


def test_each_entry_is_in_its_own_items_language_not_the_readers() -> None:
    # every entry inherited the feed's xml:lang, the reader's: a Japanese report served to a
    # reader who asked for Russian was declared Russian (to screen readers, translators)
    info = FeedInfo("urn:kurilwatch:topic:kuril", "Курилы", "http://x/feeds/kuril.atom", lang="ru")
    stories = [story(3, "択捉島で演習", lang="ja"), story(2, "Drills", lang="en"), story(1)]
    body = build_feed(info, stories)
    root = ET.fromstring(body)
    xml_lang = "{http://www.w3.org/XML/1998/namespace}lang"
    assert root.get(xml_lang) == "ru"  # the feed's own title and subtitle
    assert [e.get(xml_lang) for e in root.findall(f"{A}entry")] == ["ja", "en", ""]
    parsed = feedparser.parse(body)
    assert parsed.bozo == 0
    assert [e.title_detail.language for e in parsed.entries][:2] == ["ja", "en"]
    assert parsed.entries[2].title_detail.language != "ru"  # unknown is not the reader's


def _iri_pattern() -> re.Pattern[str]:
    """An absolute http(s) IRI of RFC 3987's ABNF (section 2.2), written out apart from the
    builder's own rules."""
    planes = "".join(f"\\U{p:04X}0000-\\U{p:04X}FFFD" for p in range(1, 15))
    ucschar = f"\\xa0-\\ud7ff\\uf900-\\ufdcf\\ufdf0-\\uffef{planes}"
    iprivate = "\\ue000-\\uf8ff\\U000F0000-\\U000FFFFD\\U00100000-\\U0010FFFD"
    pct = "%[0-9A-Fa-f]{2}"
    ipchar = f"(?:[A-Za-z0-9\\-._~{ucschar}!$&'()*+,;=:@]|{pct})"
    authority = f"(?:[A-Za-z0-9\\-._~{ucschar}!$&'()*+,;=:@\\[\\]]|{pct})+"
    query = f"(?:{ipchar}|[/?{iprivate}])*"
    fragment = f"(?:{ipchar}|[/?])*"
    return re.compile(f"https?://{authority}(?:/{ipchar}*)*(?:\\?{query})?(?:#{fragment})?")


IRI = _iri_pattern()


def href(body: bytes) -> str | None:
    link = ET.fromstring(body).find(f"{A}entry/{A}link")
    return None if link is None else link.get("href")


@pytest.mark.parametrize(
    ("link", "written"),
    [
        (
            "https://a.example/news/kuril drills?id=1",
            "https://a.example/news/kuril%20drills?id=1",
        ),
        ('https://a.example/x"y<z>{1}|^`\\', "https://a.example/x%22y%3Cz%3E%7B1%7D%7C%5E%60%5C"),
        ("https://a.example/50%/a#b#c", "https://a.example/50%25/a#b%23c"),
        ("https://a.example/a[1]?q=%D0%BA", "https://a.example/a%5B1%5D?q=%D0%BA"),
        (
            "https://www3.nhk.or.jp/news/択捉島?q=Итуруп",
            "https://www3.nhk.or.jp/news/択捉島?q=Итуруп",
        ),
        ("https://[::1]:8080/a", "https://[::1]:8080/a"),
    ],
)
def test_a_link_is_written_as_a_valid_iri(link: str, written: str) -> None:
    # links were written verbatim: a space, a quote or braces made an href no IRI, which
    # strict readers and validators refuse; non-ASCII letters are an IRI's own, and stay
    body = build_feed(INFO, [story(1, link=link)])
    assert href(body) == written and IRI.fullmatch(written)
    assert feedparser.parse(body).entries[0].link == written


@pytest.mark.parametrize("link", ["http:///a", "https://", "https://:443/a", "http://user@/a"])
def test_a_link_without_a_host_is_no_link(link: str) -> None:
    body = build_feed(INFO, [story(1, link=link)])
    assert href(body) is None
    assert ET.fromstring(body).findtext(f"{A}entry/{A}content") == "Summary 1"
    check_rfc4287(body)


@given(st.text(max_size=40))
@settings(max_examples=300, deadline=None)
def test_any_link_text_gives_an_iri_that_names_the_same_address(path: str) -> None:
    from urllib.parse import unquote

    link = "https://n.example/" + path
    written = href(build_feed(INFO, [story(1, link=link)]))
    assert written is not None and IRI.fullmatch(written), written
    if "%" not in path:  # encoded, not changed: decoding gives the link back
        assert unquote(written) == clean(link).strip()
