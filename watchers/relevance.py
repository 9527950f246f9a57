"""The relevance report: subscribers' "Not relevant" presses grouped by topic, with the query
terms that matched those items, and an exclusion to try where one term explains most of them.
Pure: plain records in, report out (`bot/operator/feedback.py` says it, for `kurilwatch
feedback` and /feedback)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from watchers.topics.engine import Document, Matcher
from watchers.topics.query import And, Field, Near, Node, Or, Phrase, Term, conditions, parse

UNMATCHED = ""  # the group of items no topic matches any longer


@dataclass(frozen=True, slots=True)
class Complaint:
    """One "Not relevant" press, with the item it was about."""

    chat_id: int
    item_id: int
    topic: str | None  # the alert's topic, when the press recorded one
    title: str
    summary: str
    link: str | None = None
    lang: str | None = None  # the item's language and feed, for `lang:` and `source:`
    feed_id: str | None = None


@dataclass(frozen=True, slots=True)
class Flagged:
    """An item marked not relevant for a topic: by how many chats, and the terms that matched."""

    item_id: int
    title: str
    link: str | None
    chats: int
    terms: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class TopicReport:
    topic_id: str  # UNMATCHED for items no topic matches now
    items: tuple[Flagged, ...]  # most pressed first
    terms: tuple[tuple[str, int], ...]  # term, how many of the items it matched; most first
    suggestion: str | None  # `-term` or `NOT "phrase"`, when one term explains most items


def exclusion(term: str) -> str:
    """The query syntax that excludes a term as explain names it."""
    return f"NOT {term}" if term.startswith('"') else f"-{term}"


def relevance_report(
    complaints: Iterable[Complaint],
    queries: Mapping[str, str],
    *,
    most: float = 0.6,
    at_least: int = 2,
) -> list[TopicReport]:
    """Group the complaints by topic (an alert without a recorded topic goes to every topic
    that matches its item), and say which terms matched. A term that matched at least
    `at_least` items and over `most` of them is suggested as an exclusion (backtest shows what
    it would cost)."""
    matcher = Matcher({tid: parse(q) for tid, q in queries.items()})
    chats: dict[tuple[str, int], set[int]] = {}
    seen: dict[int, Complaint] = {}
    terms: dict[tuple[str, int], tuple[str, ...]] = {}
    for complaint in complaints:
        seen.setdefault(complaint.item_id, complaint)
        fields = Document(
            {"title": complaint.title, "summary": complaint.summary},
            {"lang": complaint.lang, "source": complaint.feed_id},
        )
        matched = {m.topic_id: m for m in matcher.match(fields, explain=True)}
        if complaint.topic is not None:
            topics = [complaint.topic if complaint.topic in matched else UNMATCHED]
        else:
            topics = list(matched) or [UNMATCHED]
        for topic in topics:
            key = (topic, complaint.item_id)
            chats.setdefault(key, set()).add(complaint.chat_id)
            if topic in matched:
                terms[key] = tuple(dict.fromkeys(h.term for h in matched[topic].hits))
    by_topic: dict[str, list[Flagged]] = {}
    for (topic, item_id), who in chats.items():
        item = seen[item_id]
        flagged = Flagged(item_id, item.title, item.link, len(who), terms.get((topic, item_id), ()))
        by_topic.setdefault(topic, []).append(flagged)
    order = [*queries, UNMATCHED]
    reports = []
    for topic in sorted(by_topic, key=lambda t: order.index(t) if t in order else len(order)):
        items = sorted(by_topic[topic], key=lambda f: (-f.chats, f.item_id))
        counts = Counter(term for f in items for term in f.terms)
        ranked = tuple(sorted(counts.items(), key=lambda tc: (-tc[1], tc[0])))
        suggestion = None
        if topic != UNMATCHED:
            tree = parse(queries[topic])
            # a lang: or source: condition says which items, not what is wrong with them
            needed = _needed(tree) | {str(condition) for condition in conditions(tree)}
            for term, n in ranked:
                if n < at_least or n <= most * len(items):
                    break
                if term not in needed:  # excluding it, the topic would match nothing at all
                    suggestion = exclusion(term)
                    break
        reports.append(TopicReport(topic, tuple(items), ranked, suggestion))
    return reports


def _needed(node: Node) -> set[str]:
    """The terms and phrases (as explain names them) that every match of `node` has."""
    if isinstance(node, Term | Phrase):
        return {str(node)}
    if isinstance(node, Field):
        return _needed(node.child)
    if isinstance(node, Near):
        return _needed(node.left) | _needed(node.right)
    if isinstance(node, And):
        return set().union(*map(_needed, node.children))
    if isinstance(node, Or):
        return set.intersection(*map(_needed, node.children))
    return set()  # NOT, lang:, source:
