"""The file of sends a stop kept unrecorded (`bot.delivery.unrecorded`): taken for recording at
the start while sends are still kept beside it, read within bounds, its bad part kept aside."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import logging
import os
import sqlite3
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Concatenate, ParamSpec, TypeVar

import pytest

from bot.delivery import unrecorded
from store import AsyncStore, Store
from tests.conftest import new_store

P = ParamSpec("P")
T = TypeVar("T")
AT = datetime(2026, 12, 2, tzinfo=UTC)
LOGGER = "bot.delivery.worker"


class HeldStore(AsyncStore):
    """A real store whose first verb waits until the test lets it go (the start is then
    recording), or fails as a locked store does, if `fail`."""

    def __init__(self, path: Path, *, fail: bool = False) -> None:
        super().__init__(path)
        self.entered, self.go, self.fail = asyncio.Event(), asyncio.Event(), fail

    async def run(
        self, verb: Callable[Concatenate[Store, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        if not self.entered.is_set():
            self.entered.set()
            await self.go.wait()
            if self.fail:
                raise sqlite3.OperationalError("database is locked")
        return await super().run(verb, *args, **kwargs)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[AsyncStore]:
    opened = await AsyncStore(new_store(tmp_path / "kw.db")).open()
    yield opened
    await opened.close()


def notice(notice_id: int) -> bytes:
    return json.dumps({"kind": "notice", "id": notice_id, "at": 0}).encode() + b"\n"


def left(tmp_path: Path) -> list[str]:
    return sorted(p.name for p in tmp_path.glob("kw.db.unrecorded*"))


async def test_a_send_kept_while_the_start_records_the_file_is_left_for_the_next_start(
    tmp_path: Path,
) -> None:
    """The start read the file, recorded its sends, then removed it: a send kept meanwhile
    (a weekly report whose record failed) was removed with it, unrecorded, and sent again."""
    store = await HeldStore(new_store(tmp_path / "kw.db")).open()
    try:
        await unrecorded.keep(store.path, unrecorded.Sent(7, 70, AT, ()))
        recording = asyncio.create_task(unrecorded.record_kept(store))
        await asyncio.wait_for(store.entered.wait(), 20)  # alert 7 on its way to the store
        await unrecorded.keep(store.path, unrecorded.SentNotice(14, AT), stop=False)
        store.go.set()
        assert await asyncio.wait_for(recording, 20) == 1
        path = unrecorded.journal(store.path)
        assert path.exists()
        assert unrecorded.read(path).kept == [unrecorded.SentNotice(14, AT)]
        assert await unrecorded.record_kept(store) == 1  # the next start
        assert left(tmp_path) == []
    finally:
        await store.close()


def _fds_on(path: Path) -> int:
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            count += os.readlink(f"/proc/self/fd/{fd}") == str(path)
    return count


async def test_a_send_kept_through_the_file_the_start_takes_meanwhile_goes_to_a_new_one(
    tmp_path: Path,
) -> None:
    """A write that opened the file just before the start took it (renamed it to record it)
    wrote into the file taken, after it was read: the send was lost. It now waits for the
    start's read and writes to the file the next start reads."""
    path = unrecorded.journal(tmp_path / "kw.db")
    path.touch(0o600)
    taken = tmp_path / "kw.db.unrecorded.recording"
    with path.open("rb") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # as the start holds it while it reads
        kept = unrecorded.SentNotice(14, AT)
        keeping = asyncio.create_task(unrecorded.keep(tmp_path / "kw.db", kept))

        async def opened() -> None:  # by the write's thread, besides `held`
            while not keeping.done() and _fds_on(path) < 2:  # noqa: ASYNC110 - in a thread
                await asyncio.sleep(0.001)

        await asyncio.wait_for(opened(), 20)
        path.rename(taken)  # the start takes the file
    await asyncio.wait_for(keeping, 20)
    assert taken.read_bytes() == b""
    assert unrecorded.read(path).kept == [kept]


async def test_a_recording_a_crash_cut_short_is_done_at_the_next_start(
    tmp_path: Path, store: AsyncStore
) -> None:
    """A crash while the start recorded leaves the file it took; the next start records it
    (again: recording a send twice changes nothing), then the sends kept since."""
    await unrecorded.keep(store.path, unrecorded.Sent(7, 70, AT, ()))
    unrecorded.journal(store.path).rename(tmp_path / "kw.db.unrecorded.recording")
    await unrecorded.keep(store.path, unrecorded.SentNotice(14, AT))  # the next run's stop
    assert await unrecorded.record_kept(store) == 2
    assert left(tmp_path) == []


async def test_a_recording_the_store_failed_is_done_again_with_the_sends_kept_meanwhile(
    tmp_path: Path,
) -> None:
    """The worker tries the start's recording again after a store failure: the file taken
    is read again, and the sends kept since are recorded with it."""
    store = await HeldStore(new_store(tmp_path / "kw.db"), fail=True).open()
    try:
        await unrecorded.keep(store.path, unrecorded.Sent(7, 70, AT, ()))
        recording = asyncio.create_task(unrecorded.record_kept(store))
        await asyncio.wait_for(store.entered.wait(), 20)
        await unrecorded.keep(store.path, unrecorded.SentNotice(14, AT), stop=False)
        store.go.set()
        with pytest.raises(sqlite3.OperationalError):
            await asyncio.wait_for(recording, 20)
        assert await unrecorded.record_kept(store) == 2
        assert left(tmp_path) == []
    finally:
        await store.close()


async def test_a_file_past_its_bound_is_recorded_up_to_it_and_kept_aside(
    tmp_path: Path, store: AsyncStore, caplog: pytest.LogCaptureFixture
) -> None:
    """Past 1 MiB the rest was not read, and then removed with the file: the sends there were
    sent again, and nothing showed what the file held. Now it is kept as `.bad`."""
    path = unrecorded.journal(store.path)
    long = unrecorded.Sent(8, 80, AT, ("x" * 100_000,))
    for sent in [unrecorded.Sent(7, 70, AT, ()), *[long] * 11, unrecorded.SentNotice(14, AT)]:
        await unrecorded.keep(store.path, sent)
    whole = path.read_bytes()
    assert len(whole) > unrecorded.MAX_BYTES
    caplog.clear()  # the keeping's warnings
    with caplog.at_level(logging.INFO, logger=LOGGER):
        assert await unrecorded.record_kept(store) == 11  # 7, and 10 long ones in the bound
    [error] = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert f"{path}: the part past its first {unrecorded.MAX_BYTES} bytes" in error
    assert f"kept as {path}.bad" in error
    assert not [r for r in caplog.records if r.levelno == logging.WARNING]
    assert left(tmp_path) == ["kw.db.unrecorded.bad"]
    assert (tmp_path / "kw.db.unrecorded.bad").read_bytes() == whole


async def test_a_file_of_more_sends_than_its_bound_is_recorded_up_to_it_and_kept_aside(
    tmp_path: Path,
    store: AsyncStore,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(unrecorded, "MAX_SENDS", 3)
    path = unrecorded.journal(store.path)
    path.write_bytes(b"\n" + b"\n".join(notice(i) for i in range(1, 6)))
    caplog.clear()  # the keeping's warnings
    with caplog.at_level(logging.INFO, logger=LOGGER):
        assert await unrecorded.record_kept(store) == 3
    [error] = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert f"{path}: the part past its first 3 sends" in error
    assert left(tmp_path) == ["kw.db.unrecorded.bad"]


async def test_bad_lines_are_said_once_and_the_file_kept_aside_next_to_an_earlier_one(
    tmp_path: Path, store: AsyncStore, caplog: pytest.LogCaptureFixture
) -> None:
    """A line that is no kept send was skipped with a warning each, and removed with the file;
    now one error says how many and where the file is kept, beside one kept before."""
    path = unrecorded.journal(store.path)
    (tmp_path / "kw.db.unrecorded.bad").write_text("an earlier start's\n")
    await unrecorded.keep(store.path, unrecorded.Sent(7, 70, AT, ()))
    with path.open("a", encoding="utf-8") as out:
        out.write('{"delivery_id": 8, "mess')  # the write a full disk cut
        out.write('\n{"kind": "poll", "id": 3, "at": 0}\n')
    await unrecorded.keep(store.path, unrecorded.SentNotice(14, AT))
    whole = path.read_bytes()
    caplog.clear()  # the keeping's warnings
    with caplog.at_level(logging.INFO, logger=LOGGER):
        assert await unrecorded.record_kept(store) == 2
    [error] = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert f"{path}: 2 lines that are no kept send" in error
    assert '\'{"delivery_id": 8, "mess\'' in error  # the first of them
    assert f"kept as {path}.2.bad" in error
    assert not [r for r in caplog.records if r.levelno == logging.WARNING]
    assert (tmp_path / "kw.db.unrecorded.bad").read_text() == "an earlier start's\n"
    assert (tmp_path / "kw.db.unrecorded.2.bad").read_bytes() == whole
    assert left(tmp_path) == ["kw.db.unrecorded.2.bad", "kw.db.unrecorded.bad"]


async def test_a_file_that_cannot_be_read_is_kept_aside_and_the_next_start_goes_on(
    tmp_path: Path, store: AsyncStore, caplog: pytest.LogCaptureFixture
) -> None:
    """Left where it was taken to, it was read again at every start, and the sends kept
    later beside it were never recorded."""
    unrecorded.journal(store.path).mkdir()  # (root reads a file of any mode)
    with caplog.at_level(logging.INFO, logger=LOGGER):
        assert await unrecorded.record_kept(store) == 0
    [error] = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert "all of it (cannot be read: Is a directory)" in error
    assert left(tmp_path) == ["kw.db.unrecorded.bad"]
    await unrecorded.keep(store.path, unrecorded.SentNotice(14, AT))
    assert await unrecorded.record_kept(store) == 1
    assert left(tmp_path) == ["kw.db.unrecorded.bad"]


def test_a_line_the_byte_bound_cuts_is_unread_not_bad() -> None:
    first, second = notice(1), notice(2)
    reading = unrecorded.parse(first + second, max_bytes=len(first) + 5)
    assert reading.kept == [unrecorded.SentNotice(1, datetime.fromtimestamp(0, UTC))]
    assert reading.bad == ()
    assert reading.cut == f"the part past its first {len(first) + 5} bytes"
    whole = unrecorded.parse(first + second, max_bytes=len(first + second))
    assert (len(whole.kept), whole.bad, whole.cut) == (2, (), "")


def test_a_kept_alert_keeps_the_report_it_showed_and_an_older_line_is_read_without() -> None:
    sent = unrecorded.Sent(7, 70, AT, ("Kyodo",), 12)
    line = json.dumps(unrecorded._line(sent)).encode() + b"\n"
    older = json.dumps({"delivery_id": 8, "message_id": 80, "at": AT.timestamp(), "also": []})
    reading = unrecorded.parse(line + older.encode() + b"\n")
    assert reading.kept == [sent, unrecorded.Sent(8, 80, AT, ())]
    assert reading.bad == ()
