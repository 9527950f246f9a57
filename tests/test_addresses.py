"""Where a feed's redirects may lead (`watchers.addresses`): a table over real address ranges."""

from __future__ import annotations

import ipaddress

import pytest

from watchers.addresses import non_public, redirect_refusal


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("169.254.169.254", "link-local"),  # a cloud's metadata service
        ("10.0.0.5", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("127.0.0.1", "loopback"),
        ("127.0.0.2", "loopback"),
        ("::1", "loopback"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("100.64.0.1", "non-public"),  # carrier-grade NAT
        ("fe80::1", "link-local"),
        ("fc00::1", "private"),
        ("::ffff:169.254.169.254", "link-local"),  # IPv4-mapped: the IPv4 address it reaches
        ("::ffff:10.0.0.5", "private"),
        ("::ffff:127.0.0.1", "loopback"),
        ("93.184.216.34", None),
        ("8.8.8.8", None),
        ("2606:4700::1111", None),
        ("::ffff:8.8.8.8", None),
    ],
)
def test_what_kind_of_address(address: str, kind: str | None) -> None:
    assert non_public(ipaddress.ip_address(address)) == kind


@pytest.mark.parametrize(
    ("feed_public", "target", "refused"),
    [
        (True, "169.254.169.254", "a link-local address (169.254.169.254)"),
        (True, "10.0.0.5", "a private address (10.0.0.5)"),
        (True, "::ffff:127.0.0.1", "a loopback address (::ffff:127.0.0.1)"),
        (True, "fe80::1%eth0", "a link-local address (fe80::1)"),
        (True, "93.184.216.34", None),
        (True, "2606:4700::1111", None),
        # an intranet feed may lead anywhere: within its network, and out of it
        (False, "10.0.0.5", None),
        (False, "169.254.169.254", None),
        (False, "93.184.216.34", None),
    ],
)
def test_a_public_feed_is_not_led_into_private_space(
    feed_public: bool, target: str, refused: str | None
) -> None:
    said = redirect_refusal(feed_public, target)  # a message for the admins: in English here
    assert (None if said is None else str(said)) == refused


def test_the_classification_is_the_callers() -> None:
    def loopback_one_is_public(
        address: ipaddress.IPv4Address | ipaddress.IPv6Address,
    ) -> str | None:
        return None if str(address) == "127.0.0.1" else non_public(address)

    assert redirect_refusal(True, "127.0.0.1", loopback_one_is_public) is None
    assert str(redirect_refusal(True, "127.0.0.2", loopback_one_is_public)) == (
        "a loopback address (127.0.0.2)"
    )
    assert str(redirect_refusal(True, "not-an-ip")).startswith("an address that is not an IP")
