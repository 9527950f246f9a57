"""Full-text search text: what goes into the FTS5 index and how a user's query is read.

The index uses SQLite's unicode61 tokenizer (words, case and diacritics folded). Japanese and
Chinese have no spaces between words, so runs of their characters are indexed as overlapping
character bigrams, and the same runs in a query become phrases of bigrams: 北方領土 is searched
as "北方 方領 領土". The text functions are pure (migrations use them too); `SearchVerbs`
keeps the index and answers queries, on the store's one thread: a search is bounded (at most
`MAX_PREFIXES` prefixes of two letters or more, and `SEARCH_TIME`), so that one that matches
too much ends with a reply that it is too broad, not with every poll and send held up.
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Collection

from store.base import StoreBase
from store.records import StoredItem, stored_item_of

MAX_INDEXED = 4000  # characters of a summary that are indexed: the lead is what people search
# A search of 26 one-letter prefixes held the store's thread 4.4 s over 100,000 items (50 days):
# a prefix takes two letters or more, a search 8 prefixes at most, and 1 s of the thread.
MAX_PREFIXES = 8
SEARCH_TIME = 1.0  # seconds
_CHECK_EVERY = 1000  # SQLite instructions between two looks at the time a search has taken


class SearchError(ValueError):
    """A search query the index cannot run; the message says why, for the user (a msgid of
    the bot's catalogues, with `values`)."""

    # the values that are the user's words: the bot quotes them in the reader's marks («x»,
    # 「x」), this message as English does ('x')
    quoted = frozenset({"query", "prefix"})

    def __init__(self, message: str, **values: str) -> None:
        shown = {k: repr(v) if k in self.quoted else v for k, v in values.items()}
        super().__init__(message.format(**shown) if values else message)
        self.template = message
        self.values = values


def N_(message: str) -> str:  # gettext's marker: the bot translates these
    return message


def in_langs(table: str, langs: Collection[str]) -> str:
    """A condition keeping items in `langs` (and those of unknown language); "" for every one."""
    if not langs:
        return ""
    return f" AND ({table}.lang IS NULL OR {table}.lang IN ({','.join('?' * len(langs))}))"


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
            parts[i] = _CJK_STARRED.sub(_cjk_phrase, part)
    return '"'.join(parts)


_PREFIX = re.compile(r"(\w*)\*")


def prefix_error(query: str) -> SearchError | None:
    """Why a query's prefixes (`word*`, outside quotes) make it too broad, if they do: a prefix
    of one letter (a Japanese character is a word) matches a large share of every word."""
    prefixes = [
        m.group(1) for part in query.split('"')[::2] for m in _PREFIX.finditer(part) if m.group(1)
    ]
    for prefix in prefixes:
        if len(prefix) < 2 and not _CJK_RUN.fullmatch(prefix):
            return SearchError(
                N_(
                    "cannot search for {query}: {prefix} is too short a prefix; write two"
                    " letters or more before the '*'"
                ),
                query=query,
                prefix=f"{prefix}*",
            )
    if len(prefixes) > MAX_PREFIXES:
        return SearchError(
            N_("cannot search for {query}: at most {most} of its words may end in '*'"),
            query=query,
            most=str(MAX_PREFIXES),
        )
    return None


# a '*' after Japanese is dropped: a run is a prefix or bigrams already, which match inside words
_CJK_STARRED = re.compile(_CJK_RUN.pattern + r"\*?")


def _cjk_phrase(match: re.Match[str]) -> str:
    run = match.group().rstrip("*")
    return f" {run}* " if len(run) == 1 else f' "{_bigrams(run)}" '


# a word a search may widen to its other forms: letters, not a field's name (`lang:`), not
# already a prefix; its stem is what is left without the endings most often changed
_WORD = re.compile(r"(?<![\w*:-])([^\W\d_]{3,})(?![\w*:])")
_OPERATORS = frozenset({"AND", "OR", "NOT", "NEAR"})
_ENDING = re.compile(r"(?<=\w{3})(?:s|[aeiouy]|[аеёиоуыэюяйь]+)$")


def widened(query: str) -> str | None:
    """`query` with its words ending in '*' after their stem (Курилы → Курил*, Kurils →
    Kuril*), for a search that found nothing: words are found only as written. Phrases,
    operators, prefixes and Japanese stay; None when no word is widened."""
    budget = MAX_PREFIXES - sum(
        1 for part in query.split('"')[::2] for m in _PREFIX.finditer(part) if m.group(1)
    )
    changed = False

    def widen(match: re.Match[str]) -> str:
        nonlocal budget, changed
        word = match.group()
        if budget <= 0 or word in _OPERATORS or _CJK_RUN.search(word):
            return word
        budget -= 1
        changed = True
        return _ENDING.sub("", word) + "*"

    parts = query.split('"')
    for i in range(0, len(parts), 2):
        parts[i] = _WORD.sub(widen, parts[i])
    return '"'.join(parts) if changed else None


def search_error(query: str, reason: str) -> SearchError:
    """SQLite's FTS5 error about `query`, said in words for the person who typed the search."""
    reason = reason.removeprefix("fts5: ")
    if reason.startswith("no such column:"):
        name = reason.partition(":")[2].strip()
        return SearchError(
            N_(
                "cannot search for {query}: '{name}' reads as a field name (from '{name}:' or"
                " '-{name}'), and there is none; write NOT {name} to leave a word out, or put"
                " text in double quotes"
            ),
            query=query,
            name=name,
        )
    if reason.startswith("syntax error near"):
        near = reason.removeprefix("syntax error near").strip()
        if near == '""':  # FTS5's name for the end of the search
            return SearchError(
                N_(
                    "cannot search for {query}: it ends too early (a word or a ')' is missing"
                    " at the end)"
                ),
                query=query,
            )
        if near.strip('"') in _OPERATORS:
            return SearchError(
                N_(
                    "cannot search for {query}: {near} needs a word before it, as in Курилы NOT"
                    " учения; to search for the word itself, put it in double quotes"
                ),
                query=query,
                near=near,
            )
        return SearchError(
            N_(
                "cannot search for {query}: {near} cannot stand there; put a phrase in double"
                " quotes"
            ),
            query=query,
            near=near,
        )
    if reason.startswith("syntax error"):
        return SearchError(
            N_(
                "cannot search for {query}: it cannot be read as a search; put a phrase in"
                " double quotes"
            ),
            query=query,
        )
    if "unterminated string" in reason:
        return SearchError(
            N_("cannot search for {query}: a double quote is not closed"), query=query
        )
    if "unknown special query" in reason:
        return SearchError(
            N_("cannot search for {query}: a '*' must follow a word, as in Курил*"), query=query
        )
    return SearchError(
        N_(
            'cannot search for {query}: the search could not be read; use words, "a phrase",'
            " prefix* and AND/OR/NOT"
        ),
        query=query,
    )


class SearchVerbs(StoreBase):
    """Store verbs for the full-text index (mixed into `Store`)."""

    def index_pending(self) -> int:
        """Add the items stored since the last indexing to the search index; how many."""
        done = 0
        while True:
            with self.db.atomic():
                added = self._index_pending()
            if not added:
                return done
            done += added

    def _indexed_to(self) -> int:
        (indexed_to,) = self.db.execute("SELECT indexed_to FROM search_progress").fetchone()
        return int(indexed_to)

    def _index_pending(self, limit: int = 5000) -> int:
        # FTS5 writes a segment per transaction: indexing a thousand items at once costs
        # under half as much per item as indexing each feed's handful on its own
        rows = self.db.execute(
            "SELECT id, title, summary FROM items WHERE id > ? ORDER BY id LIMIT ?",
            [self._indexed_to(), limit],
        ).fetchall()
        if not rows:
            return 0
        self.db.conn.executemany(
            "INSERT INTO items_fts (rowid, title, body) VALUES (?, ?, ?)",
            [
                (i, search_text(title), search_text(summary))
                for i, title, summary in rows
                if title or summary  # compacted away
            ],
        )
        self.db.execute("UPDATE search_progress SET indexed_to = ?", [rows[-1][0]])
        return len(rows)

    def search(
        self,
        query: str,
        *,
        limit: int = 10,
        langs: Collection[str] = (),
        within: float | None = None,
    ) -> list[tuple[StoredItem, str | None]]:
        """The items whose title or summary match a query, best first, with their feed's title:
        words (case and accents folded), `prefix*`, `"a phrase"`, AND/OR/NOT and parentheses;
        Japanese as written. A search not done `within` seconds (`SEARCH_TIME`) is ended, as
        too broad."""
        if not query.strip():
            raise SearchError(N_("an empty search: give a word to look for"))
        if (broad := prefix_error(query)) is not None:
            raise broad
        self.index_pending()  # the last few items, not yet indexed in a batch
        deadline = time.monotonic() + (SEARCH_TIME if within is None else within)
        # a non-zero answer interrupts the statement (SQLite checks between instructions)
        self.db.conn.set_progress_handler(lambda: time.monotonic() > deadline, _CHECK_EVERY)
        try:
            rows = list(
                self.db.query(
                    "SELECT items.*, f.title AS feed_title FROM items_fts"
                    " JOIN items ON items.id = items_fts.rowid LEFT JOIN feeds f"
                    f" ON f.id = items.feed_id WHERE items_fts MATCH ?{in_langs('items', langs)}"
                    " ORDER BY items_fts.rank LIMIT ?",
                    [fts_query(query), *langs, limit],
                )
            )
        except sqlite3.OperationalError as exc:
            if str(exc) == "interrupted":
                raise SearchError(
                    N_(
                        "cannot search for {query}: it matches too much to be searched at once;"
                        ' narrow it with more words, longer prefixes or a "phrase"'
                    ),
                    query=query,
                ) from None
            raise search_error(query, str(exc)) from None
        finally:
            self.db.conn.set_progress_handler(None, 0)
        return [(stored_item_of(row), row["feed_title"]) for row in rows]
