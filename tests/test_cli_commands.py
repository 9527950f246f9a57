"""The operator's commands on a real store: run as `kurilwatch ...` processes where the process
is what is tested (one of each command, its streams, its locks, its user), else through
`bot.cli.main` in this process (`tests.conftest.cli`), which gives the same exit status and
output for a fraction of the CPU."""

from __future__ import annotations

import ctypes
import io
import os
import pty
import select
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.commands import _progress, stats_lines
from bot.i18n import texts
from bot.lock import StoreLock
from store import FeedState, ItemRecord, OutboxState, Stats, Store
from tests.conftest import CONFIG, ROOT, cli, kurilwatch, new_store, write_config
from tests.fakes.feed_server import FeedEntry, FeedServer, Route, rss

ITEMS = rss(
    [
        FeedEntry("Kuril Islands talks resume", "https://a.example/1", guid="1"),
        FeedEntry("Iturup airport reopens", "https://a.example/2", guid="2"),
    ]
)


def polled_store(tmp_path: Path, feed_server: FeedServer) -> Path:
    feed_server.set_feed("/a.xml", ITEMS)
    config = write_config(
        tmp_path, {"good": feed_server.url("/a.xml"), "gone": feed_server.url("/missing.xml")}
    )
    assert cli("poll", "--once", "--config", str(config)).returncode == 0
    return config


def test_feeds_shows_each_feeds_health(tmp_path: Path, feed_server: FeedServer) -> None:
    config = polled_store(tmp_path, feed_server)
    result = kurilwatch("feeds", "--config", str(config))
    assert result.returncode == 0, result.stderr
    good = next(line for line in result.stdout.splitlines() if line.strip().startswith("good"))
    gone = next(line for line in result.stdout.splitlines() if line.strip().startswith("gone"))
    assert " ok " in good and " 2 " in good
    assert "failing" in gone and "404" in gone


def test_feeds_tells_a_permanent_move(tmp_path: Path, feed_server: FeedServer) -> None:
    """The operator learns where a feed moved, to write it in the config."""
    feed_server.set_feed("/new.xml", ITEMS)
    feed_server.set_route("/old.xml", Route(status=301, redirect_to="/new.xml"))
    config = write_config(
        tmp_path, {"stays": feed_server.url("/new.xml"), "moved": feed_server.url("/old.xml")}
    )
    assert cli("poll", "--once", "--config", str(config)).returncode == 0
    result = cli("feeds", "--config", str(config))
    assert result.returncode == 0, result.stderr
    told = [line for line in result.stdout.splitlines() if "moved permanently" in line]
    assert told == [
        f"moved: moved permanently (HTTP 301/308) to {feed_server.url('/new.xml')}, polled"
        " there; write it in feeds[1].url"
    ]


def test_feeds_shows_when_a_server_asked_not_to_be_polled(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    feed_server.set_route("/busy.xml", Route(status=503, headers={"Retry-After": "72000"}))
    config = write_config(tmp_path, {"busy": feed_server.url("/busy.xml")})
    assert cli("poll", "--once", "--config", str(config)).returncode == 0
    result = cli("feeds", "--config", str(config))
    assert result.returncode == 0, result.stderr
    busy = next(line for line in result.stdout.splitlines() if line.strip().startswith("busy"))
    assert "in 19 h (Retry-After)" in busy and "HTTP 503" in busy


def test_feeds_names_a_next_poll_a_stopped_daemon_left_in_the_past_as_due(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    config = polled_store(tmp_path, feed_server)
    with sqlite3.connect(tmp_path / "kw.db") as db:
        db.execute("UPDATE feeds SET next_poll_at = 1577836800 WHERE id = 'gone'")
    result = cli("feeds", "--config", str(config))
    assert result.returncode == 0, result.stderr
    gone = next(line for line in result.stdout.splitlines() if line.strip().startswith("gone"))
    assert "due (" in gone and " d ago)" in gone


def test_feeds_shows_an_error_as_written(tmp_path: Path, feed_server: FeedServer) -> None:
    """A feed's error text is the feed's or its server's, never markup for the table."""
    config = polled_store(tmp_path, feed_server)
    error = "XML error [/x] at [bold]line[/bold] 3"
    with sqlite3.connect(tmp_path / "kw.db") as db:
        db.execute("UPDATE feeds SET last_error = ? WHERE id = 'gone'", (error,))
    result = cli("feeds", "--config", str(config))
    assert result.returncode == 0, result.stderr
    assert error in result.stdout


def test_stats_name_the_states_of_deliveries_in_the_admins_language() -> None:
    deliveries = {OutboxState.SENT: 5, OutboxState.FAILED: 1, OutboxState.PENDING: 1}
    figures = Stats(2, 0, 1, {}, deliveries, 1, None)
    now = datetime(2026, 11, 27, tzinfo=UTC)
    assert "Deliveries: failed 1, pending 1, sent 5" in stats_lines(figures, now)
    ru = stats_lines(figures, now, texts("ru"))
    assert "Доставки: не доставлено 1, в ожидании 1, отправлено 5" in ru and "В очереди: 1" in ru
    assert "送信済み 5" in "\n".join(stats_lines(figures, now, texts("ja")))


def test_stats_write_days_and_lists_as_the_admins_language_does() -> None:
    # "12-03 4" read as 12 March to a Russian admin, and Japanese lists had an English ", "
    deliveries = {OutboxState.SENT: 5, OutboxState.FAILED: 1}
    per_day = {"2026-11-26": 3, "2026-12-03": 4}
    figures = Stats(2, 0, 1, per_day, deliveries, 0, None)
    now = datetime(2026, 12, 3, tzinfo=UTC)
    english = stats_lines(figures, now)
    assert "Matched stories per day (UTC): 11-26: 3, 12-03: 4" in english  # as `kurilwatch stats`
    ru = "\n".join(stats_lines(figures, now, texts("ru")))
    assert "26.11: 3, 03.12: 4" in ru, ru
    ja = "\n".join(stats_lines(figures, now, texts("ja")))
    assert "11/26: 3、12/3: 4" in ja and "失敗 1、送信済み 5" in ja, ja


def test_a_command_that_only_reads_leaves_a_store_behind_its_schema_as_it_is(
    tmp_path: Path,
) -> None:
    """`kurilwatch stats` after installing a new version, before the daemon's restart, migrated
    the store under the older daemon still running on it."""
    from sqlite_utils import Database

    from store import migrations

    names = [m.name for m in migrations.migrations.pending(Database(memory=True))]
    path = tmp_path / "kw.db"
    old = Database(path)  # as the running daemon's (earlier) version left it
    migrations.migrations.apply(old, stop_before=names[-1])
    old.close()
    config = write_config(tmp_path, {})  # its store: kw.db in tmp_path
    for command in (
        ["stats"],
        ["feeds"],
        ["export"],
        ["trend", "--topic", "kuril", "--csv", "t.csv"],
    ):
        result = cli(*command, "--config", str(config))
        assert result.returncode == 2 and "(1 schema step behind" in result.stderr, result.stderr
    after = Database(path)
    assert names[-1] not in [m.name for m in migrations.migrations.applied(after)]
    after.close()
    with Store(path) as store:  # what the daemon, poll --once or prune open it with
        assert store.schema_version() == len(names)


def test_stats_backup_and_prune(tmp_path: Path, feed_server: FeedServer) -> None:
    config = polled_store(tmp_path, feed_server)
    stats = kurilwatch("stats", "--config", str(config))
    assert "Subscribers: 0 active" in stats.stdout and "Queue: 0 waiting" in stats.stdout

    copy = tmp_path / "backups" / "kw-copy.db"
    result = kurilwatch("backup", str(copy), "--config", str(config))
    assert result.returncode == 0, result.stderr
    with sqlite3.connect(copy) as db:
        assert db.execute("SELECT count(*) FROM items").fetchone()[0] == 2
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    again = cli("backup", str(copy), "--config", str(config))
    assert again.returncode == 2 and "exists" in again.stderr

    with sqlite3.connect(tmp_path / "kw.db") as db:  # the forms of a word no watch has now
        db.execute("INSERT INTO word_forms (word, forms) VALUES ('итуруп', '[\"итуруп\"]')")
    pruned = kurilwatch("prune", "--config", str(config))
    assert pruned.returncode == 0 and "0 items older than 90 days compacted" in pruned.stdout
    with sqlite3.connect(tmp_path / "kw.db") as db:
        assert db.execute("SELECT count(*) FROM word_forms").fetchone()[0] == 0


def test_resend_queues_the_alerts_given_up_again(tmp_path: Path) -> None:
    config = write_config(tmp_path, {"a": "http://127.0.0.1:9/a.xml"})
    now = datetime.now(UTC)
    with Store(new_store(tmp_path / "kw.db")) as store:
        for chat in (7, 8):
            store.upsert_subscriber(chat, now=now)
            store.subscribe(chat, "kuril", now=now)
        record = ItemRecord("g", "https://x/1", "https://x/1", "Kuril ferry", "", now, ("kuril",))
        store.ingest(FeedState(id="a", url="u"), [record], now=now, alert=True)
        rows = [d.id for d in store.due_deliveries(now)]
        for row in rows:
            store.mark_failed(row, "NetworkError: Bad Gateway (retried for 1 day, 0:00:00)")
    bad = cli("resend", "--since", "2 days", "--config", str(config))
    assert bad.returncode == 2 and "--since '2 days'" in bad.stderr
    result = kurilwatch("resend", "--config", str(config))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("queued again: 2 alerts given up in the last 48h, to 2 chats")
    assert "chat 7: 1" in result.stdout and "chat 8: 1" in result.stdout
    with sqlite3.connect(tmp_path / "kw.db") as db:
        states = [r[0] for r in db.execute("SELECT state FROM outbox ORDER BY id")]
    assert states == ["pending", "pending"]
    again = cli("resend", "--config", str(config))
    assert again.stdout.strip() == "no alert was given up in the last 48h"


def test_resend_skips_the_alerts_of_topics_and_watches_their_chats_have_left(
    tmp_path: Path,
) -> None:
    """An alert given up, then /unsubscribe (or /unwatch) of its topic: `resend` queued it
    all the same, and the chat got news of a topic it had left."""
    config = write_config(tmp_path, {"a": "http://127.0.0.1:9/a.xml"})
    now = datetime.now(UTC)
    with Store(new_store(tmp_path / "kw.db")) as store:
        for chat in (7, 8, 9):
            store.upsert_subscriber(chat, now=now)
            store.subscribe(chat, "kuril", now=now)
        store.subscribe(7, "peace-treaty", now=now)
        watch = store.add_watch(9, "ferry", now=now, limit=10)
        assert watch is not None
        topics = ("kuril", "peace-treaty", f"@w{watch.id}")
        record = ItemRecord("g", "https://x/1", "https://x/1", "Kuril ferry", "", now, topics)
        store.ingest(FeedState(id="a", url="u"), [record], now=now, alert=True)
        for row in [d.id for d in store.due_deliveries(now)]:
            store.mark_failed(row, "NetworkError: Bad Gateway (retried for 1 day, 0:00:00)")
        store.unsubscribe(7, "kuril")  # peace-treaty stays
        store.unsubscribe(8, "kuril")
        store.unsubscribe(9, "kuril")
        store.remove_watch(9, 1)
    result = cli("resend", "--config", str(config))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("queued again: 1 alert given up in the last 48h, to 1 chat")
    assert "skipped: 2 alerts of topics or watches their chats have left" in result.stdout
    with sqlite3.connect(tmp_path / "kw.db") as db:
        rows = list(db.execute("SELECT chat_id, state, topics FROM outbox ORDER BY chat_id"))
    assert rows == [(7, "pending", '["peace-treaty"]'), (8, "failed", '["kuril"]'),
                    (9, "failed", f'["kuril", "@w{watch.id}"]')]  # fmt: skip


def test_check_online_tries_each_feed(tmp_path: Path, feed_server: FeedServer) -> None:
    feed_server.set_feed("/a.xml", ITEMS)
    config = write_config(
        tmp_path, {"good": feed_server.url("/a.xml"), "gone": feed_server.url("/missing.xml")}
    )
    result = cli("check", "--online", "--config", str(config))
    assert result.returncode == 1
    assert "good: ok, HTTP 200, 2 entries" in result.stdout
    assert "gone: FAILED" in result.stdout and "1 of 2 feeds answered" in result.stdout
    assert not (tmp_path / "kw.db").exists()  # nothing stored


def test_check_online_and_prune_count_one_as_one(tmp_path: Path, feed_server: FeedServer) -> None:
    """`check --online` said "1 entries" and "1 of 1 feeds", prune "1 feeds the config no
    longer has" and "older than 1 days"."""
    one = rss([FeedEntry("Kuril Islands talks resume", "https://a.example/1", guid="1")])
    feed_server.set_feed("/one.xml", one)
    config = write_config(tmp_path, {"one": feed_server.url("/one.xml")})
    result = cli("check", "--online", "--config", str(config))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-2:] == [
        "  one: ok, HTTP 200, 1 entry",
        "1 of 1 feed answered",
    ]

    polled_store(tmp_path, feed_server)  # feeds good and gone (which names no item)
    store = {"path": "kw.db", "retention": "1d", "keys_retention": "2d"}
    config = write_config(tmp_path, {"good": feed_server.url("/a.xml")}, extra={"store": store})
    pruned = cli("prune", "--config", str(config))
    assert pruned.returncode == 0, pruned.stderr
    assert pruned.stdout.splitlines()[:2] == [
        "0 items older than 1 day compacted (their dedup keys kept), 0 older than 2 days deleted",
        "1 feed the config no longer has, and no item names, forgotten",
    ]


def test_demo_shows_alerts_in_three_languages_without_network() -> None:
    result = kurilwatch("demo", "--config", CONFIG)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Motegi" in out and "Итуруп" in out and "北方領土" in out
    assert "Tokyo stocks" not in out  # no topic matched it
    # two outlets, one story: alerted once, and Kyodo's report shown joining it
    assert out.count("\nRussia holds") == 1 and "Russia holds military" not in out
    assert '  ↳ also: Kyodo (sample) — joins "Russia holds drills on the Kuril Islands"' in out
    assert (
        "demo finished: 6 sample reports published (5 stories); the 4 stories that matched a"
        " topic were alerted above, once each, and a second outlet's report joined one." in out
    )


def test_poll_progress_bar_draws_on_a_terminal_only(monkeypatch: pytest.MonkeyPatch) -> None:
    leader, follower = pty.openpty()
    try:
        with open(follower, "w", closefd=False) as terminal:
            monkeypatch.setattr(sys, "stderr", terminal)
            with _progress(3) as advance:
                for _ in range(3):
                    advance()
        # the kernel hands a pty's output to its reader in pieces, a moment later: read until
        # the bar is there, or for 5 s (nothing drawn then fails the test, not hangs it)
        drawn, deadline = b"", time.monotonic() + 5
        while b"polling" not in drawn and time.monotonic() < deadline:
            if select.select([leader], [], [], 0.1)[0]:
                drawn += os.read(leader, 65536)
        assert b"polling" in drawn
    finally:
        os.close(leader)
        os.close(follower)
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    with _progress(3) as advance:  # no terminal: nothing drawn
        advance()
    assert sys.stderr.getvalue() == ""


def test_backup_finishes_while_the_store_is_written(tmp_path: Path) -> None:
    config = write_config(tmp_path, {"a": "http://127.0.0.1:9/a.xml"})
    Store(new_store(tmp_path / "kw.db")).close()
    with sqlite3.connect(tmp_path / "kw.db") as db:  # 60 MB: a copy in several steps
        db.execute("CREATE TABLE filler (x BLOB)")
        db.executemany(
            "INSERT INTO filler VALUES (?)", ((os.urandom(2000),) for _ in range(30_000))
        )
    stop = threading.Event()

    def write() -> None:  # commits as a busy daemon does, throughout the copy
        writer = sqlite3.connect(tmp_path / "kw.db", isolation_level=None)
        while not stop.is_set():
            writer.execute("INSERT INTO filler VALUES (x'00')")
        writer.close()

    writing = threading.Thread(target=write)
    writing.start()
    try:
        result = cli("backup", str(tmp_path / "copy.db"), "--config", str(config))
    finally:
        stop.set()
        writing.join()
    assert result.returncode == 0, result.stderr
    with sqlite3.connect(tmp_path / "copy.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert db.execute("SELECT count(*) FROM filler").fetchone()[0] >= 30_000


@pytest.mark.parametrize(
    ("target", "named"),
    [("config.yaml/kw.db", "config.yaml"), ("x" * 300 + ".db", "xxx"), ("/proc/kw.db", "/proc")],
)
def test_backup_to_a_path_it_cannot_write_names_it(tmp_path: Path, target: str, named: str) -> None:
    config = write_config(tmp_path, {"a": "http://127.0.0.1:9/a.xml"})
    Store(new_store(tmp_path / "kw.db")).close()
    result = cli("backup", str(tmp_path / target), "--config", str(config))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("kurilwatch backup: cannot write") and named in result.stderr


def test_backup_of_a_damaged_store_leaves_no_copy(tmp_path: Path) -> None:
    config = write_config(tmp_path, {"a": "http://127.0.0.1:9/a.xml"})
    (tmp_path / "kw.db").write_bytes(b"not SQLite at all" * 1000)
    result = cli("backup", str(tmp_path / "copy.db"), "--config", str(config))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "file is not a database" in result.stderr
    assert not (tmp_path / "copy.db").exists()  # the next try may use the same name


@pytest.mark.parametrize(
    "command",
    [["feeds"], ["stats"], ["prune"], ["resend"], ["poll", "--once"], ["export"], ["run"]],
    ids=lambda c: c[0],
)
def test_a_damaged_store_is_named_in_one_line_and_left_as_it_was(
    tmp_path: Path, command: list[str]
) -> None:
    config = write_config(tmp_path, {"a": "http://127.0.0.1:9/a.xml"})
    damaged = b"not SQLite at all" * 1000
    (tmp_path / "kw.db").write_bytes(damaged)
    result = (kurilwatch if command == ["run"] else cli)(*command, "--config", str(config))
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert f"store {tmp_path / 'kw.db'}: file is not a database" in result.stderr
    assert (tmp_path / "kw.db").read_bytes() == damaged


@pytest.mark.parametrize("command", [["stats"], ["export"], ["run"]], ids=lambda c: c[0])
def test_a_store_damaged_inside_is_named_with_what_to_do(
    tmp_path: Path, command: list[str]
) -> None:
    config = write_config(tmp_path, {"a": "http://127.0.0.1:9/a.xml"})
    with Store(new_store(tmp_path / "kw.db")) as store:
        store.ingest(
            FeedState(id="a", url="u"), [record(str(i)) for i in range(300)], now=T0, alert=False
        )
        store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        # every table's and index's pages but the first (the header and schema): which a
        # third of the file holds depends on the store's auto_vacuum mode
        pages = [p for (p,) in store.db.execute("SELECT pageno FROM dbstat WHERE pageno > 1")]
    with open(tmp_path / "kw.db", "r+b") as file:  # its header intact: a disk's bad sectors
        for page in pages:
            file.seek((page - 1) * 4096)
            file.write(b"\xff" * 4096)
    damaged = (tmp_path / "kw.db").read_bytes()
    result = (kurilwatch if command == ["run"] else cli)(*command, "--config", str(config))
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.splitlines()) == 1
    assert f"store {tmp_path / 'kw.db'}: database disk image is malformed" in result.stderr
    assert "move it and its -wal and -shm files aside, then `kurilwatch restore" in result.stderr
    assert (tmp_path / "kw.db").read_bytes() == damaged


@pytest.mark.parametrize("command", [["feeds"], ["poll", "--once"], ["run"]], ids=lambda c: c[0])
def test_a_store_folder_that_is_a_file_is_named(tmp_path: Path, command: list[str]) -> None:
    config = write_config(
        tmp_path, {"a": "http://127.0.0.1:9/a.xml"}, extra={"store": {"path": "taken/kw.db"}}
    )
    (tmp_path / "taken").write_text("a file, not a folder")
    result = (kurilwatch if command == ["run"] else cli)(*command, "--config", str(config))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"{tmp_path / 'taken'} is a file, not a folder" in result.stderr
    if command == ["run"]:  # the key to look at, before the daemon's lock
        assert "is store.path where the store should be" in result.stderr


@pytest.mark.parametrize(
    "command",
    [["feeds"], ["stats"], ["poll", "--once"], ["run"], ["backup", "copy.db"], ["restore", "b"]],
    ids=lambda c: c[0],
)
def test_a_store_path_that_is_a_folder_is_named(tmp_path: Path, command: list[str]) -> None:
    # `store.path: data` with data/ there: SQLite's "unable to open database file", and
    # backup's "disk I/O error", named neither the folder nor the key
    config = write_config(
        tmp_path, {"a": "http://127.0.0.1:9/a.xml"}, extra={"store": {"path": "data"}}
    )
    (tmp_path / "data").mkdir()
    if command[0] == "backup":
        command = ["backup", str(tmp_path / "copy.db")]
    if command[0] == "restore":
        Store(new_store(tmp_path / "backup.db")).close()
        command = ["restore", str(tmp_path / "backup.db")]
    result = (kurilwatch if command == ["run"] else cli)(*command, "--config", str(config))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert (
        f"{tmp_path / 'data'}: a folder, not a file; store.path names the store's file, such as"
        " data/kurilwatch.db"
    ) in result.stderr, result.stderr
    assert list((tmp_path / "data").iterdir()) == []


def _run_into(stdout: int, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        timeout=60,
    )


@pytest.mark.parametrize("command", ["check", "export"])
def test_output_to_a_closed_pipe_ends_quietly(tmp_path: Path, command: str) -> None:
    config = write_config(tmp_path, {"a": "http://127.0.0.1:9/a.xml"})
    Store(new_store(tmp_path / "kw.db")).close()
    read, write = os.pipe()
    os.close(read)  # `kurilwatch ... | head` once head has what it wanted
    try:
        result = _run_into(write, command, "--config", str(config))
    finally:
        os.close(write)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_output_to_a_full_disk_is_named(tmp_path: Path) -> None:
    config = write_config(tmp_path, {"a": "http://127.0.0.1:9/a.xml"})
    with open("/dev/full", "w") as full:
        result = _run_into(full.fileno(), "check", "--config", str(config))
    assert result.returncode == 2
    assert result.stderr == "kurilwatch check: cannot write the output: No space left on device\n"
    Store(new_store(tmp_path / "kw.db")).close()
    trend = cli("trend", "--topic", "kuril", "--csv", "/dev/full", "--config", str(config))
    assert trend.returncode == 2
    assert "cannot write /dev/full: No space left on device" in trend.stderr


def test_a_chart_cut_short_by_a_full_disk_leaves_the_one_before(tmp_path: Path) -> None:
    """`trend --png` wrote into the file itself: a disk that filled half-way through left a
    chart cut off where the last one was. The file size limit stands in for the full disk."""
    import resource

    config = write_config(tmp_path, {"a": "http://127.0.0.1:9/a.xml"})
    Store(new_store(tmp_path / "kw.db")).close()
    chart = tmp_path / "kuril.png"
    chart.write_bytes(b"the chart before")
    limit = 33_000  # room for the store's 32 KiB shared-memory file, not for a chart's 37 KB

    def small_files() -> None:  # Python ignores SIGXFSZ: a write past the limit fails, EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    args = ["trend", "--topic", "kuril", "--png", str(chart), "--config", str(config)]
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        preexec_fn=small_files,
        # compiled bytecode written under the limit was cut short, for the other tests to read
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    assert result.returncode == 2, result.stderr
    assert f"cannot write {chart}: File too large" in result.stderr
    assert chart.read_bytes() == b"the chart before"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
    assert (
        cli("trend", "--topic", "kuril", "--png", str(chart), "--config", str(config)).returncode
        == 0
    )
    assert chart.read_bytes().startswith(b"\x89PNG") and chart.stat().st_size > limit


def test_a_chart_written_to_dev_stdout_or_under_a_long_name_lands_there(tmp_path: Path) -> None:
    """`trend --csv /dev/stdout >> counts.csv` replaced counts.csv by the CSV alone (the rename
    of a hidden copy), and the totals line went to the file replaced; and a long file name
    that a direct write took was refused, the hidden copy's name being longer."""
    config = write_config(tmp_path, {"a": "http://127.0.0.1:9/a.xml"})
    Store(new_store(tmp_path / "kw.db")).close()
    counts = tmp_path / "counts.csv"
    counts.write_text("earlier lines\n")
    with counts.open("ab") as appended:
        args = ["trend", "--topic", "kuril", "--csv", "/dev/stdout", "--config", str(config)]
        result = subprocess.run(
            [sys.executable, "-m", "bot.cli", *args],
            stdout=appended,
            stderr=subprocess.PIPE,
            cwd=ROOT,
            timeout=60,
        )
    assert result.returncode == 0, result.stderr
    text = counts.read_text()
    assert text.startswith("earlier lines\ndate,total") and "kuril: 0 stories" in text
    long = tmp_path / ("k" * 250 + ".csv")
    assert (
        cli("trend", "--topic", "kuril", "--csv", str(long), "--config", str(config)).returncode
        == 0
    )
    assert long.read_text().startswith("date,total")
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


@pytest.mark.parametrize("command", [["stats"], ["prune"], ["export"], ["run"]], ids=lambda c: c[0])
def test_a_store_of_a_newer_version_is_refused_and_left_as_it_was(
    tmp_path: Path, command: list[str]
) -> None:
    config = write_config(tmp_path, {"a": "http://127.0.0.1:9/a.xml"})
    Store(new_store(tmp_path / "kw.db")).close()
    with sqlite3.connect(tmp_path / "kw.db") as db:  # what a later kurilwatch's start leaves
        db.execute(
            "INSERT INTO _sqlite_migrations (migration_set, name, applied_at)"
            " VALUES ('kurilwatch', 'm999_from_the_future', '2030-01-01')"
        )
    db.close()
    written = (tmp_path / "kw.db").read_bytes()
    result = (kurilwatch if command == ["run"] else cli)(*command, "--config", str(config))
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert f"store {tmp_path / 'kw.db'}: written by a newer kurilwatch" in result.stderr
    assert "m999_from_the_future" in result.stderr and "upgrade kurilwatch" in result.stderr
    assert (tmp_path / "kw.db").read_bytes() == written


T0 = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def record(guid: str) -> ItemRecord:
    link = f"https://news.example/{guid}"
    return ItemRecord(guid, link, link, f"Kuril news {guid}", "text", T0, topics=("kuril",))


def _items(path: Path) -> int:
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        count: int = db.execute("SELECT count(*) FROM items").fetchone()[0]
    db.close()
    return count


# a daemon that stores items, then is killed (a crash, an OOM kill, systemd's SIGKILL after
# TimeoutStopSec): the store's last changes stay in its -wal file
KILLED_WHILE_STORING = """
import os, signal, sys
from datetime import UTC, datetime
from store import FeedState, ItemRecord, OutboxState, Stats, Store
store = Store(sys.argv[1])
for batch in range(20):
    store.ingest(FeedState(id="a", url="u"), [
        ItemRecord(f"{batch}-{i}", None, f"https://n.example/{batch}/{i}", f"News {batch} {i}",
                   "text " * 100, None, topics=("kuril",)) for i in range(50)
    ], now=datetime.now(UTC), alert=True)
    store.db.execute("DELETE FROM items WHERE id % 3 = 0")
    store.db.conn.commit()
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_restore_puts_a_backup_in_place_of_a_store_a_crash_left_a_log_beside(
    tmp_path: Path,
) -> None:
    config = write_config(tmp_path, {"a": "http://127.0.0.1:9/a.xml"})
    with Store(new_store(tmp_path / "kw.db")) as store:
        store.ingest(
            FeedState(id="a", url="u"), [record(str(i)) for i in range(300)], now=T0, alert=False
        )
    assert cli("backup", str(tmp_path / "copy.db"), "--config", str(config)).returncode == 0
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_WHILE_STORING, str(tmp_path / "kw.db")], cwd=ROOT
    )
    assert killed.returncode == -9 and (tmp_path / "kw.db-wal").stat().st_size > 0
    backup = (tmp_path / "copy.db").read_bytes()
    result = kurilwatch("restore", str(tmp_path / "copy.db"), "--config", str(config))
    assert result.returncode == 0, result.stderr
    assert f"restored {tmp_path / 'kw.db'} from {tmp_path / 'copy.db'}" in result.stdout
    assert _items(tmp_path / "kw.db") == 300  # the backup's, not the killed daemon's
    assert (tmp_path / "copy.db").read_bytes() == backup


def test_restore_refuses_while_a_daemon_runs_and_a_bad_backup_changes_nothing(
    tmp_path: Path,
) -> None:
    config = write_config(tmp_path, {"a": "http://127.0.0.1:9/a.xml"})
    with Store(new_store(tmp_path / "kw.db")) as store:
        store.ingest(
            FeedState(id="a", url="u"), [record(str(i)) for i in range(10)], now=T0, alert=False
        )
    assert cli("backup", str(tmp_path / "copy.db"), "--config", str(config)).returncode == 0
    with Store(new_store(tmp_path / "kw.db")) as store:
        store.ingest(FeedState(id="a", url="u"), [record("new")], now=T0, alert=False)
    with StoreLock(tmp_path / "kw.db"):  # as `kurilwatch run` holds it
        running = cli("restore", str(tmp_path / "copy.db"), "--config", str(config))
    assert running.returncode == 2 and "Traceback" not in running.stderr
    assert f"another kurilwatch (pid {os.getpid()}) is running on this store" in running.stderr
    (tmp_path / "damaged.db").write_bytes((tmp_path / "copy.db").read_bytes()[:20_000])
    newer = tmp_path / "newer.db"
    with sqlite3.connect(tmp_path / "copy.db") as source, sqlite3.connect(newer) as db:
        source.backup(db)
        db.execute(
            "INSERT INTO _sqlite_migrations (migration_set, name, applied_at)"
            " VALUES ('kurilwatch', 'm999_from_the_future', '2030-01-01')"
        )
    source.close()
    db.close()
    for bad, why in [
        ("damaged.db", "is damaged"),
        ("newer.db", "written by a newer kurilwatch"),
        ("missing.db", "no backup at"),
        ("config.yaml", "is not a kurilwatch store"),
    ]:
        result = cli("restore", str(tmp_path / bad), "--config", str(config))
        assert result.returncode == 2, (bad, result.stderr)
        assert "Traceback" not in result.stderr and why in result.stderr, result.stderr
        assert str(tmp_path / bad) in result.stderr
    assert _items(tmp_path / "kw.db") == 11  # as it was
    (tmp_path / "kw.db").write_bytes(b"damaged" * 1000)
    result = cli("restore", str(tmp_path / "copy.db"), "--config", str(config))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"the store {tmp_path / 'kw.db'} is damaged" in result.stderr
    assert "move it and its -wal and -shm files aside, then restore again" in result.stderr
    assert (tmp_path / "kw.db").read_bytes() == b"damaged" * 1000
    for name in ("kw.db", "kw.db-wal", "kw.db-shm"):
        (tmp_path / name).unlink(missing_ok=True)
    result = cli("restore", str(tmp_path / "copy.db"), "--config", str(config))
    assert result.returncode == 0 and _items(tmp_path / "kw.db") == 10


def _without_override() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (1, 2):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, out of the bounding set
        if libc.prctl(24, capability, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def test_a_store_in_a_folder_it_cannot_write_is_named_with_what_to_do(tmp_path: Path) -> None:
    # SQLite makes a WAL store's -shm file beside it even to read it
    folder, out = tmp_path / "ro", tmp_path / "out"
    folder.mkdir()
    out.mkdir()
    try:
        config = write_config(folder, {"a": "http://127.0.0.1:9/a.xml"})
        Store(folder / "kw.db").close()
        for path in (folder, *folder.iterdir()):
            path.chmod(0o555 if path == folder else 0o444)
        # root writes any folder: the commands run as root without that capability
        user: dict[str, Any] = {"preexec_fn": _without_override} if os.geteuid() == 0 else {}
        for command in (["stats"], ["export"], ["backup", str(out / "copy.db")]):
            result = subprocess.run(
                [sys.executable, "-m", "bot.cli", *command, "--config", str(config)],
                capture_output=True, text=True, cwd=ROOT, timeout=60, **user,
            )  # fmt: skip
            assert result.returncode == 2, result.stderr
            assert "Traceback" not in result.stderr
            assert str(folder / "kw.db") in result.stderr
            assert f": its folder {folder} is read-only to this user" in result.stderr
            assert "copy the store to a folder you may write" in result.stderr
        assert sorted(p.name for p in folder.iterdir()) == ["config.yaml", "kw.db"]
    finally:
        folder.chmod(0o755)


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["stats"], 2),
        (["export"], 2),
        (["feedback"], 2),
        (["trend", "--topic", "kuril", "--csv", "k.csv"], 2),
        (["feeds"], 0),  # the configured feeds, every one new
        # they write, but only to a store there is: the writers' lock file and its folder
        # were made before the store was looked for
        (["resend"], 2),
        (["prune"], 2),
    ],
    ids=lambda a: a[0] if isinstance(a, list) else str(a),
)
def test_a_reading_command_at_a_mistyped_store_path_says_so_and_makes_nothing(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    code: int,
) -> None:
    from bot.cli import main

    config = write_config(
        tmp_path, {"a": "http://127.0.0.1:9/a.xml"}, extra={"store": {"path": "typo/kw.db"}}
    )
    monkeypatch.chdir(tmp_path)  # trend's k.csv
    assert main([*args, "--config", str(config)]) == code
    err = capsys.readouterr().err
    assert f"no store at {tmp_path / 'typo' / 'kw.db'} (store.path)" in err, err
    assert not (tmp_path / "typo").exists() and not (tmp_path / "k.csv").exists()
