"""The `kurilwatch` command line: run, check, match, stories, poll, feeds, stats, backup, restore,
prune, resend, trend, demo, backtest, export, feedback."""

from __future__ import annotations

import argparse
import errno
import gc
import io
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

# Parse workers are spawned processes, and spawning imports the main module (this one) in each:
# what the commands need is imported inside them, so that a worker only loads the parse stage.
if TYPE_CHECKING:
    from bot.config import Config, Stamp
    from watchers.pool import ParsePool

EXIT_USAGE = 2
CONFIG = "config.yaml"  # --config's default
EXIT_INTERRUPTED = 130  # bot.interrupt's, without importing asyncio here
FULL = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})  # a disk that takes no more output


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kurilwatch",
        description="News alerts on the Kuril Islands and the Russia-Japan peace treaty.",
    )
    levels = ["DEBUG", "INFO", "WARNING", "ERROR"]
    parser.add_argument("--log-level", default="INFO", choices=levels, type=str.upper)
    formats = ["text", "json"]
    parser.add_argument("--log-format", default="text", choices=formats, type=str.lower)
    parser.add_argument(
        "--config", default=CONFIG, metavar="CONFIG", help=f"config file (default: {CONFIG})"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(
        name: str, help_text: str, config: str = "config file", metavar: str = "CONFIG"
    ) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        # these three both after the command and before it (SUPPRESS: the one before it stays
        # unless the command's own is given)
        p.add_argument(
            "--config",
            default=argparse.SUPPRESS,
            metavar=metavar,
            help=f"{config} (default: {CONFIG})",
        )
        p.add_argument(
            "--log-format",
            default=argparse.SUPPRESS,
            choices=formats,
            type=str.lower,
            help="log lines on stderr: readable text, or one JSON object per line (default: text)",
        )
        p.add_argument(
            "--log-level",
            choices=levels,
            type=str.upper,  # `--log-level debug` too
            default=argparse.SUPPRESS,
            help="(default: INFO)",
        )
        return p

    command("run", "run the daemon in the foreground (Ctrl-C stops it)")
    check = command("check", "validate the config and print a summary")
    check.add_argument(
        "--online", action="store_true", help="also fetch and parse each feed once (stores nothing)"
    )
    match = command("match", "match JSON lines from stdin against the config's topics")
    match.add_argument("--explain", action="store_true", help="also say which terms matched where")
    command("stories", "place JSON lines of reports from stdin into stories, as the daemon does")
    poll = command("poll", "poll the feeds, store what is new, print a line per feed")
    poll.add_argument("--once", action="store_true", required=True, help="poll once and exit")
    poll.add_argument("--feed", metavar="ID", help="poll only this feed")
    command("feeds", "the feeds' health: last success, errors, next poll, disabled ones")
    command("stats", "subscribers, matched stories per day, deliveries, queue")
    backup = command("backup", "copy the store to PATH while the daemon runs (SQLite backup)")
    backup.add_argument("path", type=Path, metavar="PATH", help="the new file")
    restore = command("restore", "put a backup in place of the store (the daemon stopped)")
    restore.add_argument("backup", type=Path, metavar="BACKUP", help="a file `backup` wrote")
    command("prune", "compact and delete old items now (the daemon does it daily)")
    resend = command("resend", "queue again the alerts given up (failed), for the daemon to send")
    resend.add_argument(
        "--since", default="48h", help="those queued in this period, like 48h or 7d (default: 48h)"
    )
    demo = command("demo", "serve bundled sample items on loopback and run the daemon on them")
    demo.add_argument(
        "--keep",
        type=Path,
        metavar="DIR",
        help="keep the demo's store in DIR (a new folder, or one without a config.yaml or"
        " store) with DIR/config.yaml to read it; the demo ends listing commands to try on it",
    )
    backtest = command(
        "backtest",
        "the stories --config's topic queries gain and lose against --against's",
        "the config with the edited queries",
        "NEW",
    )
    backtest.add_argument(
        "--against",
        default="config.yaml",
        metavar="OLD",
        help="the running config (default: %(default)s)",
    )
    backtest.add_argument(
        "--days", type=_days, default=30, help="period, 1-3650 days (default: %(default)s)"
    )
    backtest.add_argument("--json", action="store_true", help="one JSON object, for scripts")
    feedback = command("feedback", "the 'Not relevant' presses by topic, with suggested exclusions")
    feedback.add_argument(
        "--days", type=_days, default=30, help="period, 1-3650 days (default: %(default)s)"
    )
    export = command("export", "matched stories with their outlets and times, as CSV or JSON lines")
    export.add_argument(
        "--format",
        choices=["csv", "jsonl"],
        default="csv",
        help="csv: a header line, then a row per story; jsonl: one JSON object per story,"
        " topics and outlets as lists (default: %(default)s)",
    )
    export.add_argument("--topic", metavar="ID", help="only this topic's stories")
    export.add_argument("--since", default="30d", help="period, like 30d or 12h (default: 30d)")
    trend = command(
        "trend", "stories per day of a topic: a PNG chart and/or a CSV file (give one or both)"
    )
    trend.add_argument("--topic", required=True, metavar="ID", help="a topic id of the config")
    trend.add_argument("--days", type=int, default=30, metavar="N", help="1-366 (default: 30)")
    trend.add_argument("--png", type=Path, metavar="PATH", help="write the chart here")
    trend.add_argument("--csv", type=Path, metavar="PATH", help="write the counts here")
    trend.add_argument(
        "--by", choices=["lang", "outlet"], default="lang", help="stack by (default: %(default)s)"
    )
    return parser


GC_YOUNG = 20_000  # objects allocated between young-generation collections (Python: 700)
SWITCH_INTERVAL = 0.001  # seconds a busy thread keeps the GIL from a waiting one (Python: 0.005)


def tune_runtime() -> None:
    """Two interpreter settings for a process with an event loop and a store thread.

    The young garbage generation is collected every 20,000 allocations instead of 700. A
    first poll allocates hundreds of thousands of short-lived objects, nearly all freed by
    reference counting, and the 150 collections it set off took 0.2 s of the daemon's CPU
    with the event loop and the store thread held up (bench/poll.py); a few now do. Memory
    is not the cost: an object in a reference cycle waits for the next collection a little
    longer.

    The GIL passes between threads every 1 ms instead of 5 ms. The store thread takes the
    GIL back a dozen times per stored feed, between its SQLite calls, and waited up to 5 ms
    each time for a busy event loop: in a first poll of 500 feeds, storing fell half a
    second behind parsing. With 1 ms, that poll took 2.19 s instead of 2.41 s (three
    alternating runs of each); a steady cycle's CPU did not change.
    """
    gc.set_threshold(GC_YOUNG, *gc.get_threshold()[1:])
    sys.setswitchinterval(SWITCH_INTERVAL)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    for name in ("config", "against", "path", "backup", "keep", "png", "csv"):  # `--png=~/k.png`:
        if (value := getattr(args, name, None)) is not None:  # the shell expands a ~ only at a
            setattr(args, name, type(value)(os.path.expanduser(value)))  # word's start
    tune_runtime()
    for stream in (sys.stdout, sys.stderr):  # a Russian title on a Latin-1 terminal: no traceback
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(errors="backslashreplace")
    pool = None
    if args.command == "poll":
        # its parse workers start (a new interpreter each) while this process reads the config
        # and imports the rest: 0.5-1 s of a `poll --once` start-up
        from watchers.pool import ParsePool

        pool = ParsePool("processes")
        pool.prestart()
    try:
        return _command(args, pool)
    except BrokenPipeError:  # `kurilwatch export | head`: the reader has what it wanted
        # and the interpreter's own flush of stdout at exit must not fail again
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as exc:
        if exc.errno not in FULL:
            raise
        where = exc.filename or "the output"
        print(f"kurilwatch {args.command}: cannot write {where}: {exc.strerror}", file=sys.stderr)
        return EXIT_USAGE
    finally:
        if pool is not None:
            pool.close()  # stopped already, unless the command failed before it polled


def _command(args: argparse.Namespace, pool: ParsePool | None) -> int:
    from bot.config import ConfigError, config_stamp, load_config
    from bot.logs import setup_logging

    stamp = config_stamp(args.config)  # before reading: `run` applies an edit saved after
    try:
        settings = load_config(args.config)
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"kurilwatch: {problem}", file=sys.stderr)
        return EXIT_USAGE
    token = settings.token()
    setup_logging(args.log_level, secrets=[token] if token else [], log_format=args.log_format)
    if pool is not None:  # a parse worker looks the topics' Russian word forms up meanwhile
        from watchers.topics.compile import russian_words

        pool.look_up_forms(russian_words(t.query for t in settings.topics.values()))
    import sqlite3

    try:
        return _dispatch(args, settings, token, stamp, pool)
    except sqlite3.Error as exc:  # a damaged store, a full disk, a write lock held for 10 s
        logging.getLogger(__name__).debug("the store failed", exc_info=True)
        advice = ""
        if getattr(exc, "sqlite_errorname", None) in ("SQLITE_CORRUPT", "SQLITE_NOTADB"):
            advice = (
                "; move it and its -wal and -shm files aside, then `kurilwatch restore BACKUP`"
                " or start afresh"
            )
        print(
            f"kurilwatch {args.command}: store {settings.store.path}: {exc}{advice}",
            file=sys.stderr,
        )
        return EXIT_USAGE


def _dispatch(
    args: argparse.Namespace,
    settings: Config,
    token: str | None,
    stamp: Stamp | None,
    pool: ParsePool | None,
) -> int:
    """Each command is given `sys.stdout` as it is now: its default argument is the one of the
    moment the module was imported, which `contextlib.redirect_stdout` does not reach."""
    if args.command in ("match", "stories"):
        from bot.operator.json_lines import match_lines, utf8_streams

        utf8_streams(sys.stdin, sys.stdout)
        if args.command == "match":
            return match_lines(settings, sys.stdin, sys.stdout, explain=args.explain)
        from bot.commands import story_lines

        return story_lines(sys.stdin, sys.stdout, settings.store.keys_retention)
    if args.command in ("backtest", "export", "feedback"):
        return _archive_command(args, settings)
    if args.command in ("check", "run"):
        _warn(args, settings)
        if token and (malformed := settings.malformed_token(token)):
            if args.command == "run":  # as a token Telegram refuses: exit 2, not tried
                log = logging.getLogger(__name__)
                log.error("%s; set it, then start kurilwatch again", malformed)
                return EXIT_USAGE
            print(f"kurilwatch: warning: {malformed}", file=sys.stderr)
    if args.command == "check" and not args.online:
        print(summary(settings))
        return 0
    import asyncio  # only the commands that need an event loop pay for importing it

    from bot import commands
    from bot.interrupt import cancel_on_signals

    if args.command == "check":
        print(summary(settings))
        return asyncio.run(cancel_on_signals(commands.check_online(settings, sys.stdout)))
    if args.command in ("poll", "prune", "resend"):
        return _writer(args, settings, pool)
    if args.command == "feeds":
        return commands.feeds(settings, sys.stdout)
    if args.command == "stats":
        return commands.stats(settings, sys.stdout)
    if args.command in ("backup", "restore"):
        from bot.operator import store_files

        if args.command == "backup":
            return store_files.backup(settings, args.path, sys.stdout)
        return store_files.restore(settings, args.backup, sys.stdout)
    if args.command == "trend":
        return commands.trend(
            settings, args.topic, args.days, png=args.png, csv=args.csv, by=args.by, out=sys.stdout
        )
    if args.command == "demo":
        from bot.demo import run_demo
        from bot.demo_keep import CannotKeep

        try:
            return asyncio.run(run_demo(settings, sys.stdout, args.keep))
        except CannotKeep as exc:
            return _usage(str(exc))
    from bot.config import regular_file
    from bot.lock import AlreadyRunning, CannotLock, StoreLock

    config: Path | None = Path(args.config)
    if not regular_file(args.config):  # `--config <(decrypt ...)`: there is nothing to re-read
        logging.getLogger(__name__).warning(
            "%s is not a regular file: read once; edits, SIGHUP and /reload change nothing",
            args.config,
        )
        config = None
    try:
        with StoreLock(settings.store.path):
            # the daemon's imports (PTB, httpx, ...), 0.4 s of CPU, once the store is its own:
            # a second daemon on the store is refused without them
            from bot.daemon import run_daemon

            return asyncio.run(run_daemon(settings, token, config, stamp))
    except (AlreadyRunning, CannotLock) as exc:
        print(f"kurilwatch: {exc}", file=sys.stderr)
        return EXIT_USAGE


def _warn(args: argparse.Namespace, settings: Config) -> None:
    """What the config holds that is likely not meant: on stderr for `check` (which exits 0
    all the same: the daemon may run as another user), with a store path this user could not
    make or write; in the log for `run`."""
    from bot.config import config_warnings_of
    from store.base import unwritable
    from watchers.config_checks import Warning

    more = []  # `run` says why when it opens the store (exit 2)
    if args.command == "check" and (why := unwritable(settings.store.path)):
        store = ("store", "path")
        more.append(Warning(store, f"{settings.store.path}: {why}", store))
    for warning in config_warnings_of(settings, args.config, more=more):
        if args.command == "check":
            print(f"kurilwatch: warning: {warning}", file=sys.stderr)
        else:
            logging.getLogger(__name__).warning("config: %s", warning)


def _writer(args: argparse.Namespace, settings: Config, pool: ParsePool | None) -> int:
    """`poll --once`, `prune` or `resend`, holding the writers' lock shared: a restore is
    refused while they write, and they while it replaces the store (a daemon may write beside
    them)."""
    import asyncio

    from bot import commands
    from bot.interrupt import cancel_on_signals
    from bot.lock import CannotLock, Restoring, StoreLock
    from store.base import no_store, read_only_folder

    store = settings.store.path
    if args.command != "poll" and (absent := no_store(store)):  # before a lock file is made
        return _usage(f"kurilwatch {args.command}: {absent}")
    try:
        with StoreLock(store, writers=True, exclusive=False):
            if args.command == "prune":
                return commands.prune(settings, sys.stdout)
            if args.command == "resend":
                from bot.operator.resend import run_resend

                return run_resend(settings, args.since, sys.stdout)
            return asyncio.run(
                cancel_on_signals(commands.poll_once(settings, args.feed, sys.stdout, pool))
            )
    except CannotLock as exc:
        return _usage(f"kurilwatch {args.command}: store {store}: {read_only_folder(store) or exc}")
    except Restoring as exc:
        return _usage(f"kurilwatch {args.command}: {exc}")


def _archive_command(args: argparse.Namespace, settings: Config) -> int:
    from bot.config import ConfigError, load_config

    if args.command == "feedback":
        from bot.operator.feedback import run_feedback

        queries = {tid: t.query for tid, t in settings.topics.items()}
        return run_feedback(settings.store.path, queries, args.days, sys.stdout)
    if args.command == "export":
        from bot.operator.export import run_export

        if args.topic is not None and args.topic not in settings.topics:
            known = ", ".join(settings.topics)
            return _usage(f"kurilwatch export: no topic {args.topic!r}; topics: {known}")

        if isinstance(sys.stdout, io.TextIOWrapper):  # CSV and JSON lines are UTF-8 files
            sys.stdout.reconfigure(encoding="utf-8")
        return run_export(settings, args.format, args.topic, args.since, sys.stdout)
    from bot.operator.backtest import run_backtest

    try:
        against = load_config(args.against)
    except ConfigError as exc:
        for problem in exc.problems:  # each names the file already
            problem = problem.replace("pass --config PATH", "pass --against PATH")
            print(f"kurilwatch backtest: --against {problem}", file=sys.stderr)
        return EXIT_USAGE
    if Path(args.config).resolve() == Path(args.against).resolve():
        print(
            f"kurilwatch backtest: --config and --against are the same file ({args.against}):"
            " give the edited copy as --config NEW",
            file=sys.stderr,
        )
    return run_backtest(settings, against, days=args.days, as_json=args.json, out=sys.stdout)


def summary(settings: Config) -> str:
    from watchers.config import format_duration
    from watchers.urls import shown_url

    value = settings.token()
    token = "set" if value else "not set (console mode: alerts are printed)"
    if value and settings.malformed_token(value):
        token = "set, but malformed (see the warning)"
    lines = [
        "config OK",
        f"store: {settings.store.path}",
        f"telegram: token ${settings.telegram.token_env} {token}",
        f"telegram API: {shown_url(str(settings.telegram.api_base_url))}",
        f"poll: every {format_duration(settings.poll.interval)} by default",
        f"feeds ({len(settings.feeds)}):",
        *(
            f"  {f.id}: {shown_url(str(f.url))}"
            f" (every {format_duration(f.interval or settings.poll.interval)})"
            for f in settings.feeds
        ),
        f"topics ({len(settings.topics)}):",
        *(f"  {tid}: {t.title}" for tid, t in settings.topics.items()),
    ]
    return "\n".join(lines)


def _days(text: str) -> int:
    """A --days argument: a whole number of days, 1 to 3650 (ten years)."""
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= 3650:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of days from 1 to 3650")
    return int(text)


def _usage(message: str) -> int:
    print(message, file=sys.stderr)
    return EXIT_USAGE


ONE_SHOT = frozenset(
    {"check", "match", "stories", "poll", "feeds", "stats", "backup", "restore", "prune", "trend"}
)


# the commands a stop by Ctrl-C or SIGTERM ends as meant (exit 0), not cut short (130)
LONG_RUNNING = frozenset({"run", "demo"})


def _stop_starting(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def entry() -> None:  # pragma: no cover - the console script; tests call `main`
    """The `kurilwatch` command. A one-shot command that has closed everything leaves with
    os._exit once its output is flushed: the interpreter's teardown of the modules and heap a
    poll leaves behind took 0.1-0.15 s, 5% of `kurilwatch poll --once`."""
    command = None
    interrupted = False
    try:
        command = _parser().parse_known_args()[0].command
        # SIGTERM stops every command as a Ctrl-C does (until the daemon's own handler): a
        # one-shot command closes what it opened and exits 130, `backup` removes its copy
        signal.signal(signal.SIGTERM, _stop_starting)
        if command == "run":  # a reload while starting (`systemctl reload`) must not kill it:
            # the daemon compares the file with what it read once it watches
            signal.signal(signal.SIGHUP, signal.SIG_IGN)
        code = main()
    except KeyboardInterrupt:  # Ctrl-C while starting, before the command's own handler
        interrupted = True
        code = 0 if command in LONG_RUNNING else EXIT_INTERRUPTED
    # a Ctrl-C now would only interrupt the interpreter's exit with a traceback
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if interrupted:
        print(
            "kurilwatch: stopped while starting"
            if command in LONG_RUNNING
            else "kurilwatch: interrupted",
            file=sys.stderr,
        )
    if command in ONE_SHOT or interrupted:
        # after a Ctrl-C, also so that the interpreter cannot end the process by SIGINT
        # instead of this exit status (it does when the Ctrl-C came during some imports)
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":  # pragma: no cover
    entry()
