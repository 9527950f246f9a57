"""What operators and subscribers see of the stored stories through the running daemon: the
reload notice with the backtest's counts, /watch's preview, Atom feeds and /export."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tests.conftest import TOKEN, write_config
from tests.fakes.feed_server import FeedEntry, FeedServer, rss
from tests.fakes.telegram_api import FakeBotAPI

ADMIN = 777
CHAT = 424242
ENTRIES = [
    FeedEntry("Kuril fishing quota agreed", "https://n.example/kept", guid="k"),
    FeedEntry("Sakhalin oil project expands", "https://n.example/gained", guid="g"),
    FeedEntry("Iturup military drills begin", "https://n.example/lost", guid="l"),
    FeedEntry("Weather in Paris", "https://n.example/none", guid="n"),
]


def start(
    tmp_path: Path,
    feed_server: FeedServer,
    bot_api: FakeBotAPI,
    start_daemon: Any,
    extra: dict[str, Any] | None = None,
) -> tuple[Any, Path]:
    feed_server.set_feed("/a.xml", rss(ENTRIES))
    config = write_config(
        tmp_path,
        {"wire": feed_server.url("/a.xml")},
        api_base_url=bot_api.base_url,
        admins=(ADMIN,),
        extra=extra,
    )
    daemon = start_daemon("run", "--config", str(config), token=TOKEN)
    feed_server.wait_for_hits("/a.xml", 2, timeout=20)  # primed: the items are stored
    bot_api.wait_until_polling(timeout=20)
    return daemon, config


def test_a_reload_tells_the_admins_what_the_new_queries_gain_and_lose(
    tmp_path: Path, feed_server: FeedServer, bot_api: FakeBotAPI, start_daemon: Any
) -> None:
    daemon, config = start(tmp_path, feed_server, bot_api, start_daemon)
    settings = yaml.safe_load(config.read_text())
    kuril = settings["topics"]["kuril"]
    kuril["query"] = f"({kuril['query']} OR sakhalin) -drills"
    config.write_text(yaml.safe_dump(settings, allow_unicode=True))
    [notice] = bot_api.wait_for_messages(ADMIN, 1, timeout=20)
    assert "config applied" in notice["text"]
    assert "kuril: +1 -1 (1 unchanged)" in notice["text"]
    line = daemon.stderr.wait_for("config reloaded: topics kuril")
    assert "kuril +1 -1 =1" in line
    assert daemon.stop() == 0
    assert "Traceback" not in daemon.stderr.text, daemon.stderr.text
