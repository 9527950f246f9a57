"""Chats' watches in the daemon: filed in one `KeptIndex` at start, changed in place by /watch
and /unwatch, and matched in this process against the new items of each poll. What each watch
is filed under is kept in the store, so a start files them without parsing them (each compiles
when an item first wakes it); the Russian word forms are cached there too, so the morphology
dictionary is not asked again."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Iterable, Mapping, Sequence, Set
from dataclasses import dataclass
from typing import Any

from store import AsyncStore, Store, Watch
from watchers.items import Item
from watchers.text import counted
from watchers.topics.engine import term_keys
from watchers.topics.filing import FILING_VERSION
from watchers.topics.frozen import frozen_after
from watchers.topics.index import QueryIndex
from watchers.topics.kept_index import KeptIndex
from watchers.topics.morph import forget_forms, give_forms, russian_forms
from watchers.topics.normalise import is_cjk, is_cyrillic, words
from watchers.topics.query import Node, QueryError, leaves, parse
from watchers.worker import ItemFacts, with_watches

log = logging.getLogger(__name__)


def _russian_words(node: Node) -> Iterable[str]:
    return (
        t.text for t in leaves(node) if is_cyrillic(t.text) and not t.prefix and not is_cjk(t.text)
    )


def _prepared(
    queries: Sequence[str], known: set[str]
) -> tuple[list[Node | None], dict[str, frozenset[str]]]:
    """Each query parsed (None if it no longer parses) with its terms' keys looked up, and the
    forms of Russian words not `known` before (to cache)."""
    nodes: list[Node | None] = []
    fresh: dict[str, frozenset[str]] = {}
    for query in queries:
        try:
            node = parse(query)
        except QueryError:
            nodes.append(None)
            continue
        for word in _russian_words(node):
            if word not in known and word not in fresh:
                fresh[word] = russian_forms(word)
        for term in leaves(node):
            term_keys(term)
        nodes.append(node)
    return nodes, fresh


async def matched_on_thread(
    index: QueryIndex, lock: asyncio.Lock, pairs: Sequence[tuple[Item, ItemFacts]]
) -> list[tuple[Item, ItemFacts]]:
    """Each new item's facts with the watches it matches, found on a thread: one item may wake
    thousands of watches (seconds to evaluate, and to compile after a start), which the event
    loop must not wait for. `lock` (`Watches.lock`) keeps /watch and /unwatch off the index until
    the thread is done, also when the poll is cancelled meanwhile."""
    await lock.acquire()
    work = asyncio.ensure_future(
        asyncio.to_thread(lambda: [(item, with_watches(index, item, f)) for item, f in pairs])
    )

    def done(future: asyncio.Future[list[tuple[Item, ItemFacts]]]) -> None:
        lock.release()
        if not future.cancelled():
            future.exception()  # retrieved: a poll cancelled meanwhile is not told

    work.add_done_callback(done)
    return await asyncio.shield(work)


@dataclass(slots=True)
class _Built:
    index: KeptIndex
    fresh: dict[str, frozenset[str]]  # the forms of Russian words not known before
    filings: list[tuple[int, str]]  # what watches filed from their text are filed under
    restored: int = 0  # distinct queries filed from what the store kept


class FilingStopped(Exception):
    """The filing was given up half-way (the daemon stops): its index is not used."""


def _build(
    watches: Sequence[tuple[Watch, str | None]],
    known: Mapping[str, frozenset[str]],
    stop: threading.Event,
) -> _Built:
    """Every watch filed: under the keys the store kept for it where it has them, otherwise
    from its text (each parsed once and dropped: 100,000 trees at once would double the
    memory), with the forms of Russian words the store had (`known`). `stop` set gives it up
    at the next watch."""
    give_forms(known.items())  # here, not on the event loop: each word's forms are sized
    index = KeptIndex(learn=True)
    built = _Built(index, {}, [])
    fresh = built.fresh
    for watch, filed in watches:
        if stop.is_set():
            raise FilingStopped
        if watch.query in index:  # the same query as another chat's: filed already
            index.add(watch.query, watch.topic_id)
            if filed is None:
                built.filings.append((watch.id, index.filing(watch.query)))
            continue
        if filed is not None:
            index.add_filed(watch.query, watch.topic_id, filed)
            built.restored += 1
            continue
        try:
            node = parse(watch.query)
        except QueryError:  # saved under an older query language
            log.warning("watch %d of chat %d skipped: it no longer parses", watch.id, watch.chat_id)
            continue
        for word in _russian_words(node):
            if (forms := known.get(word)) is not None:
                # given again as its terms are filed: the start gave more words than the
                # cache of forms holds, and in another order; past it, each was looked up again
                give_forms(((word, forms),))
            elif word not in fresh:
                fresh[word] = russian_forms(word)
        index.add(watch.query, watch.topic_id, node)
        built.filings.append((watch.id, index.filing(watch.query)))
    return built


def _not_kept(index: QueryIndex, kept: Set[str]) -> list[tuple[str, str]]:
    """(owner, query) of the index's watches not `kept` (on a thread: 100,000 of them)."""
    return [(owner, query) for owner, query in index.owners() if owner not in kept]


async def _cancel_when(event: asyncio.Event, task: asyncio.Task[Any]) -> None:
    await event.wait()
    task.cancel()


# a change to the index while a load files the stored watches: a watch added (with its parsed
# query) or removed (None), or the topic ids of the watches the store still had
_Change = tuple[Watch, Node | None] | frozenset[str]


class Watches:
    """The daemon's index of every active chat's watches."""

    def __init__(self) -> None:
        self.index = KeptIndex(learn=True)
        self._known: set[str] = set()  # the Russian words whose forms the store has
        # held while the index changes, and while a poll matches items against it on a thread
        self.lock = self._changing = asyncio.Lock()
        # /watch, /unwatch and housekeeping while a load files the stored watches (for tens of
        # seconds): done to the index in use, and again, in order, to the load's index as it
        # replaces it
        self._meanwhile: list[_Change] | None = None

    async def load(self, store: AsyncStore, stopping: asyncio.Event | None = None) -> QueryIndex:
        """File every stored watch (off the event loop); the index replaces the one before.
        /watch and /unwatch go on meanwhile, and are not lost. What the store keeps to file
        them fast is a cache: a filing that fails with it files them from their text; one that
        fails anyway leaves the index as it is, so news and the topics go on (and the watches
        added from now on), not every poll failing on it. `stopping` set (the daemon stops)
        cuts a filing under way, as a cancel does: nothing of it is recorded, and the polls
        waiting for it are cut too; the next start files the watches."""
        task = asyncio.current_task()
        cut = asyncio.ensure_future(_cancel_when(stopping, task)) if stopping and task else None
        try:
            return await self._file(store)
        finally:
            if cut is not None:
                cut.cancel()

    async def _file(self, store: AsyncStore) -> QueryIndex:
        """`load`, with what the store kept, else from the watches' text."""
        try:
            return await self._load(store, kept=True)
        except Exception:
            log.exception("watches: filing with what the store kept failed; from their text")
        try:
            forget_forms()  # those the damaged cache gave, too
            await store.run(Store.forget_word_forms)  # each word is looked up again
            return await self._load(store, kept=False)
        except Exception:
            log.exception(
                "watches: the stored watches could not be filed; alerts go on for the topics"
                " and the watches added from now on (a restart files them again)"
            )
            return self.index

    async def _load(self, store: AsyncStore, *, kept: bool) -> QueryIndex:
        """`load`, with the filings and word forms the store `kept`, or from the text alone."""
        async with self._changing:
            started = time.perf_counter()
            self._meanwhile = []  # before the read: a change stored after it is replayed
            try:
                watches = await store.run(Store.filed_watches, FILING_VERSION)
                if not kept:
                    watches = [(watch, None) for watch, _ in watches]
                cached = await store.run(Store.word_forms) if kept else {}
            except BaseException:  # a read that failed records nothing more
                self._meanwhile = None
                raise
            self._known = set(cached)
        said = log.info if watches else log.debug  # a fresh install has none: nothing to tell
        said("watches: filing %s", counted(len(watches), "stored watch", "stored watches"))
        stop = threading.Event()
        try:
            with frozen_after():
                try:
                    built = await asyncio.to_thread(_build, watches, cached, stop)
                except asyncio.CancelledError:  # the daemon stops: the thread gives up too
                    stop.set()
                    log.info(
                        "watches: filing stopped after %.1f s, as the process stops; the next"
                        " start files them",
                        time.perf_counter() - started,
                    )
                    raise
            async with self._changing:
                # a change stored before the read is in `built` already: all are idempotent
                for change in self._meanwhile:
                    if isinstance(change, frozenset):  # the watches the store still had
                        for owner, query in await asyncio.to_thread(_not_kept, built.index, change):
                            built.index.remove(query, owner)
                    elif change[1] is None:
                        built.index.remove(change[0].query, change[0].topic_id)
                    else:
                        built.index.add(change[0].query, change[0].topic_id, change[1])
                self.index = built.index
                self._meanwhile = None
                await self._remember(store, built.fresh)
        finally:  # a load that failed records nothing more
            self._meanwhile = None
        said(
            "watches: %d filed (%s, %d of them under the keys the store kept, %d for every"
            " item) in %.1f s",
            len(self.index),
            counted(self.index.distinct, "distinct query", "distinct queries"),
            built.restored,
            len(self.index.always),
            time.perf_counter() - started,
        )
        if built.filings:  # what the watches filed from their text are under, for next time
            await store.run(Store.save_watch_filings, FILING_VERSION, built.filings)
        return self.index

    async def add(self, watch: Watch, store: AsyncStore) -> None:
        """File a new watch; the next item matched sees it."""
        async with self._changing:
            # parsing and any new Russian word's forms off the event loop; filing is quick
            nodes, fresh = await asyncio.to_thread(_prepared, [watch.query], self._known)
            if nodes[0] is None:
                return
            self.index.add(watch.query, watch.topic_id, nodes[0])
            if self._meanwhile is not None:
                self._meanwhile.append((watch, nodes[0]))
            await self._remember(store, fresh)
            filing = [(watch.id, self.index.filing(watch.query))]
            await store.run(Store.save_watch_filings, FILING_VERSION, filing)

    def remove(self, watch: Watch) -> None:
        """Take a watch off the index (with the lock held)."""
        self.index.remove(watch.query, watch.topic_id)
        if self._meanwhile is not None:
            self._meanwhile.append((watch, None))

    async def changed(self, store: AsyncStore, added: Watch | None, removed: Watch | None) -> None:
        """/watch and /unwatch change the index in place (`BotContext.watches_changed`)."""
        if added is not None:
            await self.add(added, store)
        if removed is not None:
            async with self._changing:
                self.remove(removed)

    async def housekeeping(self, store: AsyncStore) -> None:
        """Daily: take the watches of chats gone since (blocked the bot) off the index (a
        chat's return files them again), and those the store no longer has (a group's, dropped
        as it became a supergroup that had the same watch), and forget the cached forms of
        words no watch has."""
        async with self._changing:
            for watch in await store.run(Store.inactive_watches):
                self.remove(watch)
            kept = frozenset(watch.topic_id for watch in await store.run(Store.watches))
            index = self.index
            for owner, query in await asyncio.to_thread(_not_kept, index, kept):
                index.remove(query, owner)
            if self._meanwhile is not None:  # a load under way read the store's rows before
                self._meanwhile.append(kept)
            self._known &= await store.run(Store.prune_word_forms, words)

    async def _remember(self, store: AsyncStore, fresh: dict[str, frozenset[str]]) -> None:
        if fresh:
            await store.run(Store.save_word_forms, fresh)
            self._known.update(fresh)
