"""Fetch a feed over HTTP: conditional GET, timeouts and a cap on the inflated body size.

Errors are returned as values on the `FetchResult`, never raised.
"""

from __future__ import annotations

import asyncio
import zlib
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version

import httpx

try:
    VERSION = version("kurilwatch")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    VERSION = "0"

USER_AGENT = f"kurilwatch/{VERSION} (+https://github.com/kurilwatch/kurilwatch; news feed monitor)"
ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml, application/feed+json,"
    " application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
)
_KEPT_HEADERS = ("content-type", "content-location", "content-language", "etag", "last-modified")


class TooLarge(Exception):
    pass


@dataclass(frozen=True, slots=True)
class FetchResult:
    url: str
    status: int | None = None
    content: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    error: str | None = None
    permanent_url: str | None = None  # where a 301/308 chain ended, to be stored

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    @property
    def ok(self) -> bool:
        return self.error is None


def make_client(*, timeout: float, max_redirects: int = 5) -> httpx.AsyncClient:
    """The shared HTTP client of the watchers."""
    return httpx.AsyncClient(
        timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
        follow_redirects=True,
        max_redirects=max_redirects,
        headers={"User-Agent": USER_AGENT, "Accept": ACCEPT, "Accept-Encoding": "gzip, deflate"},
    )


class _Inflater:
    """Inflates gzip/deflate bodies chunk by chunk, never past `limit` bytes in all."""

    def __init__(self, encoding: str, limit: int) -> None:
        self.limit = limit
        self.size = 0
        encoding = encoding.strip().lower()
        if encoding in ("", "identity"):
            self._inflate = None
        elif encoding in ("gzip", "x-gzip", "deflate"):
            # 47 = auto-detect zlib or gzip header; raw deflate is tried when that fails
            self._inflate = zlib.decompressobj(47)
        else:
            raise ValueError(f"unsupported Content-Encoding {encoding!r}")
        self._raw_deflate = encoding == "deflate"

    def feed(self, chunk: bytes) -> bytes:
        if self._inflate is None:
            out = chunk
        else:
            try:
                out = self._inflate.decompress(chunk, self.limit - self.size + 1)
            except zlib.error:
                if not (self._raw_deflate and self.size == 0):
                    raise
                self._inflate = zlib.decompressobj(-zlib.MAX_WBITS)
                out = self._inflate.decompress(chunk, self.limit - self.size + 1)
            if self._inflate.unconsumed_tail:
                raise TooLarge
        self.size += len(out)
        if self.size > self.limit:
            raise TooLarge
        return out


async def fetch(
    client: httpx.AsyncClient,
    url: str,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
    max_bytes: int = 10 * 1024 * 1024,
    total_timeout: float = 60.0,
) -> FetchResult:
    """GET a feed, sending back the validators of the last answer."""
    headers = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    try:
        async with asyncio.timeout(total_timeout):
            return await _get(client, url, headers, max_bytes)
    except TimeoutError:
        return FetchResult(url, error=f"timed out after {total_timeout:g}s")
    except httpx.TooManyRedirects:
        return FetchResult(url, error="too many redirects (a redirect loop?)")
    except httpx.TimeoutException as exc:
        return FetchResult(url, error=f"timed out ({type(exc).__name__})")
    except httpx.HTTPError as exc:
        return FetchResult(
            url, error=f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        )
    except TooLarge:
        return FetchResult(url, error=f"response larger than {max_bytes} bytes")
    except (zlib.error, ValueError) as exc:
        return FetchResult(url, error=f"bad response body: {exc}")


async def _get(
    client: httpx.AsyncClient, url: str, headers: dict[str, str], max_bytes: int
) -> FetchResult:
    async with client.stream("GET", url, headers=headers) as response:
        kept = {k: v for k in _KEPT_HEADERS if (v := response.headers.get(k)) is not None}
        permanent = None
        if response.history and all(r.status_code in (301, 308) for r in response.history):
            permanent = str(response.url)
        if response.status_code == 304:
            return FetchResult(url, 304, headers=kept, permanent_url=permanent)
        if not response.is_success:
            return FetchResult(
                url, response.status_code, headers=kept, error=f"HTTP {response.status_code}"
            )
        length = response.headers.get("content-length", "")
        if length.isdigit() and int(length) > max_bytes:
            raise TooLarge
        inflater = _Inflater(response.headers.get("content-encoding", ""), max_bytes)
        body = bytearray()
        async for chunk in response.aiter_raw():
            body += inflater.feed(chunk)
        return FetchResult(
            url, response.status_code, bytes(body), headers=kept, permanent_url=permanent
        )
