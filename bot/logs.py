"""Logging set-up: readable lines on stderr, with secrets (the bot token) redacted."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable

QUIET_LOGGERS = ("httpx", "httpcore", "apscheduler", "telegram.ext.Updater", "hpack", "pymorphy3")


class RedactingFormatter(logging.Formatter):
    """Replaces every secret in the whole formatted record, traceback included."""

    def __init__(self, fmt: str, secrets: Iterable[str] = ()) -> None:
        super().__init__(fmt)
        self.secrets = [s for s in secrets if s]

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        for secret in self.secrets:
            text = text.replace(secret, "[token]")
        return text


def setup_logging(level: str = "INFO", secrets: Iterable[str] = ()) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s", secrets)
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
