"""What a valid config holds that is likely not meant: `check` warns (exit 0) naming the key and
its line, `run` and a reload log it, a reload only what the edit brought."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from hypothesis import assume, given, settings

from bot.config import config_warnings_of, load_config, parse_config
from tests.conftest import ROOT, cli, write_config
from tests.test_backtest_plain import ITEM, QUERY, Row, _item, _parses, plainly
from tests.test_config_errors import located
from watchers.config_checks import Words, contradicts, query_warnings
from watchers.topics.query import parse

FEEDS = """
feeds:
  - id: a
    url: http://127.0.0.1:9/a.xml
    lang: en
  - id: b
    url: http://127.0.0.1:9/b.xml
    lang: ru
"""


def warned(topics: str, feeds: str = FEEDS) -> list[str]:
    settings = parse_config(feeds + "topics:\n" + topics)
    from watchers.config_checks import config_warnings

    return [
        f"{'.'.join(map(str, w.loc))}: {w.message}"
        for w in config_warnings(settings.feeds, settings.topics, settings.poll)
    ]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("kuril -kuril", "no item can match it"),
        ("title:kuril -title:kuril", "no item can match it"),
        ("kuril lang:en lang:ru", "no item can match it"),
        ("kuril lang:ja", "lang:ja: no feed gives such items (each feed's lang is en, ru)"),
        ("(kuril lang:ja) OR (курилы lang:ru)", "lang:ja: no feed gives such items"),
        ("kuril OR the", "'the' alone makes an item match"),
        ("kuril OR и", "'и' alone makes an item match"),
        ("北方領土 OR の", "'の' alone makes an item match"),
        ('"of the" OR kuril', "'of', 'the' alone makes an item match"),
        ("the -kuril", "'the' alone makes an item match"),
        ("shikotan or kunashir", "'or': read as words an item must contain; the operators"),
        ("шикотан или (кунашир and not итуруп)", "'или', 'and', 'not': read as words"),
    ],
)
def test_a_query_no_item_or_nearly_any_item_matches_is_named(query: str, expected: str) -> None:
    [warning] = warned(f"  t:\n    title: T\n    query: '{query}'\n")
    assert warning.startswith("topics.t.query: " + expected), warning


@pytest.mark.parametrize(
    "query",
    [
        "kuril",
        '"of the" kuril',
        "the kuril",
        "kuril -lang:ja",
        "(kuril lang:en) OR (курилы lang:ru)",
        "kuril* -kuril",  # a prefix and its word: matches Kurils
        "kuril NEAR/3 the",
        "iturup (kuril OR -drills)",
    ],
)
def test_a_query_that_can_match_and_needs_a_rare_word_is_not_named(query: str) -> None:
    assert warned(f"  t:\n    title: T\n    query: '{query}'\n") == []


def test_two_topics_alike_and_a_feed_twice_are_named() -> None:
    feeds = FEEDS + "  - id: c\n    url: http://127.0.0.1:9/a.xml\n    interval: 10m\n"
    topics = (
        "  one:\n    title: One\n    query: Iturup OR Kunashir\n"
        "  two:\n    title: Two\n    query: iturup  OR  kunashir\n"
    )
    assert warned(topics, feeds) == [
        "feeds.2.url: the same URL as feeds[0] (a): it is polled twice as often, for the same"
        " items",
        "topics.two.query: the same query as topics.one: an item of one is an item of both",
    ]


def test_a_poll_interval_under_a_second_is_named() -> None:
    """`5ms` written for `5m` passed as "config OK", and the feed was polled 200 times a
    second for months."""
    feeds = "poll:\n  interval: 5ms\n" + FEEDS + "    interval: 0.25s\n  - id: c\n"
    feeds += "    url: http://127.0.0.1:9/c.xml\n    interval: 1s\n"
    assert warned("  t:\n    title: T\n    query: Iturup\n", feeds) == [
        "poll.interval: 5 ms between two polls: a feed without an interval of its own is"
        " polled 200 times a second (minutes are written 5m)",
        "feeds.1.interval: 250 ms between two polls: the feed is polled 4 times a second"
        " (minutes are written 5m)",
    ]


def test_a_poll_interval_near_a_second_reads_right() -> None:
    """900 ms read "polled 1 times a second"; and the default interval said "every feed",
    of feeds that each have their own."""
    feeds = "poll:\n  interval: 0.7s\n" + FEEDS.replace("lang: en", "lang: en\n    interval: 0.9s")
    feeds = feeds.replace("lang: ru", "lang: ru\n    interval: 1m")
    assert warned("  t:\n    title: T\n    query: Iturup\n", feeds) == [
        "poll.interval: 700 ms between two polls: a feed without an interval of its own is"
        " polled more than once a second (minutes are written 5m)",
        "feeds.0.interval: 900 ms between two polls: the feed is polled more than once a"
        " second (minutes are written 5m)",
    ]


@given(QUERY, ITEM)
@settings(max_examples=400, deadline=None)
def test_a_query_said_to_match_nothing_matches_no_item(query: str, row: Row) -> None:
    """Never a false alarm: a query any item matches is never called a contradiction."""
    assume(_parses(query))
    if plainly(query, _item(1, row)):
        assert not contradicts(parse(query))
        lang = row[2]
        assert not contradicts(parse(query), {lang} if lang else None)


def test_the_shipped_config_gives_no_warning() -> None:
    config = ROOT / "config.yaml"
    assert config_warnings_of(load_config(config), config) == []
    for topic in load_config(config).topics.values():
        assert query_warnings(parse(topic.query)) == []


def test_check_warns_with_the_key_and_its_line_and_exits_0(tmp_path: Path) -> None:
    config = write_config(tmp_path, {"a": "http://127.0.0.1:9/a.xml"}, interval="5m")
    settings = yaml.safe_load(config.read_text())
    settings["topics"]["copy"] = {"title": "Copy", "query": settings["topics"]["kuril"]["query"]}
    settings["topics"]["smoke"] = {"title": "Smoke", "query": "курил -курил"}
    config.write_text(yaml.safe_dump(settings, allow_unicode=True, sort_keys=False))
    result = cli("check", "--config", str(config))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("config OK")
    lines = result.stderr.splitlines()
    assert len(lines) == 2, result.stderr
    text = config.read_text().splitlines()
    for line, key in zip(lines, ("copy", "smoke"), strict=True):
        where = rf"kurilwatch: warning: {re.escape(str(config))} line (\d+): topics\."
        found = re.match(where, line)
        assert found, line
        assert f"topics.{key}.query: " in line
        assert text[int(found[1]) - 1].strip().startswith("query:")  # the line of that query
    assert "the same query as topics.kuril" in lines[0]
    assert "no item can match it" in lines[1]


@pytest.mark.parametrize("feeds", ["", "feeds: []\n"])
def test_check_warns_of_a_config_without_feeds(tmp_path: Path, feeds: str) -> None:
    """It said `config OK ... feeds (0):` and nothing more: a daemon of it polls nothing."""
    config = tmp_path / "c.yaml"
    config.write_text(feeds + "topics:\n  k:\n    title: K\n    query: kuril\n")
    result = cli("check", "--config", str(config))
    assert result.returncode == 0, result.stderr
    assert "feeds (0):" in result.stdout
    assert result.stderr == (
        f"kurilwatch: warning: {config} line 1: feeds: none: `run` polls nothing (`match` and `stories`"
        " need no feeds)\n"
    )
    with_one = write_config(tmp_path, {"a": "http://127.0.0.1:9/a.xml"}, interval="5m")
    assert cli("check", "--config", str(with_one)).stderr == ""


ROOT_USER = os.geteuid() == 0  # whom permissions do not stop: only a file or the kernel's
SYSFS = Path("/sys/kernel").is_dir()


def _store_config(folder: Path, store: Path | str) -> Path:
    config = folder / "c.yaml"
    config.write_text(
        "feeds:\n  - {id: a, url: 'http://127.0.0.1:9/a.xml'}\n"
        "topics:\n  k: {title: K, query: kuril}\n"
        f"store:\n  path: {store}\n"
    )
    return config


def _a_file_in_the_way(tmp: Path) -> tuple[Path, str]:
    (tmp / "passwd").write_text("root:x:0:0")
    return tmp / "passwd" / "x.db", f"{tmp / 'passwd'} is a file, not a folder"


def _a_folder(tmp: Path) -> tuple[Path, str]:
    (tmp / "data").mkdir()
    return tmp / "data", "a folder, not a file"


def _a_kernel_folder(tmp: Path) -> tuple[Path, str]:
    return Path("/sys/kw/x.db"), "/sys is the kernel's (sysfs)"


def _a_link_into_a_kernel_folder(tmp: Path) -> tuple[Path, str]:
    (tmp / "kw.db").symlink_to("/sys/kw/x.db")  # the link's own folder is writable
    return tmp / "kw.db", "/sys is the kernel's (sysfs)"


def _a_read_only_folder(tmp: Path) -> tuple[Path, str]:
    (tmp / "ro").mkdir(mode=0o500)
    return tmp / "ro" / "kw.db", f"its folder {tmp / 'ro'} is not writable by this user"


def _under_a_read_only_folder(tmp: Path) -> tuple[Path, str]:
    (tmp / "ro").mkdir(mode=0o500)
    return tmp / "ro" / "data" / "kw.db", f"{tmp / 'ro'} is not writable by this user"


def _a_read_only_store(tmp: Path) -> tuple[Path, str]:
    (tmp / "kw.db").touch(mode=0o400)
    return tmp / "kw.db", "the file is read-only to this user"


user_only = pytest.mark.skipif(ROOT_USER, reason="permissions do not stop root")


@pytest.mark.parametrize(
    "unwritable",
    [
        _a_file_in_the_way,
        _a_folder,
        pytest.param(_a_kernel_folder, marks=pytest.mark.skipif(not SYSFS, reason="no /sys")),
        pytest.param(
            _a_link_into_a_kernel_folder, marks=pytest.mark.skipif(not SYSFS, reason="no /sys")
        ),
        pytest.param(_a_read_only_folder, marks=user_only),
        pytest.param(_under_a_read_only_folder, marks=user_only),
        pytest.param(_a_read_only_store, marks=user_only),
    ],
)
def test_check_warns_of_a_store_path_this_user_cannot_write(
    tmp_path: Path, unwritable: Callable[[Path], tuple[Path, str]]
) -> None:
    """`config OK` and exit 0 for a store `run` could neither make nor open (`/sys/kw/x.db`,
    `/etc/passwd/x.db`, a folder): it is now named with the reason, as a warning (exit 0
    still: the daemon may run as another user), and nothing is made there."""
    store, reason = unwritable(tmp_path)
    before = set(tmp_path.rglob("*"))
    config = _store_config(tmp_path, store)
    result = cli("check", "--config", str(config))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("config OK")
    [line] = result.stderr.splitlines()
    assert line.startswith(f"kurilwatch: warning: {config} line 6: store.path: {store}: "), line
    assert reason in line, line
    assert set(tmp_path.rglob("*")) == {*before, config}  # nothing made


def test_check_says_nothing_of_a_store_path_whose_folders_it_may_make(tmp_path: Path) -> None:
    config = _store_config(tmp_path, tmp_path / "new" / "data" / "kw.db")
    result = cli("check", "--config", str(config))
    assert result.returncode == 0 and result.stderr == "", result.stderr
    assert not (tmp_path / "new").exists()  # check makes neither the store nor its folder


async def test_a_reload_names_what_the_edit_made_likely_wrong_and_not_what_it_kept(
    tmp_path: Path,
) -> None:
    from bot.daemon import Daemon

    feeds = {"a": "http://127.0.0.1:9/a.xml", "b": "http://127.0.0.1:9/a.xml"}
    config = write_config(tmp_path, feeds)  # one feed twice: a warning the edits keep
    daemon = Daemon(load_config(config), None, config_path=config, config_settle=0)
    settings = yaml.safe_load(config.read_text())
    settings["topics"]["copy"] = {"title": "Copy", "query": settings["topics"]["kuril"]["query"]}
    config.write_text(yaml.safe_dump(settings, allow_unicode=True, sort_keys=False))
    said = await daemon.reload()
    assert said.startswith("Reloaded: "), said
    [warning] = said.partition("warnings: ")[2].split("; ")
    assert re.fullmatch(
        rf"{re.escape(str(config))} line \d+: topics\.copy\.query: the same query as"
        r" topics\.kuril: an item of one is an item of both",
        warning,
    ), said
    settings["topics"]["copy"]["title"] = "Copy 2"  # an edit that keeps the copy
    config.write_text(yaml.safe_dump(settings, allow_unicode=True, sort_keys=False))
    assert "warnings" not in await daemon.reload()


def test_a_config_of_many_topics_alike_is_warned_in_bounded_lines(tmp_path: Path) -> None:
    """Each warning's line was found by reading its mapping from the top: a generated config
    of 100,000 topics took minutes; now each mapping is read once, and 100 lines are shown."""
    from bot.config import MAX_WARNINGS

    topics = {f"t{n}": {"title": f"T{n}", "query": "Iturup"} for n in range(3000)}
    path = tmp_path / "many.yaml"
    feeds = [{"id": "a", "url": "http://127.0.0.1:9/a.xml"}]
    path.write_text(yaml.safe_dump({"feeds": feeds, "topics": topics}, sort_keys=False))
    said = config_warnings_of(load_config(path), path)
    assert len(said) == MAX_WARNINGS + 1
    assert said[-1] == f"{path}: {2999 - MAX_WARNINGS} more warnings like these"
    lines = path.read_text().splitlines()
    for warning in said[:-1]:
        found = re.match(rf"{re.escape(str(path))} line (\d+): topics\.(t\d+)\.query: ", warning)
        assert found, warning
        assert lines[int(found[1]) - 1].strip() == "query: Iturup"
        assert lines[int(found[1]) - 3].strip() == f"{found[2]}:"


def test_one_warning_past_those_shown_is_counted_as_one(tmp_path: Path) -> None:
    """It said "1 more warnings like these"."""
    from bot.config import MAX_WARNINGS

    topics = {f"t{n}": {"title": f"T{n}", "query": "Iturup"} for n in range(MAX_WARNINGS + 2)}
    path = tmp_path / "many.yaml"
    feeds = [{"id": "a", "url": "http://127.0.0.1:9/a.xml"}]
    path.write_text(yaml.safe_dump({"feeds": feeds, "topics": topics}, sort_keys=False))
    said = config_warnings_of(load_config(path), path)
    assert said[-1] == f"{path}: 1 more warning like these"


@pytest.mark.parametrize(
    ("poll", "interval", "query"),
    [
        ("5ms", "0.25s", "shikotan or kunashir"),
        ("0.7s", "0.9s", "kuril -kuril"),
        ("1m", "1m", "kuril OR the"),
        ("1m", "1m", "kuril lang:ja"),
    ],
)
def test_each_warning_says_why_in_the_readers_language_and_its_key_as_written(
    tmp_path: Path, poll: str, interval: str, query: str
) -> None:
    """A reload's warnings reach the admins and /reload's answer said in the reader's
    language: in English, each is the line `check` prints, byte for byte; in Russian and
    Japanese its file, line and key path are as written and its why is theirs."""
    from bot.config import placed_warnings
    from bot.i18n import EN, quoted, texts
    from bot.reload import said_warning

    feeds = FEEDS.replace("lang: en", f"lang: en\n    interval: {interval}")
    feeds += "  - id: c\n    url: http://127.0.0.1:9/a.xml\n    lang: en\n"
    topics = f"  one:\n    title: One\n    query: '{query}'\n"
    topics += f"  two:\n    title: Two\n    query: '{query}'\n"
    path = tmp_path / "c.yaml"
    path.write_text(f"poll:\n  interval: {poll}\n" + feeds + "topics:\n" + topics)
    placed = placed_warnings(load_config(path), path)
    assert [w.text for w in placed] == config_warnings_of(load_config(path), path)
    # the intervals', a URL twice, a query twice, and the query's own of each topic
    assert len(placed) == (poll != "1m") + (interval != "1m") + 4, placed
    for warning in placed:
        assert EN.say(said_warning(warning)) == warning.text
        english = warning.text.removeprefix(f"{EN.say(warning.where)}: {warning.key}: ")
        for lang in ("ru", "ja"):
            said = texts(lang).say(said_warning(warning))
            head = f"{located(lang, EN.say(warning.where))}: {warning.key}: "
            assert said.startswith(head), said
            why = said.removeprefix(head)
            assert why != english and re.search(r"[^\x00-\x7f]", why), said
            for value in warning.values.values():  # feed ids, query words: as written
                if isinstance(value, Words):  # each in the reader's quotation marks
                    assert quoted(*value.words, tr=texts(lang)) in why, said
                else:
                    assert (value if isinstance(value, str) else f"{value:g}") in why, said


@pytest.mark.parametrize(
    ("interval", "ru", "en"),
    [
        ("1.5ms", "1,5 мс", "1.5 ms between two polls: the feed is polled 667 times a second"),
        ("0.25s", "250 мс", "250 ms between two polls: the feed is polled 4 times a second"),
        ("0.9s", "900 мс", "900 ms between two polls: the feed is polled more than once"),
    ],
)
def test_a_warnings_numbers_are_written_as_the_readers_language_writes_them(
    tmp_path: Path, interval: str, ru: str, en: str
) -> None:
    """The interval's milliseconds were put in the warning as English text: a Russian admin
    read "1.5 мс", where Russian writes 1,5. `check` and English say what they said."""
    from bot.config import placed_warnings
    from bot.i18n import EN, texts
    from bot.reload import said_warning

    path = tmp_path / "c.yaml"
    feeds = FEEDS.replace("lang: en", f"lang: en\n    interval: {interval}")
    path.write_text(feeds + "topics:\n  k: {title: K, query: kuril}\n")
    [warning] = placed_warnings(load_config(path), path)
    assert warning.text.startswith(f"{path} line 6: feeds[0].interval: {en}"), warning.text
    assert EN.say(said_warning(warning)) == warning.text
    russian = texts("ru").say(said_warning(warning))
    ms = en.split(" ms")[0]
    assert ru in russian and ("." not in ms or ms not in russian), russian
    assert f"{ms} ミリ秒" in texts("ja").say(said_warning(warning))


@pytest.mark.parametrize(
    ("lang", "interval", "word"),
    [
        ("en", "{path} line 2: poll.interval: ", "{path} line 14, column 18: topics.k.query: "),
        (
            "ru",
            "{path}, строка 2: poll.interval: ",
            "{path}, строка 14, столбец 18: topics.k.query: ",
        ),
        ("ja", "{path} 2行目: poll.interval: ", "{path} 14行目18列: topics.k.query: "),
    ],
)
def test_a_warnings_line_and_column_are_said_in_the_readers_language(
    tmp_path: Path, lang: str, interval: str, word: str
) -> None:
    """A Russian admin read "c.yaml line 2: ..." and "line 14, column 18" among Russian words:
    the place is said in theirs, the file, numbers and key path as `check` writes them (its
    English line as it was)."""
    from bot.config import placed_warnings
    from bot.i18n import texts
    from bot.reload import said_warning

    path = tmp_path / "c.yaml"
    path.write_text(
        "poll:\n  interval: 5ms\n" + FEEDS + "topics:\n  k:\n    title: K\n"
        "    query: kuril or iturup\n"
    )
    said = [texts(lang).say(said_warning(w)) for w in placed_warnings(load_config(path), path)]
    assert [line.startswith(interval.format(path=path)) for line in said] == [True, False], said
    assert said[1].startswith(word.format(path=path)), said


def test_the_count_of_warnings_past_those_shown_is_said_in_the_readers_language(
    tmp_path: Path,
) -> None:
    from bot.config import MAX_WARNINGS, placed_warnings
    from bot.i18n import EN, texts
    from bot.reload import said_warning

    topics = {f"t{n}": {"title": f"T{n}", "query": "Iturup"} for n in range(MAX_WARNINGS + 4)}
    path = tmp_path / "many.yaml"
    feeds = [{"id": "a", "url": "http://127.0.0.1:9/a.xml"}]
    path.write_text(yaml.safe_dump({"feeds": feeds, "topics": topics}, sort_keys=False))
    last = placed_warnings(load_config(path), path)[-1]
    assert EN.say(said_warning(last)) == f"{path}: 3 more warnings like these"
    assert texts("ru").say(said_warning(last)) == f"{path}: и ещё 3 таких предупреждения"


def test_a_reload_does_not_announce_again_a_warning_whose_key_moved(tmp_path: Path) -> None:
    """Warnings were compared by key path: a feed inserted above a feed listed twice moved it
    from feeds[1] to feeds[2], and the admins were told of it again; a feed of a new language
    changed a topic's lang: warning's words. Now they are compared by what they are about."""
    from bot.reload import new_warnings

    def config(feeds: list[dict[str, str]], query: str) -> Path:
        path = tmp_path / f"config{len(list(tmp_path.iterdir()))}.yaml"
        topics = {"t": {"title": "T", "query": query}}
        path.write_text(yaml.safe_dump({"feeds": feeds, "topics": topics}))
        return path

    a = {"id": "a", "url": "http://127.0.0.1:9/a.xml", "lang": "en"}
    twice = {"id": "b", "url": "http://127.0.0.1:9/a.xml", "lang": "en"}
    other = {"id": "z", "url": "http://127.0.0.1:9/z.xml", "lang": "ru"}
    old = load_config(config([a, twice], "kuril lang:ja"))
    assert len(config_warnings_of(old, "old")) == 2  # the feed twice, and lang:ja
    moved = config([other, a, twice], "kuril lang:ja")
    assert new_warnings(old, load_config(moved), moved) == []
    renamed = config([other, a, {**twice, "id": "b2"}], "kuril lang:ja")
    assert new_warnings(old, load_config(renamed), renamed) == []
    third = {"id": "c", "url": "http://127.0.0.1:9/a.xml", "lang": "en"}
    added = config([other, a, twice, third], "kuril lang:ja")
    [warning] = new_warnings(old, load_config(added), added)
    assert "feeds[3].url: the same URL as feeds[1] (a)" in warning.text, warning
    edited = config([a, twice], "kunashir lang:ja")  # another query, with the same mistake
    [warning] = new_warnings(old, load_config(edited), edited)
    assert "topics.t.query: lang:ja: no feed gives such items" in warning.text, warning


def test_a_reload_that_gives_one_of_a_queries_missing_languages_does_not_warn_again(
    tmp_path: Path,
) -> None:
    """'lang:ja, lang:ru: no feed gives such items' was known; a Japanese feed added made it
    'lang:ru: ...', other words, and the admins were told of lang:ru again. A language a
    warning named before is known; one it did not name is news."""
    from bot.reload import new_warnings

    def config(name: str, feeds: list[dict[str, str]], query: str) -> Path:
        path = tmp_path / name
        topics = {"t": {"title": "T", "query": query}}
        path.write_text(yaml.safe_dump({"feeds": feeds, "topics": topics}))
        return path

    en = {"id": "a", "url": "http://127.0.0.1:9/a.xml", "lang": "en"}
    ja = {"id": "j", "url": "http://127.0.0.1:9/j.xml", "lang": "ja"}
    query = "kuril (lang:ja OR lang:ru)"
    old = load_config(config("old.yaml", [en], query))
    assert len(config_warnings_of(old, "old")) == 1  # lang:ja, lang:ru
    added = config("added.yaml", [en, ja], query)
    assert new_warnings(old, load_config(added), added) == []
    wider = config("wider.yaml", [en], query)  # the Japanese feed gone again: lang:ja is news
    [warning] = new_warnings(load_config(added), load_config(wider), wider)
    assert "lang:ja, lang:ru: no feed gives such items" in warning.text, warning


@pytest.mark.parametrize(
    ("written", "read"),
    [
        ("https:/127.0.0.1:9/a.xml", "https://127.0.0.1:9/a.xml"),
        ("https:///127.0.0.1:9/a.xml", "https://127.0.0.1:9/a.xml"),
        ("http://127.0.0.1:9/news feed.xml", "http://127.0.0.1:9/news%20feed.xml"),
        ("http://127.0.0.1:9\\a.xml", "http://127.0.0.1:9/a.xml"),
    ],
)
def test_a_feed_url_read_otherwise_than_written_is_named_with_how_it_is_read(
    tmp_path: Path, written: str, read: str
) -> None:
    """`https:/host`, a space or a backslash in a feed's URL was quietly read as a browser
    reads it; `check` now says how it is read, where it is written (and a URL written whole,
    with a path in Cyrillic, is no slip)."""
    from bot.config import placed_warnings
    from bot.i18n import texts
    from bot.reload import said_warning

    config = tmp_path / "c.yaml"
    config.write_text(
        f"feeds:\n  - id: a\n    url: '{written}'\n  - id: b\n    url: https://лента.example/новости\n"
        "topics:\n  k: {title: K, query: kuril}\n"
    )
    result = cli("check", "--config", str(config))
    assert result.returncode == 0 and result.stdout.startswith("config OK"), result.stderr
    [line] = result.stderr.splitlines()
    assert line == (
        f"kurilwatch: warning: {config} line 3: feeds[0].url: {written} is read as {read}, as a"
        " browser reads it: write it so if meant"
    )
    [warning] = placed_warnings(load_config(config), config)
    russian = texts("ru").say(said_warning(warning))
    assert written in russian and read in russian and "браузер" in russian, russian


@pytest.mark.parametrize(
    "url",
    [
        ">\n      http://127.0.0.1:9/a.xml\n",  # folded: a line break ends it
        "|\n      http://127.0.0.1:9/a.xml\n",
        "' http://127.0.0.1:9/a.xml '",
        '"\\thttp://127.0.0.1:9/a.xml"',
    ],
)
def test_a_feed_url_with_blanks_at_its_ends_is_no_slip(url: str) -> None:
    """A URL written as a YAML block (`url: >`) ends with a line break, which the URL's reading
    drops as it drops blanks at either end: it was warned of as read otherwise than written,
    the line break in the middle of the warning's line."""
    feeds = FEEDS.replace("url: http://127.0.0.1:9/a.xml", f"url: {url}")
    settings = parse_config(feeds + "topics:\n  k: {title: K, query: kuril}\n")
    assert str(settings.feeds[0].url) == "http://127.0.0.1:9/a.xml"
    assert warned("  k: {title: K, query: kuril}\n", feeds) == []


def test_a_feed_url_slip_at_the_end_of_a_block_is_named_on_one_line() -> None:
    feeds = FEEDS.replace("url: http://127.0.0.1:9/a.xml", "url: >\n      https:/127.0.0.1:9/a\n")
    assert warned("  k: {title: K, query: kuril}\n", feeds) == [
        "feeds.0.url: https:/127.0.0.1:9/a is read as https://127.0.0.1:9/a, as a browser reads"
        " it: write it so if meant"
    ]


def test_a_feed_url_with_a_line_break_or_a_tab_inside_is_named_on_one_line(
    tmp_path: Path,
) -> None:
    """A URL written as a `|` block over two lines, or with a tab in it, was quoted raw: the
    warning `check` prints on one line became two, and the admins' notice broke mid-line. The
    characters that are no text are shown escaped, as Python writes them."""
    from bot.config import placed_warnings
    from bot.i18n import EN, texts
    from bot.reload import said_warning

    config = tmp_path / "c.yaml"
    config.write_text(
        "feeds:\n  - id: a\n    url: |\n      http://127.0.0.1:9/a\n      .xml\n"
        '  - id: b\n    url: "http://127.0.0.1:9/\\tb\\u00a0.xml"\n'
        "  - id: c\n    url: http://127.0.0.1:9/a.xml\n"
        "topics:\n  k: {title: K, query: kuril}\n"
    )
    result = cli("check", "--config", str(config))
    assert result.returncode == 0 and result.stdout.startswith("config OK"), result.stderr
    assert result.stderr.splitlines() == [
        f"kurilwatch: warning: {config} line 3: feeds[0].url: http://127.0.0.1:9/a\\n.xml is"
        " read as http://127.0.0.1:9/a.xml, as a browser reads it: write it so if meant",
        f"kurilwatch: warning: {config} line 7: feeds[1].url: http://127.0.0.1:9/\\tb\\xa0.xml"
        " is read as http://127.0.0.1:9/b%C2%A0.xml, as a browser reads it: write it so if meant",
        f"kurilwatch: warning: {config} line 9: feeds[2].url: the same URL as feeds[0] (a): it is"
        " polled twice as often, for the same items",
    ]
    for warning in placed_warnings(load_config(config), config):
        for lang in ("en", "ru", "ja"):
            said = texts(lang).say(said_warning(warning))
            assert "\n" not in said and "\t" not in said, said
            assert said.startswith(f"{located(lang, EN.say(warning.where))}: {warning.key}: ")
