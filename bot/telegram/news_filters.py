"""What reaches a chat, and in which language: /language (the bot's), /lang (the news
languages) and /sources (outlets muted with a toggle keyboard)."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Sequence

from telegram import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.error import BadRequest
from telegram.ext import ContextTypes

from bot.i18n import LANGUAGE_NAMES, LANGUAGES, Texts, listed, quoted, texts
from bot.telegram.context import (
    BotContext,
    answer_text,
    args_of,
    changing_chat,
    ctx_of,
    esc,
    is_chat_admin,
    press_of,
    register,
    reply,
    texts_of,
)
from bot.telegram.pages import label_pressed, page_of, paged, turned_to
from store import Store
from watchers.language import NEWS_LANGUAGES

# a news-language button: under /start "nl:=ru" (only Russian) and "nl:=" (all); under /lang
# "nl:^ru" (toggle Russian) and "nl:*" (all), which redraw their keyboard
NEWS = "nl:"
SOURCE = "src:"  # a source button: "src:<feed id>", or "src#<hash>" for a long id
SOURCES_TURN = "srp:"  # a button that turns the sources' keyboard: "srp:<page>"


def _names(langs: Sequence[str], tr: Texts) -> str:
    return listed(tr, (tr.language_name(n) for n in langs if n in LANGUAGE_NAMES)) or tr._("all")


async def language_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/language en|ru|ja: the language the bot speaks in this chat."""
    ctx = ctx_of(context)
    tr = await texts_of(update, context)
    args = [a.lower() for a in args_of(context)]
    if args and (len(args) != 1 or args[0] not in LANGUAGES):
        await reply(
            update,
            tr._(
                "{value} is not a language I speak. Write <code>/language en</code>,"
                " <code>/language ru</code> or <code>/language ja</code>.",
                value=esc(quoted(" ".join(args_of(context)), tr=tr)),
            ),
        )
        return
    if not args:
        await reply(
            update,
            tr._(
                "I speak {current} here. Change it with <code>/language en</code>,"
                " <code>/language ru</code> or <code>/language ja</code>.",
                current=tr.own_name,
            ),
        )
        return
    chat_id = await changing_chat(update, context)
    if chat_id is None:
        return
    await ctx.store.run(Store.set_language, chat_id, args[0])
    new = texts(args[0])
    await reply(update, new._("I will speak {language} here.", language=new.own_name))


def marked(label: str, on: bool) -> str:
    """A choice's button: ✅ when it is the chat's now, ➕ when a press makes it so."""
    return f"{'✅' if on else '➕'} {label}"


def news_keyboard(chosen: Sequence[str], tr: Texts) -> InlineKeyboardMarkup:
    """A toggle per news language, and one for all of them."""
    buttons = [
        InlineKeyboardButton(
            marked(LANGUAGE_NAMES[lang], lang in chosen), callback_data=f"{NEWS}^{lang}"
        )
        for lang in NEWS_LANGUAGES
    ]
    every = InlineKeyboardButton(
        marked(tr._("all languages"), not chosen), callback_data=f"{NEWS}*"
    )
    return InlineKeyboardMarkup([buttons, [every]])


async def lang_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/lang ru en: the news languages this chat wants; /lang all: every one."""
    ctx = ctx_of(context)
    tr = await texts_of(update, context)
    # "/lang ru, en" and "/lang ru,en" too, as /subscribe takes "kuril,peace-treaty"
    args = [w for a in args_of(context) for w in a.lower().split(",") if w.strip()]
    if not args:
        prefs = (
            await ctx.store.run(Store.prefs, update.effective_chat.id)
            if update.effective_chat
            else None
        )
        chosen = prefs.news_langs if prefs else ()
        await reply(
            update,
            tr._(
                "News languages: {langs}. Write <code>/lang ru en</code> for news in Russian and"
                " English only, <code>/lang all</code> for every language, or tap below.",
                langs=esc(_names(chosen, tr)),
            ),
            markup=news_keyboard(chosen, tr),
        )
        return
    wanted = [] if args == ["all"] else list(dict.fromkeys(args))
    unknown = [a for a in wanted if a not in NEWS_LANGUAGES]
    if unknown:
        await reply(
            update,
            tr._(
                "{value} is not a news language. Write <code>/lang ru en</code> (of en, ru and"
                " ja), or <code>/lang all</code>.",
                value=esc(quoted(*unknown, tr=tr)),
            ),
        )
        return
    chat_id = await changing_chat(update, context)
    if chat_id is None:
        return
    await ctx.store.run(Store.set_news_langs, chat_id, wanted)
    await reply(update, _news_note(wanted, tr))


def _news_note(langs: Sequence[str], tr: Texts) -> str:
    if not langs:
        return tr._("News in every language will reach this chat.")
    return tr._(
        "Only news in {langs} will reach this chat; alerts, digests, /latest and /search"
        " follow it.",
        langs=esc(_names(langs, tr)),
    )


async def news_pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    press = await press_of(update, context)
    if press is None:
        return
    query, ctx, tr = press.query, press.ctx, press.tr
    spec = press.data.removeprefix(NEWS)
    if spec not in ("=", "*") and not (spec[:1] in "=^" and spec[1:] in NEWS_LANGUAGES):
        # forged, or of a language no longer offered: "nl:=de" read as "every language"
        await query.answer(tr._("That button is no longer in use; send /start again."))
        return
    if not await is_chat_admin(update, context):
        await query.answer(tr._("Only this group's admins can change its alerts and settings."))
        return
    await register(update, ctx)
    prefs = await ctx.store.run(Store.prefs, press.chat_id)
    chosen = list(prefs.news_langs) if prefs else []
    if spec.startswith("=") or spec == "*":
        chosen = [spec[1:]] if spec[1:] in NEWS_LANGUAGES else []
    elif spec.startswith("^") and spec[1:] in NEWS_LANGUAGES:
        lang = spec[1:]
        shown = label_pressed(query)  # ➕ means add it; two quick taps both add
        drop = lang in chosen if shown is None else shown.startswith("✅")
        every = label_pressed(query, f"{NEWS}*")  # "➕ all": its keyboard was of some of them
        if drop:
            chosen = [c for c in chosen if c != lang]
        elif chosen or every is None or every.startswith("✅"):
            chosen = list(dict.fromkeys([*chosen, lang]))
        # else an earlier tap made them all (this tap's "➕" was drawn before): all holds it
        if set(chosen) == set(NEWS_LANGUAGES):
            chosen = []
    await ctx.store.run(Store.set_news_langs, press.chat_id, chosen)
    await query.answer(answer_text(_news_note(chosen, tr)))
    markup = news_keyboard(chosen, tr) if spec[:1] in ("^", "*") else _started(query, chosen, tr)
    if markup is not None:
        with contextlib.suppress(BadRequest):  # "message is not modified" after a double tap
            await query.edit_message_reply_markup(markup)


def start_row(lang: str, tr: Texts, chosen: Sequence[str]) -> list[InlineKeyboardButton]:
    """The news-language offer under /start: the user's own language first, then all; the
    chat's choice marked, as /lang's keyboard marks it."""
    only = tr._("{language} news only", language=tr.language_name(lang))
    return [
        InlineKeyboardButton(marked(only, list(chosen) == [lang]), callback_data=f"{NEWS}={lang}"),
        InlineKeyboardButton(marked(tr._("all languages"), not chosen), callback_data=f"{NEWS}="),
    ]


def _started(query: CallbackQuery, chosen: Sequence[str], tr: Texts) -> InlineKeyboardMarkup | None:
    """/start's keyboard as pressed, its last row (the news-language offer) marked anew."""
    markup = query.message.reply_markup if isinstance(query.message, Message) else None
    if markup is None or not markup.inline_keyboard:
        return None
    *rows, offer = markup.inline_keyboard
    data = [str(b.callback_data or "").removeprefix(f"{NEWS}=") for b in offer]
    own = next((lang for lang in data if lang in NEWS_LANGUAGES), None)
    return None if own is None else InlineKeyboardMarkup([*rows, start_row(own, tr, chosen)])


# -- sources ---------------------------------------------------------------------------------


def _source_data(feed_id: str) -> str:
    data = f"{SOURCE}{feed_id}"
    if len(data.encode()) <= 64:
        return data
    return "src#" + hashlib.sha256(feed_id.encode()).hexdigest()[:32]


async def _feeds(ctx: BotContext) -> list[tuple[str, str]]:
    if ctx.feeds:
        return list(ctx.feeds)
    return [(s.id, s.title or s.id) for s in await ctx.store.run(Store.feed_states)]


def sources_keyboard(
    feeds: Sequence[tuple[str, str]], muted: Sequence[str], page: int = 0
) -> InlineKeyboardMarkup:
    buttons = [
        InlineKeyboardButton(
            f"{'🔇' if feed_id in muted else '🔊'} {title[:40]} ({feed_id})"[:64],
            callback_data=_source_data(feed_id),
        )
        for feed_id, title in feeds
    ]
    return InlineKeyboardMarkup(paged(buttons, page, SOURCES_TURN))


async def sources(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/sources: the feeds, each a button that mutes or unmutes it for this chat."""
    ctx = ctx_of(context)
    tr = await texts_of(update, context)
    chat = update.effective_chat
    if chat is None:
        return
    feeds = await _feeds(ctx)
    if not feeds:
        await reply(update, tr._("No sources are configured yet."))
        return
    muted = await ctx.store.run(Store.muted_sources, chat.id)
    text = tr._(
        "<b>Sources</b> (🔇 = muted: its reports never alert this chat; a story it broke"
        " comes from the next outlet that carries it). Tap one to mute or unmute it."
    )
    if args := args_of(context):  # '/sources tass-en' read as muting it: say it was not
        stray = tr._(
            "{value} is not something /sources takes: it takes nothing, and mutes an outlet"
            " only when you tap it below.",
            value=esc(quoted(" ".join(args), tr=tr)),
        )
        text = f"{stray}\n\n{text}"
    await reply(update, text, markup=sources_keyboard(feeds, muted))


async def source_pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    press = await press_of(update, context)
    if press is None:
        return
    query, ctx, tr = press.query, press.ctx, press.tr
    feeds = await _feeds(ctx)
    feed = next((f for f in feeds if _source_data(f[0]) == press.data), None)
    if feed is None:
        await query.answer(tr._("That source is no longer offered; send /sources again."))
        return
    if not await is_chat_admin(update, context):
        await query.answer(tr._("Only this group's admins can change its alerts and settings."))
        return
    await register(update, ctx)
    shown = label_pressed(query)  # 🔊 means mute it; two quick taps both mute
    muted_now = feed[0] in await ctx.store.run(Store.muted_sources, press.chat_id)
    if shown is None or shown.startswith("🔊") != muted_now:
        muted_now = await ctx.store.run(
            Store.toggle_source, press.chat_id, feed[0], now=ctx.clock()
        )
    if muted_now:
        await query.answer(answer_text(tr._("Muted {source}.", source=feed[1])))
    else:
        await query.answer(answer_text(tr._("Unmuted {source}.", source=feed[1])))
    muted = await ctx.store.run(Store.muted_sources, press.chat_id)
    page = page_of(feeds.index(feed))
    with contextlib.suppress(BadRequest):  # "message is not modified" after a double tap
        await query.edit_message_reply_markup(sources_keyboard(feeds, muted, page))


async def sources_turned(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """◀ or ▶ under a keyboard of more sources than a page shows: the other page, in place."""
    press = await press_of(update, context)
    if press is None:
        return
    page = turned_to(press.data, SOURCES_TURN)
    if page is None:  # forged: its spinner must stop all the same
        await press.query.answer(
            press.tr._("That source is no longer offered; send /sources again.")
        )
        return
    feeds = await _feeds(press.ctx)
    muted = await press.ctx.store.run(Store.muted_sources, press.chat_id)
    await press.query.answer()
    with contextlib.suppress(BadRequest):  # "message is not modified": a one-page keyboard
        await press.query.edit_message_reply_markup(sources_keyboard(feeds, muted, page))


HANDLERS = {"language": language_command, "lang": lang_command, "sources": sources}
CALLBACKS = {
    f"^{NEWS}": news_pressed,
    "^src[:#]": source_pressed,
    f"^{SOURCES_TURN}": sources_turned,
}
