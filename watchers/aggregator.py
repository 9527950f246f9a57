"""Items of aggregator feeds (Google News, and any feed whose items carry RSS `<source>`): the
real outlet, the headline without its " - Outlet" suffix, a description that only echoes them,
and the article URL that older Google News links carry in their token. Pure; never fetches.
"""

from __future__ import annotations

import base64
import binascii
import html
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from watchers.text import one_line
from watchers.urls import canonical_url, web_link

AGGREGATOR_HOSTS = frozenset({"news.google.com"})
_AGGREGATOR_HOST = re.compile("|".join(map(re.escape, sorted(AGGREGATOR_HOSTS))))
# Google News names the outlet in grey after the headline's link in the description
_GREY = re.compile(
    r"<font\b[^>]*?\bcolor\s*=\s*[\"']?#6f6f6f\b[^>]*>(.*?)</font\s*>", re.IGNORECASE | re.DOTALL
)
_LINK = re.compile(r"<a\b[^>]*>.*?</a\s*>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]*>")
_SEPARATORS = (" - ", " – ", " — ")
_TOKEN = re.compile(r"[A-Za-z0-9_-]{8,4000}")
_WORD = re.compile(r"\w")
_SPACE = re.compile(r"\s+")
# the token's message: field 1 (a varint), field 4 the article's URL, field 26 its AMP URL
_URL_FIELD = 4
_MAX_VARINT = 10


@dataclass(frozen=True, slots=True)
class Attribution:
    """What an item says of the outlet that published it."""

    title: str  # the headline, without the outlet's suffix
    outlet: str  # the outlet's name
    outlet_url: str | None  # its home page, from `<source url="...">`
    named: tuple[str, ...] = ()  # the outlet names the description shows


def attribute(
    title: str, *, source_name: str | None, source_url: str | None, description: str
) -> Attribution | None:
    """The item's outlet, from `<source>`, or else from a title suffix " - Outlet" that names
    the same outlet as the description's grey `<font>`; the title loses the suffix. None when
    the item names no outlet (an outlet's own feed)."""
    outlet = one_line(source_name) if source_name else None
    url = source_url.strip() if source_url else None
    if not outlet and not url:
        named = grey_outlets(description)  # first: most feeds' descriptions have no grey
        suffix = _suffix(title) if named else None
        if suffix is None or suffix.casefold() not in {n.casefold() for n in named}:
            return None
        return Attribution(without_suffix(title, suffix), suffix, None, named)
    outlet = outlet or host_key(url)
    if outlet is None:
        return None
    named = grey_outlets(description)
    return Attribution(without_suffix(title, outlet), outlet, url or None, named)


def grey_outlets(description: str) -> tuple[str, ...]:
    """The outlets a Google News description names in grey."""
    if "6f6f6f" not in description and "6F6F6F" not in description:
        return ()
    names = (one_line(html.unescape(_TAG.sub("", m))) for m in _GREY.findall(description))
    return tuple(dict.fromkeys(n for n in names if n))


def _suffix(title: str) -> str | None:
    for separator in _SEPARATORS:
        head, found, tail = title.rpartition(separator)
        if found and head.strip() and tail.strip():
            return tail.strip()
    return None


def without_suffix(title: str, outlet: str) -> str:
    """`title` without a trailing " - Outlet" (case aside), if something is left before it."""
    folded = title.casefold()
    for separator in _SEPARATORS:
        ending = (separator + outlet).casefold()
        if folded.endswith(ending) and len(ending) == len(separator + outlet):
            head = title[: len(title) - len(ending)].rstrip()
            if head:
                return head
    return title


def echoes_only(summary: str, titles: tuple[str, ...], outlets: tuple[str, ...]) -> bool:
    """Whether `summary` says nothing but the title(s) and the outlet name(s) (spaces of any
    kind, case and punctuation aside)."""
    rest = _SPACE.sub("", summary.casefold())
    said = {_SPACE.sub("", t.casefold()) for t in (*titles, *outlets)}
    for text in sorted(said, key=len, reverse=True):
        if text:
            rest = rest.replace(text, " ")
    return _WORD.search(rest) is None


def links_only(description: str) -> bool:
    """Whether an HTML description is nothing but links and grey outlet names (Google News'
    list of the story's other headlines: "Title1 Outlet1 Title2 Outlet2 View Full Coverage")."""
    if "<a" not in description.lower():
        return False
    rest = _GREY.sub(" ", _LINK.sub(" ", description))
    return _WORD.search(html.unescape(_TAG.sub(" ", rest))) is None


def host_key(url: str | None) -> str | None:
    """A stable key for the outlet at `url`: its host, lower case, without `www.`/`m.`/`amp.`
    (`https://www.tass.com/x` → `tass.com`); None when it is not an http(s) URL."""
    canonical = canonical_url(url) if url else None
    if canonical is None:
        return None
    return urlsplit(canonical).netloc or None


def outlet_key(*, outlet: str | None, outlet_url: str | None, canonical: str | None) -> str | None:
    """The item's outlet key: the host of the outlet's home page, or of the article's own
    (canonical) URL, or (an aggregator item naming its outlet only) `name:` and its name."""
    if outlet_url and (key := host_key(outlet_url)):
        return key
    if canonical and canonical.startswith("https://"):
        host = canonical[8:].partition("/")[0]
        if host and host not in AGGREGATOR_HOSTS:
            return host
    if outlet:
        return "name:" + outlet.casefold()
    return None


def source_label(outlet: str | None, via: str | None) -> str:
    """The source an alert shows, in English: "TASS (via Google News)", or the one name known."""
    name, through = source_parts(outlet, via)
    return f"{name} (via {through})" if through else name


def source_parts(outlet: str | None, via: str | None) -> tuple[str, str | None]:
    """The outlet an alert names and the aggregator it came through (None: its own feed), for
    the bot to say "TASS (via Google News)" in the chat's language."""
    if via:
        # a Google News search feed calls itself '"query" - Google News'
        head, found, tail = via.rpartition(" - ")
        if found and head and tail.strip() == "Google News":
            via = tail.strip()
    if not outlet:
        return via or "", None
    if via and via.casefold() != outlet.casefold():
        return outlet, via
    return outlet, None


def is_aggregator_link(url: str) -> bool:
    """Whether `url` leads to an aggregator's redirect (never fetched)."""
    try:
        host = (urlsplit(url.strip()).hostname or "").rstrip(".")
    except ValueError:
        return False
    return host in AGGREGATOR_HOSTS


def real_url(link: str) -> str | None:
    """The article URL carried in a Google News link's token (`.../articles/CBMi...?oc=5`),
    or None when there is none to read offline (newer tokens, other links, garbage)."""
    if not _AGGREGATOR_HOST.search(link):
        return None
    try:
        parts = urlsplit(link.strip())
    except ValueError:
        return None
    if (parts.hostname or "").rstrip(".") not in AGGREGATOR_HOSTS:
        return None
    segments = parts.path.split("/")
    if len(segments) < 2 or segments[-2] != "articles":
        return None
    return decode_token(segments[-1])


def decode_token(token: str) -> str | None:
    """The article URL in a Google News article token: URL-safe base64, unpadded, of a small
    protobuf message whose field 4 holds the URL; None for anything else."""
    if not _TOKEN.fullmatch(token):
        return None
    try:
        message = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        return None
    found = _length_delimited(message, _URL_FIELD)
    if found is None:
        return None
    try:
        url = web_link(found.decode("utf-8"))
    except UnicodeDecodeError:
        return None
    if (
        url is None
        or any(ch.isspace() or not ch.isprintable() for ch in url)
        or canonical_url(url) is None
        or is_aggregator_link(url)
    ):
        return None
    return url


def _length_delimited(message: bytes, wanted: int) -> bytes | None:
    """The first value of field `wanted` (wire type 2) in a protobuf message, read until the
    message ends or stops making sense."""
    pos = 0
    while pos < len(message):
        key, pos = _varint(message, pos)
        if key is None:
            return None
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(message, pos)
            if value is None:
                return None
        elif wire == 2:
            length, pos = _varint(message, pos)
            if length is None or pos + length > len(message):
                return None
            if field == wanted:
                return message[pos : pos + length]
            pos += length
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        else:
            return None
    return None


def _varint(data: bytes, pos: int) -> tuple[int | None, int]:
    value = 0
    for shift in range(_MAX_VARINT):
        if pos >= len(data):
            return None, pos
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << (7 * shift)
        if not byte & 0x80:
            return value, pos
    return None, pos
