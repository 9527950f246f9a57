"""Where a feed's redirects may lead: a feed at a public address is not led by a redirect into
the operator's own network (a cloud's metadata service at 169.254.169.254, an intranet host, the
machine itself). Pure; `fetch.py` asks it of each address it is about to connect to.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

from watchers.poll_errors import NOT_AN_IP, PollError, address_refusal

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# what makes an address not public ("loopback", ...), or None: public (tests inject their own)
Classify = Callable[[IPAddress], str | None]


def non_public(address: IPAddress) -> str | None:
    """The kind of address `address` is if not a public one; None if it is public."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # ::ffff:10.0.0.5 reaches 10.0.0.5
    kinds = (
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("reserved", address.is_reserved),
        ("private", address.is_private),
        ("non-public", not address.is_global),  # 100.64.0.0/10 (carrier NAT) and the like
    )
    return next((kind for kind, found in kinds if found), None)


def redirect_refusal(
    feed_public: bool, target: str, classify: Classify = non_public
) -> PollError | None:
    """Why a redirect may not connect to `target` (the IP address itself, as connected to),
    or None if it may. A feed the operator put at a non-public address (an intranet feed)
    may lead anywhere."""
    if not feed_public:
        return None
    written = target.partition("%")[0]  # fe80::1%eth0: without its scope
    try:
        address = ipaddress.ip_address(written)
    except ValueError:
        return PollError(NOT_AN_IP, {"address": repr(target[:60])})
    kind = classify(address)
    return None if kind is None else address_refusal(kind, written)
