"""Full-text search text: what goes into the FTS5 index and how a user's query is read.

The index uses SQLite's unicode61 tokenizer (words, case and diacritics folded). Japanese and
Chinese have no spaces between words, so runs of their characters are indexed as overlapping
character bigrams, and the same runs in a query become phrases of bigrams: 北方領土 is searched
as "北方 方領 領土". Pure functions; the store calls them.
"""

from __future__ import annotations

import re

MAX_INDEXED = 4000  # characters of a summary that are indexed: the lead is what people search

_CJK_RUN = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f々〆ヶ]+")


def _bigrams(run: str) -> str:
    return run if len(run) < 2 else " ".join(run[i : i + 2] for i in range(len(run) - 1))


def search_text(text: str) -> str:
    """`text` as it is indexed."""
    if text.isascii():
        return text[:MAX_INDEXED]
    return _CJK_RUN.sub(lambda m: f" {_bigrams(m.group())} ", text[:MAX_INDEXED])


def fts_query(query: str) -> str:
    """A user's query in FTS5 syntax: CJK runs become phrases of bigrams (a single character,
    a prefix); everything else (words, "phrases", prefix*, AND/OR/NOT, parentheses) is kept."""
    parts = query.split('"')
    for i, part in enumerate(parts):
        if i % 2:  # inside quotes: already a phrase
            parts[i] = _CJK_RUN.sub(lambda m: f" {_bigrams(m.group())} ", part)
        else:
            parts[i] = _CJK_RUN.sub(_cjk_phrase, part)
    return '"'.join(parts)


def _cjk_phrase(match: re.Match[str]) -> str:
    run = match.group()
    return f" {run}* " if len(run) == 1 else f' "{_bigrams(run)}" '


def search_problem(reason: str) -> str:
    """SQLite's FTS5 error, said in words for the person who typed the search."""
    reason = reason.removeprefix("fts5: ")
    if reason.startswith("no such column:"):
        name = reason.partition(":")[2].strip()
        return (
            f"'{name}' reads as a field name (from '{name}:' or '-{name}'), and there is none;"
            f" write NOT {name} to leave a word out, or put text in double quotes"
        )
    if reason.startswith("syntax error near"):
        near = reason.removeprefix("syntax error near").strip()
        return f"{near} cannot stand there; put a phrase in double quotes"
    if reason.startswith("syntax error"):
        return "it cannot be read as a search; put a phrase in double quotes"
    if "unterminated string" in reason:
        return "a double quote is not closed"
    if "unknown special query" in reason:
        return "a '*' must follow a word, as in Курил*"
    return 'the search could not be read; use words, "a phrase", prefix* and AND/OR/NOT'
