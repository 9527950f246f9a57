"""What a chat is told of an update `updates.PerChatUpdates` drops: a press is answered, and a
burst of commands gets one reply that the bot is busy, never one per command dropped."""

from __future__ import annotations

import asyncio
import enum
import logging
from typing import Any

from telegram import Update
from telegram.constants import ChatType
from telegram.ext import Application

from bot.i18n import Texts, texts
from bot.telegram.context import BotContext
from bot.telegram.guards import addressed_to_us, command_target
from bot.telegram.texts import COMMANDS
from store import Store

log = logging.getLogger(__name__)

BUSY_WAIT = 5.0  # seconds an answer may take, its chat's language looked up included
LANGUAGE_WAIT = 1.0  # seconds to learn the chat's language; then the sender's is used
MAX_ANSWERING = 32  # answers in flight at once; a drop beyond them gets none
NAMES = frozenset(c.name for c in COMMANDS)


class Answer(enum.Enum):
    NONE = "none"
    PRESS = "press"  # the press answered (answerCallbackQuery): its button stops spinning
    REPLY = "reply"  # a message in the chat


def answer_for(update: object, username: str | None, *, told: bool, stopping: bool) -> Answer:
    """What a dropped update gets: a press its answer, every one (its button spins until
    then); a message the bot would have answered a reply, unless its chat was `told` already
    in this burst. At a stop, nothing (`PerChatUpdates` says why)."""
    if stopping or not isinstance(update, Update):
        return Answer.NONE
    if update.callback_query is not None:
        return Answer.PRESS
    message = update.message  # not an edit, nor a channel's post (every reader would see it)
    if told or message is None or message.is_automatic_forward or message.text is None:
        return Answer.NONE
    text, kind = message.text, message.chat.type
    if not text.startswith("/"):  # a private chat's text is answered; a group's talk is not ours
        return Answer.REPLY if kind == ChatType.PRIVATE else Answer.NONE
    name = text.split(None, 1)[0][1:].partition("@")[0].lower()
    ours = command_target(text) is None and name in NAMES
    return Answer.REPLY if ours or addressed_to_us(text, kind, username) else Answer.NONE


class Busy:
    """Says it in the background (`say`), so that neither the chat's queue nor the loop waits:
    in the chat's language, within BUSY_WAIT each and MAX_ANSWERING at once; a failure is
    logged, never raised."""

    def __init__(self, app: Application[Any, Any, Any, Any, Any, Any]) -> None:
        self.app = app
        self._answering: set[asyncio.Task[None]] = set()

    @property
    def username(self) -> str | None:
        try:
            name: str | None = self.app.bot.username
        except RuntimeError:  # not initialised (no getMe yet)
            return None
        return name

    def say(self, update: object, answer: Answer) -> bool:
        """Whether an answer is on its way."""
        if answer is Answer.NONE or not isinstance(update, Update):
            return False
        if len(self._answering) >= MAX_ANSWERING:
            log.debug(
                "%d busy answers in flight already: a dropped update gets none",
                len(self._answering),
            )
            return False
        task = asyncio.create_task(self._say(update, answer), name="busy answer")
        self._answering.add(task)
        task.add_done_callback(self._answering.discard)
        return True

    async def _say(self, update: Update, answer: Answer) -> None:
        chat = update.effective_chat
        try:
            async with asyncio.timeout(BUSY_WAIT):
                tr = await self._texts(update)
                if answer is Answer.PRESS and update.callback_query is not None:
                    await update.callback_query.answer(tr._("Busy, try again in a moment."))
                elif update.effective_message is not None:
                    await update.effective_message.reply_text(
                        tr._(
                            "Too many commands at once in this chat: some were skipped. Send"
                            " them again in a moment."
                        )
                    )
        except Exception as exc:  # TimeoutError too
            log.info(
                "chat %s: could not say that its update was dropped (%s: %s)",
                chat.id if chat else "?",
                type(exc).__name__,
                exc,
            )

    async def _texts(self, update: Update) -> Texts:
        """The chat's language, as every answer there (`context.texts_of`, without recording
        the sender's); the sender's when the store, busy itself perhaps, does not say soon."""
        user, chat = update.effective_user, update.effective_chat
        fallback = texts(user.language_code if user else None)
        ctx = self.app.bot_data.get("kurilwatch")
        if not isinstance(ctx, BotContext) or chat is None:
            return fallback
        try:
            async with asyncio.timeout(LANGUAGE_WAIT):
                stored = await ctx.store.run(Store.language, chat.id)
        except Exception:
            log.debug("chat %d: its language is unknown; busy in the sender's", chat.id)
            return fallback
        return texts(stored) if stored else fallback

    async def close(self) -> None:
        """At shutdown (after the bot's connection closed): the answers in flight end."""
        for task in self._answering:
            task.cancel()
        await asyncio.gather(*self._answering, return_exceptions=True)
