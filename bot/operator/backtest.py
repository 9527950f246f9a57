"""`kurilwatch backtest` and the reload notice: what a change of topic queries gains and loses
over the stored items of a period, printed for people or as JSON, or counted for the admins."""

from __future__ import annotations

import asyncio
import json
import re
import sys
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any, TextIO

from bot.config import Config
from bot.i18n import N_, Joined, Message, Plural, Said, Span, Value, Values, counts_listed
from bot.interrupt import open_store
from store import AsyncStore, PastItem, Store
from watchers.backtest import StoryChange, TopicDiff, backtest
from watchers.text import counted

RELOAD_WINDOW = timedelta(days=7)  # a reload re-matches this much of the store, off the loop


def queries(settings: Config) -> dict[str, str]:
    return {tid: t.query for tid, t in settings.topics.items()}


def recent_items(store: Store, since: datetime) -> list[PastItem]:
    """The period's items in one read (a store verb for the daemon's store thread)."""
    return list(store.past_items(since))


async def report_reload(
    store: AsyncStore,
    tell_admins: Callable[[Message, Values], Awaitable[None]],
    old: Mapping[str, str],
    new: Mapping[str, str],
    retention: timedelta = RELOAD_WINDOW,
) -> tuple[Value, ...]:
    """What the changed queries gain and lose over the recent stored items (read on the store
    thread, matched on another): the last RELOAD_WINDOW, or the `retention` of items' text if
    shorter; the admins hear it with "applied", and of the removed (or renamed) topics chats
    are subscribed to. The counts, for the reload's summary (said in its reader's language)."""
    window = min(RELOAD_WINDOW, retention)
    items = await store.run(recent_items, datetime.now(UTC) - window)
    diffs = await asyncio.to_thread(backtest, items, old, new)
    if not diffs:
        return ()
    await tell_admins(*reload_notice(diffs, window))
    counts: dict[str, Value] = {
        "period": Span(window.total_seconds()),
        "counts": Joined(tuple(d.counts() for d in diffs)),
    }
    said: tuple[Value, ...] = (Said(N_("(last {period}: {counts})"), counts),)
    orphaned = await store.run(Store.subscribers_of, [t for t in old if t not in new])
    if any(orphaned.values()):
        message, values = orphans_notice(orphaned)
        await tell_admins(message, values)
        said += (Said(N_("(removed with their chats: {topics})"), values),)
    return said


def _days(span: timedelta) -> str:
    return f"{span / timedelta(days=1):.3g}"


def run_backtest(
    new: Config, against: Config, *, days: int, as_json: bool, out: TextIO = sys.stdout
) -> int:
    if not against.store.path.exists():
        # opening it would make an empty store, whose "+0 gained, -0 lost" looks like a verdict
        print(
            f"kurilwatch backtest: no store at {against.store.path} (store.path of --against):"
            " nothing to re-match; give --against the running daemon's config",
            file=sys.stderr,
        )
        return 2
    kept = against.store.retention
    covered = min(timedelta(days=days), kept)
    if covered < timedelta(days=days):
        # older items have lost their text: a backtest cannot match them, so it covers less
        print(
            f"kurilwatch backtest: items' text is kept {_period(kept)} (store.retention);"
            f" the backtest covers that, not {_period(timedelta(days=days))}",
            file=sys.stderr,
        )
    since = datetime.now(UTC) - covered
    with open_store(against.store.path, upgrade=False) as store:
        diffs = backtest(store.past_items(since), queries(against), queries(new))
        # a removed (or renamed) topic's chats get nothing: subscriptions follow the id
        chats = store.subscribers_of([d.topic_id for d in diffs])
    if as_json:
        whole = covered % timedelta(days=1) == timedelta(0)
        shown: float = covered.days if whole else round(covered / timedelta(days=1), 3)
        topics = [{**_json(d), "subscribers": chats[d.topic_id]} for d in diffs]
        json.dump({"days": shown, "topics": topics}, out, ensure_ascii=False)
        out.write("\n")
        return 0
    if not diffs:
        print("No topic query differs between the two configs.", file=out)
        return 0
    for diff in diffs:
        print(
            f"{diff.topic_id} ({diff.status}), last {_period(covered)}:"
            f" +{len(diff.gained)} gained,"
            f" -{len(diff.lost)} lost, {diff.unchanged} unchanged",
            file=out,
        )
        if diff.status == "removed" and chats[diff.topic_id]:
            print(
                f"  {counted(chats[diff.topic_id], 'chat', 'chats')} subscribed to {diff.topic_id}"
                " get none of its"
                " alerts (subscriptions follow the topic id: keep it to keep them)",
                file=out,
            )
        for sign, changes in (("+", diff.gained), ("-", diff.lost)):
            for change in changes:
                print(_line(sign, change, new.telegram.tz), file=out)
    return 0


def _period(span: timedelta) -> str:
    """30 days, 1 day; 12h or 1d12h for a span of part days (store.retention: 36h)."""
    if span % timedelta(days=1):
        from watchers.config import format_duration

        return format_duration(span)
    return counted(span.days, "day", "days")


# what a feed's text must not send to the operator's terminal: control characters (an escape
# sequence retitles the window or recolours what follows, a line break forges a line) and the
# marks that turn the rest of a line around
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _line(sign: str, change: StoryChange, tz: tzinfo) -> str:
    """A story gained or lost, dated in `telegram.timezone` as the chats see it."""
    item = change.item
    why = ("matched: " if sign == "+" else "because: ") + ", ".join(change.terms)
    said, link = _printable(f"{item.outlet}: {item.title}"), _printable(item.link or "(no link)")
    return f"  {sign} {item.date.astimezone(tz):%Y-%m-%d} {said}\n      {link}  [{why}]"


def _printable(text: str) -> str:
    return _UNPRINTABLE.sub("\ufffd", text)


def _json(diff: TopicDiff) -> dict[str, Any]:
    def change(c: StoryChange) -> dict[str, Any]:
        return {
            "story_id": c.story_id,
            "title": c.item.title,
            "outlet": c.item.outlet,
            "date": c.item.date.isoformat(),
            "link": c.item.link,
            "terms": list(c.terms),
        }

    return {
        "topic": diff.topic_id,
        "status": diff.status,
        "gained": [change(c) for c in diff.gained],
        "lost": [change(c) for c in diff.lost],
        "unchanged": diff.unchanged,
    }


def reload_notice(
    diffs: Sequence[TopicDiff], window: timedelta = RELOAD_WINDOW
) -> tuple[Plural, dict[str, Value]]:
    """The admins' line after a reload that changed topic queries: its msgids (each admin reads
    it in their language, in the form for its days) and its values (the topics' counts joined
    as their language joins clauses: Japanese "；")."""
    counts = Joined(
        tuple(f"{d.topic_id}: +{len(d.gained)} -{len(d.lost)}" for d in diffs), "clauses"
    )
    unchanged = Joined(tuple(f"{d.topic_id}: {d.unchanged}" for d in diffs), "clauses")
    return Plural.ngettext(
        "kurilwatch: config applied. Topic queries over the last {days} day (stories"
        " gained/lost): {counts}; unchanged: {unchanged}. `kurilwatch backtest` lists them.",
        "kurilwatch: config applied. Topic queries over the last {days} days (stories"
        " gained/lost): {counts}; unchanged: {unchanged}. `kurilwatch backtest` lists them.",
        "days",
    ), {"days": _days(window), "counts": counts, "unchanged": unchanged}


def orphans_notice(chats: Mapping[str, int]) -> tuple[str, dict[str, Value]]:
    """The admins' line after a reload that removed (or renamed) topics chats subscribe to
    (how many chats each, listed as each admin's language lists)."""
    topics = counts_listed([(tid, n) for tid, n in chats.items() if n])
    return N_(
        "kurilwatch: the config no longer has topics that chats are subscribed to (chats):"
        " {topics}. They get none of their alerts now; subscriptions follow the topic id, so"
        " putting the id back restores them."
    ), {"topics": topics}
