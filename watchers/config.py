"""Config models for what the watchers need: feeds, topics, poll defaults, durations."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    HttpUrl,
    ModelWrapValidatorHandler,
    PrivateAttr,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from watchers import bounded
from watchers.refusals import N_, Refused, written
from watchers.topics.query import QueryError, parse

_DURATION = re.compile(r"^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d))+$|^\d+(?:\.\d+)?$")
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)?")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "": 1}


def parse_duration(value: Any) -> timedelta:
    """`30s`, `5m`, `1h30m`, `2d`, `500ms` or a plain number of seconds, as a positive timedelta
    of at most ten years (`bounded.OutOfRange` beyond: a ValueError, so pydantic reports it)."""
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, bool):
        raise Refused(N_("expected a duration such as 30s, 5m, 1h or a number of seconds"))
    elif isinstance(value, float):
        seconds = value
    elif isinstance(value, int):
        # one past a float's range (10**309 s) is too long all the same, not an OverflowError
        seconds = float(min(max(value, -(10**300)), 10**300))
    elif isinstance(value, str) and _DURATION.match(value.strip()):
        seconds = sum(float(number) * _UNITS[unit] for number, unit in _PART.findall(value.strip()))
    else:
        raise Refused(
            N_("{value} is not a duration; write it as 30s, 5m, 1h or a number of seconds"),
            value=written(value),
        )
    return timedelta(seconds=bounded.duration_seconds(seconds, shown=value))


def format_duration(value: timedelta) -> str:
    """The short form operators write: 90s → 1m30s, 300s → 5m."""
    seconds = value.total_seconds()
    if seconds < 1:
        return f"{seconds * 1000:g}ms"
    out = ""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            count, seconds = divmod(seconds, size)
            out += f"{int(count)}{unit}"
    if seconds or not out:
        out += f"{seconds:g}s"
    return out


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


def _no_boolean(wanted: str) -> BeforeValidator:
    """YAML reads `yes`, `on` and `true` as true, which pydantic takes as the number 1 (and
    `no`, `off` as 0): refused where a number is wanted, saying what to write."""

    def refuse(value: object) -> object:
        if isinstance(value, bool):
            raise PydanticCustomError(
                "bool_not_number",
                N_("{value} is not a number; write {wanted}"),
                {"value": str(value).lower(), "wanted": wanted},
            )
        return value

    return BeforeValidator(refuse)


Whole = Annotated[int, _no_boolean(N_("a whole number"))]  # every integer key of the config
Number = Annotated[float, _no_boolean(N_("a number"))]  # and every other number


class Model(BaseModel):
    """Frozen, strict about unknown keys."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class PollConfig(Model):
    interval: Duration = timedelta(minutes=5)
    max_interval: Duration = timedelta(hours=1)  # TTL and cache headers raise up to this
    max_backoff: Duration = timedelta(hours=6)
    timeout: Duration = timedelta(seconds=20)  # connect, read and write, each
    total_timeout: Duration = timedelta(seconds=60)  # one fetch, redirects and body included
    max_bytes: Whole = Field(default=10 * 1024 * 1024, gt=0, le=1024**3)
    concurrency: Whole = Field(default=32, ge=1, le=1000)
    per_host: Whole = Field(default=4, ge=1, le=100)
    gone_after: Duration = timedelta(days=7)  # a feed answering 404 this long is disabled


class FeedConfig(Model):
    id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]*$", max_length=64)]
    url: HttpUrl
    title: str | None = None
    interval: Duration | None = None
    adaptive: bool = False  # poll as often as the feed publishes, within interval..max_interval
    full_text: bool = False  # summarise matched items from their article page, not the feed text
    lang: Literal["en", "ru", "ja"] | None = None  # the feed's language; else read from the text

    @field_validator("url")
    @classmethod
    def _http_only(cls, url: HttpUrl) -> HttpUrl:
        if url.scheme not in ("http", "https"):
            raise Refused(N_("feed URLs must be http or https"))
        return url

    _written_url: str = PrivateAttr(default="")

    @model_validator(mode="wrap")
    @classmethod
    def _keep_written(cls, data: Any, handler: ModelWrapValidatorHandler[FeedConfig]) -> FeedConfig:
        feed = handler(data)
        if isinstance(data, dict) and isinstance(data.get("url"), str):
            feed._written_url = data["url"]
        return feed

    @property
    def written_url(self) -> str:
        """The URL as the config wrote it, before it was read as a browser reads it."""
        return self._written_url or str(self.url)

    def __eq__(self, other: object) -> bool:
        """Its fields alike; not how its URL was written (pydantic compares private attributes
        too): a slip corrected as `check` asks is no change for a reload to poll the feed for."""
        if not isinstance(other, FeedConfig):
            return NotImplemented
        return type(self) is type(other) and self.__dict__ == other.__dict__


class QueryValueError(ValueError):
    """A topic's query that does not parse, as its validator refuses it: `column` is where in
    the query (1-based), `problem` what is wrong there, which the config's error places in the
    file (a query folded over lines has its column in the joined text)."""

    def __init__(self, error: QueryError) -> None:
        self.error = error  # its msgid and values, said in each reader's language
        self.column = error.column
        # "in the query" places a word; "the query is empty" needs no place
        named = "the query" in error.message
        self.problem = error.message if named else f"{error.message} in the query"
        super().__init__(f"column {self.column}: {self.problem}")


class TopicConfig(Model):
    title: str
    query: str

    @field_validator("title")
    @classmethod
    def _named(cls, title: str) -> str:
        if not title.strip():  # a blank button, or gettext's catalogue header where it is shown
            raise Refused(N_("empty: the title is the name subscribers see; write one"))
        return title

    @field_validator("query")
    @classmethod
    def _parses(cls, query: str) -> str:
        try:
            parse(query)
        except QueryError as exc:
            raise QueryValueError(exc) from None
        except RecursionError:  # MAX_DEPTH stops nesting; this is the last guard
            raise Refused(N_("the query is nested too deeply")) from None
        return query
