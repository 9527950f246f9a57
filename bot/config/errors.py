"""A config's validation errors in words: each names the file, the line of the key, its path
(`feeds[3].interval`) and what is wrong; and a warning so placed (`PlacedWarning`)."""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from types import UnionType
from typing import Any, NamedTuple, Union, get_args, get_origin

import yaml
from pydantic import BaseModel

from bot.config.yaml_text import text_position
from watchers.config import QueryValueError
from watchers.config_checks import WarningValue, filled, written_as
from watchers.config_checks import find as _find  # where a key is, to name its line
from watchers.text import counted


class PlacedWarning(NamedTuple):
    """A config warning as `config_warnings_of` names it: the file and the key's line, the key
    path, and why (a msgid of the bot's catalogues and its values: `Warning.template`); or,
    with `more`, the count of those past the ones named."""

    where: str  # "config.yaml line 7", "config.yaml line 9, column 12", or the file alone
    key: str  # "feeds[1].url"
    why: str
    values: Mapping[str, WarningValue]  # numbers too: each reader's language writes them
    more: int = 0

    @property
    def text(self) -> str:
        """The line `kurilwatch check` prints and the log writes, in English."""
        if self.more:
            return f"{self.where}: {counted(self.more, 'more warning', 'more warnings')} like these"
        return f"{self.where}: {self.key}: {filled(self.why, self.values)}"


class AtKey(ValueError):
    """A validator's error about a key below the one it checks (`loc` from there on)."""

    def __init__(self, loc: tuple[int | str, ...], message: str) -> None:
        super().__init__(message)
        self.loc = loc


def key_path(loc: Sequence[int | str]) -> str:
    """('feeds', 3, 'interval') → 'feeds[3].interval'; a key written with a line break or a
    tab shown with it escaped ('inter\\nval'), on the one line of its message."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{written_as(part)}" if out else written_as(part)
    return out or "(top level)"


def describe_all(
    errors: Sequence[Any], node: yaml.Node | None, source: str, root: type[BaseModel], text: str
) -> list[str]:
    """The lines of `describe`, in the order of the file's lines (pydantic gives them in the
    order of the models' fields); those without a line last."""
    described = [describe(error, node, source, root, text) for error in errors]
    return [said for _, said in sorted(described, key=lambda d: (d[0] is None, d[0] or (0, 0)))]


def describe(
    error: Any, node: yaml.Node | None, source: str, root: type[BaseModel], text: str
) -> tuple[tuple[int, int] | None, str]:
    """One line of a validation error of `root` (the config, read from `text`): the file, the
    key's line (a query's error: the line and column of the mistake), its path and what is
    wrong; and that line and column (0: none), where it has one."""
    loc, key = _key_loc(error, node)
    message = str(error["msg"])
    kind = error["type"]
    if kind == "extra_forbidden" and loc[:1] == ["telegram"] and str(loc[-1]).lower() in _TOKENS:
        # "did you mean token_env?" led the token into token_env, to be refused there
        message = (
            "the token is never written in the config: delete this line and put the token in"
            " the environment variable telegram.token_env names (export TELEGRAM_BOT_TOKEN=...)"
        )
    elif kind == "extra_forbidden":
        close = (
            difflib.get_close_matches(str(loc[-1]), _keys_of(root, loc[:-1]), n=1) if loc else []
        )
        message = f"unknown key; did you mean {close[0]}?" if close else _UNKNOWN
    elif kind == "missing":
        message = "required key is missing"
    elif kind == "value_error":
        message = re.sub(r"^Value error, ", "", message)
    elif kind == "string_pattern_mismatch" and loc and loc[-1] == "token_env":
        # without the value: it is the token itself, more often than not
        message = "write the variable's name (TELEGRAM_BOT_TOKEN) here, never the token itself"
    elif kind == "string_pattern_mismatch":
        shape = _shape(loc, on_key=key is not None or error["loc"][-1:] == ("[key]",))
        wanted = _FORMS.get(shape, "not in the form this key takes (see the shipped config.yaml)")
        message = f"{wanted}; got {_shown(error['input'])}"
    elif kind.startswith("int_") and loc[:2] == ["telegram", "admins"]:
        # an operator writes the @username they know; the bot checks numeric user ids
        message = (
            "a numeric Telegram user id such as 123456789, not a @username (the daemon's log"
            f" names the id of each user it refuses an admin command); got {_shown(error['input'])}"
        )
    elif kind in ("url_parsing", "url_scheme", "url_type"):
        message = _bad_url(error["input"], message)
    elif message.startswith("Input should be ") and kind not in _WANTED:
        # "Input should be a valid boolean, unable to interpret input" quoted nothing
        wanted = _KINDS.get(kind) or message.removeprefix("Input ")
        message = f"{wanted}; got {_shown(error['input'])}"
    line, found = _find(node, loc)
    found = key or found
    if kind in _WANTED and found is not None:
        message = _not_a(found, _WANTED[kind])
    if kind == "bool_not_number" and isinstance(found, yaml.ScalarNode):  # `yes`, `on`, `off`
        message = (
            f"YAML reads {found.value} as {error['ctx']['value']}; write {error['ctx']['wanted']}"
        )
    where = f" line {line}" if line else ""
    place = (line, 0) if line else None
    if isinstance(cause := error.get("ctx", {}).get("error"), QueryValueError):
        at = text_position(text, found, cause.column)
        # not found in the file's characters (a quoted query's escapes): the key's line, and
        # the column in the query's own text, which is no column of the file
        message = f"{cause.problem} (character {cause.column} of its text)"
        if at is not None:
            where, message, place = f" line {at[0]}, column {at[1]}", cause.problem, at
    return place, f"{source}{where}: {key_path(loc)}: {message}"


_TOKENS = {"token", "bot_token", "api_token", "telegram_token", "telegram_bot_token"}
_UNKNOWN = "unknown key (check its spelling and indentation)"
_ID = "lower-case letters, digits and '-', starting with a letter or digit"
_URL = "an address starting with http:// or https://, without spaces"
# what each key a pattern checks takes, in words (the pattern itself told an operator nothing)
_FORMS = {
    "topics.<key>": f"a topic id is {_ID}",
    "feeds[].id": f"ids are {_ID}",
    "channels[].chat": "a channel's @username (@ and 4 to 32 letters, digits or _, starting"
    " with a letter) or a numeric chat id such as -1001234567890",
    "metrics.listen": "a local address and port, such as 127.0.0.1:9464, localhost:9464 or"
    " [::1]:9464 (for other machines, put a reverse proxy in front and set metrics.public_url)",
    "metrics.public_url": _URL,
    "telegram.api_base_url": _URL,
}
_KINDS = {
    "bool_parsing": "write true or false",
    "int_parsing": "write a whole number",
    "int_from_float": "write a whole number",
}
MAX_SHOWN = 60  # characters of a refused value quoted in its message


def _bad_url(value: object, message: str) -> str:
    """A feed URL pydantic refused, in words: 'tass.com/rss' was "relative URL without a
    base", which told an operator nothing about the `https://` it lacks."""
    detail = message.removeprefix("Input should be a valid URL, ")
    said = f"{_URL}; got {_shown(value)}"
    if isinstance(value, str) and re.match(r"^[\w-]+(\.[\w-]+)+(/\S*)?$", value):
        return f"{said}; write it whole: {_shown('https://' + value)}"
    if detail != message and detail != "relative URL without a base":
        return f"{said} ({detail})"
    return said


def _shape(loc: Sequence[int | str], *, on_key: bool) -> str:
    """The key path with list positions and a mapping's own keys left out: `feeds[].id`,
    `topics.<key>`."""
    path = key_path(loc[:-1] if on_key else loc)
    return re.sub(r"\[\d+\]", "[]", path) + (".<key>" if on_key else "")


def _shown(value: object) -> str:
    """A refused value as its message quotes it: a long one cut."""
    text = value if isinstance(value, str) else str(value)
    return repr(text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 4] + "…")


def _keys_of(root: type[BaseModel], loc: Sequence[int | str]) -> list[str]:
    """The keys the section at `loc` takes (`poll` → interval, timeout, ...), to name the one
    a misspelt key was meant to be; none where `loc` is no section."""
    kind: Any = root
    for part in (*loc, None):
        if get_origin(kind) in (Union, UnionType):  # `X | None`: the section's model
            kind = next((a for a in get_args(kind) if hasattr(a, "model_fields")), None)
        fields = getattr(kind, "model_fields", None)
        if not isinstance(fields, dict):  # the items of a list (`tuple[X, ...]`) or a mapping
            kind = next((a for a in reversed(get_args(kind)) if a is not Ellipsis), None)
        elif part is None:
            return list(fields)
        else:
            kind = fields[part].annotation if part in fields else None
    return []


def _key_loc(error: Any, node: yaml.Node | None) -> tuple[list[int | str], yaml.Node | None]:
    """The error's path without pydantic's tags (and with an `AtKey`'s own), and the key's node
    when the key itself is wrong. A key YAML read as a number or a boolean (`no:` is False,
    which pydantic shows as 0) is named as it is written."""
    loc: list[int | str] = []
    key = None
    cause = error.get("ctx", {}).get("error")
    parts = (*error["loc"], *(cause.loc if isinstance(cause, AtKey) else ()))
    on_key = bool(parts) and parts[-1] == "[key]"
    for n, part in enumerate(parts):
        if _is_pydantic_tag(part):  # "[key]" included: the key is the part before it
            continue
        read = error["input"] if on_key and n == len(parts) - 2 else part  # a date: its repr
        mapping = _find(node, loc)[1]
        key = _key_node(mapping, read) if not isinstance(read, str) else None
        loc.append(key.value if key is not None else part)
    return loc, key if on_key else None


def _key_node(mapping: yaml.Node | None, key: object) -> yaml.ScalarNode | None:
    """The key of `mapping` that YAML read as `key` (a number, a boolean, a date)."""
    if not isinstance(mapping, yaml.MappingNode):
        return None
    for node, _value in mapping.value:
        if not isinstance(node, yaml.ScalarNode) or node.tag.endswith(":str"):
            continue
        read = yaml.load(node.value, Loader=yaml.SafeLoader)
        if read == key or (read != read and key != key):  # `.nan:` is NaN, equal to nothing
            return node
    return None


# what a type error wanted, for a plain value YAML read as another type than was meant
_WANTED = {
    "string_type": "text",
    "model_type": "keys (key: value lines)",
    "dict_type": "keys (key: value lines)",
    "tuple_type": "a list ([a, b] or lines starting with '- ')",
    "path_type": "a file path",
}


def _not_a(node: yaml.Node, wanted: str) -> str:
    """Why a value is not what the key wants: nothing was written, or YAML read `no`, `off` or
    `2024` as a boolean or a number where text was meant, or it is another shape."""
    kind = node.tag.rpartition(":")[2]
    if kind == "null":
        return f"empty; write {wanted} here"
    if wanted != "text" or kind not in ("bool", "int", "float", "timestamp"):
        return f"write {wanted} here"
    value = yaml.load(node.value, Loader=yaml.SafeLoader)
    read = {"bool": str(value).lower(), "timestamp": "a date"}.get(kind, "a number")
    return f"YAML reads {node.value} as {read}; to mean the text, quote it: '{node.value}'"


def _is_pydantic_tag(part: int | str) -> bool:
    # dict keys of a validated mapping show up as "[key]" parts; union tags as "function-..."
    return isinstance(part, str) and (part == "[key]" or part.startswith("function-"))
