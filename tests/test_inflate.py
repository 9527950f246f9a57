"""A compressed body as it arrives: several gzip members, bytes after the last one, and the
caps on what is received and inflated; over real HTTP from an aiohttp server that streams each
body in chunks without a Content-Length, and on the inflater directly."""

from __future__ import annotations

import asyncio
import gzip
import zlib
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field

import pytest
from aiohttp import web
from hypothesis import given
from hypothesis import strategies as st

from tests.fakes.feed_server import RSS_CONTENT_TYPE, FeedEntry, rss
from watchers.fetch import Fetcher, FetchLimits
from watchers.inflate import MAX_MEMBERS, Inflater
from watchers.parse import parse_feed

FEED = rss([FeedEntry(f"Item {n}", f"http://example.com/{n}") for n in range(8)])
EMPTY_MEMBER = gzip.compress(b"", mtime=0)  # 20 bytes that inflate to nothing
GZIP = EMPTY_MEMBER[:2]  # a member's magic


@dataclass
class Streamer:
    """Serves `bodies[path]()`, chunk by chunk (chunked transfer: no Content-Length, so only
    the fetcher's own count of what it received can stop it), as gzip."""

    bodies: dict[str, Callable[[], Iterator[bytes]]] = field(default_factory=dict)
    hung_up: asyncio.Event = field(default_factory=asyncio.Event)  # the client stopped reading
    port: int = 0

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def handle(self, request: web.Request) -> web.StreamResponse:
        headers = {"Content-Type": RSS_CONTENT_TYPE, "Content-Encoding": "gzip"}
        response = web.StreamResponse(headers=headers)
        await response.prepare(request)
        try:
            for chunk in self.bodies[request.path]():
                await response.write(chunk)
            await response.write_eof()
        except ConnectionError:
            self.hung_up.set()
        return response


@pytest.fixture
async def streamer() -> AsyncIterator[Streamer]:
    served = Streamer()
    app = web.Application()
    app.router.add_get("/{name}", served.handle)
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    served.port = runner.addresses[0][1]
    yield served
    await runner.cleanup()


def titles(content: bytes | None) -> list[str]:
    assert content is not None
    return [item.title for item in parse_feed(content, feed_id="f", url="http://x/").items]


async def test_bytes_after_the_last_member_are_not_read(streamer: Streamer) -> None:
    """A feed whose gzip stream ends and is followed by junk without end: the feed is read,
    and the junk is left unread (browsers ignore what follows a gzip stream; it piled up in
    zlib's unused_data, copied again at every chunk: 100 MB took 10 s and 248 MB)."""

    def body() -> Iterator[bytes]:
        yield gzip.compress(FEED)
        while True:
            yield b"\0junk after the stream" * 4096

    streamer.bodies["/f.xml"] = body
    async with Fetcher(FetchLimits(timeout=5.0, total_timeout=10.0)) as fetcher:
        fetched = await fetcher.fetch(streamer.url("/f.xml"))
    assert fetched.error is None
    assert titles(fetched.content) == [f"Item {n}" for n in range(8)]
    await asyncio.wait_for(streamer.hung_up.wait(), timeout=10)


async def test_a_body_of_endless_empty_members_is_refused(streamer: Streamer) -> None:
    """Members that inflate to nothing cost a decompressor each and never reach the cap on
    the inflated size: a body of them is refused past a bound on the members."""
    streamer.bodies["/f.xml"] = lambda: iter([gzip.compress(FEED), EMPTY_MEMBER * 20_000])
    async with Fetcher(FetchLimits(timeout=5.0, total_timeout=10.0)) as fetcher:
        fetched = await fetcher.fetch(streamer.url("/f.xml"))
    assert fetched.error is not None and "gzip members" in fetched.error


async def test_what_is_received_is_capped_as_what_is_inflated(streamer: Streamer) -> None:
    """No Content-Length to refuse it by: the compressed bytes received count against
    `max_bytes` too, with the same error as the inflated ones."""
    streamer.bodies["/f.xml"] = lambda: iter([gzip.compress(FEED), EMPTY_MEMBER * 1000])
    limits = FetchLimits(timeout=5.0, total_timeout=10.0, max_bytes=len(FEED) + 2000)
    async with Fetcher(limits) as fetcher:
        fetched = await fetcher.fetch(streamer.url("/f.xml"))
    assert fetched.error == f"response larger than {limits.max_bytes} bytes"


@pytest.mark.parametrize("cut", [0, 1, 2, 3, 10], ids=lambda cut: f"second-member-at-{cut}")
async def test_a_body_of_two_members_is_read_whole_wherever_its_chunks_end(
    streamer: Streamer, cut: int
) -> None:
    """A second member whose start comes in two chunks (its magic split after its first
    byte, too) is read as the rest of the feed."""
    half = len(FEED) // 2
    first, second = gzip.compress(FEED[:half]), gzip.compress(FEED[half:])
    streamer.bodies["/f.xml"] = lambda: iter([first + second[:cut], second[cut:]])
    async with Fetcher() as fetcher:
        fetched = await fetcher.fetch(streamer.url("/f.xml"))
    assert fetched.error is None and fetched.content == FEED


def fed(inflater: Inflater, body: bytes, cuts: list[int]) -> bytes:
    """`body` fed to `inflater` in chunks that end at `cuts`, and what it gives back."""
    ends = sorted({min(cut, len(body)) for cut in cuts} | {len(body)})
    starts = [0, *ends[:-1]]
    return b"".join(inflater.feed(body[a:b]) for a, b in zip(starts, ends, strict=True))


members = st.lists(
    st.tuples(st.binary(max_size=3000), st.integers(min_value=0, max_value=9)),
    min_size=1,
    max_size=5,
)
cuts = st.lists(st.integers(min_value=0, max_value=20_000), max_size=12)


@given(members=members, cuts=cuts)
def test_gzip_members_inflate_as_gzip_decompress_reads_them(
    members: list[tuple[bytes, int]], cuts: list[int]
) -> None:
    body = b"".join(gzip.compress(data, level, mtime=0) for data, level in members)
    inflater = Inflater("gzip", 1 << 20)
    assert fed(inflater, body, cuts) + inflater.finish() == gzip.decompress(body)
    assert (inflater.members, inflater.done) == (len(members), False)


@given(data=st.binary(max_size=20_000), level=st.integers(0, 9), cuts=cuts)
def test_a_zlib_stream_inflates_as_zlib_reads_it(data: bytes, level: int, cuts: list[int]) -> None:
    body = zlib.compress(data, level)
    inflater = Inflater("deflate", 1 << 20)
    assert fed(inflater, body, cuts) + inflater.finish() == zlib.decompress(body)


@given(
    members=members,
    junk=st.binary(min_size=1, max_size=200).filter(lambda junk: not GZIP.startswith(junk[:2])),
    cuts=cuts,
)
def test_what_follows_the_last_member_ends_the_body(
    members: list[tuple[bytes, int]], junk: bytes, cuts: list[int]
) -> None:
    """Bytes after the last member that start no other (zeros padding it, a server's stray
    newline, junk): the members are the body, and the inflater is done."""
    body = b"".join(gzip.compress(data, level, mtime=0) for data, level in members)
    inflater = Inflater("gzip", 1 << 20)
    got = fed(inflater, body + junk, cuts)
    assert got + inflater.finish() == gzip.decompress(body)
    assert inflater.done and inflater.feed(b"more junk") == b""


def test_the_members_are_bounded_in_one_chunk_as_across_chunks() -> None:
    body = gzip.compress(FEED) + EMPTY_MEMBER * (MAX_MEMBERS - 1)
    whole = Inflater("gzip", 1 << 20)
    assert whole.feed(body) + whole.finish() == FEED
    with pytest.raises(ValueError, match="gzip members"):
        Inflater("gzip", 1 << 20).feed(body + EMPTY_MEMBER)
    apart = Inflater("gzip", 1 << 20)
    apart.feed(body)
    with pytest.raises(ValueError, match="gzip members"):
        apart.feed(EMPTY_MEMBER)
