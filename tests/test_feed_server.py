"""Tests of the fake feed server in tests/fakes/feed_server.py, driven with real httpx clients."""

from __future__ import annotations

import calendar
import re
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta, timezone
from email.utils import parsedate_to_datetime

import feedparser
import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.fakes.feed_server import FeedEntry, FeedServer, Route, atom, gzip_bomb, rss

JST = timezone(timedelta(hours=9))
MiB = 1024 * 1024


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as feed_server:
        yield feed_server


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5.0) as http_client:
        yield http_client


def sample_entries() -> list[FeedEntry]:
    return [
        FeedEntry(
            title="Tom & Jerry <3 the Kurils",
            link="http://example.com/news?id=1&lang=en",
            guid="urn:kurilwatch:1",
            summary="<p>Talks on the <b>peace treaty</b> &amp; the islands</p>",
            published=datetime(2024, 1, 2, 3, 4, 5, tzinfo=JST),
        ),
        FeedEntry(title="Second story", link="http://example.com/news?id=2"),
    ]


# --------------------------------------------------------------------------- feed builders


def test_rss_round_trips_through_feedparser() -> None:
    parsed = feedparser.parse(rss(sample_entries(), title="Kuril news", language="ja", ttl=15))

    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == "rss20"
    assert (parsed.feed.title, parsed.feed.language, parsed.feed.ttl) == ("Kuril news", "ja", "15")
    first, second = parsed.entries
    assert first.title == "Tom & Jerry <3 the Kurils"
    assert first.link == "http://example.com/news?id=1&lang=en"
    assert first.id == "urn:kurilwatch:1"
    assert first.summary == "<p>Talks on the <b>peace treaty</b> &amp; the islands</p>"
    published = datetime(2024, 1, 2, 3, 4, 5, tzinfo=JST)
    assert calendar.timegm(first.published_parsed) == published.timestamp()
    assert second.id == "http://example.com/news?id=2"  # guid defaults to the link
    assert "summary" not in second
    assert "published_parsed" not in second


def test_atom_round_trips_through_feedparser() -> None:
    parsed = feedparser.parse(atom(sample_entries(), title="Kuril news", feed_id="urn:kw:feed"))

    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == "atom10"
    assert (parsed.feed.title, parsed.feed.id) == ("Kuril news", "urn:kw:feed")
    first, second = parsed.entries
    assert first.title == "Tom & Jerry <3 the Kurils"
    assert first.link == "http://example.com/news?id=1&lang=en"
    assert first.id == "urn:kurilwatch:1"
    assert first.summary == "<p>Talks on the <b>peace treaty</b> &amp; the islands</p>"
    published = datetime(2024, 1, 2, 3, 4, 5, tzinfo=JST)
    assert calendar.timegm(first.published_parsed) == published.timestamp()
    assert second.id == "http://example.com/news?id=2"


def test_builders_are_deterministic() -> None:
    assert rss(sample_entries()) == rss(sample_entries())
    assert atom(sample_entries()) == atom(sample_entries())


@pytest.mark.parametrize("build", [rss, atom])
def test_builders_drop_characters_illegal_in_xml(
    build: Callable[[Sequence[FeedEntry]], bytes],
) -> None:
    entry = FeedEntry(title="a\x00b\x0bc\ufffed\ud800e", link="http://example.com/1")
    parsed = feedparser.parse(build([entry]))

    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.entries[0].title == "abcde"


def test_builders_reject_naive_published() -> None:
    entry = FeedEntry(title="t", link="http://example.com/", published=datetime(2024, 1, 1))
    with pytest.raises(ValueError, match="timezone-aware"):
        rss([entry])
    with pytest.raises(ValueError, match="timezone-aware"):
        atom([entry])


# Characters XML 1.0 allows: no C0 controls except TAB/LF/CR, no surrogates, no U+FFFE/U+FFFF.
_ILLEGAL_IN_XML = [*range(0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0xFFFE, 0xFFFF]
# feedparser reads the C1 controls U+0080-U+009F (legal, but discouraged in XML 1.0) as the
# windows-1252 characters they usually are in the wild: U+0080 comes back as "€".
_C1_CONTROLS = list(range(0x80, 0xA0))
_LEFT_OUT = "".join(map(chr, _ILLEGAL_IN_XML + _C1_CONTROLS))
xml_text = st.text(st.characters(exclude_categories=["Cs"], exclude_characters=_LEFT_OUT))


def feedparser_keeps(text: str) -> bool:
    """False when feedparser "repairs" text it takes for UTF-8 misread as Latin-1, which it
    does whatever the feed says: "Â¡" is all Latin-1, and its bytes are UTF-8 for "¡"."""
    try:
        return text.encode("latin-1").decode("utf-8") == text
    except UnicodeError:
        return True


# RSS 2.0 cannot say whether a title is text or HTML, and feedparser treats one as HTML when it
# holds a closing tag or an entity reference (its looks_like_html()), so those stay out of the
# RSS property; a bare "&" or "<" is still generated. Atom titles say type="text".
_LOOKS_LIKE_HTML = re.compile(r"</\w+>|&#?\w+;")
atom_title = xml_text.filter(lambda title: feedparser_keeps(title.strip()))
rss_title = atom_title.filter(lambda title: not _LOOKS_LIKE_HTML.search(title))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(rss_title, xml_text), max_size=4))
def test_rss_titles_survive_feedparser(items: list[tuple[str, str]]) -> None:
    entries = [
        FeedEntry(title=title, link=f"http://example.com/{n}", summary=summary)
        for n, (title, summary) in enumerate(items)
    ]
    parsed = feedparser.parse(rss(entries))

    assert not parsed.bozo, parsed.get("bozo_exception")
    # feedparser strips surrounding whitespace from element text
    assert [e.get("title", "") for e in parsed.entries] == [title.strip() for title, _ in items]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(atom_title, xml_text), max_size=4))
def test_atom_titles_survive_feedparser(items: list[tuple[str, str]]) -> None:
    entries = [
        FeedEntry(title=title, link=f"http://example.com/{n}", summary=summary)
        for n, (title, summary) in enumerate(items)
    ]
    parsed = feedparser.parse(atom(entries))

    assert not parsed.bozo, parsed.get("bozo_exception")
    assert [e.get("title", "") for e in parsed.entries] == [title.strip() for title, _ in items]


def test_gzip_bomb_inflates_to_the_requested_size() -> None:
    size = 50 * MiB
    bomb = gzip_bomb(size)

    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    inflated, pending = 0, bomb
    while pending or not inflater.eof:
        chunk = inflater.decompress(pending, MiB)  # bounded, so 50 MB is never held at once
        assert chunk.count(0) == len(chunk)
        inflated += len(chunk)
        pending = inflater.unconsumed_tail
    assert inflated == size
    assert len(bomb) < size // 500


# --------------------------------------------------------------------------- serving


def test_serves_a_feed(server: FeedServer, client: httpx.Client) -> None:
    body = rss(sample_entries())
    server.set_feed("/feed.xml", body)

    response = client.get(server.url("/feed.xml"))

    assert response.status_code == 200
    assert response.content == body
    assert response.headers["content-type"] == "application/rss+xml; charset=utf-8"
    assert response.headers["content-length"] == str(len(body))
    assert server.url("/x") == f"http://127.0.0.1:{server.port}/x"


def test_unknown_and_removed_paths_answer_404(server: FeedServer, client: httpx.Client) -> None:
    server.set_feed("/feed.xml", rss([]))
    assert client.get(server.url("/feed.xml")).status_code == 200

    server.remove("/feed.xml")
    removed = client.get(server.url("/feed.xml"))
    unknown = client.get(server.url("/nothing-here"))

    assert removed.status_code == unknown.status_code == 404
    assert unknown.headers["content-type"] == "text/plain; charset=utf-8"
    assert server.hits("/feed.xml") == 2
    assert [hit.status for hit in server.requests("/feed.xml")] == [200, 404]


def test_query_string_is_ignored_for_matching_but_recorded(
    server: FeedServer, client: httpx.Client
) -> None:
    server.set_feed("/feed.xml", b"<rss/>")

    response = client.get(server.url("/feed.xml?since=1&lang=ja"))

    assert response.content == b"<rss/>"
    (hit,) = server.requests("/feed.xml")
    assert (hit.path, hit.query) == ("/feed.xml", "since=1&lang=ja")
    with pytest.raises(ValueError, match="query string"):
        server.set_route("/feed.xml?since=1", Route())


def test_head_sends_headers_without_body(server: FeedServer, client: httpx.Client) -> None:
    body = rss(sample_entries())
    server.set_feed("/feed.xml", body)

    head = client.head(server.url("/feed.xml"))
    get = client.get(server.url("/feed.xml"))

    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-length"] == str(len(body))
    assert head.headers["etag"] == get.headers["etag"]
    assert [hit.method for hit in server.requests("/feed.xml")] == ["HEAD", "GET"]


def test_other_methods_answer_405(server: FeedServer, client: httpx.Client) -> None:
    server.set_feed("/feed.xml", b"<rss/>")

    response = client.post(server.url("/feed.xml"), content=b"hello")

    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD"
    assert [(hit.method, hit.status) for hit in server.requests()] == [("POST", 405)]


def test_extra_headers_are_sent_and_override_defaults(
    server: FeedServer, client: httpx.Client
) -> None:
    route = Route(
        body=b"<rss/>", headers={"Cache-Control": "max-age=60", "content-type": "text/xml"}
    )
    server.set_route("/feed.xml", route)

    response = client.get(server.url("/feed.xml"))

    assert response.headers["cache-control"] == "max-age=60"
    assert response.headers.get_list("content-type") == ["text/xml"]


def test_etag_and_if_none_match(server: FeedServer, client: httpx.Client) -> None:
    url = server.url("/feed.xml")
    server.set_feed("/feed.xml", rss(sample_entries()))

    first = client.get(url)
    etag = first.headers["etag"]
    again = client.get(url, headers={"If-None-Match": etag})
    weak = client.get(url, headers={"If-None-Match": f'"other", W/{etag}'})
    other = client.get(url, headers={"If-None-Match": '"other"'})

    assert re.fullmatch(r'"[0-9a-f]+"', etag)
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    assert "content-length" not in again.headers
    assert weak.status_code == 304
    assert other.status_code == 200
    assert other.content == first.content

    server.set_feed("/feed.xml", rss(sample_entries()[:1]))
    changed = client.get(url, headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["etag"] != etag


def test_etag_can_be_switched_off(server: FeedServer, client: httpx.Client) -> None:
    server.set_route("/feed.xml", Route(body=b"<rss/>", etag=False))

    response = client.get(server.url("/feed.xml"), headers={"If-None-Match": '"x"'})

    assert response.status_code == 200
    assert "etag" not in response.headers


def test_last_modified_and_if_modified_since(server: FeedServer, client: httpx.Client) -> None:
    url = server.url("/feed.xml")
    modified = datetime(2024, 5, 1, 21, 0, 0, tzinfo=JST)
    server.set_route("/feed.xml", Route(body=b"<rss/>", last_modified=modified))

    def status_since(value: str, **extra: str) -> int:
        return client.get(url, headers={"If-Modified-Since": value, **extra}).status_code

    first = client.get(url)
    assert first.headers["last-modified"] == "Wed, 01 May 2024 12:00:00 GMT"
    assert status_since("Wed, 01 May 2024 12:00:00 GMT") == 304
    assert status_since("Thu, 02 May 2024 00:00:00 GMT") == 304
    assert status_since("Wed, 01 May 2024 11:59:59 GMT") == 200
    assert status_since("not a date") == 200
    # If-None-Match wins over If-Modified-Since (RFC 9110 section 13.2.2)
    assert status_since("Wed, 01 May 2024 12:00:00 GMT", **{"If-None-Match": '"other"'}) == 200


def test_set_feed_sends_last_modified_of_now(server: FeedServer, client: httpx.Client) -> None:
    url = server.url("/feed.xml")
    server.set_feed("/feed.xml", b"<rss/>")

    first = client.get(url)
    last_modified = first.headers["last-modified"]
    again = client.get(url, headers={"If-Modified-Since": last_modified})

    assert abs(parsedate_to_datetime(last_modified) - datetime.now(UTC)) < timedelta(seconds=5)
    assert again.status_code == 304


def test_set_feed_moves_last_modified_when_body_changes_within_a_second(
    server: FeedServer, client: httpx.Client
) -> None:
    url = server.url("/feed.xml")
    server.set_feed("/feed.xml", b"<rss>one</rss>")
    first = client.get(url)

    server.set_feed("/feed.xml", b"<rss>two</rss>")
    second = client.get(url, headers={"If-Modified-Since": first.headers["last-modified"]})

    assert second.status_code == 200
    assert second.content == b"<rss>two</rss>"


@pytest.mark.parametrize(
    ("accept_encoding", "gzipped"),
    [
        (None, False),
        ("identity", False),
        ("gzip", True),
        ("deflate, gzip;q=0.5", True),
        ("gzip;q=0, identity", False),
        ("br, *", True),
    ],
)
def test_gzip_only_when_asked(
    server: FeedServer, client: httpx.Client, accept_encoding: str | None, gzipped: bool
) -> None:
    body = rss([FeedEntry(title=f"story {n}", link=f"http://e.com/{n}") for n in range(50)])
    server.set_route("/feed.xml", Route(body=body, gzip=True))
    if accept_encoding is None:
        del client.headers["Accept-Encoding"]
    else:
        client.headers["Accept-Encoding"] = accept_encoding

    response = client.get(server.url("/feed.xml"))

    assert server.requests()[0].headers.get("accept-encoding") == accept_encoding
    assert response.content == body  # httpx undoes the gzip
    assert response.headers["vary"] == "Accept-Encoding"
    assert ("content-encoding" in response.headers) is gzipped
    assert (response.num_bytes_downloaded < len(body) // 2) is gzipped


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_redirect(server: FeedServer, client: httpx.Client, status: int) -> None:
    server.set_route("/old.xml", Route(status=status, redirect_to="/new.xml"))
    server.set_feed("/new.xml", b"<rss>new</rss>")

    response = client.get(server.url("/old.xml"))
    followed = client.get(server.url("/old.xml"), follow_redirects=True)

    assert response.status_code == status
    assert response.headers["location"] == "/new.xml"
    assert followed.content == b"<rss>new</rss>"
    assert followed.url == server.url("/new.xml")
    assert [r.status_code for r in followed.history] == [status]


def test_redirect_needs_a_3xx_status() -> None:
    with pytest.raises(ValueError, match="3xx"):
        Route(redirect_to="/elsewhere")


def test_delay_times_out_a_client(server: FeedServer) -> None:
    server.set_route("/slow.xml", Route(body=b"<rss/>", delay=60))

    with httpx.Client(timeout=0.2) as impatient, pytest.raises(httpx.ReadTimeout):
        impatient.get(server.url("/slow.xml"))

    assert server.in_flight("/slow.xml") == 1  # still waiting out its delay
    assert server.hits("/slow.xml") == 0


def stops_within(server: FeedServer, seconds: float) -> bool:
    """Call server.stop() on a thread; whether it returned within `seconds`."""
    stopping = threading.Thread(target=server.stop)
    stopping.start()
    stopping.join(seconds)
    return not stopping.is_alive()


def test_stop_returns_promptly_while_a_slow_request_is_pending(server: FeedServer) -> None:
    server.set_route("/slow.xml", Route(body=b"<rss/>", delay=60))
    errors: list[Exception] = []

    def fetch() -> None:
        try:
            httpx.get(server.url("/slow.xml"), timeout=30)
        except httpx.HTTPError as error:
            errors.append(error)

    fetcher = threading.Thread(target=fetch)
    fetcher.start()
    server.wait_for(lambda: server.in_flight("/slow.xml") == 1, what="the slow request")

    # stop() must cut the 60 s delay short: a wait bounded well inside it
    assert stops_within(server, 20)
    fetcher.join(timeout=20)
    assert not fetcher.is_alive()
    assert len(errors) == 1
    assert isinstance(errors[0], httpx.RemoteProtocolError)
    assert server.hits("/slow.xml") == 1
    server.stop()  # idempotent


def test_held_answers_wait_for_their_event_and_the_most_in_flight_is_counted(
    server: FeedServer,
) -> None:
    gate = threading.Event()
    for n in range(3):
        server.set_route(f"/held/{n}", Route(body=b"page", hold=gate))
    server.set_route("/free", Route(body=b"free"))
    answers: list[bytes] = []

    def fetch(path: str) -> None:
        answers.append(httpx.get(server.url(path), timeout=30).content)

    fetchers = [threading.Thread(target=fetch, args=(f"/held/{n}",)) for n in range(3)]
    for fetcher in fetchers:
        fetcher.start()
    server.wait_for(lambda: server.in_flight("/held/2") == 1, what="the third held request")
    server.wait_for(lambda: server.in_flight("/held/0") == server.in_flight("/held/1") == 1)
    fetch("/free")  # answered while the others wait
    assert answers == [b"free"] and server.hits("/held/0") == 0
    gate.set()
    for fetcher in fetchers:
        fetcher.join(timeout=20)
    assert answers == [b"free"] + [b"page"] * 3
    assert (server.most_in_flight("/held/"), server.most_in_flight("/free")) == (3, 1)
    assert server.most_in_flight("/") == 4
    assert (server.received("/held/"), server.received("/")) == (3, 4)


def test_stop_cuts_a_held_answer_short(server: FeedServer) -> None:
    server.set_route("/held", Route(body=b"page", hold=threading.Event()))
    errors: list[Exception] = []

    def fetch() -> None:
        try:
            httpx.get(server.url("/held"), timeout=30)
        except httpx.HTTPError as error:
            errors.append(error)

    fetcher = threading.Thread(target=fetch)
    fetcher.start()
    server.wait_for(lambda: server.in_flight("/held") == 1, what="the held request")
    assert stops_within(server, 20)
    fetcher.join(timeout=20)
    assert [type(e) for e in errors] == [httpx.RemoteProtocolError]


def test_trickle_spaces_out_body_chunks(server: FeedServer, client: httpx.Client) -> None:
    body = bytes(range(256)) * 16  # 4 KiB: four chunks, three gaps
    server.set_route("/slow.xml", Route(body=body, trickle=0.05))

    started = time.monotonic()
    response = client.get(server.url("/slow.xml"))

    assert time.monotonic() - started >= 3 * 0.05
    assert response.content == body


def test_stop_interrupts_a_trickling_body(server: FeedServer, client: httpx.Client) -> None:
    body = b"x" * 10 * 1024
    server.set_route("/slow.xml", Route(body=body, trickle=60))

    with client.stream("GET", server.url("/slow.xml")) as response:
        chunks = response.iter_raw()
        first = next(chunks)
        assert stops_within(server, 20)  # the next chunk was 60 s away
        with pytest.raises(httpx.RemoteProtocolError):
            for _ in chunks:
                pass

    assert 0 < len(first) <= 1024


def test_truncate_at_breaks_the_answer(server: FeedServer, client: httpx.Client) -> None:
    server.set_route("/broken.xml", Route(body=b"x" * 10_000, truncate_at=100))
    received = bytearray()

    with (
        pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)),
        client.stream("GET", server.url("/broken.xml")) as response,
    ):
        assert response.headers["content-length"] == "10000"
        for chunk in response.iter_raw():
            received += chunk

    assert len(received) == 100
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        client.get(server.url("/broken.xml"))


def test_raw_encoded_body_is_sent_as_is(server: FeedServer, client: httpx.Client) -> None:
    bomb = gzip_bomb(200 * MiB)
    route = Route(raw_encoded_body=bomb, headers={"Content-Encoding": "gzip"})
    server.set_route("/bomb.xml", route)

    with client.stream("GET", server.url("/bomb.xml")) as response:
        assert response.headers["content-encoding"] == "gzip"
        assert response.headers["content-length"] == str(len(bomb))
        raw = b"".join(response.iter_raw())  # compressed bytes; nothing is inflated

    assert raw == bomb
    assert len(raw) < 300 * 1024


# --------------------------------------------------------------------------- recording hits


def test_wait_for_hits_counts_answers(server: FeedServer) -> None:
    server.set_feed("/feed.xml", rss([]))

    def poll() -> None:
        with httpx.Client(timeout=5) as poller:
            for n in range(3):
                poller.get(server.url(f"/feed.xml?n={n}"), headers={"X-Probe": "yes"})

    poller = threading.Thread(target=poll)
    poller.start()
    server.wait_for_hits("/feed.xml", 3)
    poller.join(timeout=5)

    assert server.hits("/feed.xml") == 3
    hits = server.requests("/feed.xml")
    assert [hit.query for hit in hits] == ["n=0", "n=1", "n=2"]
    assert {(hit.method, hit.status, hit.headers["x-probe"]) for hit in hits} == {
        ("GET", 200, "yes")
    }
    assert hits[0].at <= hits[1].at <= hits[2].at
    assert len({hit.connection for hit in hits}) == 1  # one kept-alive connection


def test_hits_are_counted_once_the_client_has_the_answer(
    server: FeedServer, client: httpx.Client
) -> None:
    server.set_feed("/feed.xml", rss(sample_entries()))

    for n in range(1, 51):
        client.get(server.url("/feed.xml"))
        assert server.hits("/feed.xml") == n


def test_wait_for_hits_times_out_with_a_message(server: FeedServer) -> None:
    with pytest.raises(AssertionError, match="/never got 0 hits, wanted 1"):
        server.wait_for_hits("/never", 1, timeout=0.05)
    with pytest.raises(AssertionError, match="waiting for the moon"):
        server.wait_for(lambda: False, timeout=0.05, what="the moon")


def test_keep_alive_connection_survives_every_kind_of_answer(
    server: FeedServer, client: httpx.Client
) -> None:
    url = server.url
    server.set_feed("/feed.xml", rss(sample_entries()))
    server.set_route("/gz.xml", Route(body=rss(sample_entries()), gzip=True))
    server.set_route("/old.xml", Route(status=301, redirect_to="/feed.xml"))
    etag = client.get(url("/feed.xml")).headers["etag"]

    statuses = [
        client.get(url("/feed.xml"), headers={"If-None-Match": etag}).status_code,
        client.head(url("/feed.xml")).status_code,
        client.get(url("/missing")).status_code,
        client.get(url("/old.xml")).status_code,
        client.get(url("/gz.xml")).status_code,
        client.get(url("/feed.xml")).status_code,
    ]

    assert statuses == [304, 200, 404, 301, 200, 200]
    assert {hit.connection for hit in server.requests()} == {1}


async def test_async_client_conditional_get(server: FeedServer) -> None:
    server.set_feed("/feed.xml", atom(sample_entries()), content_type="application/atom+xml")

    async with httpx.AsyncClient(timeout=5) as async_client:
        first = await async_client.get(server.url("/feed.xml"))
        second = await async_client.get(
            server.url("/feed.xml"),
            headers={
                "If-None-Match": first.headers["etag"],
                "If-Modified-Since": first.headers["last-modified"],
            },
        )

    assert first.headers["content-type"] == "application/atom+xml"
    assert feedparser.parse(first.content).entries[0].id == "urn:kurilwatch:1"
    assert second.status_code == 304


def test_lifecycle_errors() -> None:
    idle = FeedServer()
    with pytest.raises(RuntimeError, match="not started"):
        _ = idle.port
    idle.stop()  # stopping a server that never started is a no-op

    with FeedServer() as running:
        with pytest.raises(RuntimeError, match="once"):
            running.start()
        url = running.url("/feed.xml")
    with pytest.raises(httpx.ConnectError):
        httpx.get(url)
