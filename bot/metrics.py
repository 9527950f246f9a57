"""Prometheus metrics and a health check, served on a loopback address (off by default).

The daemon records polls and deliveries as they happen; the HTTP server runs on a thread of its
own and only reads numbers, so a slow scraper never touches the event loop or the store.
"""

from __future__ import annotations

import contextlib
import io
import selectors
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from socketserver import ThreadingMixIn
from typing import TYPE_CHECKING, Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, make_wsgi_app

from watchers.poll_report import PollReport

if TYPE_CHECKING:
    from bot.config import Config

LATENCY_BUCKETS = (1, 2, 5, 10, 30, 60, 300, 900, 3600, 4 * 3600, 86400)


def configure_metrics(metrics: Metrics, settings: Config, least_stale: timedelta) -> None:
    """Give the metrics what they take from the config (at a start and at each reload): the
    feeds whose series are exported, and /healthz's thresholds: no successful poll for three
    of the longest poll intervals, or `poll.max_interval` and `least_stale` (a feed's max-age
    stretches its polls up to that), whichever is longest, and the config's
    `metrics.stuck_after`."""
    metrics.keep_feeds(f.id for f in settings.feeds)
    intervals = [settings.poll.interval, *(f.interval for f in settings.feeds if f.interval)]
    # a feed's TTL, max-age or adaptive polling may stretch its interval up to max_interval
    stretched = settings.poll.max_interval + least_stale
    metrics.stale_after = max(least_stale, 3 * max(intervals), stretched)
    metrics.stuck_after = settings.metrics.stuck_after


class Metrics:
    """The daemon's counters and gauges, in a registry of its own."""

    def __init__(self, *, stale_after: timedelta, stuck_after: timedelta) -> None:
        self.registry = CollectorRegistry()
        self.stale_after = stale_after  # no successful poll for this long: unhealthy
        self.stuck_after = stuck_after  # queued alerts this old and none sent since: unhealthy
        r = self.registry
        self.polls = Counter(
            "kurilwatch_polls", "Polls by feed and outcome", ["feed", "outcome"], registry=r
        )
        self.items = Counter("kurilwatch_items", "New items stored", ["feed"], registry=r)
        self.matches = Counter("kurilwatch_matches", "New stories matched", ["feed"], registry=r)
        self.deliveries = Counter(
            "kurilwatch_deliveries", "Delivery attempts by outcome", ["outcome"], registry=r
        )
        self.previews = Counter(  # outcome: shown, or skipped while the bot was busy
            "kurilwatch_watch_previews", "/watch previews by outcome", ["outcome"], registry=r
        )
        self.queue = Gauge("kurilwatch_queue_depth", "Alerts waiting to be sent", registry=r)
        self.oldest = Gauge(
            "kurilwatch_queue_oldest_age_seconds", "Age of the oldest waiting alert", registry=r
        )
        self.last_poll = Gauge(
            "kurilwatch_last_successful_poll_timestamp_seconds",
            "When a poll last succeeded (Unix time)",
            registry=r,
        )
        Gauge(
            "kurilwatch_last_successful_poll_age_seconds",
            "Seconds since a poll last succeeded",
            registry=r,
        ).set_function(lambda: time.time() - self._last_poll if self._last_poll else -1.0)
        self.latency = Histogram(
            "kurilwatch_delivery_latency_seconds",
            "From an alert being queued to Telegram accepting it",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self._started = time.time()
        self._last_poll = 0.0
        self._last_sent = 0.0
        self._oldest_due: float | None = None  # when the alert waiting longest became due
        self._feeds: frozenset[str] | None = None  # the configured feeds (None: any)
        self._outcomes: dict[str, set[str]] = {}  # feed id -> the outcomes it has series of

    def keep_feeds(self, feed_ids: Iterable[str]) -> None:
        """Export the series of these feeds only: a feed removed from the config (feeds come
        and go over months of reloads) is no longer scraped, nor recorded by a poll of it that
        was under way."""
        self._feeds = frozenset(feed_ids)
        for gone in set(self._outcomes) - self._feeds:
            for outcome in self._outcomes.pop(gone):
                self.polls.remove(gone, outcome)
            for counter in (self.items, self.matches):
                with contextlib.suppress(KeyError):  # it had no new item, or no match
                    counter.remove(gone)

    def polled(self, report: PollReport) -> None:
        if self._feeds is not None and report.feed_id not in self._feeds:
            return  # removed from the config while it was polled
        self.polls.labels(report.feed_id, report.outcome).inc()
        self._outcomes.setdefault(report.feed_id, set()).add(report.outcome)
        if report.outcome in ("new", "unchanged", "primed"):
            self._last_poll = time.time()
            self.last_poll.set(self._last_poll)
        if report.new_items:
            self.items.labels(report.feed_id).inc(report.new_items)
        if report.matched:
            self.matches.labels(report.feed_id).inc(len(report.matched))

    def delivered(
        self,
        outcome: str,
        queued_at: datetime | None = None,
        now: datetime | None = None,
        *,
        count: int = 1,
    ) -> None:
        self.deliveries.labels(outcome).inc(count)
        if outcome == "sent":
            self._last_sent = time.time()
            if queued_at is not None and now is not None:
                self.latency.observe(max(0.0, (now - queued_at).total_seconds()))

    def previewed(self, outcome: str) -> None:
        self.previews.labels(outcome).inc()

    def queued(self, depth: int, oldest: datetime | None, due: datetime | None = None) -> None:
        """The queue's depth and its oldest alert; `due`: when the alert waiting longest for
        the bot (not for its chat's digest, held quiet hours or mute) became due (else
        `oldest`), which /healthz's "stuck" is of."""
        self.queue.set(depth)
        due = oldest if due is None else due
        self._oldest_due = None if due is None else due.timestamp()
        self.oldest.set(0 if oldest is None else max(0.0, time.time() - oldest.timestamp()))

    def health(self, feeds: int) -> tuple[bool, str]:
        """(healthy, why) from what the daemon recorded."""
        now = time.time()
        stale = self.stale_after.total_seconds()
        if feeds and now - max(self._last_poll, self._started) > stale:
            return False, f"no poll has succeeded for over {int(stale)} s"
        oldest = self._oldest_due
        stuck = self.stuck_after.total_seconds()
        if oldest is not None and now - oldest > stuck and now - self._last_sent > stuck:
            return False, f"alerts have waited over {int(stuck)} s and none was sent meanwhile"
        return True, "ok"


# clients served at once, each on a thread of its own: a flood of connections (a scraper gone
# wild, a scan) must not start a thread each; past it, a connection is answered 503 at once
MAX_CLIENTS = 32
BUSY = (
    b"HTTP/1.0 503 Service Unavailable\r\nContent-Type: text/plain\r\nRetry-After: 5\r\n"
    b"Content-Length: 33\r\nConnection: close\r\n\r\ntoo many clients; try again soon\n"
)
# seconds a client has for its whole exchange: one that trickles a byte now and then (never
# silent for the idle timeout) must not hold a place for ever
DEADLINE = 30.0
# a client is given a place only once its request line and headers have come, within this many
# seconds of connecting: idle or trickling clients (a scan, a slowloris) wait without a thread,
# and cannot take the places a scraper of /metrics or /healthz needs
HEADERS_WITHIN = 5.0
MAX_WAITING = 256  # clients waiting for their headers at once; past it the oldest is let go
MAX_HEAD = 16384  # bytes of request line and headers read before a place is given
# the answer to a client whose request line and headers do not end within MAX_HEAD
_TOO_LARGE_TEXT = b"request line and headers over %d bytes\n" % MAX_HEAD
TOO_LARGE = (
    b"HTTP/1.0 431 Request Header Fields Too Large\r\nContent-Type: text/plain\r\n"
    b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(_TOO_LARGE_TEXT), _TOO_LARGE_TEXT)
)


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    # socketserver's backlog of 5 dropped the connections of a burst (a scraper's retries, a
    # feed reader's refresh of every topic) until the client's SYN was sent again, a second
    # or more later; the kernel caps it at net.core.somaxconn
    request_queue_size = 1024
    slots = threading.BoundedSemaphore(MAX_CLIENTS)  # each server is given its own
    deadline = DEADLINE
    gate: _Gate  # given by MetricsServer
    heads: dict[socket.socket, bytes]  # what the gate read of a client, for its handler

    def process_request(self, request: Any, client_address: Any) -> None:
        self.gate.admit(request, client_address)

    def serve_request(self, request: socket.socket, client_address: Any, head: bytes) -> None:
        """A client whose headers have come (`head`, read by the gate): a place, or a 503."""
        if not self.slots.acquire(blocking=False):
            _turn_away(request)
            self.shutdown_request(request)
            return
        self.heads[request] = head
        try:
            super().process_request(request, client_address)
        except BaseException:  # no thread started: the slot is not taken
            self.heads.pop(request, None)
            self.slots.release()
            self.shutdown_request(request)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        cut = threading.Timer(self.deadline, _hang_up, [request])
        cut.daemon = True
        cut.start()
        try:
            super().process_request_thread(request, client_address)
        finally:
            cut.cancel()
            self.slots.release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        # a client that went silent (timed out) or hung up is no bug to print a traceback for
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


class _Server6(_Server):
    address_family = socket.AF_INET6  # "[::1]:9464"


class _Gate:
    """Holds new clients on one thread, without a place, until their request line and headers
    have come (then `_Server.serve_request`), for `within` seconds at most; at most `most` at
    once, the oldest let go for a new one (a real client sends its request at once)."""

    def __init__(self, server: _Server, within: float, most: int) -> None:
        self.server = server
        self.within = within
        self.most = most
        self._selector = selectors.DefaultSelector()
        self._wake_read, self._wake = socket.socketpair()
        self._wake_read.setblocking(False)
        self._selector.register(self._wake_read, selectors.EVENT_READ)
        self._admitted: list[tuple[socket.socket, Any]] = []
        self._lock = threading.Lock()
        self._closed = False
        # client -> (address, what it sent, when it must have sent its headers), oldest first
        self._waiting: dict[socket.socket, tuple[Any, bytes, float]] = {}
        self._thread = threading.Thread(target=self._run, name="metrics-gate", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def admit(self, client: socket.socket, address: Any) -> None:
        with self._lock:
            if self._closed:
                self.server.shutdown_request(client)
                return
            self._admitted.append((client, address))
        with contextlib.suppress(OSError):  # its buffer full: a wake is on its way anyway
            self._wake.send(b"x")

    def close(self) -> None:
        with self._lock:
            self._closed = True
        with contextlib.suppress(OSError):
            self._wake.send(b"x")
        self._thread.join(5)

    def _run(self) -> None:
        try:
            while not self._closed:
                waits = [due for _, _, due in self._waiting.values()]
                timeout = max(0.0, min(waits) - time.monotonic()) if waits else None
                for key, _ in self._selector.select(timeout):
                    if key.fileobj is self._wake_read:
                        self._take_admitted()
                    else:
                        self._read(key.fileobj)  # type: ignore[arg-type]
                now = time.monotonic()
                for client, (_, _, due) in list(self._waiting.items()):
                    if due <= now:  # no request within the time: let go without a place
                        self._let_go(client)
        finally:
            for client in list(self._waiting):
                self._let_go(client)
            with self._lock:
                admitted, self._admitted = self._admitted, []
            for client, _ in admitted:
                self.server.shutdown_request(client)
            self._selector.close()
            self._wake_read.close()
            self._wake.close()

    def _take_admitted(self) -> None:
        with contextlib.suppress(OSError):
            self._wake_read.recv(4096)
        with self._lock:
            admitted, self._admitted = self._admitted, []
        for client, address in admitted:
            while len(self._waiting) >= self.most:
                self._let_go(next(iter(self._waiting)))
            try:
                client.setblocking(False)
                self._selector.register(client, selectors.EVENT_READ)
            except (OSError, ValueError):  # it has hung up already
                self.server.shutdown_request(client)
                continue
            self._waiting[client] = (address, b"", time.monotonic() + self.within)

    def _read(self, client: socket.socket) -> None:
        if client not in self._waiting:  # let go for a newer client in this same wake
            return
        address, head, due = self._waiting[client]
        try:
            data = client.recv(MAX_HEAD - len(head))
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:  # it hung up
            self._let_go(client)
            return
        head += data
        # the headers end at an empty line (a bare LF is read as a line's end too)
        if b"\n\r\n" not in head and b"\n\n" not in head:
            if len(head) < MAX_HEAD:
                self._waiting[client] = (address, head, due)
            else:  # refused here: given a place, it could trickle the rest for the deadline
                _answer(client, TOO_LARGE)
                self._let_go(client)
            return
        self._selector.unregister(client)
        del self._waiting[client]
        client.setblocking(True)
        self.server.serve_request(client, address, head)

    def _let_go(self, client: socket.socket) -> None:
        self._waiting.pop(client, None)
        with contextlib.suppress(KeyError, ValueError):
            self._selector.unregister(client)
        self.server.shutdown_request(client)


class _Headed(io.RawIOBase):
    """A client's stream: what the gate read of it first, then the socket."""

    def __init__(self, head: bytes, client: socket.socket) -> None:
        self._head = head
        self._client = client

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._head:
            n = min(len(buffer), len(self._head))
            buffer[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        return self._client.recv_into(buffer)


def _turn_away(request: socket.socket) -> None:
    """Tell a client past the limit that the listener is busy, without waiting on it."""
    _answer(request, BUSY)


def _answer(request: socket.socket, answer: bytes) -> None:
    """Send a short answer before a hang-up, without waiting on the client: it fits a new
    connection's send buffer, and what the client already sent is read (a close with unread
    data resets the connection, and the client may lose the answer)."""
    with contextlib.suppress(OSError):
        request.setblocking(False)
        request.send(answer)
        request.recv(65536)


def _hang_up(request: socket.socket) -> None:
    """End a client's exchange from another thread: its reads and writes fail at once."""
    with contextlib.suppress(OSError):  # it has just hung up itself
        request.shutdown(socket.SHUT_RDWR)


def _headers_only(
    app: Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]],
    environ: dict[str, Any],
    start_response: Callable[..., Any],
) -> Iterable[bytes]:
    """A HEAD answered as its GET would be, without the body (wsgiref sends what an app
    returns whatever the method), its length given as the GET's."""
    held: list[Any] = []
    as_get = {**environ, "REQUEST_METHOD": "GET"}  # prometheus_client refuses a HEAD
    body = app(as_get, lambda status, headers, exc_info=None: held.extend((status, headers)))
    try:
        length = sum(len(block) for block in body)
    finally:
        close = getattr(body, "close", None)
        if close is not None:
            close()
    status, headers = held
    if not any(name.lower() == "content-length" for name, _ in headers):
        headers = [*headers, ("Content-Length", str(length))]
    start_response(status, headers)
    return []


class _QuietHandler(WSGIRequestHandler):
    timeout = 10  # seconds a client may stay silent: an idle one must not hold a thread for ever
    server: _Server

    def setup(self) -> None:
        super().setup()
        head = self.server.heads.pop(self.connection, b"")
        if head:
            self.rfile.close()  # unread: the socket's own file, replaced by one the head leads
            self.rfile = io.BufferedReader(_Headed(head, self.connection))

    def log_message(self, format: str, *args: Any) -> None:
        pass


class MetricsServer:
    """/metrics (Prometheus text format), /healthz (200 or 503) and, given `atom`, the Atom
    feeds under /feeds/ (bot/http/feeds.py), on threads of their own."""

    def __init__(
        self,
        metrics: Metrics,
        host: str,
        port: int,
        feeds: Callable[[], int],
        atom: Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]] | None = None,
        max_clients: int = MAX_CLIENTS,
        deadline: float = DEADLINE,
        headers_within: float = HEADERS_WITHIN,
        max_waiting: int = MAX_WAITING,
    ) -> None:
        self.metrics = metrics
        self.feeds = feeds
        self._atom = atom
        metrics_app = make_wsgi_app(metrics.registry)

        def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            method = environ.get("REQUEST_METHOD", "GET")
            if method not in ("GET", "HEAD"):
                start_response(
                    "405 Method Not Allowed",
                    [("Content-Type", "text/plain"), ("Allow", "GET, HEAD")],
                )
                return [b"GET only\n"]
            if method == "HEAD":
                return _headers_only(routes, environ, start_response)
            return routes(environ, start_response)

        def routes(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            if environ.get("PATH_INFO") == "/healthz":
                ok, why = metrics.health(self.feeds())
                start_response(
                    "200 OK" if ok else "503 Service Unavailable",
                    [("Content-Type", "text/plain; charset=utf-8")],
                )
                return [f"{why}\n".encode()]
            if environ.get("PATH_INFO") == "/metrics":
                try:
                    return metrics_app(environ, start_response)  # type: ignore[no-any-return]
                except TypeError:  # prometheus_client compares a version of letters (`version=x`)
                    plain = {k: v for k, v in environ.items() if k != "HTTP_ACCEPT"}
                    return metrics_app(plain, start_response)  # type: ignore[no-any-return]
            if atom is not None and environ.get("PATH_INFO", "").startswith("/feeds/"):
                return atom(environ, start_response)
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"/metrics, /healthz or /feeds/<topic>.atom\n"]

        server_class = _Server6 if ":" in host else _Server
        self._server = make_server(host, port, app, server_class, handler_class=_QuietHandler)
        self._server.slots = threading.BoundedSemaphore(max_clients)
        self._server.deadline = deadline
        self._server.heads = {}
        self._server.gate = _Gate(self._server, min(headers_within, deadline), max_waiting)
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="metrics", daemon=True
        )

    def start(self) -> MetricsServer:
        self._server.gate.start()
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)
        self._server.gate.close()
        close = getattr(self._atom, "close", None)  # the feeds' store
        if close is not None:
            close()
