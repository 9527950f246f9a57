"""A command or button whose handling failed: logged, and its sender told so in their chat's
language (`on_error`, the application's error handler)."""

from __future__ import annotations

import asyncio
import logging

from telegram import Update
from telegram.ext import ContextTypes

from bot.i18n import Texts, texts
from bot.telegram.context import ctx_of, texts_of
from store.base import store_failure

log = logging.getLogger(__name__)


APOLOGY_LOOKUP = 2.0  # seconds to learn the chat's language for the apology, at most


async def _apology_texts(update: Update, context: ContextTypes.DEFAULT_TYPE) -> Texts:
    """The chat's language, as every reply there; the sender's when the store, which may be
    what failed, does not say it soon."""
    user = update.effective_user
    fallback = texts(user.language_code if user else None)
    try:
        return await asyncio.wait_for(texts_of(update, context), APOLOGY_LOOKUP)
    except Exception:
        log.debug("the chat's language is unknown; the apology is in the sender's", exc_info=True)
        return fallback


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    error = context.error
    if error is not None and (failure := store_failure(error, ctx_of(context).store.path)):
        log.error("could not answer an update: %s", failure)  # the store's: no traceback
    else:
        log.error("error while handling an update", exc_info=error)
    if not isinstance(update, Update):
        return
    tr = await _apology_texts(update, context)
    sorry = tr._("Sorry, something went wrong; please try again.")
    try:
        if update.callback_query is not None:
            # only the one who pressed: a reply under a channel's alert reaches every reader
            await update.callback_query.answer(sorry)
        elif update.effective_message is not None and update.channel_post is None:
            # a channel's post gets none: the answer would reach every reader
            await update.effective_message.reply_text(sorry)
    except Exception:
        log.debug("could not tell the user about the error", exc_info=True)
