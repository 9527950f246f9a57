"""Log output: JSON lines that carry the feed or chat id, and never the token."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
from telegram.error import TelegramError
from telegram.request import BaseRequest

from bot.logs import RedactingJsonFormatter, setup_logging
from tests.conftest import TOKEN, write_config
from tests.fakes.feed_server import FeedEntry, FeedServer, rss
from tests.fakes.telegram_api import FakeBotAPI

CHAT = 31337


def test_json_lines_name_the_feed_or_chat_and_hide_the_token(
    tmp_path: Path, feed_server: FeedServer, bot_api: FakeBotAPI, start_daemon: Any
) -> None:
    old = FeedEntry("Old: Kuril Islands", "https://a.example/old", guid="old")
    new = FeedEntry("Iturup airport reopens", "https://a.example/new", guid="new")
    feed_server.set_feed("/a.xml", rss([old]))
    config = write_config(
        tmp_path, {"feed-a": feed_server.url("/a.xml")}, api_base_url=bot_api.base_url
    )
    daemon = start_daemon(
        "--log-level", "DEBUG", "run", "--config", str(config), "--log-format", "json", token=TOKEN
    )
    feed_server.wait_for_hits("/a.xml", 2, timeout=20)
    bot_api.wait_until_polling(timeout=20)
    bot_api.push_message(CHAT, "/subscribe kuril")
    bot_api.wait_for_messages(CHAT, 1)
    feed_server.set_feed("/a.xml", rss([new, old]))
    bot_api.wait_for_messages(CHAT, 2, timeout=20)
    daemon.stderr.wait_for(f"chat {CHAT}: alert")
    assert daemon.stop() == 0

    records = [json.loads(line) for line in daemon.stderr.lines if line.startswith("{")]
    assert len(records) > 10
    assert all({"time", "level", "logger", "message"} <= set(r) for r in records)
    assert any(r.get("feed") == "feed-a" and "new item" in r["message"] for r in records)
    assert any(r.get("chat") == CHAT and "sent" in r["message"] for r in records)
    everything = daemon.stderr.text + daemon.stdout.text
    assert TOKEN not in everything and TOKEN.split(":")[1] not in everything
    assert "[token]" in everything  # DEBUG logs the request URLs, redacted


def test_the_json_formatter_redacts_tracebacks_too() -> None:
    formatter = RedactingJsonFormatter([TOKEN])
    try:
        raise RuntimeError(f"failed on https://api.example/bot{TOKEN}/getMe")
    except RuntimeError:
        import sys

        record = logging.LogRecord("x", logging.ERROR, "f", 1, "boom %s", (TOKEN,), sys.exc_info())
    line = formatter.format(record)
    assert TOKEN not in line and json.loads(line)["message"] == "boom [token]"


def test_telegram_unreachable_for_long_logs_a_line_not_a_traceback_per_retry(
    tmp_path: Path, bot_api: FakeBotAPI, start_daemon: Any
) -> None:
    """python-telegram-bot retries getUpdates every 30 s at most while Telegram (or the
    network) is down, and logged each failure with a full traceback: hours of an outage
    filled the log. One line now, and again only if it lasts."""
    config = write_config(tmp_path, {}, api_base_url=bot_api.base_url)
    daemon = start_daemon("run", "--config", str(config), token=TOKEN)
    bot_api.wait_until_polling(timeout=20)
    bot_api.fail_share("getUpdates", 1.0, status=502)
    failing_from = len(bot_api.calls_of("getUpdates"))
    bot_api.push_message(CHAT, "/help")  # ends the long poll parked now
    bot_api.wait_for_calls("getUpdates", failing_from + 4, timeout=30)  # four failures
    assert daemon.stop() == 0
    # (a stop during the outage still logs PTB's last getUpdates failing, once)
    assert "Exception happened while polling" not in daemon.stderr.text
    assert daemon.stderr.text.count("Telegram: getting updates failed") == 1


def test_poll_errors_say_an_outage_once_per_period_with_the_count() -> None:
    from telegram.error import NetworkError

    from bot.telegram.updates import PollErrors
    from tests.conftest import handler_on

    now = [0.0]
    errors = PollErrors(every=600, clock=lambda: now[0])
    lines: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: lines.append(record.getMessage())  # type: ignore[method-assign]
    with handler_on("bot.telegram.updates", handler):
        for _ in range(20):  # ten minutes of failures, 30 s apart
            errors(NetworkError("Bad Gateway"))
            now[0] += 30
        errors(NetworkError("Bad Gateway"))
    assert len(lines) == 2
    assert lines[0].endswith("since the last such line: 1")
    assert lines[1].endswith("since the last such line: 20")
    assert "NetworkError: Bad Gateway" in lines[1]


def test_an_answer_ptb_cannot_read_is_logged_in_a_line_without_a_traceback(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # a proxy's error page in front of Telegram, at every failed request while Telegram is down
    page = b"<html><head><style>" + b"body{margin:0} " * 2000 + b"</style></head></html>"
    root, ptb = logging.getLogger(), logging.getLogger("telegram.request.BaseRequest")
    saved = root.handlers[:], root.level, ptb.filters[:]
    try:
        setup_logging("INFO")
        with pytest.raises(TelegramError, match="Invalid server response"):
            BaseRequest.parse_json_payload(page)
    finally:  # the logging of the rest of the tests as it was
        root.handlers[:], level, ptb.filters[:] = saved
        root.setLevel(level)
    logged = capsys.readouterr().err
    assert "Can not load invalid JSON data" in logged
    assert len(logged) < 1000 and "Traceback" not in logged


def test_telegram_unreachable_at_sign_in_names_the_host_and_never_the_token(
    tmp_path: Path, start_daemon: Any
) -> None:
    """`Telegram unreachable (httpx.ConnectError: All connection attempts failed)` did not say
    where it tried: a typo in telegram.api_base_url, or a local Bot API server down, looked
    like Telegram's outage. The scheme, host and port are named; the request's URL, whose
    path holds the token, is not (nor what is redacted from it, nor a password in the URL)."""
    base = "http://operator:pa55word@127.0.0.1:9/bot"  # port 9 (discard): nothing listens
    config = write_config(tmp_path, {}, api_base_url=base)
    daemon = start_daemon("run", "--config", str(config), token=TOKEN)
    line = daemon.stderr.wait_for("Telegram unreachable", timeout=20)
    assert daemon.stop() == 0
    assert "Telegram unreachable at http://127.0.0.1:9 (" in line, line
    assert "/bot" not in line and "[token]" not in line and "pa55word" not in line, line
    everything = daemon.stderr.text + daemon.stdout.text
    assert TOKEN.split(":")[1] not in everything and "pa55word" not in everything
