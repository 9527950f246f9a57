"""What a Telegram failure means, for each kind of request: one table, pure (no I/O, no clock)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TimedOut,
)

from bot.delivery.outcome import (
    EDIT_TRIES,
    Action,
    Failure,
    GivenUp,
    Outcome,
    Path,
    backoff,
    cause,
    failure_of,
    outcome,
    report_backoff,
    tries_within,
    waited,
)
from bot.i18n import EN, texts
from store.also import ALSO_WINDOW

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
DEADLINE = timedelta(hours=24)
MAX_BACKOFF = timedelta(minutes=10)
ATTEMPTS = 3  # the fourth try waits 2**3 s
WAIT = timedelta(seconds=8)

ERRORS: dict[str, BaseException] = {
    "429": RetryAfter(30),
    "403": Forbidden("Forbidden: bot was blocked by the user"),
    "chat not found": BadRequest("Bad Request: chat not found"),
    "migrated": ChatMigrated(-100123),
    "can't parse": BadRequest("Bad Request: can't parse entities: unsupported start tag"),
    "5xx": NetworkError("Bad Gateway"),
    "timeout": TimedOut(),
    "network error": NetworkError("httpx.ConnectError: All connection attempts failed"),
    "401": InvalidToken("Unauthorized"),  # the token revoked while the daemon runs
    # a channel whose admins took "Post messages" from the bot (or never gave it)
    "no rights": BadRequest("Bad Request: need administrator rights in the channel chat"),
    # the alert deleted by its reader: no later edit of it can succeed
    "deleted": BadRequest("Bad Request: message to edit not found"),
    # a forum's topic deleted: the sender sends again to General (`bot.delivery.threads`), so
    # only a send to General that still gets it comes here, and is refused
    "thread gone": BadRequest("Bad Request: message thread not found"),
}

FAILURES = {
    "429": Failure.FLOOD,
    "403": Failure.GONE,
    "chat not found": Failure.GONE,
    "migrated": Failure.MIGRATED,
    "can't parse": Failure.UNPARSABLE,
    "5xx": Failure.TRANSIENT,
    "timeout": Failure.TRANSIENT,
    "network error": Failure.TRANSIENT,
    "401": Failure.OTHER,
    "no rights": Failure.NO_RIGHTS,
    "deleted": Failure.UNEDITABLE,
    "thread gone": Failure.THREAD_GONE,
}

S = timedelta(seconds=30)
RIGHTS = "BadRequest: Need administrator rights"
# (path, error) -> action, start of the recorded error, retry due after NOW, chat held (s), metric
TABLE: dict[tuple[Path, str], tuple[Action, str | None, timedelta | None, float | None, str | None]]
TABLE = {
    (Path.SEND, "429"): (Action.RETRY, "429: Flood control", S, 30.0, "flood"),
    (Path.SEND, "403"): (Action.GONE, "Forbidden: bot was blocked", None, None, "gone"),
    (Path.SEND, "chat not found"): (Action.GONE, "Chat not found", None, None, "gone"),
    (Path.SEND, "migrated"): (Action.MIGRATE, "chat migrated", timedelta(0), None, "migrated"),
    (Path.SEND, "can't parse"): (Action.PLAIN, "Can't parse entities", None, None, None),
    (Path.SEND, "5xx"): (Action.RETRY, "NetworkError: Bad Gateway", WAIT, None, "error"),
    (Path.SEND, "timeout"): (Action.RETRY, "TimedOut: Timed out", WAIT, None, "error"),
    (Path.SEND, "network error"): (Action.RETRY, "NetworkError: httpx", WAIT, None, "error"),
    (Path.SEND, "401"): (Action.RETRY, "InvalidToken: Unauthorized", WAIT, None, "error"),
    (Path.SEND, "no rights"): (Action.RETRY, RIGHTS, WAIT, None, "no_rights"),
    (Path.SEND, "deleted"): (Action.GIVE_UP, "400: Message to edit", None, None, "rejected"),
    (Path.SEND, "thread gone"): (Action.GIVE_UP, "400: Message thread", None, None, "rejected"),
    (Path.EDIT, "429"): (Action.LATER, None, None, 30.0, None),
    (Path.EDIT, "403"): (Action.GONE, "Forbidden: bot was blocked", None, None, None),
    (Path.EDIT, "chat not found"): (Action.GONE, "Chat not found", None, None, None),
    # the chat is moved; the alert's message stayed in the old group, so the update is dropped
    (Path.EDIT, "migrated"): (Action.MIGRATE, "chat migrated", timedelta(0), None, None),
    (Path.EDIT, "can't parse"): (Action.DROP, "Can't parse entities", None, None, None),
    (Path.EDIT, "5xx"): (Action.RETRY, "NetworkError: Bad Gateway", WAIT, None, None),
    (Path.EDIT, "timeout"): (Action.RETRY, "TimedOut: Timed out", WAIT, None, None),
    (Path.EDIT, "network error"): (Action.RETRY, "NetworkError: httpx", WAIT, None, None),
    (Path.EDIT, "401"): (Action.RETRY, "InvalidToken: Unauthorized", WAIT, None, None),
    (Path.EDIT, "no rights"): (Action.RETRY, RIGHTS, WAIT, None, None),
    (Path.EDIT, "deleted"): (Action.LEAVE, "Message to edit not found", None, None, None),
    (Path.EDIT, "thread gone"): (Action.DROP, "Message thread not found", None, None, None),
    (Path.DIGEST, "429"): (Action.RETRY, "RetryAfter: Flood control", S, 30.0, None),
    (Path.DIGEST, "403"): (Action.GONE, "Forbidden: bot was blocked", None, None, None),
    (Path.DIGEST, "chat not found"): (Action.GONE, "Chat not found", None, None, None),
    (Path.DIGEST, "migrated"): (Action.MIGRATE, "chat migrated", timedelta(0), None, None),
    (Path.DIGEST, "can't parse"): (Action.GIVE_UP, "400: Can't", timedelta(0), None, "rejected"),
    (Path.DIGEST, "5xx"): (Action.RETRY, "NetworkError: Bad Gateway", WAIT, None, None),
    (Path.DIGEST, "timeout"): (Action.RETRY, "TimedOut: Timed out", WAIT, None, None),
    (Path.DIGEST, "network error"): (Action.RETRY, "NetworkError: httpx", WAIT, None, None),
    (Path.DIGEST, "401"): (Action.RETRY, "InvalidToken: Unauthorized", WAIT, None, None),
    (Path.DIGEST, "no rights"): (Action.RETRY, RIGHTS, WAIT, None, None),
    (Path.DIGEST, "deleted"): (Action.GIVE_UP, "400: Message to", timedelta(0), None, "rejected"),
    (Path.DIGEST, "thread gone"): (Action.GIVE_UP, "400: Message", timedelta(0), None, "rejected"),
    (Path.NOTICE, "429"): (Action.RETRY, "429: Flood control", S, 30.0, None),
    (Path.NOTICE, "403"): (Action.GONE, "Forbidden: bot was blocked", None, None, None),
    (Path.NOTICE, "chat not found"): (Action.GONE, "Chat not found", None, None, None),
    (Path.NOTICE, "migrated"): (Action.MIGRATE, "chat migrated", WAIT, None, None),
    (Path.NOTICE, "can't parse"): (Action.DROP, "Can't parse entities", None, None, None),
    (Path.NOTICE, "5xx"): (Action.RETRY, "NetworkError: Bad Gateway", WAIT, None, None),
    (Path.NOTICE, "timeout"): (Action.RETRY, "TimedOut: Timed out", WAIT, None, None),
    (Path.NOTICE, "network error"): (Action.RETRY, "NetworkError: httpx", WAIT, None, None),
    (Path.NOTICE, "401"): (Action.RETRY, "InvalidToken: Unauthorized", WAIT, None, None),
    (Path.NOTICE, "no rights"): (Action.RETRY, RIGHTS, WAIT, None, None),
    (Path.NOTICE, "deleted"): (Action.DROP, "Message to edit not found", None, None, None),
    (Path.NOTICE, "thread gone"): (Action.DROP, "Message thread not found", None, None, None),
    # a weekly report: no deadline, its next week's replaces it; a refusal in a row this
    # long waits `report_backoff` (10 minutes doubling), here at its cap
    (Path.REPORT, "429"): (Action.RETRY, "429: Flood control", S, 30.0, None),
    (Path.REPORT, "403"): (Action.GONE, "Forbidden: bot was blocked", None, None, None),
    (Path.REPORT, "chat not found"): (Action.GONE, "Chat not found", None, None, None),
    (Path.REPORT, "migrated"): (Action.MIGRATE, "chat migrated", timedelta(0), None, None),
    (Path.REPORT, "can't parse"): (Action.PLAIN, "Can't parse", None, None, None),
    (Path.REPORT, "5xx"): (Action.RETRY, "NetworkError: Bad", MAX_BACKOFF, None, None),
    (Path.REPORT, "timeout"): (Action.RETRY, "TimedOut: Timed out", MAX_BACKOFF, None, None),
    (Path.REPORT, "network error"): (Action.RETRY, "NetworkError: ", MAX_BACKOFF, None, None),
    (Path.REPORT, "401"): (Action.RETRY, "InvalidToken: ", MAX_BACKOFF, None, None),
    (Path.REPORT, "no rights"): (Action.RETRY, RIGHTS, MAX_BACKOFF, None, None),
    (Path.REPORT, "deleted"): (Action.GIVE_UP, "400: Message to edit", None, None, None),
    (Path.REPORT, "thread gone"): (Action.GIVE_UP, "400: Message thread", None, None, None),
}


def decide(exc: BaseException, path: Path, *, attempts: int = ATTEMPTS, **kw: bool) -> Outcome:
    return outcome(
        exc,
        path,
        now=NOW,
        attempts=attempts,
        deadline=DEADLINE,
        max_backoff=MAX_BACKOFF,
        **kw,
    )


def test_the_table_covers_every_error_on_every_path() -> None:
    assert set(TABLE) == {(path, name) for path in Path for name in ERRORS}


@pytest.mark.parametrize(("path", "name"), sorted(TABLE))
def test_telegram_failure_to_outcome(path: Path, name: str) -> None:
    action, error, due, hold, metric = TABLE[path, name]
    result = decide(ERRORS[name], path)
    assert result.action is action
    assert (result.error or "").startswith(error or "")
    assert (result.error is None) == (error is None)
    assert result.at == (None if due is None else NOW + due)
    assert result.hold == hold
    assert result.metric == metric


@pytest.mark.parametrize("name", sorted(ERRORS))
def test_one_reading_of_each_error(name: str) -> None:
    assert failure_of(ERRORS[name]) is FAILURES[name]


@pytest.mark.parametrize("path", list(Path))
def test_a_migrated_chat_names_its_new_id(path: Path) -> None:
    assert decide(ERRORS["migrated"], path).new_chat_id == -100123


@pytest.mark.parametrize("name", ["5xx", "timeout", "network error"])
def test_a_send_and_a_notice_give_up_once_their_own_retries_have_lasted_the_deadline(
    name: str,
) -> None:
    # however long it waited before its first try (a mute, quiet hours, an outage)
    tries = next(n for n in range(1000) if waited(n, MAX_BACKOFF) >= DEADLINE)
    for path in (Path.SEND, Path.NOTICE):
        assert decide(ERRORS[name], path, attempts=tries - 1).action is Action.RETRY
        assert decide(ERRORS[name], path, attempts=tries).action is Action.GIVE_UP
    send = decide(ERRORS[name], Path.SEND, attempts=tries)
    assert send.metric == "error" and send.error.endswith("(retried for 1 day, 0:00:00)")


def test_a_chat_the_bot_may_not_post_to_keeps_its_alerts_until_the_deadline() -> None:
    # its admins can give the bot its rights back: until then it waits as for an outage
    for text in (
        "Bad Request: not enough rights to send text messages to the chat",
        "Bad Request: not enough rights to send photos to the chat",
        "Bad Request: have no rights to send a message",
        "Bad Request: CHAT_WRITE_FORBIDDEN",
    ):
        assert failure_of(BadRequest(text)) is Failure.NO_RIGHTS, text
    tries = next(n for n in range(1000) if waited(n, MAX_BACKOFF) >= DEADLINE)
    assert decide(ERRORS["no rights"], Path.SEND, attempts=tries - 1).action is Action.RETRY
    last = decide(ERRORS["no rights"], Path.SEND, attempts=tries)
    assert last.action is Action.GIVE_UP and last.metric == "no_rights"
    assert decide(ERRORS["no rights"], Path.DIGEST, attempts=tries).action is Action.GIVE_UP


def test_a_forums_closed_topic_keeps_its_alerts_as_a_chat_without_rights_does() -> None:
    """A forum whose General topic (or the topic it gets its alerts in) is closed answers
    TOPIC_CLOSED, which was read as a refusal: the alert was given up at its first try. Its
    admins can reopen it: until then it waits, for the deadline, as a chat without rights."""
    closed = BadRequest("Bad Request: TOPIC_CLOSED")
    assert failure_of(closed) is Failure.NO_RIGHTS
    tries = tries_within(DEADLINE, MAX_BACKOFF)
    first = decide(closed, Path.SEND, attempts=0)
    assert first.action is Action.RETRY and first.at == NOW + backoff(0, MAX_BACKOFF)
    assert first.waits == tries and first.metric == "no_rights"  # the chat waits with it
    assert decide(closed, Path.SEND, attempts=tries - 1).action is Action.RETRY
    assert decide(closed, Path.SEND, attempts=tries).action is Action.GIVE_UP
    assert decide(closed, Path.DIGEST).action is Action.RETRY
    assert decide(closed, Path.DIGEST).waits == tries
    assert decide(closed, Path.NOTICE).action is Action.RETRY  # a broadcast, a spike notice
    assert decide(closed, Path.EDIT).action is Action.RETRY


def test_a_weekly_report_refused_by_a_closed_topic_waits_with_no_deadline() -> None:
    """TOPIC_CLOSED skipped that week's report. It waits, past the alerts' deadline (a topic
    closed for a weekend), until the next week's report replaces it (`bot.insights.jobs`)."""
    closed = BadRequest("Bad Request: TOPIC_CLOSED")
    for attempts in (0, tries_within(DEADLINE, MAX_BACKOFF), 10_000):
        waits = decide(closed, Path.REPORT, attempts=attempts)
        assert waits.action is Action.RETRY and waits.at == NOW + MAX_BACKOFF
    assert decide(ValueError("a bug"), Path.REPORT).action is Action.RAISE


REPORT_MAX = timedelta(hours=2)


@pytest.mark.parametrize(
    ("attempts", "wait"),
    [(0, 10), (1, 20), (2, 40), (3, 80), (4, 120), (5, 120), (60, 120), (10**9, 120)],
)
def test_a_weekly_reports_wait_doubles_from_10_minutes_to_its_cap(attempts: int, wait: int) -> None:
    """Tried every 10 minutes, a forum topic closed all week (or a group that forbids photos)
    had its report drawn and sent 1,000 times. Each refusal in a row doubles the wait, to the
    cap; a reopened topic is found within the cap."""
    assert report_backoff(attempts, REPORT_MAX) == timedelta(minutes=wait)
    closed = BadRequest("Bad Request: TOPIC_CLOSED")
    result = outcome(
        closed, Path.REPORT, now=NOW, attempts=attempts, deadline=timedelta.max,
        max_backoff=REPORT_MAX,
    )  # fmt: skip
    assert result.action is Action.RETRY and result.at == NOW + timedelta(minutes=wait)
    assert result.counted


@given(st.integers(0, 10**6), st.integers(1, 10**6))
def test_a_weekly_reports_wait_never_shrinks_and_never_passes_its_cap(
    attempts: int, cap_minutes: int
) -> None:
    cap = timedelta(minutes=cap_minutes)
    wait = report_backoff(attempts, cap)
    assert min(cap, timedelta(minutes=10)) <= wait <= cap
    assert report_backoff(attempts + 1, cap) >= wait


@pytest.mark.parametrize("attempts", [0, 4, 10_000])
def test_a_weekly_report_waits_out_the_flood_wait_named_however_long_it_has_waited(
    attempts: int,
) -> None:
    """A 429 names the wait: neither the report's backoff nor counted as a refusal."""
    result = outcome(
        RetryAfter(30), Path.REPORT, now=NOW, attempts=attempts, deadline=timedelta.max,
        max_backoff=REPORT_MAX,
    )  # fmt: skip
    assert result.action is Action.RETRY and result.at == NOW + S and not result.counted


def test_a_weekly_reports_caption_telegram_cannot_parse_goes_once_as_plain_text() -> None:
    """Its week was skipped; it is sent again with its caption as plain text, as an alert is,
    and only a plain caption refused is given up."""
    bad = ERRORS["can't parse"]
    assert decide(bad, Path.REPORT).action is Action.PLAIN
    assert decide(bad, Path.REPORT, html=False).action is Action.GIVE_UP


def test_a_deleted_forum_topic_is_read_as_gone_in_each_of_telegrams_words() -> None:
    for text in (
        "Bad Request: message thread not found",
        "Bad Request: TOPIC_DELETED",
        "Bad Request: TOPIC_ID_INVALID",
    ):
        assert failure_of(BadRequest(text)) is Failure.THREAD_GONE, text


@pytest.mark.parametrize(
    ("deadline", "max_backoff"),
    [
        (DEADLINE, MAX_BACKOFF),
        (timedelta(hours=1), timedelta(seconds=1)),
        (timedelta(seconds=5), timedelta(hours=1)),
        (timedelta(0), MAX_BACKOFF),
        (timedelta(days=400), timedelta(days=30)),
    ],
)
def test_the_tries_a_deadline_allows(deadline: timedelta, max_backoff: timedelta) -> None:
    tries = tries_within(deadline, max_backoff)
    assert waited(tries, max_backoff) >= deadline
    assert tries == 0 or waited(tries - 1, max_backoff) < deadline


def test_an_alert_refused_for_want_of_rights_makes_the_chats_other_alerts_wait_with_it() -> None:
    tries = tries_within(DEADLINE, MAX_BACKOFF)
    for attempts in (0, tries - 1, tries):
        result = decide(ERRORS["no rights"], Path.SEND, attempts=attempts)
        assert result.waits == tries  # those that waited as long are given up with it
        assert result.at == NOW + backoff(attempts, MAX_BACKOFF)  # when they are tried again
    for name in sorted(set(ERRORS) - {"no rights"}):
        assert decide(ERRORS[name], Path.SEND, attempts=tries).waits == 0, name
    for path in (Path.EDIT, Path.NOTICE):  # one row
        assert decide(ERRORS["no rights"], path).waits == 0
    # a digest (a burst: not all of the chat's alerts) holds the chat as an alert does
    assert decide(ERRORS["no rights"], Path.DIGEST).waits == tries


@pytest.mark.parametrize("name", ["401", "no rights"])
def test_an_update_that_keeps_failing_is_given_up_at_its_last_try(name: str) -> None:
    # refused for a reason a wait does not change (Telegram answers, and says no)
    assert decide(ERRORS[name], Path.EDIT, attempts=EDIT_TRIES - 2).action is Action.RETRY
    last = decide(ERRORS[name], Path.EDIT, attempts=EDIT_TRIES - 1)
    assert last.action is Action.GIVE_UP and last.hold is None
    assert (last.error or "").endswith(f"(tried {EDIT_TRIES} times)")
    bug = decide(ValueError("a bug"), Path.EDIT)
    assert bug.action is Action.RAISE and bug.at == NOW + WAIT


@pytest.mark.parametrize("name", ["5xx", "timeout", "network error"])
def test_an_update_telegram_cannot_be_reached_for_waits_for_it_within_its_bounds(
    name: str,
) -> None:
    """An outage longer than EDIT_TRIES' few minutes lost the update until another outlet
    joined, while alerts are retried for the deadline; now it waits as they do, and no longer
    than its story's updates last (ALSO_WINDOW from its alert)."""
    tries = next(n for n in range(1000) if waited(n, MAX_BACKOFF) >= DEADLINE)
    assert decide(ERRORS[name], Path.EDIT, attempts=EDIT_TRIES).action is Action.RETRY
    assert decide(ERRORS[name], Path.EDIT, attempts=tries - 1).action is Action.RETRY
    last = decide(ERRORS[name], Path.EDIT, attempts=tries)
    assert last.action is Action.GIVE_UP
    assert (last.error or "").endswith("(retried for 1 day, 0:00:00)")
    # the story's window ends before the deadline: the try that would come after it is not
    queued = NOW - ALSO_WINDOW + timedelta(seconds=30)
    early = decide(ERRORS[name], Path.EDIT, attempts=ATTEMPTS, queued_at=queued)
    assert early.action is Action.RETRY and early.at == NOW + WAIT
    late = outcome(
        ERRORS[name], Path.EDIT, now=NOW, attempts=EDIT_TRIES, deadline=DEADLINE,
        max_backoff=MAX_BACKOFF, queued_at=queued,
    )  # fmt: skip
    assert late.action is Action.GIVE_UP and "updates are over" in (late.error or "")


def test_plain_text_that_is_still_refused_is_given_up_and_so_is_any_other_400() -> None:
    plain = decide(ERRORS["can't parse"], Path.SEND, html=False)
    assert plain.action is Action.GIVE_UP and plain.metric == "rejected"
    too_long = decide(BadRequest("Bad Request: message is too long"), Path.SEND)
    assert too_long.action is Action.GIVE_UP
    assert too_long.error == "400: Message is too long"


def test_backoff_doubles_up_to_the_maximum() -> None:
    assert [backoff(n, MAX_BACKOFF).total_seconds() for n in (0, 1, 3, 9, 10, 99)] == [
        1,
        2,
        8,
        512,
        600,
        600,
    ]


def test_alerts_given_up_are_reported_at_most_once_per_ten_minutes() -> None:
    given_up = GivenUp()
    assert given_up.report(NOW) is None  # nothing to say
    for n in range(12):
        given_up.add(f"alert {n}")
    report = given_up.report(NOW)
    assert report is not None
    first = EN.said(*report)  # the English; each admin reads it in their language
    assert first.startswith("kurilwatch: alerts that could not be delivered and were given up: 12")
    assert "- alert 9" in first and "- alert 10" not in first
    assert first.endswith("\n… and 2 more failures")
    given_up.add("alert 12")
    assert given_up.report(NOW + timedelta(minutes=9)) is None  # too soon: kept
    forced = given_up.report(NOW + timedelta(minutes=9), force=True)
    assert forced is not None and EN.said(*forced).endswith("again):\n- alert 12")
    given_up.add("alert 13")
    assert given_up.report(NOW + timedelta(minutes=20)) is not None


def test_a_report_counts_the_alerts_a_line_tells_of() -> None:
    given_up = GivenUp()
    given_up.add("chat 1, a digest of 40: 400", 40)
    given_up.add("chat 2, alert 7 (Kunashir): 400")
    report = given_up.report(NOW)
    assert report is not None and "given up: 41 " in EN.said(*report)


@pytest.mark.parametrize("name", ["5xx", "timeout", "network error"])
def test_a_digest_gives_up_once_its_own_retries_have_lasted_the_deadline(name: str) -> None:
    # its rows were queued long before it was due: their age says nothing of the digest's tries
    tries = next(n for n in range(1000) if waited(n, MAX_BACKOFF) >= DEADLINE)
    assert 140 < tries < 160  # about a day of 10-minute waits after the first doublings

    def digest(attempts: int) -> Outcome:
        return outcome(
            ERRORS[name], Path.DIGEST, now=NOW, attempts=attempts,
            deadline=DEADLINE, max_backoff=MAX_BACKOFF,
        )  # fmt: skip

    assert digest(tries - 1).action is Action.RETRY
    given_up = digest(tries)
    assert given_up.action is Action.GIVE_UP
    assert str(given_up.error).endswith("(retried for 1 day, 0:00:00)")
    # its rows tried as often are given up; those queued since wait on, tried again at `at`
    assert given_up.waits == tries_within(DEADLINE, MAX_BACKOFF) == tries
    assert given_up.at == NOW + MAX_BACKOFF
    assert given_up.metric == "error"  # each alert given up is counted; a try is not


def test_waited_sums_the_backoffs_between_tries() -> None:
    assert [waited(n, MAX_BACKOFF).total_seconds() for n in (0, 1, 2, 3, 11, 12)] == [
        0, 1, 3, 7, 1023 + 600, 1023 + 1200,
    ]  # fmt: skip


@pytest.mark.parametrize(("path", "name"), sorted(TABLE))
def test_only_flood_control_is_a_try_not_counted(path: Path, name: str) -> None:
    # a 429 puts the send off: the row keeps every try of its deadline for what follows
    assert decide(ERRORS[name], path).counted is (name != "429")


DAY = timedelta(days=1)
# (its Failure, the error its row keeps, how long it was retried) -> what the admins' line of the
# alerts given up says of it: what it means, then Telegram's (or the network's) own words
TOLD: list[tuple[Failure, str, timedelta | None, str]] = [
    (
        Failure.GONE,
        "Forbidden: bot was blocked by the user",
        None,
        "the bot was blocked in the chat or removed from it"
        " (Telegram: Forbidden: bot was blocked by the user)",
    ),
    (
        Failure.GONE,
        "Forbidden: bot was kicked from the supergroup chat",
        None,
        "the bot was blocked in the chat or removed from it"
        " (Telegram: Forbidden: bot was kicked from the supergroup chat)",
    ),
    (
        Failure.GONE,
        "Chat not found",
        None,
        "the chat was not found: it was deleted, or the bot is not in it (Telegram: Chat not"
        " found)",
    ),
    (
        Failure.GONE,
        "Forbidden: user is deactivated",
        None,
        "the user deleted their Telegram account (Telegram: Forbidden: user is deactivated)",
    ),
    (
        Failure.NO_RIGHTS,
        "BadRequest: Not enough rights to send text messages to the chat (retried for 1 day,"
        " 0:00:00)",
        DAY,
        "the bot has no right to post in the chat, retried for 1 day"
        " (Telegram: BadRequest: Not enough rights to send text messages to the chat)",
    ),
    (
        Failure.NO_RIGHTS,
        "BadRequest: Topic_closed (retried for 1 day, 0:00:00)",
        DAY,
        "the chat's forum topic is closed, retried for 1 day (Telegram: BadRequest: Topic_closed)",
    ),
    (
        Failure.THREAD_GONE,
        "400: Message thread not found",
        None,
        "the chat's forum topic was deleted (Telegram: 400: Message thread not found)",
    ),
    (
        Failure.UNPARSABLE,
        "400: Can't parse entities: unsupported start tag",
        None,
        "Telegram could not read the message's formatting"
        " (Telegram: 400: Can't parse entities: unsupported start tag)",
    ),
    (
        Failure.REJECTED,
        "400: Message is too long",
        None,
        "the message is longer than Telegram allows (Telegram: 400: Message is too long)",
    ),
    (
        Failure.REJECTED,
        "400: Message text is empty",
        None,
        "Telegram refused the message (Telegram: 400: Message text is empty)",
    ),
    (
        Failure.TRANSIENT,
        "TimedOut: Timed out (retried for 1 day, 0:00:00)",
        DAY,
        "Telegram did not answer in time, retried for 1 day (TimedOut: Timed out)",
    ),
    (
        Failure.TRANSIENT,
        "NetworkError: Bad Gateway (retried for 1 day, 0:00:00)",
        DAY,
        "Telegram could not be reached, retried for 1 day (NetworkError: Bad Gateway)",
    ),
    (
        Failure.TRANSIENT,
        "NetworkError: httpx.ConnectError: All connection attempts failed",
        None,
        "Telegram could not be reached"
        " (NetworkError: httpx.ConnectError: All connection attempts failed)",
    ),
    (
        Failure.FLOOD,
        "429: Flood control exceeded. Retry in 30 seconds",
        None,
        "Telegram's flood control held the messages back"
        " (Telegram: 429: Flood control exceeded. Retry in 30 seconds)",
    ),
    # what no meaning is known for reads as it came, as before
    (
        Failure.OTHER,
        "InvalidToken: Unauthorized (retried for 1 day, 0:00:00)",
        DAY,
        "InvalidToken: Unauthorized (retried for 1 day)",
    ),
    (Failure.UNEDITABLE, "Message to edit not found", None, "Message to edit not found"),
    (Failure.MIGRATED, "chat migrated", None, "chat migrated"),
]


@pytest.mark.parametrize(("failure", "error", "retried_for", "told"), TOLD)
def test_what_a_failure_given_up_means_is_told_before_telegrams_words(
    failure: Failure, error: str, retried_for: timedelta | None, told: str
) -> None:
    """The admins read Telegram's own words ("Forbidden: bot was blocked by the user") in a
    Russian or Japanese notice; now what they mean comes first, in each admin's language."""
    assert EN.say(cause(failure, error, retried_for)) == told


def test_the_meanings_table_covers_every_failure() -> None:
    assert {failure for failure, *_ in TOLD} == set(Failure)


@pytest.mark.parametrize(
    ("lang", "failure", "error", "retried_for", "told"),
    [
        (
            "ru",
            Failure.GONE,
            "Forbidden: bot was blocked by the user",
            None,
            "бот заблокирован в этом чате или удалён из него"
            " (ответ Telegram: Forbidden: bot was blocked by the user)",
        ),
        (
            "ja",
            Failure.GONE,
            "Forbidden: bot was blocked by the user",
            None,
            "そのチャットでボットがブロックされたか、削除されました"
            "（Telegram: Forbidden: bot was blocked by the user）",
        ),
        (
            "ru",
            Failure.TRANSIENT,
            "TimedOut: Timed out (retried for 1 day, 0:00:00)",
            DAY,
            "Telegram не ответил вовремя; попытки повторялись 1 день (ошибка: TimedOut: Timed out)",
        ),
        (
            "ja",
            Failure.TRANSIENT,
            "TimedOut: Timed out (retried for 1 day, 0:00:00)",
            DAY,
            "Telegram から時間内に応答がありませんでした。1 日にわたり再試行しました"
            "（TimedOut: Timed out）",
        ),
        ("ru", Failure.OTHER, "InvalidToken: Unauthorized", None, "InvalidToken: Unauthorized"),
    ],
)
def test_what_a_failure_means_is_said_in_the_admins_language(
    lang: str, failure: Failure, error: str, retried_for: timedelta | None, told: str
) -> None:
    assert texts(lang).say(cause(failure, error, retried_for)) == told


@pytest.mark.parametrize(("path", "name"), sorted(TABLE))
def test_an_outcome_keeps_the_failure_it_was_decided_for(path: Path, name: str) -> None:
    # the admins' line of an alert given up says what it means from it
    assert decide(ERRORS[name], path).failure is FAILURES[name]
