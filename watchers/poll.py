"""One poll of one feed, as named stages: fetch → parse → match the unseen → ingest → schedule.

Every failure of a feed ends up as a value on its `PollReport` and its stored `FeedState`,
with the time of its next poll; nothing a feed does escapes to the others.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
import random
from collections.abc import Callable, Collection, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import replace
from datetime import datetime, timedelta
from typing import ParamSpec, TypeVar

from store import AsyncStore, FeedState, Store, StoredItem
from store.base import store_failure
from watchers import poll_timing
from watchers.articles import ArticlePages
from watchers.clock import Clock, utcnow
from watchers.config import FeedConfig, PollConfig
from watchers.fetch import Fetcher, FetchResult
from watchers.fingerprint import content_fingerprint, fingerprint_version
from watchers.items import ParsedFeed, reissued
from watchers.poll_errors import INTERNAL, PollError, disabled_by
from watchers.poll_records import in_config, records_of
from watchers.poll_report import PollReport
from watchers.poll_state import _succeeded, failing_since, told_since
from watchers.poll_state import current_state as current_state  # (bot.daemon imports it here)
from watchers.pool import ParsePool
from watchers.stories import StoryIndex
from watchers.story_sketch import Sketch
from watchers.text import short
from watchers.topics.compile import Topics
from watchers.topics.index import QueryIndex
from watchers.watches import matched_on_thread
from watchers.worker import ReadFeed

log = logging.getLogger(__name__)
P = ParamSpec("P")
R = TypeVar("R")

# An unchanged poll's state waits this long to be saved with those of the polls that end at
# about the same time: one store round trip for a wave of 304s instead of one each.
SAVE_TOGETHER = 0.02  # seconds


class Poller:
    """Polls feeds into the store; holds what every poll shares."""

    def __init__(
        self,
        *,
        store: AsyncStore,
        fetcher: Fetcher,
        topics: Topics,
        settings: PollConfig,
        pool: ParsePool | None = None,
        clock: Clock = utcnow,
        rng: random.Random | None = None,
        stories: StoryIndex | None = None,
    ) -> None:
        self.store = store
        self.fetcher = fetcher
        self.topics = topics
        self.settings = settings
        self.pool = pool or ParsePool("threads", 1)
        self.articles = ArticlePages(self.pool.workers)  # full_text feeds' pages: bounded
        self.clock = clock
        self.rng = rng or random.Random()
        # (an empty index is falsy)
        self.stories = StoryIndex(embed=self.pool.model) if stories is None else stories
        # the story index lives on its own thread: a lookup may compute title vectors (tens of
        # ms each), and one thread keeps its lookups and additions in order
        self._story_thread = ThreadPoolExecutor(1, thread_name_prefix="stories")
        self.console = False  # the daemon prints its alerts (no token): the log says so
        self._store_failing = False  # said once as it begins and once as it ends
        self._placing = asyncio.Lock()
        self._known_id = 0  # the index has looked at every matched item stored up to this id
        # chats' watches, matched here against new items only (the parse workers match the
        # configured topics against every item, and never receive the watches)
        self.watches: QueryIndex | None = None
        self.watches_loading: asyncio.Future[QueryIndex] | None = None  # filed at a start
        self.watches_lock = asyncio.Lock()  # the index's changes wait while a poll matches
        # the state this poller last saved of each feed, to skip reading it back on the next
        # poll (half the store round trips of a steady cycle); the daemon reads it too
        self.saved: dict[str, FeedState] = {}
        self._batch: dict[str, FeedState] = {}
        # the batch being gathered; its result: the error of each state that could not be saved
        self._batch_saved: asyncio.Future[dict[str, Exception]] | None = None
        self._batch_writes: set[asyncio.Task[None]] = set()

    def forget(self, feed_id: str) -> None:
        """A feed left the config: its state stays stored, not here (feeds come and go)."""
        self.saved.pop(feed_id, None)

    async def _state(self, feed: FeedConfig) -> FeedState:
        saved = self.saved.get(feed.id)
        if saved is None or not saved.primed or saved.disabled_reason:
            # read afresh where another writer (`kurilwatch poll --once`) matters: priming a
            # feed, or re-enabling it
            saved = await self.store.run(Store.feed_state, feed.id)
        return current_state(saved, feed)

    async def _save(self, state: FeedState) -> None:
        await self.store.run(Store.save_feed_state, state)
        self.saved[state.id] = state

    async def _save_together(self, state: FeedState) -> None:
        """`_save`, in one transaction with the states of other polls that end within
        `SAVE_TOGETHER`: a store round trip costs the event loop more than the write itself."""
        self._batch[state.id] = state
        saved = self._batch_saved
        if saved is None:
            loop = asyncio.get_running_loop()
            saved = self._batch_saved = loop.create_future()
            write = loop.create_task(self._write_batch(saved), name="save feed states")
            self._batch_writes.add(write)
            write.add_done_callback(self._batch_writes.discard)
        # shielded: a poll cancelled while it waits must not cancel the others' save
        failed = await asyncio.shield(saved)
        if (error := failed.get(state.id)) is not None:
            raise error
        self.saved[state.id] = state

    async def _write_batch(self, saved: asyncio.Future[dict[str, Exception]]) -> None:
        failed: dict[str, Exception] = {}
        try:
            await asyncio.sleep(SAVE_TOGETHER)
            batch, self._batch, self._batch_saved = list(self._batch.values()), {}, None
            try:
                await self.store.run(Store.save_feed_states, batch)
            except Exception as exc:
                if store_failure(exc, self.store.path) is not None or len(batch) == 1:
                    raise
                # a state the store refuses (a value nothing foresaw) fails its own poll alone
                for state in batch:
                    try:
                        await self.store.run(Store.save_feed_state, state)
                    except Exception as one:
                        if store_failure(one, self.store.path) is not None:
                            raise
                        failed[state.id] = one
        except asyncio.CancelledError:
            if self._batch_saved is saved:  # cancelled while it gathered: start afresh
                self._batch, self._batch_saved = {}, None
            saved.cancel()
            raise
        except Exception as exc:
            saved.set_exception(exc)  # each waiting poll fails, as its own save would have
            saved.add_done_callback(lambda f: f.exception())  # retrieved, if none waits
        else:
            saved.set_result(failed)

    async def finish_writes(self, within: float) -> None:
        """At a stop, once the polls are done or cut: the states still being saved get `within`
        seconds, then are cut (a write waiting out another process's lock is the store's close's
        to wait for and say; the poller's close waited for it, past the stop's 10 s)."""
        if self._batch_writes:
            _, late = await asyncio.wait(set(self._batch_writes), timeout=max(within, 0.0))
            for write in late:
                write.cancel()
            if late:
                await asyncio.wait(late)

    async def aclose(self) -> None:
        """Wait for the states still being saved (after the polls are done or cancelled)."""
        await asyncio.gather(*self._batch_writes, return_exceptions=True)
        self._story_thread.shutdown(wait=False, cancel_futures=True)

    async def _on_story_thread(self, call: Callable[P, R], *args: P.args, **kw: P.kwargs) -> R:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._story_thread, lambda: call(*args, **kw))

    async def poll(self, feed: FeedConfig, *, force: bool = False) -> PollReport:
        """Poll once; a disabled feed is skipped unless `force` (which re-enables it on success).

        An unexpected exception (a bug, or input nothing foresaw) is this feed's error: stored
        on it like a failed fetch, backed off the same way, and never raised to the caller. A
        store that fails is nobody's feed's: an error report, the feed's state as it was.
        """
        started = self.clock()
        try:
            report = await self._poll(feed, force=force)
        except Exception as exc:  # one feed's failure must not stop the others
            if (failure := store_failure(exc, self.store.path)) is not None:
                # the store's fault (locked, disk full, damaged), not the feed's: its state is
                # left as it was, and it is polled again at its usual interval
                if not self._store_failing:
                    log.error(
                        "the store fails (%s): polls store nothing until it works again", failure
                    )
                self._store_failing = True
                error = f"store: {exc}"[:300]
                return PollReport(
                    feed.id, "error", error=error, next_poll_at=started + self._interval(feed)
                )
            problem = PollError(INTERNAL, {"error": f"{type(exc).__name__}: {exc}"})
            try:
                state = await self._state(feed)
                if not state.consecutive_errors:  # the traceback once, not on every retry
                    log.error("feed %s: the poll failed unexpectedly", feed.id, exc_info=True)
                return await self._failed(feed, state, FetchResult(state.url), problem, started)
            except Exception:  # not even the error could be stored
                log.exception("feed %s: the poll failed and its error was not stored", feed.id)
                wait = self._interval(feed)
                error = problem.line()
                return PollReport(feed.id, "error", error=error, next_poll_at=started + wait)
        if self._store_failing:
            log.info("the store works again: polls store what they fetch")
            self._store_failing = False
        return report

    async def _poll(self, feed: FeedConfig, *, force: bool) -> PollReport:
        state = await self._state(feed)
        if state.disabled_reason and not force:
            # looked at again this often: `poll --once --feed` in another process may revive it
            again = self.clock() + self.settings.max_interval
            error = state.disabled_reason
            return PollReport(
                feed.id, "disabled", state.last_status, error=error, next_poll_at=again
            )
        started = self.clock()
        fetched = await self.fetcher.fetch(
            state.url, etag=state.etag, last_modified=state.last_modified
        )
        if fetched.problem is not None:
            return await self._failed(feed, state, fetched, fetched.problem, started)
        before = state
        # a move is kept once a feed answers there: no home page, nor a 304 but to its ETag
        body = fetched.content or b""  # (a static page gives any later If-Modified-Since one)
        moved = p if (p := fetched.permanent_url) != state.url and (body or state.etag) else None
        state = replace(state, url=moved or state.url)
        digest = hashlib.sha256(body).hexdigest()
        if fetched.not_modified or not body or (digest == state.body_hash and state.primed):
            if moved:
                log.info("feed %s: moved permanently to %s; polling there now", feed.id, moved)
            next_at = await self._next_success(feed, fetched, None)
            await self._save_together(_succeeded(state, fetched, started, next_at))
            return PollReport(feed.id, "unchanged", fetched.status, next_poll_at=next_at)
        state = _succeeded(state, fetched, started, state.next_poll_at)
        read = await self.pool.read(
            body,
            feed_id=feed.id,
            url=state.url,
            headers=fetched.headers,
            spec=self.topics.spec,
            lang=feed.lang,
            # a first poll alerts nothing: its items' story sketches wait for a lookup to need
            # them (most never do), and are made in this process then
            sketches=state.primed,
        )
        parsed = read.parsed
        if parsed.problem is not None:
            return await self._failed(feed, before, fetched, parsed.problem, started)
        if moved:
            log.info("feed %s: moved permanently to %s; polling there now", feed.id, moved)
        if parsed.warning:
            log.debug("feed %s: parsed with a warning: %s", feed.id, parsed.warning)
        state = replace(state, body_hash=digest)
        return await self._ingest(feed, state, read, fetched)

    async def _ingest(
        self, feed: FeedConfig, state: FeedState, read: ReadFeed, fetched: FetchResult
    ) -> PollReport:
        parsed = read.parsed
        # a feed's first poll stores without alerting and `ingest` skips known guids itself:
        # asking first only saves work on later polls, where most items are known
        known: Collection[str] = ()
        items = parsed.items
        if state.primed:
            seen = await self.store.run(Store.known_items, feed.id, [i.guid for i in items])
            known = seen
            if (items := reissued(items, seen)) is not parsed.items:  # keyed anew: known?
                known = await self.store.run(Store.known_guids, feed.id, [i.guid for i in items])
        unseen = [pair for pair in zip(items, read.facts, strict=True) if pair[0].guid not in known]
        if unseen and state.primed:
            # an item given before under another guid, unchanged, is not new (`ingest` drops it
            # too): dropped before its article page is fetched or its story looked up
            keys = [(i.canonical_url, i.title, i.summary) for i, _ in unseen]
            stored = await self.store.run(Store.stored_unchanged, feed.id, keys)
            if stored:
                unseen = [p for p, key in zip(unseen, keys, strict=True) if key not in stored]
        if self.watches_loading is not None and state.primed:
            # shielded: a poll cancelled while it waits must not cancel the filing
            self.watches = await asyncio.shield(self.watches_loading)
            self.watches_loading = None
        if self.watches is not None and len(self.watches) and state.primed:
            unseen = await matched_on_thread(self.watches, self.watches_lock, unseen)
        if feed.full_text and state.primed:
            # a public feed's links may not lead into a private network either
            public = not fetched.intranet
            read_page = functools.partial(
                self.articles.read,
                fetcher=self.fetcher,
                pool=self.pool,
                spec=self.topics.spec,
                public_only=public,
                share=self.articles.share(),
            )
            unseen = list(await asyncio.gather(*map(read_page, unseen)))
        alert = state.primed
        next_at = await self._next_success(feed, fetched, parsed)
        state = replace(
            state,
            primed=True,
            title=feed.title or parsed.title or state.title,
            next_poll_at=next_at,
        )
        # a poll's lookups, storing and additions to the index run as one with no other poll's
        # between, or a report of another feed could start its story again
        placing = alert and any(facts.sketch is not None for _, facts in unseen)
        async with self._placing if placing else nullcontext():
            now = self.clock()
            if placing:
                await self._catch_up(now)
            if alert:
                records, sketches = await self._on_story_thread(
                    records_of, unseen, self.stories, now, alert
                )
            else:  # a first poll looks no story up: its records are made here, not behind lookups
                records, sketches = records_of(unseen, self.stories, now, alert)
            # the topics of the config running now: a reload may have removed one since the
            # parse worker matched these items
            records = in_config(records, self.topics)
            result = await self.store.run(Store.ingest, state, records, now=now, alert=alert)
            self.saved[state.id] = state
            fresh = await self._on_story_thread(self.remember, result.stored, sketches)
            if result.stored and result.stored[0].id == self._known_id + 1:  # none in between
                self._known_id = result.stored[-1].id
        if fresh:
            await self.store.run(Store.save_title_vectors, fresh, now=now)
        new_stories = {item.id for item in result.new_stories}
        on_topic = [item for item in result.stored if item.topics]
        report = PollReport(
            feed.id,
            "new" if alert else "primed",
            fetched.status,
            items=len(parsed.items),
            new_items=len(result.stored),
            matched=tuple(i for i in on_topic if i.id in new_stories) if alert else (),
            queued=result.queued,
            next_poll_at=next_at,
            joined=tuple(i for i in on_topic if i.id not in new_stories) if alert else (),
            recorded=0 if alert else len(on_topic),
        )
        if result.stored:
            log.info("feed %s: %s", feed.id, report.counts(console=self.console))
        return report

    def remember(
        self, items: Sequence[StoredItem], sketches: Mapping[str, Sketch]
    ) -> list[tuple[str, bytes]]:
        """Add stored items to the story index, for the reports of other outlets to join; the
        title vectors computed since the last call, to be stored (float16). On the story
        thread."""
        for item in items:
            if not item.topics:
                continue
            report = sketches.get(item.guid)
            if report is None:  # a first poll's: sketched if a lookup ever weighs it
                self.stories.add_text(
                    item.id, item.story_id, item.title, item.summary, item.fetched_at
                )
            else:
                self.stories.add(item.id, item.story_id, report, item.fetched_at)
        fresh, self.stories.fresh = self.stories.fresh, {}
        return [(title, vector.astype("float16").tobytes()) for title, vector in fresh.items()]

    async def _catch_up(self, now: datetime) -> None:
        """Add the matched items that another process stored since the index last looked
        (`kurilwatch poll --once` while the daemon runs), so that their stories are joined."""
        since = now - self.stories.window
        last, rows = await self.store.run(Store.recent_items, since, self._known_id)
        self._known_id = last
        if rows:
            await self._on_story_thread(self._add_texts, rows)

    def _add_texts(self, rows: Sequence[tuple[int, int, str, str, datetime]]) -> None:
        for item_id, story_id, title, summary, at in rows:
            self.stories.add_text(item_id, story_id, title, summary, at)

    async def load_stories(self) -> None:
        """Fill the story index with the items (and title vectors) of the last window."""
        now = self.clock()
        # items a changed normalisation keyed otherwise (a store another holds: next start)
        await self.store.run(
            Store.refingerprint, fingerprint_version(), content_fingerprint, now=now
        )
        since = now - self.stories.window
        last, rows = await self.store.run(Store.recent_items, since)
        vectors = await self.store.run(Store.title_vectors, since)

        def load() -> None:  # tens of thousands of items after a start: off the event loop
            self.stories.prune(now)
            if vectors:  # numpy (0.1 s of a start) only where there are vectors to read
                import numpy as np

                self.stories.remember_vectors(
                    (title, np.frombuffer(blob, np.float16).astype(np.float32))
                    for title, blob in vectors
                )
            self._add_texts(rows)

        await self._on_story_thread(load)
        self._known_id = max(self._known_id, last)

    async def prune_stories(self, now: datetime) -> None:
        """Forget the story candidates older than the window."""
        await self._on_story_thread(self.stories.prune, now)

    async def _next_success(
        self, feed: FeedConfig, fetched: FetchResult, parsed: ParsedFeed | None
    ) -> datetime:
        now = self.clock()
        gap = None
        if feed.adaptive:
            gap = poll_timing.publishing_gap(
                await self.store.run(Store.recent_fetch_times, feed.id)
            )
        wait = poll_timing.after_success(
            interval=self._interval(feed),
            max_interval=self.settings.max_interval,
            cache=poll_timing.cache_lifetime(fetched.headers, now, parsed.ttl if parsed else None),
            gap=gap,
            rng=self.rng,
        )
        return now + wait

    async def _failed(
        self,
        feed: FeedConfig,
        state: FeedState,
        fetched: FetchResult,
        problem: PollError,
        started: datetime,
    ) -> PollReport:
        errors = state.consecutive_errors + 1
        since = failing_since(state, started)
        now = self.clock()
        retry = (
            poll_timing.retry_after(fetched.headers, now) if fetched.status in (429, 503) else None
        )
        wait = poll_timing.after_error(
            interval=self._interval(feed),
            max_backoff=self.settings.max_backoff,
            errors=errors,
            retry=retry,
            rng=self.rng,
        )
        disabled = disabled_by(fetched.status, now - since, self.settings.gone_after)
        reason = None if disabled is None else disabled.line()
        error = problem.line()
        state = replace(
            state,
            last_status=fetched.status,
            last_error=error,
            last_error_message=problem.kept(),
            consecutive_errors=errors,
            errors_since=since,
            told_since=told_since(state, started),
            last_attempt_at=started,
            next_poll_at=now + wait,
            retry_not_before=None if retry is None else now + retry,
            disabled_at=now if disabled else None,
            disabled_reason=reason,
            disabled_reason_message=None if disabled is None else disabled.kept(),
        )
        await self._save(state)
        if reason:
            log.warning("feed %s: disabled: %s", feed.id, reason)
            return PollReport(feed.id, "disabled", fetched.status, error=reason)
        log.warning(
            "feed %s: poll failed (%d in a row, next try in %s): %s",
            feed.id,
            errors,
            short(wait),
            error,
        )
        return PollReport(feed.id, "error", fetched.status, error=error, next_poll_at=now + wait)

    def _interval(self, feed: FeedConfig) -> timedelta:
        return feed.interval or self.settings.interval
