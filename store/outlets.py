"""Which outlet an item comes from, as the store compares them: an item of an outlet's own feed
and the same outlet's item carried by an aggregator (Google News) are one outlet."""

from __future__ import annotations

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
