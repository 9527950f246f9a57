"""The backtest and the matcher against a plain evaluation of the query tree, written here from
the query language's description: random queries (NOT, OR inside AND, phrases, NEAR, fields,
lang: and source:, Russian word forms, Japanese runs) over random items."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from store import PastItem
from watchers.backtest import backtest
from watchers.topics.engine import Document, Matcher
from watchers.topics.index import QueryIndex
from watchers.topics.morph import russian_forms
from watchers.topics.normalise import WORD, is_cjk, is_cyrillic, normalise
from watchers.topics.query import (
    And,
    Field,
    Meta,
    Near,
    Node,
    Not,
    Or,
    Phrase,
    QueryError,
    Term,
    parse,
)

T0 = datetime(2026, 11, 1, tzinfo=UTC)
BODY = {"summary", "content"}  # a feed's summary and content are one text: either field is it
GROUPS = {"title": {"title"}, "summary": BODY, "content": BODY}
Words = dict[str, list[str]]


def _term_at(term: Term, words: list[str]) -> set[int]:
    """The word positions where `term` matches in a field's words."""
    if is_cjk(term.text):
        haystack = " " + " ".join(words) + " "
        starts = [i for i in range(len(haystack)) if haystack.startswith(term.text, i)]
        return {haystack.count(" ", 0, s) - 1 for s in starts}
    if term.prefix:
        return {i for i, w in enumerate(words) if w.startswith(term.text)}
    forms = russian_forms(term.text) if is_cyrillic(term.text) else {term.text}
    return {i for i, w in enumerate(words) if w in forms}


def _at(node: Node, words: Words, fields: set[str]) -> dict[str, set[int]]:
    """Per field, the word positions where a term, phrase, or OR / field of them starts."""
    if isinstance(node, Term):
        return {f: _term_at(node, words[f]) for f in fields if f in words}
    if isinstance(node, Phrase):
        out = {}
        for f in fields:
            if f in words:
                starts = _term_at(node.terms[0], words[f])
                for n, term in enumerate(node.terms[1:], 1):
                    starts &= {p - n for p in _term_at(term, words[f])}
                out[f] = starts
        return out
    if isinstance(node, Field):
        return _at(node.child, words, fields & GROUPS[node.name])
    assert isinstance(node, Or)
    out: dict[str, set[int]] = {}
    for child in node.children:
        for f, found in _at(child, words, fields).items():
            out.setdefault(f, set()).update(found)
    return out


def holds(node: Node, words: Words, meta: dict[str, str | None], fields: set[str]) -> bool:
    """Whether `node` matches: the plain reading of the query language."""
    if isinstance(node, Meta):
        return node.holds(meta)
    if isinstance(node, Term | Phrase):
        return any(_at(node, words, fields).values())
    if isinstance(node, Field):
        return holds(node.child, words, meta, fields & GROUPS[node.name])
    if isinstance(node, Not):
        return not holds(node.child, words, meta, fields)
    if isinstance(node, And):
        return all(holds(c, words, meta, fields) for c in node.children)
    if isinstance(node, Or):
        return any(holds(c, words, meta, fields) for c in node.children)
    assert isinstance(node, Near)
    left, right = _at(node.left, words, fields), _at(node.right, words, fields)
    return any(
        abs(a - b) <= node.distance
        for f in left.keys() & right.keys()
        for a in left[f]
        for b in right[f]
    )


def plainly(query: str, item: PastItem) -> bool:
    words = {
        name: WORD.findall(normalise(text))
        for name, text in (("title", item.title), ("summary", item.summary))
        if text
    }
    meta = {"lang": item.lang, "source": item.feed_id}
    return holds(parse(query), words, meta, {"title", "summary", "content"})


TERMS = st.sampled_from(
    [
        "kuril*",
        "iturup",
        "Итуруп",
        "курилы",
        '"peace treaty"',
        "北方領土",
        "平和条約",
        "drills",
        "lang:ru",
        "lang:ja",
        "source:tass",
        "title:iturup",
        "summary:drills",
    ]
)
NEARS = st.builds(
    lambda a, n, b: f"{a} NEAR/{n} {b}",
    st.sampled_from(["kuril*", "iturup", "итуруп", '"peace treaty"', "title:(drills OR iturup)"]),
    st.integers(1, 3),
    st.sampled_from(["drills", "treaty", "курилы", "(news OR iturup)"]),
)
QUERY = st.recursive(
    TERMS | NEARS,
    lambda inner: st.one_of(
        st.builds(lambda a, b: f"({a} OR {b})", inner, inner),
        st.builds(lambda a, b: f"({a} {b})", inner, inner),
        st.builds(lambda a: f"-{a}", inner),
        st.builds(lambda a: f"title:({a})", inner),
    ),
    max_leaves=5,
)
TEXT = st.lists(
    st.sampled_from(
        [
            "Kuril",
            "KURILS",
            "Iturup",
            "Итурупе",
            "Итуруп",
            "Курил",
            "peace",
            "treaty",
            "北方領土",
            "北方領土問題",
            "平和条約",
            "drills",
            "news",
        ]
    ),
    max_size=6,
)
ITEM = st.tuples(
    TEXT,
    TEXT,
    st.sampled_from(["en", "ru", "ja", None]),
    st.sampled_from(["tass-en", "nhk", "tass"]),
    st.integers(1, 4),
)


Row = tuple[list[str], list[str], str | None, str, int]
# an OR with a NOT or a condition on one side needs none of its terms: "kuril" alone matches
KURIL_ALONE: Row = (["Kuril", "news"], [], "ru", "tass-en", 1)


def _item(n: int, row: Row) -> PastItem:
    title, summary, lang, feed, story = row
    return PastItem(
        n, story, feed, feed, " ".join(title), " ".join(summary), None, None,
        T0 + timedelta(hours=n), lang,
    )  # fmt: skip


def _parses(query: str) -> bool:
    try:
        parse(query)
    except QueryError:
        return False
    return True


@given(QUERY, ITEM)
@example("kuril* (iturup OR -drills)", KURIL_ALONE)
@example("kuril* (lang:ru OR iturup)", KURIL_ALONE)
@example("kuril* (source:tass OR 北方領土)", KURIL_ALONE)
@settings(max_examples=600, deadline=None)
def test_the_matchers_agree_with_the_plain_reading(query: str, row: Row) -> None:
    """The automaton (a config's topics) and the index (chats' watches, configs of 200+
    topics) match exactly when the plain reading does."""
    assume(_parses(query))
    one = _item(1, row)
    doc = Document(
        {"title": one.title, "summary": one.summary}, {"lang": one.lang, "source": one.feed_id}
    )
    index = QueryIndex()
    index.add(query, "q", parse(query))
    expected = plainly(query, one)
    assert bool(Matcher({"q": parse(query)}).match(doc)) == expected
    assert bool(index.match(doc)) == expected


@given(st.lists(ITEM, max_size=10), QUERY, QUERY)
@example([KURIL_ALONE], "kuril*", "kuril* (iturup OR -drills)")
@settings(max_examples=300, deadline=None)
def test_backtest_gains_and_loses_what_a_plain_reading_does(
    rows: list[Row], old: str, new: str
) -> None:
    assume(_parses(old) and _parses(new))
    items = [_item(n, row) for n, row in enumerate(rows, 1)]
    before = {i.story_id for i in items if plainly(old, i)}
    after = {i.story_id for i in items if plainly(new, i)}
    diffs = backtest(items, {"t": old}, {"t": new})
    if old == new:
        assert diffs == []
        return
    [diff] = diffs
    assert {c.story_id for c in diff.gained} == after - before
    assert {c.story_id for c in diff.lost} == before - after
    assert diff.unchanged == len(before & after)
