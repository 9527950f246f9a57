"""`kurilwatch demo --keep DIR`: the demo's store kept in DIR with a config that reads it, and
the operator commands worth trying on it."""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import yaml

from bot.config import ConfigError, load_config
from store import Store
from store.base import make_folder
from watchers.config import FeedConfig, TopicConfig
from watchers.text import counted

CONFIG_NAME = "config.yaml"
STORE_NAME = "kurilwatch.db"


class CannotKeep(Exception):
    """Why DIR cannot take the demo's store and config: one line for the operator."""


def config_text(topics: Mapping[str, TopicConfig], feeds: Sequence[FeedConfig]) -> str:
    """The kept config: the demo's topics and feeds, and the store beside it."""
    data = {
        "store": {"path": STORE_NAME},
        "feeds": [{"id": f.id, "title": f.title, "url": str(f.url)} for f in feeds],
        "topics": {tid: {"title": t.title, "query": t.query} for tid, t in topics.items()},
    }
    return (
        f"# Written by `kurilwatch demo --keep`: its store ({STORE_NAME}, beside this file) and\n"
        "# the topics it ran with. The feeds were served by the demo on 127.0.0.1 and are gone:\n"
        "# `run` or `poll` on this config finds nothing there. The read-only commands (stats,\n"
        "# feeds, export, trend) read what the demo stored.\n"
        + yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=100)
    )


def claim(folder: Path, text: str) -> Path:
    """Write the kept config in `folder` (made if need be) and check that it loads; the path of
    the store it names. Raises CannotKeep if `folder` holds a store or a config already, or
    cannot be written."""
    where = f"kurilwatch demo: --keep {folder}"
    if folder.exists() and not folder.is_dir():
        raise CannotKeep(f"{where}: not a folder")
    config = folder / CONFIG_NAME
    held = [config.name] if config.exists() else []
    held += sorted(p.name for p in folder.glob(f"{STORE_NAME}*"))
    if held:
        raise CannotKeep(f"{where}: holds {', '.join(held)} already; give a new or empty folder")
    try:
        make_folder(config)  # the store's folder: its user's alone, as `run` makes it
        with config.open("x", encoding="utf-8") as file:
            file.write(text)
    except OSError as exc:
        raise CannotKeep(f"{where}: cannot write there: {exc.strerror or exc}") from None
    try:
        return load_config(config).store.path
    except ConfigError as exc:  # a topic naming a source: of the operator's feeds
        config.unlink()
        raise CannotKeep(f"{where}: the demo's config would not load: {exc.problems[0]}") from None


def topic_stories(store: Path, topics: Sequence[str]) -> dict[str, int]:
    """How many stories the kept store holds of each topic."""
    with Store(store, upgrade=False) as opened:
        return {t: len(opened.stories([t])) for t in topics}


def program(argv0: str, found: str | None, cwd: str) -> str:
    """How to name kurilwatch in the commands the demo suggests: `kurilwatch` when the shell
    finds this one by that name (`found`), else as it was started (README's
    `.venv/bin/kurilwatch`: no shell finds it outside the venv), relative to `cwd` when under it."""
    if os.path.basename(argv0) != "kurilwatch":  # python -m bot.cli, or a test's runner
        return "kurilwatch"
    started = os.path.abspath(os.path.join(cwd, argv0))
    if found is not None and os.path.realpath(found) == os.path.realpath(started):
        return "kurilwatch"
    relative = os.path.relpath(started, cwd)
    return shlex.quote(started if relative.startswith("..") else relative)


def next_commands(
    folder: Path, stories: Mapping[str, int], kurilwatch: str = "kurilwatch"
) -> list[str]:
    """The commands to try on the kept store (`stories`: its stories of each topic), each with
    what it shows there; export and trend only if a topic matched something to show."""
    config = shlex.quote(str(folder / CONFIG_NAME))
    lines = [
        f"{kurilwatch} stats --config {config}  # matched stories per day, no subscribers",
        f"{kurilwatch} feeds --config {config}  # the sample feeds and the items each gave",
    ]
    matched = {t: n for t, n in stories.items() if n}
    if not matched:
        return lines
    topic = max(matched, key=lambda t: matched[t])  # the first of the busiest
    chart = shlex.quote(str(folder / f"{topic}.png"))
    return [
        *lines,
        f"{kurilwatch} export --config {config}  # the matched stories as CSV, with their outlets",
        f"{kurilwatch} trend --config {config} --topic {topic} --days 7 --png {chart}"
        f"  # a chart of {topic}'s {counted(matched[topic], 'story', 'stories')} by language",
    ]


def kept_text(folder: Path, stories: Mapping[str, int]) -> str:
    """The demo's last lines with `--keep`: where its store is, and what to try on it."""
    name = program(sys.argv[0], shutil.which("kurilwatch"), os.getcwd())
    commands = "".join(f"\n  {line}" for line in next_commands(folder, stories, name))
    return f"Its store is kept in {folder}, with {folder / CONFIG_NAME} to read it. Try:{commands}"
