"""Sends (alerts, digest messages, notices, weekly reports) made but not yet recorded when
a stop cut the tries to record them (the store locked or full): kept in a file beside the store
and recorded at the next start, not sent twice.

The start takes the file (renames it `.recording`) before it reads it, so a send kept while it
records goes to a new file, for the start after; a writer locks the file and checks it was not
taken meanwhile. A file taken and not yet removed (a crash, a failing store) is recorded again
first: recording a send twice changes nothing."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import logging
import os
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from store import AsyncStore, OutboxState, Store
from store.outbox import MAX_DIGEST
from watchers.text import counted

log = logging.getLogger("bot.delivery.worker")

MAX_BYTES = 1 << 20  # far more than the sends a stop can cut (one per slot)
MAX_SENDS = 10_000  # lines read at most: as many store calls at the start
MAX_PARTS = MAX_DIGEST  # a digest's messages: one alert each at most
SQLITE_INT = 1 << 63
# seconds a send cut from its record waits for its line at most: after the stop's grace (5 s,
# `bot.daemon.telegram.STOP_GRACE`), within its 10 s
JOURNAL_WAIT = 2.0


@dataclass(frozen=True, slots=True)
class Sent:
    """An alert sent as message `message_id`, showing the report `item_id` (None in a line
    kept before it was written) and the outlets `also`."""

    delivery_id: int
    message_id: int | None
    at: datetime
    also: tuple[str, ...]
    item_id: int | None = None


@dataclass(frozen=True, slots=True)
class SentDigest:
    """A digest message sent for `delivery_ids`; `rest`, the digest's alerts still to be sent,
    are numbered on from part `part`."""

    delivery_ids: tuple[int, ...]
    at: datetime
    rest: tuple[int, ...] = ()
    part: int = 0


@dataclass(frozen=True, slots=True)
class SentNotice:
    notice_id: int
    at: datetime


@dataclass(frozen=True, slots=True)
class SentReport:
    """A chat's weekly report due at `due`, sent at `at`."""

    chat_id: int
    due: datetime
    at: datetime


Kept = Sent | SentDigest | SentNotice | SentReport


def journal(store_path: str | Path) -> Path:
    return Path(f"{store_path}.unrecorded")


def recording(store_path: str | Path) -> Path:
    """The file the start took to record (`journal`'s, renamed)."""
    return Path(f"{store_path}.unrecorded.recording")


def _line(sent: Kept) -> dict[str, Any]:
    at = sent.at.timestamp()
    match sent:
        case Sent():
            also = list(sent.also)
            return {"delivery_id": sent.delivery_id, "message_id": sent.message_id, "at": at,
                    "also": also, "item": sent.item_id}  # fmt: skip
        case SentDigest():
            return {"kind": "digest", "ids": list(sent.delivery_ids), "at": at,
                    "rest": list(sent.rest), "part": sent.part}  # fmt: skip
        case SentNotice():
            return {"kind": "notice", "id": sent.notice_id, "at": at}
        case SentReport():
            return {"kind": "report", "chat": sent.chat_id, "due": sent.due.timestamp(), "at": at}


def _what(sent: Kept) -> str:
    match sent:
        case Sent():
            return f"alert {sent.delivery_id}"
        case SentDigest() if not sent.delivery_ids:
            return f"a digest's part {sent.part}"
        case SentDigest():
            return f"a digest of {counted(len(sent.delivery_ids), 'alert', 'alerts')}"
        case SentNotice():
            return f"notice {sent.notice_id}"
        case SentReport():
            return f"chat {sent.chat_id}'s weekly report"


async def keep(
    store_path: str | Path, sent: Kept, *, stop: bool = True, wait: float = JOURNAL_WAIT
) -> None:
    """Add a send to the file (a stop cut its record, or, with `stop` false, the store failed
    it and a stop may come before it is tried again); said once, and lost (sent again after
    the start, as before) if the file cannot be written either. Written on a thread, off the
    event loop, and awaited through a further cancel (a stop's grace over while the disk is
    slow), which is raised once the wait is over; but `wait` seconds at most: a disk that
    hangs (NFS, a full device stalling) held the stop for ever. Past them, said at error level,
    and the write, left to its thread, keeps the send still if it ends before the process."""
    loop = asyncio.get_running_loop()
    written: asyncio.Future[None] = loop.create_future()
    # a daemon thread of its own: a task (to_thread's) is cancelled by a stop that cancels
    # every task (asyncio.run's end), and an executor's thread left hanging holds asyncio.run's
    # end and the exit for ever, as they join it
    args = (loop, written, store_path, sent, stop)
    threading.Thread(target=_write, args=args, name="unrecorded", daemon=True).start()
    until = loop.time() + wait
    cancelled: asyncio.CancelledError | None = None
    while not written.done() and (left := until - loop.time()) > 0:
        try:
            await asyncio.wait({written}, timeout=left)  # never cancels `written`
        except asyncio.CancelledError as exc:
            cancelled = exc
    if written.done():
        written.result()
    else:
        log.error(
            "%s: not written within %g s (a disk that hangs?); %s without it: %s sent but not"
            " recorded, and %s at the next start",
            journal(store_path),
            wait,
            "the stop goes on" if stop else "going on",
            _what(sent),
            _again(sent),
        )
    if cancelled is not None:
        raise cancelled


def _again(sent: Kept) -> str:
    """What the next start does again if the file does not keep `sent`."""
    match sent:
        case SentDigest() if not sent.delivery_ids:
            rest = counted(len(sent.rest), "alert", "alerts")
            return f"the rest of the digest ({rest}) may be numbered from an earlier part again"
        case SentDigest():
            return "they may be sent again"
        case _:
            return "it may be sent again"


def _write(
    loop: asyncio.AbstractEventLoop,
    written: asyncio.Future[None],
    store_path: str | Path,
    sent: Kept,
    stop: bool,
) -> None:
    error: Exception | None = None
    try:
        _append(store_path, sent, stop)
    except Exception as exc:  # a bug: raised by `keep`, if it still waits
        error = exc
    with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits any more
        loop.call_soon_threadsafe(_settle, written, error)


def _settle(written: asyncio.Future[None], error: Exception | None) -> None:
    if error is None:
        written.set_result(None)
    else:
        written.set_exception(error)


def _append(store_path: str | Path, sent: Kept, stop: bool) -> None:
    try:
        with open(_locked(journal(store_path)), "a", encoding="utf-8") as out:
            # a line of its own even after a write the full disk cut short
            out.write("\n" + json.dumps(_line(sent)) + "\n")
    except OSError as exc:
        log.error("%s sent but not recorded, and not kept (%s)", _what(sent), exc)
        return
    when = "before the stop" if stop else "yet (the store failed; it is tried again)"
    log.warning("%s sent but not recorded %s; recorded at the next start", _what(sent), when)


def _locked(path: Path) -> int:
    """A file descriptor on `path` to append to, locked (the start's read waits for the write),
    and still the file of that name: one the start took (renamed) since it was opened was read
    already, or is being read, and is removed once recorded."""
    while True:
        # the store's own mode: it says which chats were sent what
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            if _same(os.fstat(fd), path):
                return fd
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)  # taken by the start: open the new one


def _same(opened: os.stat_result, path: Path) -> bool:
    try:
        named = os.stat(path)
    except FileNotFoundError:
        return False
    return (opened.st_dev, opened.st_ino) == (named.st_dev, named.st_ino)


def _whole(value: object, low: int, high: int) -> int:
    """`value` if it is a JSON integer (not true, 2.9 or "7") within [low, high)."""
    if type(value) is not int or not low <= value < high:
        raise ValueError(f"{value!r} is no number of a row here")
    return value


def _ids(values: object) -> tuple[int, ...]:
    if not isinstance(values, list) or len(values) > MAX_DIGEST:
        raise ValueError("not a list of ids")
    return tuple(_whole(v, 1, SQLITE_INT) for v in values)


def _parse(row: dict[str, Any]) -> Kept:
    at = datetime.fromtimestamp(float(row["at"]), UTC)
    kind = row.get("kind", "alert")
    if kind == "digest":
        part = _whole(row.get("part", 0), 0, MAX_PARTS)
        return SentDigest(_ids(row["ids"]), at, _ids(row.get("rest", [])), part)
    if kind == "notice":
        return SentNotice(_whole(row["id"], 1, SQLITE_INT), at)
    if kind == "report":
        due = datetime.fromtimestamp(float(row["due"]), UTC)
        return SentReport(_whole(row["chat"], -SQLITE_INT + 1, SQLITE_INT), due, at)
    if kind != "alert":
        raise ValueError(f"no such kind {kind!r}")
    message_id = row["message_id"]
    if message_id is not None:
        message_id = _whole(message_id, -SQLITE_INT + 1, SQLITE_INT)
    outlets = row["also"]
    if not isinstance(outlets, list) or not all(isinstance(o, str) for o in outlets):
        raise ValueError("not a list of outlets")
    item = row.get("item")
    item_id = None if item is None else _whole(item, 1, SQLITE_INT)
    return Sent(_whole(row["delivery_id"], 1, SQLITE_INT), message_id, at, tuple(outlets), item_id)


@dataclass(frozen=True, slots=True)
class Reading:
    """What a file of kept sends holds, within its bounds: the sends, the lines that are none
    (a write cut short, an edit), and which bound cut what follows ("" if none did)."""

    kept: list[Kept]
    bad: tuple[str, ...] = ()
    cut: str = ""


def parse(data: bytes, *, max_bytes: int | None = None, max_sends: int | None = None) -> Reading:
    """The sends in `data`, the start of a file: `max_bytes` of it at most (a line they cut is
    unread, not bad) and `max_sends` lines (`MAX_BYTES`, `MAX_SENDS` by default)."""
    max_bytes = MAX_BYTES if max_bytes is None else max_bytes
    max_sends = MAX_SENDS if max_sends is None else max_sends
    cut = ""
    if len(data) > max_bytes:
        data = data[: data.rfind(b"\n", 0, max_bytes) + 1]
        cut = f"the part past its first {max_bytes} bytes"
    lines = [line for line in data.decode("utf-8", "replace").splitlines() if line]
    if len(lines) > max_sends:
        lines, cut = lines[:max_sends], f"the part past its first {max_sends} sends"
    kept, bad = [], []
    for line in lines:
        try:
            row = json.loads(line)
            if not isinstance(row, dict):
                raise TypeError("not an object")
            kept.append(_parse(row))
        except (ValueError, KeyError, TypeError, OverflowError, OSError, RecursionError):
            bad.append(line)
    return Reading(kept, tuple(bad), cut)


def skipped(reading: Reading) -> str:
    """What of the file `reading` was not recorded, in words ("" if nothing)."""
    parts = []
    if reading.bad:
        lines = counted(len(reading.bad), "line", "lines")
        parts.append(f"{lines} that are no kept send (the first: {reading.bad[0][:80]!r})")
    if reading.cut:
        parts.append(reading.cut)
    return " and ".join(parts)


def read(path: Path) -> Reading:
    """The sends the file at `path` keeps, within the bounds; once any write to it is over."""
    try:
        with path.open("rb") as source:
            fcntl.flock(source, fcntl.LOCK_SH)
            return parse(source.read(MAX_BYTES + 1))
    except FileNotFoundError:
        return Reading([])
    except OSError as exc:  # kept aside then, not read again at every start
        return Reading([], cut=f"all of it (cannot be read: {exc.strerror})")


def _take(store_path: str | Path) -> Path | None:
    """The file to record: one a start took and did not finish, else the kept sends' file,
    taken (later sends go to a new one); None if neither is there."""
    taken = recording(store_path)
    if taken.exists():
        return taken
    try:
        journal(store_path).rename(taken)
    except FileNotFoundError:
        return None
    return taken


def _done(store_path: str | Path, taken: Path, reading: Reading) -> None:
    """Remove the file recorded; one with a part not recorded is kept aside, and said."""
    if not (what := skipped(reading)):
        taken.unlink(missing_ok=True)
        return
    name = journal(store_path)
    aside = Path(f"{name}.bad")
    number = 1
    while aside.exists():
        number += 1
        aside = Path(f"{name}.{number}.bad")
    taken.rename(aside)
    log.error(
        "%s: %s not recorded: the sends there, if any, may be sent again; the file is kept as"
        " %s (the sends before were recorded)",
        name,
        what,
        aside,
    )


async def _record(store: AsyncStore, sent: Kept) -> None:
    match sent:
        case Sent():
            await store.run(Store.mark_sent, sent.delivery_id, sent.message_id, now=sent.at,
                            also=sent.also, item_id=sent.item_id)  # fmt: skip
        case SentDigest():
            await store.run(Store.settle_many, sent.delivery_ids, OutboxState.SENT, now=sent.at)
            await store.run(Store.continue_digest, sent.rest, sent.part)
        case SentNotice():
            await store.run(Store.settle_notice, sent.notice_id, OutboxState.SENT, now=sent.at)
        case SentReport():
            await store.run(Store.report_sent, sent.chat_id, sent.due)


async def record_kept(store: AsyncStore) -> int:
    """Record the sends the last stops kept (before rows left `sending` are queued again), then
    remove their file; the count recorded. A file with a part not recorded (past the bounds,
    bad lines, unreadable) is kept aside as `.bad`, and said: its sends may be sent again."""
    count, left = 0, await asyncio.to_thread(recording(store.path).exists)
    for _ in range(1 + left):  # a file a cut recording left, then the kept sends' file
        try:
            taken = await asyncio.to_thread(_take, store.path)
        except OSError as exc:
            log.error("%s: cannot be taken to record (%s); its sends may be sent again",
                      journal(store.path), exc)  # fmt: skip
            break
        if taken is None:
            break
        reading = await asyncio.to_thread(read, taken)
        for sent in reading.kept:
            await _record(store, sent)
        count += len(reading.kept)
        try:
            await asyncio.to_thread(_done, store.path, taken, reading)
        except OSError as exc:
            log.error("%s: recorded, but cannot be removed (%s): recorded again at the next"
                      " start", taken, exc)  # fmt: skip
            break
    if count:
        made = counted(count, "send", "sends")
        log.info("delivery: %s made before the last stop recorded", made)
    return count
