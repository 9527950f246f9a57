"""Alert rendering: any feed text renders to HTML Telegram accepts, within its limits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.delivery.render import (
    MAX_MESSAGE,
    Alert,
    fit_units,
    render_digest,
    render_html,
    render_plain,
)
from bot.i18n import texts
from tests.fakes.telegram_api import FormattedText, parse_html, utf16_len
from watchers.items import make_item
from watchers.topics.compile import compile_matcher
from watchers.topics.query import parse
from watchers.worker import item_facts

WHEN = datetime(2026, 11, 26, 9, 30, tzinfo=UTC)

nasty = st.one_of(
    st.text(max_size=10_000),
    st.sampled_from(
        [
            "<b>unbalanced",
            "a & b &amp; &lt; &#x; &bogus;",
            '"><script>alert(1)</script>',
            "مرحبا بالعالم \u202e reversed",
            "🇯🇵🇷🇺 emoji 👩‍👩‍👧",
            "&" * 5000,
            "<" * 5000,
        ]
    ),
)
links = st.one_of(
    st.none(),
    st.text(max_size=3000),
    st.builds(lambda q: "https://x.example/a?" + q, st.text(max_size=3000)),
    st.just('https://x.example/"onmouseover="x'),
)


def alert(**changes: object) -> Alert:
    base = {
        "title": "Japan to continue peace treaty talks",
        "link": "https://tass.com/world/1",
        "source": "TASS",
        "published": WHEN,
        "summary": "Motegi said talks would continue.",
        "topics": ("peace-treaty", "kuril"),
    }
    base.update(changes)
    return Alert(**base)  # type: ignore[arg-type]


def test_layout() -> None:
    text = render_html(alert(title="A <b> & B"), tz=timezone(timedelta(hours=9), "JST"))
    assert text.splitlines() == [
        '<a href="https://tass.com/world/1"><b>A &lt;b&gt; &amp; B</b></a>',
        "<i>TASS · 2026-11-26 18:30 JST</i>",
        "",
        "Motegi said talks would continue.",
        "",
        "#peace_treaty #kuril",
    ]


def test_summary_is_cut_at_a_word_within_400_characters() -> None:
    long = " ".join(["Motegi"] * 200)
    visible = parse_html(render_html(alert(summary=long))).text
    summary = visible.split("\n\n")[1]
    assert len(summary) <= 400
    assert summary.endswith("Motegi…")


def test_other_outlets_are_listed() -> None:
    text = render_html(alert(also=("Kyodo", "NHK <World>")))
    assert "<i>TASS · 2026-11-26 09:30 UTC\nAlso: Kyodo, NHK &lt;World&gt;</i>" in text


def test_other_outlets_are_listed_in_the_chats_language() -> None:
    """Since issue 19 the chat's language says "Also:" (gettext), not the alert title's script."""
    ru, ja = texts("ru"), texts("ja")
    russian = render_html(alert(title="Учения на Итурупе", also=("ТАСС", "РИА")), tr=ru)
    assert "\nТакже: ТАСС, РИА</i>" in russian
    japanese = render_html(alert(title="択捉島で演習", also=("NHK", "共同通信")), tr=ja)
    assert "\n他の報道: NHK、共同通信</i>" in japanese
    many = render_html(alert(title="Учения", also=tuple(f"outlet {n}" for n in range(12))), tr=ru)
    assert "outlet 9 и ещё 2</i>" in many
    english_chat = render_html(alert(title="Учения на Итурупе", also=("ТАСС", "РИА")))
    assert "\nAlso: ТАСС, РИА</i>" in english_chat


def test_non_web_links_are_not_linked() -> None:
    assert "href" not in render_html(alert(link="javascript:alert(1)"))


@settings(max_examples=300, deadline=None)
@given(
    title=nasty,
    summary=nasty,
    source=nasty,
    link=links,
    also=st.lists(nasty, max_size=12),
    marks=st.lists(
        st.one_of(st.text(max_size=20), st.sampled_from(["b", "&", "<", "a"])), max_size=30
    ),
)
def test_any_feed_text_renders_to_valid_telegram_html(
    title: str, summary: str, source: str, link: str | None, also: list[str], marks: list[str]
) -> None:
    text = render_html(
        alert(
            title=title,
            summary=summary,
            source=source,
            link=link,
            also=tuple(also),
            marks=tuple(marks),
        )
    )
    assert len(text) <= MAX_MESSAGE
    parsed = parse_html(text)  # raises on anything Telegram would refuse
    assert utf16_len(parsed.text) <= MAX_MESSAGE
    assert {e["type"] for e in parsed.entities} <= {"bold", "italic", "text_link"}
    plain = render_plain(alert(title=title, summary=summary, source=source, link=link))
    assert len(plain) <= MAX_MESSAGE


def test_worst_case_escaping_still_fits() -> None:
    text = render_html(
        alert(title="&" * 400, source="&" * 200, summary="<" * 900, also=("&" * 80,) * 12)
    )
    assert len(text) <= MAX_MESSAGE
    parse_html(text)


def test_matched_words_are_bold_whole_words_only() -> None:
    text = render_html(
        alert(
            summary="Japan and the Japanese side talk; Japan's view <unchanged> & firm.",
            marks=("Japan", "firm", "<unchanged>"),
        )
    )
    assert "<b>Japan</b> and the Japanese side talk; <b>Japan</b>'s view" in text
    assert "<b>&lt;unchanged&gt;</b> &amp; <b>firm</b>." in text  # escaped inside bold too
    phrase = render_html(alert(summary="on a peace treaty now", marks=("peace", "treaty")))
    assert "on a <b>peace treaty</b> now" in phrase


def test_phrases_that_overlap_are_one_bold_run() -> None:
    """Two watches' phrases sharing a word ("peace treaty", "treaty talks"): the first found
    took "treaty", and "talks", the second's, was not bold."""
    marks = ("peace treaty", "treaty talks")
    text = render_html(alert(summary="Japan wants peace treaty talks soon.", marks=marks))
    assert "Japan wants <b>peace treaty talks</b> soon." in text
    japanese = render_html(
        alert(summary="政府は北方領土問題を協議した。", marks=("北方領土", "領土問題"))
    )
    assert "政府は<b>北方領土問題</b>を協議" in japanese


@pytest.mark.parametrize(
    ("query", "summary", "marks", "bold"),
    [
        (
            '"peace treaty"',
            "Tokyo wants a peace treaty with Moscow.",
            ("peace treaty",),
            "a <b>peace treaty</b> with",
        ),
        (
            '"мирный договор"',
            "Стороны обсудили проект мирного договора вчера.",
            ("мирного договора",),
            "проект <b>мирного договора</b> вчера",
        ),
        (
            "北方領土",
            "政府は北方領土問題について協議した。",
            ("北方領土",),
            "政府は<b>北方領土</b>問題",
        ),
        ("kuril*", "The Kurils were raised.", ("Kurils",), "The <b>Kurils</b> were"),
    ],
    ids=["en", "ru", "ja", "prefix"],
)
def test_a_matched_phrase_is_bold_as_a_whole(
    query: str, summary: str, marks: tuple[str, ...], bold: str
) -> None:
    """An alert bolded only "peace" of the matched phrase "peace treaty" (a hit was marked by
    its first word), and all of a Japanese run (北方領土問題について) for 北方領土."""
    matcher, _ = compile_matcher({"t": query})
    item = make_item(
        feed_id="f", guid="1", link=None, title="News", summary=summary, published=None, lang=None
    )
    assert item is not None
    facts = item_facts(item, matcher)
    assert facts.marks == marks
    assert bold in render_html(alert(summary=facts.brief, marks=facts.marks))


def test_a_japanese_prefix_term_bolds_what_it_matched_as_the_bare_term_does() -> None:
    """`北方*` bolds 北方 alone in 北方領土問題について, where `kuril*` bolds all of "Kurils".
    That is right: a Japanese term already matches inside a run (no spaces end a word there),
    so its `*` adds nothing and `北方*` is `北方`; and no word ends short of the run (with its
    particles), which bolded whole was the bug the test above pins for 北方領土."""
    assert parse("北方*") == parse("北方")
    summary = "政府は北方領土問題について協議した。"
    item = make_item(
        feed_id="f", guid="1", link=None, title="News", summary=summary, published=None, lang=None
    )
    assert item is not None
    for query in ("北方*", "北方"):
        facts = item_facts(item, compile_matcher({"t": query})[0])
        assert facts.marks == ("北方",), query
        assert "政府は<b>北方</b>領土問題" in render_html(
            alert(summary=facts.brief, marks=facts.marks)
        )


def _bold(parsed: FormattedText) -> list[str]:
    """The texts Telegram shows in bold."""
    units = parsed.text.encode("utf-16-le")
    return [
        units[2 * e["offset"] : 2 * (e["offset"] + e["length"])].decode("utf-16-le")
        for e in parsed.entities
        if e["type"] == "bold"
    ]


LANGUAGE_WORDS = {
    "en": (st.text("abcdefghijklmnopqrstuvwxyz&<", min_size=1, max_size=8), " "),
    "ru": (st.text("абвгдеёжзийклмнопрстуфхцчшщъыьэюя", min_size=1, max_size=8), " "),
    "ja": (st.text("北方領土平和条約のはをにロシア日本", min_size=1, max_size=4), ""),
}


@settings(max_examples=200, deadline=None)
@given(data=st.data(), lang=st.sampled_from(sorted(LANGUAGE_WORDS)))
def test_a_matched_phrase_renders_bold_whole_in_valid_html(data: st.DataObject, lang: str) -> None:
    """Whatever the words (Japanese without spaces), a mark of one word or several is one bold
    run of the alert, and its HTML stays what Telegram takes."""
    word, space = LANGUAGE_WORDS[lang]
    words = data.draw(st.lists(word, min_size=1, max_size=20))
    start = data.draw(st.integers(0, len(words) - 1))
    end = data.draw(st.integers(start + 1, len(words)))
    phrase = space.join(words[start:end])
    parsed = parse_html(render_html(alert(summary=space.join(words), marks=(phrase,))))
    assert any(phrase in bold for bold in _bold(parsed)), (phrase, parsed)


@settings(max_examples=200, deadline=None)
@given(
    title=nasty,
    summary=nasty,
    source=nasty,
    link=links,
    also=st.lists(nasty, max_size=40),
    topic=nasty,
    lang=st.sampled_from(["en", "ru", "ja"]),
)
def test_a_digest_of_one_story_fits_one_message(
    title: str, summary: str, source: str, link: str | None, also: list[str], topic: str, lang: str
) -> None:
    """The delivery worker sends a digest of one story as one message, whatever its text."""
    one = alert(title=title, summary=summary, source=source, link=link, also=tuple(also))
    text = render_digest([one], titles={"peace-treaty": topic}, tr=texts(lang))
    assert utf16_len(text) <= MAX_MESSAGE  # the HTML itself: what Telegram parses is shorter
    parse_html(text)


def test_a_digest_story_too_long_gives_up_outlets_then_its_link_but_keeps_the_rest() -> None:
    also = tuple(f"Outlet {n} " + "&" * 50 for n in range(12))
    link = "https://n.example/story?" + "a=1&" * 100
    text = render_digest([alert(link=link, also=also)], titles={}, tr=texts("ru"))
    assert utf16_len(text) <= MAX_MESSAGE
    parsed = parse_html(text)
    assert [e["url"] for e in parsed.entities if e["type"] == "text_link"] == [link]
    assert "Outlet 2 " in parsed.text and "и ещё 9" in parsed.text  # three named
    too_long = "https://n.example/story?" + "a=1&" * 500
    text = render_digest([alert(link=too_long, also=also)], titles={}, tr=texts("ru"))
    assert utf16_len(text) <= MAX_MESSAGE
    parsed = parse_html(text)
    assert "text_link" not in {e["type"] for e in parsed.entities}
    assert "Japan to continue peace treaty talks" in parsed.text
    assert "Motegi said talks would continue." in parsed.text
    assert "Outlet 9 " in parsed.text and "и ещё 2" in parsed.text


def test_an_alert_of_a_hundred_topics_fits_and_counts_the_tags_left_out() -> None:
    topics = tuple(f"topic-{n:03d}-" + "x" * 54 for n in range(100))  # ids of 64 characters
    for text in (render_html(alert(topics=topics)), render_plain(alert(topics=topics))):
        assert len(text) <= MAX_MESSAGE
        assert "#topic_000_" in text and text.rstrip().endswith(tuple(f"+{n}" for n in range(99)))
    parse_html(render_html(alert(topics=topics)))


def test_bidi_overrides_in_feed_text_cannot_turn_the_source_or_time_around() -> None:
    """U+202E in a title would show the rest of its line (a digest's source and time, an "Also:"
    line's next outlets) right to left; a title of invisible characters only is untitled."""
    spoof = alert(title="Kuril news \u202e", source="TASS\u2067", also=("A\u202d", "Kyodo"))
    for text in (
        render_html(spoof),
        render_plain(spoof),
        render_digest([spoof], titles={"peace-treaty": "Peace \u202e"}),
    ):
        assert not any(c in text for c in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
    assert "Kuril news" in render_digest([spoof], titles={})
    arabic = render_html(alert(title="مرحبا \u200fبالعالم"))
    assert "مرحبا \u200fبالعالم" in arabic  # plain right-to-left text and marks are kept
    blank = alert(title="\u200d\u2060\ufeff\u202e \u200b")
    assert "(untitled)" in render_html(blank) and "(untitled)" in render_digest([blank], titles={})
    assert "(без заголовка)" in render_html(blank, tr=texts("ru"))


def test_the_plain_text_fallback_fits_telegrams_count_whatever_the_emoji() -> None:
    """Telegram counts UTF-16 units: 😀 is two. The plain text is sent when Telegram refused the
    HTML; a plain text too long would be refused too, and the alert given up."""
    link = "https://x.example/" + "a" * 2000
    emoji = alert(
        title="😀" * 400,
        summary="😀" * 500,
        source="😀" * 200,
        also=tuple("😀" * 80 for _ in range(12)),
        link=link,
        topics=tuple(f"topic-{n:03d}-" + "x" * 54 for n in range(20)),
    )
    text = render_plain(emoji)
    assert utf16_len(text) <= MAX_MESSAGE
    assert link in text.splitlines()  # the way to the article stays whole


def test_a_link_with_spaces_or_control_characters_stays_a_link_to_the_same_place() -> None:
    """Telegram drops a link with a space from the title (nothing left to click) and ends a
    plain one at the space; such characters are percent-encoded, as a browser would send them."""
    raw = "https://x.example/a b\x01c\u202ed\u00a0e"
    encoded = "https://x.example/a%20b%01c%E2%80%AEd%C2%A0e"
    parsed = parse_html(render_html(alert(link=raw)))
    assert [e["url"] for e in parsed.entities if e["type"] == "text_link"] == [encoded]
    assert encoded in render_plain(alert(link=raw)).splitlines()
    for bad in ("javascript:alert(1)", "data:text/html,x", " javascript:x", "\x01https://x"):
        assert "text_link" not in {
            e["type"] for e in parse_html(render_html(alert(link=bad))).entities
        }


def test_an_alert_too_long_with_its_link_cuts_its_summary_before_the_link() -> None:
    """The linked title is how a reader opens the story: a long summary gives way first."""
    link = "https://n.example/story?" + "a=1&" * 400  # escaped, 3,224 characters of HTML
    text = render_html(alert(link=link, summary="T&" * 300, also=("Kyodo",)))
    assert "T&amp;T&amp;" in text  # its start
    assert len(text) <= MAX_MESSAGE
    parsed = parse_html(text)
    assert [e["url"] for e in parsed.entities if e["type"] == "text_link"] == [link]
    assert "Kyodo" in parsed.text


@given(st.text(alphabet=st.sampled_from("aé漢🎌\U0001f4c8 "), max_size=60), st.integers(0, 80))
def test_fit_units_keeps_the_longest_beginning_within_the_units(text: str, most: int) -> None:
    fitted = fit_units(text, most)
    assert text.startswith(fitted) and utf16_len(fitted) <= most
    assert fitted == text or utf16_len(text[: len(fitted) + 1]) > most
