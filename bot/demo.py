"""`kurilwatch demo`: bundled sample news served on loopback, the daemon in console mode on it.

A newcomer sees alerts within seconds and without network: the feeds are primed first (their
old item is recorded, not alerted), then one sample story appears every REVEAL_EVERY seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import tempfile
import threading
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any, TextIO
from xml.sax.saxutils import escape

from bot.config import Config, MetricsConfig, StoreConfig
from bot.daemon import Daemon
from bot.demo_keep import claim, config_text, kept_text, topic_stories
from bot.interrupt import stop_on_signals
from store import Store
from watchers.config import FeedConfig
from watchers.text import counted

REVEAL_EVERY = 1.5  # seconds between two sample stories
POLL_EVERY = timedelta(seconds=1)


def samples() -> dict[str, Any]:
    text = resources.files("bot").joinpath("samples/demo.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def rss(title: str, items: list[dict[str, Any]]) -> bytes:
    entries = "".join(
        f"<item><title>{escape(i['title'])}</title><link>{escape(i['link'])}</link>"
        f"<guid>{escape(i['link'])}</guid><pubDate>{i['published']}</pubDate>"
        f"<description>{escape(i['summary'])}</description></item>"
        for i in items
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>{escape(title)}</title><link>http://127.0.0.1/</link>{entries}</channel></rss>"
    ).encode()


class SampleFeeds:
    """Serves the sample feeds; `reveal()` publishes the next story."""

    def __init__(self, data: dict[str, Any], on_hit: Callable[[], object]) -> None:
        self.on_hit = on_hit
        self.feeds = {f["path"]: f for f in data["feeds"]}
        paths = {f["id"]: f["path"] for f in data["feeds"]}
        now = datetime.now(UTC)
        self.old = [
            self._item(i, paths, now - timedelta(hours=3), n)
            for n, i in enumerate(data["already_there"])
        ]
        self.new = [self._item(i, paths, now, 100 + n) for n, i in enumerate(data["items"])]
        self.revealed = 0
        self.hits: Counter[str] = Counter()
        self._lock = threading.Lock()
        feeds = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = feeds.body(self.path)
                self.send_response(200 if body else 404)
                self.send_header("Content-Type", "application/rss+xml; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                feeds.on_hit()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = QuietServer(("127.0.0.1", 0), Handler)
        self.port = int(self.server.server_address[1])
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @staticmethod
    def _item(
        item: dict[str, Any], paths: dict[str, str], when: datetime, n: int
    ) -> dict[str, Any]:
        return {
            **item,
            "path": paths[item["feed"]],
            "link": f"https://sample.example{paths[item['feed']].removesuffix('.xml')}/{n}",
            "published": format_datetime(when),
        }

    def body(self, path: str) -> bytes:
        feed = self.feeds.get(path)
        if feed is None:
            return b""
        with self._lock:
            self.hits[path] += 1
            shown = [i for i in self.new[: self.revealed] if i["path"] == path]
        return rss(feed["title"], [*reversed(shown), *(i for i in self.old if i["path"] == path)])

    def reveal(self) -> dict[str, Any]:
        with self._lock:
            self.revealed += 1
            return self.new[self.revealed - 1]

    def polled(self, times: int) -> bool:
        with self._lock:
            return all(self.hits[path] >= times for path in self.feeds)

    def start(self) -> SampleFeeds:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class QuietServer(ThreadingHTTPServer):
    """The sample feeds' server: a client that hangs up (the daemon stopped by Ctrl-C while a
    poll was in flight) is no error to print a traceback for."""

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


async def _until(condition: Callable[[], bool], changed: asyncio.Event) -> None:
    """Wait until `condition()` holds, looking again whenever `changed` is set."""
    while not condition():
        changed.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(changed.wait(), 1.0)


def _told(path: Path) -> tuple[int, int, int]:
    """The stories of the reports published after priming, the ones of them that matched a
    topic (alerted), and the reports that matched and joined one of those (a line each)."""
    with Store(path) as store:
        matched = store.matched_stories(datetime.now(UTC) - timedelta(hours=1))
        row = store.db.execute(
            "SELECT count(DISTINCT story_id), coalesce(sum(id != story_id AND topics != '[]'"
            " AND story_id IN (SELECT id FROM items WHERE first_poll = 0 AND topics != '[]')), 0)"
            " FROM items WHERE first_poll = 0"
        ).fetchone()
    return int(row[0]), matched, int(row[1])


def closing(reports: int, told: tuple[int, int, int]) -> str:
    """The demo's last words: `6 sample reports published (5 stories); the 4 stories that
    matched a topic were alerted above, once each, and a second outlet's report joined one.`"""
    stories, matched, joined = told
    made = counted(stories, "story", "stories")
    text = (
        f"demo finished: {counted(reports, 'sample report', 'sample reports')} published ({made}); "
    )
    if not matched:
        return text + "none matched a topic of your config, so none was alerted."
    if matched == 1:
        text += "the one story that matched a topic was alerted above, once"
    else:
        text += f"the {matched} stories that matched a topic were alerted above, once each"
    if not joined:
        return text + "."
    one = "it" if matched == 1 else "one"
    if joined == 1:
        return text + f", and a second outlet's report joined {one}."
    them = "it" if matched == 1 else "them"
    return text + f", and {joined} reports of other outlets joined {them}."


async def run_demo(settings: Config, out: TextIO, keep: Path | None = None) -> int:
    """The demo; with `keep`, its store stays in that folder with a config that reads it
    (raises CannotKeep before the daemon starts if the folder cannot take them)."""
    data = samples()
    loop = asyncio.get_running_loop()
    changed = asyncio.Event()
    feeds = SampleFeeds(data, lambda: loop.call_soon_threadsafe(changed.set)).start()
    try:
        sample_feeds = tuple(
            FeedConfig.model_validate(
                {
                    "id": f["id"],
                    "url": f"http://127.0.0.1:{feeds.port}{f['path']}",
                    "title": f["title"],
                    "interval": POLL_EVERY,
                }
            )
            for f in data["feeds"]
        )
        with contextlib.ExitStack() as stack:
            if keep is None:
                folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="kurilwatch-demo-"))
                store = Path(folder) / "demo.db"
            else:
                text = config_text(settings.topics, sample_feeds)
                store = await asyncio.to_thread(claim, keep, text)
            demo = settings.model_copy(
                update={
                    "store": StoreConfig(path=store),
                    "feeds": sample_feeds,
                    "channels": (),
                    "metrics": MetricsConfig(),
                }
            )
            print(
                f"kurilwatch demo: {len(data['feeds'])} sample feeds on"
                f" http://127.0.0.1:{feeds.port}/, a new story every {REVEAL_EVERY:g} s."
                " Alerts for the topics of your config print below (console mode).\n",
                file=out,
                flush=True,
            )
            daemon = Daemon(demo, None, out=out)
            interrupted = asyncio.Event()

            def interrupt() -> None:  # Ctrl-C: the daemon stops as under `run`
                interrupted.set()
                changed.set()
                daemon.stop()

            stop_on_signals(interrupt)
            running = asyncio.create_task(daemon.run())
            running.add_done_callback(lambda _: changed.set())
            await _until(lambda: feeds.polled(1) or running.done(), changed)
            for _ in data["items"]:
                if running.done():
                    break
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(interrupted.wait(), REVEAL_EVERY)
                if interrupted.is_set():
                    break
                feeds.reveal()
            seen = dict(feeds.hits)
            await _until(
                lambda: running.done() or all(feeds.hits[p] >= seen[p] + 2 for p in seen),
                changed,
            )
            daemon.stop()
            code = await running
            if interrupted.is_set():
                kept = "" if keep is None else f"; what it stored is kept in {keep}"
                print(f"demo stopped{kept}.", file=out, flush=True)
                return code
            told = await asyncio.to_thread(_told, demo.store.path)
            lines = [closing(len(data["items"]), told)]
            if keep is not None:
                stories = await asyncio.to_thread(topic_stories, store, list(settings.topics))
                lines.append(kept_text(keep, stories))
            print(
                "\n".join(lines),
                "Next: set TELEGRAM_BOT_TOKEN and run `make run` (see README).",
                sep="\n" if keep is not None else " ",
                file=out,
                flush=True,
            )
            return code
    finally:
        feeds.stop()
