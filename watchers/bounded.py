"""Numbers read from outside (HTTP headers, feed fields, config, command arguments), bounded.

One helper per kind: header seconds and feed TTLs are clamped (a server's hint is only a hint);
durations and counts an operator or a user writes are refused with a message when out of range.
Only ASCII digits count as digits: `str.isdigit` also accepts '²' and '①', which `int` refuses.
"""

from __future__ import annotations

import math

from watchers.refusals import N_, Refused, written

DAY = 86400
MAX_DURATION_SECONDS = 3650 * DAY  # ten years: beyond any wait, retention or mute kurilwatch keeps
MIN_DURATION_SECONDS = 0.001
MAX_HINT_SECONDS = 365 * DAY  # a header's or feed's freshness hint beyond a year is clamped to it
_MAX_DIGITS = 18  # more ASCII digits than this are past every bound here (and int() stays cheap)


class OutOfRange(Refused):
    """A number that is well written but too large or too small; `str()` says the range."""


def ascii_digits(text: str) -> bool:
    """True for a non-empty run of 0-9 only."""
    return text.isascii() and text.isdigit()


def clamped(text: str, cap: int) -> int | None:
    """ASCII digits as an int of at most `cap`; None for anything else."""
    text = text.strip()
    if not ascii_digits(text):
        return None
    if len(text.lstrip("0")) > _MAX_DIGITS:
        return cap
    return min(int(text), cap)


def header_seconds(text: str, cap: int = MAX_HINT_SECONDS) -> int | None:
    """A count of seconds from an HTTP header (max-age, Retry-After): clamped to `cap`;
    None unless ASCII digits."""
    return clamped(text, cap)


def ttl_minutes(text: str) -> int | None:
    """An RSS `<ttl>` in minutes: clamped to a year; None unless ASCII digits."""
    return clamped(text, MAX_HINT_SECONDS // 60)


def wait_seconds(value: float, cap: float) -> float:
    """A wait another party asked for, in seconds (Telegram's retry_after): 0..cap, NaN → cap."""
    if math.isnan(value):
        return cap
    return min(max(value, 0.0), cap)


def count(text: str, *, low: int, high: int, what: str = "a number") -> int:
    """A count a user typed: ASCII digits between `low` and `high`, else ValueError (not digits)
    or OutOfRange (digits, but out of range), each with a message."""
    text = text.strip()
    if not ascii_digits(text):
        raise ValueError(f"{text!r} is not {what} (write it with the digits 0-9)")
    value = clamped(text, high + 1)
    assert value is not None
    if not low <= value <= high:
        raise OutOfRange(f"{what} must be between {low} and {high}")
    return value


def duration_seconds(
    seconds: float, *, shown: object = None, maximum: float = MAX_DURATION_SECONDS
) -> float:
    """A duration in seconds that someone wrote: finite, at least 1 ms and at most `maximum`,
    else `Refused` / OutOfRange (a ValueError each) naming `shown` (what was written)."""
    value = seconds if shown is None else shown
    said = written(value, _short(value))
    if not math.isfinite(seconds):
        raise OutOfRange(N_("{value} is not a finite duration"), value=said)
    if seconds <= 0:
        raise Refused(N_("{value} must be more than zero"), value=said)
    if seconds < MIN_DURATION_SECONDS:  # it would round to zero: a poll loop without a pause
        raise OutOfRange(N_("{value} is too short: at least 1ms"), value=said)
    if seconds > maximum:
        days = f"{maximum / DAY:g}"
        raise OutOfRange(N_("{value} is too long: at most {days} days"), value=said, days=days)
    return seconds


def _short(value: object, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 1]}…"
