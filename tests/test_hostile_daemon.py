"""Issue 23 end to end: the running daemon against a hostile feed server and a careless operator.

A feed served with a 30-digit max-age and TTL still alerts its new item; config edits that
overflow or nest too deeply are refused (log, admins, /reload, SIGHUP alike) and a later good
edit applies.
"""

from __future__ import annotations

import signal
import sqlite3
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import TOKEN, LineReader, save_edit, write_config
from tests.fakes.feed_server import FeedEntry, FeedServer, Route, rss
from tests.fakes.telegram_api import FakeBotAPI

CHAT, ADMIN = 424242, 9009
THIRTY = "9" * 30
OLD = FeedEntry("Old weather report", "https://n.example/old", guid="old")
KURIL = FeedEntry(
    "Russia to deploy new coastal missile systems on Iturup",
    "https://n.example/kuril",
    guid="kuril",
    summary="Bastion systems on Iturup, one of the southern Kuril Islands.",
)


def huge_hints(entries: list[FeedEntry]) -> Route:
    body = rss(entries).replace(b"<channel>", f"<channel><ttl>{THIRTY}</ttl>".encode(), 1)
    return Route(body=body, headers={"Cache-Control": f"public, max-age={THIRTY}"})


def wait_count(reader: LineReader, needle: str, count: int, timeout: float = 20.0) -> None:
    """Wait until `count` lines hold `needle`."""
    with reader._cond:
        if not reader._cond.wait_for(
            lambda: sum(needle in line for line in reader.lines) >= count, timeout
        ):
            raise AssertionError(f"fewer than {count} lines with {needle!r}:\n{reader.text}")


def test_a_feed_with_a_thirty_digit_max_age_and_ttl_alerts_its_new_item(
    tmp_path: Path, feed_server: FeedServer, bot_api: FakeBotAPI, start_daemon: Any
) -> None:
    feed_server.set_route("/a.xml", huge_hints([OLD]))
    config = write_config(
        tmp_path,
        {"feed-a": feed_server.url("/a.xml")},
        api_base_url=bot_api.base_url,
        # the hints ask for years; max_interval caps them, here at 1 s so the test is short
        extra={"poll": {"interval": "1s", "timeout": "5s", "max_interval": "1s"}},
    )
    daemon = start_daemon("run", "--config", str(config), token=TOKEN)
    feed_server.wait_for_hits("/a.xml", 2, timeout=20)
    bot_api.wait_until_polling(timeout=20)
    bot_api.push_message(CHAT, "/subscribe kuril")
    bot_api.wait_for_messages(CHAT, 1)

    feed_server.set_route("/a.xml", huge_hints([KURIL, OLD]))
    alert = bot_api.wait_for_messages(CHAT, 2, timeout=20)[1]
    assert "Russia to deploy new coastal missile systems on Iturup" in alert["text"]
    assert daemon.stop() == 0
    assert "Traceback" not in daemon.stderr.text, daemon.stderr.text
    assert "poll failed" not in daemon.stderr.text, daemon.stderr.text


def test_hostile_config_edits_are_refused_everywhere_and_a_good_edit_then_applies(
    tmp_path: Path, feed_server: FeedServer, bot_api: FakeBotAPI, start_daemon: Any
) -> None:
    feed_server.set_feed("/a.xml", rss([OLD]))
    config = write_config(
        tmp_path,
        {"feed-a": feed_server.url("/a.xml")},
        api_base_url=bot_api.base_url,
        admins=(ADMIN,),
    )
    good = yaml.safe_load(config.read_text())
    daemon = start_daemon("run", "--config", str(config), token=TOKEN)
    daemon.stderr.wait_for("kurilwatch running: 1 feed,")
    bot_api.wait_until_polling(timeout=20)

    def save(change: Any) -> None:
        settings = yaml.safe_load(yaml.safe_dump(good))
        change(settings)
        save_edit(config, yaml.safe_dump(settings, allow_unicode=True))

    save(lambda s: s["feeds"][0].update(interval=THIRTY))
    line = daemon.stderr.wait_for("feeds[0].interval")
    assert "config not reloaded" in line and "at most 3650 days" in line
    admin_note = bot_api.wait_for_messages(ADMIN, 1, timeout=20)[0]["text"]
    assert "config not reloaded" in admin_note and "feeds[0].interval" in admin_note

    save(lambda s: s["topics"]["kuril"].update(query="(" * 5000 + "kuril" + ")" * 5000))
    line = daemon.stderr.wait_for("topics.kuril.query")
    assert "nested more than 32 deep" in line

    save(lambda s: s["store"].update(retention="9999999999d"))
    daemon.stderr.wait_for("store.retention")
    daemon.proc.send_signal(signal.SIGHUP)  # the same file, the same refusal
    wait_count(daemon.stderr, "store.retention", 2)
    bot_api.push_message(ADMIN, "/reload")
    bot_api.wait_for(
        lambda: any(
            "Not reloaded; the running config stays" in m["text"]
            for m in bot_api.sent_messages(ADMIN)
        ),
        timeout=20,
        what="the /reload answer",
    )

    save(lambda s: s["feeds"][0].update(interval="2s"))
    daemon.stderr.wait_for("config reloaded: feeds +0 -0 ~1")
    assert daemon.proc.poll() is None
    assert daemon.stop() == 0
    for bad in ("Traceback", "never retrieved", "not watching", "something went wrong"):
        assert bad not in daemon.stderr.text, daemon.stderr.text
    assert not any("went wrong" in m["text"] for m in bot_api.sent_messages(ADMIN))


def test_an_edited_broadcast_is_not_sent_again_and_bad_arguments_get_plain_answers(
    tmp_path: Path, feed_server: FeedServer, bot_api: FakeBotAPI, start_daemon: Any
) -> None:
    feed_server.set_feed("/a.xml", rss([OLD]))
    config = write_config(
        tmp_path,
        {"feed-a": feed_server.url("/a.xml")},
        api_base_url=bot_api.base_url,
        admins=(ADMIN,),
    )
    daemon = start_daemon("run", "--config", str(config), token=TOKEN)
    feed_server.wait_for_hits("/a.xml", 2, timeout=20)
    bot_api.wait_until_polling(timeout=20)
    bot_api.push_message(CHAT, "/start")
    bot_api.wait_for_messages(CHAT, 1)

    text = "Scheduled maintenance tonight\nfrom 22:00"
    bot_api.push_message(ADMIN, f"/broadcast\n{text}")
    assert "Queued for 1 chat;" in bot_api.wait_for_messages(ADMIN, 1)[0]["text"]
    assert bot_api.wait_for_messages(CHAT, 2, timeout=20)[1]["text"] == text
    bot_api.push_update(
        {
            "edited_message": {
                "message_id": 99,
                "date": 1_800_000_000,
                "edit_date": 1_800_000_060,
                "chat": {"id": ADMIN, "type": "private", "first_name": "A"},
                "from": {"id": ADMIN, "is_bot": False, "first_name": "A"},
                "text": f"/broadcast {text} (edited)",
                "entities": [{"type": "bot_command", "offset": 0, "length": 10}],
            }
        }
    )
    bot_api.push_message(ADMIN, "/help")  # answered after the edit: one chat's updates in order
    assert "/help" in bot_api.wait_for_messages(ADMIN, 2)[1]["text"]
    with sqlite3.connect(tmp_path / "kw.db") as db:
        assert db.execute("SELECT count(*) FROM notices WHERE chat_id = ?", [CHAT]).fetchone() == (
            1,
        )

    for command, answer in [
        ("/latest ²", "No stories yet"),  # NFKC: the digit 2
        ("/mute 99999999999999999999d", "between 1 minute and 30 days"),
        ("/unwatch ①", "no watch number 1"),
    ]:
        count = len(bot_api.sent_messages(CHAT))
        bot_api.push_message(CHAT, command)
        assert answer in bot_api.wait_for_messages(CHAT, count + 1)[count]["text"]
    assert len(bot_api.sent_messages(ADMIN)) == 2 and len(bot_api.sent_messages(CHAT)) == 5
    assert daemon.stop() == 0
    assert "Traceback" not in daemon.stderr.text, daemon.stderr.text
