"""The PTB application and how updates reach it: different chats at once, one chat in order.

PTB handles updates one at a time unless told otherwise: a slow command (a /watch that
recompiles the topics) then held up every other chat's /help. This processor runs updates
concurrently, but a chat's next update waits for its previous one, so "/watch a" then
"/watches" still answer in the order they were sent. `PollErrors` says when getting updates
fails, in a line now and then rather than a traceback at every retry; `TokenWatch` when
Telegram refuses the token while the daemon runs. Every connection to Telegram shares one TLS
context (`connection`).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import logging
import ssl
import sys
import time
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Any

import httpx
from telegram import Update
from telegram.error import InvalidToken, TelegramError
from telegram.ext import Application, ApplicationBuilder, BaseUpdateProcessor, Defaults
from telegram.request import HTTPXRequest

from bot.config import Config
from bot.telegram.busy import Answer, Busy, answer_for
from watchers.text import counted

log = logging.getLogger(__name__)

MAX_CONCURRENT = 256  # updates in progress at once, all chats together
MAX_QUEUED = 100  # updates of one chat waiting for its running one
MAX_WAITING = 4096  # updates running or waiting, all chats together
CONNECTIONS = 256  # to send with, as PTB's ApplicationBuilder makes them when given none
POLL_ERRORS_EVERY = 600.0  # seconds between two lines on failures to get updates


class PerChatUpdates(BaseUpdateProcessor):
    """Updates of different chats at once, `max_concurrent_updates` at most, and each chat's in
    order. PTB takes a place of its own bound before `do_process_update` runs: an update that
    waited there for its chat's previous one held a place, and a chat that queued as many as
    the bound behind a slow /search stopped every other chat's commands. PTB's bound is only
    the queues' therefore, and a place to run is taken here, once the chat's turn has come.
    A chat may have `max_queued` updates waiting; more are dropped (said in the log), and so
    are those past `max_waiting` of all chats together (a flood from many chats, each queueing
    a few, was held whole for as long as it lasted), and those still waiting at a stop
    (`stopping`): PTB's stop runs every update it handed out, and 100 behind a slow command
    broke the promise of a stop within 10 s.

    A dropped update is told so (`busy`), in the background: a press is answered, and a
    chat's burst of commands (until its queue empties) gets one reply. One dropped at a stop
    gets nothing: it is dropped as its chat's running update ends, mostly within PTB's stop,
    and Application.shutdown closes the bot's connection right after (before it shuts this
    down): an answer sent then would mostly fail, and one awaited would hold the stop, one
    update of a chat after the other."""

    def __init__(
        self,
        max_concurrent_updates: int = MAX_CONCURRENT,
        max_queued: int = MAX_QUEUED,
        max_waiting: int = MAX_WAITING,
    ) -> None:
        super().__init__(sys.maxsize)  # every update waits below, for its chat or for a place
        self._running = asyncio.Semaphore(max_concurrent_updates)
        self.max_queued, self.max_waiting = max_queued, max_waiting
        self._waiting = 0  # updates running or waiting, all chats together
        self._flooded = False  # past `max_waiting` since the updates waiting were half as many
        self._locks: dict[int, asyncio.Lock] = {}
        self._users: dict[int, int] = {}  # updates holding or awaiting each chat's lock
        self._dropping: set[int] = set()  # chats past `max_queued` since their queue emptied
        self._told: set[int] = set()  # of those, the chats told they are busy
        self.stopping = False  # set by `stop_updates`: the updates still waiting never run
        self._stopped: set[int | None] = set()  # the chats whose waiting updates a stop dropped
        self.busy: Busy | None = None  # says it to a dropped update's chat (`build_application`)

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        if self._waiting >= self.max_waiting:
            self._drop_any(update, coroutine)
            return
        self._waiting += 1
        try:
            await self._in_turn(update, coroutine)
        finally:
            self._waiting -= 1
            if self._waiting <= self.max_waiting // 2:
                self._flooded = False

    async def _in_turn(self, update: object, coroutine: Awaitable[Any]) -> None:
        chat = update.effective_chat if isinstance(update, Update) else None
        if chat is None:
            async with self._running:
                await self._run(None, coroutine)
            return
        users = self._users.get(chat.id, 0)
        if users > self.max_queued:  # one running, and `max_queued` waiting behind it
            self._drop(chat.id, update, coroutine)
            return
        lock = self._locks.setdefault(chat.id, asyncio.Lock())
        self._users[chat.id] = users + 1
        try:
            async with lock, self._running:
                await self._run(chat.id, coroutine)
        finally:
            self._users[chat.id] -= 1
            if not self._users[chat.id]:
                del self._users[chat.id], self._locks[chat.id]
                self._dropping.discard(chat.id)
                self._told.discard(chat.id)

    async def _run(self, chat_id: int | None, coroutine: Awaitable[Any]) -> None:
        """The update's turn has come: run it, unless a stop came while it waited."""
        if not self.stopping:
            await coroutine
            return
        _close(coroutine)
        if chat_id not in self._stopped:
            self._stopped.add(chat_id)
            log.warning(
                "stopping: the updates %s that were waiting to be handled are dropped, not run",
                "of a chat without one" if chat_id is None else f"of chat {chat_id}",
            )

    def _drop(self, chat_id: int, update: object, coroutine: Awaitable[Any]) -> None:
        _close(coroutine)
        if self.busy is not None:
            told = chat_id in self._told
            answer = answer_for(update, self.busy.username, told=told, stopping=self.stopping)
            if self.busy.say(update, answer) and answer is Answer.REPLY:
                self._told.add(chat_id)
        level = logging.DEBUG if chat_id in self._dropping else logging.WARNING
        self._dropping.add(chat_id)
        log.log(
            level,
            "chat %d: %s already for one of its commands to end: more are dropped",
            chat_id,
            counted(self.max_queued, "update waits", "updates wait"),
        )

    def _drop_any(self, update: object, coroutine: Awaitable[Any]) -> None:
        """An update past `max_waiting`, of whichever chat: a press is answered, but no chat
        gets a reply (a flood of chats would get one each), and no chat is recorded as told."""
        _close(coroutine)
        if self.busy is not None:
            answer = answer_for(update, self.busy.username, told=True, stopping=self.stopping)
            self.busy.say(update, answer)
        level = logging.DEBUG if self._flooded else logging.WARNING
        self._flooded = True
        log.log(
            level,
            "%s or running, all chats together: more are dropped",
            counted(self.max_waiting, "update waits", "updates wait"),
        )

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        if self.busy is not None:
            await self.busy.close()


def _close(coroutine: Awaitable[Any]) -> None:
    if inspect.iscoroutine(coroutine):
        coroutine.close()  # never run


class PollErrors:
    """The updater's `error_callback`: python-telegram-bot retries getUpdates every 30 s at
    most while Telegram or the network is down, and by default logs each failure with its
    traceback, for hours of an outage. This says it in one line, then once per `every`
    seconds with the count, for as long as it lasts."""

    def __init__(
        self, every: float = POLL_ERRORS_EVERY, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.every, self.clock = every, clock
        self._said_at: float | None = None
        self._failed = 0

    def __call__(self, error: TelegramError) -> None:
        self._failed += 1
        now = self.clock()
        if self._said_at is not None and now - self._said_at < self.every:
            return
        log.warning(
            "Telegram: getting updates failed (%s: %s); failures since the last such line: %d",
            type(error).__name__,
            error,
            self._failed,
        )
        self._said_at, self._failed = now, 0


@functools.cache
def tls() -> ssl.SSLContext:
    """The one TLS context of the process's connections to Telegram, made as httpx makes it
    (certifi's CAs, or $SSL_CERT_FILE). httpx made one per client, two per application or
    `Bot`, each reading the CA bundle again: 17 ms of CPU each."""
    return httpx.create_ssl_context()


def connection(pool_size: int = CONNECTIONS, **options: Any) -> HTTPXRequest:
    """PTB's HTTPXRequest with the shared TLS context: `pool_size` connections (HTTPXRequest's
    default; a `Bot` gets updates on 1), and `options` are HTTPXRequest's (timeouts)."""
    return HTTPXRequest(connection_pool_size=pool_size, httpx_kwargs={"verify": tls()}, **options)


class TokenWatch(HTTPXRequest):
    """getUpdates' connection, which calls `refused` when Telegram refuses the token (revoked
    at @BotFather while the daemon runs): PTB then stops getting updates for good and only
    logs it, so the daemon would run on deaf to every command."""

    def __init__(self, refused: Callable[[], None], connection_pool_size: int) -> None:
        super().__init__(connection_pool_size=connection_pool_size, httpx_kwargs={"verify": tls()})
        self.refused = refused

    async def do_request(self, *args: Any, **kwargs: Any) -> tuple[int, bytes]:
        code, payload = await super().do_request(*args, **kwargs)
        if code in (HTTPStatus.UNAUTHORIZED, HTTPStatus.NOT_FOUND):  # PTB's InvalidToken
            self.refused()
        return code, payload


def build_application(
    settings: Config, token: str, refused: Callable[[], None] = lambda: None
) -> Application[Any, Any, Any, Any, Any, Any]:
    processor = PerChatUpdates()
    app = (
        ApplicationBuilder()
        .token(token)
        .base_url(settings.telegram.api_base_url)
        .base_file_url(settings.telegram.api_base_url.replace("/bot", "/file/bot", 1))
        .concurrent_updates(processor)
        # a group's answer quotes the command: one deleted meanwhile (by its sender, or by a
        # bot that cleans up commands) made Telegram refuse the answer, and the apology too
        .defaults(Defaults(allow_sending_without_reply=True))
        .request(connection(CONNECTIONS))
        # at a stop PTB sends one last getUpdates to confirm what was read; with the default
        # single connection it waited for the cancelled long poll's, and on a loaded machine
        # gave up after 1 s, logging the PoolTimeout with a traceback
        .get_updates_request(TokenWatch(refused, connection_pool_size=2))
        .build()
    )
    processor.busy = Busy(app)
    return app


def say_token_refused(token_env: str) -> None:
    log.error(
        "Telegram rejected the token in $%s (401 Unauthorized: it is wrong, or was revoked);"
        " set $%s to the bot's token from @BotFather, then start kurilwatch again",
        token_env,
        token_env,
    )


async def stop_updates(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
    if isinstance(app.update_processor, PerChatUpdates):  # no update waiting runs any more
        app.update_processor.stopping = True
    if app.updater is not None and app.updater.running:
        with contextlib.suppress(InvalidToken):  # the refusal that ended them, said already
            await app.updater.stop()
