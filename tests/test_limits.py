"""Our side of Telegram's send limits: what a chat may receive when, as pure bookkeeping."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.delivery.limits import Limits, SendLimits

PRIVATE = 42
GROUP = -100


def test_a_private_chat_gets_a_burst_of_three_then_one_a_second() -> None:
    limits = SendLimits(Limits(per_second=1000))
    times = []
    now = 0.0
    for _ in range(6):
        now = max(now, limits.ready_at(PRIVATE))
        times.append(round(limits.take(PRIVATE, now), 3))
    assert times == [0.0, 0.001, 0.002, 1.0, 2.0, 3.0]


def test_a_group_is_spaced_to_twenty_a_minute() -> None:
    limits = SendLimits()
    assert limits.take(GROUP, 10.0) == 10.0
    assert not limits.ready(GROUP, 12.9)
    assert limits.ready_at(GROUP) == pytest.approx(13.0)


def test_overall_sends_are_spaced_evenly() -> None:
    limits = SendLimits(Limits(per_second=20))
    starts = [limits.take(chat, 0.0) for chat in range(1, 21)]
    assert starts == pytest.approx([n / 20 for n in range(20)])


def test_a_429_holds_only_that_chat_and_busy_chats_are_listed() -> None:
    limits = SendLimits()
    limits.hold(PRIVATE, 5.0)
    assert limits.busy(1.0) == {PRIVATE}
    assert limits.soonest(1.0) == 5.0
    assert limits.ready(7, 1.0)
    assert limits.busy(5.0) == set()
    assert limits.soonest(5.0) is None


def test_bad_limits_are_refused() -> None:
    with pytest.raises(ValueError, match="greater than 0"):
        Limits(per_second=0)
    with pytest.raises(ValueError, match="private_burst"):
        Limits(private_burst=0)


@given(
    st.lists(
        st.tuples(st.sampled_from([1, 2, 3, -1, -2]), st.floats(0, 5)), min_size=1, max_size=80
    )
)
def test_sends_the_limits_allow_never_exceed_telegrams_limits(
    requests: list[tuple[int, float]],
) -> None:
    """Whatever the order of requests, what is sent stays within 30/s overall, a private
    chat's bucket (3, then 1/s) and 20 per minute to a group."""
    limits = SendLimits()
    now = 0.0
    sent: list[tuple[float, int]] = []
    for chat, pause in requests:
        now += pause
        now = max(now, limits.ready_at(chat))
        sent.append((limits.take(chat, now), chat))
    times = sorted(t for t, _ in sent)
    for i, t in enumerate(times):
        assert sum(1 for u in times[i:] if u < t + 1.0) <= 30
    for chat in {c for _, c in sent}:
        mine = sorted(t for t, c in sent if c == chat)
        window, allowed = (1.0, 1 + 3) if chat > 0 else (60.0, 20)
        for i, t in enumerate(mine):
            assert sum(1 for u in mine[i:] if u < t + window - 1e-9) <= allowed
    assert len(limits.busy(now + 61.0)) == 0


def test_a_send_that_leaves_late_pushes_the_next_slot_back() -> None:
    limits = SendLimits(Limits(per_second=10))
    assert limits.take(1, 0.0) == 0.0
    limits.departed(0.0, 0.25)  # the event loop stalled: it left late
    assert limits.take(2, 0.26) == pytest.approx(0.35)
    limits.departed(0.35, 0.352)  # a little late is on time
    assert limits.take(3, 0.36) == pytest.approx(0.45)
