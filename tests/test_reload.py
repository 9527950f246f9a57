"""Live config reload: edits apply to the running daemon; a broken file changes nothing."""

from __future__ import annotations

import asyncio
import json
import re
import signal
from pathlib import Path
from typing import Any

import yaml

from bot.i18n import EN, Values
from tests.conftest import new_store, save_edit, write_config
from tests.fakes.feed_server import FeedEntry, FeedServer, rss


async def daemon_on_a_store(
    tmp_path: Path,
    *,
    parts: bool = False,
    feeds: dict[str, str] | None = None,
    token: str | None = "123:abc",
) -> tuple[Any, Any, Path]:
    """A daemon of a config in `tmp_path`, not started, on its store opened (with a short busy
    timeout: tests lock it); with `parts`, its poller and delivery worker too, as a reload
    hands the new config to them."""
    from bot.config import load_config
    from bot.daemon import Daemon
    from bot.delivery.worker import DeliveryWorker
    from bot.reload import delivery_settings
    from store import AsyncStore
    from tests.conftest import short_busy_timeout
    from watchers.fetch import Fetcher
    from watchers.poll import Poller
    from watchers.topics.compile import compile_topics

    config = write_config(tmp_path, feeds or {})
    daemon = Daemon(load_config(config), token, config_path=config, config_settle=0)
    store = await AsyncStore(daemon.settings.store.path).open()
    await store.run(short_busy_timeout)
    daemon._store = store
    if parts:
        old = daemon.settings
        daemon._poller = Poller(
            store=store, fetcher=Fetcher(), topics=compile_topics(old.topics), settings=old.poll
        )
        daemon.delivery = DeliveryWorker(
            store, None, settings=delivery_settings(old), tz=old.telegram.tz
        )
    return daemon, store, config


async def reload_while_locked(daemon: Any) -> str:
    """The daemon's reload while another writer (a backup, `kurilwatch prune`) holds the
    store; its answer."""
    import sqlite3

    other = sqlite3.connect(daemon.settings.store.path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        return str(await daemon.reload())
    finally:
        other.execute("ROLLBACK")
        other.close()


def recompiles_failing_once(daemon: Any) -> list[str]:
    """The daemon's topics recompiled as a reload does, failing the first time; the calls."""
    from watchers.topics.compile import compile_topics

    compiles: list[str] = []

    async def recompile(poller: Any, store: Any) -> None:
        compiles.append("compile")
        if len(compiles) == 1:
            raise MemoryError("compiling the topics")
        poller.topics = compile_topics(daemon.settings.topics)

    daemon._recompile = recompile
    return compiles


A = rss([FeedEntry("Kuril Islands talks", "https://a.example/1", guid="a1")])
WEATHER = [FeedEntry("Weather", "https://b.example/1", guid="b1")]
B = rss(WEATHER)
HABOMAI = FeedEntry("Fishing quota set for Habomai", "https://b.example/2", guid="b2")


def test_config_edits_apply_without_a_restart_and_a_bad_edit_keeps_the_old_config(
    tmp_path: Path, feed_server: FeedServer, start_daemon: Any
) -> None:
    feed_server.set_feed("/a.xml", A)
    feed_server.set_feed("/b.xml", B)
    config = write_config(tmp_path, {"feed-a": feed_server.url("/a.xml")})
    daemon = start_daemon("run", "--config", str(config))
    feed_server.wait_for_hits("/a.xml", 2, timeout=20)
    daemon.stderr.wait_for("kurilwatch running: 1 feed,")

    settings = yaml.safe_load(config.read_text())
    settings["feeds"].append({"id": "feed-b", "url": feed_server.url("/b.xml")})
    save_edit(config, yaml.safe_dump(settings, allow_unicode=True))
    daemon.stderr.wait_for("config reloaded: feeds +1 -0 ~0")
    feed_server.wait_for_hits("/b.xml", 2, timeout=20)  # the new feed is polled

    # a changed query applies to the next items (console mode prints the alerts)
    settings["topics"]["kuril"]["query"] = "Habomai"
    save_edit(config, yaml.safe_dump(settings, allow_unicode=True))
    daemon.stderr.wait_for("config reloaded: topics kuril")
    feed_server.set_feed("/b.xml", rss([HABOMAI, *WEATHER]))
    daemon.stdout.wait_for("Fishing quota set for Habomai")

    save_edit(config, config.read_text().replace("feed-b", "Feed B!"))
    line = daemon.stderr.wait_for("config not reloaded")
    assert "feeds[1].id" in line and "the running config stays" in line
    assert re.search(r"config\.yaml line \d+", line), line
    for path in ("/a.xml", "/b.xml"):  # both feeds still polled, on the old config
        feed_server.wait_for_hits(path, feed_server.hits(path) + 2, timeout=20)

    settings["feeds"] = settings["feeds"][1:]  # feed-a removed
    save_edit(config, yaml.safe_dump(settings, allow_unicode=True))
    daemon.stderr.wait_for("feeds +0 -1 ~0")
    daemon.proc.send_signal(signal.SIGHUP)  # reloads too
    daemon.stderr.wait_for("config re-read: nothing changed")
    assert daemon.proc.poll() is None
    assert daemon.stop() == 0
    assert "Traceback" not in daemon.stderr.text, daemon.stderr.text


def test_the_config_diff_is_pure_and_names_what_needs_a_restart() -> None:
    from bot.config import parse_config
    from bot.reload import diff

    base = (
        "topics:\n  kuril:\n    title: Kuril\n    query: Kuril\n"
        "feeds:\n  - {id: a, url: 'http://a.example/'}\n  - {id: b, url: 'http://b.example/'}\n"
    )
    old = parse_config(base)
    assert diff(old, old) == diff(old, parse_config(base))
    assert not diff(old, old).feeds and not diff(old, old).restart
    new = parse_config(
        base.replace("http://b.example/", "http://b2.example/").replace("query: Kuril", "query: X")
        + "  - {id: c, url: 'http://c.example/'}\npoll:\n  concurrency: 8\n"
        "store:\n  path: other.db\n"
    )
    change = diff(old, new)
    assert [f.id for f in change.added] == ["c"] and [f.id for f in change.changed] == ["b"]
    assert change.removed == () and change.topics and not change.channels
    assert change.restart == ("store.path", "poll.concurrency")
    assert change.queries == ({"kuril": "Kuril"}, {"kuril": "X"}) and diff(old, old).queries is None
    assert [f.id for f in diff(new, old).changed] == ["b"] and diff(new, old).removed == ("c",)


def test_a_feed_url_written_otherwise_but_read_alike_is_no_change() -> None:
    """The URL as written, kept for the warning of `https:/host`, made a feed unequal to one
    whose URL reads alike: the slip corrected as the warning asks (or `HTTP://A.example/rss`
    written `http://a.example/rss`), a reload took the feed for changed and polled it anew."""
    from bot.config import parse_config
    from bot.reload import diff

    base = (
        "topics:\n  kuril:\n    title: Kuril\n    query: Kuril\n"
        "feeds:\n  - {id: a, url: 'https:/a.example/rss'}\n"
    )
    old = parse_config(base)
    for written in ("https://a.example/rss", "HTTPS://A.example/rss"):
        new = parse_config(base.replace("https:/a.example/rss", written))
        assert new == old and not diff(old, new).feeds, written
        assert new.feeds[0].written_url == written  # kept all the same, for `check`
    assert parse_config(base.replace("rss", "atom")) != old


def test_a_new_poll_default_reschedules_the_feeds_it_is_the_default_of() -> None:
    """`poll.interval` edited from 1h to 2m left each feed without its own interval on the
    next poll the old one gave it, up to an hour away: no feed had changed."""
    from bot.config import parse_config
    from bot.reload import diff

    base = (
        "topics:\n  kuril:\n    title: Kuril\n    query: Kuril\nfeeds:\n"
        "  - {id: a, url: 'http://a.example/'}\n"
        "  - {id: b, url: 'http://b.example/', interval: 10m}\n"
        "  - {id: c, url: 'http://c.example/', interval: 10m, adaptive: true}\n"
        "poll:\n  interval: 1h\n  max_interval: 2h\n"
    )
    old = parse_config(base)
    assert [f.id for f in diff(old, parse_config(base.replace("1h", "2m"))).changed] == ["a"]
    assert [f.id for f in diff(old, parse_config(base.replace("2h", "3h"))).changed] == ["c"]
    assert diff(old, parse_config(base.replace("1h", "2m"))).restart == ()


def test_the_union_of_two_changes_applies_what_differs_from_either_config() -> None:
    """After a reload that failed part-way, a part holds the config before it or the one that
    failed: the next applies what differs from either."""
    from bot.config import parse_config
    from bot.reload import diff, union

    base = (
        "topics:\n  kuril:\n    title: Kuril\n    query: Kuril\nfeeds:\n"
        "  - {id: a, url: 'http://a.example/'}\n"
        "  - {id: b, url: 'http://b.example/'}\n"
    )
    old = parse_config(base)
    failed = parse_config(
        base.replace("  - {id: b, url: 'http://b.example/'}\n", "  - {id: x, url: 'http://x/'}\n")
    )
    new = parse_config(base.replace("query: Kuril", "query: Iturup"))
    change = union(diff(old, new), diff(failed, new))
    assert ([f.id for f in change.added], [f.id for f in change.changed]) == ([], ["b"])
    assert (change.removed, change.topics, change.queries) == (("x",), True, diff(old, new).queries)
    assert union(diff(old, old), diff(old, old)) == diff(old, old)


async def test_a_reload_hands_the_time_zone_on_and_names_a_new_listener_as_a_restart() -> None:
    from zoneinfo import ZoneInfo

    from bot.config import parse_config
    from bot.delivery.worker import DeliveryWorker
    from bot.reload import Running, apply, delivery_settings, diff

    base = "topics:\n  kuril:\n    title: Kuril\n    query: Kuril\nfeeds: []\n"
    old = parse_config(base)
    new = parse_config(
        base + "telegram:\n  timezone: Asia/Tokyo\nmetrics:\n  listen: '127.0.0.1:9464'\n"
    )
    worker = DeliveryWorker(None, None, settings=delivery_settings(old), tz=old.telegram.tz)  # type: ignore[arg-type]
    parts = Running(
        feeds=None, poller=None, ctx=None, delivery=worker, recompile=None, add_channels=None
    )  # type: ignore[arg-type]
    said = EN.say(await apply(diff(old, new), new, parts))
    assert worker.tz == ZoneInfo("Asia/Tokyo")  # alerts of chats without their own /timezone
    assert "a restart is needed for metrics.listen" in said


async def test_the_health_thresholds_follow_a_reload(tmp_path: Path) -> None:
    from datetime import timedelta

    from bot.config import parse_config
    from bot.daemon import Daemon

    base = "topics:\n  kuril:\n    title: Kuril\n    query: Kuril\n"
    old = parse_config(base + "feeds: [{id: a, url: 'http://a.example/'}]\n")
    new = parse_config(
        base + "feeds: [{id: a, url: 'http://a.example/', interval: 2h}]\n"
        "metrics:\n  stuck_after: 3h\n"
    )
    daemon = Daemon(old, tmp_path / "config.yaml")
    # a feed's max-age may stretch its polls up to poll.max_interval
    assert daemon.metrics.stale_after == old.poll.max_interval + timedelta(minutes=15)
    await daemon._apply(new)
    # a feed polled every 2 hours is not stale after 15 minutes, nor unhealthy between polls
    assert daemon.metrics.stale_after == timedelta(hours=6)
    assert daemon.metrics.stuck_after == timedelta(hours=3)


async def test_a_change_that_needs_a_restart_is_named_at_every_reload_until_one(
    tmp_path: Path,
) -> None:
    from bot.config import parse_config
    from bot.daemon import Daemon

    base = "topics:\n  kuril:\n    title: Kuril\n    query: Kuril\nfeeds: []\n"
    listening = "metrics:\n  listen: '127.0.0.1:9464'\n"
    daemon = Daemon(parse_config(base), tmp_path / "config.yaml")  # no listener started
    first = EN.say(await daemon._apply(parse_config(base + listening)))
    then = await daemon._apply(
        parse_config(base.replace("Kuril\n", "Kuril OR Iturup\n") + listening)
    )
    assert "a restart is needed for metrics.listen" in first
    # /mywatch's address stays unserved
    assert "a restart is needed for metrics.listen" in EN.say(then)


async def test_the_admins_hear_of_an_edit_that_needs_a_restart_once(tmp_path: Path) -> None:
    """An edit saved to the file applies unattended: a key read only at start that it changed
    reached the log and a /reload's reply, never the admins."""
    from datetime import timedelta

    from store import Store

    daemon, store, _ = await daemon_on_a_store(tmp_path)
    slower = daemon.settings.model_copy(
        update={"poll": daemon.settings.poll.model_copy(update={"timeout": timedelta(seconds=7)})}
    )
    await daemon._apply(slower)
    told = [row["text"] for row in await store.run(Store.notices)]
    assert told == [
        "kurilwatch: config applied; a restart is needed for poll.timeout, read only at start."
    ]
    # an edit of something else: the restart is still named in the summary, not told again
    titled = {tid: t.model_copy(update={"title": "Kurils"}) for tid, t in slower.topics.items()}
    said = EN.say(await daemon._apply(slower.model_copy(update={"topics": titled})))
    assert "a restart is needed for poll.timeout" in said
    assert len(await store.run(Store.notices)) == 1
    await store.close()


async def test_an_edit_taking_a_restart_key_back_to_its_started_value_tells_no_restart(
    tmp_path: Path,
) -> None:
    """The key runs at its started value again: "a restart is needed" would be false."""
    from datetime import timedelta

    from bot.reload import diff
    from store import Store

    daemon, store, _ = await daemon_on_a_store(tmp_path)
    started = daemon.settings
    slower = started.model_copy(
        update={"poll": started.poll.model_copy(update={"timeout": timedelta(seconds=7)})}
    )
    assert diff(slower, started, started).restart_edited == ()
    await daemon._apply(slower)
    said = EN.say(await daemon._apply(started))
    assert "restart" not in said
    assert len(await store.run(Store.notices)) == 1  # only the first edit's
    await store.close()


def test_a_topic_removed_by_a_reload_can_still_be_unsubscribed_from(
    tmp_path: Path, bot_api: Any, start_daemon: Any
) -> None:
    """/list shows a chat's subscription to a topic the config has dropped as "no longer
    offered"; /unsubscribe of it works (it answered "unknown topic": listed for good)."""
    from tests.conftest import TOKEN

    config = write_config(tmp_path, {}, api_base_url=bot_api.base_url)
    daemon = start_daemon("run", "--config", str(config), token=TOKEN)
    chat = 4242

    def say(text: str) -> str:
        count = len(bot_api.sent_messages(chat))
        bot_api.push_message(chat, text)
        return str(bot_api.wait_for_messages(chat, count + 1, timeout=30)[count]["text"])

    assert "Subscribed to kuril, peace-treaty" in say("/subscribe kuril peace-treaty")
    settings = yaml.safe_load(config.read_text())
    del settings["topics"]["peace-treaty"]
    save_edit(config, yaml.safe_dump(settings, allow_unicode=True))
    daemon.stderr.wait_for("config reloaded: topics kuril")
    assert "<code>peace-treaty</code> — (no longer offered)" in say("/list")
    assert "Unsubscribed from peace-treaty" in say("/unsubscribe peace-treaty")
    assert "Unknown topic 'peace-treaty'" in say("/subscribe peace-treaty")
    listed = say("/list")
    assert "<code>kuril</code>" in listed and "peace-treaty" not in listed
    assert daemon.stop() == 0


async def test_a_store_locked_during_the_reload_report_still_applies_the_whole_config(
    tmp_path: Path,
) -> None:
    """The admins' report of a query change writes to the store; another writer holding it
    (a backup, `kurilwatch prune`) made the reload fail half-way: the topics changed, but the
    delivery worker and the bot kept the old config, which "the running config stays" and
    every later "nothing changed" hid until a restart. Then the report itself was lost (the
    reply said "not compared with the old queries"); now it is written again in the background
    until the store takes it, as the other admins' notices are."""
    from zoneinfo import ZoneInfo

    from store import Store

    daemon, store, config = await daemon_on_a_store(tmp_path, parts=True)
    settings = yaml.safe_load(config.read_text())
    settings["topics"]["kuril"]["query"] = "Habomai"
    settings.setdefault("telegram", {})["timezone"] = "Asia/Tokyo"
    config.write_text(yaml.safe_dump(settings, allow_unicode=True))
    said = await reload_while_locked(daemon)
    assert said.startswith("Reloaded: topics kuril"), said
    assert "not compared with the old queries" not in said and "(last 7 days: kuril" in said
    assert daemon.delivery.tz == ZoneInfo("Asia/Tokyo")  # every part has the new config
    assert [m.topic_id for m in daemon._poller.topics.match(title="Habomai")] == ["kuril"]
    assert await daemon.reload() == "The config has not changed."
    retrying = set(daemon._notices)
    assert len(retrying) == 1  # the report met the lock, and is written again
    await asyncio.wait(retrying, timeout=20)
    [notice] = await store.run(Store.notices)
    assert notice["text"].startswith("kurilwatch: config applied. Topic queries over the last")
    daemon.stop()
    await daemon._finish_notices()
    await daemon._poller.pool.aclose()
    await store.close()


async def test_admins_notices_written_again_are_queued_in_the_order_they_were_said(
    tmp_path: Path,
) -> None:
    """A reload's report met a store locked by a backup and was written again in the
    background; a second reload's report, said once the lock was gone, was queued at once,
    so the admins read the stale report last, as if it told the config now running."""
    import sqlite3

    from bot.config import load_config
    from bot.daemon import Daemon
    from store import AsyncStore, Store
    from tests.conftest import short_busy_timeout

    config = write_config(tmp_path, {})
    daemon = Daemon(load_config(config), "123:abc", config_path=config)
    store = await AsyncStore(daemon.settings.store.path).open()
    await store.run(short_busy_timeout)
    daemon._store = store
    other = sqlite3.connect(daemon.settings.store.path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        await daemon._tell_admins_surely("applied {n}", {"n": "first"})
    finally:
        other.execute("ROLLBACK")
        other.close()
    await daemon._tell_admins_surely("applied {n}", {"n": "second"})
    await asyncio.wait(set(daemon._notices), timeout=20)
    assert [n["text"] for n in await store.run(Store.notices)] == [
        "applied first",
        "applied second",
    ]
    await store.close()


async def test_the_reload_report_covers_the_text_kept_and_says_so(tmp_path: Path) -> None:
    """With store.retention under the report's 7 days, items older than it (whose text the
    daily compaction had not yet dropped) were counted, under 'the last 7 days'."""
    from datetime import UTC, datetime, timedelta

    from bot.operator.backtest import report_reload
    from store import AsyncStore, FeedState, ItemRecord, Store

    store = await AsyncStore(new_store(tmp_path / "kw.db")).open()
    now = datetime.now(UTC)
    state = FeedState(id="wire", url="u-wire", title="Wire", primed=True)
    for n, age in enumerate((5, 1)):  # days ago
        url = f"https://n.example/{n}"
        record = ItemRecord(f"g{n}", url, url, f"Habomai ferry {n}", "", None)
        await store.run(Store.ingest, state, [record], now=now - timedelta(days=age), alert=False)
    told: list[dict[str, object]] = []

    async def tell_admins(message: object, values: dict[str, object]) -> None:
        told.append(values)

    counts = await report_reload(
        store, tell_admins, {"k": "Kuril"}, {"k": "Kuril OR Habomai"}, timedelta(days=3)
    )
    await store.close()
    assert [(v["days"], EN.say(v["counts"])) for v in told] == [("3", "k: +1 -0")]
    assert [EN.say(said) for said in counts] == ["(last 3 days: k +1 -0 =0)"]


async def test_the_daemon_queues_a_counted_notice_with_its_plural_form(tmp_path: Path) -> None:
    """The reload report over one day said "the last 1 days": the daemon stored one msgid.
    It stores the plural msgid too, and the value that counts, for each admin's language."""
    from datetime import timedelta

    from bot.i18n import Plural
    from bot.operator.backtest import reload_notice
    from store import Store
    from watchers.backtest import TopicDiff

    daemon, store, _ = await daemon_on_a_store(tmp_path)
    message, values = reload_notice([TopicDiff("kuril", "changed", unchanged=3)], timedelta(1))
    assert isinstance(message, Plural) and message.count == "days" and values["days"] == "1"
    await daemon._tell_admins_surely(message, values)
    [row] = await store.run(Store.notices)
    assert row["text"] == (
        "kurilwatch: config applied. Topic queries over the last 1 day (stories gained/lost):"
        " kuril: +0 -0; unchanged: kuril: 3. `kurilwatch backtest` lists them."
    )
    assert (row["msgid"], row["plural"], row["counted"]) == (
        message.singular,
        message.plural,
        "days",
    )
    await store.close()
    # two topics' counts are joined as each admin's language joins clauses
    from bot.i18n import EN, texts

    two = [TopicDiff("kuril", "changed"), TopicDiff("treaty", "changed")]
    assert "kuril: +0 -0; treaty: +0 -0" in EN.said(*reload_notice(two, timedelta(1)))
    japanese = texts("ja").said(*reload_notice(two, timedelta(1)))
    assert "kuril: +0 -0；treaty: +0 -0" in japanese and "; " not in japanese, japanese


async def test_a_feed_a_reload_changes_or_adds_back_waits_out_its_servers_retry_after(
    tmp_path: Path,
) -> None:
    """The server's Retry-After, kept on the feed, holds a reload's poll as it holds a start's:
    an operator who lengthens the interval of a feed answered 429, or removes it and adds it
    back, does not have it polled at once (a changed URL is another server: polled at once)."""
    from datetime import UTC, datetime, timedelta

    from apscheduler.schedulers.asyncio import AsyncIOScheduler

    from bot.config import parse_config
    from bot.reload import Running, apply, diff
    from store import AsyncStore, FeedState, Store
    from watchers.feed_jobs import FeedScheduler, job_id
    from watchers.fetch import Fetcher
    from watchers.poll import Poller
    from watchers.topics.compile import compile_topics

    base = "topics:\n  kuril:\n    title: Kuril\n    query: Kuril\nfeeds:\n"
    a, b, c = (f"  - {{id: {f}, url: 'http://{f}.example/'}}\n" for f in "abc")
    old = parse_config(base + a + c)
    new = parse_config(
        base + a.replace("}", ", interval: 2h}") + b + c.replace("c.example", "c2.example")
    )
    now = datetime.now(UTC)
    store = await AsyncStore(new_store(tmp_path / "kw.db")).open()
    for f in "abc":  # each answered 429 with Retry-After: 5 hours
        url = f"http://{f}.example/"
        held = FeedState(id=f, url=url, config_url=url, retry_not_before=now + timedelta(hours=5))
        await store.run(Store.save_feed_state, held)
    scheduler = AsyncIOScheduler(timezone=UTC)
    scheduler.start(paused=True)
    fetcher = Fetcher()

    async def poll(feed: Any) -> None:
        return None

    try:
        poller = Poller(store=store, fetcher=fetcher, topics=compile_topics({}), settings=new.poll)
        feeds = FeedScheduler(scheduler, poll)
        parts = Running(
            feeds=feeds,
            poller=poller,
            ctx=None,
            delivery=None,
            recompile=lambda _: asyncio.sleep(0),
            add_channels=None,
        )
        await apply(diff(old, new), new, parts)
        due = {f: scheduler.get_job(job_id(f)).next_run_time for f in "abc"}
    finally:
        scheduler.shutdown(wait=False)
        await fetcher.aclose()
        await store.close()
    hours = {f: round((when - now).total_seconds() / 3600) for f, when in due.items()}
    assert hours == {"a": 5, "b": 5, "c": 0}


async def test_a_reload_that_removes_a_subscribed_topic_tells_the_admins_how_many_chats(
    tmp_path: Path,
) -> None:
    """A topic renamed or removed by a reload left its chats with nothing, and the admins'
    'config applied' said only its stories lost."""
    from datetime import UTC, datetime

    from bot.operator.backtest import report_reload
    from store import AsyncStore, Store

    store = await AsyncStore(new_store(tmp_path / "kw.db")).open()
    now = datetime.now(UTC)
    for chat in (1, 2):
        await store.run(Store.upsert_subscriber, chat, now=now)
        await store.run(Store.subscribe, chat, "kuril", now=now)
    await store.run(Store.subscribe, 1, "treaty", now=now)
    told: list[tuple[Any, Values]] = []

    async def tell_admins(message: object, values: Values) -> None:
        told.append((message, values))

    old = {"kuril": "Kuril", "treaty": "treaty", "idle": "idle"}
    logged = await report_reload(store, tell_admins, old, {"kurils": "Kuril", "treaty": "treaty"})
    await store.close()
    topics = [v.get("topics") for _, v in told]
    assert topics[0] is None and EN.say(topics[1] or "") == "kuril (2)"
    assert EN.said(told[1][0], told[1][1]).count("kuril (2)") == 1
    assert EN.say(logged[-1]) == "(removed with their chats: kuril (2))"  # the log line too


async def test_a_reload_that_removes_a_watched_feed_tells_the_admins_how_many_watches(
    tmp_path: Path,
) -> None:
    """A feed removed (or renamed) by a reload left the watches that name it with `source:`
    matching nothing, and no one was told: /watches flags them to their chats now, and the
    admins hear how many there are of each source."""
    from datetime import UTC, datetime

    from bot.config import parse_config
    from bot.reload import Running, apply, diff
    from bot.telegram.context import BotContext
    from store import AsyncStore, Store

    store = await AsyncStore(new_store(tmp_path / "kw.db")).open()
    now = datetime.now(UTC)
    watches = {
        1: ["Shikotan source:tass-ru", "Iturup source:kyodo"],  # kyodo is kyodo-en's outlet
        2: ["source:tass-ru Kunashir", "Kunashir source:tass"],  # tass-en is still there
        3: ["Habomai source:nhk"],  # no feed before the reload either: not this reload's doing
        4: ["Shikotan -source:tass-ru"],  # it only left out the removed feed: it still matches
    }
    for chat, queries in watches.items():
        await store.run(Store.upsert_subscriber, chat, now=now)
        for query in queries:
            await store.run(Store.add_watch, chat, query, now=now, limit=5)
    told: list[tuple[str, Values]] = []

    async def tell_admins(message: str, values: Values) -> None:
        told.append((message, values))

    def config(*feeds: str) -> Any:
        listed = ", ".join(f"{{id: {f}, url: 'http://{f}.example/'}}" for f in feeds)
        return parse_config(
            f"topics:\n  kuril:\n    title: K\n    query: Kuril\nfeeds: [{listed}]\n"
        )

    old, new = config("tass-ru", "tass-en", "kyodo"), config("tass-en", "kyodo-en")
    parts = Running(
        feeds=None,
        poller=None,
        ctx=BotContext(store=store, topics=()),
        delivery=None,
        recompile=None,  # type: ignore[arg-type]
        add_channels=None,
        tell_admins=tell_admins,
    )
    said = EN.say(await apply(diff(old, new), new, parts))
    assert [EN.say(values["sources"]) for _, values in told] == ["tass-ru (2)"], told
    assert "/watches flags them" in told[0][0]
    assert said == "feeds +1 -2 ~0; watches of removed feeds: tass-ru (2)"  # the log line too
    added = config("tass-en", "kyodo-en", "nhk")
    assert EN.say(await apply(diff(new, added), added, parts)) == "feeds +1 -0 ~0"
    assert len(told) == 1
    await store.close()


def test_a_watch_leaving_out_a_removed_feed_is_not_counted_as_matching_nothing() -> None:
    """`kuril -source:tass-ru` was counted in the reload's notice as a watch that matches
    nothing once tass-ru was removed; only a `source:` not under NOT makes it so."""
    from bot.reload import _stranded

    feeds, removed = ["tass-en", "kyodo-en"], ["tass-ru", "kyodo"]
    queries = [
        "kuril -source:tass-ru",
        "kuril NOT (source:tass-ru OR source:kyodo)",
        "kuril -(iturup source:tass-ru)",
        "kuril source:tass-ru",
        "(kuril source:tass-ru) OR (iturup source:tass-ru)",
        "kuril source:tass -source:tass-ru",
    ]
    assert _stranded(queries, feeds, removed) == {"tass-ru": 2}


def test_a_watch_naming_two_removed_feeds_is_counted_under_each() -> None:
    """A watch needing two feeds a reload removed was counted only under the first of them
    (`no_feed` names one): the admins read that the second had no watches."""
    from bot.reload import _stranded

    feeds, removed = ["tass-en"], ["tass-ru", "kyodo"]
    queries = [
        "(kuril source:tass-ru) OR (iturup source:kyodo)",
        "kuril (source:tass-ru OR source:kyodo)",
        "kuril source:kyodo",
        "kuril source:tass-ru -source:kyodo",  # leaving kyodo out needs no kyodo
        "(kuril source:tass-ru) OR (iturup source:typo)",  # a typo no reload removed
    ]
    assert _stranded(queries, feeds, removed) == {"tass-ru": 4, "kyodo": 3}


async def test_a_store_locked_while_a_reload_records_the_channels_applies_the_rest_and_retries(
    tmp_path: Path,
) -> None:
    """A reload whose channels met a store another writer held (a backup, `kurilwatch prune`)
    said "Not reloaded; the running config stays" though the rest of the new config was in
    force, and every later reload said "The config has not changed": the channel's
    subscriptions were never written until a restart. They are now written again in the
    background, as at a start, and the reply says so."""
    from types import SimpleNamespace
    from zoneinfo import ZoneInfo

    from store import Store

    channel = -1001234567890
    daemon, store, config = await daemon_on_a_store(tmp_path, parts=True)

    async def get_chat(chat: object) -> SimpleNamespace:  # the Bot's one call here
        return SimpleNamespace(id=channel, type="channel", title="News")

    daemon._app = SimpleNamespace(bot=SimpleNamespace(get_chat=get_chat))  # type: ignore[assignment]
    settings = yaml.safe_load(config.read_text())
    settings.setdefault("telegram", {})["timezone"] = "Asia/Tokyo"
    settings["channels"] = [{"chat": str(channel), "topics": ["kuril"]}]
    config.write_text(yaml.safe_dump(settings, allow_unicode=True))
    said = await reload_while_locked(daemon)
    try:
        assert said.startswith("Reloaded: channels not recorded yet (the store fails"), said
        assert daemon.delivery.tz == ZoneInfo("Asia/Tokyo")
        retrying = daemon._channels_retry
        assert retrying is not None
        await asyncio.wait_for(retrying, timeout=20)  # the store is free: it takes them
        assert await store.run(Store.subscriptions, channel) == ["kuril"]
        assert await daemon.reload() == "The config has not changed."
    finally:
        daemon.stop()
        await daemon._finish_notices()
        await daemon._poller.pool.aclose()
        await store.close()


async def test_a_reload_whose_channels_fail_in_the_background_otherwise_says_so(
    tmp_path: Path, caplog: Any
) -> None:
    """A reload's channels, written again in the background while the store was locked, that
    then failed otherwise (a bug) ended their task silently: the error is logged."""
    import logging
    from types import SimpleNamespace

    daemon, store, config = await daemon_on_a_store(tmp_path)
    asked: list[object] = []

    async def get_chat(chat: object) -> SimpleNamespace:  # the Bot's one call here
        asked.append(chat)
        if len(asked) > 1:
            raise RuntimeError("a bug")
        return SimpleNamespace(id=-1001234567890, type="channel", title="News")

    daemon._app = SimpleNamespace(bot=SimpleNamespace(get_chat=get_chat))  # type: ignore[assignment]
    settings = yaml.safe_load(config.read_text())
    settings["channels"] = [{"chat": "-1001234567890", "topics": ["kuril"]}]
    config.write_text(yaml.safe_dump(settings, allow_unicode=True))
    said = await reload_while_locked(daemon)
    try:
        assert said.startswith("Reloaded: channels not recorded yet"), said
        retrying = daemon._channels_retry
        assert retrying is not None
        with caplog.at_level(logging.ERROR, logger="bot.daemon"):
            await asyncio.wait_for(asyncio.wait({retrying}), 30)
        [record] = [r for r in caplog.records if "channels not recorded: " in r.getMessage()]
        assert "a bug" in record.getMessage() and record.exc_info is not None
    finally:
        daemon.stop()
        await daemon._finish_notices()
        await store.close()


async def test_a_reload_while_the_start_waits_for_the_store_replaces_the_starts_channels(
    tmp_path: Path, bot_api: Any, caplog: Any
) -> None:
    """A reload that changed the channels while the start's were waiting for a locked store
    began a loop of its own beside the start's, and both wrote the channels once the store
    took them (an add of each config at once: the earlier config's could be written last).
    The reload's replaces the start's, and the start goes on once it has recorded them."""
    import logging
    import sqlite3

    from bot.config import load_config
    from bot.daemon import Daemon
    from bot.telegram.updates import build_application
    from store import AsyncStore, Store
    from tests.conftest import TOKEN, short_busy_timeout

    channel = {"chat": "@kurilnews_ru", "topics": ["kuril"]}
    config = write_config(
        tmp_path, {}, api_base_url=bot_api.base_url, extra={"channels": [channel]}
    )
    daemon = Daemon(load_config(config), TOKEN, config_path=config, config_settle=0)
    store = await AsyncStore(daemon.settings.store.path).open()
    await store.run(short_busy_timeout)
    daemon._store = store
    app = daemon._app = build_application(daemon.settings, TOKEN)
    other = sqlite3.connect(daemon.settings.store.path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # a backup, from before the start
    side = asyncio.create_task(daemon._run_telegram(app, store))
    try:
        with caplog.at_level(logging.INFO, logger="bot.daemon"):
            await bot_api.wait_for_async(
                lambda: bot_api.calls_of("getChat") or side.done(), 30, "the start's try"
            )
            settings = yaml.safe_load(config.read_text())
            settings["channels"][0]["topics"] = ["peace-treaty"]
            config.write_text(yaml.safe_dump(settings, allow_unicode=True))
            said = await daemon.reload()
            assert said.startswith("Reloaded: channels not recorded yet"), said
            other.execute("ROLLBACK")
            await bot_api.wait_for_async(lambda: app.running or side.done(), 30, "started")
            assert not side.done()
            retrying = daemon._channels_retry
            assert retrying is not None
            await asyncio.wait_for(retrying, 30)
        chat = (await app.bot.get_chat("@kurilnews_ru")).id
        assert await store.run(Store.subscriptions, chat) == ["peace-treaty"]
        recorded = [r for r in caplog.records if "recorded once the store" in r.getMessage()]
        assert len(recorded) == 1, [r.getMessage() for r in recorded]
    finally:
        if other.in_transaction:
            other.execute("ROLLBACK")
        other.close()
        daemon.stop()
        await daemon._stop_telegram(app, side)
        await store.close()


async def test_a_reload_that_fails_part_way_says_so_and_the_next_one_applies_it_again(
    tmp_path: Path,
) -> None:
    """A reload that failed after some parts took the new config said "the running config
    stays", and the next said "The config has not changed", the rest never applied."""
    from datetime import timedelta
    from zoneinfo import ZoneInfo

    daemon, store, config = await daemon_on_a_store(tmp_path, parts=True, token=None)
    poller = daemon._poller
    recompiles_failing_once(daemon)
    settings = yaml.safe_load(config.read_text())
    settings["topics"]["kuril"]["query"] = "Habomai"
    settings.setdefault("telegram", {})["timezone"] = "Asia/Tokyo"
    settings.setdefault("poll", {})["max_interval"] = "2h"
    config.write_text(yaml.safe_dump(settings, allow_unicode=True))
    try:
        said = await daemon.reload()
        assert said.startswith("Reloaded in part (MemoryError: compiling the topics)"), said
        assert poller.settings.max_interval == timedelta(hours=2)  # applied before the compile
        assert daemon.delivery.tz != ZoneInfo("Asia/Tokyo")  # and this after it: not yet
        again = await daemon.reload()
        assert again.startswith("Reloaded: topics kuril"), again
        assert daemon.delivery.tz == ZoneInfo("Asia/Tokyo")
        assert [m.topic_id for m in poller.topics.match(title="Habomai")] == ["kuril"]
        assert await daemon.reload() == "The config has not changed."
    finally:
        await poller.pool.aclose()
        await store.close()


class _Scheduled:
    """The feeds a `FeedScheduler` polls, by its add and remove."""

    def __init__(self, feeds: list[str]) -> None:
        self.ids = set(feeds)

    def add(self, feed: Any, first: Any = None) -> None:
        self.ids.add(feed.id)

    def remove(self, feed_id: str) -> None:
        self.ids.discard(feed_id)


async def test_an_edit_taken_back_after_a_reload_failed_part_way_undoes_what_it_applied(
    tmp_path: Path,
) -> None:
    """After a reload that failed part-way, the next applied what differed from the config
    before it: an edit taken back then differed from nothing, and the feed it had added was
    polled on (in no config). What differs from the one that failed is applied too."""

    one = {"one": "http://127.0.0.1:9/one.xml"}
    daemon, store, config = await daemon_on_a_store(tmp_path, parts=True, feeds=one, token=None)
    original = config.read_text()
    poller = daemon._poller
    feeds = daemon._feeds = _Scheduled(["one"])
    compiles = recompiles_failing_once(daemon)
    settings = yaml.safe_load(original)
    settings["topics"]["kuril"]["query"] = "Habomai"
    settings["feeds"].append({"id": "extra", "url": "http://127.0.0.1:9/extra.xml"})
    config.write_text(yaml.safe_dump(settings, allow_unicode=True))
    try:
        said = await daemon.reload()
        assert said.startswith("Reloaded in part"), said
        assert feeds.ids == {"one", "extra"}  # applied before the compile failed
        config.write_text(original)  # the operator takes the edit back
        again = await daemon.reload()
        assert again.startswith("Reloaded: feeds +0 -1 ~0; topics kuril"), again
        assert feeds.ids == {"one"}
        assert len(compiles) == 2  # the queries of the config before, compiled again
        assert await daemon.reload() == "The config has not changed."
    finally:
        await poller.pool.aclose()
        await store.close()


async def test_a_bulk_bad_edit_is_answered_with_its_first_problems(tmp_path: Path) -> None:
    """A generated config of 2,000 topics, each broken by one careless edit (`querry:`), was
    answered with all 4,000 problems: 132 Telegram messages to the admin's /reload, and one
    log line and one notice row of 537,000 characters."""
    from bot.delivery.split import split_html
    from bot.i18n import Plural, texts
    from bot.telegram.context import esc
    from store import Store

    daemon, store, config = await daemon_on_a_store(tmp_path)
    settings = yaml.safe_load(config.read_text())
    settings["topics"] = {f"t{n}": {"title": f"T{n}", "querry": "kuril"} for n in range(2000)}
    config.write_text(yaml.safe_dump(settings))
    try:
        said = await daemon.reload()
        in_russian = await daemon.reload(texts("ru"))
        [notice] = await store.run(Store.notices)  # the same refusal is told once
    finally:
        await store.close()
    assert said.startswith("Not reloaded; the running config stays. "), said
    more = f" (+3990 more problems: `kurilwatch check --config {config}` lists every one)"
    assert said.endswith(more) and said.count("topics.t") == 10, said
    assert len(split_html(esc(said))) == 1
    # the count in its plural form (it was "и ещё 3990:", a number without its noun)
    assert in_russian.endswith(
        f"(и ещё 3990 ошибок: все их перечислит `kurilwatch check --config {config}`)"
    ), in_russian
    assert notice["text"].count("topics.t") == 10 and "+3990 more problems" in notice["text"]
    message = Plural(notice["msgid"], notice["plural"], notice["counted"])
    russian = texts("ru").said(message, json.loads(notice["vals"]))
    assert "; и ещё 3990 ошибок: все их перечислит `kurilwatch check" in russian, russian


async def test_a_reload_s_reply_is_in_the_admin_s_language_and_its_log_line_in_english(
    tmp_path: Path, caplog: Any
) -> None:
    """/reload answered a Russian admin "Перечитано: feeds +1 -1 ~0; topics kuril, ...": the
    summary was the log line's English. It is now said in the admin's language, from the same
    facts; the log line keeps its English."""
    import logging
    from datetime import UTC, datetime

    from bot.i18n import texts
    from bot.telegram.context import BotContext
    from store import Store

    feeds = {"tass-ru": "http://127.0.0.1:9/a.xml"}
    daemon, store, config = await daemon_on_a_store(tmp_path, parts=True, feeds=feeds)
    daemon._ctx = BotContext(store=store, topics=())
    now = datetime.now(UTC)
    await store.run(Store.upsert_subscriber, 1, now=now)
    await store.run(Store.add_watch, 1, "Shikotan source:tass-ru", now=now, limit=5)
    caplog.set_level(logging.INFO, "bot.daemon")
    said = {}
    try:
        for lang, feed in (("ru", "tass-en"), ("ja", "tass-ru")):
            settings = yaml.safe_load(config.read_text())
            settings["feeds"] = [{"id": feed, "url": f"http://127.0.0.1:9/{feed}.xml"}]
            settings["topics"]["kuril"]["query"] += f" OR {lang}"
            settings["poll"]["concurrency"] = 3
            config.write_text(yaml.safe_dump(settings, allow_unicode=True))
            said[lang] = await daemon.reload(texts(lang))
    finally:
        await daemon._poller.fetcher.aclose()
        await store.close()
    assert said["ru"] == (
        "Перечитано: ленты +1 -1 ~0; темы kuril, peace-treaty (за 7 дней: kuril +0 -0 =0);"
        " нужен перезапуск для poll.concurrency; запросы удалённых лент: tass-ru (1)"
    ), said["ru"]
    assert said["ja"] == (
        "再読込しました: フィード +1 -1 ~0；トピック kuril、peace-treaty（過去 7 日: kuril +0 -0"
        " =0）；poll.concurrency の反映には再起動が必要"
    ), said["ja"]  # no space before a full-width parenthesis, as Japanese writes it
    logged = [r.getMessage() for r in caplog.records if "config reloaded" in r.getMessage()]
    assert logged == [
        "config reloaded: feeds +1 -1 ~0; topics kuril, peace-treaty (last 7 days: kuril +0 -0"
        " =0); a restart is needed for poll.concurrency; watches of removed feeds: tass-ru (1)",
        "config reloaded: feeds +1 -1 ~0; topics kuril, peace-treaty (last 7 days: kuril +0 -0"
        " =0); a restart is needed for poll.concurrency",
    ], logged


async def test_a_console_daemon_prints_the_admins_notices_each_on_one_line(
    tmp_path: Path,
) -> None:
    """With Telegram off (no token) the daemon prints its alerts to stdout; its notices to the
    admins (a reload's, a key only a restart reads) were dropped without a line of their own."""
    import io

    from store import Store

    daemon, store, config = await daemon_on_a_store(tmp_path, token=None)
    daemon.out = out = io.StringIO()
    settings = yaml.safe_load(config.read_text())
    settings["poll"]["timeout"] = "7s"
    settings["feeds"] = [{"id": f"f{n}", "url": "http://127.0.0.1:9/f.xml"} for n in (1, 2, 3)]
    config.write_text(yaml.safe_dump(settings))
    try:
        await daemon.reload()
        config.write_text(config.read_text() + "\nbogus: 1\n")
        await daemon.reload()
        queued = await store.run(Store.notices)
    finally:
        await store.close()
    applied, warned, refused = [line for line in out.getvalue().splitlines() if line]
    assert applied == (
        "admins' notice: kurilwatch: config applied; a restart is needed for poll.timeout, read"
        " only at start."
    )
    twice = "the same URL as feeds[0] (f1): it is polled twice as often, for the same items"
    assert warned == (  # its lines on one
        "admins' notice: kurilwatch: config applied, but it holds what is likely not meant"
        f" (file, line, key: why): {config} line 5: feeds[1].url: {twice};"
        f" {config} line 7: feeds[2].url: {twice}"
    ), warned
    assert re.fullmatch(
        r"admins' notice: kurilwatch: config not reloaded \(.* bogus: unknown key .*\); the"
        r" running config stays\.",
        refused,
    ), refused
    assert queued == []  # nothing queued for a Telegram that is off


async def test_a_refused_config_read_again_unchanged_is_told_the_admins_once(
    tmp_path: Path,
) -> None:
    """A bad edit was told every admin; then each /reload of the same file (by another admin),
    SIGHUP or a save that changed nothing told them the same refusal again. It is answered and
    logged each time, told once; an edit that changes the problems, or one that breaks the
    config again after it was fixed, is told."""
    from store import Store

    daemon, store, config = await daemon_on_a_store(tmp_path)
    good = config.read_text()
    soon = good.replace("interval: 1s", "interval: soon", 1)
    try:
        config.write_text(soon)
        assert (await daemon.reload()).startswith("Not reloaded")
        answer = await daemon.reload(sender=9009)  # another admin's /reload, the file as it was
        assert answer.startswith("Not reloaded") and "'soon' is not a duration" in answer
        await daemon.reload()  # SIGHUP
        told = [n["text"] for n in await store.run(Store.notices)]
        assert len(told) == 1 and "'soon'" in told[0], told
        config.write_text(good.replace("interval: 1s", "interval: later", 1))  # other problems
        await daemon.reload()
        config.write_text(good)
        assert (await daemon.reload()).startswith("The config has not changed")
        config.write_text(soon)  # broken again as before
        await daemon.reload()
        told = [n["text"] for n in await store.run(Store.notices)]
    finally:
        await store.close()
    assert ["'soon'" in t for t in told] == [True, False, True], told
