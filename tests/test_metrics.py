"""/metrics and /healthz: scraped from the running daemon, and the health rules themselves."""

from __future__ import annotations

import contextlib
import http.client
import re
import select
import socket
import threading
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.metrics import MAX_HEAD, Metrics, MetricsServer
from tests.conftest import TOKEN, write_config
from tests.fakes.feed_server import FeedEntry, FeedServer, rss
from tests.fakes.telegram_api import FakeBotAPI
from watchers.poll_report import PollReport

CHAT = 4242


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def value(text: str, name: str) -> float:
    match = re.search(rf"^{re.escape(name)} (\S+)$", text, re.MULTILINE)
    assert match, f"{name} not in the metrics"
    return float(match[1])


def test_metrics_and_health_of_the_running_daemon(
    tmp_path: Path, feed_server: FeedServer, bot_api: FakeBotAPI, start_daemon: Any
) -> None:
    old = FeedEntry("Old: Kuril Islands", "https://a.example/old", guid="old")
    feed_server.set_feed("/a.xml", rss([old]))
    config = write_config(
        tmp_path,
        {"feed-a": feed_server.url("/a.xml")},
        api_base_url=bot_api.base_url,
        extra={"metrics": {"listen": "127.0.0.1:0"}},
    )
    daemon = start_daemon("run", "--config", str(config), token=TOKEN)
    line = daemon.stderr.wait_for("metrics on http://")
    base = re.search(r"(http://127\.0\.0\.1:\d+)/metrics", line)[1]  # type: ignore[index]
    bot_api.wait_until_polling(timeout=20)
    feed_server.wait_for_hits("/a.xml", 1)  # primed with the old item alone, not the new one
    bot_api.push_message(CHAT, "/subscribe kuril")
    bot_api.wait_for_messages(CHAT, 1)
    new = FeedEntry("Iturup airport reopens", "https://a.example/new", guid="new")
    feed_server.set_feed("/a.xml", rss([new, old]))
    bot_api.wait_for_messages(CHAT, 2, timeout=20)
    daemon.stderr.wait_for(f"chat {CHAT}: alert")
    bot_api.push_message(CHAT, "/watch Iturup")
    assert "would have matched 1 story" in bot_api.wait_for_messages(CHAT, 3)[2]["text"]

    status, text = get(f"{base}/metrics")
    assert status == 200
    assert value(text, 'kurilwatch_polls_total{feed="feed-a",outcome="primed"}') == 1
    assert value(text, 'kurilwatch_polls_total{feed="feed-a",outcome="new"}') >= 1
    assert value(text, 'kurilwatch_items_total{feed="feed-a"}') == 2
    assert value(text, 'kurilwatch_matches_total{feed="feed-a"}') == 1  # the primed one is not news
    assert value(text, 'kurilwatch_deliveries_total{outcome="sent"}') == 1
    assert value(text, "kurilwatch_delivery_latency_seconds_count") == 1
    assert value(text, 'kurilwatch_watch_previews_total{outcome="shown"}') == 1
    assert 0 <= value(text, "kurilwatch_last_successful_poll_age_seconds") < 30
    assert "kurilwatch_queue_depth" in text
    assert get(f"{base}/healthz") == (200, "ok\n")
    assert get(f"{base}/nothing")[0] == 404
    assert daemon.stop() == 0


def test_health_fails_without_a_successful_poll_or_with_a_stuck_queue() -> None:
    metrics = Metrics(stale_after=timedelta(seconds=60), stuck_after=timedelta(seconds=60))
    assert metrics.health(feeds=3) == (True, "ok")
    metrics._started -= 120  # up for two minutes and no poll succeeded
    assert metrics.health(feeds=3) == (False, "no poll has succeeded for over 60 s")
    assert metrics.health(feeds=0)[0]  # nothing to poll is not a fault
    metrics.polled(PollReport("a", "unchanged"))
    assert metrics.health(feeds=3)[0]
    metrics.polled(PollReport("a", "error", error="HTTP 500"))  # errors do not count as success
    assert metrics.health(feeds=3)[0]
    waiting_since = datetime.now(UTC) - timedelta(seconds=120)
    metrics.queued(5, waiting_since)
    ok, why = metrics.health(feeds=3)
    assert not ok and "none was sent" in why
    metrics.delivered("sent", waiting_since, datetime.now(UTC))
    assert metrics.health(feeds=3)[0]
    metrics._last_poll = time.time() - 120
    assert not metrics.health(feeds=3)[0]


def test_an_alert_held_for_its_chats_digest_is_no_stuck_queue(tmp_path: Path) -> None:
    """A chat's daily digest holds its alerts for hours, as it asked: /healthz said "stuck"
    most of the day on a small install. An alert due and waiting is still stuck."""
    from store import FeedState, ItemRecord, Store

    now = datetime.now(UTC)
    feed = FeedState(id="tass", url="u", title="TASS")
    with Store(tmp_path / "kw.db") as store:
        for chat in (1, 2):
            store.upsert_subscriber(chat, now=now - timedelta(days=1))
            store.subscribe(chat, "kuril", now=now - timedelta(days=1))
        old = ItemRecord("g0", "https://n.example/0", None, "Old news", "s", None, ("kuril",))
        store.ingest(feed, [old], now=now - timedelta(days=1), alert=False)  # the first poll
        new = ItemRecord("g1", "https://n.example/1", None, "Drills", "s", None, ("kuril",))
        store.ingest(feed, [new], now=now - timedelta(hours=2), alert=True)
        store.set_hold(1, now + timedelta(hours=14))  # its digest, tomorrow morning
        store.set_hold(2, now + timedelta(hours=14))
        held = (store.backlog(), store.oldest_due())
        store.set_hold(2, now - timedelta(minutes=90))  # a mute that ended 90 minutes ago
        waiting = (store.backlog(), store.oldest_due())
    metrics = Metrics(stale_after=timedelta(hours=1), stuck_after=timedelta(minutes=30))
    (depth, oldest), due = held
    metrics.queued(depth, oldest, due)
    assert depth == 2 and metrics.health(feeds=0) == (True, "ok")
    (depth, oldest), due = waiting
    metrics.queued(depth, oldest, due)
    assert not metrics.health(feeds=0)[0]


def test_feeds_whose_max_age_stretches_their_polls_are_not_stale_between_polls() -> None:
    """A feed that sends max-age=3600 is polled hourly (up to poll.max_interval): /healthz
    said "no poll has succeeded" for 45 minutes of every hour."""
    from bot.config import Config
    from bot.metrics import configure_metrics

    feeds = [{"id": "tass-en", "url": "https://tass.com/rss/v2.xml"}]
    topics = {"kuril": {"title": "Kuril Islands", "query": "kuril"}}
    settings = Config.model_validate({"feeds": feeds, "topics": topics})
    metrics = Metrics(stale_after=timedelta(minutes=15), stuck_after=timedelta(minutes=30))
    configure_metrics(metrics, settings, timedelta(minutes=15))
    assert metrics.stale_after == settings.poll.max_interval + timedelta(minutes=15)
    metrics.polled(PollReport("tass-en", "unchanged"))
    metrics._started -= 2 * 3600  # up for two hours
    metrics._last_poll -= 50 * 60  # its next poll is due in about ten minutes
    assert metrics.health(feeds=1)[0]
    metrics._last_poll -= 30 * 60
    assert not metrics.health(feeds=1)[0]


def test_a_feed_removed_by_a_reload_leaves_the_metrics(
    tmp_path: Path, feed_server: FeedServer, start_daemon: Any
) -> None:
    import yaml

    feed_server.set_feed("/a.xml", rss([FeedEntry("Kuril Islands", "https://a.example/1")]))
    feed_server.set_feed("/b.xml", rss([FeedEntry("Iturup", "https://b.example/1")]))
    feeds = {"feed-a": feed_server.url("/a.xml"), "feed-b": feed_server.url("/b.xml")}
    config = write_config(tmp_path, feeds, extra={"metrics": {"listen": "127.0.0.1:0"}})
    daemon = start_daemon("run", "--config", str(config))
    line = daemon.stderr.wait_for("metrics on http://")
    base = re.search(r"(http://127\.0\.0\.1:\d+)/metrics", line)[1]  # type: ignore[index]
    feed_server.wait_for_hits("/b.xml", 2, timeout=20)
    feed_server.wait_for_hits("/a.xml", 2, timeout=20)
    text = get(f"{base}/metrics")[1]
    assert 'kurilwatch_items_total{feed="feed-b"}' in text  # primed: its items were stored

    settings = yaml.safe_load(config.read_text())
    settings["feeds"] = [f for f in settings["feeds"] if f["id"] != "feed-b"]
    config.write_text(yaml.safe_dump(settings, allow_unicode=True))
    daemon.stderr.wait_for("feeds +0 -1 ~0")
    feed_server.wait_for_hits("/a.xml", feed_server.hits("/a.xml") + 2, timeout=20)
    text = get(f"{base}/metrics")[1]
    assert 'feed="feed-b"' not in text  # a removed feed's series are gone, not exported for ever
    assert 'kurilwatch_polls_total{feed="feed-a",outcome="primed"}' in text
    assert daemon.stop() == 0


def test_a_poll_that_ends_after_its_feed_was_removed_adds_no_series() -> None:
    from prometheus_client import generate_latest

    metrics = Metrics(stale_after=timedelta(seconds=60), stuck_after=timedelta(seconds=60))
    metrics.keep_feeds(["a", "b"])
    metrics.polled(PollReport("b", "new", new_items=3))
    metrics.keep_feeds(["a"])  # a reload removed b while its next poll ran
    metrics.polled(PollReport("b", "error", error="HTTP 500"))
    metrics.polled(PollReport("a", "unchanged"))
    text = generate_latest(metrics.registry).decode()
    assert 'feed="b"' not in text and 'kurilwatch_polls_total{feed="a",outcome="unchanged"}' in text


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not _ipv6_loopback(), reason="this machine has no IPv6 loopback")
def test_the_listener_serves_on_the_ipv6_loopback_the_config_accepts() -> None:
    from bot.config import MetricsConfig

    address = MetricsConfig(listen="[::1]:0").address
    assert address == ("::1", 0)
    metrics = Metrics(stale_after=timedelta(hours=1), stuck_after=timedelta(minutes=30))
    server = MetricsServer(metrics, *address, feeds=lambda: 0).start()
    try:
        status, body = get(f"http://[::1]:{server.port}/metrics")
        assert status == 200 and "kurilwatch" in body
    finally:
        server.stop()


def test_the_listener_serves_a_bounded_number_of_clients_at_once() -> None:
    metrics = Metrics(stale_after=timedelta(seconds=60), stuck_after=timedelta(seconds=60))
    release = threading.Event()
    started = threading.Semaphore(0)

    def slow(environ: dict[str, Any], start_response: Any) -> list[bytes]:  # a feed's store
        started.release()
        release.wait(30)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"feed\n"]

    server = MetricsServer(
        metrics, "127.0.0.1", 0, feeds=lambda: 0, atom=slow, max_clients=2
    ).start()
    url = f"http://127.0.0.1:{server.port}/healthz"
    served = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(2)]
    try:
        for client in served:  # requests being served hold their threads
            client.sendall(b"GET /feeds/a.atom HTTP/1.0\r\n\r\n")
        for _ in served:
            assert started.acquire(timeout=10)
        # a third client is turned away at once, not given a thread, and told why (a bare
        # hang-up reads as the daemon gone)
        assert get(url) == (503, "too many clients; try again soon\n")
        release.set()
        for client in served:
            assert client.makefile("rb").read().endswith(b"\r\n\r\nfeed\n")
    finally:
        release.set()
        for client in served:
            client.close()
        try:
            _served_again(url)  # the two threads end, and their places come free
        finally:
            server.stop()


def test_a_burst_of_connections_waits_in_the_backlog_not_in_the_clients_retries() -> None:
    """Before the listener accepts any, 64 clients connect at once: the kernel completes every
    handshake (a backlog of 5 drops the rest's SYNs, and they wait a second or more to retry)."""
    metrics = Metrics(stale_after=timedelta(seconds=60), stuck_after=timedelta(seconds=60))
    server = MetricsServer(metrics, "127.0.0.1", 0, feeds=lambda: 0)  # not started: no accept
    clients = [socket.socket() for _ in range(64)]
    try:
        for client in clients:
            client.setblocking(False)
            client.connect_ex(("127.0.0.1", server.port))
        waiting = set(clients)
        deadline = time.monotonic() + 20  # bounds the wait for the handshakes
        while waiting and time.monotonic() < deadline:
            _, connected, _ = select.select([], list(waiting), [], 1.0)
            waiting -= set(connected)
        assert not waiting, f"{len(waiting)} of 64 connections not made"
        assert all(c.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0 for c in clients)
    finally:
        for client in clients:
            client.close()
        server.start()  # stop() waits for the serving thread
    try:
        assert get(f"http://127.0.0.1:{server.port}/healthz")[0] in (200, 503)
    finally:
        server.stop()


def test_idle_and_trickling_clients_cannot_starve_health_checks() -> None:
    # each client took a place as it connected, for up to 10 s idle or 30 s trickling: as
    # many as the places starved /metrics and /healthz, the operator's monitoring
    metrics = Metrics(stale_after=timedelta(seconds=60), stuck_after=timedelta(seconds=60))
    server = MetricsServer(
        metrics, "127.0.0.1", 0, feeds=lambda: 0, max_clients=2, headers_within=60.0
    ).start()
    port = server.port
    url = f"http://127.0.0.1:{port}/healthz"
    idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(3)]
    slow = [socket.create_connection(("127.0.0.1", port)) for _ in range(3)]
    try:
        for client in slow:
            client.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: a")
        for _ in range(3):
            assert get(url) == (200, "ok\n")
            for client in slow:
                client.sendall(b"a")
        for client in idle + slow:  # still waiting for their headers, neither served nor cut
            client.setblocking(False)
            with pytest.raises(BlockingIOError):
                client.recv(1024)
    finally:
        for client in idle + slow:
            client.close()
        server.stop()


def test_headers_that_never_end_are_refused_at_the_gate_not_given_a_place() -> None:
    # a client whose 16 KB of headers had come was given a place though they never ended; as
    # many such clients as places, trickling a byte now and then, kept /healthz and /metrics
    # answering 503 for the whole 30 s deadline, and again as each came back
    metrics = Metrics(stale_after=timedelta(seconds=60), stuck_after=timedelta(seconds=60))
    server = MetricsServer(
        metrics, "127.0.0.1", 0, feeds=lambda: 0, max_clients=2, headers_within=60.0
    ).start()
    url = f"http://127.0.0.1:{server.port}/healthz"
    endless = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * MAX_HEAD
    clients = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(4)]
    try:
        for client in clients:
            client.sendall(endless)
        for client in clients:
            client.settimeout(20)  # bounds the wait; the gate answers as the bytes come
            answer = b""
            with contextlib.suppress(ConnectionError):
                while chunk := client.recv(4096):  # the gate hangs up after its answer
                    answer += chunk
                    with contextlib.suppress(OSError):
                        client.send(b"a")  # trickling on
            assert answer.startswith(b"HTTP/1.0 431 "), answer[:80]
            assert answer.endswith(b"\r\n\r\nrequest line and headers over 16384 bytes\n")
        assert get(url) == (200, "ok\n")  # no place was taken
    finally:
        for client in clients:
            client.close()
        server.stop()


def test_more_waiting_clients_than_the_gate_holds_let_the_oldest_go() -> None:
    metrics = Metrics(stale_after=timedelta(seconds=60), stuck_after=timedelta(seconds=60))
    server = MetricsServer(
        metrics, "127.0.0.1", 0, feeds=lambda: 0, max_clients=2, headers_within=60, max_waiting=3
    ).start()
    url = f"http://127.0.0.1:{server.port}/healthz"
    idle = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(5)]
    try:
        assert get(url) == (200, "ok\n")  # the gate full of idle clients: a real one served
        idle[0].settimeout(20)  # bounds the wait; the oldest went as the newer came
        with contextlib.suppress(ConnectionError):
            assert idle[0].recv(1024) == b""
    finally:
        for client in idle:
            client.close()
        server.stop()


def _served_again(url: str) -> None:
    deadline = time.monotonic() + 10
    while True:
        try:
            answer = get(url)
        except (urllib.error.URLError, ConnectionError, http.client.HTTPException):
            answer = (0, "")  # the listener may not have finished with the last one yet
        if answer[0] not in (0, 503):
            assert answer == (200, "ok\n")
            return
        assert time.monotonic() < deadline, "the listener never served again"
        time.sleep(0.05)


def test_a_client_that_trickles_its_request_is_cut_off_at_the_deadline() -> None:
    # slowloris: a byte now and then, never silent for the idle timeout, must not hold one of
    # the listener's few places for ever
    metrics = Metrics(stale_after=timedelta(seconds=60), stuck_after=timedelta(seconds=60))
    server = MetricsServer(
        metrics, "127.0.0.1", 0, feeds=lambda: 0, max_clients=1, deadline=1.0
    ).start()
    url = f"http://127.0.0.1:{server.port}/healthz"
    try:
        with socket.create_connection(("127.0.0.1", server.port)) as client:
            client.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            deadline = time.monotonic() + 20  # bounds the wait; the listener's own is 1 s
            while True:
                readable, _, _ = select.select([client], [], [], 0.2)
                if readable:  # the listener hung up
                    with contextlib.suppress(ConnectionError):
                        assert client.recv(1024) == b""
                    break
                assert time.monotonic() < deadline, "the trickling client is served for ever"
                client.sendall(b"a")
        _served_again(url)  # its place comes free
    finally:
        server.stop()


@pytest.mark.parametrize(
    "accept", ["text/plain;version=x", "application/openmetrics-text; version=1.x"]
)
def test_an_accept_header_of_an_unreadable_version_gets_the_default_format(
    accept: str, capfd: pytest.CaptureFixture[str]
) -> None:
    # prometheus_client raised on it: a 500 and a traceback on stderr per request a stranger sent
    metrics = Metrics(stale_after=timedelta(seconds=60), stuck_after=timedelta(seconds=60))
    server = MetricsServer(metrics, "127.0.0.1", 0, feeds=lambda: 0).start()
    try:
        request = urllib.request.Request(
            f"http://127.0.0.1:{server.port}/metrics", headers={"Accept": accept}
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            assert response.status == 200
            assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
            assert "kurilwatch_queue_depth 0.0" in response.read().decode()
    finally:
        server.stop()
    assert "Traceback" not in capfd.readouterr().err


def test_a_client_let_go_while_it_sends_does_not_end_the_gate() -> None:
    """A flood of connections, the oldest waiting clients sending as newer ones come: a client
    let go for a newer one whose bytes came in the same wake was read after it was let go, an
    error that ended the gate's thread, and no client was answered again (their sockets kept)."""
    metrics = Metrics(stale_after=timedelta(seconds=60), stuck_after=timedelta(seconds=60))
    server = MetricsServer(
        metrics, "127.0.0.1", 0, feeds=lambda: 0, max_clients=2, headers_within=60, max_waiting=4
    ).start()
    port = server.port
    clients: list[socket.socket] = []
    try:
        for _ in range(100):
            clients.append(socket.create_connection(("127.0.0.1", port)))
            for client in clients[-6:]:
                with contextlib.suppress(OSError):
                    client.send(b"G")
        assert get(f"http://127.0.0.1:{port}/healthz") == (200, "ok\n")
    finally:
        for client in clients:
            client.close()
        server.stop()
