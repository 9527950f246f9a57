"""The query language: parsing, errors with columns, and matching in three languages."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from watchers.query import And, Document, Hit, Not, Or, Phrase, QueryError, Term, evaluate, parse


def matches(query: str, title: str, summary: str = "") -> bool:
    return evaluate(parse(query), Document.of({"title": title, "summary": summary}))


def test_tree_shape() -> None:
    assert parse("a b OR c") == Or((And((Term("a"), Term("b"))), Term("c")))
    assert parse('kuril* -"fish market"') == And(
        (Term("kuril", prefix=True), Not(Phrase((Term("fish"), Term("market")))))
    )
    assert parse("NOT (x OR y) z") == And((Not(Or((Term("x"), Term("y")))), Term("z")))
    assert parse("yuzhno-kurilsk") == Phrase((Term("yuzhno"), Term("kurilsk")))


@pytest.mark.parametrize(
    ("query", "title", "expected"),
    [
        ("kuril*", "The Kurils and the Kuril Islands", True),
        ("kuril*", "Kurdish news", False),
        ("iturup", "ITURUP airport", True),
        ('"peace treaty"', "Peace  treaty talks", True),
        ('"peace treaty"', "treaty of peace", False),
        ("japan AND russia", "Japan and Russia", True),
        ("japan AND russia", "Japan and China", False),
        ("japan -china", "Japan and China", False),
        ("japan NOT china", "Japan today", True),
        ("(a OR b) c", "b c", True),
        ("(a OR b) c", "a b", False),
        ("курилы", "КУРИЛЫ сегодня", True),
        ("ёлка", "Елка и ёж", True),
        ("елка", "Ёлка", True),
        ("курилы", "Кури́лы", True),  # stress mark
        ('"мирн* договор*"', "о мирном договоре с Японией", True),
        ("北方領土", "政府は北方領土問題について", True),
        ("北方4島", "北方４島の元島民", True),  # full-width digit after NFKC
        ("国後島", "帰国後に会見", False),
        ("yuzhno-kurilsk", "In Yuzhno-Kurilsk today", True),
        ("yuzhno-kurilsk", "Yuzhno and Kurilsk", False),
    ],
)
def test_matching(query: str, title: str, expected: bool) -> None:
    assert matches(query, title) is expected


def test_summary_field_counts_and_explain_names_fields() -> None:
    node = parse('kuril* OR "peace treaty"')
    doc = Document.of({"title": "Talks", "summary": "on the peace treaty and the Kurils"})
    hits: list[Hit] = []
    assert evaluate(node, doc, hits)
    assert hits == [Hit("kuril*", ("summary",)), Hit('"peace treaty"', ("summary",))]


def test_negated_terms_are_not_reported() -> None:
    hits: list[Hit] = []
    assert evaluate(parse("japan -china"), Document.of({"title": "Japan"}), hits)
    assert hits == [Hit("japan", ("title",))]


@pytest.mark.parametrize(
    ("query", "column", "message"),
    [
        ("", 1, "the query is empty"),
        ('kuril "peace', 7, "unclosed quote"),
        ("(a OR b", 1, "'(' is never closed"),
        ("a OR b)", 7, "')' without a matching '('"),
        ("a OR", 5, "a term is missing at the end"),
        ("a OR OR b", 6, "OR needs a term after it"),
        ("ku*", 1, "a prefix needs at least 3 letters"),
        ("k*l", 1, "'*' may only end a term"),
        ("-a", 1, "at least one term that is not negated"),
        ("()", 1, "empty parentheses"),
        ('a ""', 3, "empty quotes"),
        ("a - b", 3, "'-' must stand right before"),
    ],
)
def test_errors_name_the_column(query: str, column: int, message: str) -> None:
    with pytest.raises(QueryError) as info:
        parse(query)
    assert info.value.column == column
    assert message in info.value.message


words = st.text(st.characters(categories=("L", "N")), min_size=3, max_size=12)


@given(st.lists(words, min_size=1, max_size=8), st.data())
def test_every_word_of_a_text_matches_itself(text_words: list[str], data: st.DataObject) -> None:
    title = " ".join(text_words)
    word = data.draw(st.sampled_from(text_words))
    node = parse(f'"{word}"')
    assert evaluate(node, Document.of({"title": title}))


@given(st.text(max_size=200))
def test_any_text_either_parses_or_raises_query_error(query: str) -> None:
    try:
        node = parse(query)
    except QueryError as exc:
        assert 1 <= exc.column <= len(query) + 1
    else:
        evaluate(node, Document.of({"title": query}))


@given(st.text(max_size=2000))
def test_matching_any_text_is_total(text: str) -> None:
    node = parse('kuril* OR "мирн* договор*" OR 北方領土 OR (japan -china)')
    assert evaluate(node, Document.of({"title": text, "summary": text})) in (True, False)
