"""Sending a reply despite flood control or a network blip: Telegram's 429 names the wait."""

from __future__ import annotations

import asyncio
import logging
import warnings
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TypeVar

from telegram.error import BadRequest, NetworkError, RetryAfter

from watchers import bounded

log = logging.getLogger(__name__)
T = TypeVar("T")

MAX_ATTEMPTS = 4
MAX_RETRY_AFTER = 86400.0  # a longer flood-control wait Telegram names is read as a day
MAX_WAIT = 60.0  # a reply that would wait longer is not worth holding the handler for


def retry_after_seconds(exc: RetryAfter) -> float:
    with warnings.catch_warnings():  # PTB 22 warns that the int form will become a timedelta
        warnings.simplefilter("ignore")
        value = exc.retry_after
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    return bounded.wait_seconds(seconds, MAX_RETRY_AFTER)


async def with_retries(send: Callable[[], Awaitable[T]]) -> T:
    """`send()`, again after a 429's wait or a network error's short backoff, a few times."""
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            return await send()
        except RetryAfter as exc:
            wait = retry_after_seconds(exc)
            if attempt == MAX_ATTEMPTS or wait > MAX_WAIT:
                raise
            log.info("flood control on a reply: retrying in %gs", wait)
        except BadRequest:  # PTB makes it a NetworkError; retrying cannot help
            raise
        except NetworkError as exc:  # timeouts included
            if attempt == MAX_ATTEMPTS:
                raise
            wait = 0.5 * 2**attempt
            log.info("network error on a reply (%s): retrying in %gs", exc, wait)
        await asyncio.sleep(wait)
    raise AssertionError("unreachable")
