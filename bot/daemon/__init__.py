"""Daemon wiring: store, HTTP client, scheduler, poller, and the Telegram side or the console."""

from __future__ import annotations

import asyncio
import functools
import logging
import signal
import sqlite3
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import TextIO

from apscheduler.triggers.interval import IntervalTrigger

import bot.lean_import  # noqa: F401  (before telegram: httpx without its console client)
from bot import reload
from bot.config import Config, Stamp, config_stamp
from bot.daemon.failing import disabled_notice, failing_notice, mark_told, state_after
from bot.daemon.notices import AdminNotices
from bot.daemon.reloading import STALE, ConfigReloads
from bot.daemon.telegram import STOP_GRACE, App, TelegramSide
from bot.delivery.render import alert_of, render_joined, render_plain
from bot.delivery.worker import DeliveryWorker
from bot.http.feeds import FeedsApp
from bot.insights import jobs
from bot.interrupt import Stopped, before_stop, stop_on_signals, stopped_within
from bot.metrics import Metrics, MetricsServer, configure_metrics
from bot.reload import config_topics
from bot.telegram.channels import Channels, listed
from bot.telegram.chat import BotContext, install
from bot.telegram.updates import build_application, stop_updates
from store import AsyncStore, Store, StoredItem
from store.db import BUSY_TIMEOUT
from store.space import GIVE_BACK_PAUSE
from watchers.config import FeedConfig
from watchers.feed_jobs import FeedScheduler
from watchers.fetch import Fetcher, FetchLimits
from watchers.job_runs import retry_wait, scheduler_with_runs
from watchers.poll import Poller, current_state
from watchers.poll_report import PollReport
from watchers.poll_timing import first_poll_at
from watchers.pool import ParsePool
from watchers.text import counted
from watchers.topics.compile import compile_topics
from watchers.watches import Watches

log = logging.getLogger(__name__)

HOUSEKEEPING_DELAY = timedelta(minutes=1)
QUEUE_CHECK = 15  # seconds between two looks at the outbox's depth, for /metrics and /healthz
STUCK = timedelta(minutes=30)
HOUSEKEEPING_RETRY = 60.0  # seconds before housekeeping that met a failing store tries again
HOUSEKEEPING_RETRY_MAX = 3600.0  # doubled at each failure up to this
HOUSEKEEPING_TRIES = 10  # then it waits for its next day (about 4 h of tries)
# seconds the store's close waits for the calls before it at most (a write waiting out another
# process's lock, a disk that hangs), after the other stages' 7 s at most: within the 10 s
STORE_CLOSE = STOP_GRACE / 2
CONSOLE_STORIES = 1000  # stories console mode remembers alerting, for the reports joining them


def console_alert(item: StoredItem, source: str, tz: tzinfo = UTC) -> str:
    return render_plain(alert_of(item, source), tz=tz)


@dataclass
class Daemon(TelegramSide, AdminNotices, ConfigReloads):
    """One running kurilwatch: polls on a schedule and delivers, until `stop()`."""

    settings: Config
    token: str | None
    out: TextIO = field(default_factory=lambda: sys.stdout)
    exit_code: int = 0
    delivery: DeliveryWorker | None = None
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _sign_in_tried: asyncio.Event = field(default_factory=asyncio.Event)
    _polls: set[asyncio.Task[PollReport]] = field(default_factory=set)
    _compiling: asyncio.Lock = field(default_factory=asyncio.Lock)
    _compile_requested: int = 0
    _compiled: int = 0
    _watches: Watches = field(default_factory=Watches)
    _channels: Channels = field(default_factory=Channels)
    config_path: Path | None = None
    _reloading: asyncio.Lock = field(default_factory=asyncio.Lock)
    _background: set[asyncio.Task[str]] = field(default_factory=set)
    _notices: dict[asyncio.Task[None], None] = field(default_factory=dict)  # in order said
    _store: AsyncStore | None = None
    _poller: Poller | None = None
    _feeds: FeedScheduler | None = None
    _ctx: BotContext | None = None
    _listen_port: int | None = None  # the port the HTTP listener is bound to (None: none)
    _app: App | None = None
    _printed: dict[int, str] = field(default_factory=dict)  # console: story id -> its title
    metrics: Metrics = field(default_factory=lambda: Metrics(stale_after=STALE, stuck_after=STUCK))
    config_stamp: Stamp | None = None  # the file's, taken before it was last read (or when made)
    config_settle: float = reload.SETTLE  # a reload reads the file unchanged this long
    housekeeping_retry: float = HOUSEKEEPING_RETRY
    store_busy_timeout: float = BUSY_TIMEOUT  # seconds a write waits for another's lock
    _started: Config = field(init=False)  # what a restart would change is measured from this

    def __post_init__(self) -> None:
        if self.config_stamp is None:
            self.config_stamp = config_stamp(self.config_path)
        configure_metrics(self.metrics, self.settings, STALE)
        self._started = self.settings

    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> int:
        settings = self.settings
        store = AsyncStore(settings.store.path, busy_timeout=self.store_busy_timeout)
        # each await of the start gives way to a stop: a write waiting out another process's
        # lock (10 s each) or a disk that hangs kept a SIGTERM waiting tens of seconds
        try:
            await before_stop(self._stop, _opened(store))
        except Stopped:
            log.info("stopping while the store opens")
            await store.close(within=STORE_CLOSE)
            log.info("stopped")
            return self.exit_code
        fetcher = Fetcher(FetchLimits.of(settings.poll))
        pool = ParsePool("processes")
        topics = compile_topics(settings.topics)
        poller = Poller(
            store=store, fetcher=fetcher, topics=topics, settings=settings.poll, pool=pool
        )
        poller.console = not self.token
        scheduler, runs = scheduler_with_runs(functools.partial(self._clock_set_back, store))
        app = None
        telegram_task = None
        self._store, self._poller = store, poller
        try:
            if self.token:
                app = build_application(settings, self.token, self._token_refused)
                self._app = app
                listen = settings.metrics.address
                binds_any = listen is not None and listen[1] == 0
                self._ctx = BotContext(
                    store=store,
                    topics=config_topics(settings),
                    admins=frozenset(settings.telegram.admins),
                    tz=settings.telegram.tz,
                    max_watches=settings.telegram.max_watches,
                    feeds=tuple((f.id, f.title or f.id) for f in settings.feeds),
                    watches_changed=functools.partial(self._watches.changed, store),
                    reload=self.reload,
                    wake=self._wake_delivery,
                    previewed=self.metrics.previewed,
                    channels_again=functools.partial(self._channel_back, app, store),
                    # `listen`'s port 0: the address is known once the listener is bound
                    feeds_url=None if binds_any else settings.metrics.feeds_url,
                    feeds_soon=binds_any,
                    queries={tid: t.query for tid, t in settings.topics.items()},
                )
                install(app, self._ctx)
                jobs.schedule(scheduler, self._ctx, app, self._insights_ready)
                telegram_task = asyncio.create_task(self._run_telegram(app, store), name="telegram")
                telegram_task.add_done_callback(self._telegram_ended)
            else:
                log.warning(
                    "Telegram is off: $%s is not set, so alerts are printed here."
                    " To send them to Telegram, get a token from @BotFather and run"
                    " `export %s=<token>` before starting.",
                    settings.telegram.token_env,
                    settings.telegram.token_env,
                )

            async def poll_job(feed: FeedConfig) -> datetime | None:
                return await self._poll(poller, feed, feed.title or feed.id)

            # the watches are filed on a thread while the daemon starts and its first polls
            # fetch and parse; a poll's new items wait for them before they are stored
            poller.watches_loading = asyncio.create_task(
                self._watches.load(store, self._stop), name="load watches"
            )
            poller.watches_lock = self._watches.lock  # /watch waits while a poll matches
            await before_stop(self._stop, pool.start())
            await before_stop(self._stop, poller.load_stories())
            feeds = FeedScheduler(scheduler, poll_job, forget=poller.forget)
            self._feeds = feeds
            await before_stop(self._stop, self._schedule(feeds, store))
            scheduler.add_job(
                self._housekeeping,
                trigger=IntervalTrigger(hours=24),
                args=[store, poller],
                id="housekeeping",
                next_run_time=datetime.now(UTC) + HOUSEKEEPING_DELAY,
            )
            scheduler.add_job(
                self._measure_queue,
                trigger=IntervalTrigger(seconds=QUEUE_CHECK),
                args=[store],
                id="queue",
                next_run_time=datetime.now(UTC),
            )
            scheduler.start()
            watcher = asyncio.create_task(self._watch_config(), name="config watcher")
            server = self._serve_metrics()
            self._listen_port = None if server is None else server.port
            if self._ctx is not None:  # /mywatch gives no dead address, nor `listen`'s port 0
                metrics = self.settings.metrics
                self._ctx.feeds_url = None if server is None else metrics.feeds_url_on(server.port)
                self._ctx.feeds_soon = False
            if telegram_task is not None:
                await self._signed_in_or_stopped()
            if not self._stop.is_set():  # not a token refused at start
                log.info(
                    "kurilwatch running: %s, %s, store %s",
                    counted(len(settings.feeds), "feed", "feeds"),
                    counted(len(topics), "topic", "topics"),
                    settings.store.path,
                )
            await self._stop.wait()
            log.info("stopping")
            if self.delivery is not None:  # no new sends while the polls in flight finish
                self.delivery.stop()
            watcher.cancel()
            if server is not None:
                await asyncio.to_thread(server.stop)
        except Stopped:  # what the start opened is closed below, as at any stop
            log.info("stopping before the start ended")
        finally:
            scheduled = scheduler.running
            if scheduled:
                scheduler.shutdown(wait=False)
            # each stage's grace runs beside the others': one after the other, with every
            # stage hung (a fetch, Telegram, the store), they added up to 15 s
            await asyncio.gather(
                runs.stop(STOP_GRACE / 2) if scheduled else asyncio.sleep(0),
                self._finish_polls(poller),
                self._finish_notices(),
                self._finish_sends(telegram_task),
                self._finish_channels(),
                stop_updates(app) if app is not None else asyncio.sleep(0),
            )
            await asyncio.gather(
                poller.aclose(),
                self._stop_telegram(app, telegram_task)
                if app is not None and telegram_task is not None
                else asyncio.sleep(0),
                fetcher.aclose(),
                pool.aclose(),
            )
            await store.close(within=STORE_CLOSE)
            log.info("stopped")
        return self.exit_code

    def _serve_metrics(self) -> MetricsServer | None:
        address = self.settings.metrics.address
        if address is None:
            return None
        try:
            atom = FeedsApp.of(lambda: self.settings)
            server = MetricsServer(
                self.metrics, *address, feeds=lambda: len(self.settings.feeds), atom=atom
            ).start()
        except OSError as exc:
            log.error("metrics.listen: cannot listen on %s: %s", self.settings.metrics.listen, exc)
            return None
        log.info(
            "metrics on http://%s:%d/metrics, health on /healthz, feeds on /feeds/<topic>.atom",
            f"[{address[0]}]" if ":" in address[0] else address[0],
            server.port,
        )
        return server

    async def _clock_set_back(self, store: AsyncStore, back: timedelta) -> None:
        moved = await store.run(Store.move_back, back, datetime.now(UTC))
        log.info("stored times taken from the clock ahead, moved back by %s: %d", back, moved)
        self._wake_delivery()

    async def _measure_queue(self, store: AsyncStore) -> None:
        depth, oldest = await store.run(Store.backlog)
        self.metrics.queued(depth, oldest, await store.run(Store.oldest_due))

    def _insights_ready(self) -> bool:
        """Reports and spike notices may go: Telegram is signed in and the sends the last stop
        kept are recorded (a report kept there is due again until its record is written)."""
        app = self._app
        return (
            app is not None and app.running and bool(self.delivery and self.delivery.kept_recorded)
        )

    def _wake_delivery(self) -> None:
        if self.delivery is not None:
            self.delivery.wake()

    async def _recompile(self, poller: Poller, store: AsyncStore) -> None:
        """Compile the configured topics, off the event loop (watches are matched apart, in
        `self._watches`). Requests coalesce: a storm of reloads waits for two compiles at most."""
        self._compile_requested += 1
        wanted = self._compile_requested
        async with self._compiling:
            if self._compiled >= wanted:  # a compile that read the config after us is done
                return
            covered = self._compile_requested
            poller.topics = await asyncio.to_thread(compile_topics, self.settings.topics)
            self._compiled = covered

    async def _channel_back(
        self, app: App, store: AsyncStore, chat_id: int, username: str | None
    ) -> bool:
        if not any(listed(c.chat, chat_id, username) for c in self.settings.channels):
            return False
        await self._add_channels(app, store)
        return True

    async def _add_channels(self, app: App, store: AsyncStore) -> None:
        await self._channels.add(
            app.bot,
            store,
            self.settings.channels,
            watches_changed=functools.partial(self._watches.changed, store),
        )

    async def _housekeeping(self, store: AsyncStore, poller: Poller) -> None:
        """Daily `_keep_house`; a store that fails meanwhile (locked past its busy timeout by a
        backup or another writer) is tried again soon, at growing intervals, not a day later."""
        failures = 0
        while True:
            try:
                await self._keep_house(store, poller)
            except sqlite3.OperationalError as exc:
                failures += 1
                if failures >= HOUSEKEEPING_TRIES:
                    log.error("housekeeping not done (the store fails: %s); next in a day", exc)
                    return
                wait = retry_wait(failures, self.housekeeping_retry, HOUSEKEEPING_RETRY_MAX)
                log.warning("housekeeping: the store fails (%s); trying again in %.0f s", exc, wait)
                if await stopped_within(self._stop, wait):
                    return
                continue
            if failures:
                tries = counted(failures, "try", "tries")
                log.info("housekeeping done, %s after the store first failed", tries)
            return

    async def _keep_house(self, store: AsyncStore, poller: Poller) -> None:
        """Compact old items (dedup keys stay), forget old stories, tidy the watches."""
        now = datetime.now(UTC)
        await poller.prune_stories(now)
        await self._watches.housekeeping(store)
        kept = self.settings.store
        compacted, deleted = await store.run(
            Store.prune, now=now, text_for=kept.retention, keys_for=kept.keys_retention
        )
        if compacted or deleted:
            old = counted(compacted, "old item", "old items")
            log.info("store: %s compacted, %d deleted", old, deleted)
        await self._give_back_free_pages(store)
        configured = [feed.id for feed in self.settings.feeds]
        forgotten = await store.run(Store.forget_feeds, configured, now=now)
        if forgotten:
            log.info(
                "store: %s the config no longer has, and no item names, forgotten",
                counted(forgotten, "feed", "feeds"),
            )

    async def _give_back_free_pages(self, store: AsyncStore) -> None:
        """The pages a prune freed given back to the file system, a bounded step at a time:
        between steps other store calls run, and other processes may take the write lock."""
        if not await store.run(Store.gives_back):
            log.warning(
                "store: its file does not shrink after a prune (auto-vacuum is not incremental:"
                " the VACUUM at the upgrade was skipped or failed, and is tried again at each"
                " start). To switch it now, stop kurilwatch and run"
                " `sqlite3 %s 'PRAGMA auto_vacuum = INCREMENTAL; VACUUM'`",
                store.path,
            )
            return
        freed = 0
        while step := await store.run(Store.give_back_free_pages):
            freed += step
            if await stopped_within(self._stop, GIVE_BACK_PAUSE):
                break
        if freed:
            _, _, page_size = await store.run(Store.file_pages)
            log.info("store: %.1f MB of free pages given back", freed * page_size / 1048576)

    async def _schedule(self, feeds: FeedScheduler, store: AsyncStore) -> None:
        """Start each feed's polls: due ones now, backed-off ones when their time comes."""
        states = {s.id: s for s in await store.run(Store.feed_states)}
        now = datetime.now(UTC)
        for feed in self.settings.feeds:
            state = current_state(states.get(feed.id), feed)
            if state.disabled_reason:
                log.warning(
                    "feed %s is disabled (%s); change its url, or run"
                    " `kurilwatch poll --once --feed %s` to try it again",
                    feed.id,
                    state.disabled_reason,
                    feed.id,
                )  # looked at (not fetched) every max_interval, in case that revived it
                feeds.add(feed, now + self.settings.poll.max_interval)
                continue
            feeds.add(feed, first_poll_at(state, feed, self.settings.poll, now))

    async def _poll(self, poller: Poller, feed: FeedConfig, source: str) -> datetime | None:
        """One scheduled poll; returns when to poll again (None: not again)."""
        if self._stop.is_set():
            return None
        retry = datetime.now(UTC) + (feed.interval or self.settings.poll.interval)
        task = asyncio.create_task(poller.poll(feed), name=f"poll {feed.id}")
        self._polls.add(task)
        try:
            report = await task
        except asyncio.CancelledError:
            if self._stop.is_set():  # cut short by shutdown; the next start polls again
                return None
            raise
        except Exception:
            log.exception("feed %s: the poll failed unexpectedly", feed.id)
            return retry
        finally:
            self._polls.discard(task)
        self._after_poll(report, source)
        state = state_after(poller, feed)
        told = failing_notice(feed.id, str(feed.url), state)
        if told is not None:  # a feed failing for long, or recovered
            mark_told(poller, feed, told.told_since)
            marked = (feed.id, told.told_since)  # stored with the notice
            await self._tell_admins_surely(told.said.message, told.said.values, told=marked)
        if report.outcome != "disabled" or report.next_poll_at:  # not disabled by this poll
            return report.next_poll_at
        said = disabled_notice(feed.id, str(feed.url), state, report.error or "")
        await self._tell_admins_surely(said.message, said.values)  # printed when Telegram is off
        return datetime.now(UTC) + self.settings.poll.max_interval  # to see if it was revived

    def _after_poll(self, report: PollReport, source: str) -> None:
        self.metrics.polled(report)
        if self.token:
            if report.queued and self.delivery is not None:
                self.delivery.wake()
            return
        tz = self.settings.telegram.tz
        for item in report.matched:
            print(console_alert(item, source, tz), end="\n\n", file=self.out, flush=True)
            self._printed[item.story_id] = item.title
            if len(self._printed) > CONSOLE_STORIES:
                del self._printed[next(iter(self._printed))]
        for item in report.joined:  # a chat's alert would be edited: "Also: Kyodo"
            if (story := self._printed.get(item.story_id)) is not None:
                line = render_joined(alert_of(item, source), story)
                print(line, end="\n\n", file=self.out, flush=True)

    async def _finish_polls(self, poller: Poller) -> None:
        """Let running polls finish, then cut off the slow ones; the feed states they were
        saving get what is left of STOP_GRACE, then are cut too."""
        loop = asyncio.get_running_loop()
        until = loop.time() + STOP_GRACE
        if self._polls:
            _, slow = await asyncio.wait(set(self._polls), timeout=STOP_GRACE / 2)
            for task in slow:
                task.cancel()
            if slow:
                await asyncio.wait(slow, timeout=STOP_GRACE / 2)
        await poller.finish_writes(until - loop.time())


async def _opened(store: AsyncStore) -> None:
    await store.open()
    if not await store.run(Store.gives_back):  # m030's VACUUM skipped or failed: again,
        await store.run(Store.switch_to_incremental)  # before the first poll waits on it


async def run_daemon(
    settings: Config, token: str | None, config: Path | None = None, stamp: Stamp | None = None
) -> int:
    """Run until SIGINT or SIGTERM (SIGHUP reloads `config`, whose `config_stamp` before it
    was loaded is `stamp`); exit status 0 on a clean stop."""
    daemon = Daemon(settings, token, config_path=config, config_stamp=stamp)
    stop_on_signals(daemon.stop)
    asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, daemon.request_reload)
    return await daemon.run()
