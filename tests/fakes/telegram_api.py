"""Fake Telegram Bot API server over real HTTP on 127.0.0.1, standard library only.
Point the real python-telegram-bot at it: ``Bot(fake.token, base_url=fake.base_url)``."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import email.parser
import email.policy
import hashlib
import json
import logging
import math
import random
import re
import socket
import struct
import threading
import time
import urllib.parse
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, cast

_log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024
"""Request bodies larger than this are answered with HTTP 413."""

MAX_MESSAGE_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024
MAX_LONG_POLL_SECONDS = 30.0
HOLD_LIMIT = 30.0  # seconds a held answer waits for `release_answers` at most

ALLOWED_HTML_TAGS = frozenset(
    {
        "a", "b", "strong", "i", "em", "u", "ins", "s", "strike", "del",
        "span", "tg-spoiler", "code", "pre", "blockquote", "tg-emoji",
    }
)  # fmt: skip
"""Tags Telegram accepts with ``parse_mode="HTML"`` (names are case-insensitive)."""

# Parameters that Telegram defines as JSON-serialized (decoded when they arrive as strings),
# parameters converted to int when they arrive as numeric strings, and boolean flags.
_JSON_PARAMS = frozenset(
    {
        "reply_markup", "entities", "caption_entities", "link_preview_options",
        "allowed_updates", "reply_parameters", "commands", "media", "scope",
    }
)  # fmt: skip
_INT_PARAMS = frozenset(
    {
        "chat_id", "message_id", "offset", "limit", "timeout", "user_id",
        "from_chat_id", "reply_to_message_id", "message_thread_id", "cache_time",
    }
)  # fmt: skip
_BOOL_PARAMS = frozenset(
    {
        "disable_notification", "protect_content", "show_alert", "drop_pending_updates",
        "has_spoiler", "show_caption_above_media", "allow_sending_without_reply",
        "disable_web_page_preview", "allow_paid_broadcast",
    }
)  # fmt: skip

_SEND_METHODS = frozenset({"sendMessage", "sendPhoto", "sendDocument"})
"""Methods that count against the flood limits when ``enforce_limits`` is on."""
_CHAT_BOUND_METHODS = frozenset(
    {
        "sendMessage",
        "sendPhoto",
        "sendDocument",
        "editMessageText",
        "editMessageReplyMarkup",
        "sendChatAction",
    }
)
"""Methods refused for blocked users and migrated groups."""
_TRUE_METHODS = frozenset(
    {
        "close", "logOut", "sendChatAction", "setMyDescription", "setMyShortDescription",
        "setMyName", "pinChatMessage", "unpinChatMessage", "leaveChat",
    }
)  # fmt: skip
"""Methods the fake accepts and answers with ``true`` without further checks."""

_ADMIN_RIGHTS: dict[str, bool] = {
    "can_be_edited": False,
    "is_anonymous": False,
    "can_manage_chat": True,
    "can_delete_messages": True,
    "can_manage_video_chats": True,
    "can_restrict_members": True,
    "can_promote_members": False,
    "can_change_info": True,
    "can_invite_users": True,
    "can_post_stories": False,
    "can_edit_stories": False,
    "can_delete_stories": False,
    "can_pin_messages": True,
}
_DEFAULT_GROUP_USER_ID = 1001
_NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)
_SURROGATE_ERROR = (
    "Text contains invalid Unicode characters after decoding HTML entities, "
    "check for unmatched surrogate code units"
)


def utf16_len(text: str) -> int:
    """Length of ``text`` in UTF-16 code units, the unit Telegram counts lengths in."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


# --------------------------------------------------------------------------------------------
# HTML parse mode


class HTMLParseError(ValueError):
    """Markup Telegram would refuse; ``str()`` is the reason after "can't parse entities: "."""


@dataclass(frozen=True)
class FormattedText:
    """Visible text and Bot API MessageEntity dicts (offsets in UTF-16 code units)."""

    text: str
    entities: list[dict[str, Any]]


def parse_html(markup: str, *, strict_entities: bool = True) -> FormattedText:
    """Parse Telegram HTML the way the Bot API does (TDLib's ``parse_html``).

    With ``strict_entities`` (the default) a ``&`` that does not start ``&lt;``, ``&gt;``,
    ``&amp;``, ``&quot;`` or a numeric reference is an error; the real server keeps such text
    literally, so strict mode is stricter than Telegram on purpose: it catches unescaped text.
    """
    return _HTMLParser(markup, strict_entities=strict_entities).parse()


_SPACES = frozenset(" \t\r\n\v\0")
_TAG_NAME_END = _SPACES | {">"}
_ATTRIBUTE_NAME_END = _SPACES | frozenset("=>/\"'")
_PLAIN_TEXT = re.compile(r"[^&<]+")
_CHAR_REFERENCE = re.compile(r"&(?:#x([0-9a-fA-F]*)|#([0-9]*)|([A-Za-z]*))")
_RAW_REFERENCE = re.compile(r"&#?[0-9A-Za-z]*;?")
_NAME_TOKEN = re.compile(r"[A-Za-z0-9.\-]*")
_URL_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")
_NAMED_REFERENCES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_SIMPLE_ENTITY_TYPES = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "span": "spoiler",
    "tg-spoiler": "spoiler",
}
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def _decode_reference(src: str, pos: int) -> tuple[str, int] | None:
    """Decode the character reference at ``src[pos] == "&"`` like TDLib (``;`` optional)."""
    match = _CHAR_REFERENCE.match(src, pos)
    if match is None:
        return None
    hex_digits, decimal_digits, name = match.groups()
    if name is not None:
        char = _NAMED_REFERENCES.get(name)
        if char is None:
            return None
    else:
        if match.end() - pos >= 10:
            return None
        digits, base = (hex_digits, 16) if hex_digits is not None else (decimal_digits, 10)
        code = int(digits, base) if digits else 0
        if code == 0 or code >= 0x10FFFF:
            return None
        char = chr(code)
    end = match.end()
    return char, end + 1 if src.startswith(";", end) else end


def _tag_argument(tag: str, attribute: str, value: str, current: str) -> str:
    """The argument an attribute gives its tag (href, language, emoji id...), else ``current``."""
    if tag == "a" and attribute == "href":
        return value
    if tag == "code" and attribute == "class" and value.startswith("language-"):
        return value.removeprefix("language-")
    if tag == "span" and attribute == "class" and value.startswith("tg-"):
        return value.removeprefix("tg-")
    if tag == "tg-emoji" and attribute == "emoji-id":
        return value
    if tag == "blockquote" and attribute == "expandable":
        return "expandable"
    return current


def _link_url(url: str) -> str | None:
    """A rough ``check_url``: keep URLs with a scheme, prefix bare hosts with http://."""
    url = url.strip()
    if not url or any(char.isspace() for char in url):
        return None
    if _URL_SCHEME.match(url):
        return url
    return f"http://{url}" if "." in url else None


@dataclass
class _OpenTag:
    name: str
    argument: str
    offset: int  # UTF-16 offset in the output where the tag's content starts
    out_index: int  # index into the output chunk list where the content starts


@dataclass
class _PendingEntity:
    entity: dict[str, Any]
    language: str = ""  # a code entity's language, until an enclosing <pre> claims it


class _HTMLParser:
    """Single-use parser mirroring TDLib's parse_html, error messages included."""

    def __init__(self, markup: str, *, strict_entities: bool) -> None:
        self._src = markup
        self._strict = strict_entities
        self._pos = 0
        self._out: list[str] = []
        self._offset = 0
        self._open: list[_OpenTag] = []
        self._entities: list[_PendingEntity] = []

    def parse(self) -> FormattedText:
        while self._pos < len(self._src):
            char = self._src[self._pos]
            if char == "&":
                self._character_reference()
            elif char != "<":
                self._plain_text()
            elif self._char_at(self._pos + 1) == "/":
                self._end_tag()
            else:
                self._start_tag()
        if self._open:
            tag = self._open[-1].name
            raise HTMLParseError(f'Can\'t find end tag corresponding to start tag "{tag}"')
        text = "".join(self._out)
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise HTMLParseError(_SURROGATE_ERROR) from None
        entities = [pending.entity for pending in self._entities]
        entities.sort(key=lambda entity: (entity["offset"], -entity["length"]))
        return FormattedText(text, entities)

    # -- low-level helpers

    def _char_at(self, index: int) -> str:
        return self._src[index] if index < len(self._src) else ""

    def _scan(self, index: int, stop: frozenset[str]) -> int:
        while index < len(self._src) and self._src[index] not in stop:
            index += 1
        return index

    def _skip_spaces(self, index: int) -> int:
        while index < len(self._src) and self._src[index] in _SPACES:
            index += 1
        return index

    def _byte_offset(self, index: int) -> int:
        return len(self._src[:index].encode("utf-8", "surrogatepass"))

    def _error(self, reason: str, index: int) -> HTMLParseError:
        return HTMLParseError(f"{reason} at byte offset {self._byte_offset(index)}")

    def _emit(self, text: str) -> None:
        self._out.append(text)
        self._offset += utf16_len(text)

    # -- text

    def _plain_text(self) -> None:
        match = _PLAIN_TEXT.match(self._src, self._pos)
        assert match is not None
        self._emit(match.group())
        self._pos = match.end()

    def _character_reference(self) -> None:
        decoded = _decode_reference(self._src, self._pos)
        if decoded is not None:
            char, self._pos = decoded
            self._emit(char)
        elif self._strict:
            raise self._reference_error()
        else:
            self._emit("&")
            self._pos += 1

    def _reference_error(self) -> HTMLParseError:
        match = _RAW_REFERENCE.match(self._src, self._pos)
        raw = match.group() if match else "&"
        if raw in ("&", "&;") or not raw.endswith(";"):
            return self._error('Unescaped "&" (write "&amp;")', self._pos)
        return self._error(f'Unsupported HTML entity "{raw}"', self._pos)

    # -- tags

    def _start_tag(self) -> None:
        begin = self._pos
        name_end = self._scan(begin + 1, _TAG_NAME_END)
        if name_end >= len(self._src):
            raise self._error("Unclosed start tag", begin)
        name = self._src[begin + 1 : name_end].translate(_ASCII_LOWER)
        if name not in ALLOWED_HTML_TAGS:
            raise self._error(f'Unsupported start tag "{name}"', begin)
        argument, close = self._attributes(name, begin, name_end)
        if name == "span" and argument != "spoiler":
            raise self._error('Tag "span" must have class "tg-spoiler"', begin)
        self._open.append(_OpenTag(name, argument, self._offset, len(self._out)))
        self._pos = close + 1

    def _attributes(self, tag: str, begin: int, pos: int) -> tuple[str, int]:
        """Read attributes up to the closing ``>``; return the tag's argument and its index."""
        argument = ""
        while self._char_at(pos) != ">":
            pos = self._skip_spaces(pos)
            if self._char_at(pos) == ">":
                break
            name_end = self._scan(pos, _ATTRIBUTE_NAME_END)
            name = self._src[pos:name_end]
            if not name:
                raise self._error(f'Empty attribute name in the tag "{tag}"', begin)
            pos = self._skip_spaces(name_end)
            if self._char_at(pos) != "=":
                if pos >= len(self._src):
                    raise self._error(f'Unclosed start tag "{tag}"', begin)
                argument = _tag_argument(tag, name, "", argument)
                continue
            pos = self._skip_spaces(pos + 1)
            if pos >= len(self._src):
                raise self._error(f'Unclosed start tag "{tag}"', begin)
            value, pos = self._attribute_value(pos)
            if pos >= len(self._src):
                raise self._error("Unclosed start tag", begin)
            argument = _tag_argument(tag, name, value, argument)
        return argument, pos

    def _attribute_value(self, pos: int) -> tuple[str, int]:
        quote = self._src[pos]
        if quote in "\"'":
            return self._quoted_value(pos + 1, quote)
        match = _NAME_TOKEN.match(self._src, pos)
        assert match is not None
        end = match.end()
        if end < len(self._src) and self._src[end] not in _TAG_NAME_END:
            raise self._error("Unexpected end of name token", pos)
        return match.group().translate(_ASCII_LOWER), end

    def _quoted_value(self, pos: int, quote: str) -> tuple[str, int]:
        chars: list[str] = []
        while pos < len(self._src) and self._src[pos] != quote:
            decoded = _decode_reference(self._src, pos) if self._src[pos] == "&" else None
            if decoded is not None:
                char, pos = decoded
                chars.append(char)
            else:
                chars.append(self._src[pos])
                pos += 1
        if pos < len(self._src):
            pos += 1  # the closing quote
        return "".join(chars), pos

    def _end_tag(self) -> None:
        begin = self._pos
        if not self._open:
            raise self._error("Unexpected end tag", begin)
        name_end = self._scan(begin + 2, _TAG_NAME_END)
        name = self._src[begin + 2 : name_end].translate(_ASCII_LOWER)
        close = self._skip_spaces(name_end)
        if self._char_at(close) != ">":
            raise self._error("Unclosed end tag", begin)
        tag = self._open[-1]
        if name and name != tag.name:
            raise HTMLParseError(
                f"Unmatched end tag at byte offset {self._byte_offset(begin)}, "
                f'expected "</{tag.name}>", found "</{name}>"'
            )
        if self._offset > tag.offset:
            self._add_entity(tag, self._offset - tag.offset)
        self._open.pop()
        self._pos = close + 1

    # -- entities

    def _add_entity(self, tag: _OpenTag, length: int) -> None:
        span: dict[str, Any] = {"offset": tag.offset, "length": length}
        if tag.name in _SIMPLE_ENTITY_TYPES:
            self._push({"type": _SIMPLE_ENTITY_TYPES[tag.name], **span})
        elif tag.name == "blockquote":
            kind = "expandable_blockquote" if tag.argument else "blockquote"
            self._push({"type": kind, **span})
        elif tag.name == "tg-emoji":
            if not tag.argument.isdigit() or int(tag.argument) == 0:
                raise HTMLParseError("Invalid custom emoji identifier specified")
            self._push({"type": "custom_emoji", **span, "custom_emoji_id": tag.argument})
        elif tag.name == "a":
            url = _link_url(tag.argument or "".join(self._out[tag.out_index :]))
            if url is not None:
                self._push({"type": "text_link", **span, "url": url})
        elif tag.name == "pre":
            self._close_pre(span)
        else:
            self._close_code(span, tag.argument)

    def _push(self, entity: dict[str, Any], language: str = "") -> None:
        self._entities.append(_PendingEntity(entity, language))

    def _previous_with_span(self, span: dict[str, Any]) -> _PendingEntity | None:
        if not self._entities:
            return None
        previous = self._entities[-1]
        same = all(previous.entity[key] == span[key] for key in ("offset", "length"))
        return previous if same else None

    def _close_pre(self, span: dict[str, Any]) -> None:
        previous = self._previous_with_span(span)
        if previous is not None and previous.entity["type"] == "code" and previous.language:
            previous.entity = {"type": "pre", **span, "language": previous.language}
        else:
            self._push({"type": "pre", **span})

    def _close_code(self, span: dict[str, Any], language: str) -> None:
        previous = self._previous_with_span(span)
        is_bare_pre = previous is not None and previous.entity["type"] == "pre"
        if previous is not None and is_bare_pre and "language" not in previous.entity and language:
            previous.entity["language"] = language
        else:
            self._push({"type": "code", **span}, language)


# --------------------------------------------------------------------------------------------
# Requests


class _ApiError(Exception):
    """A Bot API error answer: real HTTP status plus the JSON error body."""

    def __init__(
        self, status: int, description: str, parameters: dict[str, Any] | None = None
    ) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters

    def payload(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.status,
            "description": self.description,
        }
        if self.parameters is not None:
            body["parameters"] = copy.deepcopy(self.parameters)
        return body


def _retry_after_error(seconds: int) -> _ApiError:
    return _ApiError(429, f"Too Many Requests: retry after {seconds}", {"retry_after": seconds})


@dataclass(frozen=True)
class UploadedFile:
    """A file part of a multipart/form-data request."""

    field: str
    filename: str | None
    content_type: str
    data: bytes


def _coerce_param(name: str, value: Any) -> Any:
    """Turn form-style string values into what Telegram reads them as."""
    if not isinstance(value, str):
        return value
    if name in _JSON_PARAMS:
        try:
            return json.loads(value)
        except ValueError:
            raise _ApiError(400, f"Bad Request: can't parse {name} JSON object") from None
    if name in _INT_PARAMS and re.fullmatch(r"-?[0-9]+", value):
        return int(value)
    if name in _BOOL_PARAMS and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return value


def _coerce_params(raw: dict[str, Any]) -> dict[str, Any]:
    return {name: _coerce_param(name, value) for name, value in raw.items()}


def _decode_form(text: str) -> dict[str, Any]:
    return dict(urllib.parse.parse_qsl(text, keep_blank_values=True))


def _decode_json(body: bytes) -> dict[str, Any]:
    try:
        decoded = json.loads(body)
    except ValueError:
        raise _ApiError(400, "Bad Request: can't parse JSON object") from None
    if not isinstance(decoded, dict):
        raise _ApiError(400, "Bad Request: JSON object expected")
    return decoded


def _decode_multipart(
    content_type: str, body: bytes
) -> tuple[dict[str, Any], dict[str, UploadedFile]]:
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1")
    parser = email.parser.BytesParser(EmailMessage, policy=email.policy.HTTP)
    message = parser.parsebytes(head + body)
    if not message.is_multipart():
        raise _ApiError(400, "Bad Request: can't parse multipart/form-data body")
    params: dict[str, Any] = {}
    files: dict[str, UploadedFile] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        filename = part.get_filename()
        if filename is None:
            params[name] = data.decode("utf-8", "replace")
        else:
            files[name] = UploadedFile(name, filename, part.get_content_type(), data)
    return params, files


def decode_request(
    content_type: str, body: bytes, query: str = ""
) -> tuple[dict[str, Any], dict[str, UploadedFile]]:
    """Decode query string plus a JSON, form-urlencoded or multipart body into Bot API params."""
    params: dict[str, Any] = _decode_form(query)
    files: dict[str, UploadedFile] = {}
    mime = content_type.split(";")[0].strip().lower()
    if not body:
        pass
    elif mime == "application/json":
        params.update(_decode_json(body))
    elif mime == "multipart/form-data":
        form, files = _decode_multipart(content_type, body)
        params.update(form)
    else:
        params.update(_decode_form(body.decode("utf-8", "replace")))
    return _coerce_params(params), files


@dataclass
class _ApiRequest:
    """One decoded Bot API call as the method handlers see it."""

    method: str
    params: dict[str, Any]
    files: dict[str, UploadedFile]

    def has(self, name: str) -> bool:
        return self.params.get(name) not in (None, "")

    def integer(self, name: str) -> int:
        if not self.has(name):
            raise _ApiError(400, f"Bad Request: {name} is empty")
        value = self.params[name]
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        try:
            return int(value)
        except (TypeError, ValueError):
            raise _ApiError(400, f"Bad Request: invalid {name} specified") from None

    def optional_integer(self, name: str) -> int | None:
        return self.integer(name) if self.has(name) else None

    def number(self, name: str, default: float) -> float:
        if not self.has(name):
            return default
        try:
            return float(self.params[name])
        except (TypeError, ValueError):
            raise _ApiError(400, f"Bad Request: invalid {name} specified") from None


# --------------------------------------------------------------------------------------------
# Flood limits


class _RateLimiter:
    """Telegram's documented broadcast limits: sliding windows plus a per-private-chat bucket."""

    GLOBAL_PER_SECOND = 30
    PRIVATE_BURST = 3.0
    PRIVATE_PER_SECOND = 1.0
    GROUP_PER_MINUTE = 20

    def __init__(self) -> None:
        self._global: deque[float] = deque()
        self._private: dict[int, tuple[float, float]] = {}  # chat -> (tokens, at)
        self._groups: dict[int, deque[float]] = {}

    def acquire(self, chat_id: int, now: float) -> int | None:
        """Count one send and return None, or return whole seconds to wait (nothing counted)."""
        wait = max(self._global_wait(now), self._chat_wait(chat_id, now))
        if wait > 0:
            return max(1, math.ceil(wait))
        self._global.append(now)
        if chat_id > 0:
            self._private[chat_id] = (self._tokens(chat_id, now) - 1.0, now)
        else:
            self._groups.setdefault(chat_id, deque()).append(now)
        return None

    def _global_wait(self, now: float) -> float:
        _prune(self._global, now - 1.0)
        if len(self._global) < self.GLOBAL_PER_SECOND:
            return 0.0
        return self._global[0] + 1.0 - now

    def _chat_wait(self, chat_id: int, now: float) -> float:
        if chat_id > 0:
            tokens = self._tokens(chat_id, now)
            return 0.0 if tokens >= 1.0 else (1.0 - tokens) / self.PRIVATE_PER_SECOND
        window = self._groups.get(chat_id, deque())
        _prune(window, now - 60.0)
        if len(window) < self.GROUP_PER_MINUTE:
            return 0.0
        return window[0] + 60.0 - now

    def _tokens(self, chat_id: int, now: float) -> float:
        tokens, at = self._private.get(chat_id, (self.PRIVATE_BURST, now))
        return min(self.PRIVATE_BURST, tokens + (now - at) * self.PRIVATE_PER_SECOND)


def _prune(window: deque[float], older_than: float) -> None:
    while window and window[0] <= older_than:
        window.popleft()


# --------------------------------------------------------------------------------------------
# The fake server


@dataclass
class Call:
    """One request the fake received and how it answered."""

    method: str
    params: dict[str, Any]
    at: float
    status: int
    files: dict[str, UploadedFile] = field(default_factory=dict)
    response: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


@dataclass
class _Failure:
    method: str
    error: _ApiError
    chat_id: int | None
    remaining: int
    after: int = 0  # matching calls let through first


_Handler = Callable[[_ApiRequest], Any]
_PATH = re.compile(r"/bot(?P<token>[^/]+)/(?P<method>[A-Za-z0-9_]+)/?")


class FakeBotAPI:
    """In-process fake of the Telegram Bot API, served over real HTTP on 127.0.0.1.

    Records every request in ``calls``, queues updates pushed by tests for ``getUpdates``
    (long polling included), validates sendMessage/editMessageText/sendPhoto like Telegram
    (HTML parse mode, text and caption lengths) and can inject errors: ``fail_next``,
    ``fail_retry_after``, ``fail_share``, ``fail_first_attempts``, ``fail_blocked``,
    ``close_topic`` (a forum's topic closed: TOPIC_CLOSED), ``migrate_chat``, ``stall_next`` (a timeout), ``fail_gateway`` (a proxy's HTML error page)
    and ``reset_after_next`` (a connection reset after the call was carried out);
    ``upgrade_group`` also sends the service messages of a group's upgrade. ``latency`` delays
    every chat-bound call and ``max_in_flight`` records how many were served at once.

    Flood limits are off by default. With ``enforce_limits=True`` (constructor or attribute)
    sendMessage/sendPhoto answer 429 with ``parameters.retry_after`` (whole seconds until the
    send would be allowed, at least 1) when they exceed: 30 sends per second overall; 1 per
    second to one private chat (chat_id > 0) after a burst of 3; 20 per minute to one group or
    channel (chat_id < 0). ``clock`` (default ``time.monotonic``) drives only these limits, so
    tests can freeze or advance time.

    ``strict_html_entities`` (default True) rejects a ``&`` that starts no valid entity; real
    Telegram would keep it as text. Markdown parse modes are accepted but not validated.
    """

    def __init__(
        self,
        token: str = "123456:TEST-TOKEN",
        *,
        bot_id: int = 123456,
        bot_username: str = "kurilwatch_test_bot",
        enforce_limits: bool = False,
        clock: Callable[[], float] = time.monotonic,
        strict_html_entities: bool = True,
    ) -> None:
        self.token = token
        self.bot_id = bot_id
        self.bot_username = bot_username
        self.enforce_limits = enforce_limits
        self.strict_html_entities = strict_html_entities
        self.port = 0
        self.calls: list[Call] = []
        self._clock = clock
        self._cond = threading.Condition(threading.RLock())
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._long_polls = 0
        self.long_polls_timed_out = 0  # getUpdates that waited their whole timeout for nothing
        self._limiter = _RateLimiter()
        self._updates: list[dict[str, Any]] = []
        self._last_update_id = 0
        self._chats: dict[int, dict[str, Any]] = {}
        self._usernames: dict[str, int] = {}
        self._users: dict[int, dict[str, Any]] = {}
        self._messages: dict[tuple[int, int], dict[str, Any]] = {}
        self._last_message_id: dict[int, int] = {}
        self._callback_ids: set[str] = set()
        self._commands: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self._admins: dict[int, set[int]] = {}
        self._owners: dict[int, int] = {}
        self._failures: list[_Failure] = []
        self._blocked: set[int] = set()
        self._closed_topics: set[tuple[int, int | None]] = set()  # (chat, thread; None: General)
        self._migrated: dict[int, int] = {}
        self._first_attempt_wait: int | None = None
        self._random_failures: list[tuple[str, float, _ApiError, random.Random]] = []
        self._attempted: set[tuple[str, int, str]] = set()
        self.latency = 0.0  # seconds every chat-bound call takes, like a real network
        self._answering = threading.Event()  # cleared by `hold_answers`
        self._answering.set()
        self._answered_while_held = 0  # calls `hold_answers(after=...)` lets through still
        self.in_flight = 0
        self.max_in_flight = 0  # the most chat-bound calls served at once
        self._stalls: list[list[Any]] = []  # [method, seconds, times left]
        self._transport_faults: list[list[Any]] = []  # [method, "gateway" | "reset", times left]
        self._handlers = self._build_handlers()
        self._canonical = {name.lower(): name for name in self._handlers}

    # -- lifecycle

    @property
    def base_url(self) -> str:
        """What ``Bot(base_url=...)`` / ``ApplicationBuilder().base_url(...)`` want."""
        return f"http://127.0.0.1:{self.port}/bot"

    def start(self) -> FakeBotAPI:
        """Bind a free port on 127.0.0.1 and serve in a daemon thread."""
        if self._server is not None:
            return self
        server = _Server(("127.0.0.1", 0), self)
        self.port = int(server.server_address[1])
        thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"FakeBotAPI:{self.port}",
            daemon=True,
        )
        with self._cond:
            self._stopping = False
            self._server, self._thread = server, thread
        thread.start()
        return self

    def stop(self) -> None:
        """Shut down, wake long-polling getUpdates so they answer at once, join the thread."""
        with self._cond:
            server, thread = self._server, self._thread
            self._server = self._thread = None
            self._stopping = True
            self._cond.notify_all()
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(timeout=10)

    def __enter__(self) -> FakeBotAPI:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # -- inspection

    def canonical_method(self, method: str) -> str:
        """The documented spelling of a method name (Telegram ignores case)."""
        return self._canonical.get(method.lower(), method)

    def calls_of(self, method: str) -> list[Call]:
        """Snapshot of the calls of one method, in order."""
        wanted = self.canonical_method(method)
        with self._cond:
            return [call for call in self.calls if call.method == wanted]

    def clear_calls(self) -> None:
        with self._cond:
            self.calls.clear()

    def sent_messages(self, chat_id: int | None = None) -> list[dict[str, Any]]:
        """Params of successful sendMessage calls (optionally to one chat), in order."""
        with self._cond:
            return [
                copy.deepcopy(call.params)
                for call in self.calls
                if call.method == "sendMessage"
                and call.ok
                and (chat_id is None or call.response["result"]["chat"]["id"] == chat_id)
            ]

    def sent_photos(self, chat_id: int | None = None) -> list[tuple[dict[str, Any], bytes]]:
        """Successful sendPhoto calls (optionally to one chat), in order: their params and the
        uploaded image's bytes (a URL or file_id sent instead is given as its bytes)."""
        with self._cond:
            return [
                (copy.deepcopy(call.params), _photo_bytes(call))
                for call in self.calls
                if call.method == "sendPhoto"
                and call.ok
                and (chat_id is None or call.response["result"]["chat"]["id"] == chat_id)
            ]

    def message(self, chat_id: int, message_id: int) -> dict[str, Any] | None:
        """The fake's current copy of a message (after edits), or None."""
        with self._cond:
            stored = self._messages.get((chat_id, message_id))
            return copy.deepcopy(stored) if stored is not None else None

    @property
    def pending_updates(self) -> list[dict[str, Any]]:
        """Updates queued and not yet confirmed by a getUpdates offset."""
        with self._cond:
            return copy.deepcopy(self._updates)

    # -- incoming updates

    def revoke_token(self, new: str) -> None:
        """The token was changed at @BotFather: a parked long poll answers at once, and every
        call with the old token from now on gets 401."""
        with self._cond:
            self.token = new
            self._cond.notify_all()

    def push_update(self, update: dict[str, Any]) -> int:
        """Queue a raw Update dict (its update_id is assigned); return the update_id."""
        with self._cond:
            self._last_update_id += 1
            self._updates.append({**copy.deepcopy(update), "update_id": self._last_update_id})
            self._cond.notify_all()
            return self._last_update_id

    def push_message(
        self,
        chat_id: int,
        text: str,
        *,
        user_id: int | None = None,
        chat_type: str = "private",
        language_code: str = "en",
        first_name: str = "Test",
        chat_title: str | None = None,
    ) -> int:
        """Queue an Update with a text Message (bot_command entity for "/cmd"); return its id."""
        with self._cond:
            chat = self._register_chat(chat_id, chat_type, chat_title, first_name)
            if user_id is None:
                user_id = chat_id if chat_type == "private" else _DEFAULT_GROUP_USER_ID
            message: dict[str, Any] = {
                "message_id": self._next_message_id(chat_id),
                "date": int(time.time()),
                "chat": chat,
                "text": text,
            }
            if chat_type != "channel":
                message["from"] = self._register_user(user_id, first_name, language_code)
            entities = _command_entities(text)
            if entities:
                message["entities"] = entities
            self._messages[(chat_id, message["message_id"])] = message
            kind = "channel_post" if chat_type == "channel" else "message"
            return self.push_update({kind: message})

    def push_callback_query(
        self, chat_id: int, message_id: int, data: str, *, user_id: int | None = None
    ) -> int:
        """Queue an Update with a CallbackQuery pressed on a message; return the update_id."""
        with self._cond:
            if user_id is None:
                user_id = chat_id if chat_id > 0 else _DEFAULT_GROUP_USER_ID
            message = self._messages.get((chat_id, message_id)) or {
                "message_id": message_id,
                "date": int(time.time()),
                "chat": self._chat(chat_id),
                "from": self._bot_user(),
                "text": "",
            }
            query_id = f"cbq-{self._last_update_id + 1}"
            self._callback_ids.add(query_id)
            query = {
                "id": query_id,
                "from": self._user(user_id),
                "chat_instance": f"instance{chat_id}",
                "data": data,
                "message": message,
            }
            return self.push_update({"callback_query": query})

    # -- failure injection and chat configuration

    def fail_next(
        self,
        method: str,
        *,
        status: int,
        description: str,
        parameters: dict[str, Any] | None = None,
        chat_id: int | None = None,
        times: int = 1,
        after: int = 0,
    ) -> None:
        """Answer the next ``times`` calls of ``method`` (optionally for one chat) with an error,
        once ``after`` such calls have gone through."""
        error = _ApiError(status, description, parameters)
        failure = _Failure(self.canonical_method(method), error, chat_id, times, after)
        with self._cond:
            self._failures.append(failure)

    def fail_retry_after(
        self,
        method: str,
        seconds: int,
        *,
        chat_id: int | None = None,
        times: int = 1,
        after: int = 0,
    ) -> None:
        """Answer the next calls with 429 "Too Many Requests: retry after N"."""
        error = _retry_after_error(seconds)
        self.fail_next(
            method,
            status=error.status,
            description=error.description,
            parameters=error.parameters,
            chat_id=chat_id,
            times=times,
            after=after,
        )

    def fail_share(self, method: str, share: float, *, status: int = 500, seed: int = 0) -> None:
        """Answer a random `share` of the calls of `method` with `status` (repeatable by seed)."""
        error = _ApiError(status, f"Internal Server Error (injected, {share:.0%})")
        with self._cond:
            self._random_failures.append(
                (self.canonical_method(method), share, error, random.Random(seed))
            )

    def fail_first_attempts(self, seconds: int) -> None:
        """Answer the first attempt of every distinct message (sendMessage/sendPhoto to a chat,
        by its text) with 429 "retry after `seconds`"; the same message again goes through."""
        with self._cond:
            self._first_attempt_wait = seconds

    def hold_answers(self, *, after: int = 0) -> None:
        """Chat-bound calls are carried out but not answered until `release_answers` (or
        `HOLD_LIMIT`): a send the test holds in flight for as long as it needs, not for a
        latency a busy machine may outlast. The next `after` calls are answered all the same."""
        with self._cond:
            self._answered_while_held = after
        self._answering.clear()

    def release_answers(self) -> None:
        self._answering.set()

    def stall_next(self, method: str, seconds: float, *, times: int = 1) -> None:
        """Hold the next ``times`` calls of ``method`` for ``seconds`` before serving them, so
        that a client with a shorter timeout gives up (the call is still carried out)."""
        with self._cond:
            self._stalls.append([self.canonical_method(method), seconds, times])

    def _stall(self, method: str) -> float:
        with self._cond:
            for stall in self._stalls:
                if stall[0] == method and stall[2] > 0:
                    stall[2] -= 1
                    return float(stall[1])
        return 0.0

    def fail_gateway(
        self, method: str, *, status: int = 502, times: int = 1, page: str | None = None
    ) -> None:
        """Answer the next ``times`` calls of ``method`` as a proxy in front of Telegram does
        when Telegram is down: ``status`` with an HTML ``page`` (nginx's by default), the call
        not carried out."""
        with self._cond:
            self._transport_faults.append(
                [self.canonical_method(method), "gateway", times, status, page]
            )

    def reset_after_next(self, method: str, *, times: int = 1) -> None:
        """Carry out the next ``times`` calls of ``method`` (a message is sent), then reset the
        connection in the middle of the answer, as a network fault does."""
        with self._cond:
            self._transport_faults.append([self.canonical_method(method), "reset", times, 0, None])

    def _transport_fault(self, method: str) -> tuple[str, int, str | None] | None:
        with self._cond:
            for fault in self._transport_faults:
                if fault[0] == method and fault[2] > 0:
                    fault[2] -= 1
                    return str(fault[1]), int(fault[3]), fault[4]
        return None

    def fail_blocked(self, chat_id: int) -> None:
        """Sends and edits to ``chat_id`` answer 403 until ``unblock(chat_id)``."""
        with self._cond:
            self._blocked.add(chat_id)

    def unblock(self, chat_id: int) -> None:
        with self._cond:
            self._blocked.discard(chat_id)

    def close_topic(self, chat_id: int, thread_id: int | None) -> None:
        """Sends to the forum topic ``thread_id`` of ``chat_id`` (None: its General) answer 400
        TOPIC_CLOSED until ``reopen_topic``."""
        with self._cond:
            self._closed_topics.add((chat_id, thread_id))

    def reopen_topic(self, chat_id: int, thread_id: int | None) -> None:
        with self._cond:
            self._closed_topics.discard((chat_id, thread_id))

    def migrate_chat(self, old_chat_id: int, new_chat_id: int) -> None:
        """Sends to ``old_chat_id`` answer 400 with ``migrate_to_chat_id``."""
        with self._cond:
            self._migrated[old_chat_id] = new_chat_id
            self._register_chat(new_chat_id, "supergroup", None, "Test")

    def upgrade_group(
        self, old_chat_id: int, new_chat_id: int, *, user_id: int, bot_joins: str | None = None
    ) -> None:
        """`user_id` turns a group into a supergroup, as Telegram reports it: sends to the group
        answer 400 with ``migrate_to_chat_id`` from now on, and two service messages arrive, one
        in the group (``migrate_to_chat_id``) and one in the supergroup
        (``migrate_from_chat_id``). `bot_joins` "before" or "after" them: the bot's membership
        of the supergroup, which Telegram reports as an addition (left, then member)."""
        with self._cond:
            self.migrate_chat(old_chat_id, new_chat_id)
            sender = self._user(user_id)
            if bot_joins == "before":
                self._bot_joins(new_chat_id, sender)
            for chat_id, key, other in (
                (old_chat_id, "migrate_to_chat_id", new_chat_id),
                (new_chat_id, "migrate_from_chat_id", old_chat_id),
            ):
                message = {
                    "message_id": self._next_message_id(chat_id),
                    "date": int(time.time()),
                    "chat": self._chat(chat_id),
                    "from": sender,
                    key: other,
                }
                self._messages[(chat_id, message["message_id"])] = message
                self.push_update({"message": message})
            if bot_joins == "after":
                self._bot_joins(new_chat_id, sender)

    def _bot_joins(self, chat_id: int, sender: dict[str, Any]) -> None:
        bot = self._bot_user()
        self.push_update(
            {
                "my_chat_member": {
                    "chat": self._chat(chat_id),
                    "from": sender,
                    "date": int(time.time()),
                    "old_chat_member": {"user": bot, "status": "left"},
                    "new_chat_member": {"user": bot, "status": "member"},
                }
            }
        )

    def set_admins(
        self, chat_id: int, user_ids: Iterable[int], *, creator: int | None = None
    ) -> None:
        """Configure getChatMember/getChatAdministrators for a chat."""
        with self._cond:
            self._admins[chat_id] = set(user_ids)
            if creator is None:
                self._owners.pop(chat_id, None)
            else:
                self._owners[chat_id] = creator

    # -- waiting (blocking; the *_async variants run them in a worker thread)

    def wait_for(
        self, predicate: Callable[[], bool], timeout: float = 10.0, what: str = "condition"
    ) -> None:
        """Block until ``predicate()`` holds; re-checked whenever a request or push happens."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"timed out after {timeout}s waiting for {what}")
                self._cond.wait(remaining)

    def wait_for_messages(
        self, chat_id: int, count: int, timeout: float = 10.0
    ) -> list[dict[str, Any]]:
        """Wait for at least ``count`` successful sendMessage calls to ``chat_id``."""
        self.wait_for(
            lambda: len(self.sent_messages(chat_id)) >= count,
            timeout,
            f"{count} message(s) to chat {chat_id}",
        )
        return self.sent_messages(chat_id)

    def wait_for_calls(self, method: str, count: int = 1, timeout: float = 10.0) -> list[Call]:
        """Wait until ``method`` was called at least ``count`` times; return those calls."""
        self.wait_for(
            lambda: len(self.calls_of(method)) >= count, timeout, f"{count} {method} call(s)"
        )
        return self.calls_of(method)

    def wait_until_polling(self, timeout: float = 10.0) -> None:
        """Wait until a getUpdates long poll is parked waiting for updates."""
        self.wait_for(lambda: self._long_polls > 0, timeout, "a getUpdates long poll")

    async def wait_for_async(
        self,
        predicate: Callable[[], bool],
        timeout: float = 10.0,  # noqa: ASYNC109 - the worker thread needs its own deadline
        what: str = "condition",
    ) -> None:
        """``wait_for`` without blocking the event loop (runs in a worker thread)."""
        await asyncio.to_thread(self.wait_for, predicate, timeout, what)

    async def wait_for_messages_async(
        self,
        chat_id: int,
        count: int,
        timeout: float = 10.0,  # noqa: ASYNC109 - see wait_for_async
    ) -> list[dict[str, Any]]:
        """``wait_for_messages`` without blocking the event loop."""
        return await asyncio.to_thread(self.wait_for_messages, chat_id, count, timeout)

    # -- HTTP entry point (called from server threads)

    def _handle_http(
        self, path: str, query: str, content_type: str, read_body: Callable[[], bytes]
    ) -> tuple[int, dict[str, Any]]:
        at = time.monotonic()
        route = _PATH.fullmatch(path)
        method = self.canonical_method(route["method"]) if route else path
        params: dict[str, Any] = {}
        files: dict[str, UploadedFile] = {}
        try:
            params, files = decode_request(content_type, read_body(), query)
            if route is None:
                raise _ApiError(404, "Not Found")
            token = urllib.parse.unquote(route["token"])
            with self._network(method):
                result = self._execute(token, _ApiRequest(method, params, files))
            status, response = 200, {"ok": True, "result": result}
        except _ApiError as error:
            status, response = error.status, error.payload()
        except Exception as error:  # a bug in the fake: answer 500 rather than hang up
            _log.exception("FakeBotAPI failed on %s", method)
            status, response = 500, _ApiError(500, f"Internal Server Error: {error!r}").payload()
        self._record(Call(method, params, at, status, files, response))
        return status, response

    @contextlib.contextmanager
    def _network(self, method: str) -> Iterator[None]:
        """Count a chat-bound call in flight; stall it before, and delay its answer after."""
        if method not in _CHAT_BOUND_METHODS:
            time.sleep(self._stall(method))  # getMe too: a sign-in answered late
            yield
            return
        with self._cond:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            self._cond.notify_all()  # a test may wait for a call to arrive (`hold_answers`)
        try:
            time.sleep(self._stall(method))
            yield
        finally:
            time.sleep(self.latency)
            with self._cond:
                answered = self._answered_while_held > 0
                self._answered_while_held -= answered
            if not answered:
                self._answering.wait(HOLD_LIMIT)
            with self._cond:
                self.in_flight -= 1

    def _record(self, call: Call) -> None:
        with self._cond:
            self.calls.append(call)
            self._cond.notify_all()

    def _execute(self, token: str, request: _ApiRequest) -> Any:
        if token != self.token:
            raise _ApiError(401, "Unauthorized")
        handler = self._handlers.get(request.method)
        if handler is None:
            raise _ApiError(404, "Not Found")
        with self._cond:
            self._check_refusals(request)
            return copy.deepcopy(handler(request))

    def _check_refusals(self, request: _ApiRequest) -> None:
        """Injected failures, blocked users, migrated groups and flood limits, in that order."""
        chat_id = (
            self._resolve_chat_id(request.params["chat_id"]) if request.has("chat_id") else None
        )
        self._raise_injected_failure(request.method, chat_id)
        for method, share, error, rng in self._random_failures:
            if method == request.method and rng.random() < share:
                raise _ApiError(error.status, error.description)
        if chat_id is None:
            return
        if request.method in _CHAT_BOUND_METHODS:
            if chat_id in self._blocked:
                raise _ApiError(403, "Forbidden: bot was blocked by the user")
            if chat_id in self._migrated:
                raise _ApiError(
                    400,
                    "Bad Request: group chat was upgraded to a supergroup chat",
                    {"migrate_to_chat_id": self._migrated[chat_id]},
                )
        if request.method in _SEND_METHODS:
            if (chat_id, request.params.get("message_thread_id")) in self._closed_topics:
                raise _ApiError(400, "Bad Request: TOPIC_CLOSED")
            self._check_reply(request, chat_id)
        if self._first_attempt_wait is not None and request.method in _SEND_METHODS:
            text = str(request.params.get("text") or request.params.get("caption") or "")
            key = (request.method, chat_id, text)
            if key not in self._attempted:
                self._attempted.add(key)
                raise _retry_after_error(self._first_attempt_wait)
        if self.enforce_limits and request.method in _SEND_METHODS:
            wait = self._limiter.acquire(chat_id, self._clock())
            if wait is not None:
                raise _retry_after_error(wait)

    def _check_reply(self, request: _ApiRequest, chat_id: int) -> None:
        """Telegram refuses a reply to a message that is not there (deleted meanwhile) unless
        the reply may be sent without it."""
        reply = request.params.get("reply_parameters")
        if not isinstance(reply, dict) or reply.get("allow_sending_without_reply"):
            return
        if (chat_id, reply.get("message_id")) not in self._messages:
            raise _ApiError(400, "Bad Request: message to be replied not found")

    def delete_users_message(self, chat_id: int, message_id: int) -> None:
        """A message a user sent, deleted (by the user, or by another bot that cleans up)."""
        with self._cond:
            del self._messages[(chat_id, message_id)]

    def _raise_injected_failure(self, method: str, chat_id: int | None) -> None:
        for failure in self._failures:
            if failure.method == method and failure.chat_id in (None, chat_id):
                if failure.after > 0:
                    failure.after -= 1
                    return
                failure.remaining -= 1
                if failure.remaining <= 0:
                    self._failures.remove(failure)
                error = failure.error
                raise _ApiError(error.status, error.description, error.parameters)

    # -- chats, users and messages

    def _bot_user(self) -> dict[str, Any]:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": "Kurilwatch Test",
            "username": self.bot_username,
        }

    def _user(self, user_id: int) -> dict[str, Any]:
        if user_id == self.bot_id:
            return self._bot_user()
        return self._users.get(user_id, {"id": user_id, "is_bot": False, "first_name": "Test"})

    def _register_user(self, user_id: int, first_name: str, language_code: str) -> dict[str, Any]:
        user = {
            "id": user_id,
            "is_bot": False,
            "first_name": first_name,
            "language_code": language_code,
        }
        self._users[user_id] = user
        return user

    def _register_chat(
        self, chat_id: int, chat_type: str, title: str | None, first_name: str
    ) -> dict[str, Any]:
        chat: dict[str, Any] = {"id": chat_id, "type": chat_type}
        if chat_type == "private":
            chat["first_name"] = first_name
        else:
            chat["title"] = title or f"Test {chat_type} {chat_id}"
        self._chats[chat_id] = chat
        return dict(chat)

    def _chat(self, chat_id: int) -> dict[str, Any]:
        chat = self._chats.get(chat_id)
        if chat is not None:
            return dict(chat)
        if chat_id > 0:
            return {"id": chat_id, "type": "private", "first_name": "Test"}
        kind = "supergroup" if str(chat_id).startswith("-100") else "group"
        return {"id": chat_id, "type": kind, "title": f"Test {kind} {chat_id}"}

    def _resolve_chat_id(self, value: Any) -> int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and re.fullmatch(r"-?[0-9]+", value):
            return int(value)
        if isinstance(value, str) and len(value) > 1 and value.startswith("@"):
            return self._channel_by_username(value[1:])
        raise _ApiError(400, "Bad Request: chat not found")

    def _channel_by_username(self, username: str) -> int:
        if username not in self._usernames:
            chat_id = -1001000000000 - len(self._usernames)
            self._usernames[username] = chat_id
            self._chats[chat_id] = {
                "id": chat_id,
                "type": "channel",
                "title": username,
                "username": username,
            }
        return self._usernames[username]

    def _next_message_id(self, chat_id: int) -> int:
        self._last_message_id[chat_id] = self._last_message_id.get(chat_id, 0) + 1
        return self._last_message_id[chat_id]

    def _store_bot_message(self, chat_id: int, content: dict[str, Any]) -> dict[str, Any]:
        message: dict[str, Any] = {
            "message_id": self._next_message_id(chat_id),
            "date": int(time.time()),
            "chat": self._chat(chat_id),
            "from": self._bot_user(),
            **content,
        }
        self._messages[(chat_id, message["message_id"])] = message
        return message

    def _editable_message(self, request: _ApiRequest, missing: str) -> dict[str, Any]:
        chat_id = self._resolve_chat_id(request.params.get("chat_id"))
        message = self._messages.get((chat_id, request.integer("message_id")))
        if message is None:
            raise _ApiError(400, f"Bad Request: {missing}")
        if message.get("from", {}).get("id") != self.bot_id:
            raise _ApiError(400, "Bad Request: message can't be edited")
        return message

    def _formatted(
        self,
        request: _ApiRequest,
        text_key: str,
        entities_key: str,
        *,
        limit: int,
        required: bool,
        too_long: str,
    ) -> FormattedText:
        """Validate text or caption plus parse_mode like Telegram; return the visible text."""
        raw = request.params.get(text_key)
        if raw is None or raw == "":
            if required:
                raise _ApiError(400, "Bad Request: message text is empty")
            return FormattedText("", [])
        formatted = self._apply_parse_mode(str(raw), request, entities_key)
        if required and not formatted.text.strip():
            raise _ApiError(400, "Bad Request: message text is empty")
        if utf16_len(formatted.text) > limit:
            raise _ApiError(400, too_long)
        return formatted

    def _apply_parse_mode(self, raw: str, request: _ApiRequest, entities_key: str) -> FormattedText:
        try:
            raw.encode("utf-8")
        except UnicodeEncodeError:
            raise _ApiError(400, "Bad Request: strings must be encoded in UTF-8") from None
        mode = str(request.params.get("parse_mode") or "").lower()
        if mode == "html":
            try:
                return parse_html(raw, strict_entities=self.strict_html_entities)
            except HTMLParseError as error:
                raise _ApiError(400, f"Bad Request: can't parse entities: {error}") from None
        if mode in ("", "markdown", "markdownv2"):
            entities = request.params.get(entities_key) if not mode else None
            return FormattedText(raw, list(entities) if isinstance(entities, list) else [])
        raise _ApiError(400, "Bad Request: unsupported parse_mode")

    def _member(self, chat_id: int, user_id: int) -> dict[str, Any]:
        user = self._user(user_id)
        if self._owners.get(chat_id) == user_id:
            return {"status": "creator", "user": user, "is_anonymous": False}
        if user_id in self._admins.get(chat_id, set()):
            return {"status": "administrator", "user": user, **_ADMIN_RIGHTS}
        return {"status": "member", "user": user}

    # -- Bot API methods

    def _build_handlers(self) -> dict[str, _Handler]:
        handlers: dict[str, _Handler] = {name: _always_true for name in _TRUE_METHODS}
        handlers.update(
            {
                "getMe": self._api_get_me,
                "getUpdates": self._api_get_updates,
                "deleteWebhook": self._api_delete_webhook,
                "getWebhookInfo": self._api_get_webhook_info,
                "setMyCommands": self._api_set_my_commands,
                "getMyCommands": self._api_get_my_commands,
                "deleteMyCommands": self._api_delete_my_commands,
                "answerCallbackQuery": self._api_answer_callback_query,
                "getChat": self._api_get_chat,
                "getChatMember": self._api_get_chat_member,
                "getChatAdministrators": self._api_get_chat_administrators,
                "sendMessage": self._api_send_message,
                "editMessageText": self._api_edit_message_text,
                "editMessageReplyMarkup": self._api_edit_message_reply_markup,
                "deleteMessage": self._api_delete_message,
                "sendPhoto": self._api_send_photo,
                "sendDocument": self._api_send_document,
            }
        )
        return handlers

    def _api_get_me(self, request: _ApiRequest) -> dict[str, Any]:
        return {
            **self._bot_user(),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    def _api_get_updates(self, request: _ApiRequest) -> list[dict[str, Any]]:
        self._confirm_updates(request.optional_integer("offset"))
        limit = min(max(request.optional_integer("limit") or 100, 1), 100)
        timeout = min(max(request.number("timeout", 0.0), 0.0), MAX_LONG_POLL_SECONDS)
        if not self._updates and timeout > 0:
            self._long_poll(time.monotonic() + timeout)
        return self._updates[:limit]

    def _confirm_updates(self, offset: int | None) -> None:
        if offset is None:
            return
        if offset < 0:
            self._updates = self._updates[offset:]
        else:
            self._updates = [update for update in self._updates if update["update_id"] >= offset]

    def _long_poll(self, deadline: float) -> None:
        self._long_polls += 1
        self._cond.notify_all()
        token = self.token
        try:
            while not self._updates and not self._stopping and self.token == token:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    self.long_polls_timed_out += 1
                    break
                self._cond.wait(remaining)
        finally:
            self._long_polls -= 1

    def _api_delete_webhook(self, request: _ApiRequest) -> bool:
        if request.params.get("drop_pending_updates") is True:
            self._updates.clear()
        return True

    def _api_get_webhook_info(self, request: _ApiRequest) -> dict[str, Any]:
        return {
            "url": "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }

    @staticmethod
    def _commands_key(request: _ApiRequest) -> tuple[str, str]:
        scope = request.params.get("scope") or {"type": "default"}
        return json.dumps(scope, sort_keys=True), str(request.params.get("language_code") or "")

    def _api_set_my_commands(self, request: _ApiRequest) -> bool:
        commands = request.params.get("commands")
        if not isinstance(commands, list):
            raise _ApiError(400, "Bad Request: commands is empty")
        for command in commands:
            name = command.get("command") if isinstance(command, dict) else None
            if not isinstance(name, str) or not re.fullmatch(r"[a-z0-9_]{1,32}", name):
                raise _ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
        self._commands[self._commands_key(request)] = commands
        return True

    def _api_get_my_commands(self, request: _ApiRequest) -> list[dict[str, Any]]:
        return self._commands.get(self._commands_key(request), [])

    def _api_delete_my_commands(self, request: _ApiRequest) -> bool:
        self._commands.pop(self._commands_key(request), None)
        return True

    def _api_answer_callback_query(self, request: _ApiRequest) -> bool:
        if request.params.get("callback_query_id") not in self._callback_ids:
            raise _ApiError(
                400,
                "Bad Request: query is too old and response timeout expired or query ID is invalid",
            )
        text = str(request.params.get("text") or "")
        if len(text.encode("utf-16-le")) // 2 > MAX_ANSWER:  # "0-200 characters"
            raise _ApiError(400, "Bad Request: MESSAGE_TOO_LONG")
        return True

    def _api_get_chat(self, request: _ApiRequest) -> dict[str, Any]:
        chat_id = self._resolve_chat_id(request.params.get("chat_id"))
        gifts = ("unlimited_gifts", "limited_gifts", "unique_gifts", "premium_subscription")
        return {
            **self._chat(chat_id),
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {name: True for name in (*gifts, "gifts_from_channels")},
        }

    def _api_get_chat_member(self, request: _ApiRequest) -> dict[str, Any]:
        chat_id = self._resolve_chat_id(request.params.get("chat_id"))
        return self._member(chat_id, request.integer("user_id"))

    def _api_get_chat_administrators(self, request: _ApiRequest) -> list[dict[str, Any]]:
        chat_id = self._resolve_chat_id(request.params.get("chat_id"))
        owner = self._owners.get(chat_id)
        user_ids = ([owner] if owner is not None else []) + sorted(self._admins.get(chat_id, ()))
        return [self._member(chat_id, user_id) for user_id in user_ids]

    def _api_send_message(self, request: _ApiRequest) -> dict[str, Any]:
        chat_id = self._resolve_chat_id(request.params.get("chat_id"))
        formatted = self._formatted(
            request,
            "text",
            "entities",
            limit=MAX_MESSAGE_LENGTH,
            required=True,
            too_long="Bad Request: message is too long",
        )
        content: dict[str, Any] = {"text": formatted.text}
        if formatted.entities:
            content["entities"] = formatted.entities
        content.update(_inline_markup(request.params.get("reply_markup")))
        return self._store_bot_message(chat_id, content)

    def _api_edit_message_text(self, request: _ApiRequest) -> dict[str, Any]:
        formatted = self._formatted(
            request,
            "text",
            "entities",
            limit=MAX_MESSAGE_LENGTH,
            required=True,
            too_long="Bad Request: message is too long",
        )
        message = self._editable_message(request, "message to edit not found")
        if "text" not in message:
            raise _ApiError(400, "Bad Request: there is no text in the message to edit")
        markup = _inline_markup(request.params.get("reply_markup"))
        unchanged = (
            message["text"] == formatted.text
            and message.get("entities", []) == formatted.entities
            and message.get("reply_markup") == markup.get("reply_markup")
        )
        if unchanged:
            raise _ApiError(400, _NOT_MODIFIED)
        message.pop("entities", None)
        message.pop("reply_markup", None)
        message.update({"text": formatted.text, "edit_date": int(time.time()), **markup})
        if formatted.entities:
            message["entities"] = formatted.entities
        return message

    def _api_edit_message_reply_markup(self, request: _ApiRequest) -> dict[str, Any]:
        message = self._editable_message(request, "message to edit not found")
        markup = _inline_markup(request.params.get("reply_markup"))
        if message.get("reply_markup") == markup.get("reply_markup"):
            raise _ApiError(400, _NOT_MODIFIED)
        message.pop("reply_markup", None)
        message.update({"edit_date": int(time.time()), **markup})
        return message

    def _api_delete_message(self, request: _ApiRequest) -> bool:
        chat_id = self._resolve_chat_id(request.params.get("chat_id"))
        if self._messages.pop((chat_id, request.integer("message_id")), None) is None:
            raise _ApiError(400, "Bad Request: message to delete not found")
        return True

    def _api_send_photo(self, request: _ApiRequest) -> dict[str, Any]:
        chat_id = self._resolve_chat_id(request.params.get("chat_id"))
        source = _photo_source(request)
        caption = self._formatted(
            request,
            "caption",
            "caption_entities",
            limit=MAX_CAPTION_LENGTH,
            required=False,
            too_long="Bad Request: message caption is too long",
        )
        content: dict[str, Any] = {"photo": _photo_sizes(source)}
        if caption.text:
            content["caption"] = caption.text
        if caption.entities:
            content["caption_entities"] = caption.entities
        content.update(_inline_markup(request.params.get("reply_markup")))
        return self._store_bot_message(chat_id, content)

    def _api_send_document(self, request: _ApiRequest) -> dict[str, Any]:
        """A document upload (multipart, or `attach://`); the call keeps the file's bytes."""
        chat_id = self._resolve_chat_id(request.params.get("chat_id"))
        value = request.params.get("document")
        if isinstance(value, str) and value.startswith("attach://"):
            upload = request.files.get(value.removeprefix("attach://"))
        else:
            upload = request.files.get("document")
        if upload is None or not upload.data:
            raise _ApiError(400, "Bad Request: there is no document in the request")
        caption = self._formatted(
            request,
            "caption",
            "caption_entities",
            limit=MAX_CAPTION_LENGTH,
            required=False,
            too_long="Bad Request: message caption is too long",
        )
        unique = hashlib.sha1(upload.data).hexdigest()[:16]
        content: dict[str, Any] = {
            "document": {
                "file_id": f"BQACFake{unique}",
                "file_unique_id": unique,
                "file_name": upload.filename,
                "mime_type": upload.content_type,
                "file_size": len(upload.data),
            }
        }
        if caption.text:
            content["caption"] = caption.text
        return self._store_bot_message(chat_id, content)

    def uploads(self, method: str = "sendDocument") -> list[UploadedFile]:
        """The files of successful `method` calls, in order."""
        with self._cond:
            return [f for c in self.calls if c.method == method and c.ok for f in c.files.values()]


def _always_true(request: _ApiRequest) -> bool:
    return True


_COMMAND = re.compile(r"/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,64})?")


def _command_entities(text: str) -> list[dict[str, Any]]:
    """The bot_command entity Telegram adds when a message starts with "/command"."""
    match = _COMMAND.match(text)
    if match is None:
        return []
    return [{"type": "bot_command", "offset": 0, "length": utf16_len(match.group())}]


MAX_INLINE_BUTTONS = 100  # Telegram's limits on an inline keyboard, as its answers show them
MAX_MARKUP_BYTES = 10_240
MAX_ANSWER = 200  # a callback query's answer, counted in UTF-16 units here to be safe
MAX_CALLBACK_DATA = 64


def _inline_markup(markup: Any) -> dict[str, Any]:
    """Messages carry reply_markup only for inline keyboards, within Telegram's limits."""
    if not (isinstance(markup, dict) and "inline_keyboard" in markup):
        return {}
    buttons = [b for row in markup["inline_keyboard"] for b in row if isinstance(b, dict)]
    if (
        len(buttons) > MAX_INLINE_BUTTONS
        or len(json.dumps(markup, ensure_ascii=False).encode()) > MAX_MARKUP_BYTES
    ):
        raise _ApiError(400, "Bad Request: reply markup is too long")
    if any(len(str(b.get("callback_data", "")).encode()) > MAX_CALLBACK_DATA for b in buttons):
        raise _ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
    return {"reply_markup": markup}


def _photo_source(request: _ApiRequest) -> bytes:
    """Bytes identifying the photo: the upload's content, or the URL / file_id string."""
    value = request.params.get("photo")
    if isinstance(value, str) and value.startswith("attach://"):
        upload = request.files.get(value.removeprefix("attach://"))
    elif isinstance(value, str) and value:
        return value.encode()
    else:
        upload = request.files.get("photo")
    if upload is None or not upload.data:
        raise _ApiError(400, "Bad Request: there is no photo in the request")
    return upload.data


def _photo_bytes(call: Call) -> bytes:
    value = call.params.get("photo")
    if isinstance(value, str) and value.startswith("attach://"):
        return call.files[value.removeprefix("attach://")].data
    if isinstance(value, str) and value:
        return value.encode()
    return call.files["photo"].data


def _photo_sizes(source: bytes) -> list[dict[str, Any]]:
    unique = hashlib.sha1(source).hexdigest()[:16]
    sizes = (("s", 90, 68), ("m", 320, 240), ("x", 800, 600))
    return [
        {
            "file_id": f"AgACFake{unique}{suffix}",
            "file_unique_id": f"{unique}{suffix}",
            "width": width,
            "height": height,
            "file_size": max(1, len(source) * width // 800),
        }
        for suffix, width, height in sizes
    ]


# --------------------------------------------------------------------------------------------
# HTTP plumbing


class _Server(ThreadingHTTPServer):
    """ThreadingHTTPServer that knows its FakeBotAPI."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], fake: FakeBotAPI) -> None:
        self.fake = fake
        super().__init__(address, _RequestHandler)


class _RequestHandler(BaseHTTPRequestHandler):
    """Reads one request, lets the FakeBotAPI answer it, writes JSON and closes."""

    protocol_version = "HTTP/1.1"
    timeout = 60

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def log_message(self, format: str, *args: Any) -> None:
        _log.debug("%s - %s", self.address_string(), format % args)

    def _serve(self) -> None:
        fake = cast(_Server, self.server).fake
        url = urllib.parse.urlsplit(self.path)
        content_type = self.headers.get("Content-Type", "")
        route = _PATH.fullmatch(url.path)
        fault = fake._transport_fault(fake.canonical_method(route["method"])) if route else None
        if fault is not None and fault[0] == "gateway":
            params, files = decode_request(content_type, self._read_body(), url.query)
            fake._record(
                Call(
                    fake.canonical_method(route["method"]),
                    params,
                    time.monotonic(),
                    fault[1],
                    files,
                )
            )
            self._respond_html(fault[1], fault[2])
            return
        status, payload = fake._handle_http(url.path, url.query, content_type, self._read_body)
        if fault is not None:  # "reset": carried out, and the answer is cut off
            self._reset(status)
            return
        self._respond(status, payload)

    def _respond_html(self, status: int, page: str | None) -> None:
        reason = {500: "Internal Server Error", 502: "Bad Gateway", 504: "Gateway Time-out"}
        title = f"{status} {reason.get(status, 'Error')}"
        body = (
            page
            or f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n"
            f"<center><h1>{title}</h1></center>\r\n<hr><center>nginx</center>\r\n"
            "</body>\r\n</html>\r\n"
        ).encode()
        self.close_connection = True
        self.send_response(status)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def _reset(self, status: int) -> None:
        self.close_connection = True
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "1000")
        self.end_headers()
        self.wfile.write(b'{"ok":true,"res')
        self.wfile.flush()
        # an RST, not a FIN: the client sees "connection reset by peer"
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding"):
            raise _ApiError(411, "Length Required")
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            raise _ApiError(400, "Bad Request: invalid Content-Length") from None
        if length > MAX_BODY_BYTES:
            self._discard(length)
            raise _ApiError(413, "Request Entity Too Large")
        return self.rfile.read(length)

    def _discard(self, length: int) -> None:
        """Drain an oversized body (up to 64 MB) so the client gets to read the 413."""
        remaining = min(length, 64 * MAX_BODY_BYTES)
        while remaining > 0:
            chunk = self.rfile.read(min(remaining, 65536))
            if not chunk:
                break
            remaining -= len(chunk)

    def _respond(self, status: int, payload: dict[str, Any]) -> None:
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        self.close_connection = True
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            _log.debug("client went away before the answer to %s", self.path)
