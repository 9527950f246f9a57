"""`kurilwatch backtest` and `kurilwatch export` over a store filled by the real poller: one
backtest as a process, the rest through `bot.cli.main` in this process (`tests.conftest.cli`)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import yaml

from tests.conftest import cli, kurilwatch, new_store, write_config
from tests.fakes.feed_server import FeedEntry, FeedServer, rss

ENTRIES = [
    FeedEntry("Kuril fishing quota agreed", "https://n.example/kept"),
    FeedEntry("Sakhalin oil project expands", "https://n.example/gained"),
    FeedEntry("Iturup military drills begin", "https://n.example/lost"),
    FeedEntry("Weather in Paris", "https://n.example/none"),
]


def polled_store(tmp_path: Path, feed_server: FeedServer) -> Path:
    feed_server.set_feed("/a.xml", rss(ENTRIES))
    config = write_config(tmp_path, {"wire": feed_server.url("/a.xml")})
    result = cli("poll", "--once", "--config", str(config))
    assert result.returncode == 0, result.stderr
    assert "4 new" in result.stdout
    return config


def edited(config: Path) -> Path:
    """The config with a term added to `kuril` and an exclusion added to it."""
    data = yaml.safe_load(config.read_text())
    kuril = data["topics"]["kuril"]
    kuril["query"] = f"({kuril['query']} OR sakhalin) -drills"
    new = config.with_name("new.yaml")
    new.write_text(yaml.safe_dump(data, allow_unicode=True))
    return new


def test_backtest_lists_exactly_the_stories_gained_and_lost(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    config = polled_store(tmp_path, feed_server)
    new = edited(config)
    result = kurilwatch("backtest", "--config", str(new), "--against", str(config), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    [kuril] = report["topics"]  # peace-treaty's query is the same: not listed
    assert kuril["topic"] == "kuril" and kuril["status"] == "changed"
    assert [(c["title"], c["link"], c["terms"]) for c in kuril["gained"]] == [
        ("Sakhalin oil project expands", "https://n.example/gained", ["sakhalin"])
    ]
    assert [(c["title"], c["terms"]) for c in kuril["lost"]] == [
        ("Iturup military drills begin", ["-drills"])
    ]
    assert kuril["unchanged"] == 1
    assert kuril["gained"][0]["outlet"]  # the feed's title or id

    text = cli("backtest", "--config", str(new), "--against", str(config))
    assert text.returncode == 0, text.stderr
    assert "kuril (changed), last 30 days: +1 gained, -1 lost, 1 unchanged" in text.stdout
    assert "+ " in text.stdout and "Sakhalin oil project expands" in text.stdout
    assert "[because: -drills]" in text.stdout

    same = cli("backtest", "--config", str(config), "--against", str(config))
    assert "No topic query differs" in same.stdout


def test_export_csv_round_trips_through_the_csv_module(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    config = polled_store(tmp_path, feed_server)
    result = cli("export", "--config", str(config), "--format", "csv")
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert sorted(r["title"] for r in rows) == [
        "Iturup military drills begin",
        "Kuril fishing quota agreed",
    ]
    for row in rows:
        assert row["topics"] == "kuril"
        assert row["outlets"] and row["first_seen"] and row["link"].startswith("https://")
    # what the csv module reads back is what it writes again
    again = io.StringIO()
    writer = csv.DictWriter(again, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    assert again.getvalue() == result.stdout

    jsonl = cli("export", "--config", str(config), "--format", "jsonl", "--topic", "peace-treaty")
    assert jsonl.returncode == 0 and jsonl.stdout == ""
    bad = cli("export", "--config", str(config), "--since", "soon")
    assert bad.returncode == 2 and "--since" in bad.stderr


def test_a_backtest_longer_than_the_text_is_kept_says_what_it_covered(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    config = polled_store(tmp_path, feed_server)
    data = yaml.safe_load(config.read_text())
    data["store"]["retention"] = "10d"  # items' text is dropped after 10 days
    config.write_text(yaml.safe_dump(data, allow_unicode=True))
    new = edited(config)
    result = cli(
        "backtest", "--config", str(new), "--against", str(config), "--days", "400", "--json"
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["days"] == 10
    assert "store.retention" in result.stderr and "10 days" in result.stderr
    text = cli("backtest", "--config", str(new), "--against", str(config), "--days", "400")
    assert "kuril (changed), last 10 days: +1 gained" in text.stdout


def test_a_backtest_against_a_config_whose_store_does_not_exist_says_so(tmp_path: Path) -> None:
    """--against a copy of the config elsewhere (its store path relative to it) found no
    store, made an empty one there, and reported every topic '+0 gained, -0 lost'."""
    (tmp_path / "elsewhere").mkdir()
    config = write_config(tmp_path / "elsewhere", {})
    new = edited(config)
    result = cli("backtest", "--config", str(new), "--against", str(config))
    store = tmp_path / "elsewhere" / "kw.db"
    assert result.returncode == 2
    assert f"no store at {store}" in result.stderr and "--against" in result.stderr
    assert "gained" not in result.stdout and "Traceback" not in result.stderr
    assert not store.exists()  # nothing made


def test_a_backtest_over_a_retention_of_part_days_names_the_period_it_covered(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """A retention of 36h covered 36 hours but said 'last 1 days' ('kept 1 days'); one of 12h
    said 'kept 12:00:00' and 'last 1 days'."""
    config = polled_store(tmp_path, feed_server)
    data = yaml.safe_load(config.read_text())
    data["store"]["retention"] = "36h"
    config.write_text(yaml.safe_dump(data, allow_unicode=True))
    new = edited(config)
    args = ("backtest", "--config", str(new), "--against", str(config), "--days", "3")
    result = cli(*args, "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["days"] == 1.5
    assert "kept 1d12h (store.retention)" in result.stderr and "not 3 days" in result.stderr
    text = cli(*args)
    assert "kuril (changed), last 1d12h: +1 gained, -1 lost, 1 unchanged" in text.stdout
    data["store"]["retention"] = "12h"
    config.write_text(yaml.safe_dump(data, allow_unicode=True))
    short = cli(*args[:-1], "1")
    assert "kuril (changed), last 12h: +1 gained" in short.stdout
    assert "kept 12h (store.retention)" in short.stderr and "not 1 day\n" in short.stderr


def test_a_bad_against_config_is_named_once_with_its_line(tmp_path: Path) -> None:
    """Its path was written twice ('kurilwatch: old.yaml: old.yaml line 4: ...'), and a
    missing one was told to 'pass --config PATH'."""
    config = write_config(tmp_path, {})
    new = edited(config)
    old = tmp_path / "old.yaml"
    old.write_text("topics:\n  k:\n    title: K\n    query: '\"kuril islands'\n")
    bad = cli("backtest", "--config", str(new), "--against", str(old))
    assert bad.returncode == 2 and bad.stdout == ""
    assert bad.stderr.splitlines() == [
        f"kurilwatch backtest: --against {old} line 4, column 13: topics.k.query: unclosed"
        " quote in the query"
    ]
    gone = cli("backtest", "--config", str(new), "--against", str(tmp_path / "no.yaml"))
    assert gone.returncode == 2
    assert gone.stderr.count("no.yaml") == 1 and "pass --against PATH" in gone.stderr


def test_a_feed_title_cannot_write_escape_sequences_to_the_operators_terminal(
    tmp_path: Path,
) -> None:
    """A title with ESC sequences (a hostile feed's &#x1b;, kept by the parsers) retitled the
    terminal and coloured what followed; a right-to-left override turned the line around."""
    from datetime import UTC, datetime

    from bot.config import load_config
    from bot.operator.backtest import run_backtest
    from store import FeedState, ItemRecord, Store

    config = write_config(tmp_path, {})
    title = "Sakhalin oil\x1b]0;owned\x07 \x1b[31mred \u202eline"
    with Store(new_store(tmp_path / "kw.db")) as store:
        state = FeedState(id="wire", url="u-wire", title="Wire", primed=True)
        record = ItemRecord("g", "https://n.example/1", None, title, "", None)
        store.ingest(state, [record], now=datetime.now(UTC), alert=False)
    out = io.StringIO()
    code = run_backtest(
        load_config(edited(config)), load_config(config), days=30, as_json=False, out=out
    )
    assert code == 0
    lines = out.getvalue().splitlines()
    assert len(lines) == 3 and "Sakhalin oil" in lines[1], lines  # the header, 2 for the story
    assert not any(c in out.getvalue() for c in "\x1b\x07\u202e")


def test_a_backtest_that_removes_a_topic_counts_the_chats_subscribed_to_it(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """A topic renamed or removed leaves its subscribers with nothing (they do not follow a new
    id); the backtest said only '-N lost', so the operator learnt it from the chats."""
    from datetime import UTC, datetime

    from store import Store

    config = polled_store(tmp_path, feed_server)
    data = yaml.safe_load(config.read_text())
    now = datetime.now(UTC)
    with Store(new_store(tmp_path / "kw.db")) as store:
        for chat in (1, 2, 3):
            store.upsert_subscriber(chat, now=now)
            store.subscribe(chat, "kuril", now=now)
        store.subscribe(1, "peace-treaty", now=now)
        store.deactivate_chat(3, "blocked", now=now)  # gets nothing whatever the config
    data["topics"]["kurils"] = data["topics"].pop("kuril")  # renamed
    new = config.with_name("new.yaml")
    new.write_text(yaml.safe_dump(data, allow_unicode=True))

    result = cli("backtest", "--config", str(new), "--against", str(config), "--json")
    assert result.returncode == 0, result.stderr
    report = {t["topic"]: t for t in json.loads(result.stdout)["topics"]}
    assert report["kuril"]["status"] == "removed" and report["kuril"]["subscribers"] == 2
    assert report["kurils"]["status"] == "added" and report["kurils"]["subscribers"] == 0
    text = cli("backtest", "--config", str(new), "--against", str(config))
    assert "kuril (removed), last 30 days: +0 gained, -2 lost" in text.stdout
    assert "2 chats subscribed to kuril get none of its alerts" in text.stdout
