"""Topics compiled from the config, and matching items against them."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import pickle
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from watchers.topics.engine import Document, Hit, Match, Matcher
from watchers.topics.frozen import frozen_after
from watchers.topics.index import QueryIndex
from watchers.topics.morph import give_forms, russian_forms
from watchers.topics.normalise import is_cjk, is_cyrillic
from watchers.topics.query import Node, leaves, parse

if TYPE_CHECKING:  # parse workers import this module, and need not load pydantic
    from watchers.config import TopicConfig

__all__ = [
    "Hit",
    "Match",
    "Matcher",
    "Topic",
    "TopicMatcher",
    "TopicSpec",
    "Topics",
    "compile_topics",
]

LARGE = 16  # a query of more terms than this is matched by the automaton (configured topics)


class SplitMatcher:
    """Many queries (a config of thousands of topics): the few large ones compiled into one
    `Matcher` automaton, the rest filed in a `QueryIndex`; answers as `Matcher.match` does."""

    def __init__(self) -> None:
        self.index = QueryIndex(learn=True)
        self.matcher = Matcher({})
        self._large: dict[str, Node] = {}
        self._order: dict[str, int] = {}

    def add(self, topic_id: str, query: str, node: Node) -> None:
        """Add a topic (call `done` after the last)."""
        self._order[topic_id] = len(self._order)
        if sum(1 for _ in leaves(node)) > LARGE:
            self._large[topic_id] = node
        else:
            self.index.add(query, topic_id, node)

    def done(self) -> SplitMatcher:
        self.matcher = Matcher(self._large)
        return self

    def __len__(self) -> int:
        return len(self._order)

    def match(
        self, fields: Mapping[str, str | None] | Document, *, explain: bool = False
    ) -> list[Match]:
        doc = fields if isinstance(fields, Document) else Document(fields)
        found = self.index.match(doc, explain=explain)
        if len(self.matcher):
            found += self.matcher.match(doc, explain=explain)
            found.sort(key=lambda m: self._order[m.topic_id])
        return found


TopicMatcher = Matcher | SplitMatcher
SPLIT_FROM = 200  # topics in a config from which most are filed in an index, not one automaton


def compile_matcher(queries: Mapping[str, str]) -> tuple[TopicMatcher, list[str]]:
    """One automaton for a few topics; for many, an index that wakes only the likely ones
    (parsed one by one: 100,000 trees at once would double the memory). Also returns the
    Russian words of the queries."""
    words: set[str] = set()
    trees: dict[str, Node] = {}
    split = SplitMatcher() if len(queries) >= SPLIT_FROM else None
    with frozen_after() if split is not None else contextlib.nullcontext():
        return _compile(queries, words, trees, split)


def _compile(
    queries: Mapping[str, str], words: set[str], trees: dict[str, Node], split: SplitMatcher | None
) -> tuple[TopicMatcher, list[str]]:
    for tid, query in queries.items():
        tree = parse(query)
        words.update(_russian_words(tree))
        if split is None:
            trees[tid] = tree
        else:
            split.add(tid, query, tree)
    return (Matcher(trees) if split is None else split.done()), sorted(words)


def _russian_words(tree: Node) -> Iterator[str]:
    """The words of a query whose Russian forms its matcher looks for."""
    for term in leaves(tree):
        if is_cyrillic(term.text) and not term.prefix and not is_cjk(term.text):
            yield term.text


def russian_words(queries: Iterable[str]) -> list[str]:
    """The words of these queries whose Russian forms compiling them looks up."""
    return sorted({word for query in queries for word in _russian_words(parse(query))})


@dataclass(frozen=True, slots=True)
class TopicSpec:
    """What a parse worker needs to compile the topics: the queries, and the Russian word forms
    the daemon already looked up (so workers never load the morphology dictionaries)."""

    queries: tuple[tuple[str, str], ...] = ()
    forms: tuple[tuple[str, frozenset[str]], ...] = ()

    def __reduce__(self) -> tuple[Any, ...]:
        # a spec goes to a parse worker with every feed: as bytes packed once, which a worker
        # unpacks once (rebuilding its 15 KB of tuples and sets each time cost 0.1 ms a feed)
        return _unpack_spec, _packed(self)


@functools.lru_cache(maxsize=4)
def _packed(spec: TopicSpec) -> tuple[str, bytes]:
    data = pickle.dumps((spec.queries, spec.forms), protocol=pickle.HIGHEST_PROTOCOL)
    return hashlib.sha256(data).hexdigest(), data


_unpacked: dict[str, TopicSpec] = {}


def _unpack_spec(key: str, data: bytes) -> TopicSpec:
    spec = _unpacked.get(key)
    if spec is None:
        if len(_unpacked) >= 4:
            _unpacked.clear()
        spec = _unpacked[key] = TopicSpec(*pickle.loads(data))
    return spec


@dataclass(frozen=True, slots=True)
class Topic:
    id: str
    title: str


@dataclass(frozen=True, slots=True)
class Topics:
    """The configured topics and their compiled matcher."""

    topics: tuple[Topic, ...]
    matcher: TopicMatcher
    spec: TopicSpec = TopicSpec()

    def __iter__(self) -> Iterator[Topic]:
        return iter(self.topics)

    def __len__(self) -> int:
        return len(self.topics)

    def match(
        self, *, title: str, summary: str = "", content: str = "", explain: bool = False
    ) -> list[Match]:
        fields = {"title": title, "summary": summary, "content": content}
        return self.matcher.match(fields, explain=explain)


def compile_topics(topics: Mapping[str, TopicConfig]) -> Topics:
    matcher, words = compile_matcher({tid: t.query for tid, t in topics.items()})
    spec = TopicSpec(
        tuple((tid, t.query) for tid, t in topics.items()),
        tuple((word, russian_forms(word)) for word in words),
    )
    return Topics(tuple(Topic(tid, t.title) for tid, t in topics.items()), matcher, spec)


@functools.lru_cache(maxsize=4)
def matcher_of(spec: TopicSpec) -> TopicMatcher:
    """The compiled matcher of a spec, compiled once per process (parse workers call this)."""
    give_forms(spec.forms)
    return compile_matcher(dict(spec.queries))[0]
