"""The operator's commands: feeds, stats, prune, trend, check --online, poll --once and
stories (backup and restore: `bot.operator.store_files`).

Each is a function from the settings (and arguments) to an exit status, writing to stdout;
the daemon need not run, and when it does they read the same store beside it (SQLite WAL).
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from bot.cli import EXIT_USAGE
from bot.operator.json_lines import BadLine, cut_text, json_line, json_objects

# Each command imports what it needs (the store, the fetcher and its aiohttp, the poller) when
# it runs: `stories` and `match` read no store and fetch nothing, and `stats` fetches nothing,
# yet importing them all took 0.2 s of every command's start (0.09 s of `stats`)
if TYPE_CHECKING:
    from rich.console import Console

    from bot.config import Config
    from bot.i18n import Texts
    from store import FeedState, Stats
    from watchers.poll_report import PollReport
    from watchers.pool import ParsePool
    from watchers.topics.compile import Topics


def _console(out: TextIO) -> Console:
    from rich.console import Console  # rich is loaded only by the commands that draw

    terminal = out.isatty()
    return Console(
        file=out, width=None if terminal else 200, no_color=not terminal, highlight=False
    )


def feeds(settings: Config, out: TextIO = sys.stdout) -> int:
    """A health table of the configured feeds."""
    from rich.table import Table
    from rich.text import Text  # a feed's id and error are plain text, never markup

    from bot.delivery.render import ago  # with babel's catalogues: not for `poll --once`
    from bot.interrupt import open_store
    from store.base import file_in_the_way, no_store

    states: dict[str, FeedState] = {}
    items: dict[str, int] = {}
    absent = no_store(settings.store.path)
    if absent:  # the feeds as configured, every one new, and no empty store made
        print(f"kurilwatch feeds: {absent}", file=sys.stderr)
        if file_in_the_way(settings.store.path):
            return EXIT_USAGE
    else:
        with open_store(settings.store.path, upgrade=False) as store:
            states = {s.id: s for s in store.feed_states()}
            items = {f.id: store.count_items(f.id) for f in settings.feeds}
    now = datetime.now(UTC)
    table = Table("feed", "health", "last success", "errors", "next poll", "items", "last error")
    table.box = None
    moves: list[str] = []
    for index, feed in enumerate(settings.feeds):
        state = states.get(feed.id)
        if state is None:
            table.add_row(feed.id, "new", "never", "0", "at start", "0", "")
            continue
        if state.url != str(feed.url) and state.config_url == str(feed.url):
            moves.append(
                f"{feed.id}: moved permanently (HTTP 301/308) to {state.url}, polled there;"
                f" write it in feeds[{index}].url"
            )
        health = (
            "disabled" if state.disabled_reason else "failing" if state.consecutive_errors else "ok"
        )
        waits = state.retry_not_before is not None and state.retry_not_before > now
        asked = " (Retry-After)" if waits else ""  # the server's wait, not our backoff
        table.add_row(
            Text(feed.id),
            health,
            ago(state.last_success_at, now),
            str(state.consecutive_errors),
            "-" if state.disabled_reason else _next_poll(state.next_poll_at, now, ago) + asked,
            str(items[feed.id]),
            Text((state.disabled_reason or state.last_error or "")[:80]),
        )
    _console(out).print(table)
    for line in moves:  # whole, to be copied into the config
        print(line, file=out)
    return 0


def _next_poll(at: datetime | None, now: datetime, ago: Callable[..., str]) -> str:
    """ "in 3 min"; one a stopped daemon left in the past "due (4 min ago)"."""
    return f"due ({ago(at, now)})" if at is not None and at <= now else ago(at, now)


def stats_lines(figures: Stats, now: datetime, tr: Texts | None = None) -> list[str]:
    """The figures of /stats (in the admin's language, else English) and `kurilwatch stats`,
    as plain lines."""
    from bot.delivery.render import ago
    from bot.i18n import EN, N_, listed

    tr = EN if tr is None else tr
    # Translators: the states of /stats' "Deliveries: sent 5, failed 1" (of alerts and notices)
    names = {
        "pending": N_("pending"),
        "sending": N_("sending"),
        "sent": N_("sent"),
        "failed": N_("failed"),
        "dropped": N_("dropped"),
        "fanned": N_("fanned out"),
    }
    days = figures.stories_per_day.items()
    per_day = listed(tr, (f"{tr.month_day(date.fromisoformat(d))}: {n}" for d, n in days))
    states = sorted(figures.deliveries.items())
    deliveries = listed(tr, (f"{tr._(names.get(state, state))} {n}" for state, n in states))
    oldest = figures.oldest_queued
    return [
        tr._(
            "Subscribers: {active} active, {inactive} inactive; watches: {watches}",
            active=figures.active,
            inactive=figures.inactive,
            watches=figures.watches,
        ),
        tr._("Matched stories per day (UTC): ") + (per_day or tr._("none in 7 days")),
        tr._("Deliveries: ") + (deliveries or tr._("none yet")),
        tr._("Queue: {n} waiting", n=figures.queue)
        + (tr._(", the oldest queued {ago}", ago=ago(oldest, now, tr)) if oldest else ""),
    ]


def stats(settings: Config, out: TextIO = sys.stdout) -> int:
    from bot.interrupt import open_store
    from store.base import no_store

    absent = no_store(settings.store.path)
    if absent:
        print(f"kurilwatch stats: {absent}", file=sys.stderr)
        return EXIT_USAGE
    now = datetime.now(UTC)
    with open_store(settings.store.path, upgrade=False) as store:
        figures = store.stats(now=now)
    print("\n".join(stats_lines(figures, now)), file=out)
    return 0


def prune(settings: Config, out: TextIO = sys.stdout) -> int:
    from bot.interrupt import open_store
    from store.space import GIVE_BACK_PAUSE
    from watchers.text import counted
    from watchers.topics.normalise import words

    now = datetime.now(UTC)
    with open_store(settings.store.path) as store:
        compacted, deleted = store.prune(
            now=now,
            text_for=settings.store.retention,
            keys_for=settings.store.keys_retention,
        )
        store.prune_word_forms(words)  # the forms of words no watch has any more
        forgotten = store.forget_feeds([feed.id for feed in settings.feeds], now=now)
        freed = 0
        # a bounded step at a time, pausing between them: a running daemon's writes need not
        # wait for the whole of it
        while step := store.give_back_free_pages():
            freed += step
            time.sleep(GIVE_BACK_PAUSE)
        gives_back, (_, _, page_size) = store.gives_back(), store.file_pages()
    print(
        f"{counted(compacted, 'item', 'items')} older than {_period(settings.store.retention)}"
        f" compacted (their dedup keys kept), {deleted} older than"
        f" {_period(settings.store.keys_retention)} deleted",
        file=out,
    )
    if forgotten:
        feeds = counted(forgotten, "feed", "feeds")
        print(f"{feeds} the config no longer has, and no item names, forgotten", file=out)
    if freed:
        print(
            f"{freed * page_size / 1048576:.1f} MB of free pages given back to the file system",
            file=out,
        )
    elif not gives_back:
        print(
            "the store's file does not shrink after a prune (its auto-vacuum is not incremental);"
            " the daemon switches it at its next start if the disk has room for two copies of"
            f" the store, or stop kurilwatch and run `sqlite3 {settings.store.path}"
            " 'PRAGMA auto_vacuum = INCREMENTAL; VACUUM'`",
            file=out,
        )
    return 0


def _period(length: timedelta) -> str:
    """`90 days`, or `12h` for a length not of whole days (not `0 days`)."""
    from watchers.config import format_duration
    from watchers.text import counted

    whole = length % timedelta(days=1) == timedelta(0)
    return counted(length.days, "day", "days") if whole else format_duration(length)


async def check_online(settings: Config, out: TextIO = sys.stdout) -> int:
    """Fetch and parse each feed once (nothing is stored); 1 if any feed failed."""
    from watchers.fetch import Fetcher, FetchLimits
    from watchers.parse import parse_feed  # feedparser: only this command parses here
    from watchers.text import counted

    failed = 0
    async with Fetcher(FetchLimits.of(settings.poll)) as fetcher:
        results = await asyncio.gather(*(fetcher.fetch(str(f.url)) for f in settings.feeds))
    for feed, fetched in zip(settings.feeds, results, strict=True):
        if not fetched.ok or fetched.content is None:
            failed += 1
            print(f"  {feed.id}: FAILED ({fetched.error or fetched.status})", file=out)
            continue
        try:
            parsed = await asyncio.to_thread(
                parse_feed,
                fetched.content,
                feed_id=feed.id,
                url=fetched.url,
                headers=fetched.headers,
            )
        except Exception as exc:  # one line per feed, never a traceback
            failed += 1
            print(f"  {feed.id}: FAILED (cannot read it: {type(exc).__name__}: {exc})", file=out)
            continue
        if parsed.error:
            failed += 1
            print(f"  {feed.id}: FAILED ({parsed.error})", file=out)
        else:
            entries = counted(len(parsed.items), "entry", "entries")
            print(f"  {feed.id}: ok, HTTP {fetched.status}, {entries}", file=out)
    feeds = counted(len(settings.feeds), "feed", "feeds")
    print(f"{len(settings.feeds) - failed} of {feeds} answered", file=out)
    return 1 if failed else 0


@contextmanager
def _progress(total: int) -> Iterator[Callable[[], None]]:
    """A progress bar on a terminal; elsewhere (cron, scripts) nothing, and rich, 40 ms of
    imports, is not loaded. Yields the function that advances it."""
    if not sys.stderr.isatty():
        yield lambda: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn("polling"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=Console(file=sys.stderr), transient=True) as progress:
        task = progress.add_task("poll", total=total)
        yield lambda: progress.advance(task)


async def poll_once(
    settings: Config,
    feed_id: str | None,
    out: TextIO = sys.stdout,
    pool: ParsePool | None = None,
) -> int:
    """Poll every (or one) feed once; a progress bar on a terminal, one line per feed. `pool`:
    parse workers already starting (the caller closes it if this returns before polling)."""
    from store import AsyncStore, Store
    from watchers.fetch import Fetcher, FetchLimits
    from watchers.poll import Poller
    from watchers.pool import ParsePool

    chosen = [f for f in settings.feeds if feed_id is None or f.id == feed_id]
    if not chosen:
        known = ", ".join(f.id for f in settings.feeds) or "(none)"
        print(f"kurilwatch poll: no feed {feed_id!r}; feeds: {known}", file=sys.stderr)
        return EXIT_USAGE
    pool = pool or ParsePool("processes")
    # the workers start (spawned, unless `kurilwatch poll` forked them already) while the store
    # opens and the first requests wait
    warming = asyncio.create_task(pool.start())
    # and the topics compile on a thread meanwhile, with the Russian word forms a worker looked
    # up (`kurilwatch poll`), else loading pymorphy3's dictionaries here
    compiling = asyncio.create_task(_compiled(settings, pool))
    store = await AsyncStore(settings.store.path).open()
    try:
        async with Fetcher(FetchLimits.of(settings.poll)) as fetcher:
            poller = Poller(
                store=store,
                fetcher=fetcher,
                topics=await compiling,
                settings=settings.poll,
                pool=pool,
            )
            if await store.run(Store.any_watches):
                from watchers.watches import Watches  # filed only where there are watches

                # new items are matched against the chats' watches too, as in the daemon (its
                # polls treat an item stored here as known)
                loading = Watches().load(store)
                poller.watches_loading = asyncio.create_task(loading, name="load watches")
            await poller.load_stories()
            # naming one feed polls it even if it was disabled, and re-enables it on success
            force = feed_id is not None
            with _progress(len(chosen)) as advance:

                async def one(feed_index: int) -> PollReport:
                    report = await poller.poll(chosen[feed_index], force=force)
                    advance()
                    return report

                reports = await asyncio.gather(*(one(n) for n in range(len(chosen))))
            await warming
        for report in reports:
            print(report.line(), file=out, flush=True)
    finally:
        # together: the workers take 60 ms to exit, and closing the store checkpoints the
        # write-ahead log into the database file (70 ms after a first poll of 200 feeds)
        await asyncio.gather(pool.aclose(), store.close())
    return 0


async def _compiled(settings: Config, pool: ParsePool) -> Topics:
    from watchers.topics.compile import compile_topics

    await pool.receive_forms()
    return await asyncio.to_thread(compile_topics, settings.topics)


def _stories_fail(message: str) -> int:
    print(f"kurilwatch stories: {message}", file=sys.stderr)
    return EXIT_USAGE


def _report_problem(obj: dict[str, Any]) -> str | None:
    if "id" not in obj:
        return "missing key 'id'"
    if not isinstance(obj["id"], str | int | float) or isinstance(obj["id"], bool):
        return "'id' must be a string or a number: it names the story"
    for name in ("title", "published"):
        if name not in obj:
            return f"missing key '{name}'"
        if obj[name] is None:
            return f"'{name}' must be a string"
    for name in ("title", "published", "summary", "source", "link", "lang"):
        if obj.get(name) is not None and not isinstance(obj[name], str):
            return f"'{name}' must be a string"
    return None


def _published(text: str) -> datetime:
    """A report's time in UTC (UTC if it names no zone); a ValueError that says what is wrong."""
    try:
        # RFC 3339 allows a lower-case 'z' as well
        moment = datetime.fromisoformat(text[:-1] + "+00:00" if text[-1:] in "zZ" else text)
    except ValueError:
        raise ValueError(f"'published' is not an ISO 8601 time: {text!r}") from None
    if not moment.tzinfo:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+01:00 is before the calendar's first day in UTC
        raise ValueError(f"'published' is outside the years 1-9999 in UTC: {text!r}") from None


def story_lines(source: TextIO, out: TextIO, keys_retention: timedelta | None = None) -> int:
    """The `stories` contract: one JSON line out per JSON line in, in order; every report is
    taken as matched, and placed as the daemon places it (its URL keys kept `keys_retention`,
    the store's)."""
    from watchers.items import MAX_SUMMARY, MAX_TITLE, make_item
    from watchers.story_replay import StoryReplay

    replay = StoryReplay() if keys_retention is None else StoryReplay(keys_retention=keys_retention)
    lines = json_objects(source, "id, title and published")
    clock: datetime | None = None  # the daemon's fetch clock never goes back
    try:
        for number, obj in lines:
            problem = _report_problem(obj)
            if problem:
                return _stories_fail(f"line {number}: {problem}")
            try:
                published = _published(obj["published"])
            except ValueError as exc:
                return _stories_fail(f"line {number}: {exc}")
            if published > replay.latest:
                return _stories_fail(
                    f"line {number}: 'published' is later than {replay.latest:%Y-%m-%d}:"
                    f" {obj['published']!r}"
                )
            clock = published if clock is None else max(clock, published)
            named = replay.story_named(obj["id"], clock)
            # cut as the daemon keeps an item's: the model reads a text whole, about 0.4 ms a
            # character, so a 10 MB title took an hour
            item = make_item(
                feed_id="stories",
                guid=f"line-{number}",  # not read: no content key of the text
                link=obj.get("link") or None,
                title=cut_text(obj["title"], MAX_TITLE),
                summary=cut_text(obj.get("summary") or "", MAX_SUMMARY),
                published=published,
                lang=obj.get("lang"),
                source_name=obj.get("source"),
            )
            title, summary, link = (
                ("", "", "") if item is None else (item.title, item.summary, item.link or "")
            )
            story = replay.place(obj["id"], title, summary, clock, link)
            if named is not None and replay.last_story != named:  # a repeat joins its own
                return _stories_fail(
                    f"line {number}: id {obj['id']!r} is already the id of a report of a story"
                    " a later report may join, and this report is not of it; ids must be unique"
                )
            out.write(json_line({"id": obj["id"], "story": story}) + "\n")
            out.flush()  # a script feeding reports as they come waits for each answer
    except BadLine as exc:
        return _stories_fail(str(exc))
    out.flush()
    return 0


def trend(
    settings: Config,
    topic: str,
    days: int,
    *,
    png: Path | None,
    csv: Path | None,
    by: str = "lang",
    out: TextIO = sys.stdout,
) -> int:
    """Stories per day of a topic (in `telegram.timezone`) as a chart and/or a CSV file."""
    from bot.insights.trends import build_trend, query_range, to_csv
    from bot.interrupt import open_store
    from bot.operator.output_files import write_whole
    from store.base import no_store
    from watchers.text import counted

    if topic not in settings.topics:
        known = ", ".join(settings.topics)
        print(f"kurilwatch trend: no topic {topic!r}; topics: {known}", file=sys.stderr)
        return EXIT_USAGE
    if not 1 <= days <= 366:
        print("kurilwatch trend: --days must be between 1 and 366", file=sys.stderr)
        return EXIT_USAGE
    if png is None and csv is None:
        print("kurilwatch trend: give --png PATH, --csv PATH or both", file=sys.stderr)
        return EXIT_USAGE
    for target in (csv, png):
        if target is not None and not target.parent.is_dir():  # named before the store is read
            print(
                f"kurilwatch trend: cannot write {target}: no folder {target.parent}",
                file=sys.stderr,
            )
            return EXIT_USAGE
    absent = no_store(settings.store.path)
    if absent:
        print(f"kurilwatch trend: {absent}", file=sys.stderr)
        return EXIT_USAGE
    tz = settings.telegram.tz
    now = datetime.now(UTC)
    since, _ = query_range(now, tz, days)
    with open_store(settings.store.path, upgrade=False) as store:
        points = store.story_points([topic], since=since, until=now, outlets=False)
        recorded = store.recording_since()  # no change against a period it did not record
    chart = build_trend(points, now=now, tz=tz, days=days, by=by, recorded_since=recorded)
    writing = csv
    try:
        if csv is not None:
            write_whole(csv, to_csv(chart).encode("utf-8"))
        if png is not None:
            from bot.insights.charts import draw_trend

            writing = png
            write_whole(png, draw_trend(chart, title=settings.topics[topic].title))
    except OSError as exc:  # a folder that does not exist, a file that may not be written
        # (a full disk's error names no file)
        print(f"kurilwatch trend: cannot write {writing}: {exc.strerror}", file=sys.stderr)
        return EXIT_USAGE
    busiest = chart.busiest
    change = chart.change
    period = counted(days, "day", "days")
    print(
        f"{topic}: {counted(chart.total, 'story', 'stories')} in {period} to {chart.days[-1]}"
        f" ({chart.tz_name});"
        f" busiest day {busiest[0] if busiest else '-'} ({busiest[1] if busiest else 0});"
        + (
            f" {chart.previous_total} in the {period} before, to the same time of day"
            + ("" if change is None else f" ({change:+.0%})")
            if chart.compared
            else f" not compared with the {period} before (the store was not yet recording)"
        ),
        file=out,
    )
    return 0
