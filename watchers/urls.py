"""URL canonicalisation: one spelling per article, so that URL variants dedup to one story; and
the URL a feed document's relative links resolve against."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

# Parameters that identify a campaign or a click, never the article.
TRACKING_PARAMS = frozenset(
    {
        "fbclid",
        "gclid",
        "dclid",
        "yclid",
        "msclkid",
        "mc_cid",
        "mc_eid",
        "igshid",
        "ref",
        "ref_src",
        "rss",
        "_openstat",
        "cmpid",
    }
)
TRACKING_PREFIXES = ("utm_",)
# the same article on a mobile or AMP host, path or parameter
VARIANT_HOST_LABELS = ("www", "m", "mobile", "amp")
VARIANT_PARAMS = {
    ("amp", ""),
    ("amp", "1"),
    ("amp", "true"),
    ("outputtype", "amp"),
    ("_amp", "true"),
}
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _is_tracking(name: str) -> bool:
    lowered = name.lower()
    return lowered in TRACKING_PARAMS or lowered.startswith(TRACKING_PREFIXES)


def _without_amp(path: str) -> str:
    """The path without a trailing slash or an /amp segment at either end."""
    while True:
        trimmed = path.rstrip("/") or "/"
        if trimmed.lower().endswith("/amp"):
            trimmed = trimmed[:-4] or "/"
        elif trimmed.lower().startswith("/amp/"):
            trimmed = trimmed[4:]
        if trimmed == path:
            return path
        path = trimmed


# scheme, host, port, path, query: what `canonical_url` reads of a URL
Parts = tuple[str, str, int | None, str, str]
# a URL with a plain host and no port, query, fragment or whitespace (most article links)
_PLAIN = re.compile(r"([Hh][Tt][Tt][Pp][Ss]?)://([A-Za-z0-9.-]+)(/[^?#\s]*)?")


def _parts(url: str) -> Parts | None:
    """`urlsplit`'s reading of the URL (None where it fails), taken by a regex from a plain
    URL: urlsplit costs half of `canonical_url`."""
    if plain := _PLAIN.fullmatch(url):
        return plain[1].lower(), plain[2].lower().rstrip("."), None, plain[3] or "", ""
    return _split(url)


def _split(url: str) -> Parts | None:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    return parts.scheme.lower(), (parts.hostname or "").rstrip("."), port, parts.path, parts.query


def canonical_url(url: str) -> str | None:
    """The canonical form of an http(s) URL, or None when it is not one.

    Lower-case scheme and host, no `www.`/`m.`/`mobile.`/`amp.` host label, no default port,
    no fragment, no trailing slash (but the root) nor /amp path segment, https for http,
    tracking and AMP parameters removed and the rest sorted.
    """
    parts = _parts(url.strip())
    if parts is None:
        return None
    scheme, host, port, path, query = parts
    if scheme not in _DEFAULT_PORTS or not host:
        return None
    labels = host.split(".")
    while len(labels) > 2 and labels[0] in VARIANT_HOST_LABELS:
        labels.pop(0)
    host = ".".join(labels)
    # everything becomes https, so https' own default port goes as well as the scheme's
    netloc = host if port in (None, _DEFAULT_PORTS[scheme], 443) else f"{host}:{port}"
    kept = [
        (k, v)
        for k, v in parse_qsl(query, keep_blank_values=True)
        if not _is_tracking(k) and (k.lower(), v.lower()) not in VARIANT_PARAMS
    ]
    kept.sort()
    return urlunsplit(("https", netloc, _without_amp(path or "/"), urlencode(kept), ""))


_AUTHORITY_END = re.compile(r"[/?#]")


def web_link(url: str) -> str | None:
    """`url` if it is an http(s) URL, with its scheme in lower case (a scheme is any case:
    `HTTP://` is `http://`), else None; one without a host (`http:///a`, `https://:80/`) leads
    nowhere, and is none either."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() not in ("http", "https"):
        return None
    authority = _AUTHORITY_END.split(rest, maxsplit=1)[0]
    host = authority.rpartition("@")[2]
    if not host.startswith("["):  # an IPv6 address holds colons; a name ends at its port's
        host = host.partition(":")[0]
    return f"{scheme.lower()}://{rest}" if host.strip("[]").strip() else None


def document_url(url: str, content_location: str | None) -> str:
    """The URL a document's relative links resolve against: its Content-Location (which may
    itself be relative to the URL fetched), or else the URL fetched."""
    location = (content_location or "").strip()
    if not location:
        return url
    try:
        joined = urljoin(url, location)
    except ValueError:  # a malformed header (an unclosed IPv6 bracket): the URL fetched
        return url
    return web_link(joined) or url


def shown_url(url: str) -> str:
    """`url` to print or log: a password written into it (`https://user:pass@host/`) is `***`."""
    scheme, sep, rest = url.partition("://")
    authority = _AUTHORITY_END.split(rest, maxsplit=1)[0] if sep else ""
    user, at, host = authority.rpartition("@")
    if not at or ":" not in user:
        return url
    return f"{scheme}://{user.partition(':')[0]}:***@{host}{rest[len(authority) :]}"
