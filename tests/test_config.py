"""Config loading: valid files become frozen Config; every problem names its key path."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.config import ConfigError, load_config, parse_config
from watchers.config import format_duration, parse_duration

ROOT = Path(__file__).resolve().parent.parent

MINIMAL = """
feeds:
  - id: one
    url: http://127.0.0.1:9/feed.xml
topics:
  kuril:
    title: Kuril Islands
    query: kuril*
"""


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(text, source="c.yaml")
    return info.value.problems


def test_shipped_config_is_valid() -> None:
    settings = load_config(ROOT / "config.yaml")
    assert {"kuril", "peace-treaty"} <= set(settings.topics)
    assert len(settings.feeds) >= 5
    assert settings.store.path.is_absolute()
    assert settings.telegram.token_env == "TELEGRAM_BOT_TOKEN"


def test_defaults_and_relative_store_path(tmp_path: Path) -> None:
    path = tmp_path / "conf" / "config.yaml"
    path.parent.mkdir()
    path.write_text(MINIMAL)
    settings = load_config(path)
    assert settings.store.path == (tmp_path / "conf" / "data" / "kurilwatch.db").resolve()
    assert settings.poll.interval == timedelta(minutes=5)
    assert settings.telegram.api_base_url == "https://api.telegram.org/bot"
    with pytest.raises(ValidationError):
        settings.poll.interval = timedelta(seconds=1)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("5m", 300), ("1h", 3600), ("2d", 172800), (45, 45), ("1.5", 1.5), ("1s", 1)],
)
def test_durations(text: str | int, seconds: float) -> None:
    assert parse_duration(text).total_seconds() == seconds


@pytest.mark.parametrize("bad", ["5x", "", "m5", "-1s", 0, "0s", True, [1]])
def test_bad_durations(bad: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(bad)


def test_dedup_keys_kept_less_long_than_the_text_are_refused() -> None:
    """A prune deleted items (text and keys) after keys_retention whatever the retention said,
    and an item still in its feed came back as new, alerted again."""
    store = "store:\n  retention: 90d\n  keys_retention: 30d\n"
    [problem] = problems(store + MINIMAL)
    assert problem == (
        "c.yaml line 3: store.keys_retention: 30d is shorter than store.retention (90d): an"
        " item's dedup keys are kept at least as long as its text"
    )
    equal = parse_config(store.replace("30d", "90d") + MINIMAL, source="c.yaml")
    assert equal.store.keys_retention == equal.store.retention == timedelta(days=90)
    # left out, the keys are kept as long as the text: a long retention alone still loads
    alone = parse_config("store:\n  retention: 400d\n" + MINIMAL, source="c.yaml")
    assert alone.store.keys_retention == alone.store.retention == timedelta(days=400)
    # and a short keys_retention alone, valid before, still loads: the text goes with the
    # keys, as a prune did before the rule (it deleted the items at the shorter)
    short = parse_config("store:\n  keys_retention: 30d\n" + MINIMAL, source="c.yaml")
    assert short.store.keys_retention == short.store.retention == timedelta(days=30)


def test_format_duration_round_trips() -> None:
    for text in ["30s", "5m", "1h", "1h30m", "2d"]:
        assert format_duration(parse_duration(text)) == text


def test_unknown_key_names_its_path_and_line() -> None:
    text = MINIMAL.replace("    url: http", "    ur1: x\n    url: http")
    [problem] = problems(text)
    assert problem == "c.yaml line 4: feeds[0].ur1: unknown key; did you mean url?"


UNKNOWN = "unknown key (check its spelling and indentation)"


@pytest.mark.parametrize(
    ("typo", "problem"),
    [
        ("pol:\n  interval: 5m\n", "line 9: pol: unknown key; did you mean poll?"),
        (
            "poll:\n  intervall: 5m\n",
            "line 10: poll.intervall: unknown key; did you mean interval?",
        ),
        ("telegram:\n  admin: [1]\n", "line 10: telegram.admin: unknown key; did you mean admins?"),
        ("metrics: {listn: x}\n", "line 9: metrics.listn: unknown key; did you mean listen?"),
        (
            "channels:\n  - {chat: '@abcd', topics: [kuril], langauge: ru}\n",
            "line 10: channels[0].langauge: unknown key; did you mean language?",
        ),
        # no key of the section is near: where it belongs is as likely as its spelling
        ("store:\n  interval: 5m\n", "line 10: store.interval: " + UNKNOWN),
        ("frobnicate: 1\n", "line 9: frobnicate: " + UNKNOWN),
    ],
)
def test_a_misspelt_key_is_named_with_the_key_it_was_meant_to_be(typo: str, problem: str) -> None:
    # a typo was only "unknown key": the operator had to find the right spelling in README
    assert problems(MINIMAL + typo) == [f"c.yaml {problem}"]


def test_a_misspelt_key_of_a_feed_or_topic_is_named_with_the_key_it_was_meant_to_be() -> None:
    text = MINIMAL.replace("    url: http", "    intervl: 5m\n    url: http").replace(
        "    query: kuril*", "    query: kuril*\n    tilte: x"
    )
    assert problems(text) == [
        "c.yaml line 4: feeds[0].intervl: unknown key; did you mean interval?",
        "c.yaml line 10: topics.kuril.tilte: unknown key; did you mean title?",
    ]


def test_a_key_written_with_a_line_break_or_a_tab_is_named_on_one_line() -> None:
    """The values an error quotes were shown escaped (repr), but not the keys of its path: a
    key written "inter\\nval" broke `check`'s line of it in two."""
    text = MINIMAL.replace("  kuril:", '  "kuril\\tx":') + 'poll:\n  "inter\\nval": 5m\n'
    assert problems(text) == [
        "c.yaml line 6: topics.kuril\\tx: a topic id is lower-case letters, digits and '-',"
        " starting with a letter or digit; got 'kuril\\tx'",
        "c.yaml line 10: poll.inter\\nval: unknown key; did you mean interval?",
    ]


def test_several_problems_are_listed_in_the_files_line_order() -> None:
    """They came in the order of the config's fields (telegram before poll, a feed's id before
    its url): line 8 before line 2, line 5 before line 4."""
    text = (
        "poll:\n"
        "  interval: 5x\n"
        "feeds:\n"
        "  - url: relative/x.xml\n"
        "    id: A\n"
        "    title: one\n"
        "telegram:\n"
        "  timezone: Mars/Olympus\n"
        "topics:\n"
        "  kuril: {title: Kuril Islands, query: (kuril}\n"
    )
    found = problems(text)
    assert [p.split(":")[0] for p in found] == [
        "c.yaml line 2",
        "c.yaml line 4",
        "c.yaml line 5",
        "c.yaml line 8",
        "c.yaml line 10, column 40",
    ]


def test_bad_interval_names_the_feed() -> None:
    text = MINIMAL.replace(
        "    url: http://127.0.0.1:9/feed.xml", "    url: http://x/\n    interval: 5x"
    )
    [problem] = problems(text)
    assert problem.startswith("c.yaml line 5: feeds[0].interval: '5x' is not a duration")


def test_wrong_type_and_missing_key() -> None:
    text = MINIMAL.replace("title: Kuril Islands", "title: [1, 2]").replace(
        "    url: http://127.0.0.1:9/feed.xml\n", ""
    )
    found = problems(text)
    assert any(p.startswith("c.yaml line 3: feeds[0].url: required key is missing") for p in found)
    assert any("topics.kuril.title: " in p for p in found)


def test_bad_query_names_topic_and_column() -> None:
    [problem] = problems(MINIMAL.replace("query: kuril*", 'query: (kuril* OR "iturup'))
    assert problem == "c.yaml line 8, column 23: topics.kuril.query: unclosed quote in the query"


def test_a_topic_written_with_typographic_quotes_before_they_quoted_still_loads() -> None:
    # 421615e refused these as a word of punctuation and an unclosed quote: the daemon stopped
    for query in ("'«Росатом». Газета «Ведомости'", "'Minister “Hayashi”.'"):
        settings = parse_config(MINIMAL.replace("kuril*", query), source="c.yaml")
        assert settings.topics["kuril"].query == query.strip("'")


def test_a_too_costly_query_names_topic_line_and_limit() -> None:
    nears = " ".join(f"a{i} NEAR b{i}" for i in range(5))
    [problem] = problems(MINIMAL.replace("query: kuril*", f"query: {nears}"))
    assert problem.startswith("c.yaml line 8, column 59: topics.kuril.query: more than 4 NEARs")


def test_duplicate_feed_ids_and_bad_ids() -> None:
    text = MINIMAL + "  # extra\n"
    text = text.replace(
        "topics:",
        "  - id: one\n    url: http://x/\n  - id: Bad_Id\n    url: http://y/\ntopics:",
    )
    found = problems(text)
    assert any("feeds[2].id: ids are lower-case letters, digits and '-'" in p for p in found)
    fixed = text.replace("Bad_Id", "two")
    assert problems(fixed) == [
        "c.yaml line 5: feeds[1].id: feed id 'one' is used twice (also feeds[0])"
    ]


def test_cross_checks_name_the_key_and_its_line() -> None:
    """A channel naming a topic the config lacks is an error on the channel's own line, not
    on line 1 of the file under '(top level)'."""
    text = MINIMAL + "channels:\n  - chat: '@kuril_news'\n    topics: [kuril, treaty]\n"
    assert problems(text) == [
        "c.yaml line 11: channels[0].topics: 'treaty'; use topic ids of this config: kuril"
    ]


def test_invalid_yaml_gives_line_and_column() -> None:
    [problem] = problems("feeds:\n  - id: a\n   url: b: c\n")
    assert problem.startswith("c.yaml line 3, column")
    assert "invalid YAML" in problem


def test_empty_and_non_mapping() -> None:
    assert problems("") == ["c.yaml: the config file is empty"]
    assert "mapping" in problems("- a\n- b\n")[0]


def test_token_comes_from_the_named_variable() -> None:
    settings = parse_config(MINIMAL + "telegram:\n  token_env: MY_TOKEN\n")
    assert settings.token({"MY_TOKEN": " 1:abc "}) == "1:abc"
    assert settings.token({"TELEGRAM_BOT_TOKEN": "x"}) is None


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd or ROOT,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
    )


def test_check_command_prints_summary() -> None:
    result = run_cli("check", "--config", str(ROOT / "config.yaml"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("config OK")
    assert "kuril: Kuril Islands" in result.stdout


def test_run_refuses_a_bad_query(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(MINIMAL.replace("query: kuril*", "query: kuril OR"))
    result = run_cli("run", "--config", str(path))
    assert result.returncode == 2
    assert "line 8, column 20: topics.kuril.query: a term is missing at the end" in result.stderr


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "config file not found"),
        ("feeds: [\n", "invalid YAML"),
        (MINIMAL + "bogus: 1\n", "bogus: unknown key"),
        (
            MINIMAL.replace("url: http://127.0.0.1:9/feed.xml", "url: http://x/\n    interval: 5x"),
            "feeds[0].interval: '5x' is not a duration",
        ),
        # resolving it raised ValueError: a traceback and exit 1
        (MINIMAL + 'store:\n  path: "data/kw\\0.db"\n', "line 10: store.path: a NUL character"),
    ],
)
def test_check_exits_2_with_one_clear_line(
    tmp_path: Path, content: str | None, expected: str
) -> None:
    path = tmp_path / "config.yaml"
    if content is not None:
        path.write_text(content)
    result = run_cli("check", "--config", str(path))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert expected in lines[0]
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("path", ['""', ".", "data/", "..", "data/..", "data/.", "./"])
def test_a_store_path_that_names_a_folder_is_refused(path: str) -> None:
    # `check` passed it; `run` then stopped with "unable to open database file", naming no key
    [problem] = problems(MINIMAL + f"store:\n  path: {path}\n")
    assert problem.startswith("c.yaml line 10: store.path: "), problem
    assert problem.endswith(
        "is a folder, not a file; name the store's file, such as data/kurilwatch.db"
    )


def test_bytes_that_are_not_utf8_are_named_by_their_line_and_column(tmp_path: Path) -> None:
    # were "'utf-8' codec can't decode byte 0xe9 in position 61", an offset no editor shows
    path = tmp_path / "config.yaml"
    path.write_bytes(MINIMAL.replace("Kuril Islands", "Traité de paix").encode("latin-1"))
    with pytest.raises(ConfigError) as latin:
        load_config(path)
    assert str(latin.value) == (
        f"{path} line 7, column 17: byte 0xe9 is not UTF-8 (the file is in another encoding,"
        " such as Latin-1 or Windows-1251); save it as UTF-8"
    )
    path.write_bytes(MINIMAL.encode("utf-16"))  # Notepad's "Unicode"
    with pytest.raises(ConfigError) as utf16:
        load_config(path)
    assert (
        str(utf16.value) == f"{path}: the file is UTF-16 (its first bytes say so); save it as UTF-8"
    )


@pytest.mark.parametrize("separator", ["\u2028", "\u2029", "\u0085"])
def test_a_line_break_no_editor_shows_shifts_no_line_named(separator: str) -> None:
    # YAML 1.1 counts U+2028, U+2029 and NEL as line breaks; editors and `grep -n` do not: a
    # title pasted from a web page made every later error name the line after its own, and one
    # in a comment ended it ("mapping values are not allowed" on the next key)
    text = f"# from a web page{separator} its docs: here\n" + MINIMAL.replace(
        "title: Kuril Islands", f'title: "Kuril{separator}Islands"'
    )
    settings = parse_config(text)
    assert settings.topics["kuril"].title == "Kuril Islands"
    assert problems(text.replace("query: kuril*", "query: (kuril*")) == [
        "c.yaml line 9, column 12: topics.kuril.query: '(' is never closed in the query"
    ]


def test_timezone_is_checked_and_used() -> None:
    [problem] = problems("telegram:\n  timezone: Mars/Olympus\n" + MINIMAL)
    assert problem.startswith("c.yaml line 2: telegram.timezone: 'Mars/Olympus' is not a time zone")
    settings = parse_config("telegram:\n  timezone: Asia/Tokyo\n" + MINIMAL, source="c.yaml")
    assert settings.telegram.tz.key == "Asia/Tokyo"


def test_merge_keys_share_settings_between_feeds() -> None:
    """`<<: *anchor` (YAML's merge key) is how operators share a feed's settings; the
    duplicate-key check must not refuse it, and a key beside it overrides the merged one."""
    text = MINIMAL.replace(
        "    url: http://127.0.0.1:9/feed.xml\n",
        "    url: http://127.0.0.1:9/feed.xml\n"
        "  - &gnews\n    id: gnews-en\n    url: http://127.0.0.1:9/en.xml\n    interval: 2m\n"
        "    lang: en\n"
        "  - <<: *gnews\n    id: gnews-ru\n    url: http://127.0.0.1:9/ru.xml\n    lang: ru\n",
    )
    settings = parse_config(text)
    ru = settings.feeds[2]
    assert (ru.id, ru.interval, ru.lang) == ("gnews-ru", timedelta(minutes=2), "ru")
    twice = text.replace("  - <<: *gnews\n", "  - <<: *gnews\n    <<: *gnews\n")
    assert any("key '<<' is written twice" in p for p in problems(twice))
    # a mapping merged where its anchor is defined is never constructed as a mapping: its
    # second `interval` silently won
    merged = MINIMAL.replace(
        "  - id: one\n",
        "  - <<: &gnews\n      interval: 10m\n      lang: en\n      interval: 1s\n    id: one\n",
    )
    assert problems(merged) == [
        "c.yaml line 6, column 7: invalid YAML: key 'interval' is written twice"
    ]


def test_a_chain_of_merges_is_valid_and_each_mapping_is_checked_once() -> None:
    """A feed merging a feed that merged another and overrode its keys is valid YAML: the
    merged mapping, flattened when it was read (its merged keys beside its own), was checked
    again and refused as "key 'id' is written twice"."""
    text = MINIMAL.replace(
        "    url: http://127.0.0.1:9/feed.xml\n",
        "    url: http://127.0.0.1:9/feed.xml\n"
        "  - &base\n    id: base\n    url: http://127.0.0.1:9/a.xml\n    interval: 2m\n"
        "  - &fast\n    <<: *base\n    id: fast\n    url: http://127.0.0.1:9/b.xml\n"
        "  - <<: *fast\n    id: third\n    url: http://127.0.0.1:9/c.xml\n",
    )
    third = parse_config(text).feeds[-1]
    assert (third.id, third.interval) == ("third", timedelta(minutes=2))
    twice = text.replace("    id: fast\n", "    id: fast\n    id: quick\n")
    assert any("key 'id' is written twice" in p for p in problems(twice))


def test_values_yaml_reads_as_booleans_or_numbers_are_named_as_written() -> None:
    """YAML 1.1 reads an unquoted `no`, `off` or `2024` as false or a number: the error names
    the key as written, on its own line, and says to quote it."""
    text = MINIMAL.replace("  - id: one", "  - id: off") + "  no:\n    title: No\n    query: x\n"
    assert problems(text) == [
        "c.yaml line 3: feeds[0].id: YAML reads off as false; to mean the text, quote it: 'off'",
        "c.yaml line 9: topics.no: YAML reads no as false; to mean the text, quote it: 'no'",
        "c.yaml line 10: topics.no.title: YAML reads No as false; to mean the text, quote it: 'No'",
    ]
    [numeric] = problems(MINIMAL + "  2024:\n    title: Year\n    query: x\n")
    assert numeric.startswith("c.yaml line 9: topics.2024: YAML reads 2024 as a number")
    [nan] = problems(MINIMAL + "  .nan:\n    title: Nan\n    query: x\n")  # equal to nothing
    assert nan.startswith("c.yaml line 9: topics..nan: YAML reads .nan as a number"), nan
    [date] = problems(MINIMAL + "  2022-02-24:\n    title: Day\n    query: x\n")
    assert date.startswith("c.yaml line 9: topics.2022-02-24: YAML reads 2022-02-24 as a date")
    [listed] = problems(MINIMAL + "? [a, b]\n: c\n")
    assert (
        listed
        == "c.yaml line 9, column 3: invalid YAML: a key is a plain word, not a list or mapping"
    )
    [empty] = problems(MINIMAL.replace("poll:", "") + "poll:\n")
    assert empty == "c.yaml line 9: poll: empty; write keys (key: value lines) here"
    [path] = problems(MINIMAL + "store:\n  path:\n")
    assert path == "c.yaml line 10: store.path: empty; write a file path here"


def test_a_source_condition_must_name_a_feed_of_the_config() -> None:
    """`source:` of a feed id the config lacks (a typo, or a feed renamed by an edit) would
    match nothing, silently: it is an error naming the topic's query."""
    text = MINIMAL.replace("query: kuril*", "query: kuril* source:one")
    assert parse_config(text).topics["kuril"].query == "kuril* source:one"
    renamed = text.replace("id: one", "id: one-en")
    assert parse_config(renamed).feeds[0].id == "one-en"  # `one` is its outlet prefix
    assert problems(text.replace("id: one", "id: uno")) == [
        "c.yaml line 8: topics.kuril.query: source:one is no feed of this config, nor an outlet"
        " prefix of one (feeds: uno)"
    ]
    # as a Japanese keyboard types it: the same condition, which a check of the text missed
    assert problems(
        text.replace("source:one", "ｓｏｕｒｃｅ：one").replace("id: one", "id: uno")
    ) == [
        "c.yaml line 8: topics.kuril.query: source:one is no feed of this config, nor an outlet"
        " prefix of one (feeds: uno)"
    ]
    no_feeds = "topics:\n  kuril:\n    title: Kuril\n    query: kuril* source:one\n"
    assert parse_config(no_feeds).feeds == ()  # a config for `match`: any source may be named


def test_a_config_read_from_a_pipe_is_read_once_and_a_reload_refuses_it(
    tmp_path: Path,
) -> None:
    import os
    import threading

    fifo = tmp_path / "config.yaml"
    os.mkfifo(fifo)
    writer = threading.Thread(target=fifo.write_text, args=(MINIMAL,))
    writer.start()  # `--config <(decrypt config)`, as a shell passes it
    assert list(load_config(fifo).topics) == ["kuril"]
    writer.join()
    # a daemon's reload opens it again: refused at once, never waiting for another writer
    with pytest.raises(ConfigError, match="not a regular file \\(a named pipe\\)"):
        load_config(fifo, regular_only=True)
    with pytest.raises(ConfigError, match="larger than"):
        load_config("/dev/zero")  # read up to the limit, not without end


def test_a_config_that_is_a_folder_is_refused(tmp_path: Path) -> None:
    result = run_cli("check", "--config", str(tmp_path))
    assert result.returncode == 2
    assert f"{tmp_path}: not a regular file (a folder)" in result.stderr


def test_the_token_pasted_as_token_env_is_told_to_go_in_the_environment() -> None:
    # the commonest first mistake was answered with a regular expression
    token = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
    [problem] = problems(MINIMAL + f"telegram:\n  token_env: '{token}'\n")
    assert problem == (
        "c.yaml line 10: telegram.token_env: write the variable's name (TELEGRAM_BOT_TOKEN)"
        " here, never the token itself"
    )
    assert "AAHdq" not in problem


# every key a pattern checks, with a value it refuses: the answer was the regular expression
PATTERN_KEYS = [
    (
        MINIMAL.replace("  kuril:", "  Kuril Islands:"),
        "line 6: topics.Kuril Islands: a topic id is lower-case letters, digits and '-',"
        " starting with a letter or digit; got 'Kuril Islands'",
    ),
    (
        MINIMAL.replace("id: one", "id: Tass EN"),
        "line 3: feeds[0].id: ids are lower-case letters, digits and '-', starting with a"
        " letter or digit; got 'Tass EN'",
    ),
    (
        MINIMAL + "channels:\n  - chat: my channel\n    topics: [kuril]\n",
        "line 10: channels[0].chat: a channel's @username (@ and 4 to 32 letters, digits or _,"
        " starting with a letter) or a numeric chat id such as -1001234567890;"
        " got 'my channel'",
    ),
    (  # Python refuses int() of 4,300 digits and more: the message named no key nor line
        MINIMAL + "channels:\n  - chat: '" + "1" * 5000 + "'\n    topics: [kuril]\n",
        "line 10: channels[0].chat: a channel's @username (@ and 4 to 32 letters, digits or _,"
        " starting with a letter) or a numeric chat id such as -1001234567890;"
        " got '" + "1" * 56 + "…'",
    ),
    (
        MINIMAL + "metrics:\n  listen: '0.0.0.0:9464'\n",
        "line 10: metrics.listen: a local address and port, such as 127.0.0.1:9464,"
        " localhost:9464 or [::1]:9464 (for other machines, put a reverse proxy in front and"
        " set metrics.public_url); got '0.0.0.0:9464'",
    ),
    (
        MINIMAL + "metrics:\n  listen: '127.0.0.1:9464'\n  public_url: feeds.example.org\n",
        "line 11: metrics.public_url: an address starting with http:// or https://, without"
        " spaces; got 'feeds.example.org'",
    ),
    (
        MINIMAL + "telegram:\n  api_base_url: api.telegram.org/bot\n",
        "line 10: telegram.api_base_url: an address starting with http:// or https://, without"
        " spaces; got 'api.telegram.org/bot'",
    ),
]


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("telegram:\n  admins: [1" + "0" * 5000 + "]\n" + MINIMAL, "line 2, column 12"),
        (
            MINIMAL.replace("feed.xml", "feed.xml\n    interval: 1" + "0" * 5000),
            "line 5, column 15",
        ),
        # written in hexadecimal, binary or base 60, YAML reads it whole: as long all the same
        ("telegram:\n  admins: [0x" + "f" * 5000 + "]\n" + MINIMAL, "line 2, column 12"),
        (MINIMAL + "channels:\n  - chat: 0b" + "1" * 20000 + "\n", "line 10, column 11"),
        (MINIMAL.replace("Kuril Islands", "1" + ":59" * 3000), "line 7, column 12"),
    ],
)
def test_a_number_too_long_for_python_is_named_with_its_line(text: str, where: str) -> None:
    with pytest.raises(ConfigError) as refused:
        parse_config(text)
    assert refused.value.problems == [
        f"config {where}: invalid YAML: a number too long to be any value here"
    ]


def test_a_duration_past_a_float_is_too_long_and_named_with_its_key() -> None:
    """A number of seconds of 309 digits and more (Python reads up to 4,300) stopped with
    'cannot be used: OverflowError: int too large to convert to float', no key nor line."""
    text = MINIMAL.replace("feed.xml", "feed.xml\n    interval: 1" + "0" * 400)
    with pytest.raises(ConfigError) as refused:
        parse_config(text)
    [problem] = refused.value.problems
    assert problem.startswith("config line 5: feeds[0].interval: 1000"), problem
    assert problem.endswith("is too long: at most 3650 days"), problem


@pytest.mark.parametrize(("text", "expected"), PATTERN_KEYS)
def test_a_value_a_pattern_refuses_is_told_in_words_through_check(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    result = run_cli("check", "--config", str(path))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [f"kurilwatch: {path} {expected}"]
    assert "should match" not in result.stderr and "^" not in result.stderr


@pytest.mark.parametrize(("text", "expected"), PATTERN_KEYS)
async def test_a_value_a_pattern_refuses_is_told_in_words_by_a_reload(
    tmp_path: Path, text: str, expected: str
) -> None:
    from bot.daemon import Daemon

    path = tmp_path / "config.yaml"
    path.write_text(MINIMAL)
    running = load_config(path)
    daemon = Daemon(running, None, config_path=path)
    daemon.config_settle = 0
    path.write_text(text)
    said = await daemon.reload()
    assert said == f"Not reloaded; the running config stays. {path} {expected}"
    assert daemon.settings is running


def test_a_long_value_is_cut_in_its_message() -> None:
    [problem] = problems(MINIMAL.replace("  kuril:", "  " + "X" * 500 + ":"))
    assert problem.endswith("; got 'XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX…'")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "tass.com/rss/v2.xml",
            "got 'tass.com/rss/v2.xml'; write it whole: 'https://tass.com/rss/v2.xml'",
        ),
        ("ftp://example.org/feed", "got 'ftp://example.org/feed'"),
        ("'https://tass .com/rss'", "got 'https://tass .com/rss' (invalid international domain"),
        ("http://example.org:99999/", "got 'http://example.org:99999/' (invalid port number)"),
    ],
)
def test_a_feed_url_pydantic_refuses_is_told_in_words(url: str, expected: str) -> None:
    # a feed URL without its https:// was answered "relative URL without a base"
    [problem] = problems(MINIMAL.replace("http://127.0.0.1:9/feed.xml", url))
    assert problem.startswith(
        "c.yaml line 4: feeds[0].url: an address starting with http:// or https://, without"
        " spaces; "
    ), problem
    assert expected in problem
    assert "Input should be" not in problem and "relative URL" not in problem


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            MINIMAL + "poll:\n\tinterval: 5m\n",
            "c.yaml line 10, column 1: invalid YAML: a tab character; YAML indents with spaces"
            " only (replace the tab with spaces)",
        ),
        (
            MINIMAL.replace("    url:", "\t  url:"),
            "c.yaml line 4, column 1: invalid YAML: a tab character; YAML indents with spaces"
            " only (replace the tab with spaces)",
        ),
        (
            MINIMAL + "telegram:\n  admins: [@my_name]\n",
            "c.yaml line 10, column 12: invalid YAML: a value cannot start with '@' in YAML;"
            " put it in quotes",
        ),
    ],
)
def test_a_tab_or_a_bare_at_sign_in_the_yaml_is_named(text: str, expected: str) -> None:
    # both were "found character that cannot start any token", which named neither
    assert problems(text) == [expected]


@pytest.mark.parametrize("admin", ["'@my_name'", "my_name", "12345678x"])
def test_a_username_among_the_admins_is_told_to_be_a_user_id(admin: str) -> None:
    # was "Input should be a valid integer, unable to parse string as an integer"
    [problem] = problems(MINIMAL + f"telegram:\n  admins: [123, {admin}]\n")
    assert problem.startswith(
        "c.yaml line 10: telegram.admins[1]: a numeric Telegram user id such as 123456789, not"
        " a @username (the daemon's log names the id of each user it refuses an admin"
        " command); got '"
    ), problem
    assert "Input should be" not in problem


@pytest.mark.parametrize(
    ("admin", "problem"),
    [
        ("123456789123456789123456", "123456789123456789123456 is not a Telegram user id"),
        ("9007199254740992", "9007199254740992 is not a Telegram user id"),  # 2**53
        ("-1001234567890", "-1001234567890 is not a Telegram user id"),  # a group's
        ("0", "0 is not a Telegram user id"),
        ("true", "true is not a user id; write a number such as 123456789"),
    ],
)
def test_an_admin_id_no_telegram_user_has_is_refused(admin: str, problem: str) -> None:
    # passed `check`; one past 64 bits then stopped the daemon at its first admins' notice
    # (SQLite refused it), and `true` was admin id 1
    [said] = problems(MINIMAL + f"telegram:\n  admins: [123, {admin}]\n")
    assert said.startswith(f"c.yaml line 10: telegram.admins[1]: {problem}"), said
    largest = parse_config(MINIMAL + "telegram:\n  admins: [9007199254740991]\n")
    assert largest.telegram.admins == (2**53 - 1,)


@pytest.mark.parametrize("title", ['""', "'   '"])
def test_an_empty_topic_title_is_refused_with_its_key_and_line(title: str) -> None:
    # passed `check`; subscribers saw a blank button, or gettext's catalogue header
    assert problems(MINIMAL.replace("title: Kuril Islands", f"title: {title}")) == [
        "c.yaml line 7: topics.kuril.title: empty: the title is the name subscribers see; write one"
    ]


@pytest.mark.parametrize("key", ["token", "bot_token", "TOKEN"])
def test_a_token_written_in_the_config_is_told_to_go_in_the_environment(key: str) -> None:
    # was "unknown key; did you mean token_env?", which led the token into token_env
    token = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
    [problem] = problems(MINIMAL + f"telegram:\n  {key}: '{token}'\n")
    assert problem == (
        f"c.yaml line 10: telegram.{key}: the token is never written in the config: delete this"
        " line and put the token in the environment variable telegram.token_env names (export"
        " TELEGRAM_BOT_TOKEN=...)"
    )
    [typo] = problems(MINIMAL + "telegram:\n  token_evn: MY_TOKEN\n")
    assert typo.endswith("telegram.token_evn: unknown key; did you mean token_env?")


def test_a_channels_time_zone_digest_and_quiet_hours_are_read_as_the_commands_read_them() -> None:
    """No one in a channel can send /digest, /quiet or /timezone: the config says them, in the
    commands' words (a bare `off` is YAML's false)."""
    text = MINIMAL + (
        "channels:\n"
        "  - {chat: '@kuril_digest', topics: [kuril], timezone: UTC+9,"
        " digest: daily 8:00, quiet: 23:00 – 07:00 hold}\n"
        "  - {chat: '@kuril_news', topics: [kuril], digest: off, quiet: off}\n"
    )
    text = text.replace("timezone: UTC+9", "timezone: asia/tokyo")
    digest, plain = parse_config(text, source="c.yaml").channels
    assert (digest.timezone, digest.digest, digest.quiet) == (
        "Asia/Tokyo",
        "daily 08:00",
        "23:00-07:00 hold",
    )
    assert (plain.timezone, plain.digest, plain.quiet) == (None, "", "")


@pytest.mark.parametrize(
    ("setting", "problem"),
    [
        ("digest: hourly", "digest: 'hourly' is not a digest setting; write off, daily 08:00 or"),
        ("digest: weekly mo 8:00", "digest: 'mo' is not a day; write mon, tue, ... or sun"),
        ("quiet: 23:00-23:00", "quiet: the quiet hours must not start and end at the same time"),
        ("quiet: 23:00-07:00 loud", "quiet: 'loud': choose silent or hold"),
        ("timezone: Asia/Tokio", "timezone: 'Asia/Tokio' is not a time zone (use an Area/City"),
        ("timezone: Asia", "timezone: 'Asia' is not a time zone (use an Area/City"),  # a folder
        ("timezone: Japan", "timezone: 'Japan' is not a time zone"),  # as /timezone refuses it
    ],
)
def test_a_bad_channel_setting_names_its_key_line_and_what_to_write(
    setting: str, problem: str
) -> None:
    text = MINIMAL + f"channels:\n  - chat: '@kuril_news'\n    topics: [kuril]\n    {setting}\n"
    [said] = problems(text)
    assert said.startswith(f"c.yaml line 12: channels[0].{problem}")


def test_a_time_zone_that_is_a_folder_of_zones_names_its_key_and_line() -> None:
    """`Asia` is a folder of the zone database: ZoneInfo raised IsADirectoryError, and the
    whole load failed with it, naming no key and hiding the file's other errors."""
    [problem] = problems("telegram:\n  timezone: Asia\n" + MINIMAL)
    assert problem.startswith("c.yaml line 2: telegram.timezone: 'Asia' is not a time zone")


def test_a_channels_news_languages_are_those_lang_takes_each_once() -> None:
    text = (
        MINIMAL
        + "channels:\n  - {chat: '@kuril_news', topics: [kuril], news_languages: [ru, ja, ru]}\n"
    )
    [channel] = parse_config(text, source="c.yaml").channels
    assert channel.news_languages == ("ru", "ja")
    [problem] = problems(text.replace("[ru, ja, ru]", "[ru, de]"))
    assert problem.startswith("c.yaml line 10: channels[0].news_languages[1]:")
    assert "'en', 'ru' or 'ja'" in problem


@pytest.mark.parametrize("again", ["'@Kuril_News'", "'-0100123'"])
def test_a_chat_listed_twice_in_channels_names_both_entries(again: str) -> None:
    """The second entry replaced the first's topics and settings without a word."""
    text = MINIMAL + (
        "channels:\n"
        "  - {chat: '@kuril_news', topics: [kuril]}\n"
        "  - {chat: -100123, topics: [kuril]}\n"
        f"  - {{chat: {again}, topics: [kuril]}}\n"
    )
    [problem] = problems(text)
    assert problem.startswith("c.yaml line 12: channels[2].chat:")
    assert "listed twice (also channels[" in problem


def test_a_channels_muted_sources_are_feed_ids_of_the_config_each_once() -> None:
    text = (
        MINIMAL
        + "channels:\n  - {chat: '@kuril_news', topics: [kuril], muted_sources: [one, one]}\n"
    )
    [channel] = parse_config(text, source="c.yaml").channels
    assert channel.muted_sources == ("one",)
    [problem] = problems(text.replace("[one, one]", "[one, tass]"))
    assert problem.startswith("c.yaml line 10: channels[0].muted_sources[1]: 'tass' is no feed id")
    assert "(feeds: one)" in problem


@pytest.mark.parametrize(
    ("query", "problem"),
    [
        ('""', "column 13: topics.kuril.query: the query is empty"),
        (
            "-kuril",
            "column 12: topics.kuril.query: the query would match items without any of its"
            " terms: every part of it needs at least one term that is not negated",
        ),
    ],
)
def test_a_query_error_that_names_the_query_says_it_once(query: str, problem: str) -> None:
    # "the query is empty in the query": the suffix placing a word was added to these too
    assert problems(MINIMAL.replace("query: kuril*", f"query: {query}")) == [
        f"c.yaml line 8, {problem}"
    ]


@pytest.mark.parametrize(
    ("text", "where"),
    [
        (
            MINIMAL.replace("title: Kuril Islands", "title: Kurils: the dispute"),
            "line 7, column 18",
        ),
        (MINIMAL.replace("    query:", "     query:"), "line 8, column 11"),
    ],
)
def test_a_colon_inside_a_value_or_a_key_indented_off_is_told_what_to_do(
    text: str, where: str
) -> None:
    # both were libyaml's "mapping values are not allowed in this context", and no cure
    assert problems(text) == [
        f"c.yaml {where}: invalid YAML: a ':' where no key can start; put a value holding ': '"
        ' in quotes (title: "Kurils: the dispute"), and indent a key as the keys beside it'
    ]


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ("telegram:\n  link_previews: nope\n", "telegram.link_previews: write true or false; got 'nope'"),
        ("poll:\n  max_bytes: 10MB\n", "poll.max_bytes: write a whole number; got '10MB'"),
        ("poll:\n  max_bytes: 1.5\n", "poll.max_bytes: write a whole number; got '1.5'"),
        ("delivery:\n  concurrency: 400\n", "delivery.concurrency: should be less than or equal to 16; got '400'"),
    ],
)  # fmt: skip
def test_a_value_of_the_wrong_kind_is_quoted_with_what_to_write(extra: str, expected: str) -> None:
    # pydantic's "Input should be a valid boolean, unable to interpret input" quoted nothing
    assert problems(MINIMAL + extra) == [f"c.yaml line 10: {expected}"]


def _number_keys() -> list[tuple[str, str, type]]:
    """Every key of a section of the config that takes a number: (section, key, int or float)."""
    from pydantic import BaseModel

    from bot.config import Config

    found = []
    for section, field in Config.model_fields.items():
        model = field.annotation
        if isinstance(model, type) and issubclass(model, BaseModel):
            for key, info in model.model_fields.items():
                if info.annotation in (int, float):
                    found.append((section, key, info.annotation))
    return found


def test_every_number_key_is_found() -> None:
    keys = {f"{section}.{key}" for section, key, _ in _number_keys()}
    assert {"delivery.burst_digest", "poll.max_bytes", "delivery.per_second"} <= keys


@pytest.mark.parametrize(("section", "key", "kind"), _number_keys())
@pytest.mark.parametrize("written", ["yes", "true", "off"])
def test_a_boolean_is_no_number(section: str, key: str, kind: type, written: str) -> None:
    """`burst_digest: yes` was taken as 1 (YAML reads `yes` as true, and pydantic true as 1),
    `off` as 0: a digest of every burst, or none."""
    read = "false" if written == "off" else "true"
    wanted = "a whole number" if kind is int else "a number"
    assert problems(MINIMAL + f"{section}:\n  {key}: {written}\n") == [
        f"c.yaml line 10: {section}.{key}: YAML reads {written} as {read}; write {wanted}"
    ]


def test_a_feed_language_not_offered_is_quoted() -> None:
    text = MINIMAL.replace("feed.xml", "feed.xml\n    lang: russian")
    assert problems(text) == ["c.yaml line 5: feeds[0].lang: should be 'en', 'ru' or 'ja'; got 'russian'"]  # fmt: skip


@pytest.mark.parametrize(
    ("query", "where"),
    [('"kuril* OR iturup', "line 8, column 12"), ("'kuril* OR iturup", "line 8, column 12")],
)
def test_a_quote_never_closed_in_the_yaml_is_named_where_it_opens(query: str, where: str) -> None:
    # was "line 11, column 1: found unexpected end of stream": a line past the end of the file
    text = MINIMAL.replace("query: kuril*", f"query: {query}") + "telegram:\n  admins: []\n"
    assert problems(text) == [
        f"c.yaml {where}: invalid YAML: the {query[0]} that starts this value is never closed;"
        f" close it ({query[0]}...{query[0]}) on the value's last line"
    ]


@pytest.mark.parametrize(
    ("text", "where"),
    [
        (MINIMAL.replace("query: kuril*", 'query: "peace treaty" AND japan'), "line 8, column 27"),
        (MINIMAL.replace("query: kuril*", "query: 'peace treaty' AND japan"), "line 8, column 27"),
        (MINIMAL.replace("title: Kuril Islands", 'title: "Kuril" Islands'), "line 7, column 20"),
    ],
)
def test_text_after_a_quoted_value_is_told_how_to_quote_the_whole(text: str, where: str) -> None:
    # a query starting with a "phrase" was "did not find expected key": YAML's quotes end the
    # value, and the rest of the line is left over
    assert problems(text) == [
        f"c.yaml {where}: invalid YAML: a value that starts with a quote ends at its closing"
        " quote, and text follows it here; put the whole value in single quotes, a ' in it"
        """ written '' ('"peace treaty" AND japan'), or start it on the next line after >-"""
    ]


def test_a_store_path_under_a_tilde_is_in_the_home_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `store: {path: ~/kw/kw.db}` made a folder named ~ beside the config, silently
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    path = tmp_path / "conf" / "config.yaml"
    path.parent.mkdir()
    path.write_text(MINIMAL + "store:\n  path: ~/kw/kw.db\n")
    assert load_config(path).store.path == tmp_path / "home" / "kw" / "kw.db"


@pytest.mark.parametrize(
    ("text", "where"),
    [
        (MINIMAL.replace("    query:", "   query:"), "line 8, column 4"),
        (MINIMAL.replace("    title:", "     title:"), "line 8, column 5"),
        (MINIMAL.replace("    url:", "   url:"), "line 4, column 4"),
    ],
)
def test_a_key_indented_off_is_told_to_line_up(text: str, where: str) -> None:
    # was libyaml's "did not find expected key" or "did not find expected '-' indicator"
    assert problems(text) == [
        f"c.yaml {where}: invalid YAML: a line indented otherwise than the keys of its block;"
        " line each key up with the keys beside it (a list item's keys with the one after its"
        " '- '), with spaces"
    ]


@pytest.mark.parametrize("title", ["[Live] Kuril Islands", "{Live} Kuril Islands"])
def test_text_after_a_bracketed_value_is_not_told_as_indentation(title: str) -> None:
    # libyaml's "did not find expected key" mid-line: the line is indented as it should be
    assert problems(MINIMAL.replace("title: Kuril Islands", f"title: {title}")) == [
        "c.yaml line 7, column 19: invalid YAML: a value that starts with [ or { is a YAML list"
        " or mapping, which ends at its closing bracket, and text follows it here; put the"
        ' whole value in quotes (title: "[Live] Kuril Islands")'
    ]
