"""Fetch feeds over HTTP politely: conditional GET, per-host and global caps, timeouts, and a
cap on the inflated body. Errors are returned as values on the `FetchResult`, never raised.
"""

from __future__ import annotations

import asyncio
import zlib
from collections import defaultdict
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from typing import Any
from urllib.parse import urlsplit

import brotli
import httpx

from watchers.config import PollSettings
from watchers.transport import PerHostTransport

try:
    VERSION = version("kurilwatch")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    VERSION = "0"

USER_AGENT = f"kurilwatch/{VERSION} (news feed monitor; +https://github.com/kurilwatch/kurilwatch)"
ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml, application/feed+json,"
    " application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
)
_KEPT_HEADERS = (
    "content-type",
    "content-location",
    "content-language",
    "etag",
    "last-modified",
    "cache-control",
    "expires",
    "retry-after",
)
MAX_REDIRECTS = 5


class TooLarge(Exception):
    pass


@dataclass(frozen=True, slots=True)
class FetchResult:
    url: str
    status: int | None = None
    content: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    error: str | None = None
    permanent_url: str | None = None  # where a chain of 301/308 redirects ended

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True, slots=True)
class FetchLimits:
    timeout: float = 20.0  # connect, read, write and pool wait, each
    total_timeout: float = 60.0
    max_bytes: int = 10 * 1024 * 1024
    concurrency: int = 32
    per_host: int = 4

    @classmethod
    def of(cls, settings: PollSettings) -> FetchLimits:
        return cls(
            timeout=settings.timeout.total_seconds(),
            total_timeout=settings.total_timeout.total_seconds(),
            max_bytes=settings.max_bytes,
            concurrency=settings.concurrency,
            per_host=settings.per_host,
        )


class _Inflater:
    """Inflates gzip, deflate or brotli chunk by chunk, never past `limit` bytes in all."""

    def __init__(self, encoding: str, limit: int) -> None:
        self.limit = limit
        self.size = 0
        self.encoding = encoding.strip().lower()
        self._zlib: Any = None
        self._brotli: Any = None
        if self.encoding in ("gzip", "x-gzip", "deflate"):
            self._zlib = zlib.decompressobj(47)  # 47: a zlib or gzip header, detected
        elif self.encoding == "br":
            self._brotli = brotli.Decompressor()
        elif self.encoding not in ("", "identity"):
            raise ValueError(f"unsupported Content-Encoding {encoding!r}")

    def feed(self, chunk: bytes) -> bytes:
        room = self.limit - self.size + 1
        out: bytes
        if self._brotli is not None:
            out = self._brotli.process(chunk, output_buffer_limit=room)
        elif self._zlib is not None:
            try:
                out = self._zlib.decompress(chunk, room)
            except zlib.error:
                if not (self.encoding == "deflate" and self.size == 0):
                    raise
                self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)  # raw deflate, as some send
                out = self._zlib.decompress(chunk, room)
            if self._zlib.unconsumed_tail:
                raise TooLarge
        else:
            out = chunk
        self.size += len(out)
        if self.size > self.limit:
            raise TooLarge
        return out


async def _drain(response: httpx.Response, limit: int = 65536) -> None:
    """Read a short body to its end, so the connection can be kept alive for the next request."""
    size = 0
    async for chunk in response.aiter_raw():
        size += len(chunk)
        if size > limit:  # not worth it: let the connection close
            return


class Fetcher:
    """The watchers' one HTTP client, with a global cap and a cap per host."""

    def __init__(self, limits: FetchLimits | None = None) -> None:
        self.limits = limits or FetchLimits()
        self.client = httpx.AsyncClient(
            timeout=httpx.Timeout(self.limits.timeout),
            follow_redirects=True,
            max_redirects=MAX_REDIRECTS,
            transport=PerHostTransport(
                per_host=self.limits.per_host,
                close_idle_after=self.limits.total_timeout + 5,
            ),
            headers={
                "User-Agent": USER_AGENT,
                "Accept": ACCEPT,
                "Accept-Encoding": "gzip, deflate, br",
            },
        )
        self._all = asyncio.Semaphore(self.limits.concurrency)
        self._hosts: defaultdict[str, asyncio.Semaphore] = defaultdict(
            lambda: asyncio.Semaphore(self.limits.per_host)
        )

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self.client.aclose()

    async def fetch(
        self, url: str, *, etag: str | None = None, last_modified: str | None = None
    ) -> FetchResult:
        """GET a feed, sending back the validators of the last answer."""
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        host = (urlsplit(url).hostname or "").lower()
        total = self.limits.total_timeout
        try:
            async with self._hosts[host], self._all, asyncio.timeout(total):
                return await self._get(url, headers)
        except TimeoutError:
            return FetchResult(url, error=f"timed out after {total:g}s in all")
        except httpx.TooManyRedirects:
            return FetchResult(url, error="too many redirects (a redirect loop?)")
        except httpx.TimeoutException as exc:
            return FetchResult(url, error=f"timed out ({type(exc).__name__})")
        except httpx.HTTPError as exc:
            text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            return FetchResult(url, error=text)
        except TooLarge:
            return FetchResult(url, error=f"response larger than {self.limits.max_bytes} bytes")
        except (zlib.error, brotli.error, ValueError) as exc:
            return FetchResult(url, error=f"bad response body: {exc}")

    async def _get(self, url: str, headers: dict[str, str]) -> FetchResult:
        async with self.client.stream("GET", url, headers=headers) as response:
            kept = {k: v for k in _KEPT_HEADERS if (v := response.headers.get(k)) is not None}
            permanent = None
            if response.history and all(r.status_code in (301, 308) for r in response.history):
                permanent = str(response.url)
            if response.status_code == 304:
                await _drain(response)
                return FetchResult(url, 304, headers=kept, permanent_url=permanent)
            if not response.is_success:
                await _drain(response)
                return FetchResult(
                    url, response.status_code, headers=kept, error=f"HTTP {response.status_code}"
                )
            length = response.headers.get("content-length", "")
            if length.isdigit() and int(length) > self.limits.max_bytes:
                raise TooLarge
            encoding = response.headers.get("content-encoding", "")
            inflater = _Inflater(encoding, self.limits.max_bytes)
            body = bytearray()
            async for chunk in response.aiter_raw():
                body += inflater.feed(chunk)
            return FetchResult(
                url, response.status_code, bytes(body), headers=kept, permanent_url=permanent
            )
