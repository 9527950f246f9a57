"""The fetcher over real HTTP: kept-alive connections, the caps, proxies from the environment."""

from __future__ import annotations

import asyncio
import gzip
import ipaddress
import zlib
from collections.abc import Iterator

import pytest

from tests.fakes.feed_server import FeedEntry, FeedServer, Route, rss
from tests.fakes.resolver import TableResolver
from watchers.addresses import non_public
from watchers.fetch import USER_AGENT, Fetcher, FetchLimits
from watchers.inflate import Inflater
from watchers.parse import parse_feed
from watchers.poll_report import PollReport


async def test_connections_are_kept_alive_between_fetches(feed_server: FeedServer) -> None:
    feed_server.set_feed("/a.xml", rss([]))
    async with Fetcher() as fetcher:
        first = await fetcher.fetch(feed_server.url("/a.xml"))
        again = await fetcher.fetch(feed_server.url("/a.xml"), etag=first.headers["etag"])
    assert (first.status, again.status) == (200, 304)
    hits = feed_server.requests("/a.xml")
    assert hits[0].connection == hits[1].connection
    assert hits[0].headers["user-agent"] == USER_AGENT
    assert "br" in hits[0].headers["accept-encoding"]


@pytest.mark.parametrize("location", [None, "feed.xml", "/elsewhere/feed.xml"])
async def test_relative_links_resolve_against_where_a_redirect_led(
    feed_server: FeedServer, location: str | None
) -> None:
    body = rss([FeedEntry("A", "item/1.html"), FeedEntry("B", "item/2.html", guid="b")])
    headers = {"Content-Location": location} if location else {}
    feed_server.set_route("/news/feed.xml", Route(body=body, headers=headers))
    feed_server.set_route("/rss", Route(status=302, redirect_to=feed_server.url("/news/feed.xml")))
    url = feed_server.url("/rss")
    async with Fetcher() as fetcher:
        fetched = await fetcher.fetch(url)
    assert fetched.content is not None
    parsed = parse_feed(fetched.content, feed_id="f", url=url, headers=fetched.headers)
    folder = "/elsewhere/" if location and location.startswith("/") else "/news/"
    assert [i.link for i in parsed.items] == [
        feed_server.url(f"{folder}item/1.html"),
        feed_server.url(f"{folder}item/2.html"),
    ]


def _as_sent(text: str) -> str:
    """`text` as the fake feed server's header, which it writes as Latin-1: its UTF-8 bytes."""
    return text.encode("utf-8").decode("latin-1")


async def test_headers_that_are_not_utf8_are_kept_as_text_the_store_and_a_request_take(
    feed_server: FeedServer,
) -> None:
    """aiohttp reads a Latin-1 header's bytes as lone surrogates, which SQLite cannot bind: a
    feed saying `ETag: "caf\\xe9"` failed every poll, and sank the other feeds saved with it."""
    latin = {
        "ETag": '"café"',  # the fake server writes headers in Latin-1
        "Last-Modified": "Mié, 02 Dec 2026 10:00:00 GMT",
        "Content-Location": "/nouvelles/fête.xml",
        "Content-Language": "français",
    }
    feed_server.set_route("/latin.xml", Route(body=rss([]), headers=latin))
    utf8 = {"ETag": _as_sent('"café"'), "Content-Location": _as_sent("/nouvelles/fête.xml")}
    feed_server.set_route("/utf8.xml", Route(body=rss([]), headers=utf8))
    async with Fetcher() as fetcher:
        fetched = await fetcher.fetch(feed_server.url("/latin.xml"))
        again = await fetcher.fetch(feed_server.url("/utf8.xml"), etag='"café"')
    assert fetched.ok and fetched.content
    for value in fetched.headers.values():
        value.encode("utf-8")  # no lone surrogate left
    # a validator that cannot be sent back as the bytes it came as is not kept
    assert "etag" not in fetched.headers and "last-modified" not in fetched.headers
    assert fetched.headers["content-location"] == "/nouvelles/f%EAte.xml"  # the same bytes
    assert fetched.headers["content-language"] == "fran\ufffdais"
    # UTF-8 headers are kept as they read, and a UTF-8 validator goes back as it came
    assert again.headers["etag"] == '"café"'
    assert again.headers["content-location"] == "/nouvelles/fête.xml"
    assert feed_server.requests("/utf8.xml")[0].headers["if-none-match"] == utf8["ETag"]


def one_loopback_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """127.0.0.1 stands for the public internet, the rest of 127/8 for a private network."""
    return None if str(address) == "127.0.0.1" else non_public(address)


@pytest.fixture
def intranet() -> Iterator[FeedServer]:
    server = FeedServer(host="127.0.0.2").start()  # Linux routes all of 127/8 to loopback
    yield server
    server.stop()


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
async def test_a_public_feed_is_not_redirected_into_a_private_network(
    feed_server: FeedServer, intranet: FeedServer, status: int
) -> None:
    intranet.set_feed("/latest/meta-data/", rss([FeedEntry("secret", "http://10.0.0.5/")]))
    feed_server.set_route(
        "/rss", Route(status=status, redirect_to=intranet.url("/latest/meta-data/"))
    )
    async with Fetcher(classify=one_loopback_public) as fetcher:
        fetched = await fetcher.fetch(feed_server.url("/rss"))
    assert fetched.content is None and fetched.error is not None
    assert "refused a redirect to 127.0.0.2" in fetched.error
    assert "a loopback address (127.0.0.2)" in fetched.error
    assert intranet.hits("/latest/meta-data/") == 0
    assert feed_server.hits("/rss") == 1


async def test_a_redirect_into_a_private_network_is_refused_at_any_hop(
    feed_server: FeedServer, intranet: FeedServer
) -> None:
    intranet.set_feed("/admin", rss([]))
    feed_server.set_route("/rss", Route(status=301, redirect_to=feed_server.url("/v2/rss")))
    feed_server.set_route("/v2/rss", Route(status=307, redirect_to=intranet.url("/admin")))
    async with Fetcher(classify=one_loopback_public) as fetcher:
        fetched = await fetcher.fetch(feed_server.url("/rss"))
    assert fetched.error is not None and "refused a redirect to 127.0.0.2" in fetched.error
    assert (feed_server.hits("/v2/rss"), intranet.hits("/admin")) == (1, 0)


async def test_a_feed_whose_address_turns_public_between_two_looks_is_not_followed(
    feed_server: FeedServer, intranet: FeedServer
) -> None:
    """A name that answers a private address, then a public one (DNS rebinding), to have its
    redirects followed as an intranet feed's."""
    looks: list[str] = []

    def private_then_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
        looks.append(str(address))
        return "private" if len(looks) == 1 else one_loopback_public(address)

    intranet.set_feed("/admin", rss([]))
    feed_server.set_route("/rss", Route(status=302, redirect_to=intranet.url("/admin")))
    async with Fetcher(classify=private_then_public) as fetcher:
        fetched = await fetcher.fetch(feed_server.url("/rss"))
    assert fetched.error is not None and "refused to connect to 127.0.0.1" in fetched.error
    assert (feed_server.hits("/rss"), intranet.hits("/admin")) == (0, 0)
    assert looks == ["127.0.0.1", "127.0.0.1"]


async def test_a_feed_at_a_private_address_may_redirect_within_its_network(
    feed_server: FeedServer, intranet: FeedServer
) -> None:
    intranet.set_feed("/new/feed.xml", rss([FeedEntry("Internal memo", "http://i.example/1")]))
    intranet.set_route("/feed.xml", Route(status=302, redirect_to=intranet.url("/new/feed.xml")))
    feed_server.set_feed("/public.xml", rss([]))
    intranet.set_route("/out", Route(status=302, redirect_to=feed_server.url("/public.xml")))
    async with Fetcher(classify=one_loopback_public) as fetcher:
        inside = await fetcher.fetch(intranet.url("/feed.xml"))
        out = await fetcher.fetch(intranet.url("/out"))
        public = await fetcher.fetch(feed_server.url("/public.xml"))
    assert inside.ok and inside.content is not None and b"Internal memo" in inside.content
    assert (inside.status, out.status, public.status) == (200, 200, 200)
    assert intranet.hits("/new/feed.xml") == 1


async def test_a_feed_at_a_private_v4_address_of_a_name_that_has_a_public_v6_one_too(
    intranet: FeedServer,
) -> None:
    """An intranet host with a global IPv6 address the daemon cannot reach (no route, or no
    server listening there) and a private IPv4 one: fetched from the IPv4 one, as before."""
    intranet.set_feed("/feed.xml", rss([FeedEntry("Internal memo", "http://i.example/1")]))

    def v6_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
        return None if str(address) == "::1" else non_public(address)  # ::1 stands for 2001:db8::1

    names = {"wiki.corp.example": ["::1", "127.0.0.2"]}  # nothing listens on ::1 at its port
    async with Fetcher(classify=v6_public, resolver=TableResolver(names)) as fetcher:
        fetched = await fetcher.fetch(f"http://wiki.corp.example:{intranet.port}/feed.xml")
    assert fetched.error is None and fetched.content is not None
    assert b"Internal memo" in fetched.content and fetched.intranet


async def test_per_host_cap_holds_under_load(feed_server: FeedServer) -> None:
    feed_server.set_route("/slow.xml", Route(body=rss([]), delay=0.2))
    busiest = 0

    async def watch() -> None:
        nonlocal busiest
        while True:
            busiest = max(busiest, feed_server.in_flight("/slow.xml"))
            await asyncio.sleep(0.01)

    async with Fetcher(FetchLimits(per_host=2)) as fetcher:
        watcher = asyncio.create_task(watch())
        results = await asyncio.gather(
            *(fetcher.fetch(feed_server.url("/slow.xml")) for _ in range(6))
        )
        watcher.cancel()
    assert [r.status for r in results] == [200] * 6
    assert busiest == 2
    assert not fetcher._hosts  # no host's cap outlives its fetches (article pages: any host)


async def test_a_feed_that_sets_new_cookies_at_every_poll_fills_no_jar_without_end(
    feed_server: FeedServer,
) -> None:
    """The fetcher's session keeps cookies, as a browser does, for months: a feed that answers
    with new ones at every poll (or one Set-Cookie of many name=value pairs, which aiohttp
    before 3.14.4 took for as many cookies) grew the jar, and the Cookie header sent back,
    without end (GHSA-5pv8-vvhc-h7jv)."""
    names = {"news.example": ["127.0.0.1"]}
    url = f"http://news.example:{feed_server.port}/feed.xml"
    async with Fetcher(classify=one_loopback_public, resolver=TableResolver(names)) as fetcher:
        for poll in range(30):
            cookies = "; ".join(f"c{poll}x{n}=v" for n in range(200))
            feed_server.set_route("/feed.xml", Route(body=rss([]), headers={"Set-Cookie": cookies}))
            assert (await fetcher.fetch(url)).ok
        kept = sum(len(session.cookie_jar) for session in fetcher._sessions.values())
    assert 0 < kept <= 3300  # RFC 6265's "at least 3000 cookies in all" (aiohttp's bound)
    sent = feed_server.requests("/feed.xml")[-1].headers.get("cookie", "")
    assert 0 < sent.count("=") <= 200


async def test_proxies_come_from_the_environment(
    feed_server: FeedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    feed_server.set_feed("/via-proxy.xml", rss([]))
    monkeypatch.setenv("HTTP_PROXY", feed_server.url(""))
    monkeypatch.setenv("NO_PROXY", "direct.invalid")
    async with Fetcher(FetchLimits(timeout=2.0, total_timeout=4.0)) as fetcher:
        # the fake server plays the proxy: it is asked for the absolute URL, and answers
        proxied = await fetcher.fetch("http://feeds.invalid/via-proxy.xml")
        direct = await fetcher.fetch("http://direct.invalid/via-proxy.xml")
    assert proxied.status == 200 and proxied.content
    assert direct.error is not None and "direct.invalid" in direct.error


async def test_behind_a_proxy_each_hop_is_judged_by_its_host_not_the_proxys_address(
    intranet: FeedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A site's proxy at a private address is all a fetch connects to: every feed was refused
    as public, then fetched as an intranet feed, whose redirects may go anywhere (169.254.169.254
    included), and every full_text article page was refused. The hosts asked of the proxy are
    judged instead. (`intranet` plays the proxy: it answers by path, for any host.)"""
    metadata = "http://169.254.169.254/latest/meta-data/"
    intranet.set_route("/rss", Route(status=302, redirect_to=metadata))
    intranet.set_route("/wiki", Route(status=307, redirect_to="http://wiki.corp.example/admin"))
    intranet.set_feed("/latest/meta-data/", rss([FeedEntry("secret", "http://10.0.0.5/")]))
    intranet.set_feed("/admin", rss([]))
    intranet.set_feed("/article", rss([FeedEntry("Kuril news", "https://a.example/1")]))
    intranet.set_feed("/memo.xml", rss([FeedEntry("Internal memo", "http://i.example/1")]))
    # a name our lookup cannot resolve (an attacker's DNS failing us, the proxy's DNS alone
    # knowing an internal host): only the config's own feed may be at one
    intranet.set_route("/rebind", Route(status=302, redirect_to="http://rebind.example/secret"))
    intranet.set_feed("/secret", rss([]))
    intranet.set_feed("/jenkins", rss([]))
    monkeypatch.setenv("HTTP_PROXY", intranet.url(""))
    names = {"news.example.com": ["127.0.0.1"], "wiki.corp.example": ["127.0.0.2"]}
    async with Fetcher(
        FetchLimits(timeout=2.0, total_timeout=4.0),
        classify=one_loopback_public,
        resolver=TableResolver(names),
    ) as fetcher:
        to_metadata = await fetcher.fetch("http://news.example.com/rss")
        to_wiki = await fetcher.fetch("http://news.example.com/wiki")
        article = await fetcher.fetch("http://news.example.com/article", public_only=True)
        memo = await fetcher.fetch("http://wiki.corp.example/memo.xml")
        memo_page = await fetcher.fetch("http://wiki.corp.example/memo.xml", public_only=True)
        rebound = await fetcher.fetch("http://news.example.com/rebind")
        internal_page = await fetcher.fetch("http://jenkins.corp/jenkins", public_only=True)
        proxy_only = await fetcher.fetch("http://feeds.corp/article")  # the config's own feed
    assert (intranet.hits("/secret"), intranet.hits("/jenkins")) == (0, 0)
    assert rebound.error is not None and "does not resolve here" in rebound.error
    assert internal_page.error is not None and "does not resolve here" in internal_page.error
    assert proxy_only.error is None and proxy_only.content
    assert to_metadata.error == (
        "refused a redirect to 169.254.169.254:"
        " it is at a link-local address (169.254.169.254), not a public one"
    )
    assert to_wiki.error is not None and "refused a redirect to wiki.corp.example" in to_wiki.error
    assert (intranet.hits("/latest/meta-data/"), intranet.hits("/admin")) == (0, 0)
    assert article.error is None and article.content and not article.intranet
    # a feed the config puts in the intranet is still one, and is no public page
    assert memo.error is None and memo.intranet
    assert memo_page.error == (
        "refused to connect to wiki.corp.example: a loopback address (127.0.0.2)"
    )


@pytest.mark.parametrize(
    ("route", "shown"),
    [
        # a Location quoted into the error as sent: an escape sequence the terminal obeys
        (
            Route(status=301, redirect_to="ftp://x/\x1b[2J\x1b[31mred"),
            "redirected to a URL that is not http(s): ftp://x/\\x1b[2J\\x1b[31mred",
        ),
        # aiohttp's parser errors: the bad line quoted, then a line with a caret under it
        (
            Route(body=rss([]), headers={"X-Feed\x1b[31m": "a"}),
            "malformed HTTP answer: Invalid header token: b'X-Feed\\x1b[31m: a'",
        ),
        (
            Route(body=b"5\r\nabcde\r\n0\r\n\r\n", headers={"Transfer-Encoding": "chunked"}),
            "malformed HTTP answer: Transfer-Encoding can't be present with Content-Length:"
            " b'Transfer-Encoding: chunked'",
        ),
        # a Location as long as aiohttp lets a header be
        (Route(status=302, redirect_to="ftp://x/" + "\x07" * 7000), None),
    ],
    ids=["escape-in-location", "escape-in-header-name", "parser-error", "long-location"],
)
async def test_a_broken_servers_error_is_one_printable_line(
    feed_server: FeedServer, route: Route, shown: str | None
) -> None:
    """design.md: `poll --once` prints one line per feed; and the error is stored, logged and
    printed, so no control character of the server's reaches the operator's terminal."""
    feed_server.set_route("/feed", route)
    async with Fetcher(FetchLimits(timeout=2.0, total_timeout=4.0)) as fetcher:
        fetched = await fetcher.fetch(feed_server.url("/feed"))
    assert fetched.error is not None and fetched.error.isprintable(), fetched.error
    assert len(fetched.error) <= 300
    if shown is not None:
        assert fetched.error == shown
    line = PollReport("f", "error", fetched.status, error=fetched.error).line()
    assert line.isprintable()
    internal = PollReport("f", "error", None, error="internal error: ValueError: a\n\x1b[2Jb")
    assert internal.line() == "f: error: internal error: ValueError: a \\x1b[2Jb"


@pytest.mark.parametrize(
    ("route", "shown"),
    [
        (Route(status=404, body=b"gone"), "f: error: HTTP 404 Not Found"),
        (Route(status=503, body=b"busy"), "f: error: HTTP 503 Service Unavailable"),
        (Route(status=599, body=b"odd"), "f: error: HTTP 599"),
        (Route(body=b""), "f: error: empty response (HTTP 200): no feed in it"),
    ],
    ids=["404", "503", "unnamed", "empty"],
)
async def test_an_answers_status_is_said_once_in_its_line(
    feed_server: FeedServer, route: Route, shown: str
) -> None:
    """`poll --once` printed `error (HTTP 404): HTTP 404`: the status, then the error that
    only named it again."""
    feed_server.set_route("/feed", route)
    async with Fetcher(FetchLimits(timeout=2.0, total_timeout=4.0)) as fetcher:
        fetched = await fetcher.fetch(feed_server.url("/feed"))
    assert PollReport("f", "error", fetched.status, error=fetched.error).line() == shown


def test_a_status_the_error_does_not_name_is_kept_in_the_line() -> None:
    broken = PollReport("f", "error", 200, error="not a feed: broken XML at line 7, column 2")
    assert broken.line() == "f: error (HTTP 200): not a feed: broken XML at line 7, column 2"
    gone = "the server says the feed is gone for good (HTTP 410)"
    assert PollReport("f", "disabled", 410, error=gone).line() == f"f: disabled: {gone}"
    refused = PollReport("f", "error", None, error="connection refused")
    assert refused.line() == "f: error: connection refused"


_PLAIN = rss([FeedEntry("Kuril news", "https://a.example/1")])
_BARE = _PLAIN.split(b"\n", 1)[1]  # without its XML declaration
_PREFIXED = b'<atom:feed xmlns:atom="http://www.w3.org/2005/Atom"><atom:title>t</atom:title>'


@pytest.mark.parametrize(
    ("body", "cut"),
    [
        (_PLAIN, 1),  # "<"
        (_PLAIN, 3),  # "<?x"
        (b"\xef\xbb\xbf" + _PLAIN, 1),  # a byte of the BOM
        (b"\xef\xbb\xbf" + _PLAIN, 3),  # the BOM alone
        (b"\n" + _PLAIN, 1),
        (b"\r\n  \n" + _PLAIN, 6),
        # no declaration: a comment, or the root element (a bare or a prefixed one) first
        (b"<!-- generated by feedgen -->\n" + _BARE, 1),
        (b"<!-- generated by feedgen -->\n" + _BARE, 4),
        (_BARE, 9),  # "<rss vers"
        (_BARE[_BARE.index(b"<channel>") :], 3),
        (_BARE[_BARE.index(b"<channel>") :], 9),  # "<channel>"
        (_PREFIXED, 9),  # "<atom:fee"
        (b'{"version": "https://jsonfeed.org/version/1.1", "items": []}', 1),
    ],
)
@pytest.mark.parametrize("encoding", ["gzip", "br", "deflate", "UTF-8"])
def test_a_misnamed_plain_body_whose_first_chunk_is_short_is_read_as_sent(
    body: bytes, cut: int, encoding: str
) -> None:
    """The network cuts a body's start anywhere (a segment ends where the headers left it):
    a document's first bytes are held until they tell it from a compressed stream."""
    inflater = Inflater(encoding, 1 << 20)
    got = inflater.feed(body[:cut])
    for start in range(cut, len(body), 7):
        got += inflater.feed(body[start : start + 7])
    assert got + inflater.finish() == body


@pytest.mark.parametrize("body", [b"<", b"\n", b"{"])
def test_a_misnamed_body_too_short_to_tell_is_read_as_sent(body: bytes) -> None:
    inflater = Inflater("gzip", 1 << 20)
    assert inflater.feed(body) + inflater.finish() == body


def test_a_gzip_body_given_a_byte_at_a_time_is_inflated() -> None:
    packed = gzip.compress(_PLAIN)
    inflater = Inflater("gzip", 1 << 20)
    got = b"".join(inflater.feed(packed[i : i + 1]) for i in range(len(packed)))
    assert got + inflater.finish() == _PLAIN


@pytest.mark.parametrize("wbits", [-zlib.MAX_WBITS, zlib.MAX_WBITS], ids=["raw", "zlib"])
@pytest.mark.parametrize("first", [1, 2, 3])
def test_a_deflate_body_whose_first_chunk_is_short_is_inflated(wbits: int, first: int) -> None:
    """Content-Encoding: deflate, sent as raw deflate (IIS and others) or with its zlib
    header: raw deflate is told by zlib's error, which one byte does not raise yet; the
    restart dropped that byte ('invalid stored block lengths')."""
    packer = zlib.compressobj(9, zlib.DEFLATED, wbits)
    packed = packer.compress(_PLAIN) + packer.flush()
    inflater = Inflater("deflate", 1 << 20)
    got = inflater.feed(packed[:first]) + inflater.feed(packed[first:])
    assert got + inflater.finish() == _PLAIN
    one_by_one = Inflater("deflate", 1 << 20)
    got = b"".join(one_by_one.feed(packed[i : i + 1]) for i in range(len(packed)))
    assert got + one_by_one.finish() == _PLAIN
