"""A topic's query written in YAML quotes, as a phrase is written in the query language: YAML
takes the quotes off, and the words are matched anywhere in an item. `check` warns (exit 0)
naming the key and its line; a reload tells the admins once."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.config import config_warnings_of, load_config
from tests.conftest import cli

HEAD = "feeds:\n  - id: a\n    url: http://127.0.0.1:9/a.xml\ntopics:\n  kuril:\n    title: K\n"
HEAD += "    query: iturup\n  treaty:\n    title: T\n"


def _config(folder: Path, query: str, name: str = "c.yaml") -> Path:
    path = folder / name
    path.write_text(HEAD + f"    query: {query}\n", encoding="utf-8")
    return path


def test_check_warns_of_a_phrase_yaml_took_the_quotes_off_naming_its_line(
    tmp_path: Path,
) -> None:
    config = _config(tmp_path, '"peace treaty"')
    result = cli("check", "--config", str(config))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("config OK")
    assert result.stderr == (
        f'kurilwatch: warning: {config} line 10: topics.treaty.query: "peace treaty" is read'
        " as the words 'peace', 'treaty', anywhere in an item (YAML took the quotes off); for"
        " the phrase, write '\"peace treaty\"'\n"
    )
    assert config.read_text().splitlines()[9].strip() == 'query: "peace treaty"'


@pytest.mark.parametrize(
    ("query", "said"),
    [
        ("'peace treaty'", "'peace treaty' is read as the words 'peace', 'treaty',"),
        ('"мирный договор"', "\"мирный договор\" is read as the words 'мирный', 'договор',"),
        ('"o\'neil  visit"', "\"o'neil  visit\" is read as the words \"o'neil\", 'visit',"),
        ('"peace\n      treaty"', '"peace treaty" is read as the words'),  # folded by YAML
    ],
)
def test_a_single_quoted_or_folded_phrase_is_named_with_how_to_write_it(
    tmp_path: Path, query: str, said: str
) -> None:
    config = _config(tmp_path, query)
    [warning] = config_warnings_of(load_config(config), config)
    assert f"{config} line 10: topics.treaty.query: {said}" in warning, warning
    value = load_config(config).topics["treaty"].query
    fix = "'\"" + " ".join(value.split()).replace("'", "''") + "\"'"
    assert warning.endswith(f"; for the phrase, write {fix}"), warning
    # the way it says to write it is the phrase
    assert load_config(_config(tmp_path, fix, "fixed.yaml")).topics["treaty"].query == (
        f'"{" ".join(value.split())}"'
    )


@pytest.mark.parametrize(
    "query",
    [
        "'\"peace treaty\"'",  # the phrase, in YAML's quotes
        "peace treaty",  # no quotes written: the two words are meant
        '"kuril OR курил"',  # quoted for YAML's sake, an operator of its own
        '"kuril"',  # one word
        '"yuzhno-kurilsk"',  # one word, a phrase of its own
        '"(kuril shikotan)"',
        '"title:kuril shikotan"',
        '"kuril -shikotan"',
        '"kuril* shikotan"',
        "|\n      peace treaty",  # a block: no quotes
        ">-\n      peace\n      treaty",
    ],
)
def test_a_query_whose_quotes_yaml_took_off_unmeant_is_not_named(
    tmp_path: Path, query: str
) -> None:
    config = _config(tmp_path, query)
    result = cli("check", "--config", str(config))
    assert result.returncode == 0 and result.stderr == "", result.stderr


def test_lower_case_operators_in_quotes_are_named_as_operators_only(tmp_path: Path) -> None:
    config = _config(tmp_path, '"shikotan or kunashir"')
    [warning] = config_warnings_of(load_config(config), config)
    assert "topics.treaty.query: 'or': read as words" in warning, warning


def test_the_words_of_a_quoted_phrase_are_quoted_and_listed_in_the_admin_s_language(
    tmp_path: Path,
) -> None:
    """The admins' notice named the words 'peace', 'treaty' with Python's quotes, and listed
    them with ", " in Japanese too."""
    from bot.config import placed_warnings
    from bot.i18n import texts
    from bot.reload import said_warning

    config = _config(tmp_path, '"peace treaty"')
    [warning] = placed_warnings(load_config(config), config)
    said = said_warning(warning)
    assert "the words 'peace', 'treaty', anywhere" in texts("en").say(said)
    assert "слова «peace», «treaty» в любом месте" in texts("ru").say(said)
    assert '"peace treaty" は「peace」、「treaty」の各語が' in texts("ja").say(said)


def test_a_reload_tells_of_a_quoted_phrase_the_edit_brought_once(tmp_path: Path) -> None:
    from bot.reload import new_warnings

    old = _config(tmp_path, "kuril", "old.yaml")
    new = _config(tmp_path, '"peace treaty"', "new.yaml")
    [warning] = new_warnings(load_config(old), load_config(new), new)
    assert re.fullmatch(
        rf"{re.escape(str(new))} line 10: topics\.treaty\.query: \"peace treaty\" is read as"
        r" the words .*",
        warning.text,
    ), warning.text
    kept = _config(tmp_path, '"peace treaty"', "kept.yaml")  # an edit that keeps it
    assert new_warnings(load_config(new), load_config(kept), kept) == []
