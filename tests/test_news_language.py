"""An item's language (the feed's `lang`, else its script) and the query fields `lang:` and
`source:`: parsed, matched, explained by `kurilwatch match --explain`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import ROOT, cli
from watchers.language import item_language, script_language
from watchers.topics.engine import Document, Matcher
from watchers.topics.query import Meta, QueryError, parse


def labelled() -> list[dict[str, str]]:
    rows = []
    for name in ("labelled.jsonl", "heldout.jsonl"):
        with (ROOT / "tests" / "data" / name).open(encoding="utf-8") as file:
            rows += [json.loads(line) for line in file if line.strip()]
    return [r for r in rows if r.get("lang")]


def test_the_script_names_the_language_of_every_labelled_item() -> None:
    rows = labelled()
    wrong = [
        r["id"] for r in rows if item_language(r["title"], r.get("summary") or "") != r["lang"]
    ]
    assert len(rows) > 300 and wrong == []


def test_the_feeds_lang_wins_over_the_script() -> None:
    assert item_language("Курилы", "", "en") == "en"
    assert item_language("Курилы", "", None) == "ru"
    assert item_language("北方領土", "") == "ja"
    assert item_language("Kuril Islands: 北方領土 in the Japanese press", "") == "en"
    assert script_language("") == "en"


@given(st.text(max_size=200))
def test_any_text_has_one_of_the_three_languages(text: str) -> None:
    assert script_language(text) in ("en", "ru", "ja")


def script_by_each_letter(text: str) -> str:
    """`script_language` as a plain loop over the characters."""
    cyrillic = kana = han = latin = 0
    for char in text:
        code = ord(char)
        if 0x0400 <= code <= 0x04FF:
            cyrillic += 1
        elif 0x3040 <= code <= 0x30FF or 0xFF66 <= code <= 0xFF9D:
            kana += 1
        elif 0x4E00 <= code <= 0x9FFF or 0x3400 <= code <= 0x4DBF:
            han += 1
        elif char.isascii() and char.isalpha():
            latin += 1
    if (kana or han > cyrillic) and kana + han >= latin / 4:
        return "ja"
    if cyrillic and cyrillic >= latin / 2:
        return "ru"
    return "en"


LETTERS = st.sampled_from("aZк Жの国日ア々ｱﾝ\u3400\u9fff\u04ff\u0400\u30ff\u3040\uff66\uff9dé1 ")


@given(st.text(LETTERS, max_size=60) | st.text(max_size=60))
def test_the_script_is_counted_as_a_loop_over_each_letter_counts_it(text: str) -> None:
    assert script_language(text) == script_by_each_letter(text)


def matches(query: str, title: str, *, lang: str, source: str) -> bool:
    matcher = Matcher({"q": parse(query)})
    doc = Document({"title": title}, {"lang": lang, "source": source})
    return [m.topic_id for m in matcher.match(doc)] == ["q"]


def test_lang_and_source_narrow_a_query() -> None:
    assert matches("Shikotan lang:en", "Shikotan port", lang="en", source="kyodo")
    assert not matches("Shikotan lang:en", "Shikotan port", lang="ru", source="kyodo")
    assert matches("Shikotan source:tass", "Shikotan", lang="en", source="tass-en")
    assert matches("Shikotan source:tass-en", "Shikotan", lang="en", source="tass-en")
    assert not matches("Shikotan source:tass", "Shikotan", lang="en", source="tassy")
    assert not matches("Shikotan -source:tass", "Shikotan", lang="en", source="tass-ru")
    assert matches("(Shikotan lang:en) OR (Шикотан lang:ru)", "Шикотан", lang="ru", source="x")
    assert parse("Shikotan LANG:EN".replace("LANG", "lang")) == parse("Shikotan lang:en")
    assert Meta("lang", "en") in parse("Shikotan lang:en").children  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("lang:ru", "without any of its terms"),
        ("Shikotan OR lang:ru", "without any of its terms"),
        ("Shikotan lang:de", "lang: takes en, ru, ja"),
        ("Shikotan source:TASS_EN", "source: takes a feed id"),
        ("Shikotan lang: ru", "needs a value right after it"),
        ("Shikotan place:x", "unknown field 'place:'"),
    ],
)
def test_bad_conditions_are_named(query: str, message: str) -> None:
    with pytest.raises(QueryError, match=message):
        parse(query)


def test_match_explain_names_the_conditions(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        "topics:\n  en:\n    title: E\n    query: Shikotan lang:en\n"
        "  tass:\n    title: T\n    query: Shikotan source:tass\n",
        encoding="utf-8",
    )
    stdin = "".join(
        json.dumps(o, ensure_ascii=False) + "\n"
        for o in (
            {"id": 1, "title": "Shikotan port opens"},
            {"id": 2, "title": "Порт на Шикотане, Shikotan", "source": "tass-ru"},
            {"id": 3, "title": "Shikotan", "lang": "ru"},
        )
    )
    result = cli("match", "--config", str(config), "--explain", stdin=stdin)
    assert result.returncode == 0, result.stderr
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert out[0]["topics"] == ["en"]
    assert {"term": "lang:en", "field": "lang", "offset": None} in out[0]["explain"]["en"]
    assert out[1]["topics"] == ["tass"]
    assert {"term": "source:tass", "field": "source", "offset": None} in out[1]["explain"]["tass"]
    assert out[2]["topics"] == []


def test_the_filter_decider() -> None:
    from store import ChatFilter, wants

    assert wants(None, lang="en", feed_id="tass-en")
    assert wants(ChatFilter(), lang="en", feed_id="tass-en")
    russian = ChatFilter(langs=frozenset({"ru"}))
    assert not wants(russian, lang="en", feed_id="kyodo")
    assert wants(russian, lang="ru", feed_id="kyodo")
    assert wants(russian, lang=None, feed_id="kyodo")  # stored before languages were kept
    muted = ChatFilter(muted=frozenset({"tass-en"}))
    assert not wants(muted, lang="en", feed_id="tass-en") and wants(muted, lang="en", feed_id="x")
    assert not ChatFilter() and muted and russian
