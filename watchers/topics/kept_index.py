"""An index of stored queries that can be filed again from the keys kept for them (the daemon's
watches, at a start): each query goes under its kept keys unparsed, and is compiled, in place,
the first time an item wakes it or its key is filed again. Any keys of which every match of the
query has one are correct; rarer ones only wake it less often."""

from __future__ import annotations

import json

from watchers.topics.engine import Document
from watchers.topics.index import QueryIndex, _Stored
from watchers.topics.presearch import WakeKey
from watchers.topics.query import QueryError, parse
from watchers.topics.rarity import TermStats


def _keys(filing: str) -> tuple[WakeKey, ...]:
    return tuple((kind, key) for kind, key in json.loads(filing))


class KeptIndex(QueryIndex):
    """A `QueryIndex` whose queries can be filed under kept keys (`filing`, `add_filed`)."""

    def __init__(self, stats: TermStats | None = None, *, learn: bool = False) -> None:
        super().__init__(stats, learn=learn)
        self._kept: dict[_Stored, str] = {}  # filed under kept keys, not compiled yet

    def filing(self, query: str) -> str:
        """What `query` is filed under, as text to keep: `add_filed` files it again from it."""
        kept = self._kept.get(self._queries[query])
        if kept is not None:
            return kept
        return json.dumps(self.filed_under(query), ensure_ascii=False, separators=(",", ":"))

    def filed_under(self, query: str) -> tuple[WakeKey, ...]:
        kept = self._kept.get(self._queries[query])
        return super().filed_under(query) if kept is None else _keys(kept)

    def add_filed(self, query: str, owner: str, filing: str) -> None:
        """File `owner`'s query under the keys of `filing` (which `filing` gave), unparsed.
        `filing` must come from the same code (query language, normalisation, keys)."""
        if query not in self._queries:
            stored = _Stored(query, (), (), (), (), False, False)
            self._queries[query] = stored
            self._kept[stored] = filing
            keys = _keys(filing)
            if not keys:
                self._always.add(stored)
            for kind, key in keys:
                self._post_key(kind, key, stored)
        self.add(query, owner)

    def _compile(self, stored: _Stored) -> bool:
        """Compile a query filed under kept keys and file it by its terms, in place (the same
        object: an item being matched may hold it); False if it no longer parses."""
        self._unpost(stored)
        del self._kept[stored]
        try:
            node = parse(stored.text)
        except QueryError:
            del self._queries[stored.text]
            self._owners -= len(stored.owners)
            return False
        made = self._file(stored.text, node)
        self._unpost(made)
        stored.terms, stored.clauses, stored.wake = made.terms, made.clauses, made.wake
        stored.gates, stored.looks, stored.exact = made.gates, made.looks, made.exact
        self._queries[stored.text] = stored
        self._post(stored)
        return True

    def _woken(self, doc: Document, every: set[str]) -> set[_Stored]:
        woken = super()._woken(doc, every)
        if self._kept:
            for stored in [one for one in woken if one in self._kept]:
                if not self._compile(stored):
                    woken.discard(stored)
        return woken

    def _refile(self, stored: list[_Stored], hot: WakeKey) -> None:
        super()._refile([one for one in stored if one not in self._kept or self._compile(one)], hot)

    def _unpost(self, stored: _Stored) -> None:
        kept = self._kept.get(stored)
        if kept is None:
            super()._unpost(stored)
            return
        self._always.discard(stored)
        for kind, key in _keys(kept):
            self._unpost_key(kind, key, stored)

    def _unfile(self, stored: _Stored) -> None:
        super()._unfile(stored)
        self._kept.pop(stored, None)
