"""Digests, quiet hours and mutes: the sender's plan as a pure function of the time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.delivery.plan import (
    Plan,
    SettingError,
    digest_times,
    next_digest_text,
    notice_silent,
    parse_digest,
    parse_quiet,
    plan,
)

TOKYO = ZoneInfo("Asia/Tokyo")
MOSCOW = ZoneInfo("Europe/Moscow")
NOW = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)  # Friday, 12:00 in Tokyo


@pytest.mark.parametrize(
    ("args", "stored"),
    [
        (["off"], ""),
        (["daily", "8:05"], "daily 08:05"),
        (["Weekly", "Monday", "07.30"], "weekly mon 07:30"),
    ],
)
def test_digest_arguments(args: list[str], stored: str) -> None:
    assert parse_digest(args) == stored


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "write /digest off"),
        (["daily", "25:00"], "'25:00' is not a time of day"),
        (["weekly", "someday", "08:00"], "'someday' is not a day"),
    ],
)
def test_bad_digest_arguments_say_what_to_write(args: list[str], message: str) -> None:
    with pytest.raises(SettingError, match=message):
        parse_digest(args)


def test_quiet_arguments() -> None:
    assert parse_quiet(["23:00-7:00"]) == "23:00-07:00 silent"
    assert parse_quiet(["22:30-06:00", "hold"]) == "22:30-06:00 hold"
    # the span as people type it: spaced, with an en dash or a Japanese wave dash
    assert parse_quiet(["23:00", "-", "07:00", "hold"]) == "23:00-07:00 hold"
    assert parse_quiet(["23:00\u201307:00"]) == "23:00-07:00 silent"
    assert parse_quiet(["23:00\u301c07:00", "silent"]) == "23:00-07:00 silent"
    with pytest.raises(SettingError, match="silent or hold"):
        parse_quiet(["22:30-06:00", "loud"])
    with pytest.raises(SettingError, match="same time"):
        parse_quiet(["08:00-08:00"])


def test_daily_digest_holds_until_the_next_time_in_the_chats_zone() -> None:
    result = plan(NOW, TOKYO, digest="daily 08:00")
    assert result.digest
    assert result.release_before == datetime(2026, 11, 26, 23, 0, tzinfo=UTC)  # 08:00 Tokyo
    assert result.hold_until == datetime(2026, 11, 27, 23, 0, tzinfo=UTC)


def test_weekly_digest() -> None:
    last, upcoming = digest_times("weekly mon 09:00", NOW, MOSCOW)
    assert last == datetime(2026, 11, 23, 6, 0, tzinfo=UTC)
    assert upcoming == datetime(2026, 11, 30, 6, 0, tzinfo=UTC)


def test_quiet_hours_silent_or_held() -> None:
    night = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)  # 00:00 in Tokyo
    assert plan(night, TOKYO, quiet="23:00-07:00 silent").silent
    held = plan(night, TOKYO, quiet="23:00-07:00 hold")
    assert held.hold_until == datetime(2026, 11, 27, 22, 0, tzinfo=UTC)  # 07:00 Tokyo
    day = plan(NOW, TOKYO, quiet="23:00-07:00 hold")
    assert not day.silent and day.hold_until is None
    assert day.release_before == datetime(2026, 11, 26, 22, 0, tzinfo=UTC)  # held ones together


def test_a_mute_holds_everything_and_its_end_releases_a_digest() -> None:
    until = NOW + timedelta(hours=2)
    assert plan(NOW, TOKYO, muted_until=until, digest="daily 08:00").hold_until == until
    after = plan(until + timedelta(minutes=1), TOKYO, muted_until=until)
    assert after.hold_until is None and after.release_before == until


def test_a_mute_that_ends_in_quiet_hours_that_hold_waits_for_them_to_end() -> None:
    night = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)  # 00:00 in Tokyo
    held = plan(night, TOKYO, quiet="23:00-07:00 hold", muted_until=night - timedelta(hours=1))
    assert held == Plan(hold_until=datetime(2026, 11, 27, 22, 0, tzinfo=UTC))  # no sound at 00:00


def test_a_digest_due_in_quiet_hours_comes_silently_or_when_they_end() -> None:
    at_digest = datetime(2026, 11, 27, 9, 0, 1, tzinfo=UTC)  # 18:00 in Tokyo
    silent = plan(at_digest, TOKYO, digest="daily 18:00", quiet="17:00-19:00 silent")
    assert silent.digest and silent.silent
    assert silent.release_before == datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
    held = plan(at_digest, TOKYO, digest="daily 18:00", quiet="17:00-19:00 hold")
    assert held == Plan(hold_until=datetime(2026, 11, 27, 10, 0, tzinfo=UTC))  # 19:00 Tokyo
    after = plan(held.hold_until, TOKYO, digest="daily 18:00", quiet="17:00-19:00 hold")
    assert after.release_before == datetime(2026, 11, 27, 9, 0, tzinfo=UTC) and not after.silent
    outside = plan(at_digest, TOKYO, digest="daily 18:00", quiet="23:00-07:00 silent")
    assert outside.digest and not outside.silent


moments = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2035, 1, 1), timezones=st.just(UTC)
)
zones = st.sampled_from(
    [UTC, TOKYO, MOSCOW, ZoneInfo("Europe/London"), ZoneInfo("America/New_York")]
)
clocks = st.tuples(st.integers(0, 23), st.integers(0, 59)).map(lambda t: f"{t[0]:02d}:{t[1]:02d}")


@given(moments, zones, clocks, st.sampled_from(["daily", "weekly tue", "weekly sun"]))
def test_digest_times_bracket_now(now: datetime, tz: ZoneInfo, at: str, kind: str) -> None:
    last, upcoming = digest_times(f"{kind} {at}", now, tz)
    assert last <= now < upcoming
    step = timedelta(days=1) if kind == "daily" else timedelta(weeks=1)
    assert abs((upcoming - last) - step) <= timedelta(hours=1)  # a DST change moves one hour


@given(moments, zones, clocks, clocks, st.sampled_from(["silent", "hold"]))
def test_quiet_hold_ends_within_a_day(
    now: datetime, tz: ZoneInfo, start: str, end: str, mode: str
) -> None:
    if start == end:
        return
    result = plan(now, tz, quiet=f"{start}-{end} {mode}")
    if result.hold_until is not None:
        assert now < result.hold_until <= now + timedelta(hours=25)
    assert result.release_before is None or result.release_before <= now


@pytest.mark.parametrize(
    ("local", "quiet", "silent"),
    [
        ("02:00", "23:00-07:00 hold", True),  # across midnight, either mode
        ("23:30", "23:00-07:00 silent", True),
        ("07:00", "23:00-07:00 hold", False),  # their end
        ("12:00", "", False),
    ],
)
def test_a_notice_is_silent_in_quiet_hours_or_a_mute(local: str, quiet: str, silent: bool) -> None:
    hour, minute = map(int, local.split(":"))
    now = datetime(2026, 11, 27, hour, minute, tzinfo=TOKYO)
    assert notice_silent(now, TOKYO, quiet=quiet) is silent
    ended, muted = now - timedelta(minutes=1), now + timedelta(hours=1)
    assert notice_silent(now, TOKYO, quiet=quiet, muted_until=ended) is silent
    assert notice_silent(now, TOKYO, quiet=quiet, muted_until=muted) is True


def test_the_next_digest_named_on_a_day_clocks_go_forward_is_a_time_that_exists() -> None:
    """A digest (or weekly report) set for 02:30 comes at 03:30 on the day New York's clocks
    skip 02:00-03:00; the reply named '02:30 EST', a time that day has not, and that it passes
    without a digest."""
    new_york = ZoneInfo("America/New_York")
    saturday = datetime(2026, 3, 7, 12, tzinfo=UTC)
    assert next_digest_text("daily 02:30", saturday, new_york).endswith(
        "(next: Sun 8 Mar 03:30 EDT)"
    )
    assert next_digest_text("weekly sun 02:30", saturday, new_york).endswith(
        "(next: Sun 8 Mar 03:30 EDT)"
    )
    sunday = datetime(2026, 3, 8, 12, tzinfo=UTC)
    assert next_digest_text("daily 02:30", sunday, new_york).endswith("(next: Mon 9 Mar 02:30 EDT)")


def test_a_digest_the_skipped_hour_moves_into_quiet_hours_is_named_at_their_end() -> None:
    """A digest set for 02:30 comes at 03:30 on the day clocks skip 02:00-03:00, inside quiet
    hours from 03:00 that hold it until 07:00; the reply named 03:30, read on the wall clock
    (02:30, before the quiet hours) where the sender reads the instant."""
    new_york = ZoneInfo("America/New_York")
    saturday = datetime(2026, 3, 7, 12, tzinfo=UTC)
    assert next_digest_text("daily 02:30", saturday, new_york, quiet="03:00-07:00 hold").endswith(
        "(next: Sun 8 Mar 07:00 EDT)"
    )
