"""The Atom feeds of the HTTP listener: /feeds/<topic>.atom for a configured topic, and
/feeds/w/<token>.atom for a chat's watches. A WSGI app that runs on the listener's threads and
reads the store through a connection of its own (SQLite WAL), never the event loop's."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from bot.http.atom import CONTENT_TYPE, FeedInfo, build_feed, etag, not_modified
from store import Store, Story

LATEST = 50  # stories in a feed
_TOPIC = re.compile(r"^/feeds/([a-z0-9-]+)\.atom$")
_WATCHES = re.compile(r"^/feeds/w/([A-Za-z0-9_-]{16,64})\.atom$")

StartResponse = Callable[..., Any]


class FeedsApp:
    """Serves the feeds; `topics` gives the configured topics' titles (they change on reload)."""

    def __init__(self, store_path: str | Path, topics: Callable[[], Mapping[str, str]]) -> None:
        self.store_path = store_path
        self.topics = topics

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if environ.get("REQUEST_METHOD", "GET") not in ("GET", "HEAD"):
            return _plain(start_response, "405 Method Not Allowed", "GET only\n")
        found = self._feed(path, _base(environ))
        if found is None:
            return _plain(start_response, "404 Not Found", "no such feed\n")
        info, stories = found
        body = build_feed(info, stories)
        tag = etag(body)
        headers = [("ETag", tag), ("Cache-Control", "max-age=60")]
        if not_modified(environ.get("HTTP_IF_NONE_MATCH"), tag):
            start_response("304 Not Modified", headers)
            return []
        start_response(
            "200 OK",
            [("Content-Type", CONTENT_TYPE), ("Content-Length", str(len(body))), *headers],
        )
        return [] if environ.get("REQUEST_METHOD") == "HEAD" else [body]

    def _feed(self, path: str, base: str) -> tuple[FeedInfo, list[Story]] | None:
        topic = _TOPIC.match(path)
        if topic:
            titles = self.topics()
            topic_id = topic.group(1)
            if topic_id not in titles:
                return None
            with Store(self.store_path) as store:
                stories = store.stories([topic_id], limit=LATEST)
            info = FeedInfo(
                f"urn:kurilwatch:topic:{topic_id}",
                f"kurilwatch: {titles[topic_id]}",
                base + path,
                f"The latest {LATEST} stories of the topic {topic_id}",
            )
            return info, stories
        watches = _WATCHES.match(path)
        if watches:
            with Store(self.store_path) as store:
                chat_id = store.chat_of_feed_token(watches.group(1))
                if chat_id is None:
                    return None
                ids = [w.topic_id for w in store.watches(chat_id)]
                stories = store.stories(ids, limit=LATEST)
            # the id names the token, never the chat
            info = FeedInfo(
                f"urn:kurilwatch:watches:{watches.group(1)}",
                "kurilwatch: your watches",
                base + path,
            )
            return info, stories
        return None


def _base(environ: Mapping[str, Any]) -> str:
    host = environ.get("HTTP_HOST") or f"{environ['SERVER_NAME']}:{environ['SERVER_PORT']}"
    return f"{environ.get('wsgi.url_scheme', 'http')}://{host}"


def _plain(start_response: StartResponse, status: str, text: str) -> list[bytes]:
    start_response(status, [("Content-Type", "text/plain; charset=utf-8")])
    return [text.encode()]
