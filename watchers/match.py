"""Topics compiled from the config, and matching items against them."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from watchers.config import TopicConfig
from watchers.matcher import Hit, Match, Matcher
from watchers.query import parse

__all__ = ["Hit", "Match", "Matcher", "Topic", "Topics", "compile_topics"]


@dataclass(frozen=True, slots=True)
class Topic:
    id: str
    title: str


@dataclass(frozen=True, slots=True)
class Topics:
    """The configured topics and their compiled matcher."""

    topics: tuple[Topic, ...]
    matcher: Matcher

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
    matcher = Matcher({tid: parse(t.query) for tid, t in topics.items()})
    return Topics(tuple(Topic(tid, t.title) for tid, t in topics.items()), matcher)
