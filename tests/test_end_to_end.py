"""The whole path, with the real daemon process: feeds over HTTP in, Telegram alerts out."""

from __future__ import annotations

import contextlib
import re
import signal
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from store import Store
from tests.conftest import ROOT, TOKEN, kurilwatch, new_store, write_config
from tests.fakes.feed_server import FeedEntry, FeedServer, Route, rss
from tests.fakes.google_news import google_news_item
from tests.fakes.telegram_api import FakeBotAPI

CHAT = 424242
NOW = datetime(2026, 11, 26, 9, 30, tzinfo=UTC)

OLD_A = [
    FeedEntry(
        "Old news: fishermen near the Kuril Islands",
        "https://news.example/old-kuril",
        guid="a-old-1",
        summary="Published before the first poll; must never be alerted.",
        published=NOW,
    )
]
OLD_B = [FeedEntry("Old weather report", "https://other.example/old", guid="b-old-1")]

KURIL = FeedEntry(
    "Russia to deploy new coastal missile systems on Iturup",
    "https://news.example/kuril-missiles",
    guid="a-kuril",
    summary="<p>Russia will deploy <b>Bastion</b> systems on Iturup, one of the southern Kuril Islands, "
    "the Defence Ministry said on Thursday.</p><p>Rate it</p>",
    published=NOW,
)
KURIL_ON_B = FeedEntry(
    "Russia to deploy new coastal missile systems on Iturup",
    "https://news.example/kuril-missiles?utm_source=rss&utm_medium=feed",
    guid="b-kuril",
    summary="Russia will deploy Bastion systems on Iturup.",
    published=NOW,
)
NOTHING = FeedEntry(
    "Tokyo stock market closes higher",
    "https://news.example/stocks",
    guid="a-stocks",
    summary="Shares rose on Thursday.",
)
PEACE = FeedEntry(
    "Japan to continue peace treaty talks with Russia",
    "https://news.example/peace",
    guid="a-peace",
    summary="Foreign Minister Motegi said talks would continue.",
)


TWO_FEEDS = {"feed-a": ("/a.xml", rss(OLD_A)), "feed-b": ("/b.xml", rss(OLD_B))}


def outbox(db: Path) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT chat_id, state FROM outbox ORDER BY id").fetchall()


def polled(feed_server: FeedServer, path: str, more: int) -> None:
    """Wait until `path` was fetched `more` more times: the polls before them have finished."""
    feed_server.wait_for_hits(path, feed_server.hits(path) + more, timeout=20)


def start_primed(
    tmp_path: Path,
    feed_server: FeedServer,
    bot_api: FakeBotAPI,
    start_daemon: Any,
    feeds: dict[str, tuple[str, bytes]],
    admins: tuple[int, ...] = (),
    extra: dict[str, Any] | None = None,
) -> tuple[Any, Path]:
    """Serve `feeds` (id → (path, body)), start the daemon with the token, and wait until each
    feed has been polled twice (primed) and the bot long-polls. Returns (daemon, config)."""
    for path, body in feeds.values():
        feed_server.set_feed(path, body)
    config = write_config(
        tmp_path,
        {fid: feed_server.url(path) for fid, (path, _) in feeds.items()},
        api_base_url=bot_api.base_url,
        admins=admins,
        extra=extra,
    )
    daemon = start_daemon("run", "--config", str(config), token=TOKEN)
    for path, _ in feeds.values():
        polled(feed_server, path, 2)
    bot_api.wait_until_polling(timeout=20)
    return daemon, config


def test_one_alert_per_story_to_the_subscriber_and_none_after_restart(
    tmp_path: Path, feed_server: FeedServer, bot_api: FakeBotAPI, start_daemon: Any
) -> None:
    daemon, config = start_primed(
        tmp_path,
        feed_server,
        bot_api,
        start_daemon,
        TWO_FEEDS,
    )

    bot_api.push_message(CHAT, "/start")
    [welcome] = bot_api.wait_for_messages(CHAT, 1)
    assert "/subscribe kuril" in welcome["text"]
    bot_api.push_message(CHAT, "/subscribe kuril")
    reply = bot_api.wait_for_messages(CHAT, 2)[1]
    assert "Subscribed to kuril" in reply["text"]

    feed_server.set_feed("/a.xml", rss([KURIL, NOTHING, PEACE, *OLD_A]))
    feed_server.set_feed("/b.xml", rss([KURIL_ON_B, *OLD_B]))
    alert = bot_api.wait_for_messages(CHAT, 3, timeout=20)[2]
    # both feeds have been polled (and ingested) with the new items at least once since
    polled(feed_server, "/a.xml", 2)
    polled(feed_server, "/b.xml", 2)

    messages = bot_api.sent_messages(CHAT)
    assert len(messages) == 3, [m["text"] for m in messages]
    assert alert["parse_mode"] == "HTML"
    assert "Russia to deploy new coastal missile systems on Iturup" in alert["text"]
    assert "Bastion systems on <b>Iturup</b>" in alert["text"]  # the matched term in bold
    # whichever feed was ingested first carries the story; both links are the same article
    assert re.search(
        r'<a href="https://news\.example/kuril-missiles(\?utm_[^"]*)?">', alert["text"]
    )
    assert "#kuril" in alert["text"]
    assert "peace" not in alert["text"].lower()
    db = tmp_path / "kw.db"
    assert outbox(db) == [(CHAT, "sent")]

    assert daemon.stop(signal.SIGTERM) == 0
    assert "Traceback" not in daemon.stderr.text, daemon.stderr.text
    assert TOKEN not in daemon.stderr.text + daemon.stdout.text

    # a restart sends nothing again: not the alert, not a reply to an old command
    getupdates_before = len(bot_api.calls_of("getUpdates"))
    again = start_daemon("run", "--config", str(config), token=TOKEN)
    polled(feed_server, "/a.xml", 2)
    polled(feed_server, "/b.xml", 2)
    bot_api.wait_for(
        lambda: len(bot_api.calls_of("getUpdates")) >= getupdates_before + 2,
        timeout=20,
        what="two getUpdates after the restart",
    )
    assert len(bot_api.sent_messages(CHAT)) == 3
    assert outbox(db) == [(CHAT, "sent")]
    assert again.stop(signal.SIGINT) == 0
    assert "Traceback" not in again.stderr.text, again.stderr.text


def test_console_mode_prints_alerts_without_a_token(
    tmp_path: Path, feed_server: FeedServer, start_daemon: Any
) -> None:
    feed_server.set_feed("/a.xml", rss(OLD_A))
    config = write_config(
        tmp_path,
        {"feed-a": feed_server.url("/a.xml"), "dead": "http://127.0.0.1:9/gone.xml"},
    )
    daemon = start_daemon("run", "--config", str(config))
    off = daemon.stderr.wait_for("Telegram is off")
    assert "TELEGRAM_BOT_TOKEN" in off and "@BotFather" in off
    polled(feed_server, "/a.xml", 2)
    feed_server.set_feed("/a.xml", rss([KURIL, NOTHING, *OLD_A]))
    daemon.stdout.wait_for("Russia to deploy new coastal missile systems on Iturup")
    daemon.stdout.wait_for("#kuril")
    # its log said "0 alerts queued" beside the alert it printed
    daemon.stderr.wait_for("matched a topic (1 new story), 1 alert printed")
    daemon.stderr.wait_for("feed dead: poll failed")  # a dead feed is logged, the rest go on
    assert daemon.stop(signal.SIGINT) == 0
    assert "alerts queued" not in daemon.stderr.text
    assert "Old news" not in daemon.stdout.text
    assert "Tokyo stock market" not in daemon.stdout.text
    assert "Traceback" not in daemon.stderr.text, daemon.stderr.text


def test_shipped_config_runs_without_network_or_token(tmp_path: Path, start_daemon: Any) -> None:
    """`make run` on a fresh machine: unreachable feeds are logged per feed; Ctrl-C exits 0."""
    shipped = yaml.safe_load((ROOT / "config.yaml").read_text(encoding="utf-8"))
    for feed in shipped["feeds"]:  # as unreachable as the internet is here, on any machine
        feed["url"] = f"http://127.0.0.1:9/{feed['id']}.xml"
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(shipped, allow_unicode=True), encoding="utf-8")
    daemon = start_daemon("run", "--config", str(config))
    daemon.stderr.wait_for("kurilwatch running: 10 feeds, 2 topics")
    daemon.stderr.wait_for("feed tass-en: poll failed", timeout=30)
    assert daemon.stop(signal.SIGINT) == 0
    assert "Traceback" not in daemon.stderr.text, daemon.stderr.text
    assert daemon.stderr.lines[-1].endswith("stopped")


def test_token_never_appears_in_logs_even_at_debug_level(
    tmp_path: Path, feed_server: FeedServer, bot_api: FakeBotAPI, start_daemon: Any
) -> None:
    feed_server.set_feed("/a.xml", rss(OLD_A))
    config = write_config(tmp_path, {"a": feed_server.url("/a.xml")}, api_base_url=bot_api.base_url)
    daemon = start_daemon("--log-level", "DEBUG", "run", "--config", str(config), token=TOKEN)
    bot_api.wait_until_polling(timeout=20)
    bot_api.push_message(CHAT, "/start")
    bot_api.wait_for_messages(CHAT, 1)
    polled(feed_server, "/a.xml", 2)
    assert daemon.stop() == 0
    logs = daemon.stderr.text + daemon.stdout.text
    assert " DEBUG " in logs  # there was plenty that could have leaked
    assert TOKEN not in logs
    assert TOKEN.split(":")[1] not in logs


def test_a_rejected_token_stops_with_exit_2(
    tmp_path: Path, bot_api: FakeBotAPI, start_daemon: Any
) -> None:
    config = write_config(tmp_path, {}, api_base_url=bot_api.base_url)
    daemon = start_daemon("run", "--config", str(config), token="999:WRONG-TOKEN")
    assert daemon.proc.wait(20) == 2
    daemon.stderr.join()
    assert "Telegram rejected the token in $TELEGRAM_BOT_TOKEN" in daemon.stderr.text
    assert "WRONG-TOKEN" not in daemon.stderr.text


def test_a_daemon_whose_token_is_refused_at_start_never_says_it_runs(
    tmp_path: Path, feed_server: FeedServer, bot_api: FakeBotAPI, start_daemon: Any
) -> None:
    """The refusal came while the daemon started, and the log then said "kurilwatch running"
    before "stopping": an operator reading it took the daemon for one that had run. Now the
    daemon says it runs once its first sign-in has an answer, and not when that stops it."""
    feed_server.set_feed("/a.xml", rss(OLD_A))
    config = write_config(tmp_path, {"a": feed_server.url("/a.xml")}, api_base_url=bot_api.base_url)
    bot_api.stall_next("getMe", 3.0)  # the refusal comes after the daemon has started
    daemon = start_daemon("run", "--config", str(config), token="999:WRONG-TOKEN")
    assert daemon.proc.wait(20) == 2
    daemon.stderr.join()
    text = daemon.stderr.text
    assert "kurilwatch running" not in text, text
    assert "Telegram rejected the token in $TELEGRAM_BOT_TOKEN" in text, text
    assert "(401 Unauthorized: it is wrong, or was revoked); set $TELEGRAM_BOT_TOKEN" in text
    assert "WRONG-TOKEN" not in text and "999:" not in text, text


def test_a_token_revoked_while_running_stops_with_exit_2(
    tmp_path: Path, bot_api: FakeBotAPI, start_daemon: Any
) -> None:
    # PTB gives up getting updates at the first 401 and only logs it: the daemon ran on, deaf
    # to every command, and a stop then raised the refusal as a traceback with exit 1
    config = write_config(tmp_path, {}, api_base_url=bot_api.base_url)
    daemon = start_daemon("run", "--config", str(config), token=TOKEN)
    bot_api.wait_until_polling(timeout=20)
    bot_api.revoke_token("123456:REVOKED-AT-BOTFATHER")  # the old token now gets 401
    assert daemon.proc.wait(30) == 2
    daemon.stderr.join()
    text = daemon.stderr.text
    assert "Telegram rejected the token in $TELEGRAM_BOT_TOKEN" in text, text
    assert "Traceback" not in text, text
    assert TOKEN.split(":")[1] not in text


TASS = FeedEntry(
    "Russia to deploy Bastion missile systems on Iturup",
    "https://tass.example/bastion",
    guid="tass-1",
    summary="Russia will deploy Bastion coastal missile systems on Iturup island in the Kuril"
    " chain next year, the Eastern Military District said on Tuesday.",
    published=NOW,
)
KYODO_REWORDED = FeedEntry(
    "Bastion missile systems to be deployed on Iturup, Russia says",
    "https://kyodo.example/news/2026/11/bastion-iturup",
    guid="kyodo-9",
    summary="The Eastern Military District said on Tuesday that Russia will deploy Bastion"
    " coastal missile systems on Iturup island in the Kurils next year.",
    published=NOW,
)
KYODO_VISIT = FeedEntry(
    "Deputy PM Trutnev visits Iturup to inspect new port",
    "https://kyodo.example/news/2026/11/trutnev-iturup",
    guid="kyodo-10",
    summary="Deputy Prime Minister Yury Trutnev arrived on Iturup in the Kuril Islands on"
    " Tuesday to inspect the new port at Kitovy Bay.",
    published=NOW,
)


def test_a_story_reworded_by_a_third_outlet_edits_the_alert_and_another_story_alerts(
    tmp_path: Path, feed_server: FeedServer, bot_api: FakeBotAPI, start_daemon: Any
) -> None:
    daemon, _ = start_primed(
        tmp_path,
        feed_server,
        bot_api,
        start_daemon,
        {
            "tass": ("/tass.xml", rss(OLD_A, title="TASS")),
            "ria": ("/ria.xml", rss(OLD_B, title="RIA")),
            "kyodo": ("/kyodo.xml", rss([], title="Kyodo")),
        },
    )
    bot_api.push_message(CHAT, "/subscribe kuril")
    bot_api.wait_for_messages(CHAT, 1)

    feed_server.set_feed("/tass.xml", rss([TASS, *OLD_A], title="TASS"))
    alert = bot_api.wait_for_messages(CHAT, 2, timeout=20)[1]
    assert "Bastion missile systems on Iturup" in alert["text"]

    feed_server.set_feed("/kyodo.xml", rss([KYODO_REWORDED, KYODO_VISIT], title="Kyodo"))
    visit = bot_api.wait_for_messages(CHAT, 3, timeout=20)[2]
    assert "Trutnev" in visit["text"] and "Bastion" not in visit["text"]
    [edit] = bot_api.wait_for_calls("editMessageText", 1, timeout=20)
    assert "Also: Kyodo" in edit.params["text"] and edit.ok
    polled(feed_server, "/kyodo.xml", 2)
    polled(feed_server, "/tass.xml", 2)
    assert len(bot_api.sent_messages(CHAT)) == 3  # the reworded report sent nothing new
    assert daemon.stop(signal.SIGTERM) == 0


def test_hostile_feed_text_arrives_as_one_valid_alert_with_the_title_literal(
    tmp_path: Path, feed_server: FeedServer, bot_api: FakeBotAPI, start_daemon: Any
) -> None:
    daemon, _ = start_primed(
        tmp_path, feed_server, bot_api, start_daemon, {"feed-a": ("/a.xml", rss(OLD_A))}
    )
    bot_api.push_message(CHAT, "/subscribe kuril")
    bot_api.wait_for_messages(CHAT, 1)

    title = 'Kuril <script>alert("x")</script> & "quotes" <b>unclosed'
    words = 'Iturup fishing boat detained & <i>released</i> "quoted" '.split()
    description = " ".join(words[i % len(words)] for i in range(2000))[:10_000]
    hostile = FeedEntry(title, "https://news.example/hostile", guid="h", summary=description)
    feed_server.set_feed("/a.xml", rss([hostile, *OLD_A]))
    alert = bot_api.wait_for_messages(CHAT, 2, timeout=20)[1]
    polled(feed_server, "/a.xml", 2)

    assert len(bot_api.sent_messages(CHAT)) == 2  # one alert, sent once
    assert all(c.ok for c in bot_api.calls_of("sendMessage"))  # its HTML was accepted
    assert alert["parse_mode"] == "HTML" and len(alert["text"]) <= 4096
    shown = bot_api.message(CHAT, sent_id(bot_api, CHAT))
    assert shown is not None and title in shown["text"]  # what the subscriber reads
    assert daemon.stop(signal.SIGTERM) == 0


def sent_id(bot_api: FakeBotAPI, chat_id: int) -> int:
    [*_, last] = [c for c in bot_api.calls_of("sendMessage") if c.ok]
    return int(last.response["result"]["message_id"])


BLOCKED = 515151


def test_a_blocked_chat_and_429_on_every_first_attempt_lose_nothing(
    tmp_path: Path, feed_server: FeedServer, bot_api: FakeBotAPI, start_daemon: Any
) -> None:
    daemon, _ = start_primed(
        tmp_path,
        feed_server,
        bot_api,
        start_daemon,
        TWO_FEEDS,
    )
    for chat in (CHAT, BLOCKED):
        bot_api.push_message(chat, "/subscribe kuril")
        bot_api.wait_for_messages(chat, 1, timeout=20)
    bot_api.fail_blocked(BLOCKED)
    bot_api.fail_first_attempts(1)

    for command in ("/help", "/list", "/topics"):
        bot_api.push_message(CHAT, command)
    feed_server.set_feed("/a.xml", rss([KURIL, PEACE, *OLD_A]))
    feed_server.set_feed("/b.xml", rss([KURIL_ON_B, *OLD_B]))
    bot_api.wait_for_messages(CHAT, 5, timeout=40)  # subscribe, 3 replies, 1 alert
    polled(feed_server, "/a.xml", 2)
    polled(feed_server, "/b.xml", 2)

    texts = [m["text"] for m in bot_api.sent_messages(CHAT)]
    assert len(texts) == 5, texts
    assert sum("Iturup" in t for t in texts) == 1  # one alert for the story on both feeds
    assert any("/subscribe" in t for t in texts[1:])  # /help's reply came through the 429
    refused = [c for c in bot_api.calls_of("sendMessage") if c.status == 429]
    assert len(refused) >= 4  # every first attempt was refused
    assert not bot_api.sent_messages(BLOCKED)[1:]  # nothing reached the blocked chat
    assert daemon.proc.poll() is None  # still running
    assert daemon.stop(signal.SIGTERM) == 0
    assert "Traceback" not in daemon.stderr.text, daemon.stderr.text


SHIKOTAN = FeedEntry(
    "New fish processing plant opens on Shikotan",
    "https://news.example/shikotan-plant",
    guid="a-shikotan",
    summary="The plant on Shikotan will process 900 tonnes of fish a day.",
    published=NOW,
)
ADMIN = 777
CHANNEL = -1001000000000  # what the fake Bot API makes of @kurilnews


def test_a_personal_watch_help_and_admin_stats(
    tmp_path: Path, feed_server: FeedServer, bot_api: FakeBotAPI, start_daemon: Any
) -> None:
    channels = {"channels": [{"chat": "@kurilnews", "topics": ["kuril"]}]}
    daemon, _ = start_primed(
        tmp_path, feed_server, bot_api, start_daemon, TWO_FEEDS, admins=(ADMIN,), extra=channels
    )
    bot_api.push_message(CHAT, "/help")
    [help_text] = [m["text"] for m in bot_api.wait_for_messages(CHAT, 1)]
    for command in ("subscribe", "unsubscribe", "list", "topics", "watch", "digest", "latest"):
        assert f"/{command} " in help_text
    for command in ("search", "mute", "stop"):
        assert f"/{command} " in help_text

    bot_api.push_message(CHAT, "/watch Shikotan")
    assert "Watching for" in bot_api.wait_for_messages(CHAT, 2)[1]["text"]
    feed_server.set_feed("/a.xml", rss([SHIKOTAN, NOTHING, *OLD_A]))
    alert = bot_api.wait_for_messages(CHAT, 3, timeout=20)[2]
    assert "New fish processing plant opens on Shikotan" in alert["text"]
    assert "#watch" in alert["text"]
    polled(feed_server, "/a.xml", 2)
    assert len(bot_api.sent_messages(CHAT)) == 3  # one alert, nothing for the other item
    [posted] = bot_api.wait_for_messages(CHANNEL, 1)  # the channel of the config, too
    assert "Shikotan" in posted["text"] and "#kuril" in posted["text"]

    bot_api.push_message(CHAT, "/stats")
    assert "only the bot's admins" in bot_api.wait_for_messages(CHAT, 4)[3]["text"]
    bot_api.push_message(ADMIN, "/stats")
    stats = bot_api.wait_for_messages(ADMIN, 1)[0]["text"]
    assert "Subscribers: 2 active" in stats and "sent 2" in stats  # the chat and the channel
    bot_api.push_message(ADMIN, "/reload")
    assert "has not changed" in bot_api.wait_for_messages(ADMIN, 2)[1]["text"]
    assert daemon.stop() == 0
    assert "Traceback" not in daemon.stderr.text, daemon.stderr.text


@contextlib.contextmanager
def channel_store_held(
    tmp_path: Path, feed_server: FeedServer, bot_api: FakeBotAPI
) -> Iterator[Path]:
    """A config with a channel, and its installed store held by another writer (a backup, an
    operator's command) past its busy timeout until the block ends; the config's path."""
    feed_server.set_feed("/a.xml", rss(OLD_A))
    channels = {"channels": [{"chat": "@kurilnews", "topics": ["kuril"]}]}
    config = write_config(
        tmp_path, {"feed-a": feed_server.url("/a.xml")}, api_base_url=bot_api.base_url,
        extra=channels,
    )  # fmt: skip
    Store(new_store(tmp_path / "kw.db")).close()
    holder = sqlite3.connect(tmp_path / "kw.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        yield config
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_a_store_locked_while_the_telegram_side_records_the_channels_only_delays_it(
    tmp_path: Path, feed_server: FeedServer, bot_api: FakeBotAPI, start_daemon: Any
) -> None:
    """Another writer (a backup, an operator's command) holds the store past its busy timeout
    as the daemon starts: the channels are recorded once it lets go, and the bot runs."""
    with channel_store_held(tmp_path, feed_server, bot_api) as config:
        daemon = start_daemon("run", "--config", str(config), token=TOKEN)
        bot_api.wait_for_calls("getChat", 1, timeout=20)
        daemon.stderr.wait_for("channel", timeout=30)  # its record failed: locked
    bot_api.wait_until_polling(timeout=30)
    with sqlite3.connect(tmp_path / "kw.db") as db:
        subscribed = db.execute("SELECT topic_id FROM subscriptions WHERE chat_id = ?", [CHANNEL])
        assert [row[0] for row in subscribed] == ["kuril"]
    bot_api.push_message(CHAT, "/start")
    assert bot_api.wait_for_messages(CHAT, 1)
    assert daemon.stop() == 0


def test_a_stop_while_the_channels_wait_for_a_locked_store_starts_no_bot(
    tmp_path: Path, feed_server: FeedServer, bot_api: FakeBotAPI, start_daemon: Any
) -> None:
    """A SIGTERM while the channels' record waits for the store ends the wait: the store let
    go within the stop's grace must not start the bot's updates and sends only to cut them
    short (a send cut short is sent again at the next start)."""
    with channel_store_held(tmp_path, feed_server, bot_api) as config:
        daemon = start_daemon("run", "--config", str(config), token=TOKEN)
        daemon.stderr.wait_for("channel", timeout=30)  # its record failed: locked
        daemon.proc.send_signal(signal.SIGTERM)
        daemon.stderr.wait_for("stopping", timeout=30)
    assert daemon.stop() == 0
    assert not bot_api.calls_of("getUpdates")


GOOGLE_NEWS_EN = (ROOT / "tests" / "data" / "google-news-en.rss").read_bytes()
BASTION_URL = "https://tass.com/defense/2041999"
BASTION_TITLE = "Russia to deploy Bastion missile systems on Iturup"


def with_google_item(feed: bytes, item: str) -> bytes:
    """A Google News feed with `item` first."""
    return feed.replace(b"<item>", item.encode() + b"\n<item>", 1)


def test_a_google_news_item_names_its_outlet_and_joins_the_outlets_own_report(
    tmp_path: Path, feed_server: FeedServer, bot_api: FakeBotAPI, start_daemon: Any
) -> None:
    tass_old = [FeedEntry("Old TASS report", "https://tass.com/old/1", guid="tass-old")]
    daemon, _ = start_primed(
        tmp_path,
        feed_server,
        bot_api,
        start_daemon,
        {
            # named otherwise than Google News names it: one outlet by its key (tass.com)
            "tass": ("/tass.xml", rss(tass_old, title="TASS Russian News Agency")),
            "gnews": ("/gnews.xml", GOOGLE_NEWS_EN),
        },
    )
    bot_api.push_message(CHAT, "/subscribe kuril")
    bot_api.wait_for_messages(CHAT, 1)

    # Google News first: the alert names TASS, without the suffix, and no echoed summary
    item = google_news_item(BASTION_TITLE, "TASS", "https://tass.com", BASTION_URL, NOW)
    feed_server.set_feed("/gnews.xml", with_google_item(GOOGLE_NEWS_EN, item))
    alert = bot_api.wait_for_messages(CHAT, 2, timeout=20)[1]
    text = alert["text"]
    assert f'<a href="{BASTION_URL}"><b>{BASTION_TITLE}</b></a>' in text  # the article itself
    assert f"{BASTION_TITLE} - TASS" not in text
    assert "<i>TASS (via Google News) · " in text
    heading, tags = text.split("\n\n")  # title and source, then the topics: no summary
    assert heading.count("\n") == 1 and tags == "#kuril"
    assert text.count(BASTION_TITLE) == 1

    # then TASS's own feed with the same article: the same story, no new alert, no "Also: TASS"
    own = FeedEntry(
        BASTION_TITLE,
        BASTION_URL + "?utm_source=rss",
        guid="tass-2041999",
        summary="Russia will deploy Bastion coastal missile systems on Iturup in the Kuril"
        " Islands next year, the Eastern Military District said.",
        published=NOW,
    )
    feed_server.set_feed("/tass.xml", rss([own, *tass_old], title="TASS Russian News Agency"))
    polled(feed_server, "/tass.xml", 2)
    polled(feed_server, "/gnews.xml", 1)
    assert len(bot_api.sent_messages(CHAT)) == 2
    assert bot_api.calls_of("editMessageText") == []
    with sqlite3.connect(tmp_path / "kw.db") as conn:
        rows = conn.execute(
            "SELECT feed_id, outlet, outlet_key, story_id FROM items"
            " WHERE canonical_url = 'https://tass.com/defense/2041999' ORDER BY id"
        ).fetchall()
        also = conn.execute("SELECT also, edit_pending FROM outbox").fetchall()
    assert [row[:3] for row in rows] == [("gnews", "TASS", "tass.com"), ("tass", None, "tass.com")]
    assert rows[0][3] == rows[1][3]  # one story
    assert also == [("[]", 0)]  # written with the item: no "Also: TASS" on its way either
    assert daemon.stop(signal.SIGTERM) == 0
    assert "Traceback" not in daemon.stderr.text, daemon.stderr.text


def _report(guid: str, title: str, summary: str) -> FeedEntry:
    return FeedEntry(title, f"https://{guid}.example/news/quake", guid=guid, summary=summary)


QUAKE = {  # one event, four English-language outlets, in their own words
    "kyodo": _report(
        "kyodo",
        "Magnitude 6.1 quake strikes off Etorofu, no tsunami warning",
        "An earthquake with a preliminary magnitude of 6.1 struck off Etorofu Island in the"
        " Russian-held Kurils early Thursday, the Japan Meteorological Agency said. No tsunami"
        " warning was issued.",
    ),
    "tass-en": _report(
        "tass-en",
        "Earthquake of magnitude 6.1 hits off Iturup in the Kurils",
        "A magnitude 6.1 earthquake occurred on Thursday in the Pacific Ocean east of Kurilsk on"
        " Iturup, the Sakhalin branch of the Geophysical Service said. There is no tsunami threat.",
    ),
    "japan-times": _report(
        "jt",
        "Strong 6.1 earthquake jolts waters near Russian-held Etorofu",
        "A strong earthquake of magnitude 6.1 shook the sea off Etorofu in the Kuril chain on"
        " Thursday. Weak shaking was felt in Nemuro, and no tsunami is expected.",
    ),
    "reuters": _report(
        "reuters",
        "Quake of magnitude 6.1 strikes near Kuril island of Iturup, no damage reported",
        "An earthquake of magnitude 6.1 struck near Iturup in Russia's Kuril Islands on Thursday,"
        " seismologists said; there were no reports of damage and no tsunami warning.",
    ),
}
FISH_PLANT = FeedEntry(  # the same island, the same day, another event
    "New fish processing plant opens on Iturup",
    "https://tass-en.example/news/fish-plant",
    guid="tass-en-fish",
    summary="A fish processing plant able to handle 800 tonnes of pink salmon a day opened in"
    " Reidovo on Iturup in the Kurils on Thursday, the Sakhalin government said.",
)
QUAKE_RU = {  # the same event from two Russian-language outlets
    "tass-ru": _report(
        "tass-ru",
        "Землетрясение магнитудой 6,1 произошло у берегов Итурупа",
        "Землетрясение магнитудой 6,1 зарегистрировано в четверг в Тихом океане к востоку от"
        " Курильска на Итурупе, сообщили сейсмологи. Угрозы цунами нет.",
    ),
    "ria": _report(
        "ria",
        "У Итурупа на Курилах зафиксировали землетрясение магнитудой 6,1",
        "Сейсмологи зафиксировали в четверг землетрясение магнитудой 6,1 у острова Итуруп"
        " Курильской гряды. Угрозы цунами нет, разрушений нет.",
    ),
}
NHK_QUAKE = _report(  # and from a Japanese one
    "nhk",
    "択捉島沖でM6.1の地震 津波の心配なし",
    "木曜日、北方領土の択捉島沖を震源とするマグニチュード6.1の地震があった。気象庁によると、"
    "この地震による津波の心配はない。",
)
AFTERSHOCK = (
    FeedEntry(  # the same island, hours later: another quake, whose report recalls the first
        "Magnitude 4.8 aftershock rattles Iturup hours after 6.1 quake",
        "https://reuters.example/news/aftershock",
        guid="reuters-aftershock",
        summary="An aftershock of magnitude 4.8 struck near Iturup on Thursday evening, hours after"
        " a magnitude 6.1 earthquake in the same area, seismologists said.",
    )
)
OUTLETS = {
    "kyodo": "Kyodo",
    "tass-en": "TASS",
    "japan-times": "Japan Times",
    "reuters": "Reuters",
    "tass-ru": "ТАСС",
    "ria": "РИА Новости",
    "nhk": "NHK",
}


RU_READER = 727272


def test_four_outlets_reworded_give_one_alert_listing_the_others(
    tmp_path: Path, feed_server: FeedServer, bot_api: FakeBotAPI, start_daemon: Any
) -> None:
    """The Russian and Japanese reports join the English story too: the alert already sent names
    them with their language, and nothing new is sent; the fish plant, on the same island the
    same day, and the aftershock hours later alert on their own."""
    daemon, _ = start_primed(
        tmp_path,
        feed_server,
        bot_api,
        start_daemon,
        {fid: (f"/{fid}.xml", rss([], title=name)) for fid, name in OUTLETS.items()},
    )
    bot_api.push_message(CHAT, "/subscribe kuril")
    bot_api.wait_for_messages(CHAT, 1)
    # the "Also:" line is in the chat's language (issue 19), not the alert's script
    bot_api.push_message(RU_READER, "/subscribe kuril", language_code="ru")
    bot_api.wait_for_messages(RU_READER, 1)

    def publish(feed_id: str, *entries: FeedEntry) -> None:
        feed_server.set_feed(f"/{feed_id}.xml", rss(list(entries), title=OUTLETS[feed_id]))
        polled(feed_server, f"/{feed_id}.xml", 2)  # stored before the next outlet publishes

    publish("kyodo", QUAKE["kyodo"])
    quake = bot_api.wait_for_messages(CHAT, 2, timeout=20)[1]
    assert "Etorofu" in quake["text"]
    publish("tass-en", QUAKE["tass-en"], FISH_PLANT)
    plant = bot_api.wait_for_messages(CHAT, 3, timeout=20)[2]
    assert "fish processing plant" in plant["text"]
    publish("japan-times", QUAKE["japan-times"])
    publish("reuters", QUAKE["reuters"])

    def text_of(message: dict[str, Any], chat: int = CHAT) -> str:
        """The message's text as the chat sees it now, after the edits."""
        [sent] = [c for c in bot_api.calls_of("sendMessage") if c.ok and c.params == message]
        current = bot_api.message(chat, int(sent.response["result"]["message_id"]))
        return str(current["text"]) if current else ""

    bot_api.wait_for(
        lambda: "Also: TASS, Japan Times, Reuters" in text_of(quake), 20, "the quake alert edited"
    )
    publish("tass-ru", QUAKE_RU["tass-ru"])
    publish("ria", QUAKE_RU["ria"])
    publish("nhk", NHK_QUAKE)
    every = "TASS, Japan Times, Reuters, ТАСС (ru), РИА Новости (ru), NHK (ja)"
    bot_api.wait_for(  # the whole line, no outlet more
        lambda: f"\nAlso: {every}\n" in text_of(quake),
        20,
        "the quake alert names the Russian and Japanese outlets",
    )
    # the Russian chat's alert now shows TASS's Russian report; the others, Kyodo's too, listed
    quake_for_ru = bot_api.wait_for_messages(RU_READER, 2, timeout=20)[1]
    assert "Etorofu" in quake_for_ru["text"]
    in_russian = "Kyodo (en), TASS (en), Japan Times (en), Reuters (en), РИА Новости, NHK (ja)"
    bot_api.wait_for(
        lambda: f"\nТакже: {in_russian}\n" in text_of(quake_for_ru, RU_READER),
        20,
        "the quake alert edited in a Russian chat",
    )
    edited_for_ru = text_of(quake_for_ru, RU_READER)
    assert edited_for_ru.startswith(QUAKE_RU["tass-ru"].title + "\n"), edited_for_ru
    assert "Etorofu" not in edited_for_ru and "ТАСС ·" in edited_for_ru
    publish("reuters", QUAKE["reuters"], AFTERSHOCK)
    aftershock = bot_api.wait_for_messages(CHAT, 4, timeout=20)[3]
    assert "aftershock" in aftershock["text"] and "Also" not in aftershock["text"]
    for feed_id in OUTLETS:
        polled(feed_server, f"/{feed_id}.xml", 1)
    assert len(bot_api.sent_messages(CHAT)) == 4  # welcome, quake, plant, aftershock
    assert len(bot_api.sent_messages(RU_READER)) == 4
    assert "Also" not in text_of(plant) and f"\nAlso: {every}\n" in text_of(quake)
    assert daemon.stop(signal.SIGTERM) == 0


def test_the_daemon_speaks_each_chats_language_and_keeps_to_its_news_languages(
    tmp_path: Path, feed_server: FeedServer, bot_api: FakeBotAPI, start_daemon: Any
) -> None:
    russian_chat, english_chat = 515151, 616161
    daemon, _ = start_primed(tmp_path, feed_server, bot_api, start_daemon, TWO_FEEDS)
    bot_api.push_message(russian_chat, "/lang ru", language_code="ru")
    assert (
        "Сюда будут приходить только новости"
        in bot_api.wait_for_messages(russian_chat, 1)[0]["text"]
    )
    bot_api.push_message(russian_chat, "/subscribe kuril", language_code="ru")
    assert "Подписка на kuril оформлена" in bot_api.wait_for_messages(russian_chat, 2)[1]["text"]
    bot_api.push_message(english_chat, "/subscribe kuril")
    bot_api.wait_for_messages(english_chat, 1)

    shikotan = FeedEntry(
        "На Шикотане открыли новый причал",
        "https://news.example/shikotan-ru",
        guid="b-shikotan",
        summary="Причал на острове Шикотан принял первое судно.",
        published=NOW,
    )
    feed_server.set_feed("/a.xml", rss([KURIL, *OLD_A]))
    feed_server.set_feed("/b.xml", rss([shikotan, *OLD_B]))
    alerts = bot_api.wait_for_messages(english_chat, 3, timeout=20)[1:]
    assert {"Iturup" in alerts[0]["text"], "Шикотане" in alerts[0]["text"]} == {True, False}
    russian = bot_api.wait_for_messages(russian_chat, 3, timeout=20)[2]
    polled(feed_server, "/a.xml", 2)
    polled(feed_server, "/b.xml", 2)
    assert len(bot_api.sent_messages(russian_chat)) == 3  # the English story stayed out
    assert "На Шикотане открыли новый причал" in russian["text"]
    assert re.search(r"\d+ нояб\. 2026, \d\d:\d\d UTC", russian["text"])  # a Russian date
    labels = [b["text"] for row in russian["reply_markup"]["inline_keyboard"] for b in row]
    assert labels == ["🔕 Не следить", "🔔 Следить", "👎 Не по теме"]
    english = [b["text"] for row in alerts[0]["reply_markup"]["inline_keyboard"] for b in row]
    assert english == ["🔕 Mute this story", "🔔 Follow this story", "👎 Not relevant"]
    assert daemon.stop(signal.SIGTERM) == 0
    assert "Traceback" not in daemon.stderr.text, daemon.stderr.text


@pytest.mark.parametrize("disabled", ["while it runs", "before it started"])
def test_a_feed_revived_by_poll_once_is_polled_by_the_running_daemon(
    tmp_path: Path, feed_server: FeedServer, start_daemon: Any, disabled: str
) -> None:
    """The admins' notice of a disabled feed says to run `poll --once --feed`."""
    feed_server.set_route("/f.xml", Route(status=410))
    poll = {"interval": "0.5s", "max_interval": "1s", "timeout": "5s"}
    config = write_config(tmp_path, {"f": feed_server.url("/f.xml")}, extra={"poll": poll})
    if disabled == "before it started":
        first = kurilwatch("poll", "--once", "--config", str(config))
        assert "f: disabled" in first.stdout, first.stdout + first.stderr
    daemon = start_daemon("run", "--config", str(config))
    said = "feed f: disabled" if disabled == "while it runs" else "feed f is disabled"
    daemon.stderr.wait_for(said, timeout=30)
    feed_server.set_feed("/f.xml", rss([FeedEntry("Kuril old news", "https://n.example/0")]))
    revived = kurilwatch("poll", "--once", "--config", str(config), "--feed", "f")
    assert "f: primed" in revived.stdout, revived.stdout + revived.stderr
    hits = feed_server.hits("/f.xml")
    feed_server.wait_for_hits("/f.xml", hits + 1, timeout=30)  # the daemon's own poll
    assert daemon.stop() == 0
