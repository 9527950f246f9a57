"""Splitting a long Telegram HTML message into messages within the limit.

Breaks go at a paragraph if one lies in the last two thirds of the room, else at a line break,
else at a space, else between any two characters; never inside a tag or an entity. Tags open at
a break are closed at the end of one part and opened again at the start of the next, so every
part is balanced HTML on its own. (A part is longer than the limit only if one tag alone is.)
Lengths are Telegram's: UTF-16 code units, in which a character outside the BMP (an emoji,
mathematical bold letters) counts two.
"""

from __future__ import annotations

import re

from bot.delivery.render import MAX_MESSAGE, units

_ATOM = re.compile(r"<[^<>]*>|&#?\w+;|\n\n|.", re.DOTALL)
_OPEN = re.compile(r"<([a-zA-Z][a-zA-Z0-9-]*)\b[^<>]*>")
_CLOSE = re.compile(r"</([a-zA-Z][a-zA-Z0-9-]*)\s*>")
_PRIORITY = {"\n\n": 3, "\n": 2, " ": 1}


def split_html(text: str, limit: int = MAX_MESSAGE) -> list[str]:
    """`text` as one or more messages, each at most `limit` units of balanced HTML."""
    parts: list[str] = []
    carried: list[tuple[str, str]] = []  # (name, opening tag) of the tags open at the last cut
    while True:
        opening = "".join(tag for _, tag in carried)
        if units(opening) + units(text) <= limit:
            break
        cut, closing, carried = _best_break(text, limit - units(opening), carried)
        parts.append(opening + text[:cut].rstrip("\n") + closing)
        text = text[cut:].lstrip("\n")
    parts.append(opening + text)
    return [p for p in parts if p.strip()]


def _best_break(
    text: str, room: int, carried: list[tuple[str, str]]
) -> tuple[int, str, list[tuple[str, str]]]:
    """Where to cut `text` (which starts inside the `carried` tags) so that its head and the
    closing tags fit `room`; the tags to close there, and those open at the cut."""
    stack = list(carried)
    best: dict[int, tuple[int, str, list[tuple[str, str]]]] = {}
    fallback = None
    before = 0  # units of the text before the atom
    for atom in _ATOM.finditer(text):
        start, token = atom.start(), atom.group()
        closing = "".join(f"</{name}>" for name, _ in reversed(stack))
        if start > 0 and before + len(closing) <= room:
            fallback = (start, closing, list(stack))
            priority = _PRIORITY.get(token, 0)
            if priority and before >= room // 3:
                best[priority] = (start, closing, list(stack))
        elif before + len(closing) > room:
            break
        before += units(token)
        if (opened := _OPEN.fullmatch(token)) is not None:
            stack.append((opened.group(1).lower(), token))
        elif (closed := _CLOSE.fullmatch(token)) is not None:
            name = closed.group(1).lower()
            for i in range(len(stack) - 1, -1, -1):
                if stack[i][0] == name:
                    del stack[i:]
                    break
    for priority in (3, 2, 1):
        if priority in best:
            return best[priority]
    if fallback is None:  # one tag alone is longer than the room: cut after it, never inside
        first = _ATOM.match(text)
        end = first.end() if first else len(text)
        stack = list(carried)
        if first is not None and (opened := _OPEN.fullmatch(first.group())) is not None:
            stack.append((opened.group(1).lower(), first.group()))
        return end, "".join(f"</{name}>" for name, _ in reversed(stack)), stack
    return fallback
