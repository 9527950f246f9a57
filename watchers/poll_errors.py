"""The errors a poll records on its feed, as messages: a msgid of the bot's catalogues (`N_`)
and its values, kept beside the English `last_error` (the CLI, the log, metrics) so that the
admins read it in their language (/feeds, the notice of a feed failing for long); and why a poll
disabled its feed (`disabled_by`), kept so beside `disabled_reason`. Every message a fetch, a
parse or a poll records is named here."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TypeAlias

from watchers.text import printable_line, short


def N_(message: str) -> str:
    """Mark a message for extraction into the bot's catalogues (bot/locales)."""
    return message


# a fetch's (watchers/fetch.py, headers.py)
TIMED_OUT_CONNECTING = N_("timed out (connecting)")
TIMED_OUT_READING = N_("timed out (reading)")
TIMED_OUT = N_("timed out")
TIMED_OUT_IN_ALL = N_("timed out after {seconds}s in all")
REDIRECT_LOOP = N_("too many redirects (a redirect loop?)")
NOT_HTTP_REDIRECT = N_("redirected to a URL that is not http(s): {url}")
INVALID_URL = N_("invalid URL: {url}")
UNRESOLVED = N_("could not resolve {host}")
CERTIFICATE = N_("TLS certificate not accepted: {reason}")
REFUSED = N_("could not connect to {host}:{port}: connection refused")
UNCONNECTED = N_("could not connect to {host}:{port}: {reason}")  # the system's words
DISCONNECTED = N_("the server closed the connection without an answer")
BROKEN_BODY = N_("broken response body: {reason}")  # the HTTP parser's words
CUT_SHORT = N_("broken response body: {encoding} body cut short: the compressed stream did not end")
MALFORMED = N_("malformed HTTP answer: {reason}")
TOO_LARGE = N_("response larger than {bytes} bytes")
BAD_BODY = N_("bad response body: {reason}")  # the decompressor's words
# Translators: a feed's server answered with a failing status; {phrase} is the status's
# standard name in English (Not Found), kept as it is
STATUS = N_("HTTP {status} {phrase}")
BARE_STATUS = N_("HTTP {status}")
UNASKED_304 = N_("HTTP 304 (not modified) to a request that sent no validators")
EMPTY = N_("empty response (HTTP {status}): no feed in it")
# where a fetch may not connect (addresses.py, proxied.py), its reason one of the messages below
# Translators: {reason} names the address and its kind: "a private address (10.0.0.5)"
REFUSED_REDIRECT = N_("refused a redirect to {host}: it is at {reason}, not a public one")
# Translators: {reason} names the address and its kind: "a private address (10.0.0.5)"
REFUSED_CONNECT = N_("refused to connect to {host}: {reason}")
ADDRESS_KINDS = {
    "unspecified": N_("an unspecified address ({address})"),
    "loopback": N_("a loopback address ({address})"),
    "link-local": N_("a link-local address ({address})"),
    "multicast": N_("a multicast address ({address})"),
    "reserved": N_("a reserved address ({address})"),
    "private": N_("a private address ({address})"),
    "non-public": N_("a non-public address ({address})"),
}
OTHER_KIND = N_("a {kind} address ({address})")  # a kind of a caller's own classification
NOT_AN_IP = N_("an address that is not an IP address ({address})")
UNRESOLVED_HERE = N_("a name that does not resolve here ({host})")
NO_LONGER_RESOLVES = N_("a name that no longer resolves ({host})")
PUBLIC_NOW = N_("a public address ({address}) now, not a moment before")
# a parse's (parse.py, jsonfeed.py, pool.py)
HTML_PAGE = N_("not a feed: the server sent an HTML page")
HTML_PAGE_TYPED = N_("not a feed: the server sent an HTML page (Content-Type {media})")
BLANK = N_("not a feed: the server sent a blank document")
NOT_XML_TYPE = N_("not a feed: the server sent {media}, not XML")
NOT_XML = N_("not a feed: the server sent a document that is not XML")
NOT_XML_TYPED = N_("not a feed: the server sent a document that is not XML (Content-Type {media})")
BROKEN_XML = N_("not a feed: broken XML at line {line}, column {column} ({reason})")
NOT_A_FEED = N_("not a feed: {reason}")  # the XML parser's words
NO_FEED_IN_XML = N_("not a feed: XML, but no RSS, Atom or RDF feed in it")
JSON_NOT_UTF8 = N_("not a feed: invalid JSON (not UTF-8: {reason})")
JSON_TOO_DEEP = N_("not a feed: invalid JSON (nested too deeply)")
JSON_INVALID = N_("not a feed: invalid JSON ({reason})")  # the JSON parser's words
JSON_NO_VERSION = N_("not a feed: JSON without a JSON Feed version")
JSON_NO_ITEMS = N_("not a feed: JSON Feed without an items list")
PARSER_DIED = N_("the parser process died on this feed")
PARSE_TOO_LONG = N_("parsing took over {seconds} s; the parser was stopped")
# a poll's own (poll.py): an exception nobody foresaw, its name and words
INTERNAL = N_("internal error: {error}")
# why a poll disabled its feed (`disabled_by`)
GONE = N_("the server says the feed is gone for good (HTTP 410)")
# Translators: a feed disabled, its server having answered 404 for {span} ("7 days")
NOT_FOUND_FOR = N_("not found (HTTP 404) for {span}")

# a message's value: words as they came (a host, a port, a server's or a parser's words), a
# number or a length of time each reader's language writes its own way, or a message said in
# the reader's language
ErrorValue: TypeAlias = "str | int | float | Span | PollError"


@dataclass(frozen=True, slots=True)
class Span:
    """A length of time in a message: in English as the log writes one ("6.0h"), kept as a
    `bot.i18n.Span` to the minute (the reader's language writes it in words: "6 часов")."""

    seconds: float

    def __str__(self) -> str:
        return short(timedelta(seconds=self.seconds))


@dataclass(frozen=True, slots=True)
class PollError:
    """An error a poll records: `message`, a msgid of this module, its `{name}`s filled from
    `values`; `translated` False: words of no message of ours (an exception's own), as they
    are in every language."""

    message: str
    values: Mapping[str, ErrorValue] = field(default_factory=dict)
    translated: bool = True

    def __str__(self) -> str:
        """In English."""
        if not self.values:
            return self.message
        return self.message.format(**{name: _english(v) for name, v in self.values.items()})

    def line(self) -> str:
        """In English, as one printable line of at most 300 characters: the feed's
        `last_error`, the log's and `poll --once`'s words."""
        return printable_line(str(self))

    def kept(self) -> str | None:
        """As the feed's state keeps it beside `last_error`: JSON `{"message": msgid, "values":
        {...}}`, its values as `bot.i18n.stored` writes them (`kept_said` reads it). None: no
        message to say in another language."""
        if not self.translated:
            return None
        return json.dumps(
            {"message": self.message, "values": _kept_values(self.values)}, ensure_ascii=False
        )


def as_is(text: str) -> PollError:
    """Words of no message of ours: an exception's name and its own words."""
    return PollError(text, translated=False)


def address_refusal(kind: str, address: str) -> PollError:
    """Why an address may not be connected to: it is of `kind` (`addresses.non_public`)."""
    message = ADDRESS_KINDS.get(kind)
    if message is None:
        return PollError(OTHER_KIND, {"kind": kind, "address": address})
    return PollError(message, {"address": address})


def disabled_by(
    status: int | None, failing_for: timedelta, gone_after: timedelta
) -> PollError | None:
    """Why a poll that failed with `status`, its feed failing for `failing_for`, disables the
    feed (None: it does not): a 410 at once, a 404 once it has lasted `gone_after`."""
    if status == 410:
        return PollError(GONE)
    if status == 404 and failing_for >= gone_after:
        return PollError(NOT_FOUND_FOR, {"span": Span(failing_for.total_seconds())})
    return None


def _english(value: ErrorValue) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _kept_values(values: Mapping[str, ErrorValue]) -> dict[str, object]:
    return {name: _kept(value) for name, value in values.items()}


def _kept(value: ErrorValue) -> object:
    if isinstance(value, PollError):
        if not value.translated:
            return printable_line(str(value))
        return {"said": value.message, "values": _kept_values(value.values)}
    if isinstance(value, Span):  # to the minute, as the failing notice says one (under one: s)
        seconds = value.seconds
        return {"span": round(seconds / 60) * 60 if seconds >= 60 else round(seconds)}
    if isinstance(value, int | float):
        written = _english(value)  # as many places as the English has: 0.5, 60
        digits = len(written.partition(".")[2]) if "e" not in written else 0
        return {"number": value, "digits": digits}
    return printable_line(value)
