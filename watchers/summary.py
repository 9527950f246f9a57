"""Extractive, query-aware summaries: the lead sentence and the sentences that hold the matched
terms, in document order, within a length budget. Pure; no model.

Sentences end at . ! ? … (and 。！？ for Japanese), after any closing quote or bracket, where the
next sentence starts with a capital, a digit, a quote or a CJK character; a line break always
ends one. Common abbreviations (Mr., U.S., г., т.е.) do not end a sentence.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from watchers.text import one_line
from watchers.topics.normalise import is_cjk

BUDGET = 400
MAX_MARKS = 12
GAP = " … "

_CJK_END = re.compile(r"[。！？][」』）”\"']*")
_END = re.compile(r"[.!?…]+[\"'”»)\]]*(?=\s+[\"'“«(\[]?[A-ZА-ЯЁ0-9\u3040-\u30ff\u4e00-\u9fff])")
_ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof gen col lt sgt st jr sr inc ltd co corp vs etc no jan feb mar apr jun jul"
    " aug sep sept oct nov dec u.s u.k u.n e.g i.e a.m p.m"
    " г гг т.е т.к т.д т.п им ул д пос о им. млн млрд тыс руб".split()
)
_WORD_AT = re.compile(r"\w+")


@dataclass(frozen=True, slots=True)
class Brief:
    text: str
    marks: tuple[str, ...]  # the matched words as they appear in `text`, to set in bold


def sentences(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence of `text`."""
    spans: list[tuple[int, int]] = []
    for line in re.finditer(r"[^\n]+", text):
        start = line.start()
        cuts = [m.end() for m in _CJK_END.finditer(line.group())]
        cuts += [
            m.end()
            for m in _END.finditer(line.group())
            if not _abbreviation(line.group(), m.start())
        ]
        for cut in sorted(set(cuts)):
            end = line.start() + cut
            if text[start:end].strip():
                spans.append(_trimmed(text, start, end))
            start = end
        if text[start : line.end()].strip():
            spans.append(_trimmed(text, start, line.end()))
    return spans


def _cut(text: str, limit: int, ellipsis: str = "…") -> str:
    """At most `limit` characters ending at a word boundary: a space, or between two CJK
    characters (Japanese has no spaces); empty if not even one word fits."""
    room = limit - len(ellipsis)
    if room <= 0:
        return ""
    for end in range(room, 0, -1):
        before, after = text[end - 1], text[end]
        if after.isspace() or (is_cjk(before) and is_cjk(after)):
            return text[:end].rstrip(" ,;:-–—") + ellipsis
    return ""


def _abbreviation(line: str, dot: int) -> bool:
    if line[dot] != ".":
        return False
    word = re.search(r"([\w.]+)$", line[:dot])
    return word is not None and (
        word.group(1).casefold() in _ABBREVIATIONS or len(word.group(1)) == 1
    )


def _trimmed(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def brief(text: str, found: Sequence[tuple[int, int]], *, budget: int = BUDGET) -> Brief:
    """The lead sentence and the sentences holding the matched terms at `found` (start, end),
    in document order, joined within `budget` characters; a sentence too long for what is left
    is cut at a word boundary only if it is the lead. The marks are the terms as written (a
    phrase whole), or the word at a start whose end is unknown."""
    spans = sentences(text)
    if not spans:
        return Brief("", ())
    # a phrase's sentences all: its words may be on two lines, or two sentences
    held = [(start, max(end, start + 1)) for start, end in found]
    words = set()
    for start, end in found:
        if end > start:
            words.add(one_line(text[start:end]))
        elif word := _WORD_AT.match(text, start):
            words.add(word.group())
    wanted = [0] + [
        i
        for i, (s, e) in enumerate(spans)
        if i and any(s < end and start < e for start, end in held)
    ]
    parts: list[str] = []
    last = -1
    used = 0
    for i in wanted:
        sentence = one_line(text[spans[i][0] : spans[i][1]])
        joint = "" if not parts else (" " if i == last + 1 else GAP)
        if used + len(joint) + len(sentence) > budget:
            if not parts:  # the lead alone is too long: cut it at a word
                parts.append(_cut(sentence, budget))
                used = budget
            continue
        parts.append(joint + sentence)
        used += len(joint) + len(sentence)
        last = i
    summary = "".join(parts)
    marks = tuple(sorted(w for w in words if w in summary)[:MAX_MARKS])
    return Brief(summary, marks)
