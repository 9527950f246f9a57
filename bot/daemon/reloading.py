"""The daemon's config reloads: the config watch, SIGHUP and /reload re-read the file, and a
valid change is handed to the running parts (`bot.reload`). Mixed into `bot.daemon.Daemon`."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from pathlib import Path

from bot import reload
from bot.config import (
    Config,
    ConfigError,
    PlacedError,
    Stamp,
    config_stamp,
    load_config,
    said_error,
)
from bot.daemon.telegram import App
from bot.delivery.worker import DeliveryWorker
from bot.i18n import EN, N_, Joined, Message, Plural, Texts, Value, Values
from bot.metrics import Metrics, configure_metrics
from bot.operator.backtest import report_reload
from bot.telegram.chat import BotContext
from store import AsyncStore
from watchers.feed_jobs import FeedScheduler
from watchers.poll import Poller

log = logging.getLogger("bot.daemon")  # its lines are the daemon's
READS = 3  # times a config that changes while it is read is read again, each once settled

SHOWN_PROBLEMS = 10  # a refused edit's problems named in the reply, notice and log, at most
STALE = timedelta(minutes=15)  # unhealthy after no successful poll for 3 intervals, at least this
Tell = Callable[[Message, Values], Awaitable[None]]  # a notice to the admins (a reload's)


class ConfigReloads:
    """The daemon's config reloads (the daemon's fields and methods it uses are declared)."""

    settings: Config
    config_path: Path | None
    config_stamp: Stamp | None
    config_settle: float
    metrics: Metrics
    delivery: DeliveryWorker | None
    _stop: asyncio.Event
    _reloading: asyncio.Lock
    _background: set[asyncio.Task[str]]
    _started: Config
    _store: AsyncStore | None
    _app: App | None
    _feeds: FeedScheduler | None
    _poller: Poller | None
    _ctx: BotContext | None
    _listen_port: int | None
    _tell_admins_surely: Tell
    _telling_all_but: Callable[[int | None], Tell]
    _recompile: Callable[[Poller, AsyncStore], Awaitable[None]]
    _reload_channels: Callable[[App, AsyncStore], Awaitable[Value]]
    _applying: Config | None = None  # the config before an apply that has not finished
    # the problems of the refused config the admins were told of (in English), till one loads
    _refusal_told: str | None = None
    _held: tuple[Config, ...] = ()  # and those of applies since that failed part-way

    def request_reload(self) -> None:
        """SIGHUP: reload in the background (`reload` reports its own failures)."""
        task = asyncio.get_running_loop().create_task(self.reload(), name="reload")
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _watch_config(self) -> None:
        """Reload when the config file changes, however it was saved (`reload.watch_config`)."""
        if self.config_path is not None:
            await reload.watch_config(
                self.config_path, self._stop, self.reload, lambda: self.config_stamp
            )

    async def reload(self, tr: Texts = EN, sender: int | None = None) -> str:
        """Re-read the config and apply it without a restart; a bad file changes nothing.

        Returns what happened, in one line in `tr`'s language (for /reload); the log and the
        admins hear it too, but for the admin who sent the /reload (`sender`), whom this
        answers. The one path of the config watcher, SIGHUP and /reload: it never raises.
        """
        if self.config_path is None:
            return tr._("There is no config file to re-read.")
        tell = self._telling_all_but(sender)
        async with self._reloading:
            try:
                return await self._reload(self.config_path, tr, tell)
            except Exception as exc:  # a reload must never end its caller
                problem = f"{type(exc).__name__}: {exc}"[:300]
                if self._applying is not None:  # some parts have the new config already
                    log.exception("config applied in part; the next reload applies it again")
                    failed = N_(
                        "kurilwatch: config applied in part ({problem}); the next reload"
                        " (SIGHUP, /reload) applies it again."
                    )
                    said = tr._(
                        "Reloaded in part ({problem}); the next reload applies it again.",
                        problem=problem,
                    )
                else:
                    log.exception("config reload failed; the running config stays")
                    failed = N_(
                        "kurilwatch: config reload failed ({problem}); the running config stays."
                    )
                    said = tr._(
                        "Not reloaded; the running config stays. {problems}", problems=problem
                    )
                try:
                    await tell(failed, {"problem": problem})
                except Exception:  # the log already holds the problem
                    log.exception("could not tell the admins")
                return said

    async def _reload(self, config_path: Path, tr: Texts, tell: Tell) -> str:
        """Load the candidate config; apply it only when it is valid and differs."""
        for _ in range(READS):
            seen = await reload.settled(config_path, self.config_settle)
            # what is read now: the config watch reloads again only once the file differs
            self.config_stamp = await asyncio.to_thread(config_stamp, config_path)
            try:
                new: Config | None = await asyncio.to_thread(
                    load_config, config_path, regular_only=True
                )
                problems: Sequence[PlacedError] = ()
            except ConfigError as exc:
                new, problems = None, exc.errors
            # an editor truncated the file to save it after `settled` looked: read it again
            if await asyncio.to_thread(config_stamp, config_path) == seen:
                break
        if new is None:
            return await self._refused(problems, config_path, tr, tell)
        self._refusal_told = None
        if new == self.settings and self._applying is None:
            log.info("config re-read: nothing changed")
            return tr._("The config has not changed.")
        summary = await self._apply(new, tell)
        log.info("config reloaded: %s", EN.say(summary))
        return tr._("Reloaded: {summary}", summary=tr.say(summary))

    async def _refused(
        self, problems: Sequence[PlacedError], config_path: Path, tr: Texts, tell: Tell
    ) -> str:
        """A bad edit refused: its first problems (a bulk edit makes thousands) logged, told the
        admins and answered, each in its reader's language (the log's in English). The same
        problems read again (another admin's /reload, SIGHUP, a save that changed nothing) are
        logged and answered, not told again."""
        said = Joined(tuple(map(said_error, problems[:SHOWN_PROBLEMS])), "clauses")
        values: dict[str, Value] = {"problems": said}
        more = len(problems) - SHOWN_PROBLEMS
        told = f"{EN.say(said)} +{max(more, 0)}"
        if told == self._refusal_told:
            tell = _told_already
        self._refusal_told = told
        if more <= 0:
            log.error("config not reloaded, the running config stays: %s", EN.say(said))
            notice: Message = N_(
                "kurilwatch: config not reloaded ({problems}); the running config stays."
            )
            await tell(notice, values)
            return tr._("Not reloaded; the running config stays. {problems}", problems=tr.say(said))
        values |= {"more": str(more), "path": str(config_path)}
        notice = Plural.ngettext(
            "kurilwatch: config not reloaded ({problems}; +{more} more problem: `kurilwatch"
            " check --config {path}` lists every one); the running config stays.",
            "kurilwatch: config not reloaded ({problems}; +{more} more problems: `kurilwatch"
            " check --config {path}` lists every one); the running config stays.",
            "more",
        )
        log.error(
            "config not reloaded, the running config stays: %s (+%d more: `kurilwatch check"
            " --config %s` lists them)",
            EN.say(said),
            more,
            config_path,
        )
        await tell(notice, values)
        return tr.ngettext(
            "Not reloaded; the running config stays. {problems} (+{n} more problem:"
            " `kurilwatch check --config {path}` lists every one)",
            "Not reloaded; the running config stays. {problems} (+{n} more problems:"
            " `kurilwatch check --config {path}` lists every one)",
            more,
            problems=tr.say(said),
            path=str(config_path),
        )

    async def _apply(self, new: Config, tell: Tell | None = None) -> Value:
        """Hand `new` to the running parts; what was done; the admins' notices said through
        `tell` (all of them by default). One that fails part-way leaves `_applying` set: the
        next reload applies the change from the config before it again, and from each that
        failed since, which parts may hold (a feed it added)."""
        tell = tell or self._tell_admins_surely
        old = self._applying or self.settings
        held = (*self._held, self.settings) if self._applying is not None else ()
        warned = await asyncio.to_thread(reload.new_warnings, old, new, self.config_path)
        self._applying, self.settings, self._held = old, new, held
        configure_metrics(self.metrics, new, STALE)
        store, app = self._store, self._app
        report = None
        if store is not None:
            # written again until the store takes it, as every other admins' notice is
            report = functools.partial(report_reload, store, tell)
        parts = reload.Running(
            feeds=self._feeds,
            poller=self._poller,
            ctx=self._ctx,
            listen_port=self._listen_port,
            delivery=self.delivery,
            recompile=lambda poller: self._recompile(poller, poller.store),
            add_channels=(
                (lambda: self._reload_channels(app, store))
                if app is not None and store is not None
                else None
            ),
            report_queries=report,
            tell_admins=tell,
        )
        change = reload.diff(old, new, self._started)
        for failed in held:
            change = reload.union(change, reload.diff(failed, new, self._started))
        done = await reload.apply(change, new, parts, warned)
        self._applying, self._held = None, ()
        return done


async def _told_already(message: Message, values: Values) -> None:
    """A refusal the admins were told of: nothing more to tell."""
