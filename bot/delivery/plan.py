"""When a chat's alerts go out: digests, quiet hours and mutes, as pure functions of the time,
and the one reading of a chat's time zone.

`plan` is the sender's decider: from a chat's settings and the time it says whether alerts are
held (and until when), which queued alerts go out together as one digest, and whether they
go out silently.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from babel.dates import get_day_names

from bot.i18n import EN, N_, Quoted, Texts
from store import ChatPrefs

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_CLOCK = re.compile(r"^([01]?\d|2[0-3])[:.]([0-5]\d)$")


class SettingError(ValueError):
    """A bad command argument; the message (a msgid, with `{name}` placeholders filled from
    `values`) says what to write instead."""

    def __init__(self, message: str, **values: str | Quoted) -> None:
        super().__init__(message.format(**values) if values else message)
        self.message = message
        self.values = values

    def said(self, tr: Texts) -> dict[str, str]:
        """The values in `tr`'s language: a user's words in its quotation marks."""
        return {k: v.said(tr) if isinstance(v, Quoted) else v for k, v in self.values.items()}

    def text(self, tr: Texts) -> str:
        return tr._(self.message, **self.said(tr))


def chat_tz(prefs: ChatPrefs | None, default: tzinfo) -> tzinfo:
    """The chat's own time zone, or `default` (telegram.timezone) when it has none or an
    unknown one."""
    return zone(prefs.timezone if prefs is not None else None, default)


def zone(name: str | None, default: tzinfo) -> tzinfo:
    """The time zone of an IANA `name`, or `default` when there is none or it is unknown."""
    if name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return default


# a whole-hour offset from UTC as people write it: UTC+3, GMT-5, +09:00, +9
_OFFSET = re.compile(r"^(?:utc|gmt)?([+-])(\d{1,2})(?::?00)?$")
_ETC = re.compile(r"^Etc/GMT([+-])(\d{1,2})$")


def zone_name(text: str) -> str | None:
    """The canonical spelling of an IANA zone name, whatever its case; None if unknown.

    Reads the zone database (files) the first time: call it off the event loop.
    """
    if (offset := offset_zone(text)) is not None:
        return offset
    if text.upper() == "UTC":
        return "UTC"
    name = _zone_names().get(text.strip().lower())
    if name is None or "/" not in name:
        return None
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None
    return name


@functools.cache
def _zone_names() -> dict[str, str]:
    return {name.lower(): name for name in available_timezones()}


def offset_zone(text: str) -> str | None:
    """The IANA zone of an offset written `UTC+3` or `+09:00`: `Etc/GMT-3`, whose sign is
    POSIX's, the opposite of what it names; None for any other text (or an offset of minutes,
    which no Etc zone has: India's is Asia/Kolkata)."""
    match = _OFFSET.match(text.strip().lower().replace("\u2212", "-").replace(" ", ""))
    if match is None:
        return None
    sign, hours = match[1], int(match[2])
    if hours == 0:
        return "UTC"
    if hours > (14 if sign == "+" else 12):
        return None
    return f"Etc/GMT{'-' if sign == '+' else '+'}{hours}"


def zone_label(name: str) -> str:
    """A zone's name as the chat reads it: `Etc/GMT-3` (POSIX's sign) is `UTC+3`."""
    match = _ETC.match(name)
    if match is None:
        return name
    return f"UTC{'-' if match[1] == '+' else '+'}{match[2]}"


def parse_clock(text: str) -> time:
    match = _CLOCK.match(text.strip())
    if not match:
        raise SettingError(
            N_("{value} is not a time of day; write it as HH:MM, like 08:30"), value=Quoted(text)
        )
    return time(int(match[1]), int(match[2]))


def parse_day(word: str) -> str | None:
    """A weekday as written in the bot's languages ("mon", "monday", "пн", "понедельник",
    "月", "月曜日") → its stored form ("mon"); None for any other word."""
    word = word.strip().lower()
    return word[:3] if word[:3] in DAYS else _day_names().get(word)


@functools.cache
def _day_names() -> dict[str, str]:
    names: dict[str, str] = {}
    for lang in ("ru", "ja"):
        for width in ("wide", "abbreviated"):
            for n, name in get_day_names(width, locale=lang).items():
                names[str(name).lower()] = DAYS[n]
                if str(name).endswith("曜日"):  # 月曜 as well as 月曜日 and 月
                    names[str(name).removesuffix("日")] = DAYS[n]
    return names


def parse_digest(args: list[str]) -> str:
    """`off`, `daily HH:MM` or `weekly <day> HH:MM` → the stored form ("" for off)."""
    words = [a.lower() for a in args]
    if words == ["off"]:
        return ""
    if len(words) == 2 and words[0] == "daily":
        return f"daily {parse_clock(words[1]):%H:%M}"
    if len(words) == 3 and words[0] == "weekly":
        day = parse_day(words[1])
        if day is None:
            raise SettingError(
                N_("{value} is not a day; write mon, tue, ... or sun"), value=Quoted(args[1])
            )
        return f"weekly {day} {parse_clock(words[2]):%H:%M}"
    raise SettingError(
        N_(
            "{value} is not a digest setting; write /digest off, /digest daily 08:00 or"
            " /digest weekly mon 08:00"
        ),
        value=Quoted(" ".join(args)),
    )


# a dash between two times, as typed: hyphen, en or em dash, tilde or wave dash, spaced or not
_SPAN_DASH = re.compile(r"(?<=\d)\s*[-\u2012-\u2015~\u301c\uff5e]\s*(?=\d)")


def parse_quiet(args: list[str]) -> str:
    """`off`, or `HH:MM-HH:MM [silent|hold]` → the stored form ("" for off); the span as people
    write it too: `23:00 - 07:00`, `23:00–07:00`, `23:00〜07:00`."""
    words = _SPAN_DASH.sub("-", " ".join(args)).lower().split()
    if words == ["off"]:
        return ""
    if not 1 <= len(words) <= 2 or "-" not in words[0]:
        raise SettingError(
            N_(
                "{value} is not quiet hours; write /quiet 23:00-07:00 silent (sent without a"
                " sound) or /quiet 23:00-07:00 hold (sent when the quiet hours end), or"
                " /quiet off"
            ),
            value=Quoted(" ".join(args)),
        )
    start, _, end = words[0].partition("-")
    first, last = parse_clock(start), parse_clock(end)
    if first == last:
        raise SettingError(N_("the quiet hours must not start and end at the same time"))
    mode = words[1] if len(words) == 2 else "silent"
    if mode not in ("silent", "hold"):
        raise SettingError(N_("{value}: choose silent or hold"), value=Quoted(mode))
    return f"{first:%H:%M}-{last:%H:%M} {mode}"


@dataclass(frozen=True, slots=True)
class Plan:
    """What to do with a chat's queued alerts now."""

    hold_until: datetime | None = None  # alerts queued from `release_before` on wait until then
    release_before: datetime | None = None  # alerts queued before this go out as one digest
    digest: bool = False  # a digest even for a single alert (the chat chose digests)
    silent: bool = False  # send without a notification sound


def plan(
    now: datetime,
    tz: tzinfo,
    *,
    digest: str = "",
    quiet: str = "",
    muted_until: datetime | None = None,
) -> Plan:
    """The sender's decision for one chat at `now`; `tz` is the chat's time zone."""
    if muted_until is not None and muted_until > now:
        return Plan(hold_until=muted_until)
    if digest:
        last, upcoming = digest_times(digest, now, tz)
        silent = False
        if quiet:  # a digest due in quiet hours keeps to them as an alert does
            start, end, mode = _quiet(quiet)
            inside, window_end, _ = _window(now, tz, start, end)
            if inside and mode == "hold":
                return Plan(hold_until=window_end)
            silent = inside
        return Plan(hold_until=upcoming, release_before=last, digest=True, silent=silent)
    released = muted_until  # alerts held by a mute that has ended go out together
    if quiet:
        start, end, mode = _quiet(quiet)
        inside, window_end, last_end = _window(now, tz, start, end)
        if inside and mode == "hold":  # everything waits, what a mute held too
            return Plan(hold_until=window_end)
        if mode == "hold" and (released is None or last_end > released):
            released = last_end
        return Plan(release_before=released, silent=inside)
    return Plan(release_before=released)


def notice_silent(
    now: datetime, tz: tzinfo, *, quiet: str = "", muted_until: datetime | None = None
) -> bool:
    """Whether a notice (a spike, a broadcast, an operator's) goes without a sound: it comes
    at once, not held as alerts are, but in a mute or quiet hours (either mode) it is silent."""
    if muted_until is not None and muted_until > now:
        return True
    if not quiet:
        return False
    start, end, _ = _quiet(quiet)
    return _window(now, tz, start, end)[0]


def digest_times(digest: str, now: datetime, tz: tzinfo) -> tuple[datetime, datetime]:
    """The last digest time at or before `now`, and the next one after it."""
    words = digest.split()
    at = parse_clock(words[-1])
    local = now.astimezone(tz)
    step = timedelta(days=1) if words[0] == "daily" else timedelta(weeks=1)
    candidate = _local(local.date(), at, tz)
    if words[0] == "weekly":
        candidate = _local(
            local.date() + timedelta(days=(DAYS.index(words[1]) - local.weekday()) % 7), at, tz
        )
    while candidate > now:
        candidate = _local(candidate.astimezone(tz).date() - step, at, tz)
    upcoming = _local(candidate.astimezone(tz).date() + step, at, tz)
    while upcoming <= now:
        upcoming = _local(upcoming.astimezone(tz).date() + step, at, tz)
    return candidate, upcoming


def _quiet(quiet: str) -> tuple[time, time, str]:
    span, mode = quiet.split()
    start, end = span.split("-")
    return parse_clock(start), parse_clock(end), mode


def _window(now: datetime, tz: tzinfo, start: time, end: time) -> tuple[bool, datetime, datetime]:
    """(inside the quiet window now, the end of the current or next window, the last end)."""
    today = now.astimezone(tz).date()
    spans = []
    for offset in (-1, 0, 1):
        day = today + timedelta(days=offset)
        begin = _local(day, start, tz)
        finish = _local(day + timedelta(days=1) if end <= start else day, end, tz)
        spans.append((begin, finish))
    for begin, finish in spans:
        if begin <= now < finish:
            last_end = max((f for _, f in spans if f <= now), default=begin)
            return True, finish, last_end
    upcoming = min(f for _, f in spans if f > now)
    last_end = max(f for _, f in spans if f <= now)
    return False, upcoming, last_end


def _local(day: date, at: time, tz: tzinfo) -> datetime:
    return datetime.combine(day, at, tzinfo=tz)


def next_digest_text(
    digest: str, now: datetime, tz: tzinfo, tr: Texts = EN, *, quiet: str = ""
) -> str:
    """ "daily 08:00 (next: Fri 27 Nov 08:00 MSK)" for replies; a digest due in `quiet` hours
    that hold comes at their end."""
    if not digest:
        return tr._("off: alerts are sent as they come")
    _, upcoming = digest_times(digest, now, tz)
    # the instant, as the sender reads it: the skipped hour can move it into quiet hours
    held = plan(upcoming.astimezone(UTC), tz, digest=digest, quiet=quiet)
    if not held.digest and held.hold_until is not None:
        upcoming = held.hold_until
    # through UTC: a time in the hour clocks skip (02:30 as they go forward) is named as it
    # comes (03:30), not as it was set
    local = upcoming.astimezone(UTC).astimezone(tz)
    words = digest.split()
    if words[0] == "daily":
        every = tr._("daily {time}", time=words[1])
    else:
        day = tr.day_name(DAYS.index(words[1]))
        every = tr._("weekly, {day} {time}", day=day, time=words[2])
    return tr._(
        "{every} (next: {when} {zone})",
        every=every,
        when=tr.day_time(local, tz),
        zone=local.tzname() or "",
    )


def quiet_text(quiet: str, tr: Texts = EN) -> str:
    """ "23:00-07:00, alerts come without a sound" for replies: the stored form's mode is a
    word of the command, not of the chat's language."""
    if not quiet:
        return tr._("none")
    span, mode = quiet.split()
    if mode == "hold":
        return tr._("{span}, alerts wait for their end", span=span)
    return tr._("{span}, alerts come without a sound", span=span)
