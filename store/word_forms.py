"""The Russian word forms of stored watches, kept so that a start does not ask the morphology
dictionary again for every word of every watch; read a page at a time (a start holds one page,
not every word's), pruned to the words of the stored watches."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping

from store.base import IN_LIST, StoreBase, list_param


class WordFormVerbs(StoreBase):
    """Store verbs for cached word forms (mixed into `Store`)."""

    def word_forms(self) -> dict[str, frozenset[str]]:
        """Every cached word and its forms (at once: the daemon reads them by pages)."""
        return {
            row[0]: frozenset(json.loads(row[1]))
            for row in self.db.execute("SELECT word, forms FROM word_forms")
        }

    def word_forms_page(self, after: str | None, limit: int) -> list[tuple[str, frozenset[str]]]:
        """Up to `limit` cached words with their forms, in the words' order, from the first
        after `after` (None: from the first word); a page shorter than `limit` is the last."""
        where, params = ("", [limit]) if after is None else ("WHERE word > ? ", [after, limit])
        rows = self.db.execute(
            f"SELECT word, forms FROM word_forms {where}ORDER BY word LIMIT ?", params
        )
        return [(word, frozenset(json.loads(forms))) for word, forms in rows]

    def cached_words(self) -> frozenset[str]:
        """The words whose forms are cached (not their forms)."""
        return frozenset(row[0] for row in self.db.execute("SELECT word FROM word_forms"))

    def word_forms_of(self, words: Iterable[str]) -> dict[str, frozenset[str]]:
        """The forms of those of `words` that are cached."""
        rows = self.db.execute(
            f"SELECT word, forms FROM word_forms WHERE word {IN_LIST}", [list_param(words)]
        )
        return {word: frozenset(json.loads(forms)) for word, forms in rows}

    def save_word_forms(self, forms: Mapping[str, Iterable[str]]) -> None:
        """Cache the forms of words (a word already cached keeps its row)."""
        with self.db.conn:
            self.db.conn.executemany(
                "INSERT OR IGNORE INTO word_forms (word, forms) VALUES (?, ?)",
                [(word, json.dumps(sorted(f), ensure_ascii=False)) for word, f in forms.items()],
            )

    def prune_word_forms(self, words_of: Callable[[str], Iterable[str]]) -> frozenset[str]:
        """Forget the forms of words that no stored watch has (`words_of` a query: the words it
        may name, more are harmless); the words still cached. A word forgotten and watched
        again is looked up again."""
        used: set[str] = set()
        for (query,) in self.db.execute("SELECT DISTINCT query FROM watches"):
            used.update(words_of(query))
        cached = {row[0] for row in self.db.execute("SELECT word FROM word_forms")}
        with self.db.conn:
            self.db.conn.executemany(
                "DELETE FROM word_forms WHERE word = ?", [(word,) for word in cached - used]
            )
        return frozenset(cached & used)

    def forget_word_forms(self) -> None:
        """Forget every cached word's forms (a cache found damaged: each is looked up again)."""
        with self.db.conn:
            self.db.conn.execute("DELETE FROM word_forms")
