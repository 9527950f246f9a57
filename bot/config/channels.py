"""The config's `channels:`: a chat that gets every alert of some topics without subscribing,
and its chat settings (/timezone, /digest, /quiet, ...) in their stored forms; a setting that is
none refused in the words of its command, less the command's name."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Literal

from pydantic import Field, field_validator

from bot.config.errors import Refusal
from bot.delivery.plan import SettingError, parse_digest, parse_quiet, zone_name
from bot.i18n import N_, Quoted
from watchers.config import Model


class ChannelConfig(Model):
    """A channel (or group) that gets every alert of some topics, without subscribing."""

    chat: Annotated[str, Field(pattern=r"^(@[A-Za-z][A-Za-z0-9_]{3,31}|-?[0-9]{1,20})$")]
    topics: tuple[str, ...]
    # the language its alerts are written in (no member of a channel sends it a /language);
    # left out, a group keeps its own and a channel writes English
    language: Literal["en", "ru", "ja"] | None = None
    # what /timezone, /digest and /quiet set in a chat, stored in their forms; left out, a
    # group keeps its current one (its admins') and a channel has none
    timezone: str | None = None
    digest: str | None = None
    quiet: str | None = None
    news_languages: tuple[Literal["en", "ru", "ja"], ...] | None = None  # what /lang sets
    muted_sources: tuple[str, ...] | None = None  # feed ids, what /sources mutes

    @field_validator("chat", mode="before")
    @classmethod
    def _text(cls, chat: object) -> object:
        return str(chat) if isinstance(chat, int) and not isinstance(chat, bool) else chat

    @field_validator("timezone")
    @classmethod
    def _zone(cls, name: str | None) -> str | None:
        if name is None:
            return None
        if (known := zone_name(name)) is None:
            why = N_("{name} is not a time zone (use an Area/City name like Asia/Tokyo, or UTC+3)")
            raise Refusal(why, name=Quoted(name, repr(name)))
        return known

    @field_validator("news_languages", "muted_sources")
    @classmethod
    def _once_each(cls, values: tuple[str, ...] | None) -> tuple[str, ...] | None:
        return None if values is None else tuple(dict.fromkeys(values))

    @field_validator("digest", "quiet", mode="before")
    @classmethod
    def _off(cls, value: object) -> object:
        return "off" if value is False else value  # YAML reads a bare `off` as false

    @field_validator("digest")
    @classmethod
    def _digest(cls, value: str | None) -> str | None:
        return None if value is None else _setting(parse_digest, value)

    @field_validator("quiet")
    @classmethod
    def _quiet(cls, value: str | None) -> str | None:
        return None if value is None else _setting(parse_quiet, value)


def _setting(parse: Callable[[list[str]], str], value: str) -> str:
    """A chat setting written as its command's arguments, in its stored form; the command's
    own message, less the command's name, if it is not one."""
    try:
        return parse(value.split())
    except SettingError as exc:
        why = re.sub(r"/(digest|quiet) ", "", exc.message)
        if why != exc.message and why not in _SETTINGS:  # words of no catalogue
            why = re.sub(r"/(digest|quiet) ", "", str(exc))
            raise Refusal(why) from None
        raise Refusal(why, (), **exc.values) from None


# the commands' messages that name the command, as the config's key is told them: without it
_SETTINGS = {
    N_("{value} is not a digest setting; write off, daily 08:00 or weekly mon 08:00"),
    N_(
        "{value} is not quiet hours; write 23:00-07:00 silent (sent without a sound) or"
        " 23:00-07:00 hold (sent when the quiet hours end), or off"
    ),
}
