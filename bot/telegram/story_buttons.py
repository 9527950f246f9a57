"""A press of a button under an alert (`bot.delivery.buttons`): genuine callback data of the
chat's own alert records "not relevant", or mutes or follows the story (a group's admins)."""

from __future__ import annotations

from telegram import Update
from telegram.constants import ChatType
from telegram.ext import ContextTypes

from bot.delivery.buttons import MUTE, NOT_RELEVANT, PREFIX, verify
from bot.telegram.context import is_chat_admin, press_of
from store import Store


async def pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    press = await press_of(update, context)
    if press is None:
        return
    query, ctx, tr = press.query, press.ctx, press.tr
    secret = await ctx.store.run(Store.install_secret)
    found = verify(secret, press.data)
    alert = await ctx.store.run(Store.sent_alert, found[1]) if found else None
    # a row's id given again to a later alert (a store restored from an older backup) names
    # another message than the one pressed
    on = query.message.message_id if query.message is not None else None
    if (
        found is None
        or alert is None
        or alert.chat_id != press.chat_id
        or (None not in (on, alert.message_id) and alert.message_id != on)
    ):
        await query.answer(tr._("This button no longer works."))
        return
    action = found[0]
    now = ctx.clock()
    if action == NOT_RELEVANT:
        topic = alert.topics[0] if alert.topics else None
        await ctx.store.run(Store.add_feedback, press.chat_id, alert.item_id, topic, now=now)
        await query.answer(tr._("Noted, thank you."))
        return
    if not await is_chat_admin(update, context):
        chat = update.effective_chat
        if chat is not None and chat.type == ChatType.CHANNEL:  # a reader of a channel
            await query.answer(
                tr._("Only this channel's admins can change its alerts and settings.")
            )
        else:
            await query.answer(tr._("Only this group's admins can change its alerts and settings."))
        return
    mode = "mute" if action == MUTE else "follow"
    await ctx.store.run(Store.control_story, press.chat_id, alert.story_id, mode, now=now)
    if action == MUTE:
        await query.answer(tr._("Muted: no more updates on this story here."))
    else:
        await query.answer(tr._("Following: each further report comes as a reply to this alert."))


CALLBACKS = {f"^{PREFIX}": pressed}
