"""A `source:` no feed is: whether the query then never matches, one of its alternatives never
does, or it leaves nothing out (`watchers.topics.sources.no_feed`), against the matcher."""

from __future__ import annotations

from itertools import chain, combinations
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from watchers.topics.engine import Document, Matcher
from watchers.topics.query import QueryError, parse
from watchers.topics.sources import NoFeed, no_feed, unknown_sources

FEEDS = ["tass-en", "kyodo", "nhk"]


@pytest.mark.parametrize(
    ("query", "found"),
    [
        ("kuril", None),
        ("kuril source:tass", None),  # tass-en's outlet
        ("kuril source:gone", NoFeed("gone", "never")),
        ("ｓｏｕｒｃｅ：gone kuril", NoFeed("gone", "never")),
        ("(kuril OR iturup) source:gone", NoFeed("gone", "never")),
        ("(kuril source:gone) OR (iturup source:lost)", NoFeed("gone", "never")),
        ("kuril -source:tass source:gone", NoFeed("gone", "never")),
        ("kuril -source:gone source:gone", NoFeed("gone", "never")),
        ("title:(kuril source:gone)", NoFeed("gone", "never")),
        # an item is in one language: the alternative beside the source never holds with lang:ru
        ("kuril lang:ru (source:gone OR lang:en)", NoFeed("gone", "never")),
        ("kuril (lang:ru source:gone OR lang:en source:lost) lang:ja", NoFeed("gone", "never")),
        # named for the source it never matches for, not the first written
        ("(kuril OR (iturup source:lost)) source:gone", NoFeed("gone", "never")),
        ("(kuril OR iturup -source:lost) source:gone", NoFeed("gone", "never")),
        # an alternative that can never match, beside one that can
        ("kuril OR (iturup source:gone)", NoFeed("gone", "part")),
        ("kuril OR iturup source:gone", NoFeed("gone", "part")),  # AND binds first
        ("(kuril source:gone) OR (iturup source:kyodo)", NoFeed("gone", "part")),
        ("kuril (source:gone OR source:nhk)", NoFeed("gone", "part")),
        ("kuril (lang:ru OR source:gone)", NoFeed("gone", "part")),
        ("kuril lang:ru (source:gone OR iturup lang:ru)", NoFeed("gone", "part")),
        ("kuril OR (iturup (shikotan OR habomai source:gone))", NoFeed("gone", "part")),
        ("kuril -source:lost OR (iturup source:gone)", NoFeed("gone", "part")),
        # under NOT: the watch matches, and leaves out nothing
        ("kuril -source:gone", NoFeed("gone", "left_out")),
        ("kuril NOT (source:gone OR source:kyodo)", NoFeed("gone", "left_out")),
        ("kuril -(iturup source:gone)", NoFeed("gone", "left_out")),
        ("kuril -(iturup -source:gone)", NoFeed("gone", "left_out")),
        ("kuril OR (iturup -source:gone)", NoFeed("gone", "left_out")),
    ],
)
def test_a_source_no_feed_is_and_what_it_does_to_the_query(
    query: str, found: NoFeed | None
) -> None:
    assert no_feed(parse(query), FEEDS) == found


@pytest.mark.parametrize(
    ("query", "needed"),
    [
        ("kuril source:tass", ()),
        ("kuril -source:gone", ()),  # under NOT: it leaves out nothing, needs no feed
        ("kuril -(iturup -source:gone)", ()),
        ("kuril source:gone", ("gone",)),
        # every one, not only the first `no_feed` names
        ("(kuril source:gone) OR (iturup source:lost)", ("gone", "lost")),
        ("(kuril OR (iturup source:lost)) source:gone", ("lost", "gone")),
        ("kuril (source:gone OR source:lost OR source:nhk)", ("gone", "lost")),
        ("kuril source:gone -source:lost", ("gone",)),
        ("source:gone kuril OR source:gone iturup", ("gone",)),  # once each
        ("ｓｏｕｒｃｅ：gone kuril", ("gone",)),
    ],
)
def test_every_source_no_feed_is_that_a_query_needs(query: str, needed: tuple[str, ...]) -> None:
    assert unknown_sources(parse(query), FEEDS) == needed


WORDS = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot"]

# a query's shape: leaves are a word (each a new one), a feed's source, a source no feed is,
# or a language
LEAF = st.sampled_from(["word"] * 6 + ["known", "gone", "lost", "ru", "en"])
SHAPE = st.recursive(
    LEAF,
    lambda inner: st.one_of(
        st.tuples(st.sampled_from(["AND", "OR"]), st.lists(inner, min_size=2, max_size=3)),
        st.tuples(st.just("NOT"), inner),
    ),
    max_leaves=len(WORDS),
)


def written(shape: Any, words: list[str], known: list[str]) -> str:
    """The query of `shape`, each word used once and each feed's source at most once (a word
    twice, or two feeds, could make a query that never matches for reasons of its own)."""
    if shape == "word":
        return words.pop(0)
    if shape == "known":
        return f"source:{known.pop(0)}" if known else "source:gone"
    if shape in ("ru", "en"):
        return f"lang:{shape}"
    if isinstance(shape, str):
        return f"source:{shape}"
    if shape[0] == "NOT":
        return f"-({written(shape[1], words, known)})"
    return "(" + f" {shape[0]} ".join(written(s, words, known) for s in shape[1]) + ")"


def matches_an_item(query: str, feeds: list[str] = FEEDS) -> bool:
    """Whether any item matches: every set of the words, from each feed, in each language."""
    matcher = Matcher({"q": parse(query)})
    used = [w for w in WORDS if w in query]
    sets = list(chain.from_iterable(combinations(used, n) for n in range(len(used) + 1)))
    return any(
        matcher.match(Document({"title": " ".join(words)}, {"source": feed, "lang": lang}))
        for words in sets
        for feed in feeds
        for lang in ("ru", "en", "ja", None)
    )


@settings(max_examples=300, deadline=None)
@given(SHAPE, st.sampled_from(FEEDS))
def test_never_is_said_of_exactly_the_queries_no_item_matches(shape: Any, feed: str) -> None:
    query = written(shape, list(WORDS), [feed.split("-")[0]])
    try:
        tree = parse(query)
    except QueryError:  # a source alone, every term negated: refused before any check
        assume(False)
        raise
    found = no_feed(tree, FEEDS)
    unknown = "source:gone" in query or "source:lost" in query
    never = found is not None and found.reach == "never"
    assert never == (unknown and not matches_an_item(query)), (query, found)
    if found is not None and found.reach != "left_out":
        assert f"source:{found.source}" in query
    if never and matches_an_item(query, [*FEEDS, "gone", "lost"]):  # for want of a feed:
        assert found is not None and matches_an_item(query, [*FEEDS, found.source])  # that one
    needed = unknown_sources(tree, FEEDS)
    assert all(f"source:{source}" in query for source in needed)
    if found is None or found.reach == "left_out":
        assert needed == ()
    elif found.reach == "part":
        assert found.source in needed
