"""Crash consistency of delivery: SIGKILL the daemon again and again while it sends.

600 alerts (6 stories to 100 chats) are queued; the daemon is killed at 6 random points of
its progress and restarted each time. Every (chat, story) must arrive, and the only repeats
allowed are the sends in flight at a kill (rows left `sending`), at most `concurrency` each.
"""

from __future__ import annotations

import random
import signal
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from store import Store
from tests.conftest import TOKEN, shipped_topics
from tests.fakes.alerts import queue_stories, story_link
from tests.fakes.feed_server import FeedServer, Route
from tests.fakes.telegram_api import FakeBotAPI

CHATS = 100
STORIES = 6
KILLS = 6
CONCURRENCY = 4


def queue_alerts(db: Path) -> None:
    store = Store(db)
    assert queue_stories(store, CHATS, STORIES, datetime.now(UTC)) == CHATS * STORIES
    store.close()


def write_config(folder: Path, api: FakeBotAPI) -> Path:
    config: dict[str, Any] = {
        "store": {"path": "kw.db"},
        "telegram": {"api_base_url": api.base_url},
        # Telegram's pace would make this test take minutes; the fake does not enforce it
        "delivery": {
            "concurrency": CONCURRENCY,
            "per_second": 1000,
            "private_per_second": 1000,
            "private_burst": 10,
        },
        "feeds": [],
        "topics": shipped_topics(),
    }
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True))
    return path


def received(api: FakeBotAPI) -> list[tuple[int, str]]:
    """(chat, story link) of every message the fake accepted."""
    return [
        (int(c.params["chat_id"]), c.params["text"].split('href="')[1].split('"')[0])
        for c in api.calls_of("sendMessage")
        if c.ok
    ]


def in_flight(db: Path, state: str = "sending") -> int:
    store = Store(db)
    try:
        return store.outbox_counts().get(state, 0)
    finally:
        store.close()


def test_sigkill_during_delivery_loses_nothing_and_repeats_only_sends_in_flight(
    tmp_path: Path, bot_api: FakeBotAPI, start_daemon: Any
) -> None:
    bot_api.latency = 0.005  # sends take a moment, so kills land in the middle of some
    config = write_config(tmp_path, bot_api)
    db = tmp_path / "kw.db"
    queue_alerts(db)
    total = CHATS * STORIES
    rng = random.Random(20261127)
    # kill points spread over the run: after this many more messages have arrived
    steps = [rng.randint(40, 2 * total // (KILLS + 2)) for _ in range(KILLS)]
    assert sum(steps) < total  # every kill comes before the end
    flight: list[int] = []
    for step in steps:
        daemon = start_daemon("run", "--config", str(config), token=TOKEN)
        target = len(bot_api.calls_of("sendMessage")) + step
        bot_api.wait_for(
            lambda target=target: len(bot_api.calls_of("sendMessage")) >= target,  # type: ignore[misc]
            30,
            f"{target} sends",
        )
        daemon.stop(signal.SIGKILL)
        flight.append(in_flight(db))

    daemon = start_daemon("run", "--config", str(config), token=TOKEN)
    bot_api.wait_for(lambda: len(set(received(bot_api))) == total, 60, "every alert")
    # and every row recorded: a send in flight at the last kill arrived, and its row, reset to
    # pending by this start, is sent again (one of the repeats allowed)
    bot_api.wait_for(lambda: in_flight(db, "pending") + in_flight(db) == 0, 60, "every record")
    assert daemon.stop() == 0
    assert "Traceback" not in daemon.stderr.text

    got = received(bot_api)
    assert set(got) == {
        (chat, story_link(n)) for chat in range(1, CHATS + 1) for n in range(STORIES)
    }
    repeats = len(got) - total
    print(f"kills: {KILLS}; in flight at each kill: {flight}; repeated: {repeats}")
    assert all(n <= CONCURRENCY for n in flight), flight
    assert repeats <= sum(flight), (repeats, flight)
    store = Store(db)
    assert store.outbox_counts() == {"sent": total}
    store.close()


def test_sigterm_starts_no_send_while_polls_in_flight_finish(
    tmp_path: Path, bot_api: FakeBotAPI, feed_server: FeedServer, start_daemon: Any
) -> None:
    # a poll waits on a slow feed when the stop comes: the daemon gives it a grace, and sends
    # to Telegram (slow too) must not go on meanwhile, or the stop waits for them and cuts them
    feed_server.set_route("/slow.xml", Route(body=b"<rss><channel></channel></rss>", delay=60))
    config = write_config(tmp_path, bot_api)
    settings = yaml.safe_load(config.read_text())
    settings["feeds"] = [{"id": "slow", "url": feed_server.url("/slow.xml"), "interval": "1s"}]
    config.write_text(yaml.safe_dump(settings, allow_unicode=True))
    queue_alerts(tmp_path / "kw.db")
    bot_api.latency = 4.0  # the SIGTERM must come before the sends in flight are answered
    daemon = start_daemon("run", "--config", str(config), token=TOKEN)
    feed_server.wait_for(lambda: feed_server.in_flight("/slow.xml") == 1, 30, "a slow poll")
    bot_api.wait_for(lambda: bot_api.in_flight == CONCURRENCY, 30, "sends in flight")
    stopped_at = time.monotonic()
    assert daemon.stop() == 0
    late = [c for c in bot_api.calls_of("sendMessage") if c.at > stopped_at]
    assert late == []
    assert len(bot_api.sent_messages()) == CONCURRENCY == 4
    assert in_flight(tmp_path / "kw.db") == 0  # what was in flight finished and was recorded
