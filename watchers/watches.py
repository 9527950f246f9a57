"""Chats' watches in the daemon: filed in one `KeptIndex` at start, changed in place by /watch
and /unwatch, and matched in this process against the new items of each poll. What each watch
is filed under is kept in the store, so a start files them without parsing them (each compiles
when an item first wakes it); the Russian word forms are cached there too, so the morphology
dictionary is not asked again (read a page at a time: the cache of forms keeps a bounded part)."""

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

# the stored words' forms read at once (a start reads every word's, a page at a time, and keeps
# the cache's bound of them): ~5 MB of the dictionary's mix, 13 pages for bench/watches.py's
# 100,000 watches (25,767 words, 58 MB in all)
FORMS_PAGE = 2_000


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


class _Filing:
    """Every watch filed, on a thread: under the keys the store kept for it where it has them,
    otherwise from its text (each parsed once and dropped: 100,000 trees at once would double
    the memory), with the forms the store has of its Russian words (`known`: those words),
    given to the cache of forms as it is filed (the cache holds a bounded part of them). A
    word's are read from the store for its first watch: `run` stops and names them, with those
    of the next watches to file from their text (a page of words at most), and the event loop
    hands their forms back as `window`. `stop` set gives it up at the next watch."""

    def __init__(
        self, watches: Sequence[tuple[Watch, str | None]], known: Set[str], stop: threading.Event
    ) -> None:
        self.watches = watches
        self.known = known
        self.stop = stop
        self.built = _Built(KeptIndex(learn=True), {}, [])
        self.window: Mapping[str, frozenset[str]] = {}  # stored forms read for the next watches
        self._at = 0  # the watch filed last (from its text), or to file next
        self._asked = -1  # the last watch whose words' forms were asked for
        # the forms given as watches were filed: the index holds these sets (a query filed
        # holds its terms'), so a word the cache dropped since is given the same set again,
        # neither read again nor held twice
        self._given: dict[str, frozenset[str]] = {}
        # the next watches' trees and Russian words, parsed looking ahead
        self._parsed: dict[int, tuple[Node, list[str]]] = {}

    def run(self) -> list[str] | None:
        """File the watches from where it stopped; None once all are, else the stored words
        whose forms it needs to go on."""
        index, built, watches, ahead = self.built.index, self.built, self.watches, self._parsed
        for at in range(self._at, len(watches)):
            if self.stop.is_set():
                raise FilingStopped
            watch, filed = watches[at]
            if watch.query in index:  # the same query as another chat's: filed already
                index.add(watch.query, watch.topic_id)
                if filed is None:
                    built.filings.append((watch.id, index.filing(watch.query)))
            elif filed is not None:
                index.add_filed(watch.query, watch.topic_id, filed)
                built.restored += 1
            else:
                self._at = at
                if (wanted := self._from_text(watch, ahead.pop(at, None))) is not None:
                    return wanted
        self._at = len(watches)
        return None

    def _from_text(self, watch: Watch, parsed: tuple[Node, list[str]] | None) -> list[str] | None:
        """File `watch` from its text (`parsed`: its tree and Russian words if parsed already);
        or the stored words to read first."""
        if parsed is None:
            try:
                node = parse(watch.query)
            except QueryError:  # saved under an older query language
                log.warning(
                    "watch %d of chat %d skipped: it no longer parses", watch.id, watch.chat_id
                )
                return None
            parsed = node, list(_russian_words(node))
        node, russian = parsed
        stored = [word for word in russian if word in self.known]
        missing = [word for word in stored if self._at_hand(word) is None]
        if missing and self._asked != self._at:  # asked once: the store may have lost one
            self._asked = self._at
            self._parsed[self._at] = parsed
            return self._ahead(missing)
        for word in stored:
            if (forms := self._at_hand(word)) is not None:
                # given again as its terms are filed: the cache may have dropped them since
                self._given[word] = forms
                give_forms(((word, forms),))
        fresh = self.built.fresh
        for word in russian:
            if word not in self.known and word not in fresh:
                fresh[word] = russian_forms(word)
        self.built.index.add(watch.query, watch.topic_id, node)
        self.built.filings.append((watch.id, self.built.index.filing(watch.query)))
        return None

    def _at_hand(self, word: str) -> frozenset[str] | None:
        """The stored forms of `word` if they need no read of the store."""
        return self._given.get(word) or self.window.get(word)

    def _ahead(self, missing: list[str]) -> list[str]:
        """`missing` and the stored words not given yet of the next watches to file from their
        text (parsed now, for their turn), `FORMS_PAGE` words and watches at most."""
        wanted = dict.fromkeys(missing)
        for at in range(self._at + 1, len(self.watches)):
            watch, filed = self.watches[at]
            if filed is not None or watch.query.isascii() or watch.query in self.built.index:
                continue  # no Russian word to read: an ASCII query has none
            if len(self._parsed) > FORMS_PAGE:
                break
            if (parsed := self._parsed.get(at)) is None:
                try:
                    node = parse(watch.query)
                except QueryError:  # told at its turn
                    continue
                parsed = self._parsed[at] = node, list(_russian_words(node))
            more = dict.fromkeys(
                w for w in parsed[1] if w in self.known and w not in self._given and w not in wanted
            )
            if len(wanted) + len(more) > FORMS_PAGE:
                break
            wanted.update(more)
        return list(wanted)


async def _stored_words(
    store: AsyncStore, watches: Sequence[tuple[Watch, str | None]]
) -> frozenset[str]:
    """The words whose forms the store has; their forms given to the cache, a page at a time
    (sized on a thread, not on the event loop): past its bound it keeps the last given, and no
    more than a page is held besides. Not when every watch is to be filed from its text (after
    a change to the keys): that gives each word's forms as it files it, in its order."""
    if all(filed is None for _, filed in watches):
        return await store.run(Store.cached_words)
    known: set[str] = set()
    after: str | None = None
    while True:
        page = await store.run(Store.word_forms_page, after, FORMS_PAGE)
        await asyncio.to_thread(give_forms, page)
        known.update(word for word, _ in page)
        if len(page) < FORMS_PAGE:
            return frozenset(known)
        after = page[-1][0]


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
                known = await _stored_words(store, watches) if kept else frozenset()
            except BaseException:  # a read that failed records nothing more
                self._meanwhile = None
                raise
            self._known = set(known)
        said = log.info if watches else log.debug  # a fresh install has none: nothing to tell
        said("watches: filing %s", counted(len(watches), "stored watch", "stored watches"))
        stop = threading.Event()
        try:
            with frozen_after():
                filing = _Filing(watches, known, stop)
                try:
                    while (wanted := await asyncio.to_thread(filing.run)) is not None:
                        filing.window = {}  # one page held at a time
                        filing.window = await store.run(Store.word_forms_of, wanted)
                    built = filing.built
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
