"""The HTTP listener as a client on the network meets it: the Atom feeds served from a real
store by a real MetricsServer on 127.0.0.1, with the requests a reverse proxy or a stranger
sends."""

from __future__ import annotations

import re
import socket
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import feedparser
import pytest
import yaml

from bot.config import Config
from bot.http.atom import ATOM
from bot.http.feeds import FeedsApp
from bot.metrics import Metrics, MetricsServer
from store import FeedState, ItemRecord, Store, Story
from tests.conftest import TOKEN, write_config
from tests.fakes.feed_server import FeedEntry, FeedServer, rss
from tests.fakes.telegram_api import FakeBotAPI

T0 = datetime(2026, 11, 1, 9, 30, tzinfo=UTC)
A = f"{{{ATOM}}}"
CHAT = 4343


@dataclass
class Listener:
    base: str
    store_path: Path
    public_url: list[str | None]  # what the config says now (a reload changes it)


@pytest.fixture
def listener(tmp_path: Path) -> Iterator[Listener]:
    path = tmp_path / "kw.db"
    with Store(path) as store:
        url = "https://n.example/1"
        record = ItemRecord("g1", url, url, "Iturup drills", "s", None, ("kuril",))
        store.ingest(FeedState(id="tass", url="u", title="TASS"), [record], now=T0, alert=False)
    public: list[str | None] = [None]

    def settings() -> Config:  # the daemon's, as a reload leaves it
        metrics = {"listen": "127.0.0.1:0", "public_url": public[0]}
        topic = {"title": "Kuril Islands", "query": "kuril"}
        return Config.model_validate(
            {"store": {"path": str(path)}, "topics": {"kuril": topic}, "metrics": metrics}
        )

    metrics = Metrics(stale_after=timedelta(seconds=60), stuck_after=timedelta(seconds=60))
    atom = FeedsApp.of(settings)
    server = MetricsServer(metrics, "127.0.0.1", 0, feeds=lambda: 0, atom=atom).start()
    try:
        yield Listener(f"http://127.0.0.1:{server.port}", path, public)
    finally:
        server.stop()


def fetch(url: str, headers: dict[str, str] | None = None) -> tuple[int, bytes, dict[str, str]]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, error.read(), dict(error.headers)


def self_link(body: bytes) -> str | None:
    for link in ET.fromstring(body).findall(f"{A}link"):
        if link.get("rel") == "self":
            return link.get("href")
    return None


def test_behind_a_reverse_proxy_the_self_link_is_the_public_address(listener: Listener) -> None:
    # a proxy passes its own upstream Host (nginx's default); the feed must name where its
    # readers fetch it, the address /mywatch gives, not the loopback listener
    listener.public_url[0] = "https://news.example.org/kw/"
    status, body, _ = fetch(f"{listener.base}/feeds/kuril.atom")
    assert status == 200 and feedparser.parse(body).bozo == 0
    assert self_link(body) == "https://news.example.org/kw/feeds/kuril.atom"
    # nor can a stranger's Host header put their address in a feed a cache keeps
    forged = fetch(f"{listener.base}/feeds/kuril.atom", {"Host": "evil.example"})[1]
    assert self_link(forged) == "https://news.example.org/kw/feeds/kuril.atom"
    listener.public_url[0] = None  # without one, the address the reader asked
    assert self_link(fetch(f"{listener.base}/feeds/kuril.atom")[1]) == (
        f"{listener.base}/feeds/kuril.atom"
    )


def test_a_listen_port_taken_is_named_and_mywatch_gives_no_dead_address(
    tmp_path: Path, feed_server: FeedServer, bot_api: FakeBotAPI, start_daemon: Any
) -> None:
    feed_server.set_feed("/a.xml", rss([FeedEntry("Kuril Islands", "https://a.example/1")]))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        listen = f"127.0.0.1:{taken.getsockname()[1]}"
        config = write_config(
            tmp_path,
            {"feed-a": feed_server.url("/a.xml")},
            api_base_url=bot_api.base_url,
            extra={"metrics": {"listen": listen}},
        )
        daemon = start_daemon("run", "--config", str(config), token=TOKEN)
        line = daemon.stderr.wait_for("cannot listen")
        assert f"metrics.listen: cannot listen on {listen}" in line  # the key, the address
        bot_api.wait_until_polling(timeout=20)
        bot_api.push_message(CHAT, "/watch Shikotan")
        bot_api.wait_for_messages(CHAT, 1)
        bot_api.push_message(CHAT, "/mywatch")
        answer = bot_api.wait_for_messages(CHAT, 2)[1]["text"]
        assert "Feeds are off" in answer and listen not in answer
        settings = yaml.safe_load(config.read_text())  # a reload does not turn them on again
        settings["metrics"]["public_url"] = "https://news.example.org"
        config.write_text(yaml.safe_dump(settings))
        daemon.stderr.wait_for("config reloaded")
        bot_api.push_message(CHAT, "/mywatch")
        assert "Feeds are off" in bot_api.wait_for_messages(CHAT, 3)[2]["text"]
        assert daemon.stop() == 0


def test_mywatch_gives_the_port_the_listener_bound_when_listen_names_port_0(
    tmp_path: Path, feed_server: FeedServer, bot_api: FakeBotAPI, start_daemon: Any
) -> None:
    # /mywatch gave http://127.0.0.1:0/feeds/w/<token>.atom, an address nothing answers, at
    # start and again after each reload
    feed_server.set_feed("/a.xml", rss([FeedEntry("Kuril Islands", "https://a.example/1")]))
    config = write_config(
        tmp_path,
        {"feed-a": feed_server.url("/a.xml")},
        api_base_url=bot_api.base_url,
        extra={"metrics": {"listen": "127.0.0.1:0"}},
    )
    daemon = start_daemon("run", "--config", str(config), token=TOKEN)
    line = daemon.stderr.wait_for("feeds on /feeds/<topic>.atom")
    base = re.search(r"(http://127\.0\.0\.1:\d+)/metrics", line)[1]  # type: ignore[index]
    assert not base.endswith(":0")
    bot_api.wait_until_polling(timeout=20)
    bot_api.push_message(CHAT, "/watch Shikotan")
    bot_api.wait_for_messages(CHAT, 1)
    for said in (2, 3):
        bot_api.push_message(CHAT, "/mywatch")
        answer = bot_api.wait_for_messages(CHAT, said)[said - 1]["text"]
        address = re.search(r"http://\S+/feeds/w/[A-Za-z0-9_-]+\.atom", answer)
        assert address and address[0].startswith(base + "/feeds/w/"), answer
        status, body, _ = fetch(address[0])
        assert status == 200 and feedparser.parse(body).bozo == 0
        if said == 2:  # a reload reads the config's listen again
            settings = yaml.safe_load(config.read_text())
            settings["metrics"]["stuck_after"] = "45m"
            config.write_text(yaml.safe_dump(settings))
            daemon.stderr.wait_for("config reloaded")
    assert daemon.stop() == 0


def test_a_watch_feeds_categories_are_the_chats_queries_not_watch_ids(
    listener: Listener,
) -> None:
    # its entries carried <category term="@w1"/>: the store's id of the watch, which tells the
    # reader nothing (and counts everyone's watches)
    with Store(listener.store_path) as store:
        store.upsert_subscriber(CHAT, now=T0, chat_type="private")
        shikotan = store.add_watch(CHAT, "Shikotan", now=T0, limit=10)
        port = store.add_watch(CHAT, "port OR harbour", now=T0, limit=10)
        assert shikotan and port
        url = "https://n.example/2"
        record = ItemRecord(
            "g2", url, url, "Shikotan port opens", "s", None, (shikotan.topic_id, port.topic_id)
        )
        store.ingest(FeedState(id="tass", url="u", title="TASS"), [record], now=T0, alert=False)
        token = store.feed_token(CHAT, now=T0)
    status, body, _ = fetch(f"{listener.base}/feeds/w/{token}.atom")
    assert status == 200
    [entry] = feedparser.parse(body).entries
    assert [t.term for t in entry.tags] == ["Shikotan", "port OR harbour"]
    assert b"@w" not in body


def test_a_feed_path_is_matched_whole_and_other_methods_are_told_what_is_allowed(
    listener: Listener,
) -> None:
    status, _, _ = fetch(f"{listener.base}/feeds/kuril.atom")
    assert status == 200
    # `$` let a path ending in a newline pass for the feed's own
    status, _, _ = fetch(f"{listener.base}/feeds/kuril.atom%0A")
    assert status == 404
    request = urllib.request.Request(f"{listener.base}/feeds/kuril.atom", method="POST", data=b"")
    try:
        urllib.request.urlopen(request, timeout=5)
        raise AssertionError("a POST was served")
    except urllib.error.HTTPError as error:
        assert error.code == 405
        assert error.headers["Allow"] == "GET, HEAD"


def _raw(base: str, request: bytes) -> bytes:
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as client:
        client.sendall(request)
        answer = b""
        while chunk := client.recv(65536):  # the listener closes after its answer
            answer += chunk
    return answer


@pytest.mark.parametrize("path", ["/healthz", "/metrics", "/feeds/kuril.atom", "/nothing"])
def test_a_head_gets_the_headers_of_its_get_and_no_body(listener: Listener, path: str) -> None:
    got = _raw(listener.base, f"GET {path} HTTP/1.0\r\n\r\n".encode())
    head, _, body = _raw(listener.base, f"HEAD {path} HTTP/1.0\r\n\r\n".encode()).partition(
        b"\r\n\r\n"
    )
    assert body == b""  # a keep-alive client would read it as the next answer
    length = next(
        line.split(b":")[1].strip()
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    assert got.split(b"\r\n")[0] == head.split(b"\r\n")[0]  # the same status
    assert int(length) == len(got.partition(b"\r\n\r\n")[2])


def test_a_post_to_health_or_metrics_is_told_what_is_allowed(listener: Listener) -> None:
    answer = _raw(listener.base, b"POST /healthz HTTP/1.0\r\nContent-Length: 0\r\n\r\n")
    assert answer.startswith(b"HTTP/1.0 405") and b"Allow: GET, HEAD" in answer


def test_a_store_that_cannot_be_read_gets_503_and_one_log_line_not_a_traceback_each(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    # a stranger's requests while the store fails (disk, damage) must not each print a
    # traceback on the daemon's stderr, past its log format, nor read as the listener's bug
    path = tmp_path / "kw.db"
    path.write_bytes(b"not a database, " * 100)
    atom = FeedsApp(path, lambda: {"kuril": "Kuril Islands"})
    metrics = Metrics(stale_after=timedelta(seconds=60), stuck_after=timedelta(seconds=60))
    server = MetricsServer(metrics, "127.0.0.1", 0, feeds=lambda: 0, atom=atom).start()
    try:
        base = f"http://127.0.0.1:{server.port}"
        for _ in range(3):
            status, body, headers = fetch(f"{base}/feeds/kuril.atom")
            assert status == 503 and headers["Retry-After"] == "60"
            assert b"cannot be read" in body
        assert fetch(f"{base}/feeds/w/{'A' * 32}.atom")[0] == 503
    finally:
        server.stop()
    assert "Traceback" not in capfd.readouterr().err
    said = [r.getMessage() for r in caplog.records if "cannot be read" in r.getMessage()]
    assert len(said) == 1 and "file is not a database" in said[0]


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_a_304_gives_the_feed_s_length_never_zero(listener: Listener, method: str) -> None:
    # `Content-Length: 0` on a 304 (wsgiref's default) is what a cache refreshing its stored
    # copy from the 304 takes for the feed: its readers would be served an empty feed
    status, body, headers = fetch(f"{listener.base}/feeds/kuril.atom")
    assert status == 200 and int(headers["Content-Length"]) == len(body) > 0
    host = listener.base.removeprefix("http://")  # the self link, and so the ETag, names it
    request = (
        f"{method} /feeds/kuril.atom HTTP/1.0\r\nHost: {host}\r\n"
        f"If-None-Match: {headers['ETag']}\r\n\r\n"
    )
    head, _, rest = _raw(listener.base, request.encode()).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.0 304") and rest == b""
    lengths = [
        line.split(b":")[1].strip()
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    ]
    assert lengths == [str(len(body)).encode()]


def test_a_feed_is_read_from_the_store_once_until_the_store_changes(
    listener: Listener, monkeypatch: pytest.MonkeyPatch
) -> None:
    # each request opened the store and scanned every matched item: a reader polling every
    # minute, or 30 readers, cost a full scan each
    scans: list[Sequence[str] | None] = []
    stories = Store.stories

    def counted(store: Store, topic_ids: Sequence[str] | None = None, **kw: Any) -> list[Story]:
        scans.append(topic_ids)
        return stories(store, topic_ids, **kw)

    monkeypatch.setattr(Store, "stories", counted)
    monkeypatch.setattr("bot.http.feeds.CACHE_ENTRIES", 2)
    url = f"{listener.base}/feeds/kuril.atom"
    first = fetch(url)
    assert first[0] == 200 and fetch(url)[1] == first[1]
    assert len(scans) == 1  # the second was served as built
    with Store(listener.store_path) as store:  # the daemon stores a new item
        link = "https://n.example/2"
        record = ItemRecord("g2", link, link, "Shikotan port opens", "s", None, ("kuril",))
        store.ingest(FeedState(id="tass", url="u", title="TASS"), [record], now=T0, alert=False)
    status, body, _ = fetch(url)
    assert status == 200 and b"Shikotan port opens" in body and b"Iturup drills" in body
    assert len(scans) == 2
    for lang in ("ru", "ja"):  # two more feeds kept: the first is let go (at most 2)
        assert fetch(url, {"Accept-Language": lang})[0] == 200
    assert len(scans) == 4
    assert fetch(url)[1] == body and len(scans) == 5
