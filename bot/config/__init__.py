"""`config.yaml` → a frozen, validated `Config`; every error names its key path and line."""

from __future__ import annotations

import contextlib
import os
import re
import stat
from collections.abc import Callable, Collection, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from bot.config.errors import AtKey, describe, key_path
from bot.delivery.limits import Limits
from bot.delivery.plan import SettingError, parse_digest, parse_quiet, zone_name
from watchers.config import (
    Duration,
    FeedConfig,
    Model,
    PollConfig,
    TopicConfig,
    format_duration,
)
from watchers.config_checks import config_warnings, lines_of, was_known
from watchers.topics.query import conditions, parse

DEFAULT_API_BASE_URL = "https://api.telegram.org/bot"
MAX_CONFIG_BYTES = 32 * 1024 * 1024  # 100,000 topics are about 8 MB
MAX_WARNINGS = 100  # shown of a config's warnings (a generated config may have thousands)


class StoreConfig(Model):
    path: Path = Path("data/kurilwatch.db")
    retention: Duration = timedelta(days=90)  # items' text is kept this long
    keys_retention: Duration = timedelta(days=365)  # their dedup keys this long

    @model_validator(mode="after")
    def _keys_outlive_text(self) -> StoreConfig:
        # a prune deletes an item at the shorter of the two: its text is gone with its keys,
        # and an item its feed still lists comes back as new, alerted again. Left out, the
        # keys are kept as long as the text (a config of `retention: 400d` alone, valid
        # before this rule, still loads); the text left out goes with the keys, as a prune
        # deleted it before the rule (`keys_retention: 30d` alone still loads too)
        if self.keys_retention < self.retention and "keys_retention" not in self.model_fields_set:
            object.__setattr__(self, "keys_retention", self.retention)
        if self.keys_retention < self.retention and "retention" not in self.model_fields_set:
            object.__setattr__(self, "retention", self.keys_retention)
        if self.keys_retention < self.retention:
            raise AtKey(
                ("keys_retention",),
                f"{format_duration(self.keys_retention)} is shorter than store.retention"
                f" ({format_duration(self.retention)}): an item's dedup keys are kept at least"
                " as long as its text",
            )
        return self


class TelegramConfig(Model):
    token_env: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")] = "TELEGRAM_BOT_TOKEN"
    api_base_url: Annotated[str, Field(pattern=r"^https?://\S+$")] = DEFAULT_API_BASE_URL
    admins: tuple[int, ...] = ()
    link_previews: bool = False
    timezone: str = "UTC"  # IANA name; alert times are shown in it
    max_watches: Annotated[int, Field(ge=0, le=100)] = 10  # personal queries per chat

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError, OSError):  # "Asia" is a folder of zones
            raise ValueError(f"{name!r} is not a time zone (use a name like Asia/Tokyo)") from None
        return name

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class DeliveryConfig(Limits):
    """How fast alerts go out (the send limits: `Limits`) and how long failures are retried."""

    concurrency: Annotated[int, Field(ge=1, le=16)] = 4  # a crash can repeat at most these
    # a chat with more alerts than this waiting gets them as one digest message (0: never)
    burst_digest: Annotated[int, Field(ge=0, le=1000)] = 10
    deadline: Duration = timedelta(hours=24)  # 5xx and network errors are retried this long
    max_backoff: Duration = timedelta(minutes=10)


class ChannelConfig(Model):
    """A channel (or group) that gets every alert of some topics, without subscribing."""

    chat: Annotated[str, Field(pattern=r"^(@[A-Za-z][A-Za-z0-9_]{3,31}|-?[0-9]+)$")]
    topics: tuple[str, ...]
    # the language its alerts are written in (no member of a channel sends it a /language);
    # left out, a group keeps its own and a channel writes English
    language: Literal["en", "ru", "ja"] | None = None
    # what /timezone, /digest and /quiet set in a chat, stored in their forms; left out, a
    # group keeps its current one (its admins') and a channel has none
    timezone: str | None = None
    digest: str | None = None
    quiet: str | None = None
    news_languages: tuple[Literal["en", "ru", "ja"], ...] | None = None  # what /lang sets
    muted_sources: tuple[str, ...] | None = None  # feed ids, what /sources mutes

    @field_validator("chat", mode="before")
    @classmethod
    def _text(cls, chat: object) -> object:
        return str(chat) if isinstance(chat, int) and not isinstance(chat, bool) else chat

    @field_validator("timezone")
    @classmethod
    def _zone(cls, name: str | None) -> str | None:
        if name is None:
            return None
        if (known := zone_name(name)) is None:
            raise ValueError(
                f"{name!r} is not a time zone (use an Area/City name like Asia/Tokyo, or UTC+3)"
            )
        return known

    @field_validator("news_languages", "muted_sources")
    @classmethod
    def _once_each(cls, values: tuple[str, ...] | None) -> tuple[str, ...] | None:
        return None if values is None else tuple(dict.fromkeys(values))

    @field_validator("digest", "quiet", mode="before")
    @classmethod
    def _off(cls, value: object) -> object:
        return "off" if value is False else value  # YAML reads a bare `off` as false

    @field_validator("digest")
    @classmethod
    def _digest(cls, value: str | None) -> str | None:
        return None if value is None else _setting(parse_digest, value)

    @field_validator("quiet")
    @classmethod
    def _quiet(cls, value: str | None) -> str | None:
        return None if value is None else _setting(parse_quiet, value)


def _setting(parse: Callable[[list[str]], str], value: str) -> str:
    """A chat setting written as its command's arguments, in its stored form; the command's
    own message, less the command's name, if it is not one."""
    try:
        return parse(value.split())
    except SettingError as exc:
        raise ValueError(re.sub(r"/(digest|quiet) ", "", str(exc))) from None


class MetricsConfig(Model):
    """/metrics, /healthz and the Atom feeds over HTTP; off unless `listen` is set."""

    listen: Annotated[
        str | None, Field(pattern=r"^(127\.\d+\.\d+\.\d+|localhost|\[::1\]):\d{1,5}$")
    ] = None
    stuck_after: Duration = timedelta(minutes=30)  # queued this long and nothing sent: unhealthy
    # where subscribers reach the listener's /feeds/ (a reverse proxy); default http://<listen>
    public_url: Annotated[str | None, Field(pattern=r"^https?://\S+$")] = None

    @property
    def feeds_url(self) -> str | None:
        """The base URL of the Atom feeds, or None when the listener is off."""
        if self.listen is None:
            return None
        return (self.public_url or f"http://{self.listen}").rstrip("/") + "/feeds"

    @field_validator("listen")
    @classmethod
    def _port_in_range(cls, listen: str | None) -> str | None:
        if listen is not None and int(listen.rpartition(":")[2]) > 65535:
            raise ValueError(f"{listen!r}: a port is 0-65535 (0: any free port)")
        return listen

    @property
    def address(self) -> tuple[str, int] | None:
        if self.listen is None:
            return None
        host, _, port = self.listen.rpartition(":")
        return host.strip("[]"), int(port)


class Config(Model):
    store: StoreConfig = StoreConfig()
    telegram: TelegramConfig = TelegramConfig()
    delivery: DeliveryConfig = DeliveryConfig()
    poll: PollConfig = PollConfig()
    feeds: tuple[FeedConfig, ...] = ()
    topics: dict[Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]*$")], TopicConfig]
    channels: tuple[ChannelConfig, ...] = ()
    metrics: MetricsConfig = MetricsConfig()

    @field_validator("feeds")
    @classmethod
    def _unique_feed_ids(cls, feeds: tuple[FeedConfig, ...]) -> tuple[FeedConfig, ...]:
        seen: dict[str, int] = {}
        for n, feed in enumerate(feeds):
            if feed.id in seen:
                raise AtKey(
                    (n, "id"), f"feed id {feed.id!r} is used twice (also feeds[{seen[feed.id]}])"
                )
            seen[feed.id] = n
        return feeds

    @model_validator(mode="after")
    def _some_topics(self) -> Config:
        if not self.topics:
            raise AtKey(("topics",), "at least one topic is needed")
        feeds = [f.id for f in self.feeds]
        if feeds:  # a config of no feeds (for `match`) may name any source
            for tid, topic in self.topics.items():
                if source := unknown_source(topic.query, feeds):
                    raise AtKey(
                        ("topics", tid, "query"),
                        f"source:{source} is no feed of this config, nor an outlet prefix of"
                        f" one (feeds: {', '.join(feeds[:10])}{', ...' * (len(feeds) > 10)})",
                    )
        chats: dict[str, int] = {}
        for n, channel in enumerate(self.channels):
            # Telegram's @names ignore case; "-100123" and "-0100123" are one id
            chat = channel.chat.lower() if channel.chat.startswith("@") else str(int(channel.chat))
            if chat in chats:
                raise AtKey(
                    ("channels", n, "chat"),
                    f"{channel.chat} is listed twice (also channels[{chats[chat]}]); list a chat"
                    " once, with all its topics",
                )
            chats[chat] = n
            for k, feed in enumerate(channel.muted_sources or ()):
                if feeds and feed not in feeds:
                    raise AtKey(
                        ("channels", n, "muted_sources", k),
                        f"{feed!r} is no feed id of this config (feeds: {', '.join(feeds[:10])}"
                        f"{', ...' * (len(feeds) > 10)})",
                    )
            unknown = [t for t in channel.topics if t not in self.topics]
            if unknown or not channel.topics:
                raise AtKey(
                    ("channels", n, "topics"),
                    f"{', '.join(map(repr, unknown)) or 'none given'};"
                    f" use topic ids of this config: {', '.join(self.topics)}",
                )
        return self

    def token(self, environ: dict[str, str] | None = None) -> str | None:
        """The bot token from the environment, if set."""
        value = (environ if environ is not None else os.environ).get(self.telegram.token_env, "")
        return value.strip() or None


def unknown_source(query: str, feeds: Sequence[str]) -> str | None:
    """The first `source:` of `query` that no feed id is, or starts as (`tass` of `tass-en`):
    a typo, or a feed renamed since, would match nothing, silently."""
    if "source:" not in query:
        return None
    for meta in conditions(parse(query)):
        value = meta.value
        if meta.name == "source" and not any(
            f == value or f.startswith(value + "-") for f in feeds
        ):
            return value
    return None


class ConfigError(Exception):
    """A config that cannot be used; `str()` is one line per problem."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = list(problems)


Stamp = tuple[int, int, int]


def config_stamp(path: str | Path | None) -> Stamp | None:
    """A config file's inode, modification time and size, which tell an edit (a rename over
    it included) without reading the file; None without one."""
    if path is None:
        return None
    try:
        status = Path(path).stat()
    except OSError:
        return None
    return status.st_ino, status.st_mtime_ns, status.st_size


def load_config(path: str | Path, *, regular_only: bool = False) -> Config:
    """Read and validate a config file; relative paths in it are relative to its folder.
    `regular_only` (a running daemon's reloads) refuses at once anything but a regular file:
    a named pipe read again would wait for a writer for ever."""
    path = Path(path)
    try:
        text = _read_text(path, regular_only)
    except FileNotFoundError:
        raise ConfigError(
            [f"{path}: config file not found (pass --config PATH, or copy the shipped config.yaml)"]
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"{path}: cannot read the config file: {exc}"]) from None
    settings = parse_config(text, source=str(path))
    store_path = settings.store.path
    if not store_path.is_absolute():
        store_path = (path.resolve().parent / store_path).resolve()
    return settings.model_copy(
        update={"store": settings.store.model_copy(update={"path": store_path})}
    )


def config_warnings_of(
    settings: Config, path: str | Path, known: Collection[tuple[str, ...]] = ()
) -> list[str]:
    """What `settings` (loaded from `path`) holds that is likely not meant
    (`watchers.config_checks`; not those whose `about` is `known`), the first MAX_WARNINGS named
    as an error is: the file, the key's line (where the file can be read again: not a pipe) and
    its path."""
    found = config_warnings(settings.feeds, settings.topics)
    warnings = [w for w in found if not was_known(w.about, known)] if known else found
    node = None
    if warnings and regular_file(path):
        with contextlib.suppress(Exception):  # changed meanwhile: the key paths still say it
            node = yaml.compose(_read_text(Path(path), True), Loader=_SafeLoader)
    shown = warnings[:MAX_WARNINGS]
    lines = lines_of(node, (w.loc for w in shown))
    out = [
        f"{path}{f' line {n}' if n else ''}: {key_path(w.loc)}: {w.message}"
        for n, w in zip(lines, shown, strict=True)
    ]
    if len(warnings) > len(shown):
        out.append(f"{path}: {len(warnings) - len(shown)} more warnings like these")
    return out


def _read_text(path: Path, regular_only: bool) -> str:
    """The file's text, up to MAX_CONFIG_BYTES also when it is a pipe or a device (such as
    /dev/zero, which never ends)."""
    # O_NONBLOCK: a named pipe opens without waiting for a writer, so it can be refused
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | (os.O_NONBLOCK if regular_only else 0))
    mode = os.fstat(fd).st_mode
    if stat.S_ISDIR(mode) or (regular_only and not stat.S_ISREG(mode)):
        os.close(fd)
        raise ConfigError([f"{path}: not a regular file ({file_kind(mode)})"])
    with os.fdopen(fd, "rb") as file:
        data = file.read(MAX_CONFIG_BYTES + 1)
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError([f"{path}: larger than {MAX_CONFIG_BYTES} bytes"])
    return data.decode("utf-8")


def file_kind(mode: int) -> str:
    """What a file of `st_mode` `mode` is, in a few words."""
    if stat.S_ISREG(mode):
        return "a file"
    if stat.S_ISDIR(mode):
        return "a folder"
    return "a named pipe" if stat.S_ISFIFO(mode) else "a device or socket"


def regular_file(path: str | Path) -> bool:
    """Whether `path` is a regular file (a link to one included), which can be read again."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False


# libyaml's parser where PyYAML has it: a config of 100,000 topics loads in seconds, not minutes
try:
    from yaml import CSafeLoader as _SafeLoader
except ImportError:  # PyYAML built without libyaml
    from yaml import SafeLoader as _SafeLoader  # type: ignore[assignment]


_MERGE_TAG = "tag:yaml.org,2002:merge"


class _UniqueKeyLoader(_SafeLoader):
    """A safe loader that refuses a key written twice in one mapping (PyYAML keeps the last)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _value in node.value:
            if key_node.tag == _MERGE_TAG:  # `<<: *defaults`: merged below, never constructed
                key: Any = "<<"
            else:
                key = self.construct_object(key_node, deep=deep)
            if not isinstance(key_node, yaml.ScalarNode):  # `? [a, b]`: unhashable, and no key
                raise yaml.constructor.ConstructorError(
                    None, None, "a key is a plain word, not a list or mapping", key_node.start_mark
                )
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} is written twice", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def parse_config(text: str, *, source: str = "config") -> Config:
    """Parse and validate config text; any problem of the text, whatever raised it, is a
    `ConfigError` (a candidate config must never take down the caller)."""
    try:
        return _parse_config(text, source=source)
    except ConfigError:
        raise
    except RecursionError:
        raise ConfigError([f"{source}: nested too deeply to read"]) from None
    except Exception as exc:  # whatever the text makes a validator raise
        detail = one_line(f"{type(exc).__name__}: {exc}")[:300]
        raise ConfigError([f"{source}: cannot be used: {detail}"]) from None


def one_line(text: str) -> str:
    return " ".join(text.split())


def _yaml_problem_in_words(problem: str, text: str, mark: Any) -> str:
    """YAML's "found character that cannot start any token" told an operator nothing about
    the tab an editor put in, or the `@` of a username: name the character and the cure."""
    known = "cannot start any token" in problem or "tab character" in problem
    if mark is None or not known:
        return problem
    lines = text.splitlines()
    line = lines[mark.line] if mark.line < len(lines) else ""
    found = line[mark.column : mark.column + 1]
    if found == "\t" or "tab character" in problem:
        return "a tab character; YAML indents with spaces only (replace the tab with spaces)"
    if found in ("@", "`", "%"):
        return f"a value cannot start with {found!r} in YAML; put it in quotes"
    return problem


def _parse_config(text: str, *, source: str) -> Config:
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # a safe loader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        if "nesting depth" in problem:  # libyaml's own bound (1,000 levels), worded as ours
            problem = "nested too deeply to read"
        problem = _yaml_problem_in_words(problem, text, mark)
        raise ConfigError([f"{source}{where}: invalid YAML: {problem}"]) from None
    if data is None:
        raise ConfigError([f"{source}: the config file is empty"])
    if not isinstance(data, dict):
        raise ConfigError([f"{source}: the config must be a mapping of keys (store, feeds, ...)"])
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        node = yaml.compose(text, Loader=_SafeLoader)  # where each key is, to name its line
        raise ConfigError(
            [describe(error, node, source, Config) for error in exc.errors(include_url=False)]
        ) from None
