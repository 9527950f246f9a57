"""`kurilwatch restore` and the store's locks on a real store: run as `kurilwatch ...` processes
where the process is what is tested (its user, its limits, a lock another process holds), else
through `bot.cli.main` in this process (`tests.conftest.cli`)."""

from __future__ import annotations

import fcntl
import os
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bot.lock import StoreLock
from store import FeedState, Store
from tests.conftest import ROOT, cli, write_config
from tests.fakes.feed_server import FeedServer, Route, rss
from tests.test_cli_commands import T0, _items, _without_override, record

# root reads and writes any file: the commands run as root without that capability
AS_A_USER: dict[str, Any] = {"preexec_fn": _without_override} if os.geteuid() == 0 else {}


def _store_and_backup(folder: Path, feed: str = "http://127.0.0.1:9/a.xml") -> tuple[Path, Path]:
    """A config whose store holds 11 items, and a backup of it taken at 10."""
    folder.mkdir(exist_ok=True)
    config = write_config(folder, {"a": feed})
    with Store(folder / "kw.db") as store:
        store.ingest(
            FeedState(id="gone", url="u"), [record(str(i)) for i in range(10)], now=T0, alert=False
        )
    backup = folder / "backups" / "copy.db"
    assert cli("backup", str(backup), "--config", str(config)).returncode == 0
    with Store(folder / "kw.db") as store:
        store.ingest(FeedState(id="gone", url="u"), [record("new")], now=T0, alert=False)
    return config, backup


def _restore(config: Path, backup: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "restore", str(backup), "--config", str(config)],
        capture_output=True, text=True, cwd=ROOT, timeout=60, **AS_A_USER,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("case", "said"),
    [
        ("backup unreadable", "cannot read the backup {backup}: Permission denied"),
        ("backup's folder closed", "cannot read the backup {backup}: Permission denied"),
        ("backup is a folder", "{backup} is a folder, not a backup file"),
        ("store's folder read-only", "cannot write the store {store}: its folder {folder}"),
        ("store read-only", "cannot write the store {store}: Permission denied"),
    ],
)
def test_restore_names_a_file_it_may_not_read_or_write_and_changes_nothing(
    tmp_path: Path, case: str, said: str
) -> None:
    config, backup = _store_and_backup(tmp_path)
    store = tmp_path / "kw.db"
    (tmp_path / "kw.db.lock").touch()  # as the daemon's user left it
    closed = {
        "backup unreadable": (backup, 0o000),
        "backup's folder closed": (backup.parent, 0o000),
        "store's folder read-only": (tmp_path, 0o555),
        "store read-only": (store, 0o444),
    }.get(case)
    if case == "backup is a folder":
        backup = backup.parent
    before = store.read_bytes()
    mode = closed[0].stat().st_mode if closed else 0
    if closed:
        closed[0].chmod(closed[1])
    try:
        result = _restore(config, backup)
    finally:
        if closed:
            closed[0].chmod(mode)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr and "damaged" not in result.stderr, result.stderr
    assert said.format(backup=backup, store=store, folder=tmp_path) in result.stderr
    assert "the store was not changed" in result.stderr
    assert store.read_bytes() == before and _items(store) == 11


def test_a_backup_in_a_folder_it_may_only_read_is_restored(tmp_path: Path) -> None:
    """SQLite makes a -shm file beside a WAL database even to read it: a backup kept in a folder
    the daemon's user may read but not write (/var/backups) was taken for a damaged one."""
    config, backup = _store_and_backup(tmp_path)
    logged, changed = tmp_path / "logged", tmp_path / "changed"  # a copy with a -wal file
    for folder in (logged, changed):
        folder.mkdir()
    shutil.copy(backup, changed / "copy.db")
    with sqlite3.connect(changed / "copy.db") as db:
        db.execute("PRAGMA wal_autocheckpoint = 0")
        db.execute("DELETE FROM items WHERE guid = '0'")
        db.commit()
        for name in ("copy.db", "copy.db-wal"):
            shutil.copy(changed / name, logged / name)
    db.close()
    for folder in (backup.parent, logged):
        folder.chmod(0o555)
    try:
        result = _restore(config, backup)
        refused = _restore(config, logged / "copy.db")
    finally:
        for folder in (backup.parent, logged):
            folder.chmod(0o755)
    assert result.returncode == 0, result.stderr
    assert _items(tmp_path / "kw.db") == 10
    assert sorted(p.name for p in backup.parent.iterdir()) == ["copy.db"]
    assert refused.returncode == 2 and "damaged" not in refused.stderr, refused.stderr
    assert f"its folder {logged} is read-only to this user" in refused.stderr
    assert "a backup's -wal file to read them: copy both to a folder you may" in refused.stderr
    assert _items(tmp_path / "kw.db") == 10


def test_restore_leaves_no_file_beside_the_backup_and_does_not_change_it(tmp_path: Path) -> None:
    """The backup, a WAL database, was opened read-only: SQLite made an empty -wal and a 32 KB
    -shm file beside it, left there after the restore. Now it is read as immutable, or, with a
    -wal file of its own beside it, the -shm file SQLite made to read that log is removed."""
    config, backup = _store_and_backup(tmp_path)
    before = backup.read_bytes()
    result = _restore(config, backup)
    assert result.returncode == 0, result.stderr
    assert _items(tmp_path / "kw.db") == 10
    assert sorted(p.name for p in backup.parent.iterdir()) == ["copy.db"]
    assert backup.read_bytes() == before
    logged = tmp_path / "logged"  # a copy with a -wal file that holds a change
    logged.mkdir()
    with sqlite3.connect(tmp_path / "kw.db") as db:
        db.execute("PRAGMA wal_autocheckpoint = 0")
        db.execute("DELETE FROM items WHERE guid = '0'")
        db.commit()
        for name in ("kw.db", "kw.db-wal"):
            shutil.copy(tmp_path / name, logged / name.replace("kw", "copy"))
    db.close()
    files = {p.name: p.read_bytes() for p in logged.iterdir()}
    assert _restore(config, logged / "copy.db").returncode == 0
    assert _items(tmp_path / "kw.db") == 9
    assert {p.name: p.read_bytes() for p in logged.iterdir()} == files


@pytest.mark.parametrize("name", ["kw.db.unrecorded", "kw.db.unrecorded.recording"])
def test_restore_sets_aside_the_sends_the_last_stop_kept_for_the_old_store(
    tmp_path: Path, name: str
) -> None:
    """`<store>.unrecorded` names the old store's outbox rows: read into the restored one, it
    would mark as sent alerts that were not. So does the file a start took to record them
    (`.recording`), left by a crash while it recorded."""
    config, backup = _store_and_backup(tmp_path)
    kept = tmp_path / name
    kept.write_text('{"delivery_id": 1, "message_id": 5, "at": 0, "also": []}\n')
    result = _restore(config, backup)
    assert result.returncode == 0, result.stderr
    assert not kept.exists() and (tmp_path / f"{name}.before-restore").exists()
    assert f"{kept} (sends made before the last stop) set aside" in result.stdout


def test_a_store_and_a_backup_named_with_uri_characters_are_copied_whole(tmp_path: Path) -> None:
    """SQLite reads `file:` names as URIs: '#' began a fragment, so the backup of kw#1.db was an
    empty database made at kw, reported as done."""
    config = write_config(
        tmp_path, {"a": "http://127.0.0.1:9/a.xml"}, extra={"store": {"path": "kw#1.db"}}
    )
    with Store(tmp_path / "kw#1.db") as store:
        store.ingest(
            FeedState(id="a", url="u"), [record(str(i)) for i in range(10)], now=T0, alert=False
        )
    backup = tmp_path / "copy ?%41#.db"
    result = cli("backup", str(backup), "--config", str(config))
    assert result.returncode == 0, result.stderr
    assert _items(backup) == 10
    with Store(tmp_path / "kw#1.db") as store:
        store.ingest(FeedState(id="a", url="u"), [record("new")], now=T0, alert=False)
    result = cli("restore", str(backup), "--config", str(config))
    assert result.returncode == 0, result.stderr
    assert _items(tmp_path / "kw#1.db") == 10
    made = {p.name for p in tmp_path.iterdir()}
    assert made == {
        "config.yaml", "copy ?%41#.db", "kw#1.db", "kw#1.db.lock", "kw#1.db.writers.lock",
    }  # fmt: skip


def test_restore_is_refused_while_a_one_shot_command_writes_and_they_while_it_restores(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """Restore took only the daemon's lock: a `poll --once` or `prune` writing meanwhile had
    its changes land on the restored store, from its reading of the store before."""
    feed_server.set_route("/slow.xml", Route(body=rss([]), delay=60))  # the poll times out at 5 s
    config, backup = _store_and_backup(tmp_path, feed_server.url("/slow.xml"))
    store = tmp_path / "kw.db"
    poll = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "poll", "--once", "--config", str(config)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
    )  # fmt: skip
    try:
        feed_server.wait_for(lambda: feed_server.in_flight("/slow.xml") == 1, timeout=30)
        refused = cli("restore", str(backup), "--config", str(config))
    finally:
        _, err = poll.communicate(timeout=60)
    assert poll.returncode == 0, err
    assert refused.returncode == 2 and "Traceback" not in refused.stderr, refused.stderr
    assert (
        "a kurilwatch poll --once or prune is writing this store; let it finish" in refused.stderr
    )
    assert "the store was not changed" in refused.stderr and _items(store) == 11
    with StoreLock(store), StoreLock(store, writers=True):  # as a restore holds them
        for command in (["prune"], ["poll", "--once"]):
            result = cli(*command, "--config", str(config))
            assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
            assert f"a kurilwatch restore (pid {os.getpid()}) is replacing this store" in (
                result.stderr
            )
    with StoreLock(store, writers=True, exclusive=False):  # another one-shot writer
        assert cli("prune", "--config", str(config)).returncode == 0
    result = cli("restore", str(backup), "--config", str(config))
    assert result.returncode == 0 and _items(store) == 10


def _no_room() -> None:
    """A process whose files may not grow: as on a full disk (EFBIG for ENOSPC)."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))


def test_restore_onto_a_full_disk_names_the_store_and_changes_nothing(tmp_path: Path) -> None:
    """The lock file's note of the pid could not be written either: the command ended with
    'cannot write the output', as if its output went to the full disk."""
    config, backup = _store_and_backup(tmp_path)
    with sqlite3.connect(backup) as db:  # read without a -shm file: the backup is elsewhere
        db.execute("PRAGMA journal_mode = DELETE")
    db.close()
    before = (tmp_path / "kw.db").read_bytes()
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "restore", str(backup), "--config", str(config)],
        capture_output=True, text=True, cwd=ROOT, timeout=60, preexec_fn=_no_room,
    )  # fmt: skip
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert "cannot write the output" not in result.stderr
    # SQLite says "disk I/O error" when the limit stops its -shm file, "database or disk is
    # full" when a disk does
    assert f"cannot restore {tmp_path / 'kw.db'} from {backup}: " in result.stderr
    assert (tmp_path / "kw.db").read_bytes() == before and _items(tmp_path / "kw.db") == 11


def test_a_backup_removes_the_partial_copies_killed_backups_left(tmp_path: Path) -> None:
    """A backup killed (SIGKILL, a power cut) left its hidden partial copy, as large as the
    store, for ever: a nightly backup killed now and then filled the backup disk."""
    config, backup = _store_and_backup(tmp_path)
    folder = backup.parent
    half = b"SQLite format 3\x00" + b"half a store"
    killed = [folder / ".next.db.4000000.partial", folder / ".2026-11-29.db.4000001.partial"]
    for path in killed:
        path.write_bytes(half)
    Path(f"{killed[0]}-journal").write_bytes(b"a journal")
    running = folder / ".next.db.4000002.partial"  # a backup still copying
    running.write_bytes(half)
    foreign = folder / ".video.mp4.1.partial"  # another tool's
    foreign.write_bytes(b"\x00\x00\x00\x18ftypmp42")
    with open(running, "rb") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        result = cli("backup", str(folder / "next.db"), "--config", str(config))
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        ["copy.db", "next.db", running.name, foreign.name]
    )
    assert _items(folder / "next.db") == 11


def test_prune_names_a_retention_shorter_than_a_day_as_written(tmp_path: Path) -> None:
    """It said 'older than 0 days' for store.retention: 12h."""
    store = {"path": "kw.db", "retention": "12h", "keys_retention": "36h"}
    config = write_config(tmp_path, {"a": "http://127.0.0.1:9/a.xml"}, extra={"store": store})
    Store(tmp_path / "kw.db").close()  # a prune where no store is says so (a mistyped path)
    result = cli("prune", "--config", str(config))
    assert result.returncode == 0, result.stderr
    assert "0 items older than 12h compacted (their dedup keys kept), 0 older than 1d12h" in (
        result.stdout
    )


def test_a_writers_lock_file_another_user_made_still_lets_poll_once_and_prune_run(
    tmp_path: Path,
) -> None:
    """`<store>.writers.lock` is made by whoever writes first (a restore run with sudo): a
    lock file this user may only read held the one-shot writers off, though a shared lock
    needs no write."""
    config, _ = _store_and_backup(tmp_path)
    lock = Path(f"{tmp_path / 'kw.db'}.writers.lock")
    lock.touch()
    lock.chmod(0o444)
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "prune", "--config", str(config)],
        capture_output=True, text=True, cwd=ROOT, timeout=60, **AS_A_USER,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    with StoreLock(tmp_path / "kw.db", writers=True):  # and it is a lock for a restore still
        refused = subprocess.run(
            [sys.executable, "-m", "bot.cli", "prune", "--config", str(config)],
            capture_output=True, text=True, cwd=ROOT, timeout=60, **AS_A_USER,
        )  # fmt: skip
    assert refused.returncode == 2 and "a kurilwatch restore" in refused.stderr, refused.stderr


def test_a_backup_is_no_more_readable_than_the_store(tmp_path: Path) -> None:
    """The store holds the chats, their watches and the secret that signs the alerts' buttons;
    the daemon's unit keeps it 0600 (UMask=0077), but a backup run from root's shell (umask
    022) into /var/backups was readable by every local user."""
    config, _ = _store_and_backup(tmp_path)
    (tmp_path / "kw.db").chmod(0o600)
    target = tmp_path / "backups" / "private.db"
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "backup", str(target), "--config", str(config)],
        capture_output=True, text=True, cwd=ROOT, timeout=60, preexec_fn=lambda: os.umask(0o022),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert target.stat().st_mode & 0o777 == 0o600
    assert _items(target) == 11


def test_restore_onto_a_store_another_process_holds_says_so_and_changes_nothing(
    tmp_path: Path,
) -> None:
    """An sqlite3 shell left in a write transaction on the store (the daemon stopped): the
    restore waited for its lock for ever, silently, as sqlite3's backup retries a busy store."""
    config, backup = _store_and_backup(tmp_path)
    store = tmp_path / "kw.db"
    shell = sqlite3.connect(store, isolation_level=None)
    try:
        shell.execute("BEGIN IMMEDIATE")
        result = _restore(config, backup)
    finally:
        shell.close()
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert f"cannot restore {store} from {backup}: " in result.stderr
    assert "another process is writing it" in result.stderr
    assert _items(store) == 11


@pytest.mark.skipif(os.geteuid() != 0, reason="root restores into the daemon user's folder")
def test_a_store_restored_by_root_in_the_daemons_folder_is_the_daemons(tmp_path: Path) -> None:
    """A damaged store moved aside and a backup restored by root (sudo) in its place: the new
    store was root's, 0644 under root's umask, so the daemon (its own user: DynamicUser) could
    not write it ('attempt to write a readonly database') and any local user could read the
    chats; now it is the folder owner's, and no more readable than the daemon makes it."""
    folder = tmp_path / "state"
    config, backup = _store_and_backup(folder)
    for moved in folder.glob("kw.db*"):
        moved.unlink()
    os.chown(folder, 4321, 4321)  # the daemon's state directory
    result = cli("restore", str(backup), "--config", str(config))
    assert result.returncode == 0, result.stderr
    for made in ("kw.db", "kw.db.lock", "kw.db.writers.lock"):
        found = (folder / made).stat()
        assert (made, found.st_uid, found.st_gid) == (made, 4321, 4321)
    assert (folder / "kw.db").stat().st_mode & 0o077 == 0
    assert _items(folder / "kw.db") == 10


@pytest.mark.skipif(os.geteuid() != 0, reason="root restores into the daemon user's folder")
def test_a_store_restored_by_root_in_a_new_folder_is_the_daemons(tmp_path: Path) -> None:
    """A backup restored by root (sudo) on a new machine, before the daemon's first run: the
    restore made the store's folder (data/), root's, so nothing in it was handed over and the
    daemon (the user owning its config's folder) could not open the store; now the folders it
    made are the owner's of the folder they were made in, as are the files."""
    home = tmp_path / "kw"
    config, backup = _store_and_backup(home)
    config.write_text(config.read_text().replace("path: kw.db", "path: data/kw.db"))
    assert "data/kw.db" in config.read_text()
    os.chown(home, 4321, 4321)  # the daemon user's folder
    result = cli("restore", str(backup), "--config", str(config))
    assert result.returncode == 0, result.stderr
    for made in ("data", "data/kw.db", "data/kw.db.lock", "data/kw.db.writers.lock"):
        found = (home / made).stat()
        assert (made, found.st_uid, found.st_gid) == (made, 4321, 4321)
    assert _items(home / "data" / "kw.db") == 10


@pytest.mark.parametrize("when", ["while it checks the backup", "while it copies"])
def test_a_stop_during_a_restore_leaves_it_whole_or_not_begun(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, when: str
) -> None:
    """SIGTERM raised as the copy's last step returned (Python acts on a signal after the C
    call): the store was replaced, its kept sends were left for the backup's rows, and the
    command said "interrupted". A stop before the copy still ends it with nothing changed."""
    from bot.cli import _stop_starting
    from bot.config import load_config
    from bot.operator import store_files

    config, backup = _store_and_backup(tmp_path)
    kept = tmp_path / "kw.db.unrecorded"
    kept.write_text('{"delivery_id": 1, "message_id": 5, "at": 0, "also": []}\n')
    name = "_damage" if when == "while it checks the backup" else "_give_up_when_busy"
    real = getattr(store_files, name)

    def stopped(*args: Any) -> Any:
        os.kill(os.getpid(), signal.SIGTERM)  # handled at the next bytecode: here
        return real(*args)

    monkeypatch.setattr(store_files, name, stopped)
    before = signal.signal(signal.SIGTERM, _stop_starting)  # as `kurilwatch` sets it
    try:
        if when == "while it checks the backup":
            with pytest.raises(KeyboardInterrupt):  # "kurilwatch: interrupted", exit 130
                store_files.restore(load_config(config), backup)
        else:
            assert store_files.restore(load_config(config), backup) == 0
    finally:
        signal.signal(signal.SIGTERM, before)
    with Store(tmp_path / "kw.db") as store:
        items = store.db.execute("SELECT count(*) FROM items").fetchone()[0]
    if when == "while it checks the backup":
        assert items == 11 and kept.exists()  # not begun
    else:
        assert items == 10 and not kept.exists()  # whole: the kept sends set aside


def test_the_stores_folder_and_lock_files_kurilwatch_makes_are_its_users_alone(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """`run` and `poll --once` take their lock before the store is opened: the lock made the
    store's folder first, readable by every user under `make run`'s umask 022, and its lock
    files with it. A folder there already keeps its mode."""
    feed_server.set_feed("/a.xml", rss([]))
    config = write_config(
        tmp_path, {"a": feed_server.url("/a.xml")}, extra={"store": {"path": "data/kw.db"}}
    )
    (tmp_path / "theirs").mkdir(mode=0o755)
    old = os.umask(0o022)
    try:
        assert cli("poll", "--once", "--config", str(config)).returncode == 0
        with StoreLock(tmp_path / "daemon" / "kw.db"):  # as `run` takes it, before its store
            pass
        with StoreLock(tmp_path / "theirs" / "kw.db"):
            pass
    finally:
        os.umask(old)

    def mode(path: Path) -> int:
        return os.stat(path).st_mode & 0o777

    assert mode(tmp_path / "data") == mode(tmp_path / "daemon") == 0o700
    assert mode(tmp_path / "data" / "kw.db") == 0o600
    assert mode(tmp_path / "data" / "kw.db.writers.lock") == 0o600
    assert mode(tmp_path / "daemon" / "kw.db.lock") == 0o600
    assert mode(tmp_path / "theirs") == 0o755


def test_a_lock_file_that_cannot_be_made_is_named_once_and_another_file_at_fault_too(
    tmp_path: Path,
) -> None:
    from bot.lock import CannotLock

    lock = tmp_path / "kw.db.lock"
    denied = str(CannotLock(lock, PermissionError(13, "Permission denied", str(lock))))
    assert denied.count(str(lock)) == 1 and "Permission denied;" in denied
    elsewhere = tmp_path / "gone"
    missing = str(CannotLock(lock, FileNotFoundError(2, "No such file", str(elsewhere))))
    assert str(lock) in missing and f"No such file: {elsewhere};" in missing
