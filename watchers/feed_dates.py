"""feedparser's date reading, taught what the feeds we read write: the zone names of Russia,
Japan and Europe (feedparser knows only North America's and reads any other name as UTC), and
an RFC 822 date with its weekday but no zone (which feedparser reads as no date), as UTC.

Imported by both parse paths, so that the fast RSS path and feedparser still agree. And
`plausible`: what the pipeline takes of the date a feed gives an item.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from feedparser import registerDateHandler
from feedparser.datetimes.rfc822 import _parse_date_rfc822, day_names, timezone_names

ZONES = {
    "msk": 3,  # Moscow
    "sakt": 11,  # Sakhalin
    "vlat": 10,  # Vladivostok
    "magt": 11,  # Magadan
    "jst": 9,
    "kst": 9,
    "cet": 1,
    "cest": 2,
    "eet": 2,
    "eest": 3,
}
for _name, _hours in ZONES.items():
    timezone_names.setdefault(_name, _hours)


def _weekday_without_zone(text: str) -> time.struct_time | None:
    parts = text.split()
    if len(parts) == 5 and parts[0].lower()[:3] in day_names and ":" in parts[4]:
        return _parse_date_rfc822(f"{text} GMT")  # type: ignore[no-any-return]
    return None


registerDateHandler(_weekday_without_zone)


# Ahead of the fetch by more than a zone mistake or a clock's drift: a typo or a placeholder
# (2099), which would sort first in every digest and Atom feed for decades
AHEAD = timedelta(days=1)
# Before any news feed: an epoch zero or a year 1 that a CMS writes for "no date"
EARLIEST = datetime(1995, 1, 1, tzinfo=UTC)


def plausible(published: datetime | None, fetched: datetime) -> datetime | None:
    """The date to keep of an item that the feed dates `published`, fetched at `fetched`: a
    date far in the future is taken as the fetch time, as miniflux does; one before feeds
    existed as no date (the fetch time stands in, where a date is shown or sorted)."""
    if published is None or published < EARLIEST:
        return None
    if published > fetched + AHEAD:
        return fetched
    return published
