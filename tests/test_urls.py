"""URL canonicalisation: variants of one article meet; different articles stay apart."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.provisional import urls

from watchers.urls import _parts, _split, canonical_url, shown_url, web_link

BASE = "https://tass.com/politics/1234567"


@pytest.mark.parametrize(
    "variant",
    [
        "https://tass.com/politics/1234567",
        "http://tass.com/politics/1234567",
        "https://www.tass.com/politics/1234567",
        "HTTPS://TASS.COM/politics/1234567",
        "https://tass.com:443/politics/1234567",
        "https://tass.com/politics/1234567/",
        "https://tass.com/politics/1234567#comments",
        "https://tass.com/politics/1234567?utm_source=rss&utm_medium=feed",
        "https://tass.com/politics/1234567?fbclid=abc&gclid=x&yclid=1&ref=tw",
    ],
)
def test_variants_meet(variant: str) -> None:
    assert canonical_url(variant) == canonical_url(BASE) == BASE


def test_real_parameters_stay_sorted() -> None:
    assert canonical_url("http://x.org/a?b=2&utm_campaign=z&a=1") == "https://x.org/a?a=1&b=2"
    assert canonical_url("http://x.org/a?id=1") != canonical_url("http://x.org/a?id=2")
    assert canonical_url("http://x.org/a/b") != canonical_url("http://x.org/a")
    assert canonical_url("http://x.org:8080/a") == "https://x.org:8080/a"


@pytest.mark.parametrize(
    "bad", ["", "ftp://x.org/a", "mailto:a@b", "javascript:alert(1)", "http://", "http://x:99999/"]
)
def test_not_web_urls(bad: str) -> None:
    assert canonical_url(bad) is None


@given(urls())
def test_idempotent(url: str) -> None:
    once = canonical_url(url)
    if once is not None:
        assert canonical_url(once) == once


@given(urls(), st.sampled_from(["utm_source=rss", "fbclid=1", "utm_medium=feed&utm_campaign=x"]))
def test_tracking_parameters_never_matter(url: str, tracking: str) -> None:
    url = url.split("#")[0]
    joiner = "&" if "?" in url else "?"
    assert canonical_url(url + joiner + tracking) == canonical_url(url)


@pytest.mark.parametrize(
    "variant",
    [
        "https://m.tass.com/politics/1234567",
        "https://amp.tass.com/politics/1234567",
        "https://tass.com/politics/1234567/amp",
        "https://tass.com/amp/politics/1234567",
        "https://tass.com/politics/1234567?amp=1",
        "https://tass.com/politics/1234567?outputType=amp",
        "https://mobile.www.tass.com/politics/1234567/amp/",
    ],
)
def test_amp_and_mobile_variants_meet(variant: str) -> None:
    assert canonical_url(variant) == BASE


def test_variant_rules_do_not_swallow_real_names() -> None:
    assert canonical_url("https://m.com/a") == "https://m.com/a"  # a two-label host stays
    assert canonical_url("https://x.org/amplifier") == "https://x.org/amplifier"
    assert canonical_url("https://x.org/a?amp=2") == "https://x.org/a?amp=2"


@given(
    st.lists(
        st.text(alphabet="abcdefghij0123456789-", min_size=1, max_size=8), min_size=1, max_size=4
    ),
    st.lists(
        st.text(alphabet="abcdefghij0123456789-", min_size=1, max_size=8), min_size=1, max_size=4
    ),
)
def test_different_paths_never_merge(left: list[str], right: list[str]) -> None:
    a = canonical_url("https://news.example/" + "/".join(left))
    b = canonical_url("https://news.example/" + "/".join(right))
    assert (a == b) == (left == right)


@given(
    st.one_of(
        urls(),
        st.builds(
            "".join,
            st.tuples(
                st.sampled_from(["http://", "HTTPS://", "hTtp://", "ftp://", "http:///", "http:"]),
                st.text(alphabet="aZ0.-:@[]", max_size=12),
                st.text(alphabet="/aé.;?=&#% \t\n\x00\u00a0", max_size=20),
            ),
        ),
    )
)
def test_the_plain_url_shortcut_reads_what_urlsplit_reads(url: str) -> None:
    assert _parts(url) == _split(url)


@pytest.mark.parametrize(
    "link", ["http:///a", "https://", "https://:443/a", "http://u@/a", "http:// /"]
)
def test_a_link_without_a_host_is_no_web_link(link: str) -> None:
    # it leads nowhere: an alert or a feed entry linked to it was a dead link
    assert web_link(link) is None


@pytest.mark.parametrize(
    ("link", "kept"),
    [
        ("HTTPS://a.example/x", "https://a.example/x"),
        ("http://[::1]:80/", "http://[::1]:80/"),
        ("https://u:p@a.example:8/?q#f", "https://u:p@a.example:8/?q#f"),
    ],
)
def test_a_link_with_a_host_is_a_web_link(link: str, kept: str) -> None:
    assert web_link(link) == kept


_SECRET = st.text(st.sampled_from("abcXYZ019-._~!$&'()*+,;=%:"), min_size=1, max_size=20)


@given(urls(), st.text(st.sampled_from("abcxyz0189-._"), min_size=1, max_size=12), _SECRET)
def test_a_urls_password_is_never_shown_and_the_rest_is_kept(
    url: str, user: str, password: str
) -> None:
    scheme, _, rest = url.partition("://")
    written = f"{scheme}://{user}:{password}@{rest}"
    shown = shown_url(written)
    assert shown == f"{scheme}://{user}:***@{rest}"
    assert shown_url(url) == url  # none written: unchanged


def test_a_url_with_a_user_and_no_password_is_shown_as_written() -> None:
    assert shown_url("https://reader@news.example/rss") == "https://reader@news.example/rss"
    assert shown_url("https://news.example/a@b") == "https://news.example/a@b"
    assert shown_url("https://news.example?q=a:b@c") == "https://news.example?q=a:b@c"
