"""The catalogues: every message of the code translated in EN, RU and JA, none left over, and
each translation keeps its placeholders and HTML tags."""

from __future__ import annotations

import re
import shutil
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po
from babel.numbers import parse_decimal
from hypothesis import given
from hypothesis import strategies as st

from bot.delivery.buttons import sign, verify
from bot.i18n import LANGUAGES, Said, Span, catalogue_path, listed, quoted, reason, texts
from tests.conftest import ROOT

PLACEHOLDER = re.compile(r"\{(\w*)\}")
TAG = re.compile(r"</?(?:b|i|u|s|a|code|pre)(?:\s[^>]*)?>")  # Telegram HTML


def code_messages() -> set[str | tuple[str, str]]:
    """The msgids `make locales` extracts (the files babel.cfg names)."""
    with (ROOT / "babel.cfg").open(encoding="utf-8") as file:
        method_map, options_map = parse_mapping_cfg(file)
    found: set[str | tuple[str, str]] = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map=method_map, options_map=options_map, keywords=DEFAULT_KEYWORDS
    ):
        found.add(message if isinstance(message, str) else (message[0], message[1]))
    return found


@pytest.fixture(scope="module")
def messages() -> set[str | tuple[str, str]]:
    return code_messages()


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_message_of_the_code_is_translated_and_none_is_stale(
    lang: str, messages: set[str | tuple[str, str]]
) -> None:
    with catalogue_path(lang).open("rb") as file:
        catalog = read_po(file, locale=lang)
    entries = {m.id if isinstance(m.id, str) else tuple(m.id): m for m in catalog if m.id}
    missing = [m for m in messages if m not in entries]
    assert missing == [], f"{lang}: not in the catalogue (run make locales): {missing}"
    stale = [m for m in entries if m not in messages]
    assert stale == [], f"{lang}: in the catalogue but no longer in the code: {stale}"
    for msgid, entry in entries.items():
        forms = entry.string if isinstance(entry.string, tuple) else (entry.string,)
        assert all(forms) and len(forms) == (
            catalog.num_plurals if isinstance(msgid, tuple) else 1
        ), f"{lang}: {msgid!r} is not translated"
        assert "fuzzy" not in entry.flags, f"{lang}: {msgid!r} is fuzzy"
        source = msgid[0] if isinstance(msgid, tuple) else msgid
        for form in forms:
            assert set(PLACEHOLDER.findall(form)) <= set(PLACEHOLDER.findall(source)) | {"n"}, (
                f"{lang}: {form!r} has placeholders {msgid!r} does not fill"
            )
            if isinstance(msgid, str):
                assert set(PLACEHOLDER.findall(form)) == set(PLACEHOLDER.findall(source))
            assert Counter(TAG.findall(form)) == Counter(TAG.findall(source)), (
                f"{lang}: {form!r} changes the HTML of {msgid!r}"
            )


@pytest.mark.parametrize("lang", ["ru", "ja"])
def test_no_message_is_left_in_english(lang: str) -> None:
    """A msgstr copied from its msgid passes the check above: /watch "ку*рил" answered a
    Russian or Japanese user "'*' may only end a term". (A CLDR date pattern is no words.)"""
    with catalogue_path(lang).open("rb") as file:
        catalog = read_po(file, locale=lang)
    english = [
        m.id
        for m in catalog
        if m.id
        and m.string == m.id
        and re.search(r"[A-Za-z]{3,}", str(m.id))
        and not any("CLDR" in comment for comment in m.auto_comments)
    ]
    assert english == []


def test_plural_forms_and_dates_follow_the_language() -> None:
    ru, ja, en = texts("ru"), texts("ja"), texts("en")
    forms = [ru.ngettext("{n} story", "{n} stories", n) for n in (1, 3, 5, 21)]
    assert forms == ["1 событие", "3 события", "5 событий", "21 событие"]
    assert ja.ngettext("{n} story", "{n} stories", 5) == "5件"
    assert en.ngettext("{n} story", "{n} stories", 1) == "1 story"
    moment = datetime(2026, 11, 26, 9, 30, tzinfo=UTC)
    assert en.when(moment, UTC) == "2026-11-26 09:30 UTC"
    assert ru.when(moment, UTC) == "26 нояб. 2026, 09:30 UTC"
    assert ja.when(moment, UTC) == "2026年11月26日 9:30 UTC"
    assert (
        ja.when(moment, UTC)
        and texts("ru-RU").lang == "ru"
        and texts("de").lang == "en"
        and texts(None).lang == "en"
    )


def test_a_plural_message_takes_the_form_of_its_counted_value() -> None:
    """A notice's message is read where its language is known: its plural forms too, chosen
    by the value it names; a fraction (a window of 36h: 1.5 days) in the form of 2, written
    as each language writes it (Russian with a decimal comma: "1.5" read there as a stray
    dot)."""
    from bot.i18n import Plural

    message = Plural.ngettext("{n} story", "{n} stories", "n")
    ru, en = texts("ru"), texts("en")
    read = [ru.said(message, {"n": n}) for n in ("1", "3", "5", "21", "1.5", "0.0417")]
    assert read == [
        "1 событие",
        "3 события",
        "5 событий",
        "21 событие",
        "1,5 события",
        "0,0417 события",  # every digit the value has, none made up or dropped
    ]
    assert [en.said(message, {"n": n}) for n in ("1", "5", "1.5")] == [
        "1 story",
        "5 stories",
        "1.5 stories",
    ]
    assert texts("ja").said(message, {"n": "1"}) == "1件"
    assert texts("ja").said(message, {"n": "1.5"}) == "1.5件"
    assert ru.said(message, {"n": "many"}) == "many события"  # no number: as it was given
    # a count given as a `Number` is written with the reader's grouping ("1 100", "1,100"),
    # and its form chosen by the number, not by that writing: "1 100" read as no number took
    # the form of 2 ("события")
    from bot.i18n import Number

    nbsp = "\u00a0"
    assert [ru.said(message, {"n": Number(n)}) for n in (1100, 1001, 21000)] == [
        f"1{nbsp}100 событий",
        f"1{nbsp}001 событие",
        f"21{nbsp}000 событий",
    ]
    assert en.said(message, {"n": Number(1001)}) == "1,001 stories"
    assert ru.said(message, {"n": Number(1.5, digits=1)}) == "1,5 события"
    # the form of the number as written, rounded to its digits: 0.96 is written "1", 4.6 "5"
    assert [ru.said(message, {"n": Number(n)}) for n in (0.96, 4.6)] == [
        "1 событие",
        "5 событий",
    ]
    assert en.said(message, {"n": Number(0.96)}) == "1 story"
    assert ru.said("{n} seen", {"n": "1.5"}) == "1.5 seen"  # not a count: left as it is
    assert en.said("{n} seen", {"n": "2"}) == "2 seen"  # a message of one form, as before


def test_numbers_are_written_as_each_language_writes_them() -> None:
    ru, ja, en = texts("ru"), texts("ja"), texts("en")
    assert [t.number(1.25, digits=1) for t in (ru, ja, en)] == ["1,2", "1.2", "1.2"]
    assert [t.number(2, digits=1) for t in (ru, en)] == ["2,0", "2.0"]  # the digits asked for
    assert [t.number(20_000) for t in (ru, ja, en)] == ["20\xa0000", "20,000", "20,000"]
    assert en.number(1234.56, digits=2) == "1,234.56"


@given(
    st.floats(min_value=-1e9, max_value=1e9, allow_nan=False),
    st.integers(min_value=0, max_value=3),
    st.sampled_from(LANGUAGES),
)
def test_a_number_written_in_a_language_reads_back_as_its_rounded_value(
    x: float, digits: int, lang: str
) -> None:
    written = texts(lang).number(x, digits=digits)
    rounded = Decimal(str(x)).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_EVEN)
    assert parse_decimal(written, locale=lang, strict=True) == rounded
    if lang == "ru" and digits:
        assert "," in written and "." not in written


def syntax(description: str) -> list[str]:
    """The parts of a command's description a user types: commands, [optional], <argument>,
    a | b, times and durations (ЧЧ:ММ is HH:MM)."""
    found = re.findall(
        r"/[a-z]\w*|\[|<|\||HH:MM|ЧЧ:ММ|\d\d:\d\d-\d\d:\d\d|\b\d+[hd]\b", description
    )
    return sorted(part.replace("ЧЧ:ММ", "HH:MM") for part in found)


@pytest.mark.parametrize("lang", ["ru", "ja"])
def test_every_language_s_help_and_menu_show_how_to_write_each_command(lang: str) -> None:
    """A Russian or Japanese subscriber's /help read "/digest — off | daily | weekly" (no time)
    or "/quiet — quiet hours" (no form), where the English line shows what to type."""
    from bot.telegram.texts import COMMANDS

    missing = [c.name for c in COMMANDS if syntax(c.about(lang)) != syntax(c.about("en"))]
    assert missing == []
    # a group's menu and /help say the same forms, in the group's words
    missing = [
        c.name for c in COMMANDS if syntax(c.about(lang, group=True)) != syntax(c.about("en"))
    ]
    assert missing == []


def test_query_and_search_errors_are_translated_too() -> None:
    from store import SearchError
    from watchers.topics.query import QueryError, parse

    with pytest.raises(QueryError) as caught:
        parse("Shikotan lang:de")
    error = caught.value
    assert str(error) == "column 15: lang: takes en, ru, ja"
    assert texts("ru")._(error.template, **error.values) == "lang: принимает en, ru, ja"
    empty = SearchError("an empty search: give a word to look for")
    assert texts("ja")._(empty.template, **empty.values) == "検索語が空です。語を指定してください"
    # the user's words in the reader's marks; the English message (the CLI's) as before
    with pytest.raises(QueryError) as caught:
        parse("Shikotan @@")
    assert str(caught.value) == "column 10: '@@' has no letters or digits to match"
    assert reason(caught.value, texts("ja")) == "「@@」には検索できる文字や数字がありません"
    assert reason(caught.value, texts("ru")) == "в «@@» нет ни букв, ни цифр"
    unclosed = SearchError("cannot search for {query}: a double quote is not closed", query='"a')
    assert str(unclosed) == "cannot search for '\"a': a double quote is not closed"
    assert reason(unclosed, texts("ru")).startswith('поиск по запросу «"a» невозможен')


def test_a_fresh_clone_without_compiled_catalogues_speaks_every_language(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot import i18n

    for lang in LANGUAGES:  # the .po files only, as git has them
        target = tmp_path / lang / "LC_MESSAGES"
        target.mkdir(parents=True)
        shutil.copy(catalogue_path(lang), target / "kurilwatch.po")
    monkeypatch.setattr(i18n, "LOCALES", tmp_path)
    assert i18n.Texts("ru")._("Not relevant") == "Не по теме"
    assert i18n.Texts("ja")._("Not relevant") == "関係なし"
    assert not list(tmp_path.rglob("*.mo"))  # compiled in memory, nothing written


@given(st.sampled_from("mfn"), st.integers(min_value=0, max_value=2**53), st.binary(min_size=32))
def test_signed_callbacks_fit_telegram_and_only_genuine_ones_verify(
    action: str, outbox_id: int, secret: bytes
) -> None:
    data = sign(secret, action, outbox_id)
    assert len(data.encode()) <= 64
    assert verify(secret, data) == (action, outbox_id)
    assert verify(secret[::-1] + b"x", data) is None
    for tampered in (data[:-1] + ("A" if data[-1] != "A" else "B"), data.replace(":", ";", 1)):
        assert verify(secret, tampered) is None
    other = "f" if action != "f" else "m"
    assert verify(secret, data.replace(f"a:{action}", f"a:{other}", 1)) is None


def test_sentences_follow_each_other_as_each_language_writes_them() -> None:
    assert texts("en").sentences("Subscribed.", "", "More soon.") == "Subscribed. More soon."
    assert texts("ru").sentences("Готово.", "Скоро ещё.") == "Готово. Скоро ещё."
    assert texts("ja").sentences("購読しました。", "すぐ届きます！", "次は？") == (
        "購読しました。すぐ届きます！次は？"
    )
    # a Japanese sentence that ends in no full-width stop (a list of ids) keeps its space
    assert texts("ja").sentences("不明なトピック: 'x'", "トピック: kuril") == (
        "不明なトピック: 'x' トピック: kuril"
    )


@pytest.mark.parametrize(
    ("lang", "items", "said"),
    [
        ("en", ["Russian", "English"], "Russian, English"),
        ("ru", ["русский", "английский"], "русский, английский"),
        ("ja", ["ロシア語", "英語"], "ロシア語、英語"),
        (
            "ja",
            ["<code>kuril</code>", "<code>peace-treaty</code>", "…"],
            ("<code>kuril</code>、<code>peace-treaty</code>、…"),
        ),
        ("ja", ["北方領土"], "北方領土"),
        ("ja", [], ""),
    ],
)
def test_a_list_is_joined_as_the_reader_s_language_lists(
    lang: str, items: list[str], said: str
) -> None:
    # Japanese read "ロシア語, 英語のニュースだけが届きます": lists were joined with ", " in code
    assert listed(texts(lang), items) == said
    assert listed(texts(lang), iter(items)) == said  # any iterable, once through


def test_a_user_s_words_quoted_back_are_listed_in_the_reader_s_way() -> None:
    assert quoted("x", "y") == "'x', 'y'"
    assert quoted("x", "y", tr=texts("en")) == "'x', 'y'"
    # in the reader's quotation marks: Russian «…», Japanese 「…」
    assert quoted("x", "y", tr=texts("ru")) == "«x», «y»"
    assert quoted("x", "y", tr=texts("ja")) == "「x」、「y」"
    assert quoted("it's", tr=texts("ru")) == "«it's»"
    # cut, the words still end in their quote: "Unknown topic 'xxx…. Valid topics" read as
    # a quote never closed
    assert quoted("x" * 100, tr=texts("ja")) == "「" + "x" * 57 + "…」"
    assert quoted("x" * 100, tr=texts("ru")) == "«" + "x" * 57 + "…»"
    assert quoted("it's" * 30).endswith('…"') and len(quoted("it's" * 30)) == 60
    # what would not show is written as Python escapes it, in every language
    assert quoted("\u202eru\n", tr=texts("ru")) == "«\\u202eru\\n»"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_an_empty_text_is_empty_in_every_language_never_the_catalogue_header(lang: str) -> None:
    # a topic titled "" showed "Project-Id-Version: kurilwatch 0.1 ..." on its /start button,
    # in digests and in its Atom feed's title: gettext's answer to ""
    assert texts(lang)._("") == ""


# the placeholders the bot fills with a user's words, which Japanese quotes 「…」: always, and
# in the messages that begin so
QUOTED_VALUES = {"value", "text", "prefix"}
QUOTED_IN = {
    "cannot search for": "query",
    "Nothing stored matches": "words",
    "No feed is": "source",
    "Unknown topic": "topics?",
    "unknown field": "name",
    # a config's errors: the operator's words (bot/config, `Quoted`)
    "feed id {id}": "id",
    "key {key}": "key",
    "{feed} is no feed id": "feed",
    "{name} is not a time zone": "name",
    "{path} is a folder": "path",
    "{topics}; use topic ids": "topics",
    "{listen}: a port": "listen",
    # a config's warnings: a query's words (watchers/config_checks.py, `Words`)
    "{words}: read as words": "words",
    "{words} alone makes": "words",
    "{written} is read as the words": "words",
}
NON_ASCII = r"[^\x00-\x7f]"


def test_japanese_writes_no_space_between_quoted_words_and_its_own() -> None:
    """「北方領土」を…, not 「北方領土」 を…: Japanese puts no space beside 「…」 (one stays beside
    Latin text: /mywatch は「x」)."""
    with catalogue_path("ja").open("rb") as file:
        catalog = read_po(file, locale="ja")
    spaced = []
    for entry in catalog:
        if not entry.id:
            continue
        msgid = entry.id if isinstance(entry.id, str) else entry.id[0]
        names = {*QUOTED_VALUES, *(n for start, n in QUOTED_IN.items() if msgid.startswith(start))}
        quote = "|".join([r"「", r"」", *(rf"\{{{n}\}}" for n in names)])
        forms = entry.string if isinstance(entry.string, tuple) else (entry.string,)
        for form in forms:
            if re.search(rf"{NON_ASCII} (?:{quote})|(?:{quote}) {NON_ASCII}", form):
                spaced.append(form)
    assert spaced == []


@pytest.mark.parametrize(
    ("length", "russian"),
    [
        (timedelta(hours=7, minutes=1), "7 часов 1 минуту"),
        (timedelta(minutes=21), "21 минуту"),
        (timedelta(minutes=11), "11 минут"),
        (timedelta(minutes=2), "2 минуты"),
        (timedelta(seconds=31), "31 секунду"),
        (timedelta(days=1, hours=1), "1 день 1 час"),
        (timedelta(0), "0 секунд"),
    ],
)
def test_a_russian_span_is_a_length_of_time_as_a_sentence_takes_it(
    length: timedelta, russian: str
) -> None:
    """Every span the bot says in Russian is how long something lasted ("не работает уже …",
    "сбои длились …", "за …"): the accusative, which differs from the nominative only in the
    feminine units: "уже 7 часов 1 минута" read wrong."""
    assert texts("ru").say(Said("{span}", {"span": Span(length.total_seconds())})) == russian
