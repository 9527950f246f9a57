"""Topics compiled from the config, and matching items against them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from watchers.config import TopicConfig
from watchers.query import Document, Hit, Node, evaluate, parse


@dataclass(frozen=True, slots=True)
class Topic:
    id: str
    title: str
    query: Node


@dataclass(frozen=True, slots=True)
class Match:
    topic_id: str
    hits: tuple[Hit, ...] = ()


def compile_topics(topics: Mapping[str, TopicConfig]) -> tuple[Topic, ...]:
    return tuple(Topic(tid, t.title, parse(t.query)) for tid, t in topics.items())


def match_document(doc: Document, topics: Iterable[Topic], *, explain: bool = False) -> list[Match]:
    matches = []
    for topic in topics:
        hits: list[Hit] | None = [] if explain else None
        if evaluate(topic.query, doc, hits):
            matches.append(Match(topic.id, tuple(hits or ())))
    return matches


def match_text(
    topics: Iterable[Topic], *, title: str, summary: str = "", explain: bool = False
) -> list[Match]:
    """Topics whose query matches an item's title and summary."""
    return match_document(
        Document.of({"title": title, "summary": summary}), topics, explain=explain
    )
