"""`config.yaml` → a frozen, validated `Config`; every error names its key path and line."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Collection, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from bot.config.channels import ChannelConfig as ChannelConfig
from bot.config.errors import PlacedWarning, Refusal, describe_all, key_path
from bot.config.quoted import plain_words, quoted_phrases
from bot.config.yaml_text import (
    ConfigError as ConfigError,
)
from bot.config.yaml_text import (
    PlacedError as PlacedError,
)
from bot.config.yaml_text import (
    compose,
    in_file,
    load_yaml,
    one_line,
    read_text,
    text_position,
)
from bot.config.yaml_text import (
    regular_file as regular_file,
)
from bot.config.yaml_text import (
    said_error as said_error,
)
from bot.delivery.limits import Limits
from bot.i18n import N_, Joined, Plural, Quoted, Said, Value
from watchers.config import (
    Duration,
    FeedConfig,
    Model,
    PollConfig,
    TopicConfig,
    Whole,
    format_duration,
)
from watchers.config_checks import Warning as ConfigWarning
from watchers.config_checks import config_warnings, places_of, was_known
from watchers.topics.query import parse
from watchers.topics.sources import no_feed

DEFAULT_API_BASE_URL = "https://api.telegram.org/bot"
MAX_WARNINGS = 100  # shown of a config's warnings (a generated config may have thousands)


class StoreConfig(Model):
    path: Path = Path("data/kurilwatch.db")
    retention: Duration = timedelta(days=90)  # items' text is kept this long
    keys_retention: Duration = timedelta(days=365)  # their dedup keys this long

    @field_validator("path", mode="before")
    @classmethod
    def _a_file(cls, path: object) -> object:
        if isinstance(path, str) and "\0" in path:  # resolving it raised, a traceback
            raise Refusal(N_("a NUL character is in the path; write the store file's path"))
        if isinstance(path, str) and (  # (its last name as written: pathlib drops a last '.')
            not path.strip() or path.replace(os.sep, "/").rsplit("/", 1)[-1] in ("", ".", "..")
        ):  # the config's folder, or another: `run` failed with "unable to open database file"
            raise Refusal(
                N_(
                    "{path} is a folder, not a file; name the store's file, such as"
                    " data/kurilwatch.db"
                ),
                path=Quoted(path, repr(path)),
            )
        return path

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
            raise Refusal(
                N_(
                    "{keys} is shorter than store.retention ({retention}): an item's dedup keys"
                    " are kept at least as long as its text"
                ),
                ("keys_retention",),
                keys=format_duration(self.keys_retention),
                retention=format_duration(self.retention),
            )
        return self


MAX_USER_ID = 2**53  # Telegram's user ids fit in 52 bits (its Bot API says so)


def _not_a_bool(value: object) -> object:
    if isinstance(value, bool):  # YAML's `true` is 1 to pydantic: admin id 1
        why = N_("{value} is not a user id; write a number such as 123456789")
        raise Refusal(why, value=str(value).lower())
    return value


def _a_user_id(value: int) -> int:
    if not 0 < value < MAX_USER_ID:  # SQLite stores 64 bits: a longer one stopped the daemon
        raise Refusal(
            N_(
                "{value} is not a Telegram user id: a user's id is a positive number of at most"
                " 16 digits, such as 123456789 (a negative id is a group's)"
            ),
            value=_cut(value),
        )
    return value


def _cut(value: int) -> Value:
    text = str(value)
    if len(text) <= 30:
        return text
    digits = Plural.ngettext("{start}... ({n} digit)", "{start}... ({n} digits)", "n")
    return Said(digits, {"start": text[:20], "n": str(len(text))})


UserId = Annotated[int, BeforeValidator(_not_a_bool), AfterValidator(_a_user_id)]


class TelegramConfig(Model):
    token_env: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")] = "TELEGRAM_BOT_TOKEN"
    api_base_url: Annotated[str, Field(pattern=r"^https?://\S+$")] = DEFAULT_API_BASE_URL
    admins: tuple[UserId, ...] = ()
    link_previews: bool = False
    timezone: str = "UTC"  # IANA name; alert times are shown in it
    max_watches: Annotated[Whole, Field(ge=0, le=100)] = 10  # personal queries per chat

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError, OSError):  # "Asia" is a folder of zones
            why = N_("{name} is not a time zone (use a name like Asia/Tokyo)")
            raise Refusal(why, name=Quoted(name, repr(name))) from None
        return name

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def api_host(self) -> str:
        """`api_base_url`'s scheme, host and port, as the log names where it signs in: never
        the requests' URL, whose path holds the token, nor a password before the host."""
        parts = urlsplit(self.api_base_url)
        return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"


class DeliveryConfig(Limits):
    """How fast alerts go out (the send limits: `Limits`) and how long failures are retried."""

    concurrency: Annotated[Whole, Field(ge=1, le=16)] = 4  # a crash can repeat at most these
    # a chat with more alerts than this waiting gets them as one digest message (0: never)
    burst_digest: Annotated[Whole, Field(ge=0, le=1000)] = 10
    deadline: Duration = timedelta(hours=24)  # 5xx and network errors are retried this long
    max_backoff: Duration = timedelta(minutes=10)


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
        return self.feeds_url_on(None)

    def feeds_url_on(self, port: int | None) -> str | None:
        """The base URL of the Atom feeds of the listener bound to `port` (`listen`'s port 0
        binds any free one; None: `listen`'s own), or None when the listener is off."""
        if self.listen is None:
            return None
        listen = self.listen if port is None else f"{self.listen.rpartition(':')[0]}:{port}"
        return (self.public_url or f"http://{listen}").rstrip("/") + "/feeds"

    @field_validator("listen")
    @classmethod
    def _port_in_range(cls, listen: str | None) -> str | None:
        if listen is not None and int(listen.rpartition(":")[2]) > 65535:
            why = N_("{listen}: a port is 0-65535 (0: any free port)")
            raise Refusal(why, listen=Quoted(listen, repr(listen)))
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
                raise Refusal(
                    N_("feed id {id} is used twice (also feeds[{first}])"),
                    (n, "id"),
                    id=Quoted(feed.id, repr(feed.id)),
                    first=str(seen[feed.id]),
                )
            seen[feed.id] = n
        return feeds

    @model_validator(mode="after")
    def _some_topics(self) -> Config:
        if not self.topics:
            raise Refusal(N_("at least one topic is needed"), ("topics",))
        feeds = [f.id for f in self.feeds]
        if feeds:  # a config of no feeds (for `match`) may name any source
            for tid, topic in self.topics.items():
                # under NOT too: a typo, or a feed renamed since, likely
                if missing := no_feed(parse(topic.query), feeds):
                    raise Refusal(
                        N_(
                            "source:{source} is no feed of this config, nor an outlet prefix of"
                            " one (feeds: {feeds})"
                        ),
                        ("topics", tid, "query"),
                        source=missing.source,
                        feeds=_some(feeds),
                    )
        chats: dict[str, int] = {}
        for n, channel in enumerate(self.channels):
            # Telegram's @names ignore case; "-100123" and "-0100123" are one id
            chat = channel.chat.lower() if channel.chat.startswith("@") else str(int(channel.chat))
            if chat in chats:
                raise Refusal(
                    N_(
                        "{chat} is listed twice (also channels[{first}]); list a chat once, with"
                        " all its topics"
                    ),
                    ("channels", n, "chat"),
                    chat=channel.chat,
                    first=str(chats[chat]),
                )
            chats[chat] = n
            for k, feed in enumerate(channel.muted_sources or ()):
                if feeds and feed not in feeds:
                    raise Refusal(
                        N_("{feed} is no feed id of this config (feeds: {feeds})"),
                        ("channels", n, "muted_sources", k),
                        feed=Quoted(feed, repr(feed)),
                        feeds=_some(feeds),
                    )
            unknown = [t for t in channel.topics if t not in self.topics]
            if unknown or not channel.topics:
                known = Joined(tuple(self.topics))
                if not unknown:
                    why = N_("none given; use topic ids of this config: {known}")
                    raise Refusal(why, ("channels", n, "topics"), known=known)
                raise Refusal(
                    N_("{topics}; use topic ids of this config: {known}"),
                    ("channels", n, "topics"),
                    topics=Joined(tuple(Quoted(t, repr(t)) for t in unknown)),
                    known=known,
                )
        return self

    def token(self, environ: dict[str, str] | None = None) -> str | None:
        """The bot token from the environment, if set."""
        value = (environ if environ is not None else os.environ).get(self.telegram.token_env, "")
        return value.strip() or None

    def malformed_token(self, token: str) -> str | None:
        """Why a token set is plainly none Telegram takes (Telegram would answer 401), said
        without any of its characters; None if it may be one."""
        bot_id, colon, key = token.partition(":")
        if token[0] in "'\"" or token[-1] in "'\"":  # an env file's quotes, taken literally
            problem = "it is in quotes"
        elif token[:3].lower() == "bot" and token[3:4].isdigit():  # the API URL's /bot<token>
            problem = "it starts with 'bot' (copied from an API URL?)"
        elif any(c.isspace() for c in token):
            problem = "it has a space or line break in it"
        elif not colon:
            problem = "it has no ':'"
        elif not (bot_id.isascii() and bot_id.isdigit() and key):
            problem = "it is not the bot's number, ':' and a key"
        else:
            return None
        return (
            f"the token in ${self.telegram.token_env} is malformed: {problem}; a token from"
            " @BotFather is the bot's number, ':' and a key, like 123456789:AA..."
        )


def _some(ids: Sequence[str], most: int = 10) -> Value:
    """The first `most` ids, listed as the reader's language lists them ("..." past them)."""
    return Joined((*ids[:most], *("...",) * (len(ids) > most)))


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
        text = read_text(path, regular_only)
    except FileNotFoundError:
        why = N_("config file not found (pass --config PATH, or copy the shipped config.yaml)")
        raise ConfigError([PlacedError(str(path), "", why)]) from None
    except (OSError, UnicodeDecodeError) as exc:
        why = N_("cannot read the config file: {error}")
        raise ConfigError([PlacedError(str(path), "", why, {"error": str(exc)})]) from None
    settings = parse_config(text, source=str(path))
    store_path = settings.store.path
    try:  # `~/kw.db` made a folder named ~ beside the config
        store_path = store_path.expanduser()
        if not store_path.is_absolute():
            store_path = (path.resolve().parent / store_path).resolve()
    except (OSError, ValueError, RuntimeError) as exc:  # a symlink loop; `~nobody-here/`
        why = N_("cannot be resolved: {error}")
        raise ConfigError(
            [PlacedError(str(path), "store.path", why, {"error": str(exc)})]
        ) from None
    return settings.model_copy(
        update={"store": settings.store.model_copy(update={"path": store_path})}
    )


def config_warnings_of(
    settings: Config,
    path: str | Path,
    known: Collection[tuple[str, ...]] = (),
    more: Sequence[ConfigWarning] = (),
) -> list[str]:
    """`placed_warnings`, each in the line `kurilwatch check` prints: in English."""
    return [warning.text for warning in placed_warnings(settings, path, known, more)]


def placed_warnings(
    settings: Config,
    path: str | Path,
    known: Collection[tuple[str, ...]] = (),
    more: Sequence[ConfigWarning] = (),
) -> list[PlacedWarning]:
    """What `settings` (loaded from `path`) holds that is likely not meant
    (`watchers.config_checks`, a query YAML took the quotes off (`quoted`: from the file read
    again), then `more`; not those whose `about` is `known`), the first
    MAX_WARNINGS named as an error is: the file, the key's line (where the file can be read
    again: not a pipe; a query's word: its line and column) and its path."""

    def new(found: Sequence[ConfigWarning]) -> list[ConfigWarning]:
        return [w for w in found if not was_known(w.about, known)]

    checked = new(config_warnings(settings.feeds, settings.topics, settings.poll))
    besides = new(more)
    text, node = "", None
    phrases = any(plain_words(topic.query) for topic in settings.topics.values())
    if (checked or besides or phrases) and regular_file(path):  # (a pipe's quotes go untold)
        with contextlib.suppress(Exception):  # changed meanwhile: the key paths still say it
            text = read_text(Path(path), True)
            node = compose(text)
    warnings = [*checked, *new(quoted_phrases(settings.topics, node)), *besides]
    shown = warnings[:MAX_WARNINGS]
    places = places_of(node, (w.loc for w in shown))
    out = [
        PlacedWarning(_where(str(path), text, place, w.at), key_path(w.loc), w.template, w.values)
        for place, w in zip(places, shown, strict=True)
    ]
    if len(warnings) > len(shown):
        out.append(PlacedWarning(str(path), "", "", {}, more=len(warnings) - len(shown)))
    return out


def _where(
    path: str, text: str, place: tuple[int | None, yaml.Node | None], at: tuple[str, int] | None
) -> Value:
    """The file and line 7 of a warning's key, or line 9, column 12 of the word in the query
    it names (where the file still holds that query): `in_file`."""
    line, node = place
    found = None
    if at is not None and isinstance(node, yaml.ScalarNode) and node.value == at[0]:
        found = text_position(text, node, at[1])
    if found is not None:
        return in_file(path, *found)
    return in_file(path, line or 0)


def parse_config(text: str, *, source: str = "config") -> Config:
    """Parse and validate config text; any problem of the text, whatever raised it, is a
    `ConfigError` (a candidate config must never take down the caller)."""
    try:
        return _parse_config(text, source=source)
    except ConfigError:
        raise
    except RecursionError:
        raise ConfigError([PlacedError(source, "", N_("nested too deeply to read"))]) from None
    except Exception as exc:  # whatever the text makes a validator raise
        detail = {"error": one_line(f"{type(exc).__name__}: {exc}")[:300]}
        raise ConfigError(
            [PlacedError(source, "", N_("cannot be used: {error}"), detail)]
        ) from None


def _parse_config(text: str, *, source: str) -> Config:
    data = load_yaml(text, source)
    if data is None:
        raise ConfigError([PlacedError(source, "", N_("the config file is empty"))])
    if not isinstance(data, dict):
        why = N_("the config must be a mapping of keys (store, feeds, ...)")
        raise ConfigError([PlacedError(source, "", why)])
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        node = compose(text)  # where each key is, to name its line
        raise ConfigError(
            describe_all(exc.errors(include_url=False), node, source, Config, text)
        ) from None
