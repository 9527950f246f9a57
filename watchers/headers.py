"""The response headers a fetch keeps (validators, the base of relative links, caching), each as
text that the store can bind and the next request can send; a failing status in words."""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from urllib.parse import quote

from watchers import poll_errors as errors
from watchers.poll_errors import PollError

KEPT = (
    "content-type",
    "content-location",
    "content-language",
    "etag",
    "last-modified",
    "cache-control",
    "expires",
    "retry-after",
)
_VALIDATORS = frozenset({"etag", "last-modified"})
_URL_SAFE = "".join(map(chr, range(0x21, 0x7F)))  # printable ASCII is kept as it is, `%` too


def kept_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The headers of `KEPT` that an answer has. aiohttp reads a header's bytes as UTF-8, and
    bytes that are not (a Latin-1 server's `ETag: "caf\\xe9"`) as lone surrogates, which SQLite
    cannot bind. Such a validator is dropped: it cannot be sent back as the bytes it came as
    (aiohttp writes UTF-8), and the next answer's body is still compared. A Content-Location
    keeps its bytes, percent-encoded; any other header reads them as U+FFFD."""
    kept = {}
    for name in KEPT:
        value = headers.get(name)
        if value is None:
            continue
        if not value.isascii():
            raw = value.encode("utf-8", "surrogateescape")  # the bytes as they came
            text = raw.decode("utf-8", "replace")
            if text != value:  # some were not UTF-8
                if name in _VALIDATORS:
                    continue
                value = quote(raw, safe=_URL_SAFE) if name == "content-location" else text
        kept[name] = value
    return kept


def in_words(status: int) -> PollError:
    """`HTTP 404 Not Found`: the status with its standard name (not the server's reason phrase,
    which may say anything), or the number alone for a status HTTP does not name."""
    try:
        return PollError(
            errors.STATUS, {"status": str(status), "phrase": HTTPStatus(status).phrase}
        )
    except ValueError:
        return PollError(errors.BARE_STATUS, {"status": str(status)})
