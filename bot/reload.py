"""A config changed while running: the watch on its file (`watch_config`), what differs
(`diff`, pure) and handing it to the parts; and what the running parts take from a config (the
topics subscribers pick from, the delivery worker's settings).

The watch covers the config's folder (editors that save by renaming a new file over the old one
are seen), and each wake, by an event or a second's quiet, also compares the file's stamp with
the one last read: an edit saved before the watch began is applied too. When the folder itself
is replaced (a deploy that moves a new folder in; a Kubernetes ConfigMap update, which swaps the
`..data` link its `config.yaml` goes through) or the config's link points elsewhere, the watch
starts again on the folder the config lives in now. A reload reads the file only once it has
gone `SETTLE` seconds unchanged (`settled`), so a file being written is not read half-way.

A change of feeds reschedules them (and, where a removed feed was one chats' watches name with
`source:`, the admins hear how many), of topics recompiles them (and, where a query changed,
the admins hear what it gains and loses), of channels re-subscribes them;
everything else the parts read from the new config. The keys in `RESTART_KEYS` are read once,
at start: a change to them is reported, not applied. What the new config holds that is likely
not meant, and the old did not (`new_warnings`), is logged and told the admins.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import unicodedata
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import watchfiles

from bot.config import Config, Stamp, config_stamp, placed_warnings
from bot.config.errors import PlacedWarning
from bot.config.quoted import quoted_about
from bot.delivery.limits import DeliverySettings
from bot.delivery.worker import DeliveryWorker
from bot.i18n import (
    N_,
    Joined,
    Message,
    Number,
    Plural,
    Quoted,
    Said,
    Value,
    Values,
    counts_listed,
)
from bot.telegram.context import BotContext
from store import AsyncStore, Store
from watchers.config import FeedConfig
from watchers.config_checks import WarningValue, Words, config_warnings, english
from watchers.feed_jobs import FeedScheduler
from watchers.poll import Poller
from watchers.poll_state import current_state
from watchers.poll_timing import retry_hold
from watchers.topics.compile import Topic
from watchers.topics.query import Meta, QueryError, parse
from watchers.topics.sources import unknown_sources

log = logging.getLogger(__name__)

RESTART_KEYS: tuple[tuple[str, Callable[[Config], object]], ...] = (
    ("store.path", lambda c: c.store.path),
    ("telegram.token_env", lambda c: c.telegram.token_env),
    ("telegram.api_base_url", lambda c: c.telegram.api_base_url),
    ("delivery.concurrency", lambda c: c.delivery.concurrency),
    ("poll.concurrency", lambda c: c.poll.concurrency),
    ("poll.per_host", lambda c: c.poll.per_host),
    ("poll.timeout", lambda c: c.poll.timeout),
    ("poll.total_timeout", lambda c: c.poll.total_timeout),
    ("poll.max_bytes", lambda c: c.poll.max_bytes),
    ("metrics.listen", lambda c: c.metrics.listen),  # the listener starts once
)


@dataclass(frozen=True, slots=True)
class ConfigChange:
    """What differs between the running config and a new one."""

    added: tuple[FeedConfig, ...] = ()
    changed: tuple[FeedConfig, ...] = ()
    removed: tuple[str, ...] = ()  # feed ids
    topics: bool = False
    channels: bool = False
    restart: tuple[str, ...] = ()  # keys whose change needs a restart
    restart_edited: tuple[str, ...] = ()  # those of them this edit changed (the admins hear)
    queries: tuple[Mapping[str, str], Mapping[str, str]] | None = None  # (old, new) if they differ

    @property
    def feeds(self) -> bool:
        return bool(self.added or self.changed or self.removed)


def diff(old: Config, new: Config, started: Config | None = None) -> ConfigChange:
    """What `new` changes from `old`; what needs a restart, from the config the daemon
    `started` with (default `old`): an edit after one that needed it needs it still."""
    before = {f.id: f for f in old.feeds}
    after = {f.id: f for f in new.feeds}
    restart = tuple(key for key, read in RESTART_KEYS if read(started or old) != read(new))
    return ConfigChange(
        added=tuple(f for fid, f in after.items() if fid not in before),
        changed=tuple(
            f for f in new.feeds if f.id in before and _polled_anew(before[f.id], f, old, new)
        ),
        removed=tuple(fid for fid in before if fid not in after),
        topics=new.topics != old.topics,
        channels=new.channels != old.channels,
        restart=restart,
        # not a key edited back to its started value: it needs no restart any more
        restart_edited=tuple(
            k for k, read in RESTART_KEYS if k in restart and read(old) != read(new)
        ),
        queries=(_queries(old), _queries(new)) if _queries(old) != _queries(new) else None,
    )


def union(change: ConfigChange, also: ConfigChange) -> ConfigChange:
    """`change`, and what `also` (to the same config, from another) changes besides: after a
    reload that failed part-way, each part holds the config before it or the one that failed,
    so the next applies what differs from either (an edit taken back left the feed it added
    polled). The queries compared stay `change`'s, from the config before."""
    ids = {f.id for f in (*change.added, *change.changed)}
    return replace(
        change,
        changed=change.changed + tuple(f for f in (*also.added, *also.changed) if f.id not in ids),
        removed=tuple(dict.fromkeys((*change.removed, *also.removed))),
        topics=change.topics or also.topics,
        channels=change.channels or also.channels,
    )


def _polled_anew(before: FeedConfig, feed: FeedConfig, old: Config, new: Config) -> bool:
    """The feed changed, or the `poll:` defaults it is polled by did: `poll.interval` for a
    feed without its own, `poll.max_interval` for an adaptive one."""
    return (
        before != feed
        or (feed.interval is None and old.poll.interval != new.poll.interval)
        or (feed.adaptive and old.poll.max_interval != new.poll.max_interval)
    )


def new_warnings(old: Config, new: Config, path: Path | None) -> list[PlacedWarning]:
    """The warnings of `new` (`watchers.config_checks`) that the running config did not have,
    named with their lines: a reload says what an edit made likely wrong, not what it kept."""
    if path is None:  # read once at start (a pipe): nothing is re-read
        return []
    known = {w.about for w in config_warnings(old.feeds, old.topics, old.poll)}
    # how the running config's queries were quoted is not kept: one unchanged is no news
    known |= {quoted_about(tid, topic.query) for tid, topic in old.topics.items()}
    return placed_warnings(new, path, known)


def said_warning(warning: PlacedWarning) -> Value:
    """A warning as the reader's language says it: its place in the reader's words, its file,
    numbers and key path as written (as `check` prints them), its why translated, its numbers
    written as the reader's language writes them; in English, `check`'s line byte for byte
    (but for a count of thousands, grouped: `check`'s "1000 times a second" of a 1ms interval
    is "1,000" here)."""
    if warning.more:
        return Said(
            Plural.ngettext(
                "{where}: {more} more warning like these",
                "{where}: {more} more warnings like these",
                "more",
            ),
            {"where": warning.where, "more": str(warning.more)},
        )
    values = {name: _said_value(value) for name, value in warning.values.items()}
    return Joined((warning.where, f": {warning.key}: ", Said(warning.why, values)), "run")


def _said_value(value: WarningValue) -> Value:
    """A warning's value for the reader: a number written in their language with the decimals
    `check` shows (0.5 → "0,5" in Russian), a query's words each in their quotation marks and
    listed as their language lists (`check`'s quotes in English), other text as it is."""
    if isinstance(value, str):
        return value
    if isinstance(value, Words):
        return Joined(tuple(Quoted(word, english=repr(word)) for word in value.words))
    return Number(value, len(english(value).partition(".")[2]))


def _queries(config: Config) -> dict[str, str]:
    return {tid: topic.query for tid, topic in config.topics.items()}


def config_topics(config: Config) -> tuple[Topic, ...]:
    """The topics subscribers pick from (chats' watches are matched apart, in the daemon)."""
    return tuple(Topic(tid, topic.title) for tid, topic in config.topics.items())


def delivery_settings(config: Config) -> DeliverySettings:
    """What the delivery worker takes from the config."""
    return DeliverySettings(
        link_previews=config.telegram.link_previews,
        deadline=config.delivery.deadline,
        max_backoff=config.delivery.max_backoff,
        limits=config.delivery,
        concurrency=config.delivery.concurrency,
        burst_digest=config.delivery.burst_digest,
        admins=config.telegram.admins,
        topic_titles={tid: t.title for tid, t in config.topics.items()},
    )


@dataclass
class Running:
    """The parts of a running daemon a new config is handed to (None: not started)."""

    feeds: FeedScheduler | None
    poller: Poller | None
    ctx: BotContext | None
    delivery: DeliveryWorker | None
    recompile: Callable[[Poller], Awaitable[None]]  # the configured topics, compiled again
    # records the channels; what the summary says of them (None: without Telegram)
    add_channels: Callable[[], Awaitable[Value]] | None
    # the reload report: backtests the old queries against the new over the items whose text
    # the store keeps (its retention), tells the admins and returns the counts for the summary
    # line (None: no store to read)
    report_queries: (
        Callable[[Mapping[str, str], Mapping[str, str], timedelta], Awaitable[tuple[Value, ...]]]
        | None
    ) = None
    # queues a notice to the admins (a msgid and its values), as the reload report does
    tell_admins: Callable[[Message, Values], Awaitable[None]] | None = None
    listen_port: int | None = None  # the port the HTTP listener is bound to (`listen`'s 0: any)


async def _retry_hold(parts: Running, feed: FeedConfig) -> datetime | None:
    """When the feed's server let it be polled again (its Retry-After, kept on the feed), if
    that is still ahead; a feed whose URL changed starts afresh (another server)."""
    if parts.poller is None:
        return None
    stored = await parts.poller.store.run(Store.feed_state, feed.id)
    return retry_hold(current_state(stored, feed), datetime.now(UTC))


async def apply(
    change: ConfigChange, new: Config, parts: Running, warned: Sequence[PlacedWarning] = ()
) -> Value:
    """Hand `new` to the running parts; what was done, in one line said in the reader's
    language (`EN.say` for the log), with the config's new `warned` (logged each as well)."""
    done: list[Value] = []
    if parts.feeds is not None:
        for fid in change.removed:
            parts.feeds.remove(fid)
        for feed in (*change.added, *change.changed):
            # polled now (a new feed's first poll primes it), unless its server asked to wait
            parts.feeds.add(feed, await _retry_hold(parts, feed))
    if change.feeds:
        counts = (len(change.added), len(change.removed), len(change.changed))
        numbers = dict(zip(("added", "removed", "changed"), map(str, counts), strict=True))
        done.append(Said(N_("feeds +{added} -{removed} ~{changed}"), numbers))
    topics = None  # where the topics' line is in `done`, for the report's counts
    if parts.poller is not None:
        parts.poller.settings = new.poll
        if change.topics:
            await parts.recompile(parts.poller)
            topics = len(done)
            done.append(Said(N_("topics {topics}"), {"topics": Joined(tuple(new.topics))}))
    if parts.ctx is not None:
        parts.ctx.topics = config_topics(new)
        parts.ctx.admins = frozenset(new.telegram.admins)
        parts.ctx.tz = new.telegram.tz
        parts.ctx.max_watches = new.telegram.max_watches
        # a new public_url, for the same listener (None: it is off, or could not listen)
        if "metrics.listen" not in change.restart and parts.ctx.feeds_url is not None:
            parts.ctx.feeds_url = new.metrics.feeds_url_on(parts.listen_port)
        parts.ctx.feeds = tuple((f.id, f.title or f.id) for f in new.feeds)
        parts.ctx.queries = {tid: t.query for tid, t in new.topics.items()}
    if parts.delivery is not None:
        parts.delivery.apply(delivery_settings(new))
        parts.delivery.tz = new.telegram.tz  # of the chats without their own /timezone
    if parts.add_channels is not None and change.channels:
        done.append(await parts.add_channels())
    if change.restart:
        restart = N_("a restart is needed for {keys}")
        done.append(Said(restart, {"keys": Joined(change.restart)}))
    if change.restart_edited and parts.tell_admins is not None:  # an edit saved unattended
        edited = N_(
            "kurilwatch: config applied; a restart is needed for {keys}, read only at start."
        )
        await parts.tell_admins(edited, {"keys": Joined(change.restart_edited)})
    if topics is not None and parts.report_queries is not None and change.queries is not None:
        # last, once every part has the config: the report reads the store and writes to it,
        # and a store that fails now (locked by another writer) must not stop the rest
        try:
            notes = await parts.report_queries(*change.queries, new.store.retention)
        except Exception as exc:
            log.warning("config applied, but not compared with the old queries", exc_info=True)
            problem = f"{type(exc).__name__}: {exc}"[:300]
            unread = N_("(not compared with the old queries: {problem})")
            notes = (Said(unread, {"problem": problem}),)
        done[topics] = Joined((done[topics], *notes), "words")
    if change.removed and new.feeds and parts.ctx is not None and parts.tell_admins is not None:
        # a removed (or renamed) feed's watches now match nothing; the store may fail, as above
        try:
            feeds = [f.id for f in new.feeds]
            stranded = await stranded_watches(parts.ctx.store, feeds, change.removed)
        except Exception:
            log.warning("config applied, but its removed feeds' watches not counted", exc_info=True)
        else:
            if stranded:
                message, values = stranded_notice(stranded)
                await parts.tell_admins(message, values)
                done.append(Said(N_("watches of removed feeds: {sources}"), values))
    for warning in warned:  # applied all the same, as `check` passes it
        log.warning("config: %s", warning.text)
    if warned:  # each why in the reader's language; the log's and `check`'s in English
        said = tuple(map(said_warning, warned))
        done.append(Said(N_("warnings: {warnings}"), {"warnings": Joined(said, "clauses")}))
        if parts.tell_admins is not None:  # however the reload came (an edit, SIGHUP, /reload)
            await parts.tell_admins(*warnings_notice(warned))
    return Joined(tuple(done), "clauses") if done else Said(N_("settings updated"))


def warnings_notice(warned: Sequence[PlacedWarning]) -> tuple[Message, dict[str, Value]]:
    """The admins' notice of the warnings a reload brought: its message and values (the first
    NOTICE_WARNINGS of them, `said_warning`, and how many more, counted in the admin's
    language, a config's line "N more like these" as N; `kurilwatch check` lists every one)."""
    named = [w for w in warned if not w.more]
    total = len(named) + sum(w.more for w in warned)
    shown = tuple(map(said_warning, named[:NOTICE_WARNINGS]))
    values: dict[str, Value] = {"warnings": Joined(shown, "lines")}
    if total <= NOTICE_WARNINGS:
        return N_(
            "kurilwatch: config applied, but it holds what is likely not meant (file, line, key:"
            " why):\n{warnings}"
        ), values
    return Plural.ngettext(
        "kurilwatch: config applied, but it holds what is likely not meant (file, line, key:"
        " why):\n{warnings}\n(+{more} more warning: `kurilwatch check` lists every one)",
        "kurilwatch: config applied, but it holds what is likely not meant (file, line, key:"
        " why):\n{warnings}\n(+{more} more warnings: `kurilwatch check` lists every one)",
        "more",
    ), values | {"more": str(total - NOTICE_WARNINGS)}


async def stranded_watches(
    store: AsyncStore, feeds: Sequence[str], removed: Sequence[str]
) -> dict[str, int]:
    """How many of the active chats' watches need each `source:` that is none of `feeds` now
    and was one of the `removed` (a reload removed or renamed it), a watch counted under each
    it needs: read on the store thread, parsed on another."""
    queries = [
        w.query
        for w in await store.run(Store.watches)
        if "source:" in unicodedata.normalize("NFKC", w.query)  # as the lexer reads ｓｏｕｒｃｅ：
    ]
    return await asyncio.to_thread(_stranded, queries, feeds, removed)


def _stranded(
    queries: Sequence[str], feeds: Sequence[str], removed: Sequence[str]
) -> dict[str, int]:
    counts: Counter[str] = Counter()
    for query in queries:
        with contextlib.suppress(QueryError):  # /watches says why it no longer parses
            # each source it needs, not a `-source:` of it: `kuril -source:tass-ru` matches
            # with tass-ru gone
            for source in unknown_sources(parse(query), feeds):
                if any(Meta("source", source).holds({"source": f}) for f in removed):
                    counts[source] += 1
    return dict(counts)


def stranded_notice(watches: Mapping[str, int]) -> tuple[str, dict[str, Value]]:
    """The admins' notice of the chats' watches whose `source:` a reload's feeds no longer
    have: a msgid and its values (how many watches of each source, listed as each admin's
    language lists)."""
    sources = counts_listed(sorted(watches.items()))
    return N_(
        "kurilwatch: chats' watches name feeds the config no longer has (source:, watches):"
        " {sources}. The parts of them that need those feeds match nothing now (the whole watch,"
        " or one of its alternatives); /watches flags them to their chats, and putting the feed"
        " id back restores them."
    ), {"sources": sources}


NOTICE_WARNINGS = 10  # a reload's warnings named in the admins' notice, at most
WATCH_TIMEOUT_MS = 1_000  # the watch wakes this often without an event
SETTLE = 2.0  # seconds a config must have gone unchanged before a reload reads it
SETTLE_LIMIT = 30.0  # the longest a reload waits for a file that keeps changing


async def settled(config: Path, settle: float = SETTLE) -> Stamp | None:
    """Return once `config` has gone `settle` seconds without a change (by its modification
    time), or after SETTLE_LIMIT seconds: a file being saved by truncating it and writing it
    again, or copied over in parts, is not read half-way, when a half of it may be valid
    YAML that drops topics, feeds or a channel's subscriptions. Returns the stamp it judged
    by (None: no file), for the caller to tell a change after it."""
    loop = asyncio.get_running_loop()
    give_up = loop.time() + max(SETTLE_LIMIT, settle)
    told = False
    while (stamp := await asyncio.to_thread(config_stamp, config)) is not None:
        age = time.time() - stamp[1] / 1e9
        left = give_up - loop.time()
        if age >= settle or left <= 0:
            return stamp
        if not told:
            log.info("config %s is being written; reading it once it stays unchanged", config)
            told = True
        await asyncio.sleep(min(settle - age, left))
    return None


async def watch_config(
    config: Path,
    stop: asyncio.Event,
    reload: Callable[[], Awaitable[object]],
    last_read: Callable[[], Stamp | None],
) -> None:
    """Call `reload` (which never raises) whenever `config` differs from the file last read
    (`last_read`: its stamp), until `stop` is set."""
    while not stop.is_set():
        path = await asyncio.to_thread(_resolved, config)
        folder = None if path is None else await asyncio.to_thread(_identity, path.parent)
        if path is None or folder is None:  # no folder (yet), a link loop: it may come right
            await _changed(config, reload, last_read)
            await _quiet(stop)
            continue
        try:
            async for changes in watchfiles.awatch(
                path.parent,
                watch_filter=None,
                debounce=300,
                step=50,
                stop_event=stop,
                recursive=False,
                rust_timeout=WATCH_TIMEOUT_MS,
                yield_on_timeout=True,
            ):
                edited = any(Path(changed).name == path.name for _, changed in changes)
                await _changed(config, reload, last_read, edited)
                if await asyncio.to_thread(_moved, config, path, folder):
                    break  # watch the folder the config lives in now
        except (OSError, RuntimeError) as exc:  # no inotify here: SIGHUP and /reload still work
            log.warning("not watching %s for changes: %s", path, exc)
            return


async def _changed(
    config: Path,
    reload: Callable[[], Awaitable[object]],
    last_read: Callable[[], Stamp | None],
    edited: bool = False,
) -> None:
    stamp = await asyncio.to_thread(config_stamp, config)
    if edited or stamp != last_read():
        await reload()


async def _quiet(stop: asyncio.Event) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), WATCH_TIMEOUT_MS / 1000)


def _identity(folder: Path) -> tuple[int, int] | None:
    try:
        status = folder.stat()
    except OSError:
        return None
    return status.st_dev, status.st_ino


def _resolved(config: Path) -> Path | None:
    """Where `config` leads; None while it leads nowhere: a link that points at itself, even
    for a moment (Python 3.11's resolve raises RuntimeError), ended the watch for good."""
    try:
        return config.resolve()
    except (OSError, RuntimeError):
        return None


def _moved(config: Path, path: Path, folder: tuple[int, int]) -> bool:
    """True when `config` no longer resolves to `path`, in the folder that was watched."""
    now = _resolved(config)
    return now is None or now != path or _identity(path.parent) != folder
