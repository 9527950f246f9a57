"""`kurilwatch stories`: JSON lines of reports in, the story each joins out, in order."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

EXIT_USAGE = 2


def _fail(message: str) -> int:
    print(f"kurilwatch stories: {message}", file=sys.stderr)
    return EXIT_USAGE


def _problem(obj: dict[str, Any]) -> str | None:
    if "id" not in obj:
        return "missing key 'id'"
    for name in ("title", "published"):
        if name not in obj:
            return f"missing key '{name}'"
    for name in ("title", "published", "summary", "source", "link", "lang"):
        if obj.get(name) is not None and not isinstance(obj[name], str):
            return f"'{name}' must be a string"
    return None


def _published(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def story_lines(source: TextIO, out: TextIO) -> int:
    """The `stories` contract: one JSON line out per JSON line in, in order; every report is
    taken as matched, and placed as the daemon places it."""
    from watchers.story_replay import StoryReplay
    from watchers.text import html_to_text

    replay = StoryReplay()
    for number, line in enumerate(source, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            return _fail(f"line {number}: not valid JSON ({exc.msg} at column {exc.colno})")
        if not isinstance(obj, dict):
            return _fail(f"line {number}: expected a JSON object with id, title and published")
        problem = _problem(obj)
        if problem:
            return _fail(f"line {number}: {problem}")
        published = _published(obj["published"])
        if published is None:
            return _fail(
                f"line {number}: 'published' is not an ISO 8601 time: {obj['published']!r}"
            )
        title, summary = (
            html_to_text(text) if "<" in text or "&" in text else text
            for text in (obj["title"], obj.get("summary") or "")
        )
        story = replay.place(obj["id"], title, summary, published, obj.get("link") or "")
        try:
            out.write(json.dumps({"id": obj["id"], "story": story}, ensure_ascii=False) + "\n")
        except BrokenPipeError:  # `| head`: the reader has all it wants
            return 0
    out.flush()
    return 0
