"""Carries out what a failed alert, digest or "Also:" update means (an `Outcome`) in the store,
and records a send that Telegram has carried out and the admins' report of alerts given up; all
through a store that fails for a while (`Outage` paces the worker's own loop while it does).

The worker decides nothing here: `outcome.py` has decided; these only record it and log it.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Concatenate, ParamSpec, TypeVar

from telegram import Message

from bot.delivery.outcome import Action, Failure, GivenUp, Outcome, cause, failure_of
from bot.i18n import EN, N_, Plural, Said, Value, stored
from store import AsyncStore, Delivery, Notice, OutboxState, Store
from watchers.text import counted

log = logging.getLogger("bot.delivery.worker")
P = ParamSpec("P")
T = TypeVar("T")
RECORD_RETRY_MAX = 30.0  # seconds between tries to record a send while the store fails


async def recorded(
    store: AsyncStore,
    verb: Callable[Concatenate[Store, P], T],
    *args: P.args,
    **kwargs: P.kwargs,
) -> T:
    """Record how a send went with `verb`, again and again while the store is locked (another
    writer) or full: a row left `sending` waits for the next start, and is sent again then even
    if it was sent. A stop cuts the tries. Said once as it begins and once as it ends."""
    wait, tries = 0.5, 0
    while True:
        try:
            done = await store.run(verb, *args, **kwargs)
        except sqlite3.OperationalError as exc:
            tries += 1
            level = logging.WARNING if tries == 1 else logging.DEBUG
            log.log(level, "could not record a send (%s); trying again in %gs", exc, wait)
        else:
            if tries:
                log.info("a send recorded after %d tries", tries + 1)
            return done
        await asyncio.sleep(wait)
        wait = min(2 * wait, RECORD_RETRY_MAX)


class Outage:
    """The store failing the worker's own loop for a while: said once as it begins and once as
    it ends, each try after a longer pause, up to RECORD_RETRY_MAX."""

    def __init__(self) -> None:
        self.tries = 0

    def failed(self, exc: sqlite3.OperationalError | str) -> float:
        """Another failed try; the seconds to wait before the next."""
        self.tries += 1
        wait = min(0.5 * 2.0 ** min(self.tries - 1, 10), RECORD_RETRY_MAX)
        if self.tries == 1:
            log.error("delivery paused: the store fails (%s); trying again until it works", exc)
        else:
            log.debug("delivery: the store still fails (%s); try %d in %gs", exc, self.tries, wait)
        return wait

    def over(self) -> None:
        if self.tries:
            log.info(
                "delivery resumed: the store works again after %s",
                counted(self.tries, "try", "tries"),
            )
        self.tries = 0


class Unreachable:
    """Telegram (or the way to it) failing the sends for a while: in an outage of hours each
    chat's alert is tried again every max_backoff, and a line at each try of each chat filled
    the log. The first failure is a warning, the further ones debug lines, until a request goes
    through, which says how many failed meanwhile.

    Likewise a chat the bot may not post to (a channel whose admins took its rights): its
    alerts wait until delivery.deadline, and each try of each was an error line. The first
    refusal of a chat is logged at its path's level, the further ones debug lines, until a
    send to it goes through, which says how many were refused meanwhile."""

    def __init__(self) -> None:
        self.failures = 0
        self.refused: dict[int, int] = {}  # chat id -> sends refused for want of rights

    def heard(self, exc: BaseException, result: Outcome, chat_id: int | None = None) -> Outcome:
        """`result` of a failed request (to `chat_id`), with the level its retry is logged at."""
        failure = failure_of(exc)
        if failure is Failure.NO_RIGHTS and chat_id is not None:
            refused = self.refused.pop(chat_id, 0) + 1
            if len(self.refused) >= MAX_REFUSED_CHATS:  # chats gone since: the oldest goes
                self.refused.pop(next(iter(self.refused)))
            self.refused[chat_id] = refused
            if refused == 1 or result.action is Action.GIVE_UP:  # an update lost is told
                return result
            return replace(result, level=logging.DEBUG)
        if failure is not Failure.TRANSIENT:
            return result
        self.failures += 1
        return replace(result, level=logging.WARNING if self.failures == 1 else logging.DEBUG)

    def reached(self, answer: T) -> T:
        """A request went through; its `answer`."""
        if self.failures > 1:
            log.info(
                "Telegram reachable again: a request went through after %d failed tries"
                " (those after the first logged at debug level)",
                self.failures,
            )
        self.failures = 0
        if self.refused and isinstance(answer, Message):
            refused = self.refused.pop(answer.chat_id, 0)
            if refused:
                log.info(
                    "chat %d: the bot may post there again, after %s refused for want of"
                    " rights (those after the first logged at debug level)",
                    answer.chat_id,
                    counted(refused, "send", "sends"),
                )
        return answer


MAX_REFUSED_CHATS = 10_000


async def report_given_up(
    store: AsyncStore, given_up: GivenUp, *, now: datetime, force: bool = False
) -> None:
    """Queue the admins' notice of the alerts given up, when one is due; if the store fails,
    they stay to be told at the next try."""
    lines, reported_at = list(given_up.lines), given_up.reported_at
    report = given_up.report(now, force=force)
    if report is None:
        return
    message, values = report
    try:
        await store.run(
            Store.notify_admins,
            EN.said(message, values),
            now=now,
            msgid=message,
            values=stored(values),
        )
    except sqlite3.OperationalError:
        given_up.lines[:0] = lines  # before those given up meanwhile
        given_up.reported_at = reported_at
        raise


async def report_at_stop(
    store: AsyncStore, given_up: GivenUp, *, now: datetime, until: float | None
) -> None:
    """The report of the alerts given up, queued as the worker ends; by `until` (the loop's
    time) at most, once the stop's grace is over: a store that does not answer (its disk hangs,
    another process's lock) held the worker, and the stop, for ever. Cut, said once."""
    count = sum(n for _, n in given_up.lines)
    try:
        async with asyncio.timeout_at(until):
            await report_given_up(store, given_up, now=now, force=True)
    except (sqlite3.OperationalError, TimeoutError, asyncio.CancelledError) as exc:
        why = str(exc) if isinstance(exc, sqlite3.OperationalError) else "the store did not answer"
        if count:
            log.error(
                "delivery: the admins' report of %s given up was cut at the stop (%s); each"
                " is in the log above, and in the outbox as 'failed'",
                counted(count, "alert", "alerts"),
                why,
            )
        if isinstance(exc, asyncio.CancelledError):
            raise


async def give_up(
    store: AsyncStore, delivery: Delivery, result: Outcome, given_up: GivenUp
) -> None:
    error = str(result.error)
    await recorded(store, Store.mark_failed, delivery.id, error)
    log.error("chat %d: alert %d failed for good: %s", delivery.chat_id, delivery.id, error)
    given_up.add(_given_up(delivery.chat_id, delivery.id, 1, delivery.item.title, _cause(result)))


def _given_up(chat: int, first: int, count: int, title: str, why: Value) -> Said:
    """The admins' line of a chat's `count` alerts given up together, `first` the first."""
    values = {"chat": str(chat), "alert": str(first), "title": title[:80], "error": why}
    if count == 1:
        return Said(N_("chat {chat}, alert {alert} ({title}): {error}"), values)
    alerts = Plural.ngettext(
        "chat {chat}, {n} alert (the first {alert}) ({title}): {error}",
        "chat {chat}, {n} alerts (the first {alert}) ({title}): {error}",
        "n",
    )
    return Said(alerts, values | {"n": str(count)})


def _cause(result: Outcome) -> Value:
    """Why alerts were given up, as the admins read it (`outcome.cause`): what the failure
    means and how long it was retried, in their language, then its words as they came."""
    return cause(result.failure, str(result.error), result.retried_for)


async def failed_send(
    store: AsyncStore, delivery: Delivery, result: Outcome, now: datetime, given_up: GivenUp
) -> int:
    """Record a failed single alert; giving up is the caller's (it reports to the admins), but
    for a chat the bot may not post to, whose alerts wait and are given up together. The
    number of the chat's other alerts given up with it."""
    chat_id, error, others = delivery.chat_id, str(result.error), 0
    if result.action is Action.RETRY and result.hold is not None:  # flood control
        await recorded(
            store, Store.mark_retry, delivery.id, error, at=result.at or now, counted=result.counted
        )
        log.warning(
            "chat %d: flood control, retrying alert %d in %gs", chat_id, delivery.id, result.hold
        )
    elif result.action is Action.MIGRATE:
        assert result.new_chat_id is not None
        # pending first: a row the new chat already has is then dropped, not revived
        await recorded(store, Store.mark_retry, delivery.id, error, at=now)
        await recorded(store, Store.migrate_chat, chat_id, result.new_chat_id, now=now)
        log.info(
            "chat %d: migrated to %d; alert %d will be resent",
            chat_id,
            result.new_chat_id,
            delivery.id,
        )
    elif result.action is Action.GONE:
        dropped = await recorded(store, Store.deactivate_chat, chat_id, error, now=now)
        log.info(
            "chat %d: %s; chat marked inactive, %s dropped",
            chat_id,
            error,
            counted(dropped, "alert", "alerts"),
        )
    else:
        assert result.at is not None
        if result.waits:  # the bot may not post there: the chat's other alerts wait with it
            others = await _refused(store, delivery, result, given_up)
        else:
            await recorded(store, Store.mark_retry, delivery.id, error, at=result.at)
        if result.action is Action.GIVE_UP:
            return others
        log.log(
            logging.ERROR if result.level is None else result.level,
            "chat %d: alert %d not sent (%s); retry in %s",
            chat_id,
            delivery.id,
            error,
            result.at - now,
        )
    return others


async def _refused(
    store: AsyncStore, delivery: Delivery, result: Outcome, given_up: GivenUp
) -> int:
    """An alert refused for want of rights: the chat's other alerts wait with it, and those
    that have waited as long as the deadline allows are given up with it (how many)."""
    assert result.at is not None
    give_up = result.action is Action.GIVE_UP
    error, chat_id = str(result.error), delivery.chat_id
    failed = await recorded(
        store,
        Store.refused_with_chat,
        delivery.id,
        error,
        at=result.at,
        give_up=give_up,
        tries=result.waits,
    )
    others = len(failed)
    if give_up:
        failed.insert(0, (delivery.id, delivery.item.title))
    if not failed:
        return 0
    # one line for the chat, not one per alert (a channel may have hundreds waiting)
    (first, title), count = failed[0], len(failed)
    alerts = f"alert {first}" if count == 1 else f"{count} alerts (the first {first})"
    log.error("chat %d: %s failed for good: %s", chat_id, alerts, error)
    given_up.add(_given_up(chat_id, first, count, title, _cause(result)), count)
    return others


async def failed_digest(
    store: AsyncStore,
    chat_id: int,
    rows: list[Delivery],
    result: Outcome,
    now: datetime,
    given_up: GivenUp,
) -> int:
    """Record a failed digest of `rows`; those given up are told to the admins (how many)."""
    ids = [d.id for d in rows]
    if result.action is Action.GONE:
        await recorded(store, Store.deactivate_chat, chat_id, str(result.error), now=now)
    elif result.action is Action.MIGRATE:
        assert result.new_chat_id is not None
        # pending first: rows the new chat already has are then dropped, not revived
        await recorded(
            store, Store.settle_many, ids, OutboxState.PENDING, now=now, error=result.error
        )
        await recorded(store, Store.migrate_chat, chat_id, result.new_chat_id, now=now)
        log.info(
            "chat %d: migrated to %d; a digest of %d will be resent there",
            chat_id,
            result.new_chat_id,
            len(ids),
        )
    elif result.action is Action.GIVE_UP:
        # past the deadline (`waits`), each row by its own tries: those queued since wait on
        ids = [d.id for d in rows if d.attempts >= result.waits]
        waiting = [d.id for d in rows if d.attempts < result.waits]
        await recorded(
            store, Store.settle_many, ids, OutboxState.FAILED, now=now, error=result.error
        )
        if waiting:
            at, error = result.at or now, result.error
            await recorded(
                store, Store.settle_many, waiting, OutboxState.PENDING, now=at, error=error
            )
            if result.metric == Failure.NO_RIGHTS:
                await recorded(store, Store.hold_refused, chat_id, at)
        digest = Plural.ngettext(
            "chat {chat}, a digest of {n} alert: {error}",
            "chat {chat}, a digest of {n} alerts: {error}",
            "n",
        )
        values = {"chat": str(chat_id), "n": str(len(ids)), "error": _cause(result)}
        given_up.add(Said(digest, values), len(ids))
        return len(ids)
    else:
        assert result.at is not None
        await recorded(
            store,
            Store.settle_many,
            ids,
            OutboxState.PENDING,
            now=result.at,
            error=result.error,
            counted=result.counted,
        )
        if result.waits:  # the bot may not post there: the chat's other alerts wait with it
            await recorded(store, Store.hold_refused, chat_id, result.at)
        log.log(
            logging.WARNING if result.level is None else result.level,
            "chat %d: digest of %d not sent (%s); retry in %s",
            chat_id,
            len(ids),
            result.error,
            result.at - now,
        )
    return 0


async def failed_notice(
    store: AsyncStore, notice: Notice, result: Outcome, *, now: datetime
) -> None:
    """Record a failed notice to an admin, or broadcast to a chat."""
    chat_id, error = notice.chat_id, result.error
    state, at = OutboxState.PENDING, result.at or now
    if result.action is Action.GONE:  # as an alert's refusal says: sent nothing more
        dropped = await recorded(store, Store.deactivate_chat, chat_id, str(error), now=now)
        log.info(
            "chat %d: %s; chat marked inactive, %s dropped",
            chat_id,
            error,
            counted(dropped, "alert", "alerts"),
        )
        state = OutboxState.DROPPED
    elif result.action is Action.DROP:
        state = OutboxState.DROPPED
        log.warning("chat %d: notice %d not sent: %s", chat_id, notice.id, error)
    elif result.action is Action.GIVE_UP:
        state = OutboxState.FAILED
        log.error("chat %d: notice %d failed for good: %s", chat_id, notice.id, error)
    elif result.action is Action.MIGRATE:  # a broadcast moves with its group
        await migrated(store, chat_id, result, now=now)
    await recorded(
        store, Store.settle_notice, notice.id, state, now=at, error=error, counted=result.counted
    )


async def migrated(store: AsyncStore, chat_id: int, result: Outcome, *, now: datetime) -> None:
    """A group refused a broadcast as migrated: it moves, its queued alerts and broadcasts with
    it (the one refused too), to be sent at the new id."""
    assert result.new_chat_id is not None
    await recorded(store, Store.migrate_chat, chat_id, result.new_chat_id, now=now)
    log.info("chat %d: migrated to %d; its broadcasts go there", chat_id, result.new_chat_id)


async def failed_edit(
    store: AsyncStore, delivery: Delivery, result: Outcome, *, now: datetime
) -> bool:
    """Record a failed "Also:" update; False when it stays pending (tried again later)."""
    chat_id = delivery.chat_id
    if result.action is Action.LATER:  # flood control: after the chat's hold
        return False
    if result.action in (Action.RETRY, Action.RAISE):
        assert result.at is not None
        await recorded(store, Store.edit_failed, delivery.id, at=result.at)
        log.log(
            logging.WARNING if result.level is None else result.level,
            "chat %d: alert %d update failed (%s); retry in %s",
            chat_id,
            delivery.id,
            result.error,
            result.at - now,
        )
        return False
    if result.action is Action.GIVE_UP:  # in an outage, a debug line after its first failure
        log.log(
            logging.WARNING if result.level is None else result.level,
            "chat %d: alert %d update given up: %s",
            chat_id,
            delivery.id,
            result.error,
        )
    elif result.action is Action.GONE:
        # pending, as the updates of its other alerts: `due_edits` skips it until it is back
        error = str(result.error)
        dropped = await recorded(store, Store.deactivate_chat, chat_id, error, now=now)
        log.info(
            "chat %d: %s; chat marked inactive, %s dropped",
            chat_id,
            error,
            counted(dropped, "alert", "alerts"),
        )
        return False
    elif result.action is Action.LEAVE:
        await recorded(store, Store.edit_refused, delivery.id, str(result.error))
        log.info(
            "chat %d: alert %d can no longer be updated (%s); its story's later outlets leave it",
            chat_id,
            delivery.id,
            result.error,
        )
    elif result.action is Action.MIGRATE:
        # the sent alert stayed in the old group's history, which the new id cannot edit
        assert result.new_chat_id is not None
        await recorded(store, Store.migrate_chat, chat_id, result.new_chat_id, now=now)
        log.info(
            "chat %d: migrated to %d; alert %d left without its update",
            chat_id,
            result.new_chat_id,
            delivery.id,
        )
    else:
        log.info("chat %d: alert %d not updated: %s", chat_id, delivery.id, result.error)
    return True
