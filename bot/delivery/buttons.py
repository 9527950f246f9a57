"""The buttons under every alert: mute this story, follow this story, not relevant; the
worker puts them under an alert, `bot.telegram.story_buttons` answers a press.

Callback data is `a:<action><outbox id>:<signature>` (at most about 30 bytes): the signature is
an HMAC-SHA256 of the rest with the install's secret (kept in the store), so a forged or
altered callback is refused and changes nothing; the outbox row named must belong to the chat
the button was pressed in.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.i18n import Texts, texts
from store import AsyncStore, Delivery, Store

PREFIX = "a:"
MUTE, FOLLOW, NOT_RELEVANT = "m", "f", "n"
ACTIONS = (MUTE, FOLLOW, NOT_RELEVANT)


def _mac(secret: bytes, payload: str) -> str:
    digest = hmac.new(secret, payload.encode(), hashlib.sha256).digest()[:12]
    return base64.urlsafe_b64encode(digest).decode()


def sign(secret: bytes, action: str, outbox_id: int) -> str:
    payload = f"{action}{outbox_id}"
    return f"{PREFIX}{payload}:{_mac(secret, payload)}"


def verify(secret: bytes, data: str) -> tuple[str, int] | None:
    """(action, outbox id) of genuine callback data; None for anything else."""
    payload, _, mac = data.removeprefix(PREFIX).partition(":")
    # as bytes: compare_digest raises TypeError on a str with non-ASCII (a forged press)
    genuine = _mac(secret, payload).encode()
    if not data.startswith(PREFIX) or not hmac.compare_digest(mac.encode(), genuine):
        return None
    action, number = payload[:1], payload[1:]
    if action not in ACTIONS or not number.isdigit():
        return None
    return action, int(number)


def keyboard(secret: bytes, outbox_id: int, tr: Texts) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    "🔕 " + tr._("Mute this story"), callback_data=sign(secret, MUTE, outbox_id)
                ),
                InlineKeyboardButton(
                    "🔔 " + tr._("Follow this story"),
                    callback_data=sign(secret, FOLLOW, outbox_id),
                ),
            ],
            [
                InlineKeyboardButton(
                    "👎 " + tr._("Not relevant"),
                    callback_data=sign(secret, NOT_RELEVANT, outbox_id),
                )
            ],
        ]
    )


class AlertButtons:
    """The keyboard under each alert, signed with the install's secret (read from the store
    once), its labels in the chat's language."""

    def __init__(self, store: AsyncStore) -> None:
        self._store = store
        self._secret: bytes | None = None

    async def load(self) -> None:
        """Read the secret (made at the first call ever), before any alert is claimed: a store
        failing then would otherwise fail a send already claimed."""
        if self._secret is None:
            self._secret = await self._store.run(Store.install_secret)

    async def of(self, delivery: Delivery) -> InlineKeyboardMarkup:
        await self.load()
        assert self._secret is not None
        return keyboard(self._secret, delivery.id, texts(delivery.language))
