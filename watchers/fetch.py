"""Fetch feeds over HTTP politely: conditional GET, per-host and global caps, timeouts, and a
cap on the inflated body. Errors are returned as values on the `FetchResult`, never raised.

The client is aiohttp rather than httpx: on a steady cycle, where every answer is a 304, httpx
spent about 1 ms of CPU per request here and aiohttp 0.2 ms (bench/poll.py, issue 4).
"""

from __future__ import annotations

import asyncio
import errno
import re
import socket
import zlib
from collections import Counter, defaultdict
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from importlib.metadata import PackageNotFoundError, version
from typing import Any
from urllib.parse import urljoin, urlsplit
from urllib.request import getproxies_environment, proxy_bypass

import aiohttp
import brotli
from aiohappyeyeballs import AddrInfoType, SocketFactoryType

from watchers import bounded
from watchers import poll_errors as errors
from watchers.addresses import Classify, non_public, redirect_refusal
from watchers.config import PollConfig
from watchers.headers import in_words, kept_headers
from watchers.inflate import CutShort, Inflater, TooLarge
from watchers.lookups import ThreadResolver
from watchers.poll_errors import ErrorValue, PollError, as_is
from watchers.proxied import NotPublic, TargetCheck

try:
    VERSION = version("kurilwatch")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    VERSION = "0"

USER_AGENT = f"kurilwatch/{VERSION} (news feed monitor; +https://github.com/kurilwatch/kurilwatch)"
ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml, application/feed+json,"
    " application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
)
MAX_REDIRECTS = 5


# the redirects a fetch has followed so far, for its connections to see which hop they serve
_HOPS: ContextVar[list[int]] = ContextVar("hops")
# why its first hop's public connection refused an address (a name with a private IPv4 and a
# public IPv6 address that cannot be reached fails with both errors, not with a refusal alone)
_REFUSED: ContextVar[list[PollError]] = ContextVar("refused")


async def _redirected(
    session: aiohttp.ClientSession,
    context: Any,
    params: aiohttp.TraceRequestRedirectParams,
) -> None:
    context.trace_request_ctx.append(params.response.status)


_REDIRECTS = aiohttp.TraceConfig()
_REDIRECTS.on_request_redirect.append(_redirected)


@dataclass(frozen=True, slots=True)
class FetchResult:
    url: str
    status: int | None = None
    content: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    problem: PollError | None = None  # why it failed
    permanent_url: str | None = None  # where a chain of 301/308 redirects ended
    intranet: bool = False  # answered from a non-public address (a feed the config puts there)

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    @property
    def ok(self) -> bool:
        return self.problem is None

    @property
    def error(self) -> str | None:
        """Why it failed, in English: one printable line (a broken server's words: aiohttp's
        parser errors run to several lines, a Location is quoted as sent), for the store, the
        log and `poll --once`."""
        return None if self.problem is None else self.problem.line()


@dataclass(frozen=True, slots=True)
class FetchLimits:
    timeout: float = 20.0  # connect, read, write and pool wait, each
    total_timeout: float = 60.0
    max_bytes: int = 10 * 1024 * 1024
    concurrency: int = 32
    per_host: int = 4

    @classmethod
    def of(cls, settings: PollConfig) -> FetchLimits:
        return cls(
            timeout=settings.timeout.total_seconds(),
            total_timeout=settings.total_timeout.total_seconds(),
            max_bytes=settings.max_bytes,
            concurrency=settings.concurrency,
            per_host=settings.per_host,
        )


_CARET = re.compile(r"\n *\^ *\Z")  # aiohttp's parser points at the byte it stopped at


async def _drain(response: aiohttp.ClientResponse, limit: int = 65536) -> None:
    """Read a short body to its end, so the connection can be kept alive for the next request
    (a longer one is left unread, and the connection is closed)."""
    size = 0
    async for chunk in response.content.iter_any():
        size += len(chunk)
        if size > limit:
            return


def describe(exc: BaseException) -> PollError:
    """A fetch failure as the operator reads it on the feed."""
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return PollError(errors.TIMED_OUT_CONNECTING)
    if isinstance(exc, aiohttp.SocketTimeoutError):
        return PollError(errors.TIMED_OUT_READING)
    if isinstance(exc, aiohttp.ServerTimeoutError):
        return PollError(errors.TIMED_OUT)
    if isinstance(exc, aiohttp.TooManyRedirects):
        return PollError(errors.REDIRECT_LOOP)
    if isinstance(exc, aiohttp.NonHttpUrlRedirectClientError):
        return PollError(errors.NOT_HTTP_REDIRECT, {"url": str(exc)})
    if isinstance(exc, aiohttp.InvalidURL):
        return PollError(errors.INVALID_URL, {"url": str(exc)})
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return PollError(errors.UNRESOLVED, {"host": exc.host})
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return PollError(errors.CERTIFICATE, {"reason": str(exc.certificate_error)})
    if isinstance(exc, aiohttp.ClientConnectorError):
        where = {"host": exc.host, "port": str(exc.port)}
        if exc.os_error.errno == errno.ECONNREFUSED:
            return PollError(errors.REFUSED, where)
        reason = exc.os_error.strerror or str(exc.os_error) or type(exc.os_error).__name__
        return PollError(errors.UNCONNECTED, {**where, "reason": reason})
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return PollError(errors.DISCONNECTED)
    if isinstance(exc, aiohttp.ClientPayloadError):
        # the parser's own words ("Not enough data to satisfy content length header ...")
        reason = getattr(exc.__cause__, "message", None) or str(exc)
        return PollError(errors.BROKEN_BODY, {"reason": _CARET.sub("", reason)})
    if isinstance(exc, aiohttp.ClientResponseError):
        return PollError(errors.MALFORMED, {"reason": _CARET.sub("", exc.message)})
    text = str(exc)
    return as_is(f"{type(exc).__name__}: {text}" if text else type(exc).__name__)


class Fetcher:
    """The watchers' one HTTP client (a shared aiohttp session), with a global cap and a cap
    per host. The session is made on first use, inside the running event loop."""

    def __init__(
        self,
        limits: FetchLimits | None = None,
        *,
        classify: Classify = non_public,
        resolver: aiohttp.abc.AbstractResolver | None = None,  # tests answer names themselves
    ) -> None:
        self.limits = limits or FetchLimits()
        # names are looked up on threads of the fetcher's own, not the loop's default ones
        self._lookups: ThreadResolver | None = None
        if resolver is None:
            resolver = self._lookups = ThreadResolver()
        self._resolver = resolver
        # "public" connects to public addresses only: a feed tried there first is at a public
        # address if it connects, and none of its redirects connects elsewhere (each address
        # is checked as it is connected to: a name resolved again cannot slip past). A feed
        # refused there at its first hop is fetched with "private", whose first hop connects
        # to non-public addresses only (a name that answers private, then public, is refused).
        # Through a proxy, "proxied" connects to the proxy, and `_targets` checks each hop
        self._sessions: dict[str, aiohttp.ClientSession] = {}
        self._classify = classify
        self._targets = TargetCheck(classify, self._resolver)
        self._all = asyncio.Semaphore(self.limits.concurrency)
        self._hosts: defaultdict[str, asyncio.Semaphore] = defaultdict(
            lambda: asyncio.Semaphore(self.limits.per_host)
        )
        # fetches of each host under way or waiting: its semaphore goes when none is (article
        # pages of full_text feeds come from any host, and the daemon runs for months)
        self._users: Counter[str] = Counter()
        self._proxies = getproxies_environment()
        self._proxy_of: dict[tuple[str, str], str | None] = {}

    def _proxy(self, scheme: str, host: str) -> str | None:
        """The proxy for a URL from HTTP_PROXY, HTTPS_PROXY and NO_PROXY, read once at start
        (aiohttp's trust_env reads them on every request, in a thread)."""
        proxy = self._proxies.get(scheme)
        if not proxy:
            return None
        key = (scheme, host)
        if key not in self._proxy_of:
            if len(self._proxy_of) >= 4096:  # article pages of full-text feeds: many hosts
                self._proxy_of.clear()
            self._proxy_of[key] = None if proxy_bypass(host) else proxy
        return self._proxy_of[key]

    def _session(self, kind: str) -> aiohttp.ClientSession:
        session = self._sessions.get(kind)
        if session is None or session.closed:
            factory = {"public": self._public_socket, "private": self._private_socket}.get(kind)
            session = self._sessions[kind] = self._new_session(factory)
        return session

    def _public_socket(self, addr_info: AddrInfoType) -> socket.socket:
        family, kind, proto, _, address = addr_info
        if (reason := redirect_refusal(True, str(address[0]), self._classify)) is not None:
            if not _HOPS.get([0]):
                _REFUSED.get([]).append(reason)
            raise NotPublic(reason)
        return socket.socket(family=family, type=kind, proto=proto)

    def _private_socket(self, addr_info: AddrInfoType) -> socket.socket:
        family, kind, proto, _, address = addr_info
        public = redirect_refusal(True, str(address[0]), self._classify) is None
        if public and not _HOPS.get([0]):  # at the first hop (outside a fetch: none)
            raise NotPublic(PollError(errors.PUBLIC_NOW, {"address": str(address[0])}))
        return socket.socket(family=family, type=kind, proto=proto)

    def _new_session(self, socket_factory: SocketFactoryType | None) -> aiohttp.ClientSession:
        timeout = self.limits.timeout
        return aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(
                limit=self.limits.concurrency,
                limit_per_host=self.limits.per_host,
                keepalive_timeout=5.0,  # idle connections are closed: a host polled hourly
                ttl_dns_cache=300,
                socket_factory=socket_factory,
                resolver=self._resolver,
            ),
            # connect includes the wait for a pooled connection; sock_read is per read, so
            # a drip is ended by the total timeout of `fetch`
            timeout=aiohttp.ClientTimeout(
                total=None, connect=timeout, sock_connect=timeout, sock_read=timeout
            ),
            headers={
                "User-Agent": USER_AGENT,
                "Accept": ACCEPT,
                "Accept-Encoding": "gzip, deflate, br",
            },
            auto_decompress=False,  # inflated here, chunk by chunk, under the size cap
            trust_env=False,  # proxies from the environment: see `_proxy`
            trace_configs=[_REDIRECTS],
        )

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        sessions, self._sessions = self._sessions, {}
        for session in sessions.values():
            await session.close()
        if self._lookups is not None:
            await self._lookups.close()

    async def fetch(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        public_only: bool = False,
    ) -> FetchResult:
        """GET a feed, sending back the validators of the last answer; `public_only`: from a
        public address alone (an article page a public feed links to)."""
        return await self._fetch(url, etag, last_modified, public_only)

    async def _fetch(
        self, url: str, etag: str | None, last_modified: str | None, public_only: bool
    ) -> FetchResult:
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        total = self.limits.total_timeout
        self._users[host] += 1
        try:
            async with self._hosts[host], self._all:
                try:
                    async with asyncio.timeout(total):
                        proxy = self._proxy(parts.scheme, host)
                        return await self._get(url, headers, proxy, public_only)
                except aiohttp.ServerTimeoutError:  # a TimeoutError too: told apart here
                    raise
                except TimeoutError:
                    return FetchResult(
                        url, problem=PollError(errors.TIMED_OUT_IN_ALL, {"seconds": total})
                    )
        except (aiohttp.ClientError, TimeoutError) as exc:
            return FetchResult(url, problem=describe(exc))
        except TooLarge:
            too_large = PollError(errors.TOO_LARGE, {"bytes": self.limits.max_bytes})
            return FetchResult(url, problem=too_large)
        except CutShort as exc:
            return FetchResult(url, problem=PollError(errors.CUT_SHORT, {"encoding": exc.encoding}))
        except (zlib.error, brotli.error, ValueError) as exc:
            return FetchResult(url, problem=PollError(errors.BAD_BODY, {"reason": str(exc)}))
        finally:
            self._users[host] -= 1
            if not self._users[host]:
                del self._users[host], self._hosts[host]

    async def _get(
        self, url: str, headers: dict[str, str], proxy: str | None, public_only: bool
    ) -> FetchResult:
        for kind in ("public",) if public_only else ("public", "private"):
            hops: list[int] = []
            refused: list[PollError] = []
            token, refusals = _HOPS.set(hops), _REFUSED.set(refused)
            check = self._targets.middleware(kind == "public", hops, page=public_only)
            try:
                async with self._session("proxied" if proxy else kind).get(
                    url,
                    headers=headers,
                    max_redirects=MAX_REDIRECTS,
                    proxy=proxy,
                    trace_request_ctx=hops,
                    middlewares=(check,) if proxy else None,
                ) as response:
                    read = await self._read(url, headers, response)
                    return replace(read, intranet=True) if kind == "private" else read
            except aiohttp.ClientConnectorError as exc:
                if isinstance(exc.os_error, NotPublic):
                    reason = exc.os_error.reason
                elif kind == "public" and not hops and refused:
                    reason = refused[0]  # its other addresses failed: tried as an intranet feed's
                else:
                    raise
                where: dict[str, ErrorValue] = {"host": exc.host, "reason": reason}
                if hops:  # the feed answered from a public address, and sent us away from it
                    return FetchResult(url, problem=PollError(errors.REFUSED_REDIRECT, where))
                if kind == "private" or public_only:
                    return FetchResult(url, problem=PollError(errors.REFUSED_CONNECT, where))
                # the feed is not at a public address (an intranet feed)
            finally:
                _HOPS.reset(token)
                _REFUSED.reset(refusals)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _read(
        self, url: str, headers: dict[str, str], response: aiohttp.ClientResponse
    ) -> FetchResult:
        kept = kept_headers(response.headers)
        if response.history:  # relative links resolve against where the document came from
            kept["content-location"] = urljoin(str(response.url), kept.get("content-location", ""))
        permanent = None
        if response.history and all(r.status in (301, 308) for r in response.history):
            permanent = str(response.url)
        if response.status == 304:
            await _drain(response)
            if not headers:  # nothing was compared: a proxy's or a server's fault
                return FetchResult(url, 304, headers=kept, problem=PollError(errors.UNASKED_304))
            return FetchResult(url, 304, headers=kept, permanent_url=permanent)
        if not 200 <= response.status < 300:
            await _drain(response)
            failed = in_words(response.status)
            return FetchResult(url, response.status, headers=kept, problem=failed)
        length = response.headers.get("content-length", "")
        declared = bounded.clamped(length, self.limits.max_bytes + 1)
        if declared is not None and declared > self.limits.max_bytes:
            raise TooLarge
        encoding = response.headers.get("content-encoding", "")
        inflater = Inflater(encoding, self.limits.max_bytes)
        body = bytearray()
        async for chunk in response.content.iter_any():
            body += inflater.feed(chunk)
            if inflater.done:
                break  # what follows the compressed stream's end is left unread
        body += inflater.finish()
        if not body.strip():  # a server or proxy failing quietly, not an unchanged feed
            empty = PollError(errors.EMPTY, {"status": str(response.status)})
            return FetchResult(url, response.status, headers=kept, problem=empty)
        return FetchResult(url, response.status, bytes(body), headers=kept, permanent_url=permanent)
