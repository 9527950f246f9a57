"""A response body inflated as it arrives (gzip, deflate, brotli, or a document sent as it is
under a Content-Encoding that misnames it), never past a cap on the bytes received or inflated.
"""

from __future__ import annotations

import re
import zlib
from typing import Any

import brotli

# gzip members one after another (RFC 1952) are read in turn, up to this many: each costs a
# decompressor, and one that inflates to nothing is 20 bytes (BGZF's blocks of 64 KiB are
# 160 members in the default 10 MB)
MAX_MEMBERS = 4096
# compressed bytes given to zlib at a time: where a member ends, zlib copies the rest of its
# input (to `unused_data`), so a chunk of many members cost a copy of the chunk for each
_PIECE = 16384
_GZIP = b"\x1f\x8b"

# The start of a document as sent, which no gzip, zlib or brotli stream begins with in practice:
# a declaration, a comment, a document type, an element (<rss, <channel>, <atom:feed; its name
# may be cut where the start is) or a JSON object
_PLAIN_START = re.compile(
    rb"(?:\xef\xbb\xbf)?\s*(?:<\?xml|<!--|<!doctype|<[a-z_][\w.-]*(?::[\w.-]*)?(?:[\s>/]|\Z)"
    rb"|\{\s*\")",
    re.IGNORECASE,
)
_BOM = b"\xef\xbb\xbf"
_SNIFF = 9  # bytes of a document's first mark ("<!doctype") after its BOM and white space
_SNIFF_MAX = 4096  # of white space, at most, before a body is told (a stream never starts so)


class TooLarge(Exception):
    pass


class CutShort(Exception):
    """A compressed body whose stream did not end (`encoding`: gzip, deflate or br)."""

    def __init__(self, encoding: str) -> None:
        super().__init__(f"{encoding} body cut short: the compressed stream did not end")
        self.encoding = encoding


def _undecided(start: bytes) -> bool:
    """The body's first bytes, as far as they came, may still be a document's start or a
    compressed stream's: a BOM or white space so far, or a first mark cut short."""
    if len(start) >= _SNIFF_MAX:
        return False
    if _BOM.startswith(start):
        return True
    rest = start.removeprefix(_BOM).lstrip()
    return not rest or (rest[:1] in (b"<", b"{") and len(rest) < _SNIFF)


class Inflater:
    """Inflates gzip, deflate or brotli chunk by chunk, never past `limit` bytes in all, and
    takes at most `limit` bytes (a body that inflates to less than it is long is no feed).

    Bytes after the end of a gzip or deflate stream that do not start another gzip member end
    the body: `done` is set, and the rest need not be read. Chromium ignores them likewise (its
    GzipSourceStream ignores every byte after the first member, "as other browsers do"); curl
    fails the transfer. Brotli's decoder refuses them itself, as an error."""

    def __init__(self, encoding: str, limit: int) -> None:
        self.limit = limit
        self.size = 0
        self.received = 0
        self.members = 1
        self.done = False
        self.encoding = encoding.strip().lower()
        self._zlib: Any = None
        self._brotli: Any = None
        self._unknown: str | None = None
        # deflate's bytes so far, while none inflated: raw deflate is told by an error (which
        # a first chunk of one byte, the zlib header's half, does not raise yet)
        self._fed: bytes | None = b"" if self.encoding == "deflate" else None
        # the body's start, held until it tells a document sent as it is from a stream
        self._held: bytes | None = None if self.encoding in ("", "identity") else b""
        self._after = b""  # after a member's end, the next one's first byte (its magic cut)
        if self.encoding in ("gzip", "x-gzip", "deflate"):
            self._zlib = zlib.decompressobj(47)  # 47: a zlib or gzip header, detected
        elif self.encoding == "br":
            self._brotli = brotli.Decompressor()
        elif self.encoding not in ("", "identity"):
            self._unknown = encoding

    def feed(self, chunk: bytes) -> bytes:
        if self.done:
            return b""
        self.received += len(chunk)
        if self.received > self.limit:
            raise TooLarge
        if self._held is not None:  # a first chunk may be a byte: the network cuts anywhere
            chunk = self._held + chunk
            if _undecided(chunk):
                self._held = chunk
                return b""
            self._told(chunk)
        return self._inflated(chunk)

    def _told(self, start: bytes) -> None:
        """Choose by the body's `start` how to read it (once)."""
        self._held = None
        # a Content-Encoding that misnames the body ("gzip" on plain XML, "UTF-8"): a
        # document as sent is read as sent, as browsers and feedparser do
        if _PLAIN_START.match(start) or not start.removeprefix(_BOM).strip(b"<{ \t\r\n"):
            self._zlib = self._brotli = self._unknown = None
        elif self._unknown is not None:
            raise ValueError(f"unsupported Content-Encoding {self._unknown!r}")

    def _inflated(self, chunk: bytes) -> bytes:
        room = self.limit - self.size + 1
        out: bytes
        if self._brotli is not None:
            out = self._brotli.process(chunk, output_buffer_limit=room)
        elif self._zlib is not None:
            out = self._zlib_inflated(chunk, room)
        else:
            out = chunk
        self.size += len(out)
        if self.size > self.limit:
            raise TooLarge
        return out

    def _zlib_inflated(self, chunk: bytes, room: int) -> bytes:
        if self._after:
            chunk, self._after = self._after + chunk, b""
        out = bytearray()
        view = memoryview(chunk)
        at = 0
        while at < len(view):
            if self._zlib.eof:  # what follows a stream's end: another gzip member, or the end
                start = bytes(view[at : at + 2])
                if start == _GZIP[:1] and at + 1 == len(view):
                    self._after = start  # the next chunk tells
                    break
                if start != _GZIP:
                    self.done = True
                    break
                self.members += 1
                if self.members > MAX_MEMBERS:
                    raise ValueError(f"more than {MAX_MEMBERS} gzip members")
                self._zlib = zlib.decompressobj(47)
            if len(out) >= room:  # (a max_length of 0 would mean no limit)
                raise TooLarge
            piece = view[at : at + _PIECE]
            at += len(piece) - self._decompressed(piece, room - len(out), out)
        return bytes(out)

    def _decompressed(self, piece: memoryview, room: int, out: bytearray) -> int:
        """Inflate `piece` into `out`; the number of its bytes after the stream's end."""
        try:
            out += self._zlib.decompress(piece, room)
        except zlib.error:
            if self._fed is None:
                raise
            self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)  # raw deflate, as some send
            fed, self._fed = self._fed, None
            out += self._zlib.decompress(fed + piece, room)
        if self._fed is not None:
            self._fed = None if out or len(self._fed) > 65536 else self._fed + piece
        if self._zlib.unconsumed_tail:
            raise TooLarge
        return min(len(self._zlib.unused_data), len(piece))  # (a raw stream may end in `fed`)

    def finish(self) -> bytes:
        """The rest of the body (a start too short to tell, read as sent); raise CutShort if
        the compressed stream has not reached its end: the body was cut (with a
        Content-Length that matches the cut, so the HTTP layer did not notice)."""
        if not self.received:
            return b""  # no body at all: told as an empty response
        out = b""
        if self._held is not None:
            held = self._held
            self._told(held)
            out = self._inflated(held)
        if self._zlib is not None and not self._zlib.eof:
            raise CutShort(self.encoding)
        if self._brotli is not None and not self._brotli.is_finished():
            raise CutShort("br")
        return out
