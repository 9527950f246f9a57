"""The address check of a fetch that goes through a proxy (HTTP_PROXY, HTTPS_PROXY): every
connection is to the proxy, so `fetch.py`'s check of each address connected to would judge the
proxy's. Here each hop's target is resolved and judged instead, before its request is sent (an
aiohttp client middleware): a public feed may not lead the proxy into a private network, and a
proxy at a private address does not make every feed an intranet one.

A name that does not resolve here is the proxy's to reach (a network whose names only the
proxy resolves); an IP address is judged as it is written.
"""

from __future__ import annotations

import ipaddress
import socket

import aiohttp
from aiohttp.abc import AbstractResolver

from watchers import poll_errors as errors
from watchers.addresses import Classify, redirect_refusal
from watchers.poll_errors import PollError


class NotPublic(OSError):
    """A connection refused before it was made: not to a public address. (One text for every
    address, so that a name's several refused addresses raise this, not a mixed OSError.)"""

    def __init__(self, reason: PollError) -> None:
        super().__init__("address refused")
        self.reason = reason


class TargetCheck:
    """Judges the hosts a proxied fetch asks the proxy for."""

    def __init__(self, classify: Classify, resolver: AbstractResolver) -> None:
        self._classify = classify
        self._resolver = resolver  # the fetcher's

    def middleware(
        self, public: bool, hops: list[int], *, page: bool = False
    ) -> aiohttp.ClientMiddlewareType:
        """A check of each request of one fetch: `public`, tried as a public feed's (no hop
        may lead to a non-public address) or else as an intranet feed's (its first hop at a
        non-public address); `hops`, the redirects followed so far."""

        async def check(
            request: aiohttp.ClientRequest, handler: aiohttp.ClientHandlerType
        ) -> aiohttp.ClientResponse:
            reason = await self.refusal(
                request.url.raw_host or "", public, first=not hops, page=page
            )
            if reason is not None:
                raise aiohttp.ClientConnectorError(request.connection_key, NotPublic(reason))
            return await handler(request)

        return check

    async def refusal(
        self, host: str, public: bool, *, first: bool, page: bool = False
    ) -> PollError | None:
        """Why the proxy may not be asked for `host`, or None if it may."""
        addresses = await self._addresses(host)
        if public and not addresses and (page or not first):
            # only the config's own feed may be at a name the proxy alone resolves
            return PollError(errors.UNRESOLVED_HERE, {"host": host[:60]})
        if public:
            reasons = (redirect_refusal(True, a, self._classify) for a in addresses)
            return next((reason for reason in reasons if reason is not None), None)
        if not first:
            return None  # an intranet feed may lead anywhere
        if not addresses:
            return PollError(errors.NO_LONGER_RESOLVES, {"host": host[:60]})
        if any(redirect_refusal(True, a, self._classify) is not None for a in addresses):
            return None
        return PollError(errors.PUBLIC_NOW, {"address": addresses[0]})

    async def _addresses(self, host: str) -> list[str]:
        try:
            return [str(ipaddress.ip_address(host.partition("%")[0]))]
        except ValueError:
            pass
        try:
            found = await self._resolver.resolve(host, 0, family=socket.AF_UNSPEC)
        except OSError:
            return []
        return list(dict.fromkeys(str(entry["host"]) for entry in found))
