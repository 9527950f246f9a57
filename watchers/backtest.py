"""What a change of topic queries would have changed: stored items re-matched with the old and
the new queries, as stories gained and lost per topic. Pure: items in, differences out."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import ahocorasick

from store.archive import PastItem
from watchers.topics.engine import Document, Matcher, term_keys
from watchers.topics.normalise import normalise
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
    parse,
)


@dataclass(frozen=True, slots=True)
class StoryChange:
    """A story a topic gained or lost, shown by the item that decided it.

    `terms`: for a gained story, the terms that matched; for a lost one, why it no longer
    matches ("-term" for an exclusion that now applies, a term the query no longer has, or
    "needs term" for a term the new query requires that the item lacks)."""

    story_id: int
    item: PastItem
    terms: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class TopicDiff:
    topic_id: str
    status: str  # "changed", "added" or "removed"
    gained: tuple[StoryChange, ...] = ()
    lost: tuple[StoryChange, ...] = ()
    unchanged: int = 0  # stories both queries match

    def counts(self) -> str:
        return f"{self.topic_id} +{len(self.gained)} -{len(self.lost)} ={self.unchanged}"


@dataclass(slots=True)
class _Tally:
    old: dict[int, PastItem] = field(default_factory=dict)  # story → its first matching item
    new: dict[int, PastItem] = field(default_factory=dict)


def changed_topics(old: Mapping[str, str], new: Mapping[str, str]) -> list[str]:
    """The topic ids whose query differs (added and removed ones too), in a stable order."""
    ids = [*old, *(t for t in new if t not in old)]
    return [t for t in ids if old.get(t) != new.get(t)]


def backtest(
    items: Iterable[PastItem], old: Mapping[str, str], new: Mapping[str, str]
) -> list[TopicDiff]:
    """Per topic whose query changed: the stories the new queries match and the old did not
    (gained), the reverse (lost), and how many both match. `old` and `new` map topic ids to
    queries; topics with the same query on both sides are left out (nothing changes)."""
    ids = changed_topics(old, new)
    if not ids:
        return []
    old_trees = {t: parse(old[t]) for t in ids if t in old}
    new_trees = {t: parse(new[t]) for t in ids if t in new}
    old_matcher, new_matcher = Matcher(old_trees), Matcher(new_trees)
    # both sides in one automaton: one pass over each item
    both = Matcher(
        {
            **{f"o{t}": tree for t, tree in old_trees.items()},
            **{f"n{t}": tree for t, tree in new_trees.items()},
        }
    )
    candidate = _Prefilter([*old_trees.values(), *new_trees.values()])
    tallies = {t: _Tally() for t in ids}
    for item in items:
        if not candidate(item):
            continue
        for match in both.match(_fields(item)):
            tally = tallies[match.topic_id[1:]]
            side = tally.old if match.topic_id[0] == "o" else tally.new
            side.setdefault(item.story_id, item)
    diffs = []
    for topic_id in ids:
        tally = tallies[topic_id]
        status = "added" if topic_id not in old else "removed" if topic_id not in new else "changed"
        gained = [
            StoryChange(s, item, _matched_terms(new_matcher, topic_id, item))
            for s, item in tally.new.items()
            if s not in tally.old
        ]
        lost = [
            StoryChange(s, item, _lost_terms(old_matcher, new_trees.get(topic_id), topic_id, item))
            for s, item in tally.old.items()
            if s not in tally.new
        ]
        diffs.append(
            TopicDiff(
                topic_id,
                status,
                tuple(sorted(gained, key=_newest_first)),
                tuple(sorted(lost, key=_newest_first)),
                len(tally.old.keys() & tally.new.keys()),
            )
        )
    return diffs


def preview(items: Iterable[PastItem], query: str) -> tuple[int, list[PastItem]]:
    """How many stories `query` matches among `items`, and each story's newest matching item,
    newest first."""
    matcher = Matcher({"q": parse(query)})
    found: dict[int, PastItem] = {}
    for item in items:
        if matcher.match(_fields(item)):
            kept = found.get(item.story_id)
            if kept is None or item.date > kept.date:
                found[item.story_id] = item
    return len(found), sorted(found.values(), key=lambda i: i.date, reverse=True)


class _Prefilter:
    """Whether an item can match any of the queries at all. A query matches only when one of a
    set of its terms occurs (`_necessary`) as a word, word start or CJK run of the normalised
    text, so as a substring of the normalised fields: checking that is cheaper than splitting
    the words, and most stored items match no query."""

    def __init__(self, trees: Iterable[Node]) -> None:
        self._automaton: Any = ahocorasick.Automaton()
        self.everything = False
        for tree in trees:
            needed = _necessary(tree)
            if needed is None:  # a query that needs no term (cannot happen once parsed)
                self.everything = True
                continue
            for term in needed:
                for key in term_keys(term):
                    # each word of a key is a substring of the normalised text (a Japanese
                    # term split where digits or Latin meet kana/kanji, 北方 4 島, is not)
                    self._automaton.add_word(max(key.split(), key=len), None)
        if len(self._automaton):
            self._automaton.make_automaton()
        else:
            self.everything = True

    def __call__(self, item: PastItem) -> bool:
        if self.everything:
            return True
        for text in (item.title, item.summary):
            for _ in self._automaton.iter(normalise(text)):
                return True
        return False


def _necessary(node: Node) -> list[Term] | None:
    """Terms one of which is present in any text the query matches (None: no such set). Of
    several such sets, the one whose shortest term is longest: "atlasov island" needs
    "atlasov", a rarer word than "island"."""
    if isinstance(node, Term):
        return [node]
    if isinstance(node, Phrase):
        return [max(node.terms, key=lambda t: len(t.text))]
    if isinstance(node, Field):
        return _necessary(node.child)
    if isinstance(node, Not | Meta):  # lang:, source: need no word
        return None
    if isinstance(node, Or):
        union: list[Term] = []
        for child in node.children:
            needed = _necessary(child)
            if needed is None:
                return None
            union.extend(needed)
        return union
    options = [
        _necessary(n) for n in (node.children if isinstance(node, And) else (node.left, node.right))
    ]
    known = [o for o in options if o]
    if not known:
        return None
    return max(known, key=lambda o: (min(len(t.text) for t in o), -len(o)))


def _newest_first(change: StoryChange) -> tuple[float, int]:
    return -change.item.date.timestamp(), -change.story_id


def _fields(item: PastItem) -> Document:
    """The item as the daemon matched it: its text, and its language and feed for `lang:` and
    `source:`."""
    return Document(
        {"title": item.title, "summary": item.summary},
        {"lang": item.lang, "source": item.feed_id},
    )


def _matched_terms(matcher: Matcher, topic_id: str, item: PastItem) -> tuple[str, ...]:
    for match in matcher.match(_fields(item), explain=True):
        if match.topic_id == topic_id:
            return tuple(dict.fromkeys(hit.term for hit in match.hits))
    return ()


def _lost_terms(
    old_matcher: Matcher, new_tree: Node | None, topic_id: str, item: PastItem
) -> tuple[str, ...]:
    if new_tree is None:
        return ("topic removed",)
    fields = _fields(item)
    # an exclusion of the new query that the item has
    exclusions = {str(n.child): n.child for n in _negations(new_tree)}
    if exclusions:
        present = Matcher(exclusions).match(fields)
        if present:
            return tuple(f"-{_shown(exclusions[m.topic_id])}" for m in present)
    # a term the old query matched on that the new one no longer has (as explain labels them:
    # a phrase whole, a lang: or source: condition)
    kept = {str(t) for t in _labelled(new_tree)}
    old_terms = _matched_terms(old_matcher, topic_id, item)
    dropped = tuple(t for t in old_terms if t not in kept)
    if dropped:
        return dropped
    # a part the new query requires that the item lacks
    parts = new_tree.children if isinstance(new_tree, And) else (new_tree,)
    return tuple(f"needs {_shown(p)}" for p in parts if _lacks(p, fields)) or ("no longer matches",)


def _labelled(node: Node) -> list[Node]:
    """The positive terms, phrases and conditions of a tree, as explain names its hits."""
    if isinstance(node, Term | Phrase | Meta):
        return [node]
    if isinstance(node, And | Or):
        return [n for child in node.children for n in _labelled(child)]
    if isinstance(node, Field):
        return _labelled(node.child)
    if isinstance(node, Near):
        return [*_labelled(node.left), *_labelled(node.right)]
    return []


def _lacks(part: Node, fields: Document) -> bool:
    """Whether the item fails a part of a query ANDed with the others."""
    if isinstance(part, Meta):
        return not part.holds(fields.meta)
    if not anchored(part):  # a NOT, or an OR with one: the exclusions are named before
        return False
    return not Matcher({"part": part}).match(fields)


def _negations(node: Node) -> list[Not]:
    if isinstance(node, Not):
        return [node]
    if isinstance(node, And | Or):
        return [n for child in node.children for n in _negations(child)]
    if isinstance(node, Field):
        return _negations(node.child)
    if isinstance(node, Near):
        return [*_negations(node.left), *_negations(node.right)]
    return []


def _shown(node: Node) -> str:
    text = str(node)
    return text[1:-1] if text.startswith("(") and text.endswith(")") else text
