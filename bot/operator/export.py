"""Matched stories exported as CSV or JSON lines: `kurilwatch export` and the admins' /export."""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, TextIO

from bot.config import Config
from bot.interrupt import open_store
from store import Story
from store.base import no_store
from watchers.config import parse_duration

COLUMNS = (
    "story_id",
    "topics",
    "title",
    "link",
    "outlets",
    "published_at",
    "first_seen",
    "last_seen",
    "summary",
)
# a cell a spreadsheet would run as a formula (OWASP's list for CSV injection)
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _row(story: Story) -> dict[str, Any]:
    return {
        "story_id": story.id,
        "topics": list(story.topics),
        "title": story.title,
        "link": story.link or "",
        "outlets": list(story.outlets),
        "published_at": story.published_at.isoformat() if story.published_at else "",
        "first_seen": story.first_seen.isoformat(),
        "last_seen": story.updated.isoformat(),
        "summary": story.summary,
    }


def spreadsheet_cell(text: str) -> str:
    """A text from a feed as a spreadsheet shows it rather than runs it: one that starts like a
    formula (a title "=HYPERLINK(...)", "-1 day") gets a leading apostrophe. A lone carriage
    return becomes a newline: the writer quotes only the latter, and a reader ends a row at it."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def write_csv(stories: Sequence[Story], out: TextIO) -> None:
    """One row per story; the topics and outlets columns join their values with "; ", and a
    text that starts like a formula starts with an apostrophe (JSON lines keep it as it is)."""
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for story in stories:
        row = _row(story)
        row["topics"] = spreadsheet_cell("; ".join(row["topics"]))
        row["outlets"] = spreadsheet_cell("; ".join(row["outlets"]))
        for column in ("title", "link", "summary"):
            row[column] = spreadsheet_cell(row[column])
        writer.writerow(row)


def write_jsonl(stories: Sequence[Story], out: TextIO) -> None:
    for story in stories:
        out.write(json.dumps(_row(story), ensure_ascii=False) + "\n")


def csv_text(stories: Sequence[Story]) -> str:
    buffer = io.StringIO()
    write_csv(stories, buffer)
    return buffer.getvalue()


def stored_since(command: str, settings: Config, since: str, now: datetime) -> datetime | None:
    """The start of a command's `--since` period before `now`, with the store there to read;
    None, said on stderr, when `since` is no duration or there is no store."""
    try:
        start = now - parse_duration(since)
    except ValueError as exc:
        print(f"kurilwatch {command}: --since {since!r}: {exc}", file=sys.stderr)
        return None
    absent = no_store(settings.store.path)
    if absent:
        print(f"kurilwatch {command}: {absent}", file=sys.stderr)
        return None
    return start


def run_export(
    settings: Config, fmt: str, topic: str | None, since: str, out: TextIO = sys.stdout
) -> int:
    start = stored_since("export", settings, since, datetime.now(UTC))
    if start is None:
        return 2
    with open_store(settings.store.path, upgrade=False) as store:
        # the config's topics, not any: a chat's /watch matches (@w…) are its own business
        stories = store.stories([topic] if topic else list(settings.topics), since=start)
    (write_csv if fmt == "csv" else write_jsonl)(stories, out)
    return 0
