"""The daemon's watches: filed from the store with the cached Russian word forms, changed in
place, and a popular query's owners all found in the store."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

from store import AsyncStore, Store, Watch
from watchers.watches import Watches


def _chat(store: Store, chat_id: int) -> None:
    now = time.time()
    store.db.execute(
        "INSERT INTO subscribers (chat_id, chat_type, active, created_at, updated_at)"
        " VALUES (?, 'private', 1, ?, ?)",
        [chat_id, now, now],
    )


async def test_watches_load_with_cached_forms_and_change_in_place(tmp_path: Path) -> None:
    path = tmp_path / "kw.db"
    plain = Store(path)
    _chat(plain, 1)
    plain.close()
    store = await AsyncStore(path).open()
    try:
        first = await store.run(
            Store.add_watch, 1, "Зюйдокурилоид", now=datetime.now(UTC), limit=10
        )
        await store.run(Store.add_watch, 1, "Shikotan", now=datetime.now(UTC), limit=10)
        assert first is not None
        # a form no dictionary would give: found only if the cached forms are what is used
        await store.run(Store.save_word_forms, {"зюйдокурилоид": {"зюйдокурилоид", "курилоидами"}})
        watches = Watches()
        index = await watches.load(store)
        assert len(index) == 2
        found = index.match({"title": "Новости с курилоидами", "summary": ""})
        assert [m.topic_id for m in found] == [first.topic_id]

        added = Watch(99, 1, "Zyxwvutan OR Итуруп")
        await watches.add(added, store)
        assert [m.topic_id for m in index.match({"title": "Zyxwvutan外相会談"})] == ["@w99"]
        assert [m.topic_id for m in index.match({"title": "на Итурупе"})] == ["@w99"]
        cached = await store.run(Store.word_forms)
        assert "итурупе" in cached["итуруп"]  # the new word's forms, cached for the next start
        watches.remove(added)
        assert index.match({"title": "Zyxwvutan"}) == []
    finally:
        await store.close()


def test_a_query_of_many_chats_finds_every_one(tmp_path: Path) -> None:
    store = Store(tmp_path / "kw.db")
    now = time.time()
    with store.db.conn:
        store.db.conn.executemany(
            "INSERT INTO subscribers (chat_id, chat_type, active, created_at, updated_at)"
            " VALUES (?, 'private', 1, ?, ?)",
            [(n, now, now) for n in range(25_000)],
        )
        store.db.conn.executemany(
            "INSERT INTO watches (id, chat_id, query, created_at) VALUES (?, ?, 'Shikotan', ?)",
            [(n + 1, n, now) for n in range(25_000)],
        )
    chats = store.watch_chats([f"@w{n + 1}" for n in range(25_000)])
    assert len(chats) == 25_000 and chats[7] == ["@w8"]
    store.close()
