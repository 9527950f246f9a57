"""The daemon's config watch: an edit is applied whenever it was saved, starting up included."""

from __future__ import annotations

import asyncio
import io
import logging
import os
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.config import config_stamp, load_config
from bot.daemon import Daemon
from tests.conftest import handler_on, write_config
from watchers.config import parse_duration

WAIT = 60.0  # bounds a wait for an event, never a measure of speed


class Reloads(logging.Handler):
    """The daemon's log lines; `applied` is set by the first "config reloaded"."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []
        self.applied = asyncio.Event()
        self.another = asyncio.Event()  # set by each "config reloaded"

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())
        if record.getMessage().startswith("config reloaded"):
            self.applied.set()
            self.another.set()

    def count(self) -> int:
        return sum(line.startswith("config reloaded") for line in self.lines)


@pytest.fixture
def reloads() -> Iterator[Reloads]:
    handler = Reloads()
    with handler_on("bot.daemon", handler):
        yield handler


@pytest.mark.parametrize("made", ["before the edit", "after it, as `kurilwatch run` makes it"])
async def test_an_edit_saved_while_the_daemon_starts_is_applied_once_it_watches(
    tmp_path: Path, reloads: Reloads, made: str
) -> None:
    """The file is loaded, then edited before the watch begins (the daemon opens its store,
    signs in and schedules first): no event ever tells of that edit. Another file in the
    folder changes all the while, as the store's may: the watch never times out quietly."""
    path = write_config(tmp_path, {"gone": "http://127.0.0.1:9/gone.xml"})
    stamp = config_stamp(path)  # the command line's, taken before it reads the file
    settings = load_config(path)
    if made == "before the edit":
        daemon = Daemon(settings, None, out=io.StringIO(), config_path=path)
    edited = yaml.safe_load(path.read_text())
    edited["feeds"][0]["interval"] = "2s"
    path.write_text(yaml.safe_dump(edited))
    if made != "before the edit":
        daemon = Daemon(settings, None, out=io.StringIO(), config_path=path, config_stamp=stamp)
    busy = asyncio.create_task(_keep_writing(tmp_path / "busy.txt"))
    running = asyncio.create_task(daemon.run())
    try:
        await asyncio.wait_for(reloads.applied.wait(), WAIT)
    finally:
        daemon.stop()
        busy.cancel()
        assert await asyncio.wait_for(running, WAIT) == 0
    assert [f.interval for f in daemon.settings.feeds] == [timedelta(seconds=2)]
    assert sum(line.startswith("config reloaded") for line in reloads.lines) == 1


async def _keep_writing(path: Path) -> None:
    """Changes a file every 0.1 s (quicker than the watch's quiet timeout) until cancelled."""
    count = 0
    while True:
        count += 1
        await asyncio.to_thread(path.write_text, str(count))
        await asyncio.sleep(0.1)


def _replace_folder(config: Path, text: str) -> None:
    """A deploy that moves the old folder aside and puts a new one in its place."""
    folder = config.parent
    folder.rename(folder.with_name("conf.old"))
    folder.mkdir()
    config.write_text(text)


def _swap_link(config: Path, text: str) -> None:
    """A Kubernetes ConfigMap update: config.yaml → ..data/config.yaml, and ..data, a link to a
    folder of one version, is renamed over by a link to the next; the old folder is removed."""
    data = config.parent / "..data"
    old = data.resolve()
    new = old.with_name(f"..v{int(old.name[3:]) + 1}")
    new.mkdir()
    (new / "config.yaml").write_text(text)
    (config.parent / "..data_tmp").symlink_to(new.name)
    (config.parent / "..data_tmp").rename(data)
    for child in old.iterdir():
        child.unlink()
    old.rmdir()


@pytest.mark.parametrize("replace", [_replace_folder, _swap_link])
async def test_edits_are_seen_after_the_config_folder_is_replaced(
    tmp_path: Path, reloads: Reloads, replace: Any
) -> None:
    """The watch follows the config's folder when it is replaced (a deploy, a ConfigMap
    update): the new file applies, and so do later edits of it."""
    folder = tmp_path / "conf"
    folder.mkdir()
    store = {"store": {"path": str(tmp_path / "kw.db")}}
    if replace is _swap_link:
        (folder / "..v1").mkdir()
        write_config(folder / "..v1", {"gone": "http://127.0.0.1:9/gone.xml"}, extra=store)
        (folder / "..data").symlink_to("..v1")
        (folder / "config.yaml").symlink_to("..data/config.yaml")
    else:
        write_config(folder, {"gone": "http://127.0.0.1:9/gone.xml"}, extra=store)
    path = folder / "config.yaml"
    daemon = Daemon(load_config(path), None, out=io.StringIO(), config_path=path)
    running = asyncio.create_task(daemon.run())
    try:
        for n, interval in enumerate(("2s", "3s", "4s"), start=1):
            edited = yaml.safe_load(path.read_text())
            edited["feeds"][0]["interval"] = interval
            text = yaml.safe_dump(edited)
            if n == 2:
                replace(path, text)
            else:
                path.write_text(text)
            await asyncio.wait_for(_applied(reloads, n), WAIT)
            assert daemon.settings.feeds[0].interval == parse_duration(interval)
    finally:
        daemon.stop()
        assert await asyncio.wait_for(running, WAIT) == 0


async def _applied(reloads: Reloads, count: int) -> None:
    while reloads.count() < count:
        reloads.another.clear()
        await reloads.another.wait()


async def test_a_config_saved_by_truncating_and_writing_is_not_read_half_way(
    tmp_path: Path, reloads: Reloads
) -> None:
    feeds = {"a": "http://127.0.0.1:9/a.xml", "b": "http://127.0.0.1:9/b.xml"}
    path = write_config(tmp_path, feeds)
    whole = yaml.safe_load(path.read_text())
    text = yaml.safe_dump(
        {k: whole[k] for k in ("store", "poll", "topics", "feeds")}, sort_keys=False
    )
    path.write_text(text)
    half = text[: text.index("- id: b")]  # valid YAML, one feed fewer
    daemon = Daemon(load_config(path), None, out=io.StringIO(), config_path=path)
    daemon.config_settle = 5.0  # longer than this test takes to write the rest
    woke, re_read = asyncio.Event(), asyncio.Event()  # woke: the half seen

    class Said(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            line = record.getMessage()
            if line.startswith(("config re-read", "config reloaded")):
                re_read.set()
            if "is being written" in line or re_read.is_set():
                woke.set()

    running = asyncio.create_task(daemon.run())
    try:
        with handler_on("bot.reload", Said()), handler_on("bot.daemon", Said()):
            # an editor that truncates the file, then writes it in parts
            saving = await asyncio.to_thread(os.open, path, os.O_WRONLY | os.O_TRUNC)
            try:
                await asyncio.to_thread(os.write, saving, half.encode())
                await asyncio.wait_for(woke.wait(), WAIT)
                await asyncio.to_thread(os.write, saving, text[len(half) :].encode())
            finally:
                os.close(saving)
            await asyncio.wait_for(re_read.wait(), WAIT)
    finally:
        daemon.stop()
        assert await asyncio.wait_for(running, WAIT) == 0
    assert [f.id for f in daemon.settings.feeds] == ["a", "b"]
    assert reloads.count() == 0, reloads.lines  # the half file was never applied


async def test_a_config_link_that_loops_for_a_moment_does_not_end_the_watch(
    tmp_path: Path, reloads: Reloads
) -> None:
    """config.yaml is a link (README's deploy layouts); a botched `ln -sfn` pointed it at
    itself for a moment. That moment was refused as a bad edit, but resolving the link raised
    RuntimeError ("Symlink loop"), which ended the watch: the link put right, and every later
    edit, were never applied until a SIGHUP, /reload or a restart."""
    real = write_config(tmp_path, {"gone": "http://127.0.0.1:9/gone.xml"}).rename(
        tmp_path / "real.yaml"
    )
    path = tmp_path / "config.yaml"
    path.symlink_to(real.name)
    daemon = Daemon(load_config(path), None, out=io.StringIO(), config_path=path)
    daemon.config_settle = 0
    refused = asyncio.Event()

    class Refused(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.getMessage().startswith("config not reloaded"):
                refused.set()

    running = asyncio.create_task(daemon.run())
    try:
        with handler_on("bot.daemon", Refused()):
            (tmp_path / "loop").symlink_to(path.name)
            (tmp_path / "loop").rename(path)  # config.yaml → config.yaml
            await asyncio.wait_for(refused.wait(), WAIT)
            edited = yaml.safe_load(real.read_text())
            edited["feeds"][0]["interval"] = "2s"
            real.write_text(yaml.safe_dump(edited))
            (tmp_path / "fixed").symlink_to(real.name)
            (tmp_path / "fixed").rename(path)  # put right, onto the edited file
            await asyncio.wait_for(reloads.applied.wait(), WAIT)
    finally:
        daemon.stop()
        assert await asyncio.wait_for(running, WAIT) == 0
    assert daemon.settings.feeds[0].interval == timedelta(seconds=2)
