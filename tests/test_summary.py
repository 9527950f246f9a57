"""Summaries: boilerplate removal, sentence splitting in three languages, query-aware briefs,
and golden items (the Inforos article, a Russian and a Japanese report) read end to end."""

from __future__ import annotations

import re
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from bot.config import load_config
from tests.conftest import shared
from tests.fakes.feed_server import FeedEntry, rss
from watchers.boilerplate import LINES, strip_boilerplate
from watchers.summary import BUDGET, brief, sentences
from watchers.topics.compile import compile_topics
from watchers.worker import read_feed

ROOT = Path(__file__).resolve().parents[1]
TOPICS = compile_topics(load_config(ROOT / "config.yaml").topics)
CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff々〆ヶ]")
BOILERPLATE = ("Rate it", "Add comment", "Сообщите об орфографической", "Выделенный текст")


def summary_of(title: str, html: str) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
    """(brief, marks, topics) of one RSS item read as the daemon reads it."""
    feed = rss([FeedEntry(title, "https://news.example/1", summary=html)])
    read = read_feed(
        feed,
        feed_id="f",
        url="https://news.example/rss",
        headers={"content-type": "application/rss+xml; charset=utf-8"},
        spec=TOPICS.spec,
    )
    [facts] = read.facts
    return facts.brief, facts.marks, facts.topics


def split(text: str) -> list[str]:
    return [text[s:e] for s, e in sentences(text)]


def test_sentences_in_english_russian_and_japanese() -> None:
    assert split("Mr. Abe met Putin in the U.S. embassy. Talks went on. «Yes», he said.") == [
        "Mr. Abe met Putin in the U.S. embassy.",
        "Talks went on.",
        "«Yes», he said.",
    ]
    assert split(
        "В 1956 г. была подписана декларация. «Это важно», — сказал он.\nНовая строка"
    ) == [
        "В 1956 г. была подписана декларация.",
        "«Это важно», — сказал он.",
        "Новая строка",
    ]
    assert split("茂木外相は「交渉を続ける」と述べた。北方領土の問題だ！本当か？") == [
        "茂木外相は「交渉を続ける」と述べた。",
        "北方領土の問題だ！",
        "本当か？",
    ]


def test_boilerplate_lines_and_repeated_titles_go() -> None:
    text = "Talks / News / Agency\nRate it\nTalks\n\nThe talks went on.\n\nAdd comment\n"
    assert strip_boilerplate(text, "Talks") == "The talks went on."
    assert strip_boilerplate("Подробнее.\nТекст остаётся.") == "Текст остаётся."


def test_brief_is_the_lead_and_the_matched_sentences_in_order() -> None:
    text = (
        "The cabinet met on Monday. It discussed the budget at length. Fishing quotas came next."
        " The Kuril Islands were raised at the end. Ministers then left."
    )
    kuril = text.index("Kuril")
    made = brief(text, [(kuril, kuril + len("Kuril"))])
    assert made.text == "The cabinet met on Monday. … The Kuril Islands were raised at the end."
    assert made.marks == ("Kuril",)
    assert brief(text, [(text.index("It discussed"), 0)]).text.startswith(
        "The cabinet met on Monday. It discussed"
    )  # adjacent sentences join without a gap


def test_a_phrase_across_two_sentences_brings_both_and_is_marked() -> None:
    """A phrase whose words a line break (or a sentence's end) parts brought only the sentence
    of its first word: its mark, the phrase, was then nowhere in the brief, and nothing was
    bold."""
    text = "The cabinet met on Monday. Its ministers then signed a peace\ntreaty with Moscow."
    start = text.index("peace")
    made = brief(text, [(start, text.index("treaty") + len("treaty"))])
    assert made.text == text.replace("\n", " ")
    assert made.marks == ("peace treaty",)


words = st.text(alphabet=st.characters(categories=("L", "N")), min_size=1, max_size=15)


@given(
    text=st.lists(
        st.tuples(
            st.lists(words, min_size=1, max_size=40), st.sampled_from([". ", "! ", "。", "\n"])
        ),
        max_size=30,
    ).map(lambda parts: "".join(" ".join(ws) + end for ws, end in parts)),
    budget=st.integers(min_value=20, max_value=BUDGET),
    data=st.data(),
)
def test_brief_stays_in_budget_and_never_cuts_a_word(
    text: str, budget: int, data: st.DataObject
) -> None:
    offsets = data.draw(
        st.lists(st.integers(min_value=0, max_value=max(0, len(text) - 1)), max_size=5)
    )
    made = brief(text, [(o, o) for o in offsets], budget=budget)
    assert len(made.text) <= budget
    # every word is whole (Japanese, without spaces, may be cut between any two characters)
    source_words = set(re.findall(r"\w+", CJK.sub(" ", text)))
    for word in re.findall(r"\w+", CJK.sub(" ", made.text)):
        assert word in source_words
    for mark in made.marks:
        assert mark in made.text


def test_golden_inforos_article_states_motegis_statement_without_boilerplate() -> None:
    lines = shared("inforos-article.txt").read_text(encoding="utf-8").splitlines()
    title = "Japan to continue peace treaty talks with Russia"
    html = "".join(f"<p>{line}</p>" for line in lines)
    text, marks, topics = summary_of(title, html)
    assert "peace-treaty" in topics
    assert "Motegi" in text and "continue holding talks with Russia" in text
    assert "peace treaty" in text
    assert not any(b in text for b in BOILERPLATE)
    assert text.startswith("The Japanese government aims to continue")  # not the breadcrumb
    assert len(text) <= BUDGET
    assert {"Motegi", "peace treaty"} <= set(marks)  # set in bold in the alert, a phrase whole


def test_golden_russian_item() -> None:
    html = (
        "<p>Итуруп: шхуна задержана / Новости / Инфорос</p><p>Оценить</p>"
        "<p>Пограничники задержали японскую шхуну у побережья Итурупа в среду, сообщили в"
        " пресс-службе ФСБ. На борту находились пять членов экипажа.</p>"
        "<p>Судно доставлено в порт Курильска. Капитану грозит штраф.</p>"
        "<p>Сообщите об орфографической ошибке</p><p>Выделенный текст слишком длинный.</p>"
    )
    text, marks, topics = summary_of("Итуруп: шхуна задержана", html)
    assert topics == ("kuril",)
    assert text.startswith("Пограничники задержали японскую шхуну у побережья Итурупа")
    assert "Курильска" in text or "Итурупа" in marks
    assert not any(b in text for b in BOILERPLATE) and "Оценить" not in text


def test_golden_japanese_item() -> None:
    html = (
        "<p>北方領土の元島民が墓参</p><p>続きを読む</p>"
        "<p>北方領土の元島民らが２７日、択捉島での墓参を終えて根室港に戻った。"
        "墓参は３年ぶりで、参加者は「ようやく祖先の墓に手を合わせられた」と話した。</p>"
        "<p>関連記事</p>"
    )
    text, _marks, topics = summary_of("北方領土の元島民が墓参", html)
    assert "kuril" in topics
    assert text.startswith("北方領土の元島民らが２７日、択捉島での墓参を終えて根室港に戻った。")
    assert "続きを読む" not in text and "関連記事" not in text


_END_RE = re.compile(r"[\s.!?:…。！？・|>»]+$")
_LINE = st.text(st.sampled_from(list(" \t\u00a0\u3000.!?:…。！？・|>»/›abcXYZсКю島")), max_size=30)


@given(_LINE, _LINE)
def test_boilerplate_lines_are_compared_as_the_regex_would(line: str, title: str) -> None:
    key = _END_RE.sub("", line.strip()).casefold()
    title_key = _END_RE.sub("", title.strip()).casefold()
    crumb = re.split(r"\s*[/|›»>]\s*", key)[0]
    dropped = bool(title_key) and (key == title_key or crumb == title_key)
    kept = strip_boilerplate(line, title)
    assert (kept == "") == (dropped or key in LINES or not line.strip())
