"""Shared fixtures: the feed server, the fake Bot API, config files and daemon processes."""

from __future__ import annotations

import atexit
import contextlib
import gc
import io
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import settings

from store import Store
from tests.fakes.feed_server import FeedServer
from tests.fakes.telegram_api import FakeBotAPI

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "123456:TEST-TOKEN-s3cr3t"
CONFIG = str(ROOT / "config.yaml")
SHARED = ROOT.parent / "shared"  # the corpus and articles beside the repository, never copied in
ABSENT = "(absent)"  # the one parameter of a test over shared files when they are not there

# No per-example deadline: hypothesis times each example against the wall clock, and CI's busy
# two cores once stretched a 100 ms example to 283 ms. A test bounds no speed; bench/ does.
settings.register_profile("kurilwatch", deadline=None)
settings.load_profile("kurilwatch")


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def shared(relative: str, *, root: Path = SHARED) -> Path:
    """The path of `relative` under ../shared, for a test that reads it.

    When it is absent the test skips, and pytest prints the reason (-rs, or the suite's -ra);
    with CI set in the environment it fails instead, naming the folder: a CI run without the
    corpus must not pass while testing nothing of it.
    """
    path = root / relative
    if not path.exists():
        message = f"{path} is absent; the tests that read {root} need it beside the repository"
        if in_ci():
            pytest.fail(f"{message} (CI is set, so this fails rather than skips)", pytrace=False)
        pytest.skip(message)
    return path


def shared_names(folder: str) -> list[str]:
    """Names of the files in ../shared/`folder`, to parametrize a test over at collection; one
    ABSENT parameter when the folder is missing, so the test runs and `shared` fails or skips."""
    path = SHARED / folder
    if not path.is_dir():
        return [ABSENT]
    return sorted(p.name for p in path.iterdir() if p.is_file() and p.name != "LICENSE")


def kurilwatch(
    *args: str, stdin: str = "", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the `kurilwatch` command line to its end (`env`: variables set besides ours)."""
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        env=None if env is None else {**os.environ, **env},
    )


def cli(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """Run the command line in this process, through `bot.cli.main` (what `kurilwatch` calls),
    with stdin, stdout and stderr as strings: what `kurilwatch` gives, for a test about what a
    command says and does rather than about its process (its exit by signal or os._exit, its
    streams' encoding, a closed pipe). A process costs 0.2-1.3 s of CPU to start and import;
    here the imports are made once per worker. What main changes in the interpreter (the
    logging it sets up, the garbage collector's threshold, the GIL's switch interval) is put
    back after it."""
    from bot import cli as command_line
    from bot.logs import QUIET_LOGGERS

    out, err = io.StringIO(), io.StringIO()
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    quiet = {name: logging.getLogger(name).level for name in QUIET_LOGGERS}
    filtered = ("telegram.request.BaseRequest", "telegram.ext")  # setup_logging's filters
    filters = {name: list(logging.getLogger(name).filters) for name in filtered}
    threshold, switch = gc.get_threshold(), sys.getswitchinterval()
    try:
        with (
            contextlib.chdir(ROOT),
            contextlib.redirect_stdout(out),
            contextlib.redirect_stderr(err),
        ):
            saved_stdin, sys.stdin = sys.stdin, io.StringIO(stdin)
            try:
                code = command_line.main(list(args))
            except SystemExit as exc:  # argparse's refusal of an argument
                code = exc.code if isinstance(exc.code, int) else 1
            finally:
                sys.stdin = saved_stdin
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        for name, saved in quiet.items():
            logging.getLogger(name).setLevel(saved)
        for name, kept in filters.items():
            logging.getLogger(name).filters[:] = kept
        gc.set_threshold(*threshold)
        sys.setswitchinterval(switch)
    return subprocess.CompletedProcess(["kurilwatch", *args], code, out.getvalue(), err.getvalue())


def connections() -> dict[str, Any]:
    """A PTB `Bot`'s two connections, as it makes them when given none but with the daemon's
    one TLS context (`bot.telegram.updates.tls`): `Bot(TOKEN, base_url=..., **connections())`.
    Each Bot otherwise read the CA bundle twice, 35 ms of CPU, in 300 of the suite's tests."""
    from bot.telegram.updates import connection

    return {"request": connection(), "get_updates_request": connection(pool_size=1)}


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


_template: list[Path] = []  # this worker's empty store of the current schema, made once


def new_store(path: Path) -> Path:
    """`path`, where an empty store of the current schema now is, unless a file is there
    already (then it is left as it is): for `Store(new_store(path))`. It is a copy of one store
    made once per worker: making each store afresh ran every migration, 14 ms of CPU each, in
    600 of the suite's tests. What a store makes later (its install secret) it makes at its
    first use, so the copies share nothing but the schema."""
    if not _template:
        folder = Path(tempfile.mkdtemp(prefix="kurilwatch-template-"))
        Store(folder / "kw.db").close()  # the last connection's close leaves no -wal file
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        _template.append(folder / "kw.db")
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(_template[0], path)
    return path


def short_busy_timeout(store: Store) -> None:
    """A lock another connection holds is waited for 50 ms, not the store's 10 s."""
    store.db.execute("PRAGMA busy_timeout = 50")


@pytest.fixture(autouse=True)
def _root_logging_kept() -> Iterator[None]:
    """A test that runs the command line in this process (`bot.cli.main`) sets the root
    logger's handler to the stderr of that moment, pytest's capture, closed once the test
    ends: every later log line in this worker then printed "--- Logging error ---" and a
    traceback. The root logger's handlers and level are put back after each test."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@contextlib.contextmanager
def handler_on(name: str, handler: logging.Handler, level: int = logging.INFO) -> Iterator[None]:
    """`handler` hears the logger `name` at `level` and up for the block, then no more."""
    logger = logging.getLogger(name)
    saved = logger.level
    logger.addHandler(handler)
    logger.setLevel(level)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(saved)


@contextlib.asynccontextmanager
async def running(app: Any) -> AsyncIterator[None]:
    """Run a python-telegram-bot application (long polling the fake) for the block."""
    await app.initialize()
    await app.start()
    await app.updater.start_polling(timeout=1)
    try:
        yield
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    server = FeedServer().start()
    yield server
    server.stop()


@pytest.fixture
def bot_api() -> Iterator[FakeBotAPI]:
    api = FakeBotAPI(TOKEN).start()
    yield api
    api.stop()


def shipped_topics() -> dict[str, Any]:
    topics: dict[str, Any] = yaml.safe_load((ROOT / "config.yaml").read_text())["topics"]
    return topics


def write_config(
    folder: Path,
    feeds: dict[str, str],
    *,
    api_base_url: str | None = None,
    interval: str = "1s",
    admins: tuple[int, ...] = (),
    extra: dict[str, Any] | None = None,
) -> Path:
    """A config with the shipped topics, the given feeds (id → URL) and a store in `folder`."""
    config: dict[str, Any] = {
        "store": {"path": "kw.db"},
        "poll": {"interval": interval, "timeout": "5s"},
        "feeds": [{"id": fid, "url": url} for fid, url in feeds.items()],
        "topics": shipped_topics(),
    }
    if api_base_url:
        config["telegram"] = {"api_base_url": api_base_url}
    if admins:
        config.setdefault("telegram", {})["admins"] = list(admins)
    config.update(extra or {})
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True))
    return path


def save_edit(config: Path, text: str) -> None:
    """Put `text` in place of `config` as an editor saves an edit by renaming its copy over
    it, dated back past the daemon's settling time: a running daemon reads a config only once
    it has gone `SETTLE` seconds unchanged (`bot.reload.settled`), 2 s that a test of what an
    edit does need not wait at every edit. Written in place, the file is empty between its
    truncation and its writing, and a daemon read it so once in a suite run on a busy machine
    ("the config file is empty" for a test's bad edit); renamed over, it is whole at every
    moment. test_config_watch.py tests the settling itself, and saves in place, with files
    dated now."""
    from bot.reload import SETTLE

    copy = config.with_name(f".{config.name}.saving")
    copy.write_text(text, encoding="utf-8")
    past = time.time_ns() - int((SETTLE + 1) * 1e9)
    os.utime(copy, ns=(past, past))
    os.replace(copy, config)


class LineReader:
    """Collects a pipe's lines on a thread, so tests can wait for a line without sleeping."""

    def __init__(self, stream: Any) -> None:
        self.lines: list[str] = []
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream: Any) -> None:
        for line in stream:
            with self._cond:
                self.lines.append(line.rstrip("\n"))
                self._cond.notify_all()

    @property
    def text(self) -> str:
        with self._cond:
            return "\n".join(self.lines)

    def wait_for(self, needle: str, timeout: float = 15.0) -> str:
        with self._cond:
            found = self._cond.wait_for(lambda: any(needle in line for line in self.lines), timeout)
            if not found:
                raise AssertionError(f"no line with {needle!r} after {timeout}s:\n{self.text}")
            return next(line for line in self.lines if needle in line)

    def join(self, timeout: float = 5.0) -> None:
        self._thread.join(timeout)


class DaemonProcess:
    """A real `kurilwatch` process; stdout and stderr are read as they come."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", *args],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
        )
        self.stdout = LineReader(self.proc.stdout)
        self.stderr = LineReader(self.proc.stderr)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> int:
        """Send `sig` and wait for the exit; fails the test when it takes over `timeout`."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        code = self.proc.wait(timeout)
        self.stdout.join()
        self.stderr.join()
        return code

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


@pytest.fixture
def start_daemon() -> Iterator[Any]:
    started: list[DaemonProcess] = []

    def start(*args: str, token: str | None = None) -> DaemonProcess:
        env = {
            key: value
            for key, value in os.environ.items()
            if key not in ("TELEGRAM_BOT_TOKEN",) and not key.startswith("PYTEST")
        }
        env["PYTHONUNBUFFERED"] = "1"
        if token:
            env["TELEGRAM_BOT_TOKEN"] = token
        process = DaemonProcess(list(args), env)
        started.append(process)
        return process

    yield start
    for process in started:
        process.kill()
