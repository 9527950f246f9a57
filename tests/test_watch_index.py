"""The index of watches answers exactly as evaluating every query does (`Matcher`), through
additions, removals, identical queries of many owners and refiling as it learns."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from store import PastItem
from watchers.backtest import preview
from watchers.topics import engine
from watchers.topics.compile import SplitMatcher
from watchers.topics.engine import Document, Matcher
from watchers.topics.index import QueryIndex
from watchers.topics.kept_index import KeptIndex
from watchers.topics.query import QueryError, parse

WORDS = [
    "Shikotan",
    "shikotan",
    "SHIKOTAN",
    "Kuril",
    "kurils",
    "treaty",
    "peace",
    "Japan",
    "japanese",
    "NATO",
    "G7",
    "Zyxwvutan",
    "Курилы",
    "Курилах",
    "курил",
    "договор",
    "договора",
    "мирный",
    "мирному",
    "Шикотан",
    "Шикотане",
    "北方領土",
    "北方四島",
    "色丹",
    "色丹島",
    "外相会談",
    "会談",
    "ロシア",
    "加盟を巡る",
    "2024",
]
QUERY_WORDS = [w for w in WORDS if w not in ("Курилах", "Шикотане", "договора", "мирному")]

word = st.sampled_from(QUERY_WORDS)
term = st.one_of(
    word,
    word.map(lambda w: w[: max(3, len(w) - 2)] + "*"),  # prefix
    word.map(lambda w: "=" + w),  # case
    st.lists(word, min_size=2, max_size=3).map(lambda ws: '"' + " ".join(ws) + '"'),
)
field = st.sampled_from(["", "", "title:", "summary:", "content:"])
# conditions on the item, not words: they narrow a query and cannot be an index key
condition = st.sampled_from(["lang:en", "lang:ru", "lang:ja", "source:tass", "source:kyodo"])


def _queries() -> st.SearchStrategy[str]:
    leaf = st.builds(lambda f, t: f + t, field, term)
    return st.recursive(
        leaf,
        lambda inner: st.one_of(
            st.builds(lambda a, b: f"({a} OR {b})", inner, inner),
            st.builds(lambda a, b: f"({a} AND {b})", inner, inner),
            st.builds(lambda a, b: f"({a} {b})", inner, inner),
            st.builds(lambda a, b: f"({a} -{b})", inner, leaf),
            st.builds(lambda a, b: f"({a} NOT {b})", inner, leaf),
            st.builds(lambda a, c: f"({a} {c})", inner, condition),
            st.builds(lambda a, c: f"({a} -{c})", inner, condition),
            st.builds(lambda a, c, d: f"({a} ({c} OR {d}))", inner, condition, condition),
            st.builds(
                lambda a, n, b: f"{a} NEAR/{n} {b}",
                leaf,
                st.integers(1, 4),
                st.one_of(leaf, st.builds(lambda x, y: f"({x} OR {y})", leaf, leaf)),
            ),
        ),
        max_leaves=5,
    )


def _parses(query: str) -> bool:
    try:
        parse(query)
    except QueryError:
        return False
    return True


queries = _queries().filter(_parses)
joiner = st.sampled_from([" ", " ", ", ", "", "。"])
texts = st.builds(
    lambda parts, seps: "".join(p + s for p, s in zip(parts, seps, strict=False)),
    st.lists(
        st.one_of(st.sampled_from(WORDS), st.sampled_from(["the", "и", "の", "a", "x"])),
        max_size=12,
    ),
    st.lists(joiner, min_size=12, max_size=12),
)
langs = st.sampled_from([None, "en", "ru", "ja"])
sources = st.sampled_from(["tass", "tass-en", "kyodo", "nhk"])
items = st.fixed_dictionaries(
    {"title": texts, "summary": texts, "content": texts, "lang": langs, "source": sources}
)


def _document(item: dict[str, str | None]) -> Document:
    return Document(
        {name: item[name] for name in ("title", "summary", "content")},
        {"lang": item["lang"], "source": item["source"]},
    )


def _answers(
    matcher: Matcher | QueryIndex | SplitMatcher, item: dict[str, str | None]
) -> list[object]:
    doc = _document(item)
    plain = [m.topic_id for m in matcher.match(doc)]
    explained = [(m.topic_id, sorted(map(repr, m.hits))) for m in matcher.match(doc, explain=True)]
    return [plain, explained]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(queries, min_size=1, max_size=8), st.lists(items, min_size=1, max_size=6))
def test_explaining_skips_only_alternatives_that_cannot_match(
    chosen: list[str], documents: list[dict[str, str | None]]
) -> None:
    """An OR explained skips the alternatives none of whose terms occurred: the same topics and
    hits as evaluating every alternative (a matcher compiled with no alternative anchored)."""
    queries = {f"w{n}": parse(query) for n, query in enumerate(chosen)}
    matcher = Matcher(queries)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(engine._Compiler, "_anchors", lambda self, node: None)
        every_alternative = Matcher(queries)
    for item in documents:
        assert _answers(matcher, item) == _answers(every_alternative, item)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(queries, min_size=1, max_size=8), st.lists(items, min_size=1, max_size=6))
def test_an_explained_match_names_the_topics_a_plain_match_does(
    chosen: list[str], documents: list[dict[str, str | None]]
) -> None:
    """A parse worker takes an item's topics from the explained match it makes the brief from
    (`watchers.worker.item_facts`): explaining finds no more and no fewer."""
    matcher = Matcher({f"w{n}": parse(query) for n, query in enumerate(chosen)})
    split = SplitMatcher()
    for n, query in enumerate(chosen):
        split.add(f"w{n}", query, parse(query))
    for topics in (matcher, split.done()):
        for item in documents:
            doc = _document(item)
            plain = [m.topic_id for m in topics.match(doc)]
            assert plain == [m.topic_id for m in topics.match(doc, explain=True)]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(queries, min_size=1, max_size=8), st.lists(items, min_size=1, max_size=6))
def test_the_index_answers_as_evaluating_every_query(
    chosen: list[str], documents: list[dict[str, str | None]]
) -> None:
    owners = {f"w{n}": query for n, query in enumerate(chosen)}
    direct = Matcher({owner: parse(query) for owner, query in owners.items()})
    index = QueryIndex.of(owners, learn=True)
    index.learn_every, index.check_every = 1, 2  # learn and refile within a few items
    for item in documents * 3:
        assert _answers(index, item) == _answers(direct, item)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(queries, min_size=2, max_size=8),
    st.lists(st.integers(0, 7), max_size=6),
    st.lists(items, min_size=1, max_size=4),
)
def test_adding_and_removing_in_place_answers_as_a_fresh_compile(
    chosen: list[str], gone: list[int], documents: list[dict[str, str | None]]
) -> None:
    index = QueryIndex()
    owners: dict[str, str] = {}
    for n, query in enumerate(chosen):
        for copy in range(2):  # each query twice: identical queries of two owners
            owners[f"w{n}-{copy}"] = query
            index.add(query, f"w{n}-{copy}")
    for n in gone:
        if n < len(chosen):
            index.remove(chosen[n], f"w{n}-0")
            owners.pop(f"w{n}-0", None)
    assert len(index) == len(owners)
    assert index.distinct == len(set(owners.values()))
    direct = Matcher({owner: parse(query) for owner, query in owners.items()})
    for item in documents:
        assert _answers(index, item) == _answers(direct, item)


@settings(max_examples=50, deadline=None)
@given(st.lists(queries, min_size=1, max_size=6), st.lists(items, min_size=1, max_size=3))
def test_a_split_matcher_answers_as_one_automaton(
    chosen: list[str], documents: list[dict[str, str | None]]
) -> None:
    topics = {f"t{n}": query for n, query in enumerate(chosen)}
    split = SplitMatcher()
    for tid, query in topics.items():
        split.add(tid, query, parse(query))
    split.done()
    direct = Matcher({tid: parse(query) for tid, query in topics.items()})
    for item in documents:
        assert _answers(split, item) == _answers(direct, item)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(queries, st.lists(st.tuples(texts, texts, langs, sources), min_size=1, max_size=6))
def test_the_watch_preview_counts_what_the_daemon_index_would_have_matched(
    query: str, stored: list[tuple[str, str, str | None, str]]
) -> None:
    # /watch's preview matches stored items (title, summary, language, feed) as the daemon
    # matches new ones
    now = datetime(2026, 11, 1, tzinfo=UTC)
    past = [
        PastItem(n, n, feed, feed, title, summary, None, None, now - timedelta(minutes=n), lang)
        for n, (title, summary, lang, feed) in enumerate(stored)
    ]
    index = QueryIndex.of({"@w1": query}, learn=True)
    expected = [
        item.story_id
        for item in past
        if index.match(
            _document(
                {
                    "title": item.title,
                    "summary": item.summary,
                    "content": "",
                    "lang": item.lang,
                    "source": item.feed_id,
                }
            )
        )
    ]
    count, latest = preview(past, query)
    assert count == len(expected)
    assert [item.story_id for item in latest] == sorted(expected)


def test_identical_queries_compile_once_and_a_query_wakes_by_its_rarest_term() -> None:
    index = QueryIndex()
    for n in range(1000):
        index.add("Shikotan", f"@w{n}")
    index.add("(Zyxwvutan OR Qwertyan) AND minister", "@w-a")
    index.add('"peace treaty" NEAR/3 Japan', "@w-b")
    assert index.distinct == 3 and len(index) == 1002
    assert index.always == ()
    assert index.filed_under("(Zyxwvutan OR Qwertyan) AND minister") == (
        ("w", "zyxwvutan"),
        ("w", "qwertyan"),
    ) or set(index.filed_under("(Zyxwvutan OR Qwertyan) AND minister")) == {
        ("w", "zyxwvutan"),
        ("w", "qwertyan"),
    }
    found = index.match({"title": "Shikotan port", "summary": ""})
    assert [m.topic_id for m in found] == [f"@w{n}" for n in range(1000)]
    index.remove("Shikotan", "@w5")
    assert len(index.match({"title": "Shikotan", "summary": ""})) == 999


def test_a_key_that_wakes_too_often_has_its_queries_filed_again() -> None:
    index = QueryIndex(learn=True)
    index.learn_every, index.check_every = 1, 20
    # the static guess takes the long word for the rarer: items show it is everywhere
    for n in range(30):
        index.add(f"(Ka{n}x OR Mi{n}y) AND earthquakeproof", f"@w{n}")
    assert ("w", "earthquakeproof") in index.filed_under("(Ka1x OR Mi1y) AND earthquakeproof")
    for n in range(40):
        index.match({"title": f"earthquakeproof homes {n}", "summary": "the news of the day"})
    assert set(index.filed_under("(Ka1x OR Mi1y) AND earthquakeproof")) == {
        ("w", "ka1x"),
        ("w", "mi1y"),
    }
    assert [m.topic_id for m in index.match({"title": "Ka1x earthquakeproof"})] == ["@w1"]


def test_a_condition_narrows_a_watch_and_is_never_its_key() -> None:
    index = QueryIndex.of(
        {"a": "Shikotan lang:en", "b": "Shikotan -source:tass", "c": "色丹 lang:ja"}
    )
    assert index.filed_under("Shikotan lang:en") == (("w", "shikotan"),)
    assert index.always == ()
    english = Document({"title": "Shikotan port"}, {"lang": "en", "source": "tass-en"})
    assert [m.topic_id for m in index.match(english)] == ["a"]
    assert [
        m.topic_id for m in index.match(Document({"title": "Shikotan"}, {"source": "nhk"}))
    ] == ["b"]
    japanese = Document({"title": "色丹島の港"}, {"lang": "ja", "source": "nhk"})
    [match] = index.match(japanese, explain=True)
    assert match.topic_id == "c" and ("lang:ja", "lang") in {(h.term, h.field) for h in match.hits}


def test_watches_match_inside_japanese_text() -> None:
    index = QueryIndex.of({"a": "NATO", "b": "Zyxwvutan", "c": "G7 AND 首脳"})
    assert [m.topic_id for m in index.match({"title": "NATO加盟を巡る会談"})] == ["a"]
    assert [m.topic_id for m in index.match({"title": "Zyxwvutan外相会談"})] == ["b"]
    assert [m.topic_id for m in index.match({"title": "G7首脳会議"})] == ["c"]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(queries, min_size=1, max_size=8),
    st.lists(st.integers(0, 7), max_size=4),
    st.lists(items, min_size=1, max_size=5),
    st.booleans(),
)
def test_an_index_restored_from_kept_keys_answers_as_one_built_from_scratch(
    chosen: list[str], gone: list[int], documents: list[dict[str, str | None]], learned: bool
) -> None:
    # the daemon keeps what each watch is filed under and, at a start, files it there unparsed
    owners = {f"w{n}": query for n, query in enumerate(chosen)}
    built = KeptIndex(learn=True)
    for owner, query in owners.items():
        built.add(query, owner)
    if learned:  # keys chosen after items were seen, as a /watch in a running daemon
        built.learn_every, built.check_every = 1, 2
        for item in documents:
            built.match(_document(item))
    kept = {query: built.filing(query) for query in owners.values()}
    restored = KeptIndex(learn=True)
    restored.learn_every, restored.check_every = 1, 2
    for owner, query in owners.items():
        restored.add_filed(query, owner, kept[query])
    for query in owners.values():
        assert restored.filed_under(query) == built.filed_under(query)
        assert restored.filing(query) == kept[query]
    restored.add(chosen[0], "extra")  # a /watch of a query restored, not compiled yet
    owners["extra"] = chosen[0]
    for n in gone:
        if n < len(chosen) and owners.pop(f"w{n}", None) is not None:
            assert restored.remove(chosen[n], f"w{n}")
    assert len(restored) == len(owners) and restored.distinct == len(set(owners.values()))
    scratch = QueryIndex.of(owners)
    direct = Matcher({owner: parse(query) for owner, query in owners.items()})
    for item in documents * 3:
        assert _answers(restored, item) == _answers(scratch, item) == _answers(direct, item)
    assert list(restored.owners()) == list(scratch.owners())


def test_a_restored_query_matches_whichever_of_its_required_terms_it_was_filed_under() -> None:
    # rarity only decides how often a query is woken: under its common term, or under no key
    # at all (evaluated for every item), it answers the same
    query = "Zyxwvutan AND minister -Qwertyan"
    for filing in ('[["w","minister"]]', '[["w","zyxwvutan"]]', "[]"):
        index = KeptIndex()
        index.add_filed(query, "@w1", filing)
        assert index.distinct == 1 and len(index) == 1
        assert index.match({"title": "the minister said"}) == []
        assert [m.topic_id for m in index.match({"title": "Minister Zyxwvutan"})] == ["@w1"]
        assert index.match({"title": "Minister Zyxwvutan and Qwertyan"}) == []
        # compiled once woken: now filed by its terms, as `add` would file it
        assert index.filed_under(query) == QueryIndex.of({"@w1": query}).filed_under(query)


def test_restored_queries_refiled_as_they_wake_are_compiled_once() -> None:
    # the first item wakes both under a key it then finds too common: the index files them
    # again (compiling them) while the same item is matched against them
    index = KeptIndex(learn=True)
    index.learn_every, index.check_every = 1, 1
    index.add_filed("Zyxwvutan AND minister", "@w1", '[["w","minister"]]')
    index.add_filed("Qwertyan AND minister", "@w2", '[["w","minister"]]')
    for _ in range(3):
        found = index.match({"title": "Minister Zyxwvutan"})
        assert [m.topic_id for m in found] == ["@w1"]
    assert index.distinct == 2 and len(index) == 2
    assert set(index.filed_under("Qwertyan AND minister")) == {("w", "qwertyan")}
    assert index.remove("Qwertyan AND minister", "@w2")
    assert index.match({"title": "Qwertyan minister"}) == []


def test_japanese_pieces_wake_wherever_their_first_character_recurs() -> None:
    # the index slices Japanese text only where a filed piece's first character is: the piece
    # may come after that character has already occurred, or end the field
    index = QueryIndex.of({"a": "色丹島", "b": "北方領土問題", "c": "択捉"})
    text = "北方の島、色丹の北方領土問題と色丹島"
    assert [m.topic_id for m in index.match({"title": text})] == ["a", "b"]
    assert [m.topic_id for m in index.match({"title": "択捉", "summary": "色丹島"})] == ["a", "c"]
    index.remove("色丹島", "a")
    assert [m.topic_id for m in index.match({"title": text})] == ["b"]
    index.add("色丹島", "d")
    assert [m.topic_id for m in index.match({"title": text})] == ["b", "d"]


@pytest.mark.parametrize("kind", [QueryIndex, KeptIndex])
def test_watches_added_and_removed_for_months_leave_no_learned_keys_behind(
    kind: type[QueryIndex],
) -> None:
    """What the index learns of its keys (how often each wakes) goes with the last query
    filed under a key: /watch and /unwatch of new words for months must not grow it."""
    index = kind(learn=True)
    index.learn_every, index.check_every = 1, 5
    index.add("Shikotan", "@w0")
    for n in range(1, 200):
        index.add(f"Zyx{n}an", f"@w{n}")
        for _ in range(5):
            index.match({"title": f"Zyx{n}an and Shikotan homes", "summary": ""})
        index.remove(f"Zyx{n}an", f"@w{n}")
    assert len(index._shares) <= 2 and len(index._refiled) <= 2
    assert [m.topic_id for m in index.match({"title": "Shikotan"})] == ["@w0"]
