"""`kurilwatch demo --keep DIR`: the demo's store kept with a config that reads it, the
commands it suggests each showing the demo's stories, and a folder that cannot take them
refused in one line."""

from __future__ import annotations

import csv
import io
import os
import shlex
import stat
from pathlib import Path

import pytest

from bot.config import load_config
from bot.demo_keep import CannotKeep, claim, config_text, next_commands, program
from tests.conftest import CONFIG, cli, kurilwatch
from watchers.config import FeedConfig, TopicConfig

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def kept(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """One demo run (10 s) for the module: its folder and what it printed."""
    folder = tmp_path_factory.mktemp("kept") / "demo store"  # a space: the commands quote it
    result = kurilwatch("demo", "--config", CONFIG, "--keep", str(folder))
    assert result.returncode == 0, result.stderr
    return folder, result.stdout


def suggested(out: str) -> list[list[str]]:
    """The commands the demo's end lists, as arguments after `kurilwatch`."""
    tail = out[out.index("Try:") :].splitlines()[1:]
    lines = [line.strip() for line in tail if line.startswith("  kurilwatch ")]
    return [shlex.split(line, comments=True)[1:] for line in lines]


def test_the_kept_config_names_the_demos_feeds_topics_and_store(kept: tuple[Path, str]) -> None:
    folder, out = kept
    text = (folder / "config.yaml").read_text(encoding="utf-8")
    assert text.startswith("# Written by `kurilwatch demo --keep`")
    assert "served by the demo on 127.0.0.1 and are gone" in text.split("\nstore:")[0]
    settings = load_config(folder / "config.yaml")
    assert settings.store.path == (folder / "kurilwatch.db").resolve()
    assert settings.store.path.stat().st_size > 0
    assert [f.id for f in settings.feeds] == ["demo-kyodo", "demo-tass", "demo-nhk"]
    assert settings.topics == load_config(CONFIG).topics
    assert f"Its store is kept in {folder}, with {folder / 'config.yaml'} to read it." in out
    assert out.rstrip().endswith("Next: set TELEGRAM_BOT_TOKEN and run `make run` (see README).")


def test_each_command_the_demo_suggests_shows_its_stories(kept: tuple[Path, str]) -> None:
    folder, out = kept
    commands = suggested(out)
    assert [c[0] for c in commands] == ["stats", "feeds", "export", "trend"]
    assert all(c[1:3] == ["--config", str(folder / "config.yaml")] for c in commands)
    shown = {}
    for args in commands:
        result = cli(*args)
        assert result.returncode == 0, (args, result.stderr)
        shown[args[0]] = result.stdout
    # 4 stories matched (Motegi's of peace-treaty; 3 of kuril, one with two outlets)
    per_day = shown["stats"].split("Matched stories per day (UTC): ")[1].split("\n")[0]
    assert sum(int(day.split()[1]) for day in per_day.split(", ")) == 4
    assert "demo-kyodo" in shown["feeds"] and "demo-nhk" in shown["feeds"]
    rows = {r["title"]: r for r in csv.DictReader(io.StringIO(shown["export"]))}
    assert rows["Russia holds drills on the Kuril Islands"]["outlets"] == (
        "TASS (sample); Kyodo (sample)"
    )
    assert rows["Japan to continue peace treaty talks with Russia, Motegi says"]["topics"] == (
        "peace-treaty"
    )
    assert "Tokyo stocks close higher on tech gains" not in rows  # no topic matched it
    assert len(rows) == 4
    chart = Path(commands[3][commands[3].index("--png") + 1])
    assert chart.parent == folder and chart.read_bytes().startswith(PNG)
    assert commands[3][commands[3].index("--topic") + 1] == "kuril"
    assert shown["trend"].startswith("kuril: 3 stories in 7 days")
    assert "a chart of kuril's 3 stories by language" in out


@pytest.mark.parametrize("held", ["config.yaml", "kurilwatch.db"])
def test_a_folder_holding_a_config_or_a_store_is_refused_before_the_demo_runs(
    tmp_path: Path, held: str
) -> None:
    (tmp_path / held).write_text("mine\n")
    result = cli("demo", "--config", CONFIG, "--keep", str(tmp_path))
    assert result.returncode == 2
    assert result.stderr == (
        f"kurilwatch demo: --keep {tmp_path}: holds {held} already; give a new or empty folder\n"
    )
    assert result.stdout == ""  # no demo ran
    assert [p.name for p in tmp_path.iterdir()] == [held]
    assert (tmp_path / held).read_text() == "mine\n"


def test_a_folder_that_cannot_be_made_is_refused(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("")
    result = cli("demo", "--config", CONFIG, "--keep", str(tmp_path / "a-file" / "demo"))
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith(f"kurilwatch demo: --keep {tmp_path}/a-file/demo: cannot")
    assert result.stderr.count("\n") == 1


def test_topics_naming_a_source_of_the_operators_feeds_are_refused_leaving_nothing(
    tmp_path: Path,
) -> None:
    """The demo's feeds are not the operator's: a topic's `source:tass` would make the kept
    config one that no command loads."""
    topics = {"tass-kuril": TopicConfig(title="TASS on the Kurils", query="kuril source:tass")}
    feeds = [FeedConfig.model_validate({"id": "demo-kyodo", "url": "http://127.0.0.1:9/k.xml"})]
    with pytest.raises(CannotKeep, match=r"would not load: .*source:tass is no feed"):
        claim(tmp_path / "demo", config_text(topics, feeds))
    assert list((tmp_path / "demo").iterdir()) == []


def test_the_folder_claimed_is_its_users_alone_as_a_stores_folder_is(tmp_path: Path) -> None:
    """The kept folder is the store's: made 0755 under umask 022, it stayed so when the store
    opened in it (a folder there already keeps its mode)."""
    topics = {"kuril": TopicConfig(title="Kurils", query="kuril")}
    old = os.umask(0o022)
    try:
        claim(tmp_path / "new" / "demo", config_text(topics, []))
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "new" / "demo").stat().st_mode) == 0o700


@pytest.mark.parametrize(
    ("stories", "listed"),
    [
        ({"kuril": 3, "peace-treaty": 1}, ["stats", "feeds", "export", "trend kuril"]),
        ({"kuril": 1, "peace-treaty": 2}, ["stats", "feeds", "export", "trend peace-treaty"]),
        ({"kuril": 2, "peace-treaty": 2}, ["stats", "feeds", "export", "trend kuril"]),
        ({"kuril": 0, "peace-treaty": 0}, ["stats", "feeds"]),  # export, trend: nothing to show
    ],
)
def test_the_suggested_commands_are_those_with_something_to_show(
    stories: dict[str, int], listed: list[str]
) -> None:
    lines = next_commands(Path("kept"), stories)
    names = []
    for line in lines:
        args = shlex.split(line, comments=True)
        assert args[:4] == ["kurilwatch", args[1], "--config", "kept/config.yaml"]
        names.append(args[1] + (f" {args[args.index('--topic') + 1]}" if "--topic" in args else ""))
    assert names == listed


@pytest.mark.parametrize(
    ("argv0", "found", "cwd", "named"),
    [
        (".venv/bin/kurilwatch", None, "/src/kw", ".venv/bin/kurilwatch"),  # README's way
        ("/src/kw/.venv/bin/kurilwatch", None, "/src/kw", ".venv/bin/kurilwatch"),
        ("/src/kw/.venv/bin/kurilwatch", None, "/tmp", "/src/kw/.venv/bin/kurilwatch"),
        ("/opt/my kw/bin/kurilwatch", None, "/tmp", "'/opt/my kw/bin/kurilwatch'"),
        ("/src/kw/.venv/bin/kurilwatch", "/src/kw/.venv/bin/kurilwatch", "/tmp", "kurilwatch"),
        (".venv/bin/kurilwatch", "/usr/bin/kurilwatch", "/src/kw", ".venv/bin/kurilwatch"),
        ("/src/kw/bot/cli.py", None, "/src/kw", "kurilwatch"),  # python -m bot.cli
    ],
)
def test_the_suggested_commands_name_kurilwatch_as_the_shell_finds_it(
    argv0: str, found: str | None, cwd: str, named: str
) -> None:
    """Started as README says (`.venv/bin/kurilwatch demo --keep`), a bare `kurilwatch` in the
    suggestions was "command not found" outside the venv."""
    assert program(argv0, found, cwd) == named
    line = next_commands(Path("kept"), {"kuril": 1}, named)[0]
    assert shlex.split(line, comments=True)[0] == shlex.split(named)[0]
