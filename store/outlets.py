"""Which outlet an item comes from, as the store compares them: an item of an outlet's own feed
and the same outlet's item carried by an aggregator (Google News) are one outlet; and which of
a story's reports a chat's alert shows, with the others in its "Also:" line (pure)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Source:
    """An item's origin: its feed, and the outlet an aggregator item names."""

    feed_id: str
    outlet: str | None  # set only for items an aggregator carried for an outlet
    outlet_key: str | None  # the outlet's host (`tass.com`), or `name:...`; None when unknown

    @property
    def key(self) -> str:
        """The stable outlet key (what a per-chat source mute keys on): the outlet's host, or
        the feed's id when nothing better is known."""
        return self.outlet_key or f"feed:{self.feed_id}"


def same_outlet(a: Source, b: Source) -> bool:
    """Whether two items come from one outlet: two items of outlets' own feeds when they come
    from the same feed; otherwise (an aggregator on either side) when their outlet keys agree.

    Own feeds are told apart by feed, not by the host of their links, so two feeds that carry
    one site's links are still two outlets."""
    if a.outlet is None and b.outlet is None:
        return a.feed_id == b.feed_id
    return a.key == b.key


def also_name(outlet: str, lang: str | None, alert_lang: str | None) -> str:
    """How an "Also:" line names an outlet: with its language when the alert's is another."""
    return f"{outlet} ({lang})" if lang and alert_lang and lang != alert_lang else outlet


@dataclass(frozen=True, slots=True)
class Member:
    """A report of a story, as an alert shows it or names it in "Also:"."""

    id: int  # its item's
    source: Source
    name: str  # its outlet's: the one an aggregator names, else its feed's title (or id)
    lang: str | None


@dataclass(frozen=True, slots=True)
class Shown:
    """The report an alert shows, and the outlets its "Also:" line names."""

    item_id: int
    also: tuple[str, ...]


def also_of(members: Sequence[Member], shown: Member) -> tuple[str, ...]:
    """The "Also:" line of an alert showing `shown`: every other outlet of `members` (the story's
    reports in the order they came, those the chat muted left out) once, never the alert's own,
    named for its language."""
    seen = [shown.source]
    names = {shown.name.casefold()}
    also: list[str] = []
    for member in members:
        name = also_name(member.name, member.lang, shown.lang)
        if any(same_outlet(member.source, other) for other in seen) or name.casefold() in names:
            continue
        seen.append(member.source)
        names.add(name.casefold())
        also.append(name)
    return tuple(also)


def reading(chat_language: str | None) -> str | None:
    """The news language of a chat's language ("ru-RU" → "ru"); None for a chat of none."""
    return (chat_language or "").split("-")[0].split("_")[0].lower() or None


def shown_report(
    members: Sequence[Member],
    shown: int,
    chat_language: str | None,
    news_langs: Collection[str] = frozenset(),
) -> Shown | None:
    """The report a chat's alert of a story shows instead of the report `shown` (an item id),
    with its "Also:" line; None when it keeps it and its line (updated as it is).

    `members` are the story's reports in the order they came, those the chat muted left out;
    `chat_language` the chat's (its /language, else its user's Telegram `language_code`: "ru",
    "ru-RU"). An alert shown in another language takes the earliest member in the chat's, if
    the chat's news languages (empty: every one) take it; one in the chat's language keeps its
    report whatever joins, so an alert never switches back and forth. A chat of no language, or
    of one no member writes, keeps the report it has."""
    lang = reading(chat_language)
    if lang is None or (news_langs and lang not in news_langs):
        return None
    if any(member.id == shown and member.lang == lang for member in members):
        return None
    chosen = next((member for member in members if member.lang == lang), None)
    return None if chosen is None else Shown(chosen.id, also_of(members, chosen))
