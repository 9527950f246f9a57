"""Store verbs given a caller's list of any length: SQLite takes at most 32,766 host parameters
(999 on builds before 3.32; some distributions build it with 250,000), so a list is one JSON
parameter, never one `?` per value. The stores here take 999, as the oldest builds do."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from store import FeedState, ItemRecord, OutboxState, Store
from store.records import WATCH_PREFIX
from tests.conftest import new_store

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
LATER = T0 + timedelta(hours=1)
# users, basic groups, supergroups and channels, and the ends of SQLite's integers
CHATS = (1, 2, 3, 7, 99, 123456789, -5, -4000000001, -1001234567890, -1009999999999, 2**63 - 1)
CHATS += (-(2**63) + 1, 10**12, 42)
# more than SQLite's host parameters, none of them a chat of the store
FILLER = frozenset(range(10**9, 10**9 + 40_000))
ADMINS = CHATS[:6]


def _old_build(path: Path) -> Store:
    """A store on `path` whose connection takes 999 host parameters, as SQLite before 3.32."""
    s = Store(new_store(path))
    s.db.conn.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 999)
    return s


def _item(guid: str) -> ItemRecord:
    link = f"https://news.example/{guid}"
    return ItemRecord(guid, link, link, f"Title {guid}", "text", T0, ("kuril",))


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """Each chat with three alerts queued; those of every other chat with its first alert sent
    and due for an "Also:" update (a second outlet carried its story); a notice for each of
    ADMINS."""
    s = _old_build(tmp_path_factory.mktemp("lists") / "kw.db")
    for chat in CHATS:
        s.upsert_subscriber(chat, now=T0)
        s.subscribe(chat, "kuril", now=T0)
    s.ingest(FeedState(id="a", url="u"), [_item(str(n)) for n in range(3)], now=T0, alert=True)
    for delivery in s.due_deliveries(T0, 1000):
        if CHATS.index(delivery.chat_id) % 2 == 0:
            s.claim_delivery(delivery.id, now=T0)
            s.mark_sent(delivery.id, 1000 + delivery.id, now=T0)
    again = ItemRecord("b-0", "https://news.example/0?utm_source=x", "https://news.example/0",
                       "Title 0", "text", T0, ("kuril",))  # fmt: skip
    s.ingest(FeedState(id="b", url="u-b", title="B"), [again], now=T0, alert=True)
    s.notify_admins("feed x was disabled", now=T0)
    s.fan_out_notices(ADMINS)
    yield s
    s.close()


def test_the_store_holds_what_the_comparisons_need(store: Store) -> None:
    """Else the comparisons below compare empty lists."""
    assert {d.chat_id for d in store.due_deliveries(LATER, 1000)} == set(CHATS)
    assert len(store.due_edits(1000, now=LATER)) == len(CHATS[::2])
    assert {n.chat_id for n in store.due_notices(LATER, 1000)} == set(ADMINS)


@settings(max_examples=40)
@given(excluded=st.sets(st.sampled_from(CHATS)), limit=st.integers(1, 30), filler=st.booleans())
def test_due_rows_leave_out_any_number_of_chats_as_a_plain_filter_does(
    store: Store, excluded: set[int], limit: int, filler: bool
) -> None:
    exclude = excluded | FILLER if filler else excluded

    def kept(rows: list[int], chats: list[int]) -> list[int]:
        return [row for row, chat in zip(rows, chats, strict=True) if chat not in exclude][:limit]

    every = store.due_deliveries(LATER, 1000)
    due = store.due_deliveries(LATER, limit, exclude=exclude)
    assert [d.id for d in due] == kept([d.id for d in every], [d.chat_id for d in every])
    every_edit = store.due_edits(1000, now=LATER)
    edits = store.due_edits(limit, exclude=exclude, now=LATER)
    assert [d.id for d in edits] == kept(
        [d.id for d in every_edit], [d.chat_id for d in every_edit]
    )
    notices = store.due_notices(LATER, 1000)
    due_notices = store.due_notices(LATER, limit, exclude=exclude)
    assert [n.id for n in due_notices] == kept(
        [n.id for n in notices], [n.chat_id for n in notices]
    )


def test_a_chats_muted_sources_set_from_a_list_longer_than_sqlite_takes(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    s = _old_build(tmp_path_factory.mktemp("muted") / "kw.db")
    s.upsert_subscriber(7, now=T0)
    feeds = [f"feed-{n}" for n in range(40_000)]
    s.set_muted_sources(7, feeds, now=T0)
    assert sorted(s.muted_sources(7)) == sorted(feeds)
    s.set_muted_sources(7, [*feeds[:3], "feed-new"], now=T0)
    assert sorted(s.muted_sources(7)) == sorted([*feeds[:3], "feed-new"])
    s.close()


def test_verbs_of_chats_and_topics_take_lists_longer_than_sqlite_takes(store: Store) -> None:
    chats = [*CHATS, *FILLER]
    assert store.prefs_of(chats) == store.prefs_of(list(CHATS))
    assert set(store.prefs_of(chats)) == set(CHATS)
    topics = ["kuril", *(f"topic-{n}" for n in range(40_000))]
    since, until = T0 - timedelta(days=1), T0 + timedelta(days=1)
    points = store.story_points(topics, since=since, until=until)
    assert points == store.story_points(["kuril"], since=since, until=until) != []
    assert store.stories(topics) == store.stories(["kuril"]) != []
    assert store.latest(topics) == store.latest(["kuril"]) != []


def test_many_rows_settled_at_once(tmp_path_factory: pytest.TempPathFactory) -> None:
    s = _old_build(tmp_path_factory.mktemp("settle") / "kw.db")
    s.upsert_subscriber(7, now=T0)
    s.subscribe(7, "kuril", now=T0)
    s.ingest(FeedState(id="a", url="u"), [_item(str(n)) for n in range(3)], now=T0, alert=True)
    [first] = s.due_deliveries(T0)
    s.settle_many([first.id, *FILLER], OutboxState.FAILED, now=T0, error="gone")
    assert s.outbox_counts() == {"failed": 1, "pending": 2}
    s.close()


def test_the_chats_of_more_watches_than_sqlite_takes_at_once(store: Store) -> None:
    """`watch_chats` read them 10,000 at a time: within 32,766, not within 999."""
    watch = store.add_watch(CHATS[0], "Shikotan", now=T0, limit=10)
    assert watch is not None
    topics = [f"{WATCH_PREFIX}{n}" for n in range(10**6, 10**6 + 40_000)]
    assert store.watch_chats([*topics, f"{WATCH_PREFIX}{watch.id}"]) == {
        CHATS[0]: [f"{WATCH_PREFIX}{watch.id}"]
    }
