"""The Atom feeds of the HTTP listener: /feeds/<topic>.atom for a configured topic, and
/feeds/w/<token>.atom for a chat's watches. A WSGI app that runs on the listener's threads and
reads the store through a connection of its own (SQLite WAL), never the event loop's. A feed's
own texts are in the chat's language (a watch feed) or the reader's Accept-Language (a topic).
A feed built is kept until the store changes: readers polling every minute cost no scan each."""

from __future__ import annotations

import logging
import re
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from babel import Locale

from bot.http.atom import CONTENT_TYPE, FeedInfo, build_feed, etag, not_modified
from bot.i18n import LANGUAGES, texts
from store import Store, Story

if TYPE_CHECKING:
    from bot.config import Config

LATEST = 50  # stories in a feed
# feeds kept built until the store changes, at most this many and this many bytes in all
CACHE_ENTRIES = 64
CACHE_BYTES = 4 * 1024 * 1024
_TOPIC = re.compile(r"/feeds/([a-z0-9-]+)\.atom")
_WATCHES = re.compile(r"/feeds/w/([A-Za-z0-9_-]{16,64})\.atom")

StartResponse = Callable[..., Any]
log = logging.getLogger(__name__)


class FeedsApp:
    """Serves the feeds; `topics` gives the configured topics' titles and `public_url` the
    config's `metrics.public_url` (both change on reload)."""

    def __init__(
        self,
        store_path: str | Path,
        topics: Callable[[], Mapping[str, str]],
        public_url: Callable[[], str | None] = lambda: None,
    ) -> None:
        self.store_path = store_path
        self.topics = topics
        self.public_url = public_url
        self._failing = False  # the store failed the last reader: said once, not per request
        self._lock = threading.Lock()
        # one store, read by one request at a time: 30 readers of a feed just changed scan once
        self._reading = threading.Lock()
        self._store: Store | None = None
        self._version: int | None = None  # the store's data_version the kept feeds were read at
        self._kept: OrderedDict[tuple[str, ...], tuple[bytes, str]] = OrderedDict()
        self._kept_bytes = 0

    @classmethod
    def of(cls, settings: Callable[[], Config]) -> FeedsApp:
        """The app of the daemon's config, followed through reloads (`settings` gives it)."""
        return cls(
            settings().store.path,
            lambda: {tid: t.title for tid, t in settings().topics.items()},
            lambda: settings().metrics.public_url,
        )

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if environ.get("REQUEST_METHOD", "GET") not in ("GET", "HEAD"):
            return _plain(
                start_response, "405 Method Not Allowed", "GET only\n", [("Allow", "GET, HEAD")]
            )
        # behind a proxy the Host header names the loopback listener (or what a stranger
        # wrote): the self link is the address readers are given, as /mywatch gives it
        base = (self.public_url() or "").rstrip("/") or _base(environ)
        try:
            found = self._built(path, base, accepted(environ.get("HTTP_ACCEPT_LANGUAGE")))
        except sqlite3.Error as exc:  # a store that cannot be read now: no traceback per request
            with self._lock:
                said, self._failing = self._failing, True
            if not said:
                log.error("feeds: the store cannot be read (%s); answering 503 until it can", exc)
            return _plain(
                start_response,
                "503 Service Unavailable",
                "the store cannot be read now; try again later\n",
                [("Retry-After", "60")],
            )
        if self._failing and found is not None:  # a feed read from the store
            with self._lock:
                was, self._failing = self._failing, False
            if was:
                log.info("feeds: the store can be read again")
        if found is None:
            return _plain(start_response, "404 Not Found", "no such feed\n")
        body, tag = found
        # the 200's length on a 304 too: without one wsgiref writes `Content-Length: 0`, which a
        # cache refreshing its copy from the 304 takes for the feed's (RFC 9110 8.6 forbids it)
        headers = [
            ("Content-Length", str(len(body))),
            ("ETag", tag),
            ("Cache-Control", "max-age=60"),
            ("Vary", "Accept-Language"),
        ]
        if not_modified(environ.get("HTTP_IF_NONE_MATCH"), tag):
            start_response("304 Not Modified", headers)
            return []
        start_response("200 OK", [("Content-Type", CONTENT_TYPE), *headers])
        return [] if environ.get("REQUEST_METHOD") == "HEAD" else [body]

    def close(self) -> None:
        """Close the store (the listener stops); a later request opens it again."""
        with self._reading:
            self._drop()

    def _built(self, path: str, base: str, lang: str) -> tuple[bytes, str] | None:
        """The feed's body and ETag: kept from an earlier request while the store has not
        changed since, else read and built (and kept)."""
        topic = _TOPIC.fullmatch(path)
        # a reload may retitle a topic: its feed is another
        title = self.topics().get(topic.group(1)) if topic else ""
        if title is None or not (topic or _WATCHES.fullmatch(path)):
            return None
        key = (path, base, lang, title)
        with self._reading:
            try:
                if self._store is None:
                    self._store = Store(self.store_path, any_thread=True)
                store = self._store
                version = store.data_version()
                if version != self._version:
                    self._kept.clear()
                    self._kept_bytes, self._version = 0, version
                kept = self._kept.get(key)
                if kept is not None:
                    self._kept.move_to_end(key)
                    return kept
                found = self._feed(store, path, lang, base)
            except sqlite3.Error:  # opened again by the next request (a store restored, mended)
                self._drop()
                raise
            if found is None:
                return None
            body = build_feed(*found)
            built = body, etag(body)
            if len(body) <= CACHE_BYTES // 8:
                self._kept[key] = built
                self._kept_bytes += len(body)
                while len(self._kept) > CACHE_ENTRIES or self._kept_bytes > CACHE_BYTES:
                    self._kept_bytes -= len(self._kept.popitem(last=False)[1][0])
            return built

    def _drop(self) -> None:
        if self._store is not None:
            self._store.close()
        self._store, self._version = None, None
        self._kept.clear()
        self._kept_bytes = 0

    def _feed(
        self, store: Store, path: str, lang: str, base: str
    ) -> tuple[FeedInfo, list[Story]] | None:
        topic = _TOPIC.fullmatch(path)
        if topic:
            titles = self.topics()
            topic_id = topic.group(1)
            if topic_id not in titles:
                return None
            stories = store.stories([topic_id], limit=LATEST)
            tr = texts(lang)
            info = FeedInfo(
                f"urn:kurilwatch:topic:{topic_id}",
                f"kurilwatch: {tr._(titles[topic_id])}",
                base + path,
                tr._("The latest {n} stories of the topic {topic}", n=LATEST, topic=topic_id),
                tr.lang,
            )
            return info, stories
        watches = _WATCHES.fullmatch(path)
        if watches:
            chat_id = store.chat_of_feed_token(watches.group(1))
            if chat_id is None:
                return None
            # a story's categories are the chat's queries it matched, never the watches'
            # ids in the store (`@w17`, which mean nothing to a reader)
            queries = {w.topic_id: w.query for w in store.watches(chat_id)}
            stories = [
                replace(s, topics=tuple(dict.fromkeys(queries[t] for t in s.topics)))
                for s in store.stories(list(queries), limit=LATEST)
            ]
            prefs = store.prefs(chat_id)
            tr = texts((prefs.language or prefs.language_code) if prefs else None)
            # the id names the token, never the chat
            info = FeedInfo(
                f"urn:kurilwatch:watches:{watches.group(1)}",
                "kurilwatch: " + tr._("your watches"),
                base + path,
                lang=tr.lang,
            )
            return info, stories
        return None


def accepted(header: str | None) -> str:
    """The bot's language an Accept-Language header prefers most (English when none)."""
    wanted: list[tuple[float, int, str]] = []
    for n, part in enumerate((header or "")[:1000].split(",")):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "q":  # a parameter's name is any case (RFC 9110 5.6.6)
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if tag and q > 0:
            wanted.append((-q, n, tag.strip().replace("_", "-")))
    preferred = [tag for _, _, tag in sorted(wanted)]
    found = Locale.negotiate(preferred, LANGUAGES, sep="-") if preferred else None
    return found.language if found else "en"


def _base(environ: Mapping[str, Any]) -> str:
    host = environ.get("HTTP_HOST") or f"{environ['SERVER_NAME']}:{environ['SERVER_PORT']}"
    return f"{environ.get('wsgi.url_scheme', 'http')}://{host}"


def _plain(
    start_response: StartResponse, status: str, text: str, extra: Sequence[tuple[str, str]] = ()
) -> list[bytes]:
    start_response(status, [("Content-Type", "text/plain; charset=utf-8"), *extra])
    return [text.encode()]
