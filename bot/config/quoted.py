"""A topic's query written in YAML's quotes as a phrase is written in the query language
(`query: "peace treaty"`): YAML took the quotes off, and its words match anywhere in an item.
A warning, from the YAML node's style, which the models do not keep."""

from __future__ import annotations

from collections.abc import Mapping

import yaml

from watchers.config import TopicConfig
from watchers.config_checks import (
    OPERATOR_WORDS,
    Warning,
    WarningValue,
    Words,
    places_of,
    written_as,
)
from watchers.topics.lexer import N_, lex

QUOTES = ('"', "'")  # a scalar's style: double- or single-quoted


def plain_words(query: str) -> list[str]:
    """The words of a query of two or more words and nothing else of the query language (no
    operator, parenthesis, quote, field, `-`, `=` or `*`, nor a lower-case `or` the operator
    warning names): what a phrase's quotes would make a phrase. Empty for any other query."""
    tokens = [t for t in lex(query) if t.kind != "END"]
    words = [t.text for t in tokens]
    plain = all(t.kind == "WORD" for t in tokens) and not any(
        "*" in w or w.lower() in OPERATOR_WORDS for w in words
    )
    return words if plain and len(words) > 1 else []


def quoted_about(topic: str, query: str) -> tuple[str, ...]:
    """What the warning of `topic`'s query is about: a reload tells it when the edit changed
    that query (the running config's models do not say how its queries were quoted)."""
    return ("query", topic, query, "yaml quotes")


def quoted_phrases(topics: Mapping[str, TopicConfig], node: yaml.Node | None) -> list[Warning]:
    """A warning for each topic whose query `node` (the config's YAML, read again) holds as a
    quoted scalar of `plain_words`, in the order of the topics."""
    meant = {tid: words for tid, topic in topics.items() if (words := plain_words(topic.query))}
    if node is None or not meant:
        return []
    out = []
    locs = [("topics", tid, "query") for tid in meant]
    for loc, (_, at) in zip(locs, places_of(node, locs), strict=True):
        query = topics[loc[1]].query
        if not isinstance(at, yaml.ScalarNode) or at.style not in QUOTES or at.value != query:
            continue  # written without quotes, or changed since it was loaded
        words = meant[loc[1]]  # the phrase's words in a row, whatever spaces were between
        phrase = f'"{" ".join(words)}"'.replace("'", "''")  # a single-quoted scalar's ' is ''
        values: dict[str, WarningValue] = {
            "written": written_as(f"{at.style}{query}{at.style}"),
            "words": Words(tuple(words)),
            "phrase": written_as(f"'{phrase}'"),
        }
        why = N_(
            "{written} is read as the words {words}, anywhere in an item (YAML took the quotes"
            " off); for the phrase, write {phrase}"
        )
        out.append(Warning(loc, why, quoted_about(loc[1], query), values=values))
    return out
