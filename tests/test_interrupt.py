"""Ctrl-C as a terminal sends it (SIGINT to the whole process group) and SIGTERM: every command
that starts parse workers stops cleanly, with its exit status and no traceback."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from tests.conftest import CONFIG, ROOT, LineReader, new_store, write_config
from tests.fakes.feed_server import FeedEntry, FeedServer, Route, rss
from watchers.pool import ParsePool
from watchers.topics.compile import TopicSpec

KURILWATCH = Path(sys.executable).with_name("kurilwatch")  # the installed console script
# A shell's foreground command has Ctrl-C's default action, whatever the shell running the
# tests has: a suite started in the background (`make test &`) ignores SIGINT, and a command
# inherits that, so it would not stop on Ctrl-C before its own handlers are set.
FOREGROUND = (
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL);"
    " os.execv(sys.argv[1], sys.argv[1:])"
)
FEED = rss([FeedEntry("Fishermen near the Kuril Islands", "https://news.example/1", guid="1")])


class Group:
    """`kurilwatch` in a process group of its own, as a shell runs a foreground command."""

    def __init__(self, *args: str, program: Sequence[str] = (str(KURILWATCH),)) -> None:
        env = {k: v for k, v in os.environ.items() if k != "TELEGRAM_BOT_TOKEN"}
        env["PYTHONUNBUFFERED"] = "1"
        self.proc = subprocess.Popen(
            [sys.executable, "-c", FOREGROUND, *program, *args],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.output = LineReader(self.proc.stdout)

    def interrupt(self, sig: int = signal.SIGINT) -> int:
        """Send `sig` to the whole group, as a terminal does, and wait for the exit."""
        os.killpg(self.proc.pid, sig)
        code = self.proc.wait(30)
        self.output.join()
        return code

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)


@pytest.fixture
def group() -> Iterator[type[Group]]:
    started: list[Group] = []

    class Tracked(Group):
        def __init__(self, *args: str, program: Sequence[str] = (str(KURILWATCH),)) -> None:
            super().__init__(*args, program=program)
            started.append(self)

    yield Tracked
    for one in started:
        one.kill()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_run_stops_on_a_signal_to_its_group(
    tmp_path: Path, feed_server: FeedServer, group: type[Group], sig: int
) -> None:
    feed_server.set_feed("/a.xml", FEED)
    config = write_config(tmp_path, {"a": feed_server.url("/a.xml")})
    daemon = group("run", "--config", str(config))
    daemon.output.wait_for("kurilwatch running", timeout=60)
    feed_server.wait_for_hits("/a.xml", 2, timeout=30)  # polling, so the workers have parsed

    assert daemon.interrupt(sig) == 0
    assert "Traceback" not in daemon.output.text
    assert "stopped" in daemon.output.lines[-1]


def test_a_sighup_to_the_whole_group_reloads_and_leaves_the_workers_alive(
    tmp_path: Path, feed_server: FeedServer, group: type[Group]
) -> None:
    """`systemctl kill -s HUP` and `pkill -HUP kurilwatch` reach every process, not the daemon
    alone: the parse workers and multiprocessing's resource tracker died of it (the next parse
    "the parser process died on this feed", tracebacks of the tracker at the stop)."""
    feed_server.set_feed("/a.xml", FEED)
    config = write_config(tmp_path, {"a": feed_server.url("/a.xml")})
    daemon = group("run", "--config", str(config))
    daemon.output.wait_for("kurilwatch running", timeout=60)
    daemon.output.wait_for("first poll: recorded", timeout=30)  # the workers have parsed

    os.killpg(daemon.proc.pid, signal.SIGHUP)
    daemon.output.wait_for("config re-read", timeout=30)
    feed_server.set_feed(
        "/a.xml",
        rss([FeedEntry("Patrol boat off Iturup", "https://news.example/2", guid="2")]),
    )
    daemon.output.wait_for("1 alert printed", timeout=30)  # parsed after the SIGHUP

    assert daemon.interrupt(signal.SIGINT) == 0
    assert "process died" not in daemon.output.text
    assert "Traceback" not in daemon.output.text
    assert "resource_tracker" not in daemon.output.text


def test_sigterm_stops_an_export_with_130(tmp_path: Path) -> None:
    """SIGTERM ended a one-shot command that does not run an event loop (export, backtest,
    feedback, trend) by the signal (143), not as README's 130."""
    from datetime import UTC, datetime

    from store import FeedState, ItemRecord, Store

    config = write_config(tmp_path, {})
    with Store(tmp_path / "kw.db") as store:
        records = [
            ItemRecord(f"g{n}", f"https://n.example/{n}", None, f"Kuril {n}", "s " * 400, None,
                       ("kuril",))
            for n in range(300)
        ]  # fmt: skip
        store.ingest(FeedState(id="f", url="u"), records, now=datetime.now(UTC), alert=False)
    export = subprocess.Popen(
        [str(KURILWATCH), "export", "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        assert export.stdout is not None
        export.stdout.read(100)  # at work; 240 KB follow, and the pipe takes 64 KB: it waits
        os.killpg(export.pid, signal.SIGTERM)
        _, err = export.communicate(timeout=30)
        assert export.returncode == 130 and b"Traceback" not in err, err
    finally:
        if export.poll() is None:
            export.kill()
            export.wait(10)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_poll_once_stops_on_ctrl_c_with_130(
    tmp_path: Path, feed_server: FeedServer, group: type[Group], sig: int
) -> None:
    feed_server.set_feed("/a.xml", FEED)
    feed_server.set_route("/slow.xml", Route(body=FEED, delay=60))
    config = write_config(
        tmp_path, {"a": feed_server.url("/a.xml"), "slow": feed_server.url("/slow.xml")}
    )
    poll = group("poll", "--once", "--config", str(config))
    feed_server.wait_for(lambda: feed_server.in_flight("/slow.xml") == 1, what="the slow poll")

    assert poll.interrupt(sig) == 130
    assert "Traceback" not in poll.output.text
    # the store was left closed and consistent: another command reads it
    assert (
        subprocess.run(
            [str(KURILWATCH), "feeds", "--config", str(config)], capture_output=True, timeout=60
        ).returncode
        == 0
    )


def test_demo_stops_on_ctrl_c(group: type[Group]) -> None:
    demo = group("demo", "--config", CONFIG)
    demo.output.wait_for("kurilwatch running", timeout=60)

    assert demo.interrupt() == 0
    assert "Traceback" not in demo.output.text
    assert demo.output.lines[-1] == "demo stopped."


@pytest.mark.parametrize(
    ("command", "code"), [("run", 0), ("demo", 0), ("poll", 130), ("export", 130)]
)
def test_ctrl_c_while_starting_prints_no_traceback(command: str, code: int) -> None:
    # a KeyboardInterrupt raised before any command installed its handlers (while importing)
    script = (
        "import sys, bot.cli as cli\n"
        "def interrupted(argv=None):\n"
        "    raise KeyboardInterrupt\n"
        "cli.main = interrupted\n"
        f"sys.argv = ['kurilwatch', {command!r}] + (['--once'] if {command!r} == 'poll' else [])\n"
        "cli.entry()\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == code
    assert "Traceback" not in result.stderr + result.stdout


async def test_parse_workers_ignore_sigint_and_keep_working() -> None:
    pool = ParsePool("processes", 2)
    try:
        await pool.start()
        executor = pool._pool()
        loop = asyncio.get_running_loop()
        handlers = {
            await loop.run_in_executor(executor, signal.getsignal, signal.SIGINT) for _ in range(4)
        }
        assert handlers == {signal.SIG_IGN}
        # start-up blocks SIGINT only until the worker has set its handler
        mask = await loop.run_in_executor(executor, signal.pthread_sigmask, signal.SIG_BLOCK, [])
        assert signal.SIGINT not in mask
        workers = list(getattr(executor, "_processes", {}))
        assert len(workers) == 2
        for pid in workers:
            os.kill(pid, signal.SIGINT)
        read = await pool.read(
            FEED, feed_id="a", url="http://a.example/", headers={}, spec=TopicSpec()
        )
        assert [item.title for item in read.parsed.items] == ["Fishermen near the Kuril Islands"]
        assert list(getattr(executor, "_processes", {})) == workers  # none died
    finally:
        await pool.aclose()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_run_stopped_while_starting_exits_0_with_a_line(
    tmp_path: Path, group: type[Group], sig: int
) -> None:
    # the config is a pipe: `run` waits in reading it, before the daemon's signal handlers
    config = tmp_path / "config.yaml"
    os.mkfifo(config)
    daemon = group("run", "--config", str(config))
    with open(config, "w"):  # returns once `run` has opened the pipe to read it
        assert daemon.interrupt(sig) == 0
    assert "Traceback" not in daemon.output.text
    assert daemon.output.lines == ["kurilwatch: stopped while starting"]


def test_run_on_a_config_from_a_pipe_reads_it_once_and_stops_after_a_sighup(
    tmp_path: Path, group: type[Group]
) -> None:
    # `--config <(decrypt config)`: a second read of the pipe would wait for a writer for ever,
    # and the daemon's exit for that read
    settings = write_config(tmp_path, {"a": "http://127.0.0.1:9/a.xml"})
    config = tmp_path / "piped.yaml"
    os.mkfifo(config)
    daemon = group("run", "--config", str(config))
    with open(config, "w") as pipe:
        pipe.write(settings.read_text())
    daemon.output.wait_for("is not a regular file: read once", timeout=60)
    daemon.output.wait_for("kurilwatch running", timeout=60)
    daemon.proc.send_signal(signal.SIGHUP)
    assert daemon.interrupt(signal.SIGTERM) == 0
    assert "Traceback" not in daemon.output.text


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_backup_leaves_no_file_and_the_next_try_may_use_its_name(
    tmp_path: Path, group: type[Group], sig: int
) -> None:
    import sqlite3

    import watchfiles

    from store import Store

    config = write_config(tmp_path, {"a": "http://127.0.0.1:9/a.xml"})
    Store(new_store(tmp_path / "kw.db")).close()
    # another program holds the store (an exclusive lock): the copy waits, its file made
    holder = sqlite3.connect(tmp_path / "kw.db", isolation_level=None)
    holder.execute("PRAGMA locking_mode=EXCLUSIVE")
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("COMMIT")
    backups = tmp_path / "backups"
    backups.mkdir()
    target = backups / "kw-copy.db"
    try:
        backup = group("backup", str(target), "--config", str(config))
        waiting_until = time.monotonic() + 60  # bounds the wait for the copy's file
        for _ in watchfiles.watch(backups, rust_timeout=100, yield_on_timeout=True):
            if any(backups.iterdir()) or backup.proc.poll() is not None:
                break
            assert time.monotonic() < waiting_until, "the backup made no file"
        assert backup.interrupt(sig) == 130
        assert "kurilwatch: interrupted" in backup.output.text
        assert "Traceback" not in backup.output.text
        assert list(backups.iterdir()) == []
    finally:
        holder.close()
    again = subprocess.run(
        [str(KURILWATCH), "backup", str(target), "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert again.returncode == 0, again.stderr
    with sqlite3.connect(target) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_a_sighup_while_run_starts_does_not_kill_it(tmp_path: Path, group: type[Group]) -> None:
    # `systemctl reload` just after a start: the pipe holds `run` before its own handlers
    settings = write_config(tmp_path, {"a": "http://127.0.0.1:9/a.xml"})
    config = tmp_path / "piped.yaml"
    os.mkfifo(config)
    daemon = group("run", "--config", str(config))
    with open(config, "w") as pipe:  # returns once `run` has opened the pipe to read it
        daemon.proc.send_signal(signal.SIGHUP)
        pipe.write(settings.read_text())
    daemon.output.wait_for("kurilwatch running", timeout=60)
    assert daemon.interrupt(signal.SIGTERM) == 0
    assert "Traceback" not in daemon.output.text


# `kurilwatch` on a store another process holds, its open held where SQLite runs its first
# statement (in the C call, as a lock or a disk that hangs holds it): it says so from SQLite's
# trace callback and waits there. Past it, the store's busy timeout is an hour
OPENING_HELD = """
import sqlite3
import sys
import time

import bot.cli

real = sqlite3.connect


def connect(database, *args, **kwargs):
    connection = real(database, *args, **{**kwargs, "timeout": 3600.0})
    said = []

    def traced(statement):
        if not said:
            said.append(statement)
            print("opening the store", flush=True)
            time.sleep(3600)

    connection.set_trace_callback(traced)
    return connection


sqlite3.connect = connect
sys.argv[0] = "kurilwatch"
bot.cli.entry()
"""


@pytest.mark.parametrize(
    ("command", "sig"),
    [
        (("stats",), signal.SIGINT),
        (("feeds",), signal.SIGTERM),
        (("prune",), signal.SIGINT),
        (("export",), signal.SIGTERM),
        (("trend", "--topic", "kuril", "--csv", "trend.csv"), signal.SIGINT),
    ],
)
def test_a_stop_while_a_command_opens_a_locked_store_ends_it_at_once(
    tmp_path: Path, group: type[Group], command: tuple[str, ...], sig: int
) -> None:
    """Ctrl-C or SIGTERM while a one-shot command waited in opening a store another process
    held was heard only when SQLite's wait ended (its busy timeout: 10 s; a disk that hangs:
    never), Python acting on a signal between bytecodes. It ends the command at once, with
    130 and "interrupted", the store as it was; the lock is held until it has."""
    import sqlite3

    from store import Store

    config = write_config(tmp_path, {"a": "http://127.0.0.1:9/a.xml"})
    with Store(new_store(tmp_path / "kw.db")) as store:
        version = store.schema_version()
    script = tmp_path / "opening_held.py"
    script.write_text(OPENING_HELD)
    holder = sqlite3.connect(tmp_path / "kw.db", isolation_level=None)
    holder.execute("PRAGMA locking_mode=EXCLUSIVE")
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("COMMIT")
    try:
        args = [str(tmp_path / arg) if arg.endswith(".csv") else arg for arg in command]
        stopped = group(*args, "--config", str(config), program=(sys.executable, str(script)))
        stopped.output.wait_for("opening the store", timeout=60)
        os.killpg(stopped.proc.pid, sig)
        try:  # bounds the wait: the store is held for an hour
            code = stopped.proc.wait(30)
        except subprocess.TimeoutExpired:
            pytest.fail(f"{command[0]} went on waiting for the store after the stop")
        stopped.output.join()
    finally:
        holder.close()
    assert code == 130, stopped.output.text
    assert stopped.output.lines[-1] == "kurilwatch: interrupted", stopped.output.text
    assert "Traceback" not in stopped.output.text
    with Store(tmp_path / "kw.db") as store:
        assert store.schema_version() == version
        assert store.db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert not (tmp_path / "trend.csv").exists()
