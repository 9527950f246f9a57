"""What a stored query is filed under, as Lucene Monitor's presearcher does: the keys that show
a term present in an item (`TermEntry`), and the cheapest set of terms of which every match of a
query has one (`cheapest`)."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from watchers.topics.engine import term_keys
from watchers.topics.morph import russian_forms
from watchers.topics.normalise import WORD, is_cjk
from watchers.topics.query import And, Field, Meta, Near, Node, Not, Or, Phrase, Term
from watchers.topics.rarity import TermStats, static_rarity

UNUSABLE = math.inf  # the cost of a term that cannot wake a query

# what a term needs present in an item: ("w", word) a whole word, ("p", start) a word starting
# so, ("g", piece) a run of Japanese/Chinese text
WakeKey = tuple[str, str]


@dataclass(slots=True)
class TermEntry:
    """How to find a term: the automaton keys of `Matcher`, as whole words and other keys."""

    term: Term
    words: frozenset[str]  # present if the item has one of these words (keys " word ")
    probes: tuple[str, ...]  # or one of these substrings: " start" of a word, CJK text, ...
    grams: tuple[str, ...]  # the piece of each CJK probe that wakes it
    usable: bool  # whether its presence can wake a query (not for odd keys)
    guess: float  # the static guess of its share of items
    refs: int = 0

    @property
    def wake(self) -> tuple[WakeKey, ...]:
        return (
            *(("w", word) for word in self.words),
            *(("p", probe[1:]) for probe in self.probes if probe[:1] == " "),
            *(("g", gram) for gram in self.grams),
        )


def term_entry(term: Term, stats: TermStats, rarest_gram: Callable[[str], str]) -> TermEntry:
    """How to find `term` in an item, and a first guess of how common it is (`rarest_gram`:
    the piece of a Japanese/Chinese text to file it under)."""
    words: list[str] = []
    probes: list[str] = []
    grams: list[str] = []
    usable = True
    keys = term_keys(term)
    if len(keys) > 1 and not term.prefix and not is_cjk(term.text):
        forms = russian_forms(term.text)  # the cached set itself: shared, not copied
        if whole_words(forms):
            return _made(term, forms, (), (), stats, usable=True)
    for key in keys:
        inner = key.strip(" ")
        regular = WORD.fullmatch(inner) is not None
        if key.startswith(" ") and key.endswith(" ") and len(key) > 1 and regular:
            words.append(inner)
        elif key.startswith(" "):
            probes.append(key)
            usable = usable and regular and not key.endswith(" ")
        else:
            probes.append(key)
            usable = usable and is_cjk(key)
            if usable:
                grams.append(rarest_gram(key))
    return _made(term, frozenset(words), tuple(probes), tuple(grams), stats, usable=usable)


def _made(
    term: Term,
    words: frozenset[str],
    probes: tuple[str, ...],
    grams: tuple[str, ...],
    stats: TermStats,
    *,
    usable: bool,
) -> TermEntry:
    entry = TermEntry(term, words, probes, grams, usable, UNUSABLE)
    if usable:
        if grams:
            entry.guess = sum(map(stats.gram, grams))
        else:
            prefix = 4.0 if term.prefix else 1.0
            keys = len(words) + len(probes)
            entry.guess = static_rarity(term.text) * prefix * min(2, keys)
    return entry


def cheapest(
    node: Node, cost: Callable[[int], float], ids: Mapping[Term, int]
) -> tuple[float, tuple[int, ...]] | None:
    """The cheapest set of terms (by `cost`, a term id's estimated share of items) of which
    every match of `node` has one (None: no set)."""
    if isinstance(node, Term):
        term_id = ids[node]
        share = cost(term_id)
        return None if share == UNUSABLE else (share, (term_id,))
    if isinstance(node, Or):
        total, union = 0.0, tuple[int, ...]()
        for child in node.children:
            option = cheapest(child, cost, ids)
            if option is None:
                return None
            total, union = total + option[0], union + option[1]
        return total, union
    if isinstance(node, Field):
        return cheapest(node.child, cost, ids)
    if isinstance(node, Not | Meta):  # lang:, source: narrow a query; no word shows them
        return None
    parts = (
        node.terms
        if isinstance(node, Phrase)
        else (node.left, node.right)
        if isinstance(node, Near)
        else node.children
    )
    best = None
    for part in parts:
        option = cheapest(part, cost, ids)
        if option is not None and (best is None or option[0] < best[0]):
            best = option
    return best


# not cached: a cache keyed by `russian_forms`' sets kept sets alive that the forms cache had
# dropped (hundreds of MB under a flood of new words in /watch), and asking costs ~1 us a noun,
# ~20 us a verb, once for each term a query index files
def whole_words(forms: frozenset[str]) -> bool:
    """Whether every form is one word as documents split them (a form could have a hyphen)."""
    return all(WORD.fullmatch(form) for form in forms)


def _plain(node: Node) -> bool:
    return isinstance(node, Term) and not node.cased


def conjunctive(node: Node) -> bool:
    """Whether `node` is an AND of ORs of plain terms (so matches exactly when each of its
    clauses has a term present)."""
    parts = node.children if isinstance(node, And) else (node,)
    return all(
        _plain(part) or (isinstance(part, Or) and all(map(_plain, part.children))) for part in parts
    )
