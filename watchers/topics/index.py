"""Many stored queries (chats' watches) indexed by the terms they need, as Lucene Monitor's
presearcher does: each query is filed under the cheapest set of terms of which every match has
one, and an item evaluates only the queries its words wake, so its cost does not grow with the
number stored. Queries are added and removed in place; identical queries compile once.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from watchers.topics.document import Occurrence
from watchers.topics.engine import (
    Document,
    Hit,
    Match,
    Test,
    _clauses,
    _Compiler,
    _Context,
)
from watchers.topics.normalise import is_cjk
from watchers.topics.presearch import (
    UNUSABLE,
    TermEntry,
    WakeKey,
    cheapest,
    conjunctive,
    term_entry,
)
from watchers.topics.query import Node, Term, leaves, parse
from watchers.topics.rarity import GRAM, OBSERVED_FROM, TermStats

Postings = dict[str, "_Stored | set[_Stored]"]  # key → the query (one) or queries

LEARN_EVERY = 4  # while learning, one item in this many is observed
CHECK_EVERY = 250  # observed items between looks at which keys wake too often (while learning)
HOT = 0.02  # a key in more than this share of items has its queries filed again


@dataclass(slots=True, eq=False)
class _Stored:
    text: str
    terms: tuple[int, ...]  # term ids, all of them (negated ones too)
    clauses: tuple[tuple[int, ...], ...]  # every match has a term of each
    wake: tuple[int, ...]  # the terms it is filed under; () = evaluated for every item
    # the clauses of whole words as sets of words (an item lacking all of one is no match),
    # and whether other clauses (prefixes, Japanese/Chinese text) need a look of their own
    gates: tuple[frozenset[str], ...]
    looks: bool
    exact: bool  # the clauses say it all (an AND of ORs of plain terms): no evaluation
    owners: tuple[tuple[str, int], ...] = ()  # (owner, order of addition)
    test: Test | None = None  # compiled on first use


class QueryIndex:
    """Stored queries, each with its owners; `match` gives the owners whose query matches."""

    def __init__(self, stats: TermStats | None = None, *, learn: bool = False) -> None:
        self.stats = stats or TermStats()
        # observe each item's words, and file again the queries of keys that wake too often
        self.learn = learn
        self.learn_every, self.check_every = LEARN_EVERY, CHECK_EVERY
        self._queries: dict[str, _Stored] = {}
        self._owners = 0
        self._order = 0
        self._term_ids: dict[Term, int] = {}
        self._terms: dict[int, TermEntry] = {}
        self._next_term = 0
        self._words: Postings = {}
        self._prefixes: Postings = {}
        self._prefix_lengths: Counter[int] = Counter()
        self._grams: Postings = {}
        self._gram_lengths: Counter[int] = Counter()
        self._gram_starts: Counter[str] = Counter()  # the first characters of `_grams`' keys
        self._always: set[_Stored] = set()
        self._gates: dict[frozenset[str], list[Any]] = {}  # each set once: [the set, uses]
        self._compiler = _Compiler(self._term_ids)
        self._woke: Counter[WakeKey] = Counter()  # items that had each key, since the last look
        self._seen = 0
        self._sampled = 0
        self._shares: dict[WakeKey, float] = {}  # the share of items that had each key
        self._refiled: set[WakeKey] = set()  # hot keys whose queries were filed again

    @classmethod
    def of(cls, queries: Mapping[str, str], *, learn: bool = False) -> QueryIndex:
        """An index of `owner → query text`; raises `QueryError`."""
        index = cls(learn=learn)
        for owner, query in queries.items():
            index.add(query, owner)
        return index

    def __len__(self) -> int:
        return self._owners

    def __contains__(self, query: object) -> bool:
        return query in self._queries

    @property
    def distinct(self) -> int:
        """The number of distinct queries (each compiled once, whatever its owners)."""
        return len(self._queries)

    @property
    def always(self) -> tuple[str, ...]:
        """The queries no term can file: evaluated for every item."""
        return tuple(sorted(stored.text for stored in self._always))

    def owners(self) -> Iterator[tuple[str, str]]:
        """(owner, query) for every owner, in the order they were added."""
        pairs = [(n, o, q.text) for q in self._queries.values() for o, n in q.owners]
        return ((owner, text) for _, owner, text in sorted(pairs))

    def filed_under(self, query: str) -> tuple[WakeKey, ...]:
        """The keys that wake `query` (() if none: it is evaluated for every item)."""
        stored = self._queries[query]
        return tuple(k for t in stored.wake for k in self._terms[t].wake)

    # -- changes ----------------------------------------------------------------------------

    def add(self, query: str, owner: str, node: Node | None = None) -> None:
        """File `owner`'s query (parsed here unless `node` is its tree); raises `QueryError`."""
        stored = self._queries.get(query)
        if stored is None:
            stored = self._file(query, parse(query) if node is None else node)
        if all(owner != o for o, _ in stored.owners):
            self._order += 1
            stored.owners += ((owner, self._order),)
            self._owners += 1

    def remove(self, query: str, owner: str) -> bool:
        """Take `owner` off `query`; the query goes when its last owner does."""
        stored = self._queries.get(query)
        if stored is None or all(owner != o for o, _ in stored.owners):
            return False
        stored.owners = tuple(pair for pair in stored.owners if pair[0] != owner)
        self._owners -= 1
        if not stored.owners:
            self._unfile(stored)
        return True

    def _file(self, text: str, node: Node) -> _Stored:
        ids: dict[Term, int] = {}
        for term in leaves(node):
            if term in ids:
                continue
            term_id = self._term_ids.get(term)
            if term_id is None:
                term_id = self._term_ids[term] = self._next_term
                self._next_term += 1
                self._terms[term_id] = term_entry(term, self.stats, self._rarest_gram)
            self._terms[term_id].refs += 1
            ids[term] = term_id
        clauses = {tuple(sorted({ids[t] for t in c})) for c in _clauses(node)}
        gates, looks = [], False
        for clause in clauses:
            entries = [self._terms[t] for t in clause]
            if any(e.probes for e in entries):
                looks = True
            else:
                words = entries[0].words if len(entries) == 1 else None
                gates.append(self._gate(words or frozenset().union(*(e.words for e in entries))))
        stored = _Stored(
            text,
            tuple(ids.values()),
            tuple(clauses),
            self._choose(text, node, ids),
            tuple(gates),
            looks,
            conjunctive(node),
        )
        self._queries[text] = stored
        self._post(stored)
        return stored

    def _choose(
        self, text: str, node: Node, ids: Mapping[Term, int] | None = None
    ) -> tuple[int, ...]:
        names: frozenset[str] = frozenset()
        if self.stats.items < OBSERVED_FROM:  # a guess only: casefold is near enough
            bare = (w.strip('()"=-*') for w in text.split())
            names = frozenset(w.casefold() for w in bare if w[:1].isupper())
        chosen = cheapest(node, lambda t: self._cost(t, names), ids or self._term_ids)
        return () if chosen is None else tuple(sorted(set(chosen[1])))

    def _gate(self, words: frozenset[str]) -> frozenset[str]:
        shared = self._gates.setdefault(words, [words, 0])
        shared[1] += 1
        return shared[0]  # type: ignore[no-any-return]

    def _unfile(self, stored: _Stored) -> None:
        keys = self.filed_under(stored.text)
        del self._queries[stored.text]
        self._unpost(stored)
        for key in keys:  # what was learned of a key no query is filed under goes too
            if key[1] not in self._postings(key[0])[0]:
                self._shares.pop(key, None)
                self._refiled.discard(key)
        for gate in stored.gates:
            shared = self._gates[gate]
            shared[1] -= 1
            if not shared[1]:
                del self._gates[gate]
        for term_id in stored.terms:
            entry = self._terms[term_id]
            entry.refs -= 1
            if not entry.refs:
                del self._terms[term_id]
                del self._term_ids[entry.term]

    def _post(self, stored: _Stored) -> None:
        if not stored.wake:
            self._always.add(stored)
        for term_id in stored.wake:
            entry = self._terms[term_id]
            if not entry.probes:  # whole words only (the common case, quicker)
                words = self._words
                for word in entry.words:
                    got = words.get(word)
                    if got is None:
                        words[word] = stored
                    elif type(got) is _Stored:
                        if got is not stored:
                            words[word] = {got, stored}
                    else:
                        got.add(stored)  # type: ignore[union-attr]
                continue
            for kind, key in entry.wake:
                self._post_key(kind, key, stored)

    def _post_key(self, kind: str, key: str, stored: _Stored) -> None:
        postings, lengths = self._postings(kind)
        got = postings.get(key)
        if got is None:
            postings[key] = stored
            if lengths is not None:
                lengths[len(key)] += 1
            if kind == "g":
                self._gram_starts[key[0]] += 1
        elif isinstance(got, _Stored):
            if got is not stored:
                postings[key] = {got, stored}
        else:
            got.add(stored)

    def _unpost(self, stored: _Stored) -> None:
        self._always.discard(stored)
        for term_id in stored.wake:
            for kind, key in self._terms[term_id].wake:
                self._unpost_key(kind, key, stored)

    def _unpost_key(self, kind: str, key: str, stored: _Stored) -> None:
        postings, lengths = self._postings(kind)
        got = postings.get(key)
        if isinstance(got, set):
            got.discard(stored)
            if len(got) == 1:
                postings[key] = next(iter(got))
        elif got is stored:
            del postings[key]
            if lengths is not None:
                lengths[len(key)] -= 1
                if not lengths[len(key)]:
                    del lengths[len(key)]
            if kind == "g":
                self._gram_starts[key[0]] -= 1
                if not self._gram_starts[key[0]]:
                    del self._gram_starts[key[0]]

    def _postings(self, kind: str) -> tuple[Postings, Counter[int] | None]:
        if kind == "w":
            return self._words, None
        if kind == "p":
            return self._prefixes, self._prefix_lengths
        return self._grams, self._gram_lengths

    def _rarest_gram(self, text: str) -> str:
        size = min(GRAM, len(text))
        grams = {text[i : i + size] for i in range(len(text) - size + 1)}
        return min(sorted(grams), key=lambda g: self._shares.get(("g", g)) or self.stats.gram(g))

    def _cost(self, term_id: int, names: frozenset[str]) -> float:
        """The estimated share of items that have the term (`names`: the words the query
        capitalises, which the static guess takes for proper names, rarer than the rest)."""
        entry = self._terms[term_id]
        if not entry.usable:
            return UNUSABLE
        stats, shares = self.stats, self._shares
        if entry.grams:
            if not shares:
                return entry.guess
            return sum(shares.get(("g", g)) or stats.gram(g) for g in entry.grams)
        # how often its keys woke queries, where they did, bounds the estimate from below
        seen = sum(shares.get(k, 0.0) for k in entry.wake) if shares else 0.0
        if stats.items < OBSERVED_FROM:
            return max(seen, entry.guess * (0.1 if entry.term.text in names else 1.0))
        if entry.words:
            return max(seen, sum(map(stats.word, entry.words)))
        return max(seen, 4 * stats.word(entry.term.text))  # a prefix: its word, and more

    # -- matching ---------------------------------------------------------------------------

    def match(
        self, fields: Mapping[str, str | None] | Document, *, explain: bool = False
    ) -> list[Match]:
        """The owners whose query matches the item, in the order they were added."""
        doc = fields if isinstance(fields, Document) else Document(fields)
        every: set[str] = set().union(*(doc.words(f) for f in doc.haystacks))
        woken = self._woken(doc, every)
        if not woken:
            return []
        found: dict[int, list[Occurrence]] = {}
        looked: set[int] = set()
        present: dict[int, bool] = {}
        hits: list[tuple[int, str, tuple[Hit, ...]]] = []
        # every field at once for substring tests: no term's key holds a line break
        text = "\n".join(doc.haystacks.values())
        for stored in woken:
            # a first look, by word sets and substring tests, before finding where terms are
            if not self._looks_present(stored, every, text, present):
                continue
            if stored.exact and not explain:
                hits.extend((n, owner, ()) for owner, n in stored.owners)
                continue
            for term_id in stored.terms:
                if term_id not in looked:
                    looked.add(term_id)
                    if self._present(term_id, every, text, present):
                        found[term_id] = self._find(term_id, doc, every)
            if stored.test is None:
                stored.test = self._compiler.test(parse(stored.text))
            ctx = _Context(doc, found, explain)
            if stored.test(ctx, None):
                # a term two parts of the query found in the same place is one hit
                made = tuple(dict.fromkeys(doc.hit(label, o) for label, o in ctx.hits or ()))
                hits.extend((n, owner, made) for owner, n in stored.owners)
        hits.sort(key=lambda h: h[0])
        return [Match(owner, made) for _, owner, made in hits]

    def _looks_present(
        self, stored: _Stored, every: set[str], text: str, present: dict[int, bool]
    ) -> bool:
        """Whether each clause of whole words has a word of the item (its gate), and, where
        the query has other clauses, whether each of those has a term present."""
        for gate in stored.gates:
            if gate.isdisjoint(every):
                return False
        if not stored.looks:
            return True
        for clause in stored.clauses:
            for term_id in clause:
                known = present.get(term_id)
                if known is None:
                    known = self._present(term_id, every, text, present)
                if known:
                    break
            else:
                return False
        return True

    def _present(self, term_id: int, every: set[str], text: str, present: dict[int, bool]) -> bool:
        known = present.get(term_id)
        if known is None:
            entry = self._terms[term_id]
            known = not entry.words.isdisjoint(every)
            if not known:
                for probe in entry.probes:
                    if probe in text:
                        known = True
                        break
            present[term_id] = known
        return known

    def _woken(self, doc: Document, every: set[str]) -> set[_Stored]:
        woken = set(self._always)
        keys: list[WakeKey] | None = None
        if self.learn:
            self._sampled += 1
            if self._sampled >= self.learn_every:  # a sample tells the frequencies well enough
                self._sampled = 0
                keys = []
        words = self._words
        for word in every & words.keys():
            got = words[word]
            if type(got) is _Stored:
                woken.add(got)
            else:
                woken |= got  # type: ignore[arg-type]
            if keys is not None:
                keys.append(("w", word))
        if self._prefix_lengths:
            prefixes, lengths = self._prefixes, list(self._prefix_lengths)
            starts = {word[:size] for word in every for size in lengths if size <= len(word)}
            for start in starts & prefixes.keys():
                got = prefixes[start]
                if type(got) is _Stored:
                    woken.add(got)
                else:
                    woken |= got  # type: ignore[arg-type]
                if keys is not None:
                    keys.append(("p", start))
        if self._gram_lengths:
            grams, lengths = self._grams, list(self._gram_lengths)
            firsts = self._gram_starts.keys()
            for haystack in doc.haystacks.values():
                if not is_cjk(haystack):
                    continue
                # slices only where a key's first character is: most of a text is not
                for first in firsts & set(haystack):
                    at = haystack.find(first)
                    while at >= 0:
                        for size in lengths:
                            piece = grams.get(haystack[at : at + size])
                            if piece is None:
                                continue
                            if type(piece) is _Stored:
                                woken.add(piece)
                            else:
                                woken |= piece  # type: ignore[arg-type]
                            if keys is not None:
                                keys.append(("g", haystack[at : at + size]))
                        at = haystack.find(first, at + 1)
        if keys is not None:
            self._learn(every, keys)
        return woken

    def _learn(self, every: set[str], keys: list[WakeKey]) -> None:
        self.stats.observe(every)
        self._woke.update(set(keys))
        self._seen += 1
        if self._seen < self.check_every:
            return
        shares = {key: n / self._seen for key, n in self._woke.items()}
        self._shares.update(shares)
        self._woke.clear()
        self._seen = 0
        for (kind, key), share in shares.items():
            if share < HOT or (kind, key) in self._refiled:
                continue
            # once: what stays under it cannot go elsewhere, and later queries see its share
            self._refiled.add((kind, key))
            got = self._postings(kind)[0].get(key)
            queries = [got] if isinstance(got, _Stored) else list(got or ())
            if len(queries) > 1 or share > 5 * HOT:
                self._refile(queries, (kind, key))

    def _refile(self, stored: list[_Stored], hot: WakeKey) -> None:
        """File the queries of a key that wakes too often again, under what is rarer now."""
        for one in stored:
            self._unpost(one)
        if hot[0] == "g":  # the terms filed under a piece of text take another piece
            for one in stored:
                for term_id in one.terms:
                    entry = self._terms[term_id]
                    if hot[1] in entry.grams:
                        entry.grams = tuple(
                            self._rarest_gram(p) for p in entry.probes if p[:1] != " "
                        )
                        entry.guess = sum(map(self.stats.gram, entry.grams))
        for one in stored:
            one.wake = self._choose(one.text, parse(one.text))
            self._post(one)

    def _find(self, term_id: int, doc: Document, every: set[str]) -> list[Occurrence]:
        """Where the term's keys occur, as the one-pass automaton of `Matcher` reports them."""
        out: list[Occurrence] = []
        entry = self._terms[term_id]
        words = entry.words & every if entry.words else ()
        for name, haystack in doc.haystacks.items():
            ends: list[tuple[int, int, bool]] = []
            for word in words:  # in some field: a field without it is one quick scan
                key = f" {word} "
                start = haystack.find(key)
                while start >= 0:
                    ends.append((start + len(key), start, True))
                    start = haystack.find(key, start + 1)
            for key in entry.probes:
                start = haystack.find(key)
                while start >= 0:
                    ends.append((start + len(key), start, key[:1] == " "))
                    start = haystack.find(key, start + 1)
            ends.sort(key=lambda e: e[0])
            out.extend(Occurrence(name, haystack, start, wk, end) for end, start, wk in ends)
        return out
