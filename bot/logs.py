"""Logging set-up: readable lines (or JSON lines) on stderr, with secrets (the token) redacted.

Poll and delivery messages start with "feed <id>:" or "chat <id>:"; the JSON lines carry that
id as a field of its own, so a log pipeline can filter by feed or chat.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable
from typing import Literal

from pythonjsonlogger.json import JsonFormatter

QUIET_LOGGERS = (
    "httpx", "httpcore", "apscheduler", "telegram.ext.Updater", "hpack", "pymorphy3",
    "watchfiles",  # a line per change of the config's folder, where the store may be too
)  # fmt: skip
LogFormat = Literal["text", "json"]
_SUBJECT = re.compile(r"^(feed|chat|admin) (\S+?):")


def _redact(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, "[token]")
    return text


class RedactingFormatter(logging.Formatter):
    """Replaces every secret in the whole formatted record, traceback included."""

    def __init__(self, fmt: str, secrets: Iterable[str] = ()) -> None:
        super().__init__(fmt)
        self.secrets = [s for s in secrets if s]

    def format(self, record: logging.LogRecord) -> str:
        return _redact(super().format(record), self.secrets)


class RedactingJsonFormatter(JsonFormatter):
    """One JSON object per line: time, level, logger, message, and `feed` or `chat`."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__(
            "%(asctime)s %(levelname)s %(name)s %(message)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        )
        self.secrets = [s for s in secrets if s]

    def add_fields(
        self,
        log_data: dict[str, object],
        record: logging.LogRecord,
        message_dict: dict[str, object],
    ) -> None:
        super().add_fields(log_data, record, message_dict)
        subject = _SUBJECT.match(record.getMessage())
        if subject:
            kind, value = subject.groups()
            log_data[kind] = int(value) if kind != "feed" and value.lstrip("-").isdigit() else value

    def format(self, record: logging.LogRecord) -> str:
        return _redact(super().format(record), self.secrets)


class ShortAnswers(logging.Filter):
    """PTB logs the whole body of an answer it cannot read (a proxy's error page in front of
    Telegram runs to kilobytes) with the traceback of its JSON parsing, at every request that
    gets one: its first characters tell as much, and the caller logs the failure itself."""

    limit = 300

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if len(message) > self.limit:
            record.msg, record.args = message[: self.limit] + "…", None
            record.exc_info = record.exc_text = None
        return True


class RefusalWithoutTraceback(logging.Filter):
    """PTB logs a token refused at getUpdates (revoked while we run) with its traceback; the
    daemon says so in one line of its own and stops."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and type(record.exc_info[1]).__name__ == "InvalidToken":
            record.exc_info = record.exc_text = None
        return True


_SHORT_ANSWERS = ShortAnswers()
_REFUSAL = RefusalWithoutTraceback()


def setup_logging(
    level: str = "INFO", secrets: Iterable[str] = (), log_format: LogFormat = "text"
) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":
        handler.setFormatter(RedactingJsonFormatter(secrets))
    else:
        handler.setFormatter(
            RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s", secrets)
        )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    logging.getLogger("telegram.request.BaseRequest").addFilter(_SHORT_ANSWERS)
    logging.getLogger("telegram.ext").addFilter(_REFUSAL)
