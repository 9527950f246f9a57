"""A feed's bytes in the charset they are really in, before either parse path reads them.

Outlets' feeds declare utf-8 (in Content-Type or the XML declaration) and send cp1251, KOI8-R,
Shift_JIS or EUC-JP, which feedparser then reads as cp1252: every letter garbled. A document
that decodes under a charset it declares is left exactly as it came; one that does not is
transcoded to UTF-8 (its declarations changed to say so), from charset-normalizer's guess, or,
when it is UTF-8 with a few broken bytes, as UTF-8 with those replaced. Both parse paths then
read the same UTF-8 document, so they still agree. A byte order mark says the encoding
itself, over any charset declared (RFC 7303 3.3): a host's default charset for every file
(windows-1251) must not garble a UTF-8 feed that starts with one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

# longest first: UTF-32's little-endian mark begins as UTF-16's does
_BOMS = (
    (b"\xef\xbb\xbf", "utf-8"),
    (b"\xff\xfe\x00\x00", "utf-32le"),
    (b"\x00\x00\xfe\xff", "utf-32be"),
    (b"\xff\xfe", "utf-16le"),
    (b"\xfe\xff", "utf-16be"),
)
_DECLARATION = re.compile(rb"\A\s*<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9._:-]+)[\"']")
_DECLARED_TEXT = re.compile(r"\A(\s*<\?xml[^>]*?encoding\s*=\s*[\"'])([A-Za-z0-9._:-]+)([\"'])")
_CHARSET = re.compile(r"(charset\s*=\s*[\"']?)([\w.:-]+)", re.IGNORECASE)
_NON_ASCII = re.compile(r"[^\x00-\x7f]")
# UTF-8 with at least this many good non-ASCII characters for each broken sequence is UTF-8
# with a stray byte (a cut character); a document in another charset read as UTF-8 has about
# as many errors as letters
_GOOD_PER_ERROR = 10


def read_charset(
    content: bytes, headers: Mapping[str, str]
) -> tuple[bytes, dict[str, str], str | None]:
    """The document and its (lower-case) headers to parse, and a note when they were changed:
    as they came if a charset they declare decodes the document, else transcoded to UTF-8; a
    byte order mark's charset over the one Content-Type names."""
    for bom, encoding in _BOMS:
        if content.startswith(bom):
            return content, *_marked(encoding, headers)
    declared = _declared(content, headers)
    for name in declared:
        try:
            content.decode(name)
        except UnicodeDecodeError:
            continue
        return content, dict(headers), None
    text, read_as = _mostly_utf8(content) if "utf-8" in declared else (None, "")
    if text is None:
        text, read_as = _guess(content)
    if text is None:
        return content, dict(headers), None  # nothing reads it: feedparser's own fallbacks
    text = _DECLARED_TEXT.sub(r"\g<1>utf-8\g<3>", text, count=1)
    changed = dict(headers)
    if "content-type" in changed:
        changed["content-type"] = _CHARSET.sub(r"\g<1>utf-8", changed["content-type"], count=1)
    note = f"declared {declared[0]} but cannot be decoded as such: read as {read_as}"
    return text.encode("utf-8"), changed, note


def _marked(encoding: str, headers: Mapping[str, str]) -> tuple[dict[str, str], str | None]:
    """The headers with the charset of the document's byte order mark (feedparser takes the
    header's over the mark, and text/xml's us-ascii without one), and a note when the header
    named another."""
    changed = dict(headers)
    kind = changed.get("content-type")
    if not kind:
        return changed, None  # feedparser reads the mark
    named = _CHARSET.search(kind)
    if named is None:
        changed["content-type"] = f"{kind.strip().rstrip(';')}; charset={encoding}"
        return changed, None
    changed["content-type"] = _CHARSET.sub(rf"\g<1>{encoding}", kind, count=1)
    family = encoding[:6].replace("-", "")  # utf8, utf16 or utf32
    if re.sub(r"[-_]", "", named.group(2).lower()).startswith(family):
        return changed, None
    return changed, f"declared {named.group(2)} but its byte order mark says {encoding}"


def _declared(content: bytes, headers: Mapping[str, str]) -> list[str]:
    """The charsets the document declares that Python knows, in feedparser's order (the HTTP
    header first, then the XML declaration); UTF-8, XML's default, when none."""
    names = []
    charset = _CHARSET.search(headers.get("content-type") or "")
    if charset:
        names.append(charset.group(2))
    prolog = _DECLARATION.match(content)
    if prolog:
        names.append(prolog.group(1).decode("ascii"))
    known: list[str] = []
    for name in names:
        try:
            "".encode(name)
        except LookupError:
            continue
        normal = "utf-8" if name.lower().replace("_", "-") in ("utf-8", "utf8") else name.lower()
        if normal not in known:
            known.append(normal)
    return known or ["utf-8"]


def _mostly_utf8(content: bytes) -> tuple[str | None, str]:
    text = content.decode("utf-8", "replace")
    errors = text.count("\ufffd")
    good = len(_NON_ASCII.findall(text)) - errors
    if good >= _GOOD_PER_ERROR * errors:
        return text, f"utf-8, {errors} broken byte sequence(s) replaced"
    return None, ""


def _guess(content: bytes) -> tuple[str | None, str]:
    from charset_normalizer import from_bytes  # only for the rare feed that needs it

    best = from_bytes(content).best()
    if best is None:
        return None, ""
    return str(best), best.encoding
