"""What operators and subscribers see of the stored stories through the running daemon: the
reload notice with the backtest's counts, /watch's preview, Atom feeds and /export."""

from __future__ import annotations

import codecs
import csv
import io
import re
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import feedparser
import yaml

from tests.conftest import TOKEN, save_edit, write_config
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
    save_edit(config, yaml.safe_dump(settings, allow_unicode=True))
    [notice] = bot_api.wait_for_messages(ADMIN, 1, timeout=20)
    assert "config applied" in notice["text"]
    # the counts are values of a translated notice (issue 19): unchanged ones in their own part
    assert "(stories gained/lost): kuril: +1 -1; unchanged: kuril: 1." in notice["text"]
    line = daemon.stderr.wait_for("config reloaded: topics kuril")
    assert "kuril +1 -1 =1" in line
    assert daemon.stop() == 0
    assert "Traceback" not in daemon.stderr.text, daemon.stderr.text


def fetch(url: str, headers: dict[str, str] | None = None) -> tuple[int, bytes, Any]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read(), response.headers
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), exc.headers


def test_topic_and_watch_feeds_over_http_and_the_csv_export(
    tmp_path: Path, feed_server: FeedServer, bot_api: FakeBotAPI, start_daemon: Any
) -> None:
    daemon, _ = start(
        tmp_path,
        feed_server,
        bot_api,
        start_daemon,
        extra={"metrics": {"listen": "127.0.0.1:0"}},
    )
    line = daemon.stderr.wait_for("feeds on /feeds/<topic>.atom")
    base = re.search(r"(http://127\.0\.0\.1:\d+)/metrics", line)[1]  # type: ignore[index]

    status, body, headers = fetch(f"{base}/feeds/kuril.atom")
    assert status == 200 and headers["Content-Type"].startswith("application/atom+xml")
    parsed = feedparser.parse(body)
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    assert sorted(e.title for e in parsed.entries) == [
        "Iturup military drills begin",
        "Kuril fishing quota agreed",
    ]
    assert {e.link for e in parsed.entries} == {"https://n.example/kept", "https://n.example/lost"}
    tag = headers["ETag"]
    again, empty, _ = fetch(f"{base}/feeds/kuril.atom", {"If-None-Match": tag})
    assert (again, empty) == (304, b"")
    assert fetch(f"{base}/feeds/kuril.atom", {"If-None-Match": '"stale"'})[0] == 200
    assert fetch(f"{base}/feeds/nope.atom")[0] == 404
    _, body, headers = fetch(f"{base}/feeds/kuril.atom", {"Accept-Language": "ja-JP,en;q=0.5"})
    japanese = feedparser.parse(body)
    assert japanese.feed.subtitle == "トピック kuril の最新50件のニュース"
    assert japanese.feed.language == "ja" and headers["Vary"] == "Accept-Language"
    assert headers["ETag"] != tag  # another document, so another tag

    # a chat's watches: /mywatch gives the token address; new matches appear in that feed
    bot_api.push_message(CHAT, "/start")
    bot_api.wait_for_messages(CHAT, 1)
    bot_api.push_message(CHAT, "/watch Sakhalin")
    preview = bot_api.wait_for_messages(CHAT, 2)[1]["text"]
    assert "would have matched 1 story" in preview and "Sakhalin oil project" in preview
    bot_api.push_message(CHAT, "/watches")
    assert "/mywatch" in bot_api.wait_for_messages(CHAT, 3)[2]["text"]
    bot_api.push_message(CHAT, "/mywatch")
    answer = bot_api.wait_for_messages(CHAT, 4)[3]["text"]
    path = re.search(r"/feeds/w/[A-Za-z0-9_-]+\.atom", answer)[0]  # type: ignore[index]
    fresh = FeedEntry("Sakhalin governor visits Tokyo", "https://n.example/fresh", guid="f")
    feed_server.set_feed("/a.xml", rss([fresh, *ENTRIES]))
    bot_api.wait_for_messages(CHAT, 5, timeout=20)  # the watch's alert
    mine = feedparser.parse(fetch(base + path)[1])
    assert mine.bozo == 0 and [e.title for e in mine.entries] == ["Sakhalin governor visits Tokyo"]
    assert fetch(f"{base}/feeds/w/{'x' * 32}.atom")[0] == 404

    # /export: the stories as a CSV document, for admins only
    bot_api.push_message(CHAT, "/export")
    assert "only the bot's admins" in bot_api.wait_for_messages(CHAT, 6)[5]["text"]
    bot_api.push_message(ADMIN, "/export kuril")
    bot_api.wait_for_calls("sendDocument", 1, timeout=20)
    [upload] = bot_api.uploads()
    assert upload.filename and upload.filename.endswith(".csv")
    assert upload.data.startswith(codecs.BOM_UTF8)  # Excel reads it as UTF-8 then
    rows = list(csv.DictReader(io.StringIO(upload.data.decode("utf-8-sig"))))
    assert next(iter(rows[0])) == "story_id"
    assert sorted(r["title"] for r in rows) == [
        "Iturup military drills begin",
        "Kuril fishing quota agreed",
    ]

    # the watch feed's own texts follow the chat's language
    assert mine.feed.title == "kurilwatch: your watches" and mine.feed.language == "en"
    bot_api.push_message(CHAT, "/language ru")
    bot_api.wait_for_messages(CHAT, 7)
    russian = feedparser.parse(fetch(base + path)[1])
    assert russian.feed.title == "kurilwatch: ваши запросы" and russian.feed.language == "ru"
    assert [e.title for e in russian.entries] == ["Sakhalin governor visits Tokyo"]
    assert daemon.stop() == 0
    assert "Traceback" not in daemon.stderr.text, daemon.stderr.text
