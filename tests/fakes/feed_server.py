"""A real-HTTP feed server for tests on 127.0.0.1 (stdlib only), with RSS/Atom builders and
knobs for validators, gzip, redirects and slow, held or broken answers."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import http
import re
import socket
import struct
import sys
import textwrap
import threading
import time
import zlib
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import Message
from email.utils import format_datetime, formatdate, parsedate_to_datetime
from gzip import compress as gzip_compress
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socketserver import TCPServer
from types import TracebackType
from typing import Any, Self
from urllib.parse import urlsplit
from xml.sax.saxutils import escape

__all__ = [
    "ATOM_CONTENT_TYPE",
    "RSS_CONTENT_TYPE",
    "FeedEntry",
    "FeedServer",
    "Hit",
    "Route",
    "atom",
    "gzip_bomb",
    "rss",
]

RSS_CONTENT_TYPE = "application/rss+xml; charset=utf-8"
ATOM_CONTENT_TYPE = "application/atom+xml; charset=utf-8"


# --------------------------------------------------------------------------- feed builders


@dataclass
class FeedEntry:
    title: str
    link: str
    guid: str | None = None  # defaults to link when building
    summary: str = ""  # may contain HTML; escaped into the XML
    published: datetime | None = None  # must be timezone-aware; written to the second
    source: tuple[str, str] | None = None  # RSS: <source url="[1]">[0]</source> (aggregators)


# Everything outside XML 1.0's Char production (C0 controls other than TAB/LF/CR, surrogates,
# U+FFFE and U+FFFF). The builders drop these characters so the document stays well-formed.
_XML_ILLEGAL = re.compile(r"[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _text(value: str) -> str:
    # A raw CR would come back from an XML parser as LF, so it is written as a reference; so is
    # LF, which leaves every literal newline in the document to the indentation.
    return escape(_XML_ILLEGAL.sub("", value), {"\r": "&#13;", "\n": "&#10;"})


def _attr(value: str) -> str:
    entities = {'"': "&quot;", "\t": "&#9;", "\n": "&#10;", "\r": "&#13;"}
    return escape(_XML_ILLEGAL.sub("", value), entities)


def _element(tag: str, value: str, attrs: str = "") -> str:
    return f"<{tag}{attrs}>{_text(value)}</{tag}>"


def _block(tag: str, children: list[str], attrs: str = "") -> str:
    inner = "".join("\n" + textwrap.indent(child, "  ") for child in children)
    return f"<{tag}{attrs}>{inner}\n</{tag}>"


def _aware(moment: datetime, what: str) -> datetime:
    if moment.utcoffset() is None:
        raise ValueError(f"{what} must be a timezone-aware datetime, got {moment!r}")
    return moment


def _rfc3339(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def _document(root: str) -> bytes:
    return f'<?xml version="1.0" encoding="utf-8"?>\n{root}\n'.encode()


def rss(
    entries: Sequence[FeedEntry],
    *,
    title: str = "Test feed",
    link: str = "http://example.com/",
    language: str | None = None,
    ttl: int | None = None,
) -> bytes:
    """An RSS 2.0 document in UTF-8; pubDate is RFC 822, guids are isPermaLink="false"."""
    channel = [_element("title", title), _element("link", link), _element("description", title)]
    if language is not None:
        channel.append(_element("language", language))
    if ttl is not None:
        channel.append(_element("ttl", str(ttl)))
    for entry in entries:
        guid = entry.link if entry.guid is None else entry.guid
        item = [
            _element("title", entry.title),
            _element("link", entry.link),
            _element("guid", guid, ' isPermaLink="false"'),
        ]
        if entry.summary:
            item.append(_element("description", entry.summary))
        if entry.published is not None:
            published = _aware(entry.published, "FeedEntry.published")
            item.append(_element("pubDate", format_datetime(published)))
        if entry.source is not None:
            name, url = entry.source
            item.append(_element("source", name, f' url="{_attr(url)}"'))
        channel.append(_block("item", item))
    return _document(_block("rss", [_block("channel", channel)], ' version="2.0"'))


def atom(
    entries: Sequence[FeedEntry], *, title: str = "Test feed", feed_id: str = "urn:test:feed"
) -> bytes:
    """An Atom 1.0 document in UTF-8; dates are RFC 3339, summaries are type="html".

    The feed's <updated> is the latest entry date (or the Unix epoch), so equal input gives
    equal bytes and therefore an equal ETag.
    """
    dates = [_aware(e.published, "FeedEntry.published") for e in entries if e.published]
    updated = _rfc3339(max(dates, default=datetime(1970, 1, 1, tzinfo=UTC)))
    children = [
        _element("title", title, ' type="text"'),
        _element("id", feed_id),
        _element("updated", updated),
        _block("author", [_element("name", "kurilwatch tests")]),
    ]
    for entry in entries:
        guid = entry.link if entry.guid is None else entry.guid
        parts = [
            _element("title", entry.title, ' type="text"'),
            f'<link rel="alternate" href="{_attr(entry.link)}"/>',
            _element("id", guid),
        ]
        if entry.published is not None:
            published = _rfc3339(entry.published)
            parts += [_element("updated", published), _element("published", published)]
        else:
            parts.append(_element("updated", updated))
        if entry.summary:
            parts.append(_element("summary", entry.summary, ' type="html"'))
        children.append(_block("entry", parts))
    return _document(_block("feed", children, ' xmlns="http://www.w3.org/2005/Atom"'))


def gzip_bomb(inflated_size: int) -> bytes:
    """Gzip bytes that inflate to `inflated_size` zero bytes (200 MB comes out at ~200 KB).

    One gzip member whose deflate stream is the same compressed MiB of zeros again and again:
    after a full flush the compressor starts afresh, so each further MiB would compress to the
    same bytes, and they are copied instead (compressing 500 MB took 1.2 s of CPU, this 0.1 s,
    most of it the CRC). The inflated data is never held in memory; results are cached.
    """
    if inflated_size < 0:
        raise ValueError(f"inflated_size must be >= 0, got {inflated_size}")
    return _gzip_bomb(inflated_size)


@functools.cache
def _gzip_bomb(inflated_size: int) -> bytes:
    zeros = bytes(1 << 20)
    whole, rest = divmod(inflated_size, len(zeros))
    compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)  # raw deflate
    block = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    tail = compressor.compress(zeros[:rest]) + compressor.flush()
    crc = 0
    for _ in range(whole):
        crc = zlib.crc32(zeros, crc)
    crc = zlib.crc32(zeros[:rest], crc)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"  # gzip, deflate, no name or time
    trailer = struct.pack("<II", crc, inflated_size & 0xFFFFFFFF)
    return header + block * whole + tail + trailer


# --------------------------------------------------------------------------- routes and answers


@dataclass
class Route:
    """Full control over one path's answer."""

    body: bytes = b""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)  # extra headers; override defaults
    content_type: str = RSS_CONTENT_TYPE
    etag: bool = True  # strong ETag (hash of body) on 200 answers; If-None-Match gives 304
    last_modified: datetime | None = None  # Last-Modified on 200 answers; If-Modified-Since
    gzip: bool = False  # gzip the body when the request's Accept-Encoding allows it
    raw_encoded_body: bytes | None = None  # sent verbatim instead of body (set the headers)
    delay: float = 0.0  # seconds before the status line; cut short by stop()
    trickle: float = 0.0  # seconds between 1 KiB body chunks; cut short by stop()
    truncate_at: int | None = None  # full Content-Length, only this many bytes, then close
    redirect_to: str | None = None  # Location for a 3xx `status`
    hold: threading.Event | None = None  # the answer waits until it is set; cut short by stop()

    def __post_init__(self) -> None:
        if self.redirect_to is not None and not 300 <= self.status < 400:
            raise ValueError(
                f"redirect_to needs a 3xx status, got {self.status}: "
                f"use e.g. Route(status=301, redirect_to={self.redirect_to!r})"
            )
        if self.last_modified is not None:
            _aware(self.last_modified, "Route.last_modified")
        if self.delay < 0 or self.trickle < 0 or (self.truncate_at or 0) < 0:
            raise ValueError("delay, trickle and truncate_at must not be negative")


@dataclass(frozen=True)
class _Answer:
    status: int
    headers: dict[str, str]
    body: bytes  # the bytes a GET puts on the wire (before truncate_at)


def _etag(body: bytes) -> str:
    return f'"{hashlib.sha256(body).hexdigest()[:32]}"'


def _http_date(moment: datetime) -> str:
    return format_datetime(moment.astimezone(UTC), usegmt=True)


def _not_modified(request: Message, etag: str | None, last_modified: datetime | None) -> bool:
    """RFC 9110 §13.2.2: If-None-Match (weak comparison) wins over If-Modified-Since."""
    if_none_match = request.get("If-None-Match")
    if if_none_match is not None:
        tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
        return "*" in tags or (etag is not None and etag in tags)
    if_modified_since = request.get("If-Modified-Since")
    if if_modified_since is None or last_modified is None:
        return False
    try:
        since = parsedate_to_datetime(if_modified_since)
    except (TypeError, ValueError):
        return False  # an invalid date is ignored
    if since.tzinfo is None:
        since = since.replace(tzinfo=UTC)  # "-0000" parses as naive
    return last_modified.replace(microsecond=0) <= since


def _accepts_gzip(accept_encoding: str | None) -> bool:
    qualities: dict[str, float] = {}
    for item in (accept_encoding or "").split(","):
        coding, *params = (part.strip() for part in item.split(";"))
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        qualities[coding.lower()] = quality
    return qualities.get("gzip", qualities.get("*", 0.0)) > 0


def _set_header(headers: dict[str, str], name: str, value: str) -> None:
    for existing in [key for key in headers if key.lower() == name.lower()]:
        del headers[existing]
    headers[name] = value


def _answer(method: str, route: Route | None, path: str, request: Message) -> _Answer:
    if method not in ("GET", "HEAD"):
        body = f"{method} not allowed\n".encode()
        allow = {"Allow": "GET, HEAD", "Content-Type": "text/plain; charset=utf-8"}
        return _Answer(405, _with_length(allow, body), body)
    if route is None:
        body = f"no route for {path}\n".encode()
        return _Answer(404, _with_length({"Content-Type": "text/plain; charset=utf-8"}, body), body)

    status = route.status
    headers: dict[str, str] = {}
    if route.redirect_to is not None:
        headers["Location"] = route.redirect_to
    headers["Content-Type"] = route.content_type
    body = route.body if route.raw_encoded_body is None else route.raw_encoded_body

    if status == 200:
        etag = _etag(body) if route.etag else None
        if etag is not None:
            headers["ETag"] = etag
        if route.last_modified is not None:
            headers["Last-Modified"] = _http_date(route.last_modified)
        if _not_modified(request, etag, route.last_modified):
            status, body = 304, b""
            del headers["Content-Type"]

    if route.gzip and route.raw_encoded_body is None:
        headers["Vary"] = "Accept-Encoding"
        if status != 304 and _accepts_gzip(request.get("Accept-Encoding")):
            body = gzip_compress(body, mtime=0)
            headers["Content-Encoding"] = "gzip"

    if status < 200 or status in (204, 304):  # these never carry a body
        body = b""
    else:
        _with_length(headers, body)
    for name, value in route.headers.items():
        _set_header(headers, name, value)
    return _Answer(status, headers, body)


def _with_length(headers: dict[str, str], body: bytes) -> dict[str, str]:
    headers["Content-Length"] = str(len(body))
    return headers


def _head(answer: _Answer, server_version: str) -> bytes:
    try:
        reason = http.HTTPStatus(answer.status).phrase
    except ValueError:
        reason = ""
    lines = [
        f"HTTP/1.1 {answer.status} {reason}",  # the space stays even without a reason
        f"Date: {formatdate(usegmt=True)}",
        f"Server: {server_version}",
        *(f"{name}: {value}" for name, value in answer.headers.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


# --------------------------------------------------------------------------- the server


@dataclass
class _Exchange:
    """A request in progress; becomes a Hit once its answer is (about to be) complete."""

    path: str
    query: str
    method: str
    headers: dict[str, str]
    connection: int
    status: int = 0
    recorded: bool = False


class FeedServer:
    """Serves routes over HTTP/1.1 (keep-alive) on 127.0.0.1 from a daemon thread.

    Each request is recorded as a Hit just before the last bytes of its answer are written, so
    once a client holds a complete answer, hits() already counts it. Waiters (wait_for_hits,
    wait_for) are woken after the answer has been flushed, so once wait_for_hits(path, n)
    returns, n answers were delivered. Requests cut short (stop(), client gone) count as well.
    """

    @dataclass(frozen=True)
    class Hit:
        """One request as the server saw it (also importable as feed_server.Hit)."""

        path: str
        method: str
        headers: dict[str, str]  # lower-case names; repeated headers joined with ", "
        status: int  # the status answered (or about to be, if the answer was cut short)
        at: float  # time.monotonic() when recorded
        query: str = ""  # raw query string, without "?"
        connection: int = 0  # serial number of the TCP connection (1, 2, ...); shows keep-alive

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host  # another loopback address (127.0.0.2) stands for another machine
        # One re-entrant lock guards routes and records, so wait_for predicates may call hits().
        self._cond = threading.Condition(threading.RLock())
        self._routes: dict[str, Route] = {}
        self._hits: list[Hit] = []
        self._recorded: Counter[str] = Counter()
        self._finished: Counter[str] = Counter()
        self._in_flight: Counter[str] = Counter()
        # (path, +1 received or -1 recorded: before the client can hold the whole answer)
        self._traffic: list[tuple[str, int]] = []
        self._connection_serial = 0

        self._lifecycle = threading.Lock()
        self._stopping = threading.Event()
        self._httpd: _HTTPServer | None = None
        self._serve_thread: threading.Thread | None = None
        self._connections_lock = threading.Lock()
        self._connections: dict[socket.socket, threading.Thread] = {}

    # ---- lifecycle

    def start(self) -> Self:
        """Bind 127.0.0.1 on a free port and serve in a daemon thread."""
        with self._lifecycle:
            if self._httpd is not None:
                raise RuntimeError("a FeedServer can only be started once")
            self._httpd = _HTTPServer(self)
            self._serve_thread = threading.Thread(
                target=self._httpd.serve_forever,
                kwargs={"poll_interval": 0.05},
                name=f"FeedServer:{self._httpd.server_port}",
                daemon=True,
            )
            self._serve_thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and cut open connections, waking delayed or trickling answers.

        Idempotent; returns well within 2 s even with slow requests pending.
        """
        with self._lifecycle:
            httpd, serve_thread = self._httpd, self._serve_thread
            if httpd is None or self._stopping.is_set():
                return
            self._stopping.set()
        httpd.shutdown()
        httpd.server_close()
        if serve_thread is not None:
            serve_thread.join()
        with self._connections_lock:
            handlers = list(self._connections.items())
            for connection, _ in handlers:
                _shutdown_quietly(connection)
        deadline = time.monotonic() + 1.0
        for _, thread in handlers:
            thread.join(max(0.0, deadline - time.monotonic()))

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("FeedServer is not started")
        return self._httpd.server_port

    def url(self, path: str) -> str:
        return f"http://{self.host}:{self.port}{path}"

    # ---- routes

    def set_feed(self, path: str, body: bytes, *, content_type: str = RSS_CONTENT_TYPE) -> None:
        """Serve a normal feed: ETag on, Last-Modified = the time of this call.

        When the body changes within the same second as the previous set_feed for this path,
        Last-Modified moves one second past the previous value, so If-Modified-Since sees it.
        """
        now = datetime.now(UTC).replace(microsecond=0)
        with self._cond:
            previous = self._routes.get(path)
            if (
                previous is not None
                and previous.last_modified is not None
                and previous.body != body
                and now <= previous.last_modified
            ):
                now = previous.last_modified + timedelta(seconds=1)
            self.set_route(path, Route(body=body, content_type=content_type, last_modified=now))

    def set_route(self, path: str, route: Route) -> None:
        """Answer `path` (query strings are ignored when matching) with a copy of `route`."""
        if not path.startswith("/") or "?" in path:
            raise ValueError(f"a route path starts with / and has no query string: {path!r}")
        route = dataclasses.replace(route, headers=dict(route.headers))
        with self._cond:
            self._routes[path] = route

    def remove(self, path: str) -> None:
        """Forget `path`; it answers 404 from now on."""
        with self._cond:
            self._routes.pop(path, None)

    # ---- what happened

    def hits(self, path: str) -> int:
        """Requests to `path` so far: all methods, any status."""
        with self._cond:
            return self._recorded[path]

    def requests(self, path: str | None = None) -> list[Hit]:
        """Recorded hits in order, all of them or those for `path`."""
        with self._cond:
            return [hit for hit in self._hits if path is None or hit.path == path]

    def in_flight(self, path: str) -> int:
        """Requests to `path` received but not yet answered (e.g. waiting out a delay)."""
        with self._cond:
            return self._in_flight[path]

    def received(self, prefix: str) -> int:
        """Requests to paths starting with `prefix` so far, answered or not."""
        with self._cond:
            return sum(step for path, step in self._traffic if step > 0 and path.startswith(prefix))

    def most_in_flight(self, prefix: str) -> int:
        """The most requests to paths starting with `prefix` in flight at once: received, and
        not yet recorded as hits (so one the client has whole is never counted)."""
        with self._cond:
            now = most = 0
            for path, step in self._traffic:
                if path.startswith(prefix):
                    now += step
                    most = max(most, now)
            return most

    def wait_for_hits(self, path: str, count: int, timeout: float = 10.0) -> None:
        """Block until `count` answers to `path` have been delivered."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._finished[path] >= count, timeout):
                raise AssertionError(
                    f"timed out after {timeout:g} s: {path} got {self._finished[path]} hits, "
                    f"wanted {count}"
                )

    def wait_for(
        self, predicate: Callable[[], bool], timeout: float = 10.0, what: str = "condition"
    ) -> None:
        """Block until `predicate()` is true. It is checked now and whenever a request arrives
        or an answer is delivered, with the server's lock held, so keep it quick."""
        with self._cond:
            if not self._cond.wait_for(predicate, timeout):
                raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")

    # ---- called from handler threads

    def _track(self, connection: socket.socket) -> int:
        with self._connections_lock:
            if self._stopping.is_set():
                _shutdown_quietly(connection)
            self._connections[connection] = threading.current_thread()
        with self._cond:
            self._connection_serial += 1
            return self._connection_serial

    def _untrack(self, connection: socket.socket) -> None:
        with self._connections_lock:
            self._connections.pop(connection, None)

    def _begin(self, exchange: _Exchange) -> Route | None:
        with self._cond:
            self._in_flight[exchange.path] += 1
            self._traffic.append((exchange.path, 1))
            self._cond.notify_all()
            return self._routes.get(exchange.path)

    def _record(self, exchange: _Exchange) -> None:
        with self._cond:
            if exchange.recorded:
                return
            exchange.recorded = True
            self._hits.append(
                Hit(
                    path=exchange.path,
                    method=exchange.method,
                    headers=exchange.headers,
                    status=exchange.status,
                    at=time.monotonic(),
                    query=exchange.query,
                    connection=exchange.connection,
                )
            )
            self._recorded[exchange.path] += 1
            self._traffic.append((exchange.path, -1))

    def _finish(self, exchange: _Exchange) -> None:
        with self._cond:
            self._record(exchange)
            self._in_flight[exchange.path] -= 1
            self._finished[exchange.path] += 1
            self._cond.notify_all()


Hit = FeedServer.Hit


def _shutdown_quietly(connection: socket.socket) -> None:
    with contextlib.suppress(OSError):  # already closed by the handler or the client
        connection.shutdown(socket.SHUT_RDWR)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, feeds: FeedServer) -> None:
        self.feeds = feeds
        super().__init__((feeds.host, 0), _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind looks up the host's FQDN, which can stall on odd DNS setups.
        TCPServer.server_bind(self)
        self.server_name = self.feeds.host
        self.server_port = self.socket.getsockname()[1]

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], OSError):
            return  # a client hung up, or stop() cut the connection
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "kurilwatch-feed-server"
    sys_version = ""
    timeout = 30.0  # idle keep-alive connections give up eventually
    server: _HTTPServer
    connection_id: int

    def setup(self) -> None:
        super().setup()
        self.connection_id = self.server.feeds._track(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.feeds._untrack(self.connection)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep test output clean

    def do_GET(self) -> None:
        self._handle(send_body=True)

    def do_HEAD(self) -> None:
        self._handle(send_body=False)

    def _not_allowed(self) -> None:
        self.close_connection = True  # the request body, if any, is left unread
        self._handle(send_body=True)

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _not_allowed

    def _handle(self, *, send_body: bool) -> None:
        feeds = self.server.feeds
        target = urlsplit(self.path)
        exchange = _Exchange(
            path=target.path,
            query=target.query,
            method=self.command,
            headers=_lower_case(self.headers),
            connection=self.connection_id,
        )
        route = feeds._begin(exchange)
        if self.command not in ("GET", "HEAD"):
            route = None  # the 405 comes without the route's delays, trickle or truncation
        answer = _answer(self.command, route, exchange.path, self.headers)
        exchange.status = answer.status
        try:
            self._deliver(answer, route, exchange, send_body=send_body)
        except OSError:
            self.close_connection = True  # the client went away, or stop() cut the connection
        finally:
            feeds._finish(exchange)

    def _deliver(
        self, answer: _Answer, route: Route | None, exchange: _Exchange, *, send_body: bool
    ) -> None:
        stopping = self.server.feeds._stopping
        if route is not None and route.delay and stopping.wait(route.delay):
            self.close_connection = True
            return
        while route is not None and route.hold is not None and not route.hold.wait(0.05):
            if stopping.is_set():
                self.close_connection = True
                return

        body = answer.body if send_body else b""
        truncate_at = route.truncate_at if route is not None else None
        truncated = truncate_at is not None and truncate_at < len(body)
        if truncate_at is not None:
            body = body[:truncate_at]
        trickle = route.trickle if route is not None else 0.0
        if trickle:
            chunks = [body[i : i + 1024] for i in range(0, len(body), 1024)] or [b""]
        else:
            chunks = [body]
        pieces = [_head(answer, self.version_string()) + chunks[0], *chunks[1:]]

        for index, piece in enumerate(pieces):
            if index and stopping.wait(trickle):
                self.close_connection = True
                return
            if index == len(pieces) - 1:
                self.server.feeds._record(exchange)
            self.wfile.write(piece)
        self.wfile.flush()
        if truncated:
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_WR)  # the client sees EOF before waiters wake


def _lower_case(headers: Message) -> dict[str, str]:
    result: dict[str, str] = {}
    for name, value in headers.items():
        key = name.lower()
        result[key] = f"{result[key]}, {value}" if key in result else value
    return result
