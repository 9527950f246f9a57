"""The demo: its sample feed server (a poll cut short by Ctrl-C is not an error to print), what
console mode prints, and its closing line."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler

import pytest

from bot.config import load_config
from bot.daemon import Daemon
from bot.demo import QuietServer, closing
from store import StoredItem
from tests.conftest import CONFIG
from watchers.poll_report import PollReport


def test_a_client_hanging_up_prints_no_traceback_but_a_bug_still_does(
    capsys: pytest.CaptureFixture[str],
) -> None:
    server = QuietServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    try:
        for error in (ConnectionResetError(104, "reset by peer"), BrokenPipeError(32, "pipe")):
            try:
                raise error
            except OSError:
                server.handle_error(None, ("127.0.0.1", 1))
        try:
            raise ValueError("a bug in the handler")
        except ValueError:
            server.handle_error(None, ("127.0.0.1", 1))
    finally:
        server.server_close()
    err = capsys.readouterr().err
    assert err.count("Traceback") == 1 and "ValueError: a bug in the handler" in err
    assert "reset by peer" not in err and "BrokenPipeError" not in err


def test_console_mode_prints_a_report_joining_a_story_it_alerted_as_one_line() -> None:
    """In console mode a second outlet's report of a story printed nothing (a chat's alert is
    edited to "Also: Kyodo"): the demo's README promised a join it never showed. Now it is one
    line under the alert; a report joining a story this console never alerted is still none."""
    out = io.StringIO()
    daemon = Daemon(load_config(CONFIG), None, out=out)
    first = _item(1, 1, "demo-tass", "Russia holds drills on the Kuril Islands")
    again = _item(2, 1, "demo-kyodo", "Russia holds military drills on Kuril Islands")
    elsewhere = _item(3, 99, "demo-kyodo", "Kuril drills of a story never alerted here")
    daemon._after_poll(PollReport("demo-tass", "new", 200, matched=(first,)), "TASS (sample)")
    daemon._after_poll(PollReport("demo-kyodo", "new", 200, joined=(again,)), "Kyodo (sample)")
    daemon._after_poll(PollReport("demo-kyodo", "new", 200, joined=(elsewhere,)), "Kyodo")
    printed = out.getvalue()
    assert printed.count("Russia holds drills on the Kuril Islands\n") == 1  # the alert
    assert printed.endswith(
        '  ↳ also: Kyodo (sample) — joins "Russia holds drills on the Kuril Islands"\n\n'
    )
    assert "military" not in printed and "never alerted" not in printed


@pytest.mark.parametrize(
    ("told", "said"),
    [
        (
            (5, 4, 1),
            "6 sample reports published (5 stories); the 4 stories that matched a topic were"
            " alerted above, once each, and a second outlet's report joined one.",
        ),
        ((6, 1, 0), "(6 stories); the one story that matched a topic was alerted above, once."),
        ((6, 0, 0), "(6 stories); none matched a topic of your config, so none was alerted."),
    ],
)
def test_the_demo_ends_counting_reports_and_stories_apart(
    told: tuple[int, int, int], said: str
) -> None:
    """It said "6 sample stories published; the ones that matched a topic (4) were alerted",
    of 6 reports that made 5 stories."""
    assert closing(6, told).endswith(said)


def _item(item_id: int, story_id: int, feed_id: str, title: str) -> StoredItem:
    now = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
    return StoredItem(
        item_id, story_id, feed_id, f"g{item_id}", f"https://n.example/{item_id}", title, "",
        now, now, ("kuril",),
    )  # fmt: skip
