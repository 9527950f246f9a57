"""Aggregator items: the real outlet, the title without its suffix, no echoed summary, the
article URL decoded from older Google News tokens; and a golden parse of Google News feeds in
English, Russian and Japanese (tests/data/google-news-*.rss beside their .expected.json)."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.fakes.google_news import google_token
from watchers.aggregator import (
    attribute,
    decode_token,
    echoes_only,
    host_key,
    is_aggregator_link,
    links_only,
    outlet_key,
    real_url,
    source_label,
    without_suffix,
)
from watchers.fastrss import parse_simple_rss
from watchers.items import Item, make_item
from watchers.parse import parse_feed, parse_with_feedparser

DATA = Path(__file__).parent / "data"
SAMPLES = ("en", "ru", "ja")
HEADERS = {"content-type": "application/rss+xml; charset=UTF-8"}
FEED_URL = "https://news.google.com/rss/search?q=Kuril&hl=en-US&gl=US&ceid=US:en"


def google_item(title: str, outlet: str, url: str, **extra: Any) -> Item:
    link = f"https://news.google.com/rss/articles/{google_token(url)}?oc=5"
    description = (
        f'<a href="{link}" target="_blank">{title}</a>&nbsp;&nbsp;'
        f'<font color="#6f6f6f">{outlet}</font>'
    )
    fields: dict[str, Any] = {
        "feed_id": "gnews",
        "guid": "g1",
        "link": link,
        "title": f"{title} - {outlet}",
        "summary": f"{title}\u00a0\u00a0{outlet}",
        "published": None,
        "lang": None,
        "source_name": outlet,
        "source_url": None,
        "description": description,
    }
    fields.update(extra)
    item = make_item(**fields)
    assert item is not None
    return item


# -- the outlet and the title ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("title", "outlet", "headline"),
    [
        (
            "Russia deploys Bastion missiles on Paramushir - TASS",
            "TASS",
            "Russia deploys Bastion missiles on Paramushir",
        ),
        (
            "Россия разместила «Бастион» на Парамушире - ТАСС",
            "ТАСС",
            "Россия разместила «Бастион» на Парамушире",
        ),
        (
            "北方領土の元島民、墓参再開を要望 - 中国新聞デジタル",
            "中国新聞デジタル",
            "北方領土の元島民、墓参再開を要望",
        ),
        (
            "Kuril Islands - what is behind the dispute? - Al Jazeera English",
            "Al Jazeera English",
            "Kuril Islands - what is behind the dispute?",
        ),
        ("A headline without the outlet", "TASS", "A headline without the outlet"),
        ("Ends like the outlet: NOT TASS", "TASS", "Ends like the outlet: NOT TASS"),
        (" - TASS", "TASS", " - TASS"),  # nothing would be left
    ],
)
def test_the_outlet_comes_from_source_and_the_title_loses_its_suffix(
    title: str, outlet: str, headline: str
) -> None:
    said = attribute(title, source_name=outlet, source_url="https://tass.com", description="")
    assert said is not None
    assert said.outlet == outlet and said.title == headline
    assert said.outlet_url == "https://tass.com"


def test_without_source_the_suffix_counts_only_when_the_description_names_it() -> None:
    grey = '<a href="x">Russia deploys Bastion missiles</a>&nbsp;&nbsp;<font color="#6f6f6f">TASS</font>'
    said = attribute(
        "Russia deploys Bastion missiles - TASS",
        source_name=None,
        source_url=None,
        description=grey,
    )
    assert said is not None
    assert (said.title, said.outlet, said.outlet_url) == (
        "Russia deploys Bastion missiles",
        "TASS",
        None,
    )
    # a plain feed's title with a dash keeps it: nothing names an outlet
    for description in ("", "Russia deploys Bastion missiles", grey.replace("TASS", "RIA")):
        plain = attribute(
            "Russia deploys Bastion missiles - TASS",
            source_name=None,
            source_url=None,
            description=description,
        )
        assert plain is None


def test_a_source_with_only_a_url_is_named_by_its_host() -> None:
    said = attribute(
        "Headline - TASS", source_name="", source_url="https://www.tass.com/", description=""
    )
    assert said is not None
    assert said.outlet == "tass.com" and said.title == "Headline - TASS"


@settings(max_examples=200, deadline=None)
@given(
    head=st.text(min_size=1, max_size=60).filter(lambda s: s.strip() != ""),
    outlet=st.text(st.characters(exclude_categories=("Cs", "Zs", "Cc")), min_size=1, max_size=20),
)
def test_stripping_the_suffix_gives_the_headline_back(head: str, outlet: str) -> None:
    title = f"{head.rstrip()} - {outlet}"
    stripped = without_suffix(title, outlet)
    assert stripped in (head.rstrip(), title)
    if outlet.casefold() == outlet.lower() and len(outlet.casefold()) == len(outlet):
        assert stripped == head.rstrip()


# -- the summary ----------------------------------------------------------------------------


def test_a_description_that_only_repeats_title_and_outlet_is_no_summary() -> None:
    for title, outlet in (
        ("Russia deploys Bastion missiles on Paramushir", "TASS"),
        ("Россия разместила «Бастион» на Парамушире", "ТАСС"),
        ("北方領土の元島民、墓参再開を要望\u3000広島でも", "中国新聞デジタル"),
    ):
        item = google_item(title, outlet, "https://tass.com/politics/1")
        assert item.title == title.replace("\u3000", " ") or item.title == title
        assert item.summary == ""
        assert item.outlet == outlet
    assert echoes_only("Title - TASS TASS", ("Title - TASS", "Title"), ("TASS",))
    assert not echoes_only("Title. The ministry said more.", ("Title",), ("TASS",))


def test_a_description_of_only_links_and_outlets_is_no_summary() -> None:
    related = (
        '<ol><li><a href="https://news.google.com/rss/articles/a">Japan lodges protest</a>&nbsp;&nbsp;'
        '<font color="#6f6f6f">Kyodo News</font></li><li><a href="https://news.google.com/rss/articles/b">'
        'Tokyo protests Russian exercises</a>&nbsp;&nbsp;<font color="#6f6f6f">NHK WORLD</font></li>'
        '<li><strong><a href="https://news.google.com/stories/c">View Full Coverage on Google News</a>'
        "</strong></li></ol>"
    )
    assert links_only(related)
    assert not links_only(related.replace("<ol>", "<p>Tokyo said it regrets the drills.</p><ol>"))
    assert not links_only("Plain text, no links at all.")
    item = google_item(
        "Japan lodges protest",
        "Kyodo News",
        "https://english.kyodonews.net/news/1",
        summary="Japan lodges protest Kyodo News Tokyo protests Russian exercises NHK WORLD"
        " View Full Coverage on Google News",
        description=related,
    )
    assert item.summary == ""
    # an outlet's own feed keeps a description of links: it is not an aggregator's
    own = make_item(
        feed_id="f",
        guid="1",
        link="https://e.example/1",
        title="Links",
        summary="Japan lodges protest",
        published=None,
        lang=None,
        description=related,
    )
    assert own is not None and own.summary == "Japan lodges protest"


def test_a_real_description_stays() -> None:
    item = google_item(
        "Russia deploys Bastion missiles",
        "TASS",
        "https://tass.com/politics/1",
        summary="Russia deploys Bastion missiles. The systems arrived on Paramushir on Tuesday.",
        description='<p>Russia deploys Bastion missiles. The systems arrived on <a href="x">'
        "Paramushir</a> on Tuesday.</p>",
    )
    assert "arrived on Paramushir" in item.summary


# -- the article URL ------------------------------------------------------------------------

urls = st.builds(
    lambda scheme, host, path, query: f"{scheme}://{host}{path}{query}",
    st.sampled_from(["http", "https"]),
    st.from_regex(r"(www\.|www3\.)?[a-z][a-z0-9-]{0,20}\.(com|ru|co\.jp|jp)", fullmatch=True),
    st.from_regex(r"(/[A-Za-z0-9._~%-]{1,30}){0,6}/?", fullmatch=True),
    st.one_of(st.just(""), st.from_regex(r"\?[a-z]{1,8}=[A-Za-z0-9]{1,12}", fullmatch=True)),
)


@settings(max_examples=300, deadline=None)
@given(url=urls, amp=st.one_of(st.none(), st.just(""), urls))
def test_an_older_google_token_decodes_to_its_url(url: str, amp: str | None) -> None:
    token = google_token(url, amp)
    assert token.startswith("CBMi")
    assert decode_token(token) == url
    link = f"https://news.google.com/rss/articles/{token}?oc=5&hl=en-US"
    assert real_url(link) == url
    assert real_url(f"https://news.google.com/__i/rss/rd/articles/{token}") == url


@settings(max_examples=500, deadline=None)
@given(
    token=st.one_of(
        st.text(max_size=300),
        st.text(
            alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
            max_size=300,
        ),
        st.binary(max_size=300).map(lambda b: base64.urlsafe_b64encode(b).decode().rstrip("=")),
        st.binary(max_size=200).map(
            lambda b: base64.urlsafe_b64encode(b"\x08\x13\x22" + b).decode().rstrip("=")
        ),
    )
)
def test_garbage_tokens_give_none_or_an_http_url_never_an_exception(token: str) -> None:
    found = decode_token(token)
    assert found is None or (found.startswith(("http://", "https://")) and host_key(found))
    assert real_url(f"https://news.google.com/rss/articles/{token}?oc=5") in (None, found)


def test_newer_tokens_and_other_links_are_not_decoded() -> None:
    opaque = base64.urlsafe_b64encode(
        b"\x08\x13\x22\x96\x01" + b"AU_yqLPmZ3t4q0v8Xk1bR9sYw".ljust(150, b"x") + b"\xd2\x01\x00"
    ).decode()
    assert decode_token(opaque.rstrip("=")) is None
    token = google_token("https://tass.com/politics/1")
    assert real_url(f"https://example.com/rss/articles/{token}") is None  # not Google's
    assert real_url(f"https://news.google.com/rss/topics/{token}") is None
    assert decode_token(google_token("javascript:alert(1)")) is None
    assert decode_token(google_token("https://news.google.com/rss/articles/x")) is None
    assert decode_token(google_token("https://tass.com/a b")) is None


def test_a_decoded_google_item_takes_the_article_url_and_its_canonical_form() -> None:
    item = google_item("Headline", "TASS", "https://tass.com/politics/2041187?utm_source=gn")
    assert item.link == "https://tass.com/politics/2041187?utm_source=gn"
    assert item.canonical_url == "https://tass.com/politics/2041187"
    assert item.outlet_key == "tass.com"


# -- the outlet's key and the label -----------------------------------------------------------


def test_outlet_keys_are_hosts_shared_by_own_feeds_and_aggregators() -> None:
    assert host_key("https://www.tass.com/") == "tass.com" == host_key("http://tass.com")
    assert outlet_key(outlet="TASS", outlet_url="https://tass.com", canonical=None) == "tass.com"
    # an own feed's item: the host of its article
    assert outlet_key(outlet=None, outlet_url=None, canonical="https://tass.com/x/1") == "tass.com"
    # an undecodable Google link says nothing of the outlet; then its name does
    google = "https://news.google.com/rss/articles/AU_yq"
    assert outlet_key(outlet="TASS", outlet_url=None, canonical=google) == "name:tass"
    assert outlet_key(outlet=None, outlet_url=None, canonical=google) is None
    assert is_aggregator_link(google) and not is_aggregator_link("https://tass.com/x")


def test_source_label() -> None:
    assert source_label("TASS", "Google News") == "TASS (via Google News)"
    assert source_label("TASS", '"Kuril Islands" OR "Northern Territories" - Google News') == (
        "TASS (via Google News)"
    )
    assert source_label("TASS", "tass") == "TASS"
    assert source_label(None, "TASS") == "TASS"
    assert source_label(None, "Kuril - Google News") == "Google News"


# -- golden: Google News feeds in three languages ---------------------------------------------


def _as_json(item: Item) -> dict[str, Any]:
    return {
        "guid": item.guid,
        "title": item.title,
        "outlet": item.outlet,
        "outlet_key": item.outlet_key,
        "link": item.link,
        "canonical_url": item.canonical_url,
        "summary": item.summary,
        "published": item.published.isoformat() if item.published else None,
        "lang": item.lang,
    }


@pytest.mark.parametrize("lang", SAMPLES)
def test_google_news_golden(lang: str) -> None:
    content = (DATA / f"google-news-{lang}.rss").read_bytes()
    expected = json.loads((DATA / f"google-news-{lang}.expected.json").read_text("utf-8"))
    parsed = parse_feed(content, feed_id="gnews", url=FEED_URL, headers=HEADERS)
    assert parsed.error is None
    assert {"title": parsed.title, "items": [_as_json(i) for i in parsed.items]} == expected
    # the fast path reads these feeds, and agrees with feedparser
    fast = parse_simple_rss(content, feed_id="gnews", url=FEED_URL, headers=HEADERS)
    assert fast is not None
    assert fast == parse_with_feedparser(content, feed_id="gnews", url=FEED_URL, headers=HEADERS)


@pytest.mark.parametrize("lang", SAMPLES)
def test_google_news_without_source_elements_names_the_same_outlets(lang: str) -> None:
    content = (DATA / f"google-news-{lang}.rss").read_bytes()
    bare = re.sub(rb"<source [^>]*>[^<]*</source>", b"", content)
    assert bare != content
    with_source = parse_feed(content, feed_id="gnews", url=FEED_URL, headers=HEADERS)
    without = parse_feed(bare, feed_id="gnews", url=FEED_URL, headers=HEADERS)
    assert [(i.title, i.outlet, i.summary, i.link) for i in without.items] == [
        (i.title, i.outlet, i.summary, i.link) for i in with_source.items
    ]
    fast = parse_simple_rss(bare, feed_id="gnews", url=FEED_URL, headers=HEADERS)
    assert fast is not None
    assert fast == parse_with_feedparser(bare, feed_id="gnews", url=FEED_URL, headers=HEADERS)
