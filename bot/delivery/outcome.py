"""What a failed Telegram request means for the row it carried: pure, one table for every path.

`failure_of` reads a Telegram error once (flood control, a chat gone or moved, HTML Telegram
cannot parse, another refusal, or a transient network/server error); `outcome` turns it into
what the worker does for a single alert, an "Also:" edit, a digest or an admin notice (and the
report job for a weekly report): retry when, hold the chat how long, move it, mark it gone,
fall back to plain text, give up or drop.
`GivenUp` gathers the alerts given up into one notice to the admins per REPORT_EVERY; `cause`
says what a failure means there, in each admin's language, before Telegram's own words.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    NetworkError,
    RetryAfter,
    TelegramError,
)

from bot.delivery.retry import retry_after_seconds
from bot.i18n import N_, Joined, Number, Plural, Said, Span, Value
from store.also import ALSO_WINDOW

# a failing "Also:" update refused for a reason a wait does not change (no rights, a revoked
# token) is given up at its 8th failure (after 4 min or so); one that Telegram cannot be reached
# for waits for it, as an alert does, until its deadline or its story's ALSO_WINDOW is over
EDIT_TRIES = 8
REPORT_EVERY = timedelta(minutes=10)  # at most one "alerts given up" notice to admins per
SHOWN = 10  # lines of alerts given up a notice shows; the others it counts
# characters of an error kept on a row and in the log: PTB puts the whole body of an answer it
# cannot read in its message, and a proxy's error page in front of Telegram runs to kilobytes
MAX_ERROR = 300
# a weekly report Telegram did not take is tried again after this, doubled at each refusal in a
# row up to the `max_backoff` its job gives (`report_backoff`)
REPORT_RETRY = timedelta(minutes=10)


class Path(StrEnum):
    """What the failed request was sending."""

    SEND = "send"  # one alert
    EDIT = "edit"  # an alert updated with the outlets that carried its story since
    DIGEST = "digest"  # a chat's held alerts, in one or more messages
    NOTICE = "notice"  # plain text to an admin (or a broadcast)
    REPORT = "report"  # a chat's weekly report (`bot.insights.jobs`)


class Failure(StrEnum):
    """A Telegram error, read once."""

    FLOOD = "flood"  # 429: wait retry_after
    MIGRATED = "migrated"  # the group became a supergroup with a new id
    GONE = "gone"  # 403 (blocked, kicked) or "chat not found"
    NO_RIGHTS = "no_rights"  # 400: the bot may not post there (yet): a channel's admin rights
    THREAD_GONE = "thread_gone"  # 400: the forum topic sent to was deleted
    UNPARSABLE = "unparsable"  # 400 "can't parse entities": our HTML is wrong
    UNEDITABLE = "uneditable"  # 400 on an edit: the message was deleted, or may not be edited
    REJECTED = "rejected"  # another 400: sending it again cannot help
    TRANSIENT = "transient"  # 5xx, timeout, network error
    OTHER = "other"  # anything else (a bug, a store error)


class Action(StrEnum):
    RETRY = "retry"  # pending again, due at `at`
    LATER = "later"  # (an edit, 429) nothing recorded: tried again once the chat's hold is over
    MIGRATE = "migrate"  # move the chat to `new_chat_id`, then retry at `at` (an edit: dropped)
    GONE = "gone"  # mark the chat inactive (its pending alerts are dropped)
    PLAIN = "plain"  # send the same alert again as plain text
    GIVE_UP = "give_up"  # failed for good: kept as failed and reported to the admins
    DROP = "drop"  # nothing more to do (an edit done, a notice dropped)
    LEAVE = "leave"  # (an edit) its message can never be edited: no more updates of it
    RAISE = "raise"  # not handled: the worker logs it and the row is tried again


@dataclass(frozen=True, slots=True)
class Outcome:
    action: Action
    error: str | None = None  # recorded on the row (or the chat's inactive reason)
    at: datetime | None = None  # when a retry is due
    hold: float | None = None  # seconds nothing goes to this chat
    metric: str | None = None  # counted as kurilwatch_deliveries_total{outcome=...}
    new_chat_id: int | None = None
    level: int | None = None  # its retry's log line's level, set by `settle.Unreachable`
    # an alert refused for want of rights to its chat: the chat's other queued alerts wait with
    # it (one try at a time for the chat), this refusal counted as a try of each, and those
    # tried this many times already are given up with it (`tries_within` the deadline); a
    # digest past its deadline: its rows tried this many times are given up, the others wait
    waits: int = 0
    # a row given up after retries as long as the deadline: how long (`error` says it too, in
    # English; the admins' notice says it in their language)
    retried_for: timedelta | None = None
    failure: Failure | None = None  # the failure it was decided for (`failure_of`)

    @property
    def counted(self) -> bool:
        """Whether this try counts toward giving the row up. A 429 (a `hold`) is Telegram
        putting the send off, not failing it: hours of flood control leave a row every try of
        its deadline for the errors that may follow."""
        return self.hold is None


# Telegram's 400s for a chat the bot is in but may not post to: a channel whose admins have
# not given it (or took back) "Post messages", a group that restricts it. Its admins can
# fix that, so the alerts wait as for a network error instead of being given up at once.
# A forum's topic closed (its General too) refuses the bot alike until its admins reopen it.
_NO_RIGHTS = (
    "not enough rights",
    "need administrator rights",
    "have no rights to send",
    "chat_write_forbidden",
    "chat_admin_required",
    "chat_send_",
    "topic_closed",
)
# Telegram's 400s for a message sent to a forum topic that is no more (deleted): the sender
# sends it to the chat's General topic instead (`bot.delivery.threads`)
_THREAD_GONE = ("message thread not found", "topic_deleted", "topic_id_invalid")
# Telegram's 400s for an edit of a message that no later edit can reach: deleted by the user,
# a channel post the bot may not edit, an id that names no message (any more)
_UNEDITABLE = ("message to edit not found", "message can't be edited", "message_id_invalid")


def failure_of(exc: BaseException) -> Failure:
    if isinstance(exc, RetryAfter):
        return Failure.FLOOD
    if isinstance(exc, ChatMigrated):
        return Failure.MIGRATED
    if isinstance(exc, Forbidden):
        return Failure.GONE
    if isinstance(exc, BadRequest):  # before NetworkError: PTB makes it one
        text = exc.message.lower()
        if "chat not found" in text:
            return Failure.GONE
        if any(words in text for words in _NO_RIGHTS):
            return Failure.NO_RIGHTS
        if any(words in text for words in _THREAD_GONE):
            return Failure.THREAD_GONE
        if any(words in text for words in _UNEDITABLE):
            return Failure.UNEDITABLE
        return Failure.UNPARSABLE if "can't parse entities" in text else Failure.REJECTED
    if isinstance(exc, NetworkError | TimeoutError):  # TimedOut and 5xx are NetworkErrors
        return Failure.TRANSIENT
    return Failure.OTHER


def backoff(attempts: int, max_backoff: timedelta) -> timedelta:
    """The wait before the next try of a row tried `attempts` times: 2 s, 4 s, ... up to max."""
    return min(max_backoff, timedelta(seconds=2 ** min(attempts, 20)))


def report_backoff(attempts: int, max_backoff: timedelta) -> timedelta:
    """The wait before the next try of a weekly report refused `attempts` times in a row
    before this refusal (a 429 not counted): 10 minutes, doubled at each, up to max."""
    return min(max_backoff, REPORT_RETRY * (1 << min(attempts, 20)))


def waited(attempts: int, max_backoff: timedelta) -> timedelta:
    """The least time a row tried `attempts` times has been retried for: the backoffs between
    its tries, against which every path's deadline is measured. A row's age cannot say how long
    it has been failing: a digest's rows, and an alert held by a mute or quiet hours or queued
    before an outage, wait long before their first try."""
    return sum((backoff(n, max_backoff) for n in range(attempts)), timedelta(0))


def tries_within(deadline: timedelta, max_backoff: timedelta) -> int:
    """The tries after which a row is given up: the least n with `waited(n) >= deadline`."""
    n, total = 0, timedelta(0)
    while total < deadline:
        step = backoff(n, max_backoff)
        if step <= timedelta(0):
            return n  # no backoff at all: never measured as waiting (not a valid config)
        if n >= 20 or step == max_backoff:  # the same pause from here on
            return n - (total - deadline) // step
        total, n = total + step, n + 1
    return n


def outcome(
    exc: BaseException,
    path: Path,
    *,
    now: datetime,
    attempts: int,
    deadline: timedelta,
    max_backoff: timedelta,
    html: bool = True,
    queued_at: datetime | None = None,
) -> Outcome:
    """What to do after `exc` on `path`; `html` is whether the text sent was HTML; an edit's
    `queued_at` (its alert's) starts the window its story's outlets update it in."""
    failure = failure_of(exc)
    decided = _decided(
        exc,
        failure,
        path,
        now=now,
        attempts=attempts,
        deadline=deadline,
        max_backoff=max_backoff,
        html=html,
        queued_at=queued_at,
    )
    return replace(decided, failure=failure)


def _decided(
    exc: BaseException,
    failure: Failure,
    path: Path,
    *,
    now: datetime,
    attempts: int,
    deadline: timedelta,
    max_backoff: timedelta,
    html: bool,
    queued_at: datetime | None,
) -> Outcome:
    message = _brief(getattr(exc, "message", str(exc)))
    described = _brief(f"{type(exc).__name__}: {exc}")
    flood = retry_after_seconds(exc) if isinstance(exc, RetryAfter) else 0.0
    refused = isinstance(exc, BadRequest) and failure is not Failure.NO_RIGHTS
    if failure is Failure.MIGRATED and path is not Path.NOTICE:
        assert isinstance(exc, ChatMigrated)
        metric = "migrated" if path is Path.SEND else None
        return Outcome(
            Action.MIGRATE, "chat migrated", now, metric=metric, new_chat_id=exc.new_chat_id
        )
    if path is Path.REPORT:  # no deadline: it waits until the next week's replaces it
        if failure is Failure.GONE:
            return Outcome(Action.GONE, error=message)
        if failure is Failure.FLOOD:
            at = now + timedelta(seconds=flood)
            return Outcome(Action.RETRY, f"429: {message}", at, hold=flood)
        if failure is Failure.UNPARSABLE and html:  # its caption, as an alert's text
            return Outcome(Action.PLAIN, error=message)
        if refused:  # this week's is skipped
            return Outcome(Action.GIVE_UP, error=f"400: {message}")
        # a closed topic's, or a group's that forbids photos, may last all week
        at = now + report_backoff(attempts, max_backoff)
        if isinstance(exc, TelegramError):  # down, unreachable, a closed topic, no rights
            return Outcome(Action.RETRY, described, at)
        return Outcome(Action.RAISE, described, at)
    if path is Path.EDIT:
        if failure is Failure.FLOOD:
            return Outcome(Action.LATER, hold=flood)
        if failure is Failure.GONE:  # 403, or "chat not found": as a send's, the chat is gone
            return Outcome(Action.GONE, error=message)
        if failure is Failure.UNEDITABLE:  # every later outlet's update would fail alike
            return Outcome(Action.LEAVE, error=message)
        if refused:  # not modified (the same text again)
            return Outcome(Action.DROP, error=message)
        # the update waits on its row, not its chat: the chat's new alerts go on
        at = now + backoff(attempts, max_backoff)
        if failure is Failure.TRANSIENT:  # Telegram down or unreachable: it waits for it
            if waited(attempts, max_backoff) >= deadline:
                return Outcome(Action.GIVE_UP, error=f"{described} (retried for {deadline})")
            if queued_at is not None and at > queued_at + ALSO_WINDOW:
                over = "(its story's updates are over)"
                return Outcome(Action.GIVE_UP, error=f"{described} {over}")
            return Outcome(Action.RETRY, error=described, at=at)
        # an answer of Telegram's that we do not know (a revoked token, one PTB cannot read)
        # gets a few tries; only our own bugs are raised
        if attempts + 1 >= EDIT_TRIES:
            return Outcome(Action.GIVE_UP, error=f"{described} (tried {EDIT_TRIES} times)")
        if isinstance(exc, TelegramError):
            return Outcome(Action.RETRY, error=described, at=at)
        return Outcome(Action.RAISE, error=described, at=at)
    if path is Path.NOTICE:
        if failure is Failure.FLOOD:
            return Outcome(
                Action.RETRY, f"429: {message}", now + timedelta(seconds=flood), hold=flood
            )
        if failure is Failure.GONE:  # a broadcast is often the first send to find it so
            return Outcome(Action.GONE, error=message)
        if refused:
            return Outcome(Action.DROP, error=message)
        if waited(attempts, max_backoff) >= deadline:
            return Outcome(Action.GIVE_UP, error=described, at=now)
        at = now + backoff(attempts, max_backoff)
        if failure is Failure.MIGRATED:  # a broadcast to a group: it moves, and is sent there
            assert isinstance(exc, ChatMigrated)
            return Outcome(Action.MIGRATE, "chat migrated", at, new_chat_id=exc.new_chat_id)
        return Outcome(Action.RETRY, described, at)
    metric = "error" if failure in (Failure.TRANSIENT, Failure.OTHER) else str(failure)
    if path is Path.DIGEST:  # its tries are not counted in the metric; each alert given up is
        if failure is Failure.GONE:
            return Outcome(Action.GONE, error=message)
        if refused:
            return Outcome(Action.GIVE_UP, error=f"400: {message}", at=now, metric="rejected")
        if failure is Failure.FLOOD:
            return Outcome(Action.RETRY, described, now + timedelta(seconds=flood), hold=flood)
        at = now + backoff(attempts, max_backoff)
        waits = tries_within(deadline, max_backoff)
        if waited(attempts, max_backoff) >= deadline:  # `attempts`: its most tried row's
            # the rows tried as often as the deadline allows are given up; those queued since
            # keep their own deadline, and are tried again at `at`
            error = f"{described} (retried for {deadline})"
            return Outcome(
                Action.GIVE_UP, error, at, metric=metric, waits=waits, retried_for=deadline
            )
        if failure is Failure.NO_RIGHTS:  # as an alert refused: the whole chat waits with it
            return Outcome(Action.RETRY, described, at, waits=waits)
        return Outcome(Action.RETRY, described, at)
    if failure is Failure.FLOOD:
        at = now + timedelta(seconds=flood)
        return Outcome(Action.RETRY, f"429: {message}", at, hold=flood, metric=metric)
    if failure is Failure.GONE:
        return Outcome(Action.GONE, error=message, metric=metric)
    if failure is Failure.UNPARSABLE and html:
        return Outcome(Action.PLAIN, error=message)
    if refused:
        return Outcome(Action.GIVE_UP, error=f"400: {message}", metric="rejected")
    at = now + backoff(attempts, max_backoff)
    waits = tries_within(deadline, max_backoff) if failure is Failure.NO_RIGHTS else 0
    if waited(attempts, max_backoff) >= deadline:
        error = f"{described} (retried for {deadline})"
        # `at`: when the chat's alerts that waited with it are tried again
        again = at if waits else None
        return Outcome(
            Action.GIVE_UP, error, again, metric=metric, waits=waits, retried_for=deadline
        )
    return Outcome(Action.RETRY, described, at, metric=metric, waits=waits)


# what a failure means, for the admins told of the alerts it gave up: Telegram's (or the
# network's) words are kept after it, for them to search; for those of a failure the bot knows
# no more of, its words alone
_MEANINGS: dict[Failure, tuple[tuple[str, str], ...]] = {  # (words in its text, msgid); "": any
    Failure.GONE: (
        ("chat not found", N_("the chat was not found: it was deleted, or the bot is not in it")),
        ("user is deactivated", N_("the user deleted their Telegram account")),
        ("", N_("the bot was blocked in the chat or removed from it")),
    ),
    Failure.NO_RIGHTS: (
        ("topic_closed", N_("the chat's forum topic is closed")),
        ("", N_("the bot has no right to post in the chat")),
    ),
    Failure.THREAD_GONE: (("", N_("the chat's forum topic was deleted")),),
    Failure.UNPARSABLE: (("", N_("Telegram could not read the message's formatting")),),
    Failure.REJECTED: (
        ("message is too long", N_("the message is longer than Telegram allows")),
        ("", N_("Telegram refused the message")),
    ),
    Failure.TRANSIENT: (
        ("timed out", N_("Telegram did not answer in time")),
        ("", N_("Telegram could not be reached")),
    ),
    Failure.FLOOD: (("", N_("Telegram's flood control held the messages back")),),
}


def meaning(failure: Failure | None, error: str) -> str | None:
    """What `failure`, whose row keeps `error`, means to the admins (a msgid); None for one
    whose own words say what the bot knows of it (OTHER: a bug, an answer it cannot read)."""
    text = error.lower()
    for words, msgid in _MEANINGS.get(failure, ()) if failure is not None else ():
        if words in text:
            return msgid
    return None


def cause(failure: Failure | None, error: str, retried_for: timedelta | None = None) -> Value:
    """Why alerts were given up, as the admins read it: what `failure` means, in their language
    (and how long it was retried), then the words of `error` (the row's, as it came; without
    the " (retried for ...)" its row's English ends in)."""
    if retried_for is not None:
        error = error.removesuffix(f" (retried for {retried_for})")
    period = None if retried_for is None else Span(retried_for.total_seconds())
    means = meaning(failure, error)
    if means is None:
        if period is None:
            return error
        return Said(N_("{error} (retried for {period})"), {"error": error, "period": period})
    reason: Value = Said(means)
    if period is not None:
        # Translators: what a failure means, then how long the alerts were tried again
        reason = Said(N_("{reason}, retried for {period}"), {"reason": reason, "period": period})
    if failure is Failure.TRANSIENT:  # the words may be the network's, or a proxy's
        # Translators: what a failure means, then the network's own words for it, as they came
        return Said(N_("{reason} ({error})"), {"reason": reason, "error": error})
    # Translators: what a failure means, then Telegram's own words for it, as they came
    return Said(N_("{reason} (Telegram: {error})"), {"reason": reason, "error": error})


def _brief(text: str) -> str:
    return text if len(text) <= MAX_ERROR else text[: MAX_ERROR - 1] + "…"


class GivenUp:
    """Alerts given up since the last report to the admins."""

    def __init__(self) -> None:
        # a line (said in each admin's language), and how many alerts it tells of
        self.lines: list[tuple[Value, int]] = []
        self.reported_at: datetime | None = None

    def add(self, line: Value, count: int = 1) -> None:
        self.lines.append((line, count))

    def report(self, now: datetime, *, force: bool = False) -> tuple[str, dict[str, Value]] | None:
        """The notice to send now (a msgid and its values, for each admin's language), if one
        is due (`force`: at a stop), and the lines are taken; None when there is nothing to say
        or the last report was too recent."""
        if not self.lines:
            return None
        if not force and self.reported_at and now - self.reported_at < REPORT_EVERY:
            return None
        lines, self.lines = self.lines, []
        self.reported_at = now
        details: tuple[Value, ...] = (Joined(tuple(line for line, _ in lines[:SHOWN]), "bullets"),)
        if len(lines) > SHOWN:
            more = Plural.ngettext(
                "… and {more} more failure", "… and {more} more failures", "more"
            )
            details += (Said(more, {"more": str(len(lines) - SHOWN)}),)
        message = N_(
            "kurilwatch: alerts that could not be delivered and were given up: {n} (kept in"
            " the outbox as 'failed'; `kurilwatch resend` queues them again):\n{details}"
        )
        count = Number(sum(n for _, n in lines))
        return message, {"n": count, "details": Joined(details, "lines")}
