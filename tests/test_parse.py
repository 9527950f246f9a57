"""Parsing feed bytes into Items: normalisation, and never a crash or a fetch on odd input."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fakes.feed_server import FeedEntry, atom, rss
from watchers.parse import parse_feed, parse_with_feedparser
from watchers.text import html_to_text, tidy

RSS = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>TASS &amp; co</title><link>https://tass.com/</link>
<item>
  <title>Japan to continue &lt;peace treaty&gt; talks</title>
  <link>https://tass.com/world/1?utm_source=rss</link>
  <guid isPermaLink="false">tass-1</guid>
  <description>&lt;p&gt;Motegi said &lt;b&gt;talks&lt;/b&gt; go on.&lt;/p&gt;&lt;script&gt;track()&lt;/script&gt;&lt;img src="x.gif"&gt;</description>
  <pubDate>Fri, 10 Jul 2020 09:30:00 +0300</pubDate>
</item>
<item><title>No guid here</title><link>/relative/2</link></item>
<item><description>Only text, no title or link</description></item>
<item></item>
</channel></rss>"""


def test_rss_items_are_normalised() -> None:
    parsed = parse_feed(RSS, feed_id="tass", url="https://tass.com/rss/v2.xml")
    assert parsed.error is None
    assert parsed.title == "TASS & co"
    first, second, third = parsed.items
    assert first.guid == "tass-1"
    assert first.title == "Japan to continue <peace treaty> talks"
    assert first.summary == "Motegi said talks go on."
    assert first.canonical_url == "https://tass.com/world/1"
    assert first.published == datetime(2020, 7, 10, 6, 30, tzinfo=UTC)
    assert first.feed_id == "tass"
    # relative links resolve against the feed URL; the link stands in for a missing guid
    assert second.link == "https://tass.com/relative/2"
    assert second.guid == "https://tass.com/relative/2"
    assert third.title == "Only text, no title or link"
    assert third.guid.startswith("sha256:")


def test_html_page_is_not_a_feed() -> None:
    page = b"<!doctype html><html><head><title>Home</title></head><body><p>Hi</p></body></html>"
    parsed = parse_feed(page, feed_id="x", url="https://x.org/")
    assert parsed.items == ()
    assert parsed.error is not None and parsed.error.startswith("not a feed")


PAGE = b"""<!DOCTYPE html>
<html>
<head><meta charset=utf-8><title>Home</title></head>
<body><p>Welcome<br></body></html>"""


@pytest.mark.parametrize(
    ("body", "content_type", "error"),
    [
        (PAGE, "text/html; charset=utf-8", "the server sent an HTML page (Content-Type text/html)"),
        (
            PAGE,
            "application/rss+xml",
            "the server sent an HTML page (Content-Type application/rss+xml)",
        ),
        (b"\xef\xbb\xbf\n<html><body>Hi</body></html>", None, "the server sent an HTML page"),
        (
            b'<?xml version="1.0"?>\n<html xmlns="http://www.w3.org/1999/xhtml">\n</html>',
            "application/xml",
            "the server sent an HTML page (Content-Type application/xml)",
        ),
        (
            b"<doc>\n<a>\n  </b></doc>",
            "application/atom+xml",
            "broken XML at line 3, column 5 (mismatched tag)",
        ),
        (
            b"<?xml version='1.0'?>\n<doc>\n<a>\n</b></doc>",
            None,
            "broken XML at line 4, column 3 (mismatched tag)",
        ),
        (b"Service temporarily closed", "text/plain", "the server sent text/plain, not XML"),
        (  # not "the server sent text/xml, not XML"
            b"Service temporarily closed",
            "text/xml",
            "the server sent a document that is not XML (Content-Type text/xml)",
        ),
        (b" \r\n", "application/rss+xml", "the server sent a blank document"),
        (
            b"<?xml version='1.0'?><catalog><book/></catalog>",
            "application/xml",
            "XML, but no RSS, Atom or RDF feed in it",
        ),
    ],
    ids=[
        "html",
        "html-as-rss",
        "html-no-type",
        "xhtml",
        "broken",
        "broken-declared",
        "text",
        "text-as-xml",
        "blank",
        "other-xml",
    ],
)
def test_not_a_feed_says_what_the_operator_can_act_on(
    body: bytes, content_type: str | None, error: str
) -> None:
    """An HTML page where a feed should be was `not a feed: <unknown>:7:2: mismatched tag`:
    the XML parser's words, its lines counted from one feedparser adds."""
    headers = {"Content-Type": content_type} if content_type else {}
    parsed = parse_feed(body, feed_id="x", url="https://x.org/", headers=headers)
    assert parsed.items == () and parsed.error == f"not a feed: {error}"


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (
            "<?xml version='1.0' encoding='utf-16'?>\n<doc>\n<a>\n</b></doc>".encode("utf-16"),
            "broken XML at line 4, column 3 (mismatched tag)",
        ),
        (
            "<!DOCTYPE html>\n<html><body>Hi</body></html>".encode("utf-16"),
            "the server sent an HTML page",
        ),
        (  # a document type of two lines, which feedparser takes out before it parses
            b'<?xml version="1.0"?>\n<!DOCTYPE doc PUBLIC "-//x//DTD doc//EN"\n "doc.dtd">\n'
            b"<doc>\n<a>\n</b></doc>",
            "broken XML at line 6, column 3 (mismatched tag)",
        ),
        (  # a declaration of two lines, which feedparser writes again on one
            b"<?xml version='1.0'\n  encoding='utf-8'?>\n<doc>\n<a>\n</b></doc>",
            "broken XML at line 5, column 3 (mismatched tag)",
        ),
    ],
    ids=["utf-16-broken", "utf-16-html", "doctype", "declaration"],
)
def test_not_a_feed_places_broken_xml_in_the_document_as_it_came(body: bytes, error: str) -> None:
    """A UTF-16 document was 'not XML' (its first byte is the byte order mark's, not `<`), and
    a line was counted in feedparser's rewriting of the document, not in the one served."""
    parsed = parse_feed(body, feed_id="x", url="https://x.org/", headers={})
    assert parsed.items == () and parsed.error == f"not a feed: {error}"


def test_a_feed_cut_short_before_its_first_item_is_broken_not_empty() -> None:
    """A feed whose XML broke off inside its channel had a version (RSS), so it was taken as a
    feed of no items: /feeds showed it healthy (✅ status 200) while it gave nothing. One cut
    after some items keeps them, and an empty well-formed feed stays a feed."""
    cut = b"<?xml version='1.0'?>\n<rss version='2.0'><channel><title>News</titl"
    parsed = parse_feed(cut, feed_id="x", url="https://x.org/")
    assert parsed.items == ()
    assert parsed.error is not None and parsed.error.startswith("not a feed: broken XML at line 2")
    empty = (
        b"<?xml version='1.0'?>\n<rss version='2.0'><channel><title>News</title></channel></rss>"
    )
    assert parse_feed(empty, feed_id="x", url="https://x.org/").error is None
    item = b"<item><title>Kept</title><link>https://x.org/1</link></item>"
    kept = parse_feed(
        cut.replace(b"</titl", b"</title>" + item + b"<item><ti"), feed_id="x", url="u"
    )
    assert kept.error is None and [i.title for i in kept.items] == ["Kept"]


@pytest.mark.parametrize(
    "channel",
    [
        b"<title>Q & A</title>",  # a bare &: feedparser reads it all the same
        b"<title>News&nbsp;today</title>",  # an HTML entity XML does not define
        b"<title>News</title></channel></rss>\n<!-- end --> x<rss><channel>",  # after the end
    ],
)
def test_an_empty_feed_malformed_but_whole_is_still_a_feed(channel: bytes) -> None:
    """Only a feed cut short (its end never came) is broken for having no items: an empty one
    feedparser reads past an error in its middle is an empty feed, not an error each poll."""
    body = b"<?xml version='1.0'?>\n<rss version='2.0'><channel>" + channel + b"</channel></rss>"
    parsed = parse_feed(body, feed_id="x", url="https://x.org/")
    assert parsed.items == () and parsed.error is None and parsed.warning


def test_body_that_looks_like_a_path_or_url_is_not_opened(tmp_path: Path) -> None:
    secret = tmp_path / "secret.xml"
    secret.write_bytes(RSS)
    for body in (str(secret).encode(), b"http://127.0.0.1:9/feed.xml"):
        parsed = parse_feed(body, feed_id="x", url="https://x.org/")
        assert parsed.items == () and parsed.error is not None


def test_atom_content_is_used_when_longer() -> None:
    atom = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>NHK</title><id>urn:x</id><updated>2026-01-01T00:00:00Z</updated>
<entry><title>\xe5\x8c\x97\xe6\x96\xb9\xe9\xa0\x98\xe5\x9c\x9f</title><id>urn:e1</id>
<link href="https://nhk.or.jp/a"/><updated>2026-01-02T03:04:05+09:00</updated>
<summary>short</summary><content type="html">&lt;p&gt;much longer content text&lt;/p&gt;</content></entry></feed>"""
    [item] = parse_feed(atom, feed_id="nhk", url="https://nhk.or.jp/rss").items
    assert item.title == "北方領土"
    assert item.summary == "much longer content text"
    assert item.published == datetime(2026, 1, 1, 18, 4, 5, tzinfo=UTC)


def test_json_feed_goes_through_the_same_stage() -> None:
    doc = b'{"version": "https://jsonfeed.org/version/1.1", "title": "J", "items": [{"id": "1", "url": "https://j.example/1", "title": "Iturup"}]}'
    [item] = parse_feed(doc, feed_id="j", url="https://j.example/feed.json").items
    assert (item.guid, item.title, item.canonical_url) == ("1", "Iturup", "https://j.example/1")
    served_wrong = parse_feed(
        RSS, feed_id="t", url="https://t.example/", headers={"Content-Type": "application/json"}
    )
    assert len(served_wrong.items) == 3


def test_malformed_cdata_like_markup_does_not_crash() -> None:
    rss = RSS.replace(b"Motegi said", b"Motegi &lt;![0 said")
    first = parse_feed(rss, feed_id="t", url="https://t.example/").items[0]
    assert "Motegi" in first.summary


PIECES = st.one_of(
    st.text(st.characters(exclude_characters="<>&"), max_size=20),
    st.sampled_from(
        [
            "<p>",
            "</p>",
            "<b>",
            "</b>",
            "<br/>",
            "<BR>",
            '<a href="https://x/?a=1&amp;b=2">',
            "</a>",
            "<div class='c'>",
            "</div>",
            "&amp;",
            "&lt;",
            "&quot;",
            "&#1050;",
            "<img src=x>",
            "<li>",
            "</li>",
            "&nbsp;",
        ]
    ),
)


@given(st.lists(PIECES, max_size=30))
def test_fast_and_careful_html_paths_agree(pieces: list[str]) -> None:
    """On ordinary feed HTML the regex path gives what the HTML parser gives."""
    from watchers.text import _careful_html_to_text

    markup = "".join(pieces)
    assert html_to_text(markup) == _careful_html_to_text(markup)


_SPACES = re.compile(r"[ \t\r\f\v\u00a0\u200b]+")
_CONTROLS = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x9f\u202a-\u202e]")


@given(
    st.text(
        alphabet=st.sampled_from(list("ab \t\r\n\f\v\u00a0\u200b\u2028\x00\x1b\x9b\u202eé")),
        max_size=40,
    )
)
def test_tidy_collapses_spaces_as_the_plain_regex_does(text: str) -> None:
    """`tidy` skips the regexes on lines that have nothing to collapse or drop: same text out
    (control characters and direction overrides dropped, spaces collapsed)."""
    lines = [_SPACES.sub(" ", _CONTROLS.sub("", line)).strip() for line in text.split("\n")]
    assert tidy(text) == re.sub(r"\n\s*\n+", "\n\n", "\n".join(lines)).strip()


_MARKUP = st.lists(
    st.sampled_from(["<", ">", "<!--", "-->", "-- >", "--!>", "<![CDATA[", "]]>", "<a ", "<b>",
                     "</b>", "<!x", "-", "!", "[", "]", "x", " ", "&lt;", "&", '"', "'", "=",
                     "<p>", "<script>", "</script>", "<Style>", "<?", "</", "/>"]),
    max_size=25,
)  # fmt: skip


@given(_MARKUP)
def test_the_markup_defused_reads_as_the_parser_read_it(pieces: list[str]) -> None:
    """A "<" that can open nothing is written "&lt;" before parsing (the parser's search for
    each one's end made a summary of "<!--" repeated take minutes): the same text out."""
    from watchers.text import _TextExtractor, defused

    def parsed(markup: str) -> str:  # as `_careful_html_to_text` did
        parser = _TextExtractor()
        try:
            parser.feed(markup)
            parser.close()
        except AssertionError:  # Python 3.11's html.parser on some "<![" markup
            return parsed(markup.replace("<![", "&lt;!["))
        return tidy("".join(parser.parts))

    markup = "Kuril " + "".join(pieces)
    assert parsed(defused(markup)) == parsed(markup)


def test_a_summary_of_unclosed_comments_is_read_in_one_pass() -> None:
    """Each "<!--" without its "-->" was looked for to the end of the text: quadratic."""
    summary = "Kuril <!-- a --> <i>x</i> " + "<!--" * 200_000
    text = html_to_text(summary)  # minutes before; now as a plain string's length
    assert text.startswith("Kuril x <!--<!--") and text.count("<!--") == 200_000


def test_a_guid_several_items_share_is_told_apart_and_a_repeat_keeps_its_own() -> None:
    def entry(guid: str, link: str, title: str) -> str:
        return f"<item><title>{title}</title><link>{link}</link><guid>{guid}</guid></item>"

    body = (
        '<rss version="2.0"><channel><title>t</title>'
        + entry("urn:a:0", "https://a.example/1", "One")
        + entry("urn:a:0", "https://a.example/2", "Two")
        + entry("urn:a:k", "https://a.example/3", "Three")
        + entry("urn:a:k", "https://a.example/3?utm_source=x", "Three")
        + "</channel></rss>"
    ).encode()
    parsed = parse_feed(body, feed_id="f", url="https://a.example/feed")
    assert [i.guid for i in parsed.items] == [
        "urn:a:0 https://a.example/1",
        "urn:a:0 https://a.example/2",
        "urn:a:k",
        "urn:a:k",
    ]


@pytest.mark.parametrize("scheme", ["HTTP", "Http", "HTTPS", "hTtPs"])
def test_a_link_whose_scheme_is_in_capitals_is_kept(scheme: str) -> None:
    """A scheme is any case (RFC 3986 3.1): a link written `HTTP://` was dropped by both
    paths, so its alert had no link and another feed's copy of the article alerted again."""
    link = f"{scheme}://a.example/news/1"
    written = f"{scheme.lower()}://a.example/news/1"
    entry = [FeedEntry("Kuril", link, guid="g1")]
    permalink = (  # a guid that is its permalink
        '<rss version="2.0"><channel><title>T</title>'
        f"<item><title>Kuril</title><guid>{link}</guid></item></channel></rss>"
    ).encode()
    json_feed = json.dumps(
        {
            "version": "https://jsonfeed.org/version/1.1",
            "items": [{"id": "g1", "url": link, "title": "Kuril"}],
        }
    ).encode()
    headers = {"content-type": "application/rss+xml; charset=utf-8"}
    documents = [rss(entry), permalink, atom(entry), json_feed]
    for document in documents:
        for base in ("https://a.example/rss", "http://a.example/rss"):
            fast = parse_feed(document, feed_id="f", url=base, headers=headers)
            slow = parse_with_feedparser(document, feed_id="f", url=base, headers=headers)
            for parsed in (fast, slow) if document is not json_feed else (fast,):
                [item] = parsed.items
                assert (item.link, item.canonical_url) == (written, "https://a.example/news/1")
