"""feedparser's date reading, taught what the feeds we read write: the zone names of Russia,
Japan and Europe (feedparser knows only North America's and reads any other name as UTC), and
an RFC 822 date with its weekday but no zone (which feedparser reads as no date), as UTC.

Imported by both parse paths, so that the fast RSS path and feedparser still agree.
"""

from __future__ import annotations

import time

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
