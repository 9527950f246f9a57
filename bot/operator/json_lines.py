"""The `match` command's JSON lines, and the reading and writing of JSON lines it shares with
`stories`: one line out per line in, a bad line named."""

from __future__ import annotations

import io
import json
import math
import re
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, TextIO

from bot.cli import EXIT_USAGE

if TYPE_CHECKING:
    from bot.config import Config
    from watchers.topics.compile import Topics


def _fail(message: str) -> int:
    print(f"kurilwatch match: {message}", file=sys.stderr)
    return EXIT_USAGE


def match_lines(settings: Config, source: TextIO, out: TextIO, *, explain: bool = False) -> int:
    """The `match` contract: one JSON line out per JSON line in, in order."""
    from watchers.topics.compile import compile_topics

    topics = compile_topics(settings.topics)
    try:
        for number, obj in json_objects(source, "at least id and title"):
            problem = _check_fields(obj)
            if problem:
                return _fail(f"line {number}: {problem}")
            out.write(json_line(_matched(topics, obj, explain=explain)) + "\n")
            out.flush()
    except BadLine as exc:
        return _fail(str(exc))
    return 0


def _matched(topics: Topics, obj: dict[str, Any], *, explain: bool) -> dict[str, Any]:
    """The answer to one line of `match`."""
    from watchers.language import item_language
    from watchers.topics.engine import Document

    fields = {
        name: cut_text(obj[name], cap) for name, cap in MATCHED_CHARS.items() if obj.get(name)
    }
    # `lang:` and `source:` test the line's `lang` (else its text's script) and `source`
    meta = {
        "lang": item_language(fields.get("title", ""), fields.get("summary", ""), obj.get("lang")),
        "source": obj.get("source"),
    }
    matches = topics.matcher.match(Document(fields, meta), explain=explain)
    result: dict[str, Any] = {"id": obj["id"], "topics": [m.topic_id for m in matches]}
    if explain:
        result["explain"] = {
            m.topic_id: [{"term": h.term, "field": h.field, "offset": h.offset} for h in m.hits]
            for m in matches
        }
    return result


MAX_LINE = 32 * 1024 * 1024  # characters: a line is read whole, newline or not


# the bytes that were not UTF-8, as reading with errors="surrogateescape" leaves them
UNDECODED = re.compile("[\udc80-\udcff]")


def utf8_streams(source: TextIO, out: TextIO) -> None:
    """JSON lines in and out as UTF-8 whatever the locale says (an ASCII or Latin-1 locale
    failed on the first Russian id), a byte in that is not UTF-8 kept for `json_objects` to
    name its line: strict decoding raised at the first read of a block of lines, a traceback
    before the lines above it were answered."""
    if isinstance(source, io.TextIOWrapper):
        source.reconfigure(encoding="utf-8", errors="surrogateescape")
    if isinstance(out, io.TextIOWrapper):
        out.reconfigure(encoding="utf-8")


class BadLine(ValueError):
    """An input line that is not what the command reads, named by its number."""


def json_objects(source: TextIO, expected: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """The JSON objects of the input's lines, with their numbers (blank lines skipped); a
    `BadLine` at the first line that is too long, not JSON, or not an object (of `expected`)."""
    number = 0
    while line := source.readline(MAX_LINE + 1):
        number += 1
        if len(line) > MAX_LINE:
            raise BadLine(f"line {number}: longer than {MAX_LINE:,} characters")
        if number == 1 and line.startswith("\ufeff"):  # a byte order mark: Windows' Notepad
            line = line[1:]
        if not line.strip():
            continue
        if not line.isascii() and (byte := UNDECODED.search(line)):
            raise BadLine(
                f"line {number}: not UTF-8 (byte 0x{ord(byte.group()) - 0xDC00:02x}"
                f" at column {byte.start() + 1})"
            )
        try:
            obj = json_value(line)
        except ValueError as exc:
            raise BadLine(f"line {number}: {exc}") from None
        if not isinstance(obj, dict):
            raise BadLine(f"line {number}: expected a JSON object with {expected}")
        yield number, obj


# each field is matched up to the length the daemon keeps of an item: NFKC can make a text 18x
# longer, so a 9 MB field would otherwise take over a gigabyte to normalise
MATCHED_CHARS = {"title": 1000, "summary": 20_000, "content": 20_000}


def cut_text(value: str, cap: int) -> str:
    """A field's text as the daemon keeps an item's: markup takes room, so the text is cut
    after it is read out of the markup."""
    from watchers.text import html_to_text

    if "<" in value or "&" in value:
        value = html_to_text(value[: cap * 4])  # markup takes room; the text is cut after
    return value[:cap]


def json_value(line: str) -> Any:
    """The JSON value of an input line of `match` or `stories`; a ValueError that says what is
    wrong (not JSON, nested too deeply, NaN, 1e999, an integer of thousands of digits)."""
    try:
        return json.loads(line, parse_constant=_no_constant, parse_float=_finite)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON ({exc.msg} at column {exc.colno})") from None
    except RecursionError:
        raise ValueError("not valid JSON here (nested too deeply)") from None
    except ValueError as exc:
        raise ValueError(f"not valid JSON here ({exc})") from None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text[:40]} is too large a number")
    return value


def json_line(result: dict[str, Any]) -> str:
    """One JSON line; an id with a lone surrogate (valid in JSON, not in UTF-8) is written with
    \\u escapes, so the caller gets back the id it sent, as valid JSON."""
    line = json.dumps(result, ensure_ascii=False)
    try:
        line.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(result)
    return line


def _check_fields(obj: dict[str, Any]) -> str | None:
    if "id" not in obj:
        return "missing key 'id'"
    if not isinstance(obj.get("title"), str):
        return "missing key 'title'" if "title" not in obj else "'title' must be a string"
    for name in ("summary", "content", "link", "lang", "source"):
        if obj.get(name) is not None and not isinstance(obj[name], str):
            return f"'{name}' must be a string"
    return None
