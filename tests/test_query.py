"""The query language: parsing, errors with columns, and matching in three languages."""

from __future__ import annotations

import re
from collections.abc import Iterator
from unittest import mock

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from watchers import bounded
from watchers.topics import lexer
from watchers.topics import normalise as normalise_module
from watchers.topics import query as query_module
from watchers.topics.engine import Hit, Matcher
from watchers.topics.lexer import Token
from watchers.topics.query import (
    MAX_LENGTH,
    MAX_NEARS,
    MAX_TERMS,
    And,
    Not,
    Or,
    Phrase,
    QueryError,
    Term,
    parse,
)


def matches(query: str, title: str, summary: str = "") -> bool:
    return bool(Matcher({"t": parse(query)}).match({"title": title, "summary": summary}))


def explain(query: str, **fields: str) -> list[Hit]:
    [match] = Matcher({"t": parse(query)}).match(fields, explain=True)
    return list(match.hits)


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


def test_summary_field_counts_and_explain_names_fields_and_offsets() -> None:
    hits = explain(
        'kuril* OR "peace treaty"', title="Talks", summary="on the peace treaty and the Kurils"
    )
    # where each begins and ends: a phrase through its last word, a prefix's word whole
    assert hits == [Hit("kuril*", "summary", 28, 34), Hit('"peace treaty"', "summary", 7, 19)]


JAPANESE_BEFORE = st.lists(
    st.sampled_from(["ｶﾞ", "ﾊﾟ", "ｽ", "ガ", "の", "㌔", "Ⅻ", "四", "ｰ", "Ｎ", "\u200b", "、", " "]),
    max_size=6,
)


@given(JAPANESE_BEFORE)
@example(["ｶﾞ", "ｽ"])  # half-width ｶﾞ is one character once normalised: the offset was 2
@example(["ﾊﾟ", "ﾊﾟ"])
def test_a_japanese_term_inside_a_run_is_explained_where_it_is_written(before: list[str]) -> None:
    title = "".join(before) + "北方領土の返還"
    [hit] = explain("北方領土", title=title)
    assert hit.offset is None or normalise_module.normalise(title[hit.offset :]).startswith(
        "北方領土"
    ), hit
    # and ends where it does: the brief sets it in bold, not the rest of its run
    assert hit.offset is None or normalise_module.normalise(title[hit.offset : hit.end]) == (
        "北方領土"
    ), hit


@pytest.mark.parametrize(
    ("query", "title", "offset"),
    [
        ("北方領土", "ｶﾞｽ北方領土の返還", 3),
        ("北方領土", "ﾊﾟﾊﾟ北方領土", 4),
        ("北方領土", "返還\u200b北方領土", 3),
        # soft hyphens and stress marks inside words (a site's &shy;): offsets were None
        ("kunashir", "Ku\u00adril and Ku\u00adna\u00adshir", 11),
        ("итуруп", "Визит на Итуру\u0301пе", 9),
        ("итуруп", "Ви\u0301зит на Итуру\u0301пе", 10),
        ("北方領土", "㌔北方領土", None),  # キロ北方領土 once normalised: no word as written
    ],
)
def test_explain_places_a_term_where_it_is_written(
    query: str, title: str, offset: int | None
) -> None:
    [hit] = explain(query, title=title)
    assert hit.offset == offset


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("(kuril OR iturup) title:iturup", [("kuril", 0, 5), ("iturup", 14, 20)]),
        ("kuril* NEAR/3 islands OR kuril*", [("kuril*", 0, 5), ("islands", 6, 13)]),
    ],
)
def test_a_term_found_twice_in_one_place_is_one_hit(
    query: str, expected: list[tuple[str, int, int]]
) -> None:
    """Two parts of a query that match the same word named it twice in --explain."""
    from watchers.topics.index import QueryIndex

    title = "Kuril islands iturup"
    hits = explain(query, title=title)
    assert hits == [Hit(term, "title", offset, end) for term, offset, end in expected]
    index = QueryIndex()  # chats' watches, configs of 200+ topics
    index.add(query, "t", parse(query))
    [match] = index.match({"title": title}, explain=True)
    assert list(match.hits) == hits


def test_negated_terms_are_not_reported() -> None:
    assert explain("japan -china", title="Japan") == [Hit("japan", "title", 0, 5)]


@pytest.mark.parametrize(
    ("query", "column", "message"),
    [
        ("", 1, "the query is empty"),
        ('kuril "peace', 7, "unclosed quote"),
        ("(a OR b", 1, "'(' is never closed"),
        ("a OR b)", 7, "')' without a matching '('"),
        ("a OR", 5, "a term is missing at the end"),
        ("a OR OR b", 6, "a term is missing before OR"),
        ("AND Shikotan", 1, "a term is missing before AND"),  # was "AND needs a term after it"
        ("(NEAR/3 x)", 2, "a term is missing before NEAR/3"),
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


def _nears(n: int) -> str:
    return " ".join(f"a{i} NEAR/3 b{i}" for i in range(n))


@pytest.mark.parametrize(
    ("query", "column", "message"),
    [
        (_nears(MAX_NEARS + 1), len(_nears(MAX_NEARS)) + 5, f"more than {MAX_NEARS} NEARs"),
        (
            " ".join(f"w{i}" for i in range(MAX_TERMS + 1)),
            len(" ".join(f"w{i}" for i in range(MAX_TERMS))) + 2,
            f"more than {MAX_TERMS} terms",
        ),
        ('"a b" ' * (MAX_TERMS // 2) + "-c", MAX_TERMS // 2 * 6 + 2, "terms"),  # phrases' words
        ("k" * (MAX_LENGTH + 1), MAX_LENGTH + 1, f"longer than {MAX_LENGTH} characters"),
    ],
)
def test_a_query_costs_at_most_so_many_nears_terms_and_characters(
    query: str, column: int, message: str
) -> None:
    with pytest.raises(QueryError) as info:
        parse(query)
    assert info.value.column == column
    assert message in info.value.message


def test_queries_at_the_limits_parse() -> None:
    parse(_nears(MAX_NEARS))
    parse(" ".join(f"w{i}" for i in range(MAX_TERMS)))
    parse("k" * MAX_LENGTH)


words = st.text(st.characters(categories=("L", "N")), min_size=3, max_size=12)


def test_a_word_with_a_letter_unicodedata_cannot_name_matches_itself() -> None:
    # pymorphy3 asks unicodedata for each letter's name, which Python 3.11 lacks for Tangut
    assert matches('"0\U00017000Ѐ"', "0\U00017000Ѐ")


@given(st.lists(words, min_size=1, max_size=8), st.data())
def test_every_word_of_a_text_matches_itself(text_words: list[str], data: st.DataObject) -> None:
    title = " ".join(text_words)
    word = data.draw(st.sampled_from(text_words))
    assert matches(f'"{word}"', title)


@given(st.text(max_size=200))
def test_any_text_either_parses_or_raises_query_error(query: str) -> None:
    try:
        node = parse(query)
    except QueryError as exc:
        assert 1 <= exc.column <= len(query) + 1
    else:
        Matcher({"t": node}).match({"title": query, "summary": query})


@given(st.lists(st.sampled_from("abc"), max_size=40), st.integers(min_value=1, max_value=4))
def test_near_matches_exactly_when_two_of_its_words_are_that_close(
    words: list[str], distance: int
) -> None:
    a_at = [n for n, w in enumerate(words) if w == "a"]
    b_at = [n for n, w in enumerate(words) if w == "b"]
    close = [(i, j) for i in a_at for j in b_at if abs(i - j) <= distance]
    title = " ".join(words)
    found = Matcher({"t": parse(f"a NEAR/{distance} b")}).match({"title": title}, explain=True)
    assert bool(found) == bool(close)
    if close:  # explained by the first "a" that has a partner, and its first partner
        [left, right] = found[0].hits
        assert (left.offset, right.offset) == (close[0][0] * 2, close[0][1] * 2)


SHIPPED_LIKE = Matcher(
    {
        "a": parse('kuril* OR "мирный договор" OR 北方領土 OR (japan -china)'),
        "b": parse("title:=Курилы NEAR/3 (остров OR гряда) OR summary:iturup"),
    }
)


@given(st.text(max_size=2000), st.text(max_size=2000))
def test_matching_any_text_is_total(title: str, summary: str) -> None:
    for match in SHIPPED_LIKE.match({"title": title, "summary": summary}, explain=True):
        assert match.topic_id in ("a", "b")
        for hit in match.hits:
            text = title if hit.field == "title" else summary
            assert hit.offset is None or 0 <= hit.offset < len(text)


@pytest.mark.parametrize(
    ("query", "title", "summary", "expected"),
    [
        # Russian morphology: dictionary forms match every inflection, nothing else
        ("курилы", "На Курилах прошли учения", "", True),
        ("курилы", "Туристы едут на Курилы", "", True),
        ("курилы", "Рыбаки у Южных Курил", "", True),
        ("курилы", "Он много курил", "", True),  # the same surface form: see =Курилы
        ("=Курилы", "Он много курил", "", False),
        ("=Курилы", "Рыбаки у Южных Курил", "", True),
        ("=Курилы", "РЫБАКИ У ЮЖНЫХ КУРИЛ", "", True),
        ("курилы", "Курильщики и курилка", "", False),
        ('"курильские острова"', "Гости Курильских островов", "", True),
        ('"мирный договор"', "о мирном договоре с Японией", "", True),
        ('"мирный договор"', "переговоры по мирному договору", "", True),
        ('"мирный договор"', "мирное население и договор аренды", "", False),
        ("япония", "визит в Японию", "", True),
        # NFKC, kanji digits, stress marks
        ("北方四島", "北方4島の元島民", "", True),
        ("北方4島", "北方四島交流", "", True),
        (
            "北方領土\u3000OR\u3000北方四島",
            "北方4島の元島民",
            "",
            True,
        ),  # a Japanese keyboard's space
        ("кури́лы", "Курилы", "", True),
        # a soft hyphen or a zero-width space pasted inside a word (&shy; in a feed's title)
        ("шикотан", "На Шико\u00adтане открыли школу", "", True),
        ("шико\u00adтан", "На Шикотане открыли школу", "", True),
        ("kunashir", "Kuna\u200bshir ferry", "", True),
        ('"peace treaty"', "peace\u2060 treaty talks", "", True),
        # a Latin or digit word attached to Japanese text is a word of its own
        ("NATO", "NATO加盟を巡る会談", "", True),
        ("Zyxwvutan", "Zyxwvutan外相会談", "", True),
        ("Zyxwvutan", "外相 Zyxwvutan 会談", "", True),
        ("G7 AND APEC", "G7サミットとAPEC首脳会議", "", True),
        ("=NATO", "NATO加盟を巡る会談", "", True),
        ("nat*", "NATO加盟", "", True),
        ('"NATO 加盟"', "NATO加盟を巡る会談", "", True),
        ("加盟を巡る", "NATO加盟を巡る会談", "", True),
        ("NATO", "NATOの", "", True),
        ("NATO", "NATOS加盟", "", False),
        # NEAR and fields
        ('"peace treaty" NEAR/5 japan', "Japan and Russia have no peace treaty", "", True),
        ('"peace treaty" NEAR/2 japan', "Japan said on Friday that a peace treaty", "", False),
        ("(japan OR tokyo) NEAR/3 treaty", "", "Tokyo signed the treaty", True),
        ("title:iturup", "Weather", "Snow on Iturup", False),
        ("summary:iturup", "Weather", "Snow on Iturup", True),
        ('title:"peace treaty"', "The peace treaty", "", True),
        ("title:(iturup OR kunashir)", "Kunashir port", "", True),
    ],
)
def test_language_features(query: str, title: str, summary: str, expected: bool) -> None:
    assert matches(query, title, summary) is expected


def test_near_explains_both_sides() -> None:
    hits = explain('"peace treaty" NEAR/5 (japan OR tokyo)', title="Tokyo seeks a peace treaty")
    assert hits == [Hit('"peace treaty"', "title", 14, 26), Hit("tokyo", "title", 0, 5)]


@pytest.mark.parametrize(
    ("query", "column", "message"),
    [
        ("kuril NEAR/0 x", 7, "NEAR/n takes n from 1 to 50"),
        ("(a AND b) NEAR/3 c", 1, "NEAR joins terms, phrases"),
        ("a NEAR/2 b NEAR/2 c", 12, "NEAR cannot be chained"),
        ("author:x", 1, "unknown field 'author:'"),
        ("title:", 1, "'title:' needs a term after it"),
        ("= x", 1, "'=' must stand right before"),
        ("a OR -b", 1, "would match items without any of its terms"),
    ],
)
def test_errors_of_the_newer_forms(query: str, column: int, message: str) -> None:
    with pytest.raises(QueryError) as info:
        parse(query)
    assert info.value.column == column
    assert message in info.value.message


def test_one_pass_finds_all_topics_with_their_own_hits() -> None:
    matcher = Matcher(
        {
            "kuril": parse("kuril* OR iturup OR курилы"),
            "treaty": parse('"peace treaty" japan'),
            "other": parse("paris"),
        }
    )
    found = matcher.match(
        {"title": "Japan, Iturup and the peace treaty", "summary": "Курилы"}, explain=True
    )
    assert [m.topic_id for m in found] == ["kuril", "treaty"]
    assert {h.term for h in found[0].hits} == {"iturup", "курилы"}


def test_1000_queries_compile_into_one_matcher() -> None:
    # how long compiling takes: bench/match.py, against a naive compile in the same run
    queries = {
        f"t{n}": parse(f'(город{n} OR "остров{n} мыс") AND title:порт{n} -склад OR 北方{n}島')
        for n in range(1000)
    }
    matcher = Matcher(queries)
    assert [m.topic_id for m in matcher.match({"title": "Порт17 и город17"})] == ["t17"]
    assert [m.topic_id for m in matcher.match({"summary": "北方999島"})] == ["t999"]
    assert matcher.match({"title": "Порт17 и город17 склад"}) == []


def test_the_japanese_word_ranges_written_out_are_the_ones_found() -> None:
    """The word pattern's Japanese/Chinese ranges are written out for Python 3.11's Unicode
    (finding them took 13 ms of each process's start): the same as finding them."""
    assert (
        normalise_module._word_ranges(normalise_module._CJK_RANGES)
        == normalise_module._CJK_WORD_RANGES
    )
    assert normalise_module.WORD.findall("NATO加盟と北方4島・ハボマイ") == [
        "NATO",
        "加盟と北方",
        "4",
        "島",
        "ハボマイ",
    ]


@pytest.mark.parametrize("query", ["・", "ﾟ", "ﾟ OR ・", '"・"', "色丹 OR 。"])
def test_japanese_punctuation_alone_is_no_word_to_watch(query: str) -> None:
    with pytest.raises(QueryError):
        parse(query)  # it was saved as a watch that matched nothing and was asked of every item


RSS_WITH_CONTENT = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel>
<title>Wire</title><link>https://wire.example/</link>
<item><title>Drills in the east</title><link>https://wire.example/1</link>
<description>Short.</description>
<content:encoded><![CDATA[<p>Troops landed on Iturup at dawn.</p>]]></content:encoded>
</item></channel></rss>"""


def test_a_content_field_query_matches_what_the_feed_gave_as_content() -> None:
    """A feed's summary and content are kept as one text (the longer), so the daemon, its
    backtest and `match` must all find a `content:` term in it."""
    from bot.operator.json_lines import cut_text
    from watchers.parse import parse_feed
    from watchers.topics.compile import compile_matcher
    from watchers.worker import item_facts

    [item] = parse_feed(RSS_WITH_CONTENT, feed_id="wire", url="https://wire.example/rss").items
    matcher, _ = compile_matcher({"c": "content:iturup", "s": "summary:iturup"})
    assert item_facts(item, matcher).topics == ("c", "s")  # the daemon
    assert matches("content:iturup", "Drills in the east", item.summary)  # its backtest's fields
    # `match` given the item's text as a summary, as the daemon has it
    assert matches("content:iturup", "Drills", cut_text("<p>Troops landed on Iturup</p>", 20_000))


def outcome(query: str) -> object:
    """A query's tree, or where and why it does not parse."""
    try:
        return parse(query)
    except QueryError as exc:
        return exc.column, exc.message


# what a config's query is made of: words in three scripts, operators, fields, quotes, marks
QUERY_PARTS = st.sampled_from(
    (
        "kuril Курилы 北方領土 peace treaty* yuzhno-kurilsk =NATO -drills AND OR NOT NEAR/3 NEAR"
        ' ( ) " - = * title: title:x lang:en source:tass source: a:b -(a x)'
    ).split(" ")
)


@given(st.lists(QUERY_PARTS, min_size=1, max_size=12), st.data())
def test_a_query_reads_alike_with_any_space_and_in_full_width(
    parts: list[str], data: st.DataObject
) -> None:
    """A Japanese keyboard types the ideographic space and full-width （ ） － ＂ ＡＮＤ, the web
    brings U+00A0: in config.yaml `北方領土　OR　北方四島` was one term, `kuril　－drills` a phrase
    (a /watch was read right: Telegram's arguments are split at any space and NFKC'd)."""
    spaces = data.draw(st.lists(st.sampled_from(" \u3000\u00a0\t\u2009"), min_size=len(parts)))
    spaced = parts[0] + "".join(s + part for s, part in zip(spaces, parts[1:], strict=False))
    wide = data.draw(st.lists(st.booleans(), min_size=len(spaced)))
    full_width = "".join(
        chr(ord(c) + 0xFEE0) if "!" <= c <= "~" and w else c
        for c, w in zip(spaced, wide, strict=False)
    )
    expected = outcome(" ".join(parts))  # a tree, or the same column and message
    assert outcome(spaced) == expected
    assert outcome(full_width) == expected


@pytest.mark.parametrize(
    ("query", "tree"),
    [
        ("北方領土\u3000OR\u3000北方四島", "(北方領土 OR 北方4島)"),
        ("kuril\u3000－drills", "(kuril AND -drills)"),
        ("kuril\u00a0-drills", "(kuril AND -drills)"),
        ("（kuril OR iturup）\u3000＂peace treaty＂", '((kuril OR iturup) AND "peace treaty")'),
        ("ｔｉｔｌｅ：kuril ＮＥＡＲ／３ japan", "title:kuril NEAR/3 japan"),
    ],
)
def test_japanese_keyboard_forms_are_read_as_their_ascii(query: str, tree: str) -> None:
    assert str(parse(query)) == tree
    with pytest.raises(QueryError) as info:  # and a mistake is pointed at where it is written
        parse(query + "\u3000－")
    assert info.value.column == len(query) + 2


@pytest.mark.parametrize(
    "query",
    ["«мирный договор»", "„мирный договор“", "„мирный договор”", "“мирный договор”"],
)
def test_typographic_quotes_make_a_phrase(query: str) -> None:
    """`«мирный договор»` was read as the words мирный AND договор (the quotes dropped as no
    letters): it matched "мирное население и договор аренды"."""
    assert parse(query) == parse('"мирный договор"')
    assert parse(f"={query} -{query}") == parse('="мирный договор" -"мирный договор"')
    assert matches(query, "о мирном договоре с Японией")
    assert not matches(query, "мирное население и договор аренды")


def test_typographic_quotes_close_only_their_own_and_leave_apostrophes_alone() -> None:
    assert (
        str(parse("“peace treaty” Motegi «a „b c“ d»"))
        == '("peace treaty" AND motegi AND "a b c d")'
    )
    assert parse("O’Neil") == parse('"o neil"')  # ’ is an apostrophe, not a quote


@pytest.mark.parametrize(
    ("query", "tree"),
    [
        # punctuation right after a closing quote was a word of its own, refused
        ("«Росатом».", "росатом"),
        ("«Ведомости», Интерфакс", "(ведомости AND интерфакс)"),
        ("Minister “Hayashi”.", "(minister AND hayashi)"),
        ("«мирный договор».", '"мирный договор"'),
        ("«a»»", "a"),
        ('"Росатом".', "росатом"),  # and after `"` alike
        ("(«a»-)", "a"),
        # but a `-` or `=` right before a term stays an operator
        ("«a»-«b»", "(a AND -b)"),
        ("«a»-(b)", "(a AND -b)"),
        ("«a»=«B»", "(a AND =B)"),
        # an unclosed typographic quote was "unclosed quote": it is a character, as before
        ("Газета «Ведомости", "(газета AND ведомости)"),
        ("«Курилы» OR «Итуруп", "(курилы OR итуруп)"),
        ("“peace treaty", "(peace AND treaty)"),
        ("word«", "word"),
        ("kuril «мирный договор", "(kuril AND мирный AND договор)"),
        ("“peace treaty»", "(peace AND treaty)"),
        ("„a b»", "(a AND b)"),
        ("«мирный договор» «Итуруп", '("мирный договор" AND итуруп)'),
        # glued to an operator or a field, the quotes are read as before they quoted
        ("„b“OR", '"b or"'),
        ("NEAR«a»", '"near a"'),
    ],
)
def test_typographic_quotes_refuse_no_query_they_did_not_before(query: str, tree: str) -> None:
    """421615e made «…», „…“, “…” quotes, and refused queries read before: stored watches so
    written were skipped at the next start, and such a config topic stopped the daemon."""
    assert str(parse(query)) == tree


def test_an_unclosed_ascii_quote_is_still_an_error() -> None:
    for unclosed, column in (('kuril "peace', 7), ('«a» "b', 5), ('"a «b»', 1)):
        with pytest.raises(QueryError, match="unclosed quote") as info:
            parse(unclosed)
        assert info.value.column == column


def _lex_before_quotes(query: str) -> Iterator[Token]:
    """`watchers.topics.lexer.lex` as it was before 421615e: «» „“ ” were characters of words."""
    query = query.translate(lexer._ASCII_FORMS)
    i, n = 0, len(query)

    def ends_word(char: str) -> bool:
        return char.isspace() or char in '()"'

    while i < n:
        char, column = query[i], i + 1
        if char.isspace():
            i += 1
        elif char in "()":
            yield Token("LPAREN" if char == "(" else "RPAREN", char, column)
            i += 1
        elif char == '"':
            end = query.find('"', i + 1)
            if end < 0:
                raise QueryError("unclosed quote", column)
            yield Token("PHRASE", query[i + 1 : end], column)
            i = end + 1
        elif char in "-=" and (i == 0 or ends_word(query[i - 1]) or query[i - 1] == ":"):
            if i + 1 >= n or query[i + 1].isspace():
                raise QueryError("'-' must stand right before its term", column)
            yield Token("NOT" if char == "-" else "CASE", char, column)
            i += 1
        elif field := re.compile(r"([A-Za-z]+):").match(query, i):
            name = field.group(1)
            if name not in lexer.FIELDS + lexer.META_FIELDS:
                raise QueryError("unknown field", column)
            yield Token("META" if name in lexer.META_FIELDS else "FIELD", name, column)
            i = field.end()
        else:
            start = i
            while i < n and not ends_word(query[i]):
                i += 1
            text = query[start:i]
            if near := re.match(r"NEAR(?:/(.*))?$", text, re.DOTALL):
                distance = lexer.DEFAULT_NEAR
                if near.group(1) is not None:
                    try:
                        distance = bounded.count(near.group(1), low=1, high=lexer.MAX_NEAR)
                    except ValueError:
                        raise QueryError("NEAR/n takes n from 1 to 50", column) from None
                yield Token("NEAR", text, column, distance)
            else:
                yield Token(text if text in ("AND", "OR", "NOT") else "WORD", text, column)
    yield Token("END", "", n + 1)


def parse_before_quotes(query: str) -> object:
    """The query's tree as the parser read it before 421615e, or None where it was refused."""
    with mock.patch.object(query_module, "lex", lambda text, **_: _lex_before_quotes(text)):
        try:
            return parse(query)
        except QueryError:
            return None


# quotes of every kind, letters, punctuation, spaces, and the operators and fields a word can meet
QUOTE_PARTS = st.sampled_from(
    [
        *'«»„“”"’',
        *"aЯ北",
        *".,:;!?-=*…()",
        " ",
        "  ",
        "OR",
        "AND",
        "NOT",
        "NEAR",
        "title:",
        "lang:en",
    ]
)


@settings(max_examples=500)  # under a second; 100 found a glued operator only at times
@given(st.lists(QUOTE_PARTS, min_size=1, max_size=14).map("".join))
@example("«Росатом».")
@example("„b“OR")
@example("«a»ab:")
@example("!“”Я")
@example("NOT„a“«")
def test_a_query_read_before_typographic_quotes_is_still_read(query: str) -> None:
    if parse_before_quotes(query) is not None:
        parse(query)  # does not raise
