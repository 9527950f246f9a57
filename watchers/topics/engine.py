"""All queries compiled into one Aho-Corasick automaton: one pass per field matches every topic.

Each field is normalised and its words joined by single spaces; a word is the key " word ",
a prefix " word", a CJK term the bare substring. The pass yields which terms occur where;
only the queries that contain one of them are then evaluated, as trees over those positions.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import ahocorasick

# (Document and Hit named here too, as the engine's callers know them)
from watchers.topics.document import Document as Document
from watchers.topics.document import Hit as Hit
from watchers.topics.document import Occurrence
from watchers.topics.morph import russian_forms
from watchers.topics.normalise import is_cjk, is_cyrillic
from watchers.topics.query import (
    And,
    Field,
    Meta,
    Near,
    Node,
    Not,
    Or,
    Phrase,
    Term,
    anchored,
    leaves,
)

# summary and content are both the body of an item, and a feed's are kept as one text (the
# longer, as `summary`): `summary:` and `content:` each look in either
_FIELD_GROUPS = {
    "title": frozenset({"title"}),
    "summary": frozenset({"summary", "content"}),
    "content": frozenset({"summary", "content"}),
}


@dataclass(frozen=True, slots=True)
class Match:
    topic_id: str
    hits: tuple[Hit, ...] = ()


def term_keys(term: Term) -> list[str]:
    """The automaton keys that stand for a term."""
    if is_cjk(term.text):
        return [term.text]
    if term.prefix:
        return [f" {term.text}"]
    if is_cyrillic(term.text):
        return [f" {form} " for form in sorted(russian_forms(term.text))]
    return [f" {term.text} "]


def _shape_matches(cased: str, word: str) -> bool:
    if len(cased) > 1 and cased.isupper():
        return word.isupper()
    return cased[:1].isupper() == word[:1].isupper()


class Matcher:
    """Topic queries compiled together; `match` evaluates all of them on one item."""

    def __init__(self, queries: Mapping[str, Node]) -> None:
        self.queries = dict(queries)
        self._topic_ids = list(self.queries)
        term_ids: dict[Term, int] = {}
        keys: dict[str, list[int]] = {}
        # every query is also a conjunction of clauses, each satisfied by any one of its terms
        # being present; only queries with all clauses satisfied are evaluated in full
        self._clause_topic: list[int] = []
        self._clauses_needed: list[int] = []
        self._clauses_of_term: list[list[int]] = []
        for topic_index, node in enumerate(self.queries.values()):
            for term in leaves(node):
                if term not in term_ids:
                    term_ids[term] = len(term_ids)
                    self._clauses_of_term.append([])
                    for key in term_keys(term):
                        keys.setdefault(key, []).append(term_ids[term])
            clauses = {frozenset(term_ids[t] for t in clause) for clause in _clauses(node)}
            for clause in clauses:
                for term_id in clause:
                    self._clauses_of_term[term_id].append(len(self._clause_topic))
                self._clause_topic.append(topic_index)
            self._clauses_needed.append(len(clauses))
        self._term_ids = term_ids
        compiler = _Compiler(term_ids)
        self._tests = [compiler.test(node) for node in self.queries.values()]
        self._automaton: Any = ahocorasick.Automaton()
        for key, ids in keys.items():
            self._automaton.add_word(key, (len(key), key[0] == " ", tuple(ids)))
        if keys:
            self._automaton.make_automaton()
        self._empty = not keys

    def __len__(self) -> int:
        return len(self.queries)

    def match(
        self, fields: Mapping[str, str | None] | Document, *, explain: bool = False
    ) -> list[Match]:
        """The topics whose query matches the item's fields (title, summary, content)."""
        doc = fields if isinstance(fields, Document) else Document(fields)
        found = self._scan(doc)
        if not found:
            return []
        satisfied: set[int] = set()
        for term_id in found:
            satisfied.update(self._clauses_of_term[term_id])
        counts = Counter(map(self._clause_topic.__getitem__, satisfied))
        needed = self._clauses_needed
        candidates = sorted(t for t, n in counts.items() if n == needed[t])
        matches = []
        for topic_index in candidates:
            ctx = _Context(doc, found, explain)
            if self._tests[topic_index](ctx, None):
                # a term two parts of the query found in the same place is one hit
                hits = tuple(dict.fromkeys(doc.hit(label, o) for label, o in ctx.hits or ()))
                matches.append(Match(self._topic_ids[topic_index], hits))
        return matches

    def _scan(self, doc: Document) -> dict[int, list[Occurrence]]:
        found: dict[int, list[Occurrence]] = {}
        if self._empty:
            return found
        for field, haystack in doc.haystacks.items():
            for end, (length, word_key, ids) in self._automaton.iter(haystack):
                occurrence = Occurrence(field, haystack, end - length + 1, word_key, end + 1)
                for term_id in ids:
                    found.setdefault(term_id, []).append(occurrence)
        return found


Positions = dict[str, dict[int, tuple[str, Occurrence]]]  # field → word index → (term, where)
Fields = frozenset[str] | None


class _Context:
    """One query's evaluation on one document: what the pass found, and explain's record."""

    __slots__ = ("doc", "found", "hits")

    def __init__(self, doc: Document, found: Mapping[int, list[Occurrence]], explain: bool):
        self.doc, self.found = doc, found
        # (label, where); a `lang:` or `source:` condition is where its field is
        self.hits: list[tuple[str, Occurrence | str]] | None = [] if explain else None


Test = Callable[[_Context, Fields], bool]
Locate = Callable[[_Context, Fields], Positions]


class _Compiler:
    """Turns a query tree into closures over term ids, so evaluation is a few lookups."""

    def __init__(self, term_ids: Mapping[Term, int]) -> None:
        self.term_ids = term_ids

    def test(self, node: Node) -> Test:
        if isinstance(node, Meta):
            label = str(node)

            def condition(ctx: _Context, fields: Fields) -> bool:
                held = node.holds(ctx.doc.meta)
                if held and ctx.hits is not None:
                    ctx.hits.append((label, node.name))
                return held

            return condition
        if isinstance(node, Term) and not node.cased:
            return self._plain_term(node)
        if isinstance(node, Term | Phrase):
            locate = self.locate(node)
            needed = frozenset(self.term_ids[t] for t in leaves(node))

            def located(ctx: _Context, fields: Fields) -> bool:
                if not needed <= ctx.found.keys():
                    return False
                found = locate(ctx, fields)
                if ctx.hits is not None:
                    ctx.hits.extend(h for at in found.values() for h in list(at.values())[:3])
                return bool(found)

            return located
        if isinstance(node, Field):
            child, group = self.test(node.child), _FIELD_GROUPS[node.name]
            return lambda ctx, fields: child(ctx, _restrict(fields, group))
        if isinstance(node, Not):
            inner = self.test(node.child)

            def negated(ctx: _Context, fields: Fields) -> bool:
                saved, ctx.hits = ctx.hits, None
                try:
                    return not inner(ctx, fields)
                finally:
                    ctx.hits = saved

            return negated
        if isinstance(node, Near):
            return self._near(node)
        if isinstance(node, And):
            return self._and([self.test(child) for child in node.children])
        return self._or(node)

    def _plain_term(self, term: Term) -> Test:
        term_id, label = self.term_ids[term], str(term)

        def plain(ctx: _Context, fields: Fields) -> bool:
            found = ctx.found.get(term_id)
            if not found:
                return False
            if fields is None and ctx.hits is None:
                return True
            kept = [o for o in found if fields is None or o.field in fields]
            if ctx.hits is not None:
                ctx.hits.extend((label, o) for o in kept[:3])
            return bool(kept)

        return plain

    def _and(self, children: list[Test]) -> Test:
        def conjunction(ctx: _Context, fields: Fields) -> bool:
            if ctx.hits is None:
                return all(child(ctx, fields) for child in children)
            saved = list(ctx.hits)
            if all(child(ctx, fields) for child in children):
                return True
            ctx.hits = saved
            return False

        return conjunction

    def _or(self, node: Or) -> Test:
        # plain terms are checked together with one set operation; the rest one by one
        plain = frozenset(
            self.term_ids[c] for c in node.children if isinstance(c, Term) and not c.cased
        )
        plain_tests = [self.test(c) for c in node.children if isinstance(c, Term) and not c.cased]
        # an alternative that needs one of its positive terms is skipped when none occurred
        others = [
            (self._anchors(c), self.test(c))
            for c in node.children
            if not (isinstance(c, Term) and not c.cased)
        ]
        # explaining evaluates every alternative in order, but only those that can match: an
        # alternative none of whose anchors occurred fails and leaves no hit. Each is filed
        # under its anchors, so the document's terms name those to evaluate.
        in_order = [self.test(c) for c in node.children]
        woken_by: dict[int, list[int]] = {}
        unanchored: list[int] = []
        for index, child in enumerate(node.children):
            anchors = self._anchors(child)
            for term_id in anchors if anchors is not None else ():
                woken_by.setdefault(term_id, []).append(index)
            if anchors is None:
                unanchored.append(index)

        def disjunction(ctx: _Context, fields: Fields) -> bool:
            if ctx.hits is None:
                if fields is None and not plain.isdisjoint(ctx.found):
                    return True
                if fields is not None and any(t(ctx, fields) for t in plain_tests):
                    return True
                found = ctx.found
                return any(
                    t(ctx, fields)
                    for anchors, t in others
                    if anchors is None or not anchors.isdisjoint(found)
                )
            woken = set(unanchored)  # explaining: report every alternative that matched
            for term_id in ctx.found:
                woken.update(woken_by.get(term_id, ()))
            matched = False
            for index in sorted(woken):
                matched = in_order[index](ctx, fields) or matched
            return matched

        return disjunction

    def _anchors(self, node: Node) -> frozenset[int] | None:
        """Terms of which a match needs at least one (None: it can match without any)."""
        if not anchored(node):
            return None
        return frozenset(self.term_ids[t] for t in leaves(node, positive_only=True))

    def _near(self, node: Near) -> Test:
        left, right, distance = self.locate(node.left), self.locate(node.right), node.distance
        left_ids = frozenset(self.term_ids[t] for t in leaves(node.left))
        right_ids = frozenset(self.term_ids[t] for t in leaves(node.right))

        def near(ctx: _Context, fields: Fields) -> bool:
            if left_ids.isdisjoint(ctx.found) or right_ids.isdisjoint(ctx.found):
                return False
            lefts_by_field = left(ctx, fields)
            if not lefts_by_field:
                return False
            rights_by_field = right(ctx, fields)
            for field, lefts in lefts_by_field.items():
                rights = rights_by_field.get(field)
                if not rights:
                    continue
                # each left looks its partner up in the sorted rights: comparing every pair
                # took 80 ms a NEAR on a long item whose two words are many and never near
                ordered = sorted(rights)
                for a, left_hit in lefts.items():
                    i = bisect_left(ordered, a - distance)
                    if i < len(ordered) and ordered[i] <= a + distance:
                        if ctx.hits is not None:  # the first partner in order, as explained
                            b = next(b for b in rights if abs(a - b) <= distance)
                            ctx.hits += [left_hit, rights[b]]
                        return True
            return False

        return near

    def locate(self, node: Node) -> Locate:
        """Word positions per field where a term, phrase, field or OR of them matches."""
        if isinstance(node, Term):
            return self._locate_term(node)
        if isinstance(node, Phrase):
            return self._locate_phrase(node)
        if isinstance(node, Field):
            child, group = self.locate(node.child), _FIELD_GROUPS[node.name]
            return lambda ctx, fields: child(ctx, _restrict(fields, group))
        assert isinstance(node, Or)  # the parser allows nothing else under NEAR
        children = [self.locate(child) for child in node.children]

        def union(ctx: _Context, fields: Fields) -> Positions:
            out: Positions = {}
            for child in children:
                for field, found in child(ctx, fields).items():
                    out.setdefault(field, {}).update(found)
            return out

        return union

    def _locate_term(self, term: Term) -> Locate:
        term_id, label, cased = self.term_ids[term], str(term), term.cased

        def locate(ctx: _Context, fields: Fields) -> Positions:
            out: Positions = {}
            for occ in ctx.found.get(term_id, ()):
                if fields is not None and occ.field not in fields:
                    continue
                if cased and not _cased_ok(ctx.doc, occ, cased):
                    continue
                out.setdefault(occ.field, {})[occ.index] = (label, occ)
            return out

        return locate

    def _locate_phrase(self, phrase: Phrase) -> Locate:
        parts, label = [self._locate_term(t) for t in phrase.terms], str(phrase)

        def locate(ctx: _Context, fields: Fields) -> Positions:
            out: Positions = {}
            for field, starts in parts[0](ctx, fields).items():
                keep, later = set(starts), starts
                for offset, part in enumerate(parts[1:], start=1):
                    later = part(ctx, frozenset((field,))).get(field, {})
                    keep &= {p - offset for p in later}
                    if not keep:
                        break
                if keep:  # each where its first word is, through its last
                    n = len(parts) - 1
                    out[field] = {p: (label, starts[p][1].through(later[p + n][1])) for p in keep}
            return out

        return locate


def _clauses(node: Node) -> list[list[Term]]:
    """Clauses that any match satisfies: in each, at least one term is present."""
    if isinstance(node, Term):
        return [[node]]
    if isinstance(node, Phrase):
        return [[term] for term in node.terms]
    if isinstance(node, Near):
        return [list(leaves(node.left)), list(leaves(node.right))]
    if isinstance(node, Field):
        return _clauses(node.child)
    if isinstance(node, Not | Meta):
        return []
    if isinstance(node, And):
        return [clause for child in node.children for clause in _clauses(child)]
    if not anchored(node):  # an OR with a NOT or a lang:/source: side matches without a term
        return []
    return [list(leaves(node, positive_only=True))]


def _cased_ok(doc: Document, occ: Occurrence, cased: str) -> bool:
    word = doc.cased_word(occ.field, occ.index)
    return word is None or _shape_matches(cased, word)


def _restrict(fields: Fields, group: frozenset[str]) -> frozenset[str]:
    return group if fields is None else fields & group
