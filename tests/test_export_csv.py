"""The CSV and JSON lines of `kurilwatch export` and /export, written from stories directly:
what a spreadsheet or a JSON reader gets back for any title."""

from __future__ import annotations

import csv
import io
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.config import Config
from bot.operator.export import run_export, write_csv, write_jsonl
from store import FeedState, ItemRecord, Store, Story

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
texts = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"))


def story(title: str, summary: str = "", link: str | None = None) -> Story:
    at = datetime(2026, 3, 1, 12, tzinfo=UTC)
    return Story(1, title, link, summary, ("TASS",), ("kuril",), at, at, at)


def test_a_title_that_starts_like_a_formula_is_not_one_in_a_spreadsheet() -> None:
    out = io.StringIO()
    titles = ['=HYPERLINK("http://x","y")', "+7 boats", "-1 day", "@SUM(A1)", "ok"]
    write_csv([story(t, summary="=1+1") for t in titles], out)
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert [r["title"] for r in rows] == [
        '\'=HYPERLINK("http://x","y")',
        "'+7 boats",
        "'-1 day",
        "'@SUM(A1)",
        "ok",
    ]
    assert {r["summary"] for r in rows} == {"'=1+1"}


@given(texts, texts)
def test_csv_reads_back_every_title_and_summary_and_runs_none(title: str, summary: str) -> None:
    out = io.StringIO()
    write_csv([story(title, summary, "https://n.example/a,b")], out)
    [row] = list(csv.DictReader(io.StringIO(out.getvalue(), newline="")))
    for shown, written in ((row["title"], title), (row["summary"], summary)):
        assert not shown.startswith(FORMULA_STARTS)
        written = written.replace("\r\n", "\n").replace("\r", "\n")  # one row, whatever the text
        assert shown == ("'" + written if written.startswith(FORMULA_STARTS) else written)
    assert row["link"] == "https://n.example/a,b"


@given(texts, texts)
def test_json_lines_read_back_exactly(title: str, summary: str) -> None:
    out = io.StringIO()
    write_jsonl([story(title, summary), story("=second")], out)
    lines = out.getvalue().split("\n")
    assert lines[-1] == "" and len(lines) == 3  # one line per story, whatever the text
    first, second = (json.loads(line) for line in lines[:2])
    assert (first["title"], first["summary"], second["title"]) == (title, summary, "=second")


def test_an_export_of_every_topic_holds_the_configs_topics_not_the_chats_watches(
    tmp_path: Path,
) -> None:
    """With no topic, a story only a chat's /watch matched was exported, its topic "@w1" in a
    cell that a spreadsheet runs as a formula."""
    path, now = tmp_path / "kw.db", datetime.now(UTC)
    with Store(path) as store:
        records = [
            ItemRecord("g1", "https://n.example/a", None, "Iturup drills", "s", None, ("@w1", "kuril")),
            ItemRecord("g2", "https://n.example/b", None, "Private crab watch", "s", None, ("@w1",)),
        ]  # fmt: skip
        store.ingest(FeedState(id="tass", url="u", title="TASS"), records, now=now, alert=False)
    topic = {"title": "Kuril Islands", "query": "kuril"}
    settings = Config.model_validate({"store": {"path": str(path)}, "topics": {"kuril": topic}})
    out = io.StringIO()
    assert run_export(settings, "csv", None, "30d", out) == 0
    [row] = list(csv.DictReader(io.StringIO(out.getvalue(), newline="")))
    assert (row["title"], row["topics"]) == ("Iturup drills", "kuril")
    rows = io.StringIO()
    write_csv([Story(1, "t", None, "", (), ("@w1", "kuril"), *[datetime.now(UTC)] * 3)], rows)
    [written] = list(csv.DictReader(io.StringIO(rows.getvalue(), newline="")))
    assert written["topics"] == "'@w1; kuril"  # a cell never starts like a formula


def test_export_and_check_on_a_latin_1_terminal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A terminal whose locale is Latin-1 (or eucJP, KOI8-R): export's first Russian title and
    check's en dash were a traceback and exit 1. Export writes UTF-8, as its files are."""
    import yaml

    from bot.cli import main

    path = tmp_path / "kw.db"
    with Store(path) as store:
        record = ItemRecord("r1", "https://n.example/r", None, "Курилы", "с", None, ("kuril",))
        now = datetime.now(UTC)
        store.ingest(FeedState(id="tass-ru", url="u", title="ТАСС"), [record], now=now, alert=False)
    config = tmp_path / "config.yaml"
    topics = {"kuril": {"title": "Kuril Islands – the dispute", "query": "kuril"}}
    config.write_text(yaml.safe_dump({"store": {"path": str(path)}, "topics": topics}))
    for command, wanted in (("export", "Курилы".encode()), ("check", b"\\u2013")):
        raw = io.BytesIO()
        monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(raw, encoding="latin-1"))
        assert main([command, "--config", str(config)]) == 0
        sys.stdout.flush()
        assert wanted in raw.getvalue(), raw.getvalue()[:300]
