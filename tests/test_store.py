"""The store on a real SQLite database: migrations, ingestion, dedup, subscriptions, outbox."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import sqlite3
import subprocess
import sys
import threading
import time
import tracemalloc
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlite_utils import Database

from store import AsyncStore, FeedState, ItemRecord, SearchError, Store, migrations
from store.items import INDEX_EVERY
from store.records import OutboxState
from tests.conftest import ROOT, new_store
from watchers.fingerprint import content_fingerprint

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def record(guid: str, url: str | None = None, topics: tuple[str, ...] = ("kuril",)) -> ItemRecord:
    link = url or f"https://news.example/{guid}"
    return ItemRecord(
        guid=guid,
        link=link,
        canonical_url=link,
        title=f"Title {guid}",
        summary="text",
        published_at=T0,
        topics=topics,
    )


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(new_store(tmp_path / "kw.db"))
    yield s
    s.close()


def test_schema_is_migrated_once_and_in_wal(tmp_path: Path) -> None:
    path = tmp_path / "kw.db"
    Store(path).close()
    store = Store(path)  # second open applies nothing
    assert store.schema_version() == migrations.latest_version() >= 1
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert {"feeds", "items", "subscribers", "subscriptions", "outbox"} <= set(
        store.db.table_names()
    )
    applied = Database(path)["_sqlite_migrations"].count
    assert applied == migrations.latest_version()
    store.close()


def test_first_poll_records_without_alerting(store: Store) -> None:
    store.upsert_subscriber(1, now=T0)
    store.subscribe(1, "kuril", now=T0)
    state = FeedState(id="a", url="http://a/")
    result = store.ingest(state, [record("1"), record("2")], now=T0 + timedelta(1), alert=False)
    assert len(result.stored) == 2 and result.queued == 0
    assert store.due_deliveries(T0 + timedelta(2)) == []
    assert store.feed_state("a") == state
    assert store.feed_states() == [state]


def test_guid_dedup_within_feed_and_url_dedup_across_feeds(store: Store) -> None:
    store.upsert_subscriber(1, now=T0)
    store.subscribe(1, "kuril", now=T0)
    later = T0 + timedelta(hours=1)
    a, b = FeedState(id="a", url="http://a/"), FeedState(id="b", url="http://b/")
    first = store.ingest(a, [record("x", "https://s.example/story")], now=later, alert=True)
    assert first.queued == 1
    again = store.ingest(a, [record("x", "https://s.example/story")], now=later, alert=True)
    assert again.stored == () and again.queued == 0
    other = store.ingest(b, [record("y", "https://s.example/story")], now=later, alert=True)
    assert len(other.stored) == 1 and other.new_stories == () and other.queued == 0
    assert other.stored[0].story_id == first.stored[0].story_id
    assert len(store.due_deliveries(later)) == 1


def test_only_subscribers_of_the_topic_since_before_the_item(store: Store) -> None:
    for chat in (1, 2, 3):
        store.upsert_subscriber(chat, now=T0)
    store.subscribe(1, "kuril", now=T0)
    store.subscribe(2, "peace-treaty", now=T0)
    store.subscribe(3, "kuril", now=T0 + timedelta(hours=2))  # after the item came
    feed = FeedState(id="a", url="http://a/")
    store.ingest(feed, [record("1")], now=T0 + timedelta(hours=1), alert=True)
    due = store.due_deliveries(T0 + timedelta(hours=3))
    assert [d.chat_id for d in due] == [1]
    assert due[0].topics == ("kuril",)
    assert due[0].item.title == "Title 1"


def test_the_same_article_through_another_feed_is_not_news_to_a_chat_subscribed_between(
    store: Store,
) -> None:
    """design.md: a subscriber gets only items that arrived after they subscribed. An article
    another feed carries again later (Google News and the outlet's own feed) arrived when its
    first copy did; a new report of the story is news to them all the same."""
    store.upsert_subscriber(1, now=T0)
    a, b, c = (FeedState(id=f, url=f"http://{f}/") for f in "abc")
    store.ingest(
        a, [record("x", "https://s.example/story")], now=T0 + timedelta(hours=1), alert=True
    )
    store.subscribe(1, "kuril", now=T0 + timedelta(hours=2))
    again = T0 + timedelta(hours=3)
    copy = store.ingest(b, [record("y", "https://s.example/story")], now=again, alert=True)
    assert copy.stored and copy.queued == 0 and store.due_deliveries(again) == []
    story = copy.stored[0].story_id
    other = dataclasses.replace(record("z", "https://other.example/r"), story_hint=story)
    report = store.ingest(c, [other], now=again, alert=True)
    assert report.new_stories == () and report.queued == 1  # another outlet's report: news


def test_outbox_lifecycle_and_crash_requeue(store: Store) -> None:
    store.upsert_subscriber(1, now=T0)
    store.subscribe(1, "kuril", now=T0)
    store.ingest(FeedState(id="a", url="u"), [record("1"), record("2")], now=T0, alert=True)
    [first] = store.due_deliveries(T0)  # one row per chat: its oldest
    assert store.claim(first.id, now=T0) == 1
    store.mark_sent(first.id, 77, now=T0)
    [second] = store.due_deliveries(T0)
    assert second.id > first.id
    assert store.claim(second.id, now=T0) == 1  # then the process dies
    assert store.claim(second.id, now=T0) is None
    assert store.due_deliveries(T0) == []
    assert store.requeue_inflight() == 1
    [again] = store.due_deliveries(T0)
    assert again.id == second.id and again.attempts == 1
    store.mark_retry(again.id, "timeout", at=T0 + timedelta(minutes=1))
    assert store.due_deliveries(T0) == []
    assert store.next_due_at() == T0 + timedelta(minutes=1)
    assert store.outbox_counts() == {"sent": 1, "pending": 1}


def test_due_deliveries_are_fair_across_chats(store: Store) -> None:
    for chat in (1, 2, 3):
        store.upsert_subscriber(chat, now=T0)
        store.subscribe(chat, "kuril", now=T0)
    feed = FeedState(id="a", url="u")
    store.ingest(feed, [record(str(n)) for n in range(50)], now=T0, alert=True)
    due = store.due_deliveries(T0, limit=10)
    assert [d.chat_id for d in due] == [1, 2, 3]  # each chat's oldest, not 10 rows of chat 1
    assert [d.item.guid for d in due] == ["0", "0", "0"]
    assert [d.chat_id for d in store.due_deliveries(T0, exclude={1, 3})] == [2]
    store.mark_retry(due[0].id, "502", at=T0 + timedelta(minutes=5))
    later = store.due_deliveries(T0)
    assert [(d.chat_id, d.item.guid) for d in later] == [(2, "0"), (3, "0"), (1, "1")]


def test_notices_fan_out_to_the_admins_of_the_day(store: Store) -> None:
    store.notify_admins("feed x was disabled", now=T0)
    assert store.due_notices(T0) == []  # not yet addressed
    assert store.fan_out_notices((11, 12)) == 1
    assert store.fan_out_notices((11, 12)) == 0
    due = store.due_notices(T0)
    assert [(n.chat_id, n.text) for n in due] == [
        (11, "feed x was disabled"),
        (12, "feed x was disabled"),
    ]
    assert store.claim_notice(due[0].id, now=T0)
    assert not store.claim_notice(due[0].id, now=T0)
    store.settle_notice(due[0].id, "sent", now=T0)
    assert store.claim_notice(due[1].id, now=T0)  # and the process dies
    store.requeue_inflight()
    assert [n.chat_id for n in store.due_notices(T0, exclude={99})] == [12]
    store.notify_admins("nobody to tell", now=T0)
    store.fan_out_notices(())
    [kept] = [n for n in store.notices() if n["text"] == "nobody to tell"]
    assert (kept["state"], kept["last_error"]) == ("dropped", "no telegram.admins configured")


def test_a_notice_fans_out_to_every_admin_but_the_one_it_answered(store: Store) -> None:
    """The admin whose /reload it tells of read its answer already."""
    store.notify_admins("config applied", now=T0, except_chat=11)
    assert store.fan_out_notices((11, 12)) == 1
    assert [n.chat_id for n in store.due_notices(T0)] == [12]
    store.notify_admins("config refused", now=T0, except_chat=11)
    assert store.fan_out_notices((11,)) == 1  # the only admin: no one else to tell
    assert [n.chat_id for n in store.due_notices(T0)] == [12]
    assert store.notices()[-1]["state"] == "fanned"


def test_an_admin_id_sqlite_cannot_hold_fails_its_notice_not_the_fan_out(store: Store) -> None:
    # OverflowError came out of the fan-out and stopped the delivery worker, and the daemon
    store.notify_admins("feed x was disabled", now=T0)
    huge = 10**23
    assert store.fan_out_notices((huge, 11)) == 1
    assert [n.chat_id for n in store.due_notices(T0)] == [11]  # the other admin hears it
    store.notify_admins("only the huge one", now=T0)
    assert store.fan_out_notices((huge,)) == 1
    [kept] = [n for n in store.notices() if n["text"] == "only the huge one"]
    assert (kept["state"], kept["last_error"]) == (
        "failed",
        f"admin ids SQLite cannot hold: {huge}",
    )


def test_deactivate_drops_pending_and_start_reactivates(store: Store) -> None:
    store.upsert_subscriber(1, now=T0)
    store.subscribe(1, "kuril", now=T0)
    store.ingest(FeedState(id="a", url="u"), [record("1")], now=T0, alert=True)
    assert store.deactivate_chat(1, "Forbidden: bot was blocked by the user", now=T0) == 1
    assert store.outbox_counts() == {"dropped": 1}
    sub = store.subscriber(1)
    assert sub is not None and not sub.active and sub.topics == ("kuril",)
    store.ingest(FeedState(id="a", url="u"), [record("2")], now=T0, alert=True)
    assert store.outbox_counts() == {"dropped": 1}  # nothing queued for an inactive chat
    assert store.upsert_subscriber(1, now=T0) is True
    assert store.subscriber(1).active  # type: ignore[union-attr]


def test_migrate_chat_moves_everything(store: Store) -> None:
    store.upsert_subscriber(-1, now=T0, chat_type="group")
    store.subscribe(-1, "kuril", now=T0)
    store.ingest(FeedState(id="a", url="u"), [record("1")], now=T0, alert=True)
    store.toggle_source(-1, "tass-en", now=T0)
    store.control_story(-1, 1, "follow", now=T0)
    store.migrate_chat(-1, -100123, now=T0)
    assert store.subscriber(-1) is None
    assert store.subscriptions(-100123) == ["kuril"]
    assert [d.chat_id for d in store.due_deliveries(T0)] == [-100123]
    assert store.muted_sources(-100123) == ["tass-en"] and store.muted_sources(-1) == []
    assert store.story_modes(1) == {-100123: "follow"}


def test_a_forums_topic_is_forgotten_only_while_it_is_still_the_chats(store: Store) -> None:
    store.upsert_subscriber(-100, now=T0)
    store.set_thread(-100, 77)  # set up in topic 77
    prefs = store.prefs(-100)
    assert prefs is not None and prefs.thread_id == 77
    assert not store.forget_thread(-100, 5)  # an earlier topic's message found it gone
    assert store.forget_thread(-100, 77)
    prefs = store.prefs(-100)
    assert prefs is not None and prefs.thread_id is None


def test_forget_chat(store: Store) -> None:
    store.upsert_subscriber(5, now=T0)
    store.subscribe(5, "kuril", now=T0)
    store.ingest(FeedState(id="a", url="u"), [record("1")], now=T0, alert=True)
    store.toggle_source(5, "tass-en", now=T0)
    store.add_feedback(5, 1, "kuril", now=T0)
    store.forget_chat(5)
    assert store.subscriber(5) is None and store.subscriptions(5) == []
    assert store.outbox_counts() == {}
    assert store.muted_sources(5) == [] and store.feedback() == []


def test_subscribe_is_idempotent(store: Store) -> None:
    store.upsert_subscriber(1, now=T0)
    assert store.subscribe(1, "kuril", now=T0) is True
    assert store.subscribe(1, "kuril", now=T0) is False
    assert store.unsubscribe(1, "kuril") is True
    assert store.unsubscribe(1, "kuril") is False


def test_subscribing_to_many_topics_keeps_all_or_none(store: Store) -> None:
    """/subscribe all made one store call per topic: a failure halfway left half of them."""
    store.upsert_subscriber(1, now=T0)
    assert store.subscribe_to(1, ["kuril"], now=T0) == ["kuril"]
    assert store.subscribe_to(1, ["a", "kuril", "b", "a"], now=T0) == ["a", "b"]
    store.db.execute(
        "CREATE TRIGGER refuse_z BEFORE INSERT ON subscriptions WHEN NEW.topic_id = 'z'"
        " BEGIN SELECT RAISE(ABORT, 'refused'); END"
    )
    with pytest.raises(sqlite3.IntegrityError):
        store.subscribe_to(1, ["c", "d", "z", "e"], now=T0)
    assert store.subscriptions(1) == ["a", "b", "kuril"]


def test_unsubscribing_from_many_topics_keeps_all_or_none(store: Store) -> None:
    """/unsubscribe all made one store call per topic: a failure halfway left half of them."""
    store.upsert_subscriber(1, now=T0)
    store.subscribe_to(1, ["a", "b", "c", "z"], now=T0)
    assert store.unsubscribe_from(1, ["b", "x", "a", "b"]) == ["b", "a"]
    store.db.execute(
        "CREATE TRIGGER refuse_z BEFORE DELETE ON subscriptions WHEN OLD.topic_id = 'z'"
        " BEGIN SELECT RAISE(ABORT, 'refused'); END"
    )
    with pytest.raises(sqlite3.IntegrityError):
        store.unsubscribe_from(1, ["c", "z"])
    assert store.subscriptions(1) == ["c", "z"]


def test_word_forms_are_read_a_page_at_a_time(store: Store) -> None:
    """A start gives the cache of forms every stored word's: read at once, they were 58 MB for
    bench/watches.py's 100,000 watches, past the 32 MiB the cache then keeps of them."""
    forms = {f"слово{n:02}": {f"слово{n:02}", f"слова{n:02}"} for n in range(25)}
    store.save_word_forms(forms)
    pages, after = [], None
    while not pages or len(pages[-1]) == 10:
        pages.append(store.word_forms_page(after, 10))
        after = pages[-1][-1][0] if pages[-1] else after
    assert [len(page) for page in pages] == [10, 10, 5]
    assert [word for page in pages for word, _ in page] == sorted(forms)
    assert all(got == frozenset(forms[word]) for page in pages for word, got in page)
    assert store.word_forms_page("слово24", 10) == []
    assert store.word_forms_of(["слово03", "нет", "слово24"]) == {
        "слово03": frozenset(forms["слово03"]),
        "слово24": frozenset(forms["слово24"]),
    }


async def test_async_store_runs_off_the_event_loop(tmp_path: Path) -> None:
    store = await AsyncStore(new_store(tmp_path / "kw.db")).open()
    loop_thread = threading.get_ident()
    seen: list[int] = []

    def where(s: Store) -> int:
        seen.append(threading.get_ident())
        time.sleep(0.2)  # a slow query must not stall the loop
        return s.schema_version()

    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    task = asyncio.create_task(ticker())
    version = await store.run(where)
    task.cancel()
    await store.close()
    assert version == migrations.latest_version()
    assert seen and seen[0] != loop_thread
    assert ticks >= 5


def test_every_earlier_schema_version_migrates_forward(tmp_path: Path) -> None:
    names = [m.name for m in migrations.migrations.pending(Database(memory=True))]
    for stop in names[1:]:
        path = tmp_path / f"{stop}.db"
        old = Database(path)
        migrations.migrations.apply(old, stop_before=stop)
        old["feeds"].insert({"id": "a", "url": "http://a/", "primed": 1, "consecutive_errors": 0})
        old.close()
        store = Store(path)
        assert store.schema_version() == len(names)
        state = store.feed_state("a")
        assert state is not None and state.primed and state.config_url in ("http://a/", None)
        store.close()


def test_a_feed_stored_before_retry_not_before_migrates_and_keeps_one(tmp_path: Path) -> None:
    path = tmp_path / "m022.db"
    old = Database(path)
    migrations.migrations.apply(old, stop_before="m023_retry_not_before")
    old["feeds"].insert({"id": "a", "url": "http://a/", "primed": 1, "consecutive_errors": 2})
    old.close()
    with Store(path) as store:
        state = store.feed_state("a")
        assert state is not None and state.consecutive_errors == 2
        assert state.retry_not_before is None
        store.save_feed_state(replace(state, retry_not_before=T0 + timedelta(hours=20)))
    with Store(path) as store:
        again = store.feed_state("a")
        assert again is not None and again.retry_not_before == T0 + timedelta(hours=20)


def test_feeds_failing_6_hours_at_the_upgrade_are_taken_as_told(tmp_path: Path) -> None:
    """The code before judged a feed failing 6 h or more told of already: after the upgrade
    its admins are not told it again, and hear of its recovery; a shorter run is told once it
    passes 6 h."""
    path = tmp_path / "m033.db"
    old = Database(path)
    migrations.migrations.apply(old, stop_before="m035_feed_told_since")
    hour = 3600.0
    for feed, errors, since, last, disabled in [
        ("long", 9, T0.timestamp(), T0.timestamp() + 7 * hour, None),
        ("short", 2, T0.timestamp(), T0.timestamp() + 5 * hour, None),
        ("disabled", 9, T0.timestamp(), T0.timestamp() + 9 * hour, "gone"),
        ("working", 0, None, T0.timestamp() + 9 * hour, None),
    ]:
        old["feeds"].insert(
            {
                "id": feed,
                "url": f"http://{feed}/",
                "primed": 1,
                "consecutive_errors": errors,
                "errors_since": since,
                "last_attempt_at": last,
                "disabled_reason": disabled,
            }
        )
    old.close()
    with Store(path) as store:
        told = {state.id: state.told_since for state in store.feed_states()}
    assert told == {"long": T0, "short": None, "disabled": None, "working": None}


def test_not_relevant_pressed_again_and_again_keeps_the_first_press(store: Store) -> None:
    """Anyone in a group may press "Not relevant" as often as they like (or a client send the
    callback in a loop): each press was a row, kept a year."""
    for n in range(50):
        store.add_feedback(-100, 1, "kuril", now=T0 + timedelta(seconds=n))
    store.add_feedback(-100, 2, "kuril", now=T0)
    store.add_feedback(-200, 1, "kuril", now=T0)
    assert [(f.chat_id, f.item_id, f.created_at) for f in store.feedback()] == [
        (-100, 1, T0),
        (-100, 2, T0),
        (-200, 1, T0),
    ]


def test_feedback_pressed_again_before_the_migration_keeps_its_first_press(
    tmp_path: Path,
) -> None:
    path = tmp_path / "m030.db"
    old = Database(path)
    migrations.migrations.apply(old, stop_before="m031_feedback_once")
    for n, chat in enumerate([-100, -100, -200, -100]):
        row = {"chat_id": chat, "item_id": 1, "topic": "kuril", "created_at": T0.timestamp() + n}
        old["feedback"].insert(row)
    old.close()
    with Store(path) as store:
        kept = [(f.chat_id, f.created_at) for f in store.feedback()]
        assert kept == [(-100, T0), (-200, T0 + timedelta(seconds=2))]
        store.add_feedback(-100, 1, "kuril", now=T0 + timedelta(days=1))
        assert len(store.feedback()) == 2


def test_a_notice_stored_before_plurals_still_reads_in_its_admin_s_language(
    tmp_path: Path,
) -> None:
    """A notice queued by the kurilwatch before plural notices (no plural msgid, no counted
    value) is sent after the upgrade, translated as it was."""
    from bot.delivery.render import notice_text

    path = tmp_path / "m032.db"
    old = Database(path)
    migrations.migrations.apply(old, stop_before="m033_notice_plurals")
    msgid = "kurilwatch: config not reloaded ({problems}); the running config stays."
    old["notices"].insert(
        {
            "text": msgid.format(problems="feeds[0].url: bad"),
            "state": "pending",
            "attempts": 0,
            "next_attempt_at": T0.timestamp(),
            "created_at": T0.timestamp(),
            "msgid": msgid,
            "vals": '{"problems": "feeds[0].url: bad"}',
        }
    )
    old.close()
    with Store(path) as store:
        store.upsert_subscriber(11, now=T0, language_code="ru")
        assert store.fan_out_notices((11, 12)) == 1
        ru, en = store.due_notices(T0)
        assert (ru.plural, ru.counted) == (None, None)
        assert notice_text(ru) == (
            "kurilwatch: конфигурация не перечитана (feeds[0].url: bad); действует прежняя."
        )
        assert notice_text(en) == "kurilwatch: config not reloaded (feeds[0].url: bad);" + (
            " the running config stays."
        )


def test_prune_keeps_dedup_keys_for_a_year(store: Store) -> None:
    store.upsert_subscriber(1, now=T0)
    store.subscribe(1, "kuril", now=T0)
    feed = FeedState(id="a", url="u")
    store.ingest(feed, [record("old")], now=T0, alert=True)
    [due] = store.due_deliveries(T0)
    store.claim(due.id, now=T0)
    store.mark_sent(due.id, 5, now=T0)
    later = T0 + timedelta(days=100)
    assert store.prune(now=later, text_for=timedelta(days=90), keys_for=timedelta(days=365)) == (
        1,
        0,
    )
    assert store.outbox_counts() == {}
    returning = store.ingest(feed, [record("old")], now=later, alert=True)
    assert returning.stored == () and returning.queued == 0  # the guid is still known
    other = store.ingest(
        FeedState(id="b", url="v"), [record("x", "https://news.example/old")], now=later, alert=True
    )
    assert other.new_stories == ()  # and so is its URL
    much_later = T0 + timedelta(days=400)
    assert (
        store.prune(now=much_later, text_for=timedelta(days=90), keys_for=timedelta(days=365))[1]
        >= 1
    )


def test_search_finds_items_in_three_scripts_and_explains_bad_queries(store: Store) -> None:
    feed = FeedState(id="a", url="u")
    records = [
        ItemRecord("1", None, None, "Russia deploys Bastion on Iturup", "Coastal missiles.", None),
        ItemRecord("2", None, None, "Учения на Курилах", "Флот провёл учения у Итурупа.", None),
        ItemRecord("3", None, None, "北方領土の元島民が墓参", "択捉島への墓参が再開された。", None),
        ItemRecord("4", None, None, "Paris weather", "Rain over the city.", None),
    ]
    store.ingest(feed, records, now=T0, alert=False)
    assert [i.guid for i, _ in store.search("iturup")] == ["1"]
    assert [i.guid for i, _ in store.search("Курил*")] == ["2"]  # word forms by prefix
    assert [i.guid for i, _ in store.search("учения")] == ["2"]  # case folded
    assert [i.guid for i, _ in store.search("元島民")] == ["3"]  # Japanese without spaces
    assert [i.guid for i, _ in store.search("択捉")] == ["3"]
    # a '*' after Japanese, as after a word: it was refused ("'*' cannot stand there")
    assert [i.guid for i, _ in store.search("択*")] == ["3"]
    assert [i.guid for i, _ in store.search("元島*")] == ["3"]
    assert store.search("島元") == []  # characters, not in that order
    assert {i.guid for i, _ in store.search("Iturup OR Итурупа")} == {"1", "2"}
    assert store.search("Bastion NOT Iturup") == []
    store.prune(
        now=T0 + timedelta(days=400), text_for=timedelta(days=90), keys_for=timedelta(days=365)
    )
    assert store.search("iturup") == []  # pruned text leaves the index
    for bad, why in [
        ('"unbalanced', "double quote is not closed"),
        ("AND", '"AND" needs a word before it'),
        # "NOT kuril" was told to put a phrase in double quotes: no help to leave a word out
        ("NOT kuril", '"NOT" needs a word before it, as in Курилы NOT учения'),
        ("a <b", '"<" cannot stand there'),
        ("kuril OR", r"ends too early \(a word or a '\)' is missing at the end\)"),
        ("(kuril", "ends too early"),
        ("col: x", "'col' reads as a field name"),
        ("  ", "empty"),
    ]:
        with pytest.raises(SearchError, match=why):
            store.search(bad)


def test_a_search_too_broad_for_the_stores_thread_is_refused_in_words(store: Store) -> None:
    """One user's search of 26 one-letter prefixes held the store's one thread for 4.4 s over
    50 days of items (every poll and send waited), and it could be sent again and again."""
    feed = FeedState(id="a", url="u")
    records = [
        ItemRecord(str(n), None, None, f"Kuril ferry {n} delayed", "Fog over Kunashir.", None)
        for n in range(300)
    ]
    store.ingest(feed, records, now=T0, alert=False)
    for bad, why in [
        ("k* OR f*", r"'k\*' is too short a prefix"),
        (
            " OR ".join(f"{w}*" for w in ("ku", "fe", "de", "fo", "ov", "Kun", "ri", "ry", "la")),
            "at most 8",
        ),
    ]:
        with pytest.raises(SearchError, match=why):
            store.search(bad)
    assert len(store.search("Kun* OR Kur* OR 島")) == 10
    with pytest.raises(SearchError, match="matches too much to be searched at once"):
        store.search("ferry", within=0)  # past its time at the first look
    assert len(store.search("ferry")) == 10  # the time limit ended with that search
    assert store.db.execute("SELECT count(*) FROM items").fetchone()[0] == 300


def test_items_are_indexed_for_search_in_batches_and_never_twice(store: Store) -> None:
    feed = FeedState(id="a", url="u")

    def indexed() -> int:
        return int(store.db.execute("SELECT count(*) FROM items_fts").fetchone()[0])

    store.ingest(feed, [record(f"few{n}") for n in range(5)], now=T0, alert=False)
    assert indexed() == 0  # too few to index on their own
    store.ingest(feed, [record(f"many{n}") for n in range(INDEX_EVERY)], now=T0, alert=False)
    assert indexed() == INDEX_EVERY + 5  # the batch took the earlier five along
    store.ingest(feed, [record("last")], now=T0, alert=False)
    assert [i.guid for i, _ in store.search("last")] == ["last"]  # a search indexes the rest
    assert indexed() == INDEX_EVERY + 6 and store.index_pending() == 0


def test_the_search_index_survives_the_migration_to_batches(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with Store(path) as s:  # a store whose items were indexed as they came, before batches
        s.ingest(FeedState(id="a", url="u"), [record("kunashir")], now=T0, alert=False)
        s.index_pending()
        s.db.execute("DROP TABLE search_progress")
        s.db.execute("DELETE FROM _sqlite_migrations WHERE name = 'm009_search_progress'")
    with Store(path) as s:
        assert s.index_pending() == 0  # not indexed twice
        assert [i.guid for i, _ in s.search("kunashir")] == ["kunashir"]


def test_title_vectors_are_kept_for_the_window_and_pruned_after(store: Store) -> None:
    now = datetime(2026, 11, 26, 12, tzinfo=UTC)
    store.save_title_vectors([("Quake off Iturup", b"\x01\x02"), ("Fog", b"\x03")], now=now)
    store.save_title_vectors([("Fog", b"\x04")], now=now + timedelta(hours=1))  # replaced
    assert sorted(store.title_vectors(now - timedelta(hours=72))) == [
        ("Fog", b"\x04"),
        ("Quake off Iturup", b"\x01\x02"),
    ]
    assert store.title_vectors(now + timedelta(minutes=30)) == [("Fog", b"\x04")]
    store.prune(
        now=now + timedelta(days=7, minutes=30),
        text_for=timedelta(days=90),
        keys_for=timedelta(days=365),
    )
    assert store.title_vectors(now - timedelta(days=30)) == [("Fog", b"\x04")]


LEAN_IMPORT = """
import sys
import bot.config, bot.commands, store  # what `kurilwatch poll --once` imports before it polls
lean = "numpy" not in sys.modules
import sqlite_utils.db
import numpy  # the daemon's title vectors import it later
print(lean, sqlite_utils.db.np, numpy.float16(1) + 1)
"""


def test_the_store_imports_sqlite_utils_without_numpy_and_numpy_still_imports() -> None:
    """numpy is 0.1 s of CPU at every command's start, which sqlite_utils would load only to
    type numpy values the store never gives it (`store.lean_import`)."""
    result = subprocess.run(
        [sys.executable, "-c", LEAN_IMPORT], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "None", "2.0"]


def test_a_url_returning_after_its_alerts_were_pruned_alerts_nobody(store: Store) -> None:
    store.upsert_subscriber(1, now=T0)
    store.subscribe(1, "kuril", now=T0)
    store.ingest(FeedState(id="a", url="u"), [record("old")], now=T0, alert=True)
    [due] = store.due_deliveries(T0)
    store.claim(due.id, now=T0)
    store.mark_sent(due.id, 5, now=T0)
    later = T0 + timedelta(days=100)
    store.prune(now=later, text_for=timedelta(days=90), keys_for=timedelta(days=365))
    again = [record("x", "https://news.example/old")]
    result = store.ingest(FeedState(id="b", url="v"), again, now=later, alert=True)
    assert result.new_stories == () and result.queued == 0


def test_a_first_polls_item_reissued_under_a_new_guid_alerts_nobody(store: Store) -> None:
    store.upsert_subscriber(1, now=T0)
    store.subscribe(1, "kuril", now=T0)
    feed = FeedState(id="a", url="u")
    store.ingest(feed, [record("x1", "https://news.example/backlog")], now=T0, alert=False)
    reissued = [record("x2", "https://news.example/backlog")]
    result = store.ingest(
        replace(feed, primed=True), reissued, now=T0 + timedelta(hours=1), alert=True
    )
    assert result.new_stories == () and result.queued == 0


def report(
    store: Store, feed: str, guid: str, topics: tuple[str, ...], at: datetime, lang: str = "en"
) -> int:
    """One primed feed's report of the article https://news.example/story: alerts queued."""
    url = "https://news.example/story"
    record = ItemRecord(guid, url, url, f"Title {guid}", "text", at, topics=topics, lang=lang)
    state = FeedState(id=feed, url=f"https://{feed}.example/rss", title=feed, primed=True)
    return store.ingest(state, [record], now=at, alert=True).queued


@pytest.mark.parametrize("missed", ["source muted", "another language", "no topic matched"])
def test_the_first_report_a_chat_wants_reaches_it_though_no_chat_got_the_first(
    store: Store, missed: str
) -> None:
    store.upsert_subscriber(1, now=T0 - timedelta(days=1))
    store.subscribe(1, "kuril", now=T0 - timedelta(days=1))
    if missed == "source muted":
        store.toggle_source(1, "tass-en", now=T0 - timedelta(days=1))
    if missed == "another language":
        store.set_news_langs(1, ["ru"])
    first_topics = () if missed == "no topic matched" else ("kuril",)
    assert report(store, "tass-en", "1", first_topics, T0) == 0
    assert report(store, "tass-ru", "2", ("kuril",), T0 + timedelta(minutes=5), lang="ru") == 1
    assert report(store, "kyodo", "3", ("kuril",), T0 + timedelta(minutes=9)) == 0  # once


def test_an_item_that_matches_more_watches_than_sqlite_takes_variables_is_stored(
    store: Store,
) -> None:
    # each owner of a popular query is a topic id of its own (`QueryIndex.match`)
    store.db.conn.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 10_000)
    store.upsert_subscriber(1, now=T0 - timedelta(days=1))
    store.subscribe(1, "kuril", now=T0 - timedelta(days=1))
    watches = tuple(f"@w{n}" for n in range(1, 10_002))
    assert report(store, "kyodo", "1", ("kuril", *watches), T0) == 1


def test_a_new_feeds_first_poll_silences_only_its_own_backlog(store: Store) -> None:
    store.upsert_subscriber(1, now=T0 - timedelta(days=1))
    store.subscribe(1, "kuril", now=T0 - timedelta(days=1))
    url = "https://news.example/story"
    backlog = ItemRecord("n1", url, url, "Title", "text", T0, topics=("kuril",))
    store.ingest(FeedState(id="new", url="n"), [backlog], now=T0, alert=False)  # a feed added
    again = ItemRecord("n2", url, url, "Title", "text", T0, topics=("kuril",))
    state = FeedState(id="new", url="n", primed=True)
    assert store.ingest(state, [again], now=T0 + timedelta(minutes=5), alert=True).queued == 0
    assert report(store, "tass", "t1", ("kuril",), T0 + timedelta(minutes=10)) == 1  # news


def test_lang_gives_a_waiting_alert_the_storys_report_the_chat_wants(store: Store) -> None:
    store.upsert_subscriber(1, now=T0 - timedelta(days=1))
    store.subscribe(1, "kuril", now=T0 - timedelta(days=1))
    store.set_prefs(1, now=T0, digest="daily 18:00")
    assert report(store, "tass-en", "e1", ("kuril",), T0) == 1
    assert report(store, "tass-ru", "r1", ("kuril",), T0 + timedelta(minutes=5), lang="ru") == 0
    store.set_news_langs(1, ["ru"])  # /lang ru before the digest
    rows = store.db.execute(
        "SELECT i.guid, o.state FROM outbox o JOIN items i ON i.id = o.item_id"
    ).fetchall()
    assert rows == [("r1", "pending")]


def test_a_feed_the_config_dropped_is_forgotten_once_no_item_of_it_is_left(store: Store) -> None:
    """A config that rotates search feeds under new ids (a weekly Google News search) left each
    one's row, and the chats' mutes of it, for ever; a removed feed whose items remain stays
    (their source is named from it), and a configured one not yet polled keeps its mutes."""
    for feed_id in ("kept", "search-w1", "search-w2"):
        store.save_feed_state(FeedState(id=feed_id, url=f"https://news.example/{feed_id}"))
    store.ingest(FeedState(id="search-w2", url="u"), [record("w2")], now=T0, alert=False)
    store.upsert_subscriber(1, now=T0)
    for feed_id in ("kept", "search-w1", "search-w2", "added"):
        store.toggle_source(1, feed_id, now=T0)
    assert store.forget_feeds(["kept", "added"], now=T0) == 1
    assert [s.id for s in store.feed_states()] == ["kept", "search-w2"]
    # a dropped feed's mutes stay a while: the operator may add it again
    assert store.muted_sources(1) == ["added", "kept", "search-w1", "search-w2"]
    later = T0 + timedelta(days=400)
    store.prune(now=later, text_for=timedelta(days=90), keys_for=timedelta(365))
    assert store.forget_feeds(["kept", "added"], now=later) == 1  # its items' keys are gone now
    assert [s.id for s in store.feed_states()] == ["kept"]
    assert store.muted_sources(1) == ["added", "kept"]
    assert store.forget_feeds(["kept", "added"], now=later) == 0


def test_a_feed_the_config_drops_and_adds_again_stays_muted_for_the_chats_that_muted_it(
    store: Store,
) -> None:
    """Forgetting a dropped feed deleted the chats' mutes of it: an operator who added the feed
    again weeks later sent it to every chat that had muted it. A mute of a feed the config no
    longer has is now kept for ABSENT_MUTES_KEPT after its feed left, a chat's newest
    ABSENT_MUTES_PER_CHAT of them."""
    from store.feeds import ABSENT_MUTES_KEPT, ABSENT_MUTES_PER_CHAT

    store.save_feed_state(FeedState(id="search", url="https://news.example/search"))
    store.upsert_subscriber(1, now=T0)
    store.toggle_source(1, "search", now=T0)
    assert store.forget_feeds(["kept"], now=T0) == 1  # dropped from the config, no item left
    later = T0 + timedelta(days=30)
    assert store.forget_feeds(["kept"], now=later) == 0
    assert store.muted_sources(1) == ["search"]  # added again: still muted for this chat
    assert store.chat_filters([1])[1].muted == frozenset({"search"})
    assert store.forget_feeds(["kept", "search"], now=later + ABSENT_MUTES_KEPT) == 0
    assert store.muted_sources(1) == ["search"]  # back in the config: its age starts again
    store.forget_feeds(["kept"], now=later + ABSENT_MUTES_KEPT)
    store.forget_feeds(["kept"], now=later + 2 * ABSENT_MUTES_KEPT + timedelta(days=1))
    assert store.muted_sources(1) == []  # absent too long
    for n in range(ABSENT_MUTES_PER_CHAT + 5):  # a config that rotates daily search feeds
        store.toggle_source(1, f"day-{n:03}", now=T0 + timedelta(days=n))
        store.forget_feeds([f"day-{n:03}"], now=T0 + timedelta(days=n))
    store.forget_feeds([], now=T0 + timedelta(days=ABSENT_MUTES_PER_CHAT + 5))
    muted = store.muted_sources(1)
    assert len(muted) == ABSENT_MUTES_PER_CHAT
    assert muted[-1] == f"day-{ABSENT_MUTES_PER_CHAT + 4:03}"  # the newest kept
    assert "day-000" not in muted


def test_housekeeping_forgets_old_notices_as_it_forgets_old_alerts(store: Store) -> None:
    then = datetime(2024, 1, 1, tzinfo=UTC)
    store.notify_admins("feed x disabled", now=then)
    store.fan_out_notices([1, 2])
    for notice in store.due_notices(then + timedelta(seconds=1)):
        store.claim_notice(notice.id, now=then)
        store.settle_notice(notice.id, OutboxState.SENT, now=then)
    assert len(store.notices()) == 3  # the admins' notice, fanned out to two admins
    later = then + timedelta(days=400)
    store.prune(now=later, text_for=timedelta(days=90), keys_for=timedelta(days=365))
    assert store.notices() == []


def test_a_group_that_becomes_a_supergroup_keeps_its_watches_and_feed(store: Store) -> None:
    store.upsert_subscriber(-1, now=T0, chat_type="group")
    store.add_watch(-1, "Shikotan", now=T0, limit=10)
    token = store.feed_token(-1, now=T0)
    store.migrate_chat(-1, -100123, now=T0)
    assert [(w.chat_id, w.query) for w in store.watches()] == [(-100123, "Shikotan")]
    assert store.feed_token(-100123, now=T0) == token


def test_a_supergroup_recorded_before_its_migration_keeps_the_groups_settings(
    store: Store,
) -> None:
    store.upsert_subscriber(-1, now=T0, chat_type="group")
    store.set_prefs(-1, now=T0, timezone="Asia/Tokyo", digest="daily 08:00")
    store.set_language(-1, "ru")
    store.add_watch(-1, "Shikotan", now=T0, limit=10)
    # someone wrote in the supergroup before a send to the group failed with its new id
    store.upsert_subscriber(-100123, now=T0, chat_type="supergroup", language_code="en")
    store.set_language(-100123, "en")  # what a command there adopts: its sender's language
    store.migrate_chat(-1, -100123, now=T0)
    prefs = store.prefs(-100123)
    assert prefs is not None and (prefs.timezone, prefs.digest) == ("Asia/Tokyo", "daily 08:00")
    assert store.language(-100123) == "ru"
    assert [w.chat_id for w in store.watches()] == [-100123]


def test_migrating_a_chat_again_keeps_what_was_moved(store: Store) -> None:
    store.upsert_subscriber(-1, now=T0, chat_type="group")
    store.set_prefs(-1, now=T0, timezone="Asia/Tokyo", digest="daily 08:00")
    store.subscribe(-1, "kuril", now=T0)
    store.add_watch(-1, "Shikotan", now=T0, limit=10)
    for _ in range(2):  # the group's service message, then the supergroup's (or a failed send)
        store.migrate_chat(-1, -100123, now=T0)
    prefs = store.prefs(-100123)
    assert prefs is not None and (prefs.timezone, prefs.digest) == ("Asia/Tokyo", "daily 08:00")
    assert store.subscriptions(-100123) == ["kuril"]
    assert [w.chat_id for w in store.watches()] == [-100123]
    store.migrate_chat(-100123, -100123, now=T0)
    assert store.subscriptions(-100123) == ["kuril"]


def test_weekly_reports_and_spike_notices_are_in_the_chats_language(store: Store) -> None:
    store.upsert_subscriber(1, now=T0, chat_type="private", language_code="en")
    store.subscribe(1, "kuril", now=T0)
    store.set_language(1, "ja")  # /language ja
    store.set_report(1, "weekly mon 08:00", now=T0)
    store.set_spikes(1, True, now=T0)
    [chat] = store.report_chats()
    [spike] = store.spike_chats("kuril")
    assert chat.language_code == spike.language_code == "ja"


def test_a_weekly_report_recorded_late_moves_no_later_record_back(store: Store) -> None:
    """A report kept at a stop is recorded at the next start, perhaps after a later one went
    out: the chat's next report stays due after the later one."""
    store.upsert_subscriber(1, now=T0)
    store.set_report(1, "weekly mon 08:00", now=T0)
    store.report_sent(1, T0 + timedelta(days=14))
    store.report_sent(1, T0 + timedelta(days=7))
    [chat] = store.report_chats()
    assert chat.sent_at == T0 + timedelta(days=14)


def test_a_weekly_reports_record_made_while_the_clock_ran_ahead_gives_way(store: Store) -> None:
    """A report recorded as sent a month ahead (the wall clock wrong, then set back) does not
    stand against the one sent now: kept, it would make that one due again at every check."""
    store.upsert_subscriber(1, now=T0)
    store.set_report(1, "weekly mon 08:00", now=T0 + timedelta(days=30))
    store.report_sent(1, T0 + timedelta(days=3))  # recorded late, at a start: moves nothing
    assert store.report_chats()[0].sent_at == T0 + timedelta(days=30)
    store.report_sent(1, T0 + timedelta(days=4), now=T0 + timedelta(days=4, minutes=1))
    assert store.report_chats()[0].sent_at == T0 + timedelta(days=4)


def test_a_removed_watchs_id_is_never_given_to_another_watch(store: Store) -> None:
    """Items keep the ids of the watches they matched: a reused id would show one chat's
    matches to another (its watches' Atom feed)."""
    store.upsert_subscriber(1, now=T0)
    store.upsert_subscriber(2, now=T0)
    alice = store.add_watch(1, "Shikotan", now=T0, limit=10)
    assert alice is not None and store.remove_watch(1, 1) is not None
    boris = store.add_watch(2, "Iturup", now=T0, limit=10)
    assert boris is not None and boris.id != alice.id


def test_an_item_of_a_chats_topic_and_watches_is_one_alert_naming_them_in_the_items_order(
    store: Store,
) -> None:
    """Also among the watches of thousands of other chats (bench/watch_fanout.py: the store
    thread's time for such an item)."""
    for chat in (1, 2, 3):
        store.upsert_subscriber(chat, now=T0 - timedelta(hours=1))
    store.subscribe(1, "kuril", now=T0 - timedelta(hours=1))
    shikotan, iturup = (store.add_watch(1, q, now=T0, limit=10) for q in ("Shikotan", "Iturup"))
    theirs = [store.add_watch(c, "Shikotan", now=T0, limit=10) for c in (2, 3)]
    assert shikotan and iturup and all(theirs)
    others = [w.topic_id for w in theirs if w]
    topics = (*others, iturup.topic_id, "kuril", "peace-treaty", shikotan.topic_id)
    feed = FeedState(id="a", url="u")
    result = store.ingest(feed, [record("x", topics=topics)], now=T0, alert=True)
    assert result.queued == 3
    rows = {d.chat_id: d.topics for d in store.due_deliveries(T0 + timedelta(seconds=1))}
    assert rows[1] == (iturup.topic_id, "kuril", shikotan.topic_id)
    assert rows[2] == (others[0],) and rows[3] == (others[1],)


def test_prune_forgets_story_controls_once_no_alert_of_their_story_can_change(
    store: Store,
) -> None:
    store.upsert_subscriber(1, now=T0)
    feed = FeedState(id="a", url="u")
    old = store.ingest(feed, [record("old")], now=T0, alert=False).stored[0]
    later = T0 + timedelta(days=5)
    recent = store.ingest(feed, [record("recent")], now=later, alert=False).stored[0]
    store.control_story(1, old.story_id, "mute", now=T0)
    store.control_story(1, recent.story_id, "follow", now=later)
    # five days on, the old story takes no alert (72 h) and no alert of it is edited (48 h more)
    store.prune(
        now=later + timedelta(hours=1), text_for=timedelta(days=90), keys_for=timedelta(days=365)
    )
    assert store.story_modes(old.story_id) == {}
    assert store.story_modes(recent.story_id) == {1: "follow"}  # its alerts still take reports


def test_prune_forgets_feedback_with_the_item_it_was_about(store: Store) -> None:
    store.upsert_subscriber(1, now=T0)
    feed = FeedState(id="a", url="u")
    old = store.ingest(feed, [record("old")], now=T0, alert=False).stored[0]
    later = T0 + timedelta(days=300)
    recent = store.ingest(feed, [record("recent")], now=later, alert=False).stored[0]
    store.add_feedback(1, old.id, "kuril", now=T0)
    store.add_feedback(1, recent.id, "kuril", now=later)
    year_on = T0 + timedelta(days=400)
    store.prune(now=year_on, text_for=timedelta(days=90), keys_for=timedelta(days=365))
    # the report reads a press with its item: one whose item is deleted is never read again
    assert [f.item_id for f in store.feedback()] == [recent.id]
    assert [r.item_id for r in store.feedback_rows(T0)] == [recent.id]


def test_prune_forgets_spikes_once_they_no_longer_hold_a_topic_quiet(store: Store) -> None:
    for days in range(200):  # a busy topic, every day, for months
        store.record_spike("kuril", 9, {}, now=T0 + timedelta(days=days))
    now = T0 + timedelta(days=200)
    store.prune(now=now, text_for=timedelta(days=90), keys_for=timedelta(days=365))
    assert store.db.execute("SELECT count(*) FROM spikes").fetchone()[0] == 90
    assert store.last_spike_at("kuril") == T0 + timedelta(days=199)
    # text kept for an hour: the last spike still holds its topic quiet
    store.prune(now=now, text_for=timedelta(hours=1), keys_for=timedelta(days=365))
    assert store.last_spike_at("kuril") == T0 + timedelta(days=199)


def test_a_claimed_alert_is_the_row_as_it_is_with_the_tries_before_this_one(store: Store) -> None:
    store.upsert_subscriber(1, now=T0 - timedelta(days=1))
    store.subscribe(1, "kuril", now=T0 - timedelta(days=1))
    assert report(store, "tass-en", "e1", ("kuril",), T0) == 1
    assert report(store, "tass-ru", "r1", ("kuril",), T0 + timedelta(minutes=5), lang="ru") == 0
    [read] = store.due_deliveries(T0 + timedelta(minutes=6))  # the worker reads a batch
    store.set_news_langs(1, ["ru"])  # then /lang ru
    claimed = store.claim_delivery(read.id, now=T0 + timedelta(minutes=6))
    assert claimed is not None and claimed.item.guid == "r1" and claimed.attempts == 0
    assert store.claim_delivery(read.id, now=T0 + timedelta(minutes=6)) is None  # once


def test_keying_the_fingerprint_window_again_reads_it_a_row_at_a_time(store: Store) -> None:
    # after an upgrade a start keys every item of the last 7 days again (matched or not, with
    # summaries of up to 20,000 characters): a week of a few hundred feeds is hundreds of MB of
    # text, which must not be held at once beside the daemon
    feed = FeedState(id="a", url="u")
    items = [
        replace(record(f"g{n}"), summary=" ".join(f"w{n}x{k}" for k in range(2_500))[:20_000])
        for n in range(300)
    ]
    store.ingest(feed, items, now=T0, alert=False)
    tracemalloc.start()
    try:
        keyed = store.refingerprint("another", content_fingerprint, now=T0 + timedelta(hours=1))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert keyed == 300  # the records were stored without keys
    assert peak < 2_000_000  # the text read is 6 MB


def test_a_feeds_item_of_a_known_text_weeks_on_joins_its_story_only_under_its_title(
    store: Store,
) -> None:
    """Past the fingerprint window, a feed's item with the text of one it gave before is that
    item moved (joins its story, alerts nobody) if its title is the same, even once the text is
    pruned; with another title it is news (a feed may give every item one blurb), and another
    feed's is a story of its own, as before."""
    store.upsert_subscriber(1, now=T0)
    store.subscribe(1, "kuril", now=T0)
    feed = FeedState(id="a", url="u")
    first = replace(record("https://news.example/1", "https://news.example/1"), fingerprint="fp:1")
    store.ingest(feed, [first], now=T0, alert=True)
    store.db.execute("UPDATE outbox SET state = 'sent'")
    later = T0 + timedelta(days=100)
    store.prune(now=later, text_for=timedelta(days=90), keys_for=timedelta(days=365))
    moved = replace(first, guid="https://news.example/archive/1", link=None, canonical_url=None)
    blurb = replace(moved, guid="https://news.example/2", title="Title 2")
    elsewhere = FeedState(id="b", url="v")
    assert store.ingest(elsewhere, [moved], now=later, alert=True).queued == 1
    assert store.ingest(feed, [blurb], now=later + timedelta(days=8), alert=True).queued == 1
    result = store.ingest(feed, [moved], now=later + timedelta(days=16), alert=True)
    assert result.new_stories == () and result.queued == 0


def test_times_taken_from_a_clock_ahead_move_back_and_the_rest_stay(tmp_path: Path) -> None:
    now, back = datetime(2026, 11, 26, 12, tzinfo=UTC), timedelta(days=1)
    store = Store(new_store(tmp_path / "kw.db"))
    for chat in (1, 2):
        store.upsert_subscriber(chat, now=now - back)
    store.set_prefs(1, now=now, muted_until=now + timedelta(hours=8))  # the chat's own setting
    store.set_hold(1, now + back + timedelta(hours=3))  # stored while a day ahead
    store.set_hold(2, now - timedelta(hours=1))  # a past one
    store.hold_refused(2, now + timedelta(hours=30))
    assert store.move_back(back, now) == 2
    one, two = store.prefs(1), store.prefs(2)
    assert one is not None and two is not None
    assert one.hold_until == now + timedelta(hours=3)
    assert two.hold_until == now - timedelta(hours=1)
    assert one.muted_until == now + timedelta(hours=8)
    row = store.db.execute("SELECT refused_until FROM subscribers WHERE chat_id = 2").fetchone()
    assert row[0] == (now + timedelta(hours=6)).timestamp()
    store.close()


def test_a_new_store_and_its_folder_are_its_users_alone(tmp_path: Path) -> None:
    """The store holds the chats and the buttons' secret: under `make run` (umask 022) it was
    readable by every user of the machine; only the systemd unit's UMask kept it private."""
    old = os.umask(0o022)
    try:
        store = Store(tmp_path / "data" / "kw.db")
        store.db.execute("CREATE TABLE t (x)")  # a write: the -wal file is made
    finally:
        os.umask(old)
    files = {p.name: p.stat().st_mode & 0o777 for p in (tmp_path / "data").iterdir()}
    store.close()
    assert (tmp_path / "data").stat().st_mode & 0o777 == 0o700
    assert files["kw.db"] == 0o600 and files.get("kw.db-wal", 0o600) == 0o600
