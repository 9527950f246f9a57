"""The daemon's Telegram side: signing in (retrying while Telegram is unreachable), then
updates and the delivery worker; a refused token, the side ending unexpectedly, and its stop.
Mixed into `bot.daemon.Daemon`."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Awaitable, Callable
from typing import Any

from telegram.error import InvalidToken, TelegramError
from telegram.ext import Application

from bot.config import Config
from bot.delivery.worker import DeliveryWorker
from bot.i18n import N_, Said, Value
from bot.interrupt import stopped_within
from bot.metrics import Metrics
from bot.reload import delivery_settings
from bot.telegram.channels import Channels
from bot.telegram.chat import set_commands
from bot.telegram.updates import PollErrors, say_token_refused, stop_updates
from store import AsyncStore

log = logging.getLogger("bot.daemon")  # its lines are the daemon's

STOP_GRACE = 5.0  # seconds for in-flight work at shutdown, well within the 10 s promise
TELEGRAM_RETRY_FIRST = 5.0
TELEGRAM_RETRY_MAX = 300.0
# the first sign-in is awaited this long at most before the daemon says it runs (PTB's own
# timeouts end a getMe well before)
SIGN_IN_WAIT = 30.0
CHANNELS_RETRY_MAX = 30.0  # seconds between two tries to record the channels, at most

App = Application[Any, Any, Any, Any, Any, Any]


class LastReadAtStop(logging.Filter):
    """At a stop PTB calls getUpdates once more, to confirm to Telegram what was read; when
    Telegram does not answer, PTB logs an ERROR with the chained tracebacks of its timeout,
    which reads as a crash. The stop is deliberate: one warning line says what it costs."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.getMessage().startswith("Error while calling `get_updates` one more time"):
            error = record.exc_info[1] if record.exc_info else None
            record.msg = (
                "stopping: Telegram did not confirm the updates read (%s); those since its last"
                " confirmation may come again after the next start"
            )
            record.args = (f"{type(error).__name__}: {error}" if error else "no answer",)
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.exc_info = record.exc_text = None
        return True


_LAST_READ = LastReadAtStop()


class TelegramSide:
    """The daemon's Telegram side (the daemon's fields and methods it uses are declared)."""

    settings: Config
    exit_code: int
    delivery: DeliveryWorker | None
    metrics: Metrics
    _stop: asyncio.Event
    _sign_in_tried: asyncio.Event
    stop: Callable[[], None]
    _add_channels: Callable[[App, AsyncStore], Awaitable[None]]
    _channels: Channels
    _channels_retry: asyncio.Task[None] | None = None  # the channels, while the store fails

    async def _run_telegram(self, app: App, store: AsyncStore) -> None:
        """Sign in (retrying while Telegram is unreachable), then poll updates and deliver."""
        logging.getLogger("telegram.ext.Updater").addFilter(_LAST_READ)  # once: it is one object
        delay = TELEGRAM_RETRY_FIRST
        while True:
            try:
                await app.initialize()
                break
            except InvalidToken:
                self._token_refused()
                return
            except TelegramError as exc:
                problem = exc
            finally:  # answered: the daemon says it runs (offline, while Telegram is not)
                self._sign_in_tried.set()
            log.warning(
                "Telegram unreachable at %s (%s); trying again in %gs",
                self.settings.telegram.api_host,
                problem,
                delay,
            )
            if await stopped_within(self._stop, delay):
                return
            delay = min(delay * 2, TELEGRAM_RETRY_MAX)
        log.info("Telegram: signed in as @%s", app.bot.username)
        try:
            await set_commands(app.bot)
        except TelegramError as exc:
            log.warning("could not set the bot's command menu: %s", exc)
        # tracked as a reload's are: a reload meanwhile replaces it (its channels are written
        # last), and the start goes on once that one has recorded them
        self._channels_retry = started = asyncio.create_task(
            self._record_channels(app, store), name="channels"
        )
        while (recording := self._channels_retry) is not None and not recording.done():
            await asyncio.wait({recording})
        if not started.cancelled() and (error := started.exception()) is not None:
            raise error  # a bug: the side ends, and says so
        if self._stop.is_set():  # updates and sends started now would only be cut short
            return
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0.0, timeout=10, error_callback=PollErrors())
        if self._stop.is_set():  # came while they started: the stop found no worker to stop
            return
        self.delivery = DeliveryWorker(
            store,
            app.bot,
            settings=delivery_settings(self.settings),
            tz=self.settings.telegram.tz,
            metrics=self.metrics,
        )
        await self.delivery.run()

    async def _record_channels(self, app: App, store: AsyncStore, wait: float = 0.0) -> None:
        """The config's channels recorded, after `wait` seconds (0: at once); a store that fails
        (locked past its busy timeout, full) is waited for, at growing intervals, until it
        takes them or a stop."""
        told = wait > 0  # a reload has said so
        while not await stopped_within(self._stop, wait):
            try:
                await self._add_channels(app, store)
            except sqlite3.OperationalError as exc:
                if not told:
                    log.error("channels not recorded yet: the store fails (%s); retrying", exc)
                    told = True
                wait = min(max(2 * wait, 1.0), CHANNELS_RETRY_MAX)
                continue
            if told:
                log.info("channels recorded once the store took them")
            return

    async def _reload_channels(self, app: App, store: AsyncStore) -> Value:
        """A reload's channels, recorded now; while the store fails, in the background (the
        rest of the new config is in force meanwhile). What the reload's summary says of them."""
        if self._channels_retry is not None:  # the start's or an earlier reload's: would write
            # the channels of an earlier config
            self._channels_retry.cancel()
            self._channels_retry = None
        try:
            await self._add_channels(app, store)
            return Said(N_("channels"))
        except sqlite3.OperationalError as exc:
            log.error("channels not recorded yet: the store fails (%s); retrying", exc)
            problem = f"{exc}"[:200]
        self._channels_retry = asyncio.create_task(
            self._record_channels(app, store, wait=1.0), name="channels"
        )
        self._channels_retry.add_done_callback(_say_channels_failed)
        retrying = N_("channels not recorded yet (the store fails: {problem}; retrying)")
        return Said(retrying, {"problem": problem})

    async def _signed_in_or_stopped(self) -> None:
        """Wait (at most SIGN_IN_WAIT) for the first sign-in's answer, or a stop: a daemon
        whose token Telegram refuses at start must not say it runs."""
        waits = [asyncio.create_task(e.wait()) for e in (self._sign_in_tried, self._stop)]
        try:
            await asyncio.wait(waits, timeout=SIGN_IN_WAIT, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for wait in waits:
                wait.cancel()

    def _token_refused(self) -> None:  # at sign-in, or revoked while we run (`TokenWatch`)
        if self.exit_code != 2:
            say_token_refused(self.settings.telegram.token_env)
        self.exit_code = 2
        self.stop()

    def _telegram_ended(self, task: asyncio.Task[None]) -> None:
        if task.cancelled() or self._stop.is_set():
            return
        error = task.exception()
        # the Telegram side must not die quietly while polls go on: stop, so a supervisor
        # (systemd's Restart=on-failure) starts us again
        log.error("the Telegram side stopped unexpectedly; stopping", exc_info=error)
        self.exit_code = self.exit_code or 1
        self.stop()

    async def _finish_sends(self, task: asyncio.Task[None] | None) -> None:
        """At a stop: the sends in flight finish and are recorded, within STOP_GRACE; then the
        side is cancelled (a send cut short stays queued, and is sent after a restart; one
        sent but cut from its record waits `unrecorded.JOURNAL_WAIT` more for its line)."""
        self._channels.stop()  # the channels still unreached are tried at the next start
        if task is None:
            return
        if self.delivery is not None:
            self.delivery.stop()
        done, _ = await asyncio.wait({task}, timeout=STOP_GRACE)
        if not done:  # still signing in, or a send hangs
            task.cancel()
            await asyncio.wait({task})

    async def _finish_channels(self) -> None:
        """At a stop: the channels' try in flight (while the store fails) ends, within
        STOP_GRACE / 2, beside the other stages' graces (after them, the stop took 2.5 s more)."""
        if self._channels_retry is not None:
            _, slow = await asyncio.wait({self._channels_retry}, timeout=STOP_GRACE / 2)
            for late in slow:
                late.cancel()

    async def _stop_telegram(self, app: App, task: asyncio.Task[None]) -> None:
        await self._finish_sends(task)
        await stop_updates(app)
        if app.running:
            await app.stop()
        await app.shutdown()


def _say_channels_failed(task: asyncio.Task[None]) -> None:
    """A reload's channels, recorded in the background, failed otherwise than on a store that
    fails (a bug): said, not lost with the task."""
    if not task.cancelled() and (error := task.exception()) is not None:
        log.error("channels not recorded: %s", error, exc_info=error)
