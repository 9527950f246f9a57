"""A query's error and warnings name the line and column of the file to edit: a query folded
over lines (`>-`) was named at its key's line, with a column counted across the joined text
("line 91: topics.kuril.query: column 824: ...", for a mistake on line 103)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from bot.config import ConfigError, load_config, parse_config
from tests.conftest import ROOT, cli, write_config

FEEDS = "feeds:\n  - id: one\n    url: http://127.0.0.1:9/feed.xml\ntopics:\n  t:\n    title: T\n"
UNMATCHED = "')' without a matching '(' in the query"


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(text, source="c.yaml")
    return info.value.problems


def place(text: str, marker: str) -> tuple[int, int]:
    """The 1-based line and column of the first `marker` in `text`."""
    before, _, _ = text.partition(marker)
    return before.count("\n") + 1, len(before) - (before.rfind("\n") + 1) + 1


def shipped_with(old: str, new: str) -> str:
    text = (ROOT / "config.yaml").read_text(encoding="utf-8")
    assert old in text
    return text.replace(old, new, 1)


@pytest.mark.parametrize("command", ["check", "run"])
def test_a_paren_in_the_shipped_folded_query_is_named_on_its_line(
    tmp_path: Path, command: str
) -> None:
    """The reproduction: `kurilwatch check` said "line 91: topics.kuril.query: column 824" for
    the ')' on line 103, column 26."""
    path = tmp_path / "q4.yaml"
    text = shipped_with("OR шумшу OR симушир", "OR шумшу OR симушир)")
    path.write_text(text, encoding="utf-8")
    line, column = place(text, "симушир)")
    column += len("симушир")
    assert (line, column) == (103, 26)  # as the report measured it in the shipped config
    result = cli(command, "--config", str(path))
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"kurilwatch: {path} line 103, column 26: topics.kuril.query: {UNMATCHED}"
    ]


def test_a_lower_case_or_in_the_shipped_folded_query_is_warned_on_its_line(
    tmp_path: Path,
) -> None:
    path = tmp_path / "q5.yaml"
    text = shipped_with('\n      OR "northern territories"', '\n      or "northern territories"')
    path.write_text(text, encoding="utf-8")
    line, column = place(text, 'or "northern territories"')
    result = cli("check", "--config", str(path))
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == [
        f"kurilwatch: warning: {path} line {line}, column {column}: topics.kuril.query: 'or':"
        " read as words an item must contain; the operators are written AND, OR, NOT, in"
        " capitals"
    ]
    assert text.splitlines()[line - 1].startswith("      or ")


def test_a_lang_no_feed_gives_is_warned_at_its_condition(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    text = FEEDS.replace("feed.xml", "feed.xml\n    lang: en") + (
        "    query: >-\n      kuril\n        AND lang:RU\n"
    )
    path.write_text(text)
    result = cli("check", "--config", str(path))
    assert result.stderr.splitlines() == [
        f"kurilwatch: warning: {path} line 10, column 13: topics.t.query: lang:ru: no feed gives"
        " such items (each feed's lang is en)"
    ]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        # one line: the file's column, not the query's
        ("query: kuril OR", "c.yaml line 7, column 20: topics.t.query: a term is missing at"),
        ("query: 'o''neil )'", f"c.yaml line 7, column 21: topics.t.query: {UNMATCHED}"),
        ('query: "kuril\n      OR x)"', f"c.yaml line 8, column 11: topics.t.query: {UNMATCHED}"),
        ("query: |\n      kuril\n      OR (x", "c.yaml line 9, column 10: topics.t.query: '('"),
        (
            "query: kuril\n      OR\n\n      x)",
            f"c.yaml line 10, column 8: topics.t.query: {UNMATCHED}",
        ),
        # escapes: no column of the file is known; the key's line, and where in the query
        (
            'query: "\\u006buril )"',
            f"c.yaml line 7: topics.t.query: {UNMATCHED} (character 7 of its text)",
        ),
    ],
)
def test_each_style_of_scalar_names_the_place_in_the_file(query: str, expected: str) -> None:
    [problem] = problems(FEEDS + "    " + query + "\n")
    assert problem.startswith(expected), problem


def test_an_aliased_query_is_named_where_its_text_is_written() -> None:
    text = FEEDS + "    query: &q >-\n      kuril\n      OR x)\n  u:\n    title: U\n    query: *q\n"
    assert problems(text) == [
        f"c.yaml line 9, column 11: topics.t.query: {UNMATCHED}",
        f"c.yaml line 9, column 11: topics.u.query: {UNMATCHED}",
    ]


WORDS = st.text(st.sampled_from("abkmrstuxyzкурилшмтоя"), min_size=1, max_size=8)
STYLES = [">-", ">", ">+", "|", "|-", "plain", "'", '"']


@given(
    words=st.lists(WORDS | WORDS.map(lambda w: w + "'s"), min_size=1, max_size=12),
    joins=st.lists(st.sampled_from(["OR", "AND", ""]), min_size=12, max_size=12),
    breaks=st.lists(st.sampled_from(["", "", "\n", "\n ", "\n   ", "\n\n"]), min_size=25),
    style=st.sampled_from(STYLES),
    mistake=st.sampled_from([")", "("]),
    at=st.integers(min_value=0),
)
def test_a_mistake_anywhere_in_a_query_over_lines_is_named_where_it_is_written(
    words: list[str],
    joins: list[str],
    breaks: list[str],
    style: str,
    mistake: str,
    at: int,
) -> None:
    """A query split over lines at random word boundaries, in each style of YAML scalar, with
    an unmatched parenthesis at a random word: its line and column in the file."""
    at %= len(words)
    tokens: list[str] = []
    for n, word in enumerate(words):
        if n:
            tokens += [joins[n - 1]] if joins[n - 1] else []
        tokens.append(f"{word}{mistake}" if mistake == ")" and n == at else word)
        if mistake == "(" and n == at:
            tokens[-1] = "(" + tokens[-1]
    if style == "'":
        tokens = [t.replace("'", "''") for t in tokens]
    text, line, column = FEEDS, 0, 0
    head = {"plain": "", "'": "'", '"': '"'}.get(style, style + "\n      ")
    body = "    query: " + head
    for n, token in enumerate(tokens):
        if n:
            gap = breaks[n % len(breaks)]
            body += gap.replace("\n", "\n      ") if gap else " "
        if mistake in token and not column:
            before = text + body
            line = before.count("\n") + 1
            column = len(before) - (before.rfind("\n") + 1) + 1 + token.index(mistake)
        body += token
    body += {"'": "'", '"': '"'}.get(style, "") + "\n"
    text += body
    try:
        settings = parse_config(text, source="c.yaml")
    except ConfigError as error:
        [problem] = error.problems
    else:
        raise AssertionError(f"no error: {settings.topics['t'].query!r}")
    assert problem.startswith(f"c.yaml line {line}, column {column}: topics.t.query: "), (
        problem,
        text,
    )
    written = text.splitlines()[line - 1]
    assert written[column - 1] == mistake


async def test_a_reload_names_the_line_and_column_of_a_query_mistake(tmp_path: Path) -> None:
    from bot.daemon import Daemon

    config = write_config(tmp_path, {"a": "http://127.0.0.1:9/a.xml"})
    daemon = Daemon(load_config(config), None, config_path=config, config_settle=0)
    settings = yaml.safe_load(config.read_text())
    del settings["topics"]
    head = yaml.safe_dump(settings) + "topics:\n  kuril:\n    title: Kuril\n    query: >-\n"
    config.write_text(head + "      kuril OR\n      shikotan)\n")
    line, column = place(config.read_text(), "shikotan)")
    column += len("shikotan")
    said = await daemon.reload()
    assert said.startswith("Not reloaded; the running config stays. "), said
    assert f"{config} line {line}, column {column}: topics.kuril.query: {UNMATCHED}" in said

    config.write_text(head + "      kuril OR\n      shikotan or kunashir\n")
    line, column = place(config.read_text(), "or kunashir")
    said = await daemon.reload()
    assert said.startswith("Reloaded: "), said
    assert f"{config} line {line}, column {column}: topics.kuril.query: 'or': read" in said
