"""A chat's own alerts: /watch (with its preview of the last 30 days), /watches, /unwatch and
/mywatch (the watches' Atom feed); its lookups, /latest and /search, are in `lookups`."""

from __future__ import annotations

import asyncio
import contextlib
import unicodedata
from collections.abc import Sequence

from telegram import Update
from telegram.ext import ContextTypes

from bot.i18n import Texts, cut, listed, quoted, reason
from bot.telegram import guards
from bot.telegram.context import (
    args_of,
    changing_chat,
    ctx_of,
    esc,
    feed_ids,
    may_change,
    reply,
    texts_of,
)
from bot.telegram.previews import preview_of
from store import Store, Watch
from watchers import bounded
from watchers.config_checks import operator_words
from watchers.topics.query import Node, QueryError, parse
from watchers.topics.sources import NoFeed, no_feed

MAX_QUERY = 300
MAX_WATCH_NUMBER = 10**6  # larger numbers are no watch's
MAX_FEEDS_SHOWN = 20  # feed ids named when a watch's source: is none of them


def _problems(queries: Sequence[str], feeds: Sequence[str]) -> list[QueryError | NoFeed | None]:
    """Why each query matches nothing, or less than it says, or None: why it no longer parses
    (saved under an older query language or looser limits: the daemon skips it), or the
    `source:` it needs that is none of `feeds` (a feed removed or renamed since), for the whole
    query or one of its alternatives; no feeds: any source may be named."""
    found: list[QueryError | NoFeed | None] = []
    for query in queries:
        try:
            tree = parse(query)
        except QueryError as exc:
            found.append(exc)
        else:
            missing = no_feed(tree, feeds) if feeds else None
            # `kuril -source:tass-ru` still matches what it says once tass-ru is gone
            found.append(None if missing is None or missing.reach == "left_out" else missing)
    return found


def _no_feed(missing: NoFeed, feeds: Sequence[str], tr: Texts) -> str:
    shown = [f"<code>{esc(f)}</code>" for f in feeds[:MAX_FEEDS_SHOWN]]
    more = ["…"] if len(feeds) > MAX_FEEDS_SHOWN else []
    values = {"source": esc(quoted(missing.source, tr=tr)), "feeds": listed(tr, shown + more)}
    if missing.reach == "left_out":  # `-source:tass-ru`: the watch matches, leaving nothing out
        return tr._(
            "No feed is {source}: leaving it out would change nothing. Feeds: {feeds}.", **values
        )
    if missing.reach == "part":  # `a OR (b source:tass-ru)`: `a` still matches
        return tr._(
            "No feed is {source}: the part of that watch that names it would never match."
            " Feeds: {feeds}.",
            **values,
        )
    return tr._("No feed is {source}: that watch would never match. Feeds: {feeds}.", **values)


def same_query(watched: Sequence[str], query: str) -> int | None:
    """The position in `watched` of a query that is `query` once both are read as the query
    language reads them (spaces, capitals where they do not count, NFKC forms), or None;
    `query` parses, and a saved query that no longer parses is no match."""
    wanted = parse(query)
    for n, other in enumerate(watched):
        try:
            if parse(other) == wanted:
                return n
        except QueryError:
            continue
    return None


# direction controls (marks, embeddings, overrides, isolates), which a pasted query may carry
_BIDI = dict.fromkeys(
    map(ord, "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
)


def _visible(query: str) -> str:
    """`query` with its invisible format characters (zero-width space, direction overrides)
    shown as �, one character each, so the pointer under it stays in its column: a
    right-to-left override turned the rest of the line around."""
    return "".join("\ufffd" if unicodedata.category(c) == "Cf" else c for c in query)


async def numbered(watches: Sequence[Watch], tr: Texts, feeds: Sequence[str]) -> str:
    """The watches, numbered as /unwatch takes them; one that no longer parses says why, and
    one whose `source:` is none of the config's `feeds` names them (parsed on a worker
    thread)."""
    problems = await asyncio.to_thread(_problems, [w.query for w in watches], feeds)
    lines = []
    for n, (watch, problem) in enumerate(zip(watches, problems, strict=True), 1):
        line = f"{n}. <code>{esc(watch.query)}</code>"
        if isinstance(problem, NoFeed):
            line += " ⚠️ " + _no_feed(problem, feeds, tr)
        elif problem is not None:
            why = reason(problem, tr)
            line += " ⚠️ " + esc(
                tr._("not watched any more: {problem}; /unwatch it and write it anew", problem=why)
            )
        lines.append(line)
    return "\n".join(lines)


async def watch(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    ctx = ctx_of(context)
    tr = await texts_of(update, context)
    query = " ".join(args_of(context)).strip()
    if not query:
        await reply(
            update,
            tr._("Write what to watch for, in the topic query language, for example:")
            + "\n<code>/watch Shikotan OR Шикотан OR 色丹</code>\n"
            '<code>/watch "peace treaty" AND Motegi</code>\n'
            "<code>/watch Shikotan lang:en</code>",
        )
        return
    if len(query) > MAX_QUERY:
        await reply(
            update,
            tr._("That query is too long: keep it under {n} characters.", n=MAX_QUERY),
        )
        return
    try:
        tree = parse(query)
        if (plain := query.translate(_BIDI).strip()) != query and plain:
            # pasted with direction controls: the matcher ignores them, but echoed and listed
            # they turn the rest of the line around; kept without them (as they parse alike)
            with contextlib.suppress(QueryError):
                tree, query = parse(plain), plain
    except QueryError as exc:
        pointer = " " * (exc.column - 1) + "^"
        problem = reason(exc, tr)
        problem = tr._("column {column}: {problem}", column=exc.column, problem=problem)
        await reply(
            update,
            tr._("I can't read that query: {problem}", problem=esc(problem))
            + f"\n<pre>{esc(_visible(query))}\n{pointer}</pre>",
        )
        return
    feeds = feed_ids(ctx)
    if feeds and (missing := no_feed(tree, feeds)):  # a typo, likely, even under NOT
        await reply(update, _no_feed(missing, feeds, tr))
        return
    chat_id = await changing_chat(update, context)
    if chat_id is None:
        return
    mine = await ctx.store.run(Store.watches, chat_id)
    same = await asyncio.to_thread(same_query, [w.query for w in mine], query)
    if same is not None:  # nothing stored, and no second alert of each story
        listed = (await numbered(mine, tr, feeds)).split("\n")[same]
        # previewed again: the way to ask for a preview that was skipped while the bot was busy
        shown = await preview_of(ctx, mine[same].query, tr)
        if guards.in_group(update):
            already = tr._("This group already watches this query (/watches lists them):")
        else:
            already = tr._("You already watch this query (/watches lists your watches):")
        await reply(update, f"{already}\n{listed}\n\n{shown}")
        return
    group = guards.in_group(update)
    if len(mine) >= ctx.max_watches:  # refused before its preview is paid for
        await reply(update, _full(len(mine), ctx.max_watches, tr, group))
        return
    shown = await preview_of(ctx, query, tr)
    added = await ctx.store.run(
        Store.add_watch, chat_id, query, now=ctx.clock(), limit=ctx.max_watches
    )
    if added is None:  # another /watch of the chat's took the last place meanwhile
        count = len(await ctx.store.run(Store.watches, chat_id))
        await reply(update, _full(count, ctx.max_watches, tr, group))
        return
    if ctx.watches_changed is not None:
        await ctx.watches_changed(added, None)
    code = f"<code>{esc(query)}</code>"
    if group:
        lists = tr._("/watches lists this group's watches.")
    else:
        lists = tr._("/watches lists your watches.")
    watching = tr._(
        "Watching for {query}. New stories that match come here, like topic alerts.", query=code
    )
    await reply(update, tr.sentences(watching, lists) + f"\n\n{shown}" + _operator_hint(tree, tr))


def _full(count: int, most: int, tr: Texts, group: bool) -> str:
    """Why a chat of `count` watches (a `group`'s: named so) may not add one: the limit
    `most` may have been lowered below what it has (its watches are kept), and then it must
    remove more than one."""
    if most <= 0:
        return tr._("The bot's operator allows no watches.")
    if count <= most:
        if group:
            has = tr.ngettext(
                "This group has {n} watch, the most a chat may have.",
                "This group has {n} watches, the most a chat may have.",
                count,
            )
        else:
            has = tr.ngettext(
                "You have {n} watch, the most a chat may have.",
                "You have {n} watches, the most a chat may have.",
                count,
            )
        return tr.sentences(has, tr._("Remove one with /unwatch first (/watches lists them)."))
    if group:
        has = tr.ngettext(
            "This group has {n} watch; the most a chat may have is {most}.",
            "This group has {n} watches; the most a chat may have is {most}.",
            count,
            most=most,
        )
    else:
        has = tr.ngettext(
            "You have {n} watch; the most a chat may have is {most}.",
            "You have {n} watches; the most a chat may have is {most}.",
            count,
            most=most,
        )
    return tr.sentences(
        has,
        tr.ngettext(
            "Remove {n} with /unwatch first (/watches lists them).",
            "Remove {n} with /unwatch first (/watches lists them).",
            count - most + 1,
        ),
    )


def _operator_hint(tree: Node, tr: Texts) -> str:
    """`/watch Shikotan or Kunashir` wants all three words: say so where it is likely a slip."""
    words = operator_words(tree)
    if not words:
        return ""
    return "\n\n" + tr.ngettext(
        "{words} is read as a word a story must contain; the operators are written in"
        " capitals: AND, OR, NOT.",
        "{words} are read as words a story must contain; the operators are written in"
        " capitals: AND, OR, NOT.",
        min(len(words), 2),  # no number is shown: Russian's form for 21 is the one for 1
        words=listed(tr, (f"<code>{esc(w)}</code>" for w in words)),
    )


async def watches(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    ctx = ctx_of(context)
    tr = await texts_of(update, context)
    chat = update.effective_chat
    if chat is None:
        return
    mine = await ctx.store.run(Store.watches, chat.id)
    group = chat.type in guards.GROUPS  # its watches are the group's, changed by its admins
    if not mine:
        if group:
            text = tr._(
                "This group has no watches yet; its admins add them with"
                " <code>/watch &lt;query&gt;</code>."
            )
        else:
            text = tr._("You have no watches. Add one with <code>/watch &lt;query&gt;</code>.")
        await reply(update, text)
        return
    if group:
        head = tr._(
            "<b>This group's watches</b> ({n} of {most})", n=len(mine), most=ctx.max_watches
        )
    else:
        head = tr._("<b>Your watches</b> ({n} of {most})", n=len(mine), most=ctx.max_watches)
    if await guards.sets_up(update, context):
        change = tr._("Remove one with <code>/unwatch &lt;n&gt;</code>.")
    else:
        change = tr._("This group's admins add watches with /watch and remove them with /unwatch.")
    await reply(
        update,
        head
        + f"\n{await numbered(mine, tr, feed_ids(ctx))}\n\n"
        + change
        + ("\n" + _as_a_feed(tr, group) if ctx.feeds_url else ""),
    )


def _as_a_feed(tr: Texts, group: bool) -> str:
    if group:  # its members' readers, not the sender's
        return tr._("/mywatch gives their stories as an Atom feed.")
    return tr._("/mywatch gives their stories as a feed for your reader.")


async def mywatch(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The link to the chat's own Atom feed of what its watches matched, at an unguessable
    address (the token is the only secret; `/mywatch new` replaces it, /stop forgets it)."""
    ctx = ctx_of(context)
    tr = await texts_of(update, context)
    chat = update.effective_chat
    args = args_of(context)
    if chat is None:
        return
    if ctx.feeds_url is None:
        await reply(
            update,
            tr._("The bot is still starting: send /mywatch again in a few seconds.")
            if ctx.feeds_soon
            else tr._("Feeds are off on this bot (the operator has not set metrics.listen)."),
        )
        return
    renew = [a.lower() for a in args] == ["new"]
    group = guards.in_group(update)
    if args and not renew:
        value = esc(quoted(" ".join(args), tr=tr))
        if group:
            text = tr._(
                "{value} is not something /mywatch takes. Write /mywatch for this group's feed's"
                " address, or <code>/mywatch new</code> for a new one (the old one stops"
                " working).",
                value=value,
            )
        else:
            text = tr._(
                "{value} is not something /mywatch takes. Write /mywatch for your feed's address,"
                " or <code>/mywatch new</code> for a new one (the old one stops working).",
                value=value,
            )
        await reply(update, text)
        return
    if renew:
        if not await may_change(update, context):
            return
        await ctx.store.run(Store.forget_feed_token, chat.id)
    if not await ctx.store.run(Store.watches, chat.id):
        if group:
            text = tr._(
                "This group has no watches yet: its admins add them with"
                " <code>/watch &lt;query&gt;</code>, and their stories will be in its feed."
            )
        else:
            text = tr._(
                "You have no watches yet: add one with <code>/watch &lt;query&gt;</code>, and its"
                " stories will be in your feed."
            )
        await reply(update, text)
        return
    token = await ctx.store.run(Store.feed_token, chat.id, now=ctx.clock())
    url = f"<code>{esc(f'{ctx.feeds_url}/w/{token}.atom')}</code>"
    if group:
        text = tr._(
            "The latest 50 stories this group's watches matched, as an Atom feed:\n{url}\nKeep"
            " the address within the group: anyone with it can read the feed.",
            url=url,
        )
    else:
        text = tr._(
            "The latest 50 stories your watches matched, as an Atom feed for your reader:\n"
            "{url}\nKeep the address to yourself: anyone with it can read the feed.",
            url=url,
        )
    if renew:
        after = tr._("The old address no longer works.")
    elif group and not await guards.sets_up(update, context):  # `new` answers a member "no"
        after = tr._(
            "If it leaks, an admin of this group can replace it with <code>/mywatch new</code>."
        )
    else:
        after = tr._("If it leaks, <code>/mywatch new</code> gives you a new one.")
    await reply(update, f"{text}\n{after}")


async def unwatch(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    ctx = ctx_of(context)
    tr = await texts_of(update, context)
    chat = update.effective_chat
    args = args_of(context)
    if chat is None:
        return
    number = bounded.clamped(args[0], MAX_WATCH_NUMBER) if len(args) == 1 else None
    if number is None and args:
        await reply(
            update,
            tr._(
                "{value} is not a watch number. Write <code>/unwatch 2</code>; /watches numbers"
                " them.",
                value=esc(quoted(" ".join(args), tr=tr)),
            ),
        )
        return
    if number is None:
        await reply(
            update, tr._("Which one? Write <code>/unwatch 2</code>; /watches numbers them.")
        )
        return
    if not await may_change(update, context):
        return
    removed = await ctx.store.run(Store.remove_watch, chat.id, number)
    if removed is None:
        said = {"number": esc(cut(args[0])), "n": len(await ctx.store.run(Store.watches, chat.id))}
        if guards.in_group(update):
            text = tr._(
                "There is no watch number {number}: this group has {n}. /watches lists them.",
                **said,
            )
        else:
            text = tr._(
                "There is no watch number {number}: you have {n}. /watches lists them.", **said
            )
        await reply(update, text)
        return
    if ctx.watches_changed is not None:
        await ctx.watches_changed(None, removed)
    code = f"<code>{esc(removed.query)}</code>"
    await reply(update, tr._("Stopped watching for {query}.", query=code))


HANDLERS = {
    "watch": watch,
    "watches": watches,
    "mywatch": mywatch,
    "unwatch": unwatch,
}
