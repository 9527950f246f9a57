"""A config's validation errors in words: each names the file, the line of the key, its path
(`feeds[3].interval`) and what is wrong, in a msgid and its values that each reader's language
says (`PlacedError`); a validator's own (`Refusal`); and a warning so placed (`PlacedWarning`)."""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from types import UnionType
from typing import Any, NamedTuple, Union, get_args, get_origin

import yaml
from pydantic import BaseModel

from bot.config.yaml_text import PlacedError, in_file, text_position
from bot.i18n import EN, N_, Joined, Message, Plural, Quoted, Said, Value
from watchers.config import QueryValueError
from watchers.config_checks import WarningValue, filled, written_as
from watchers.config_checks import find as _find  # where a key is, to name its line
from watchers.refusals import Refused, RefusedValue, Written
from watchers.text import counted


class PlacedWarning(NamedTuple):
    """A config warning as `config_warnings_of` names it: the file and the key's line, the key
    path, and why (a msgid of the bot's catalogues and its values: `Warning.template`); or,
    with `more`, the count of those past the ones named."""

    where: Value  # `in_file`: "config.yaml line 9, column 12", or the file alone
    key: str  # "feeds[1].url"
    why: str
    values: Mapping[str, WarningValue]  # numbers too: each reader's language writes them
    more: int = 0

    @property
    def text(self) -> str:
        """The line `kurilwatch check` prints and the log writes, in English."""
        where = EN.say(self.where)
        if self.more:
            return f"{where}: {counted(self.more, 'more warning', 'more warnings')} like these"
        return f"{where}: {self.key}: {filled(self.why, self.values)}"


class Refusal(ValueError):
    """A validator's refusal in words each reader's language says (a msgid of the bot's
    catalogues and its values); about a key below the one it checks where `loc` names it
    (from there on). `str()` is the English."""

    def __init__(self, why: str, loc: tuple[int | str, ...] = (), **values: Value) -> None:
        super().__init__(EN.said(why, values))
        self.why, self.values, self.loc = why, values, loc


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
) -> list[PlacedError]:
    """The problems of `describe`, in the order of the file's lines (pydantic gives them in
    the order of the models' fields); those without a line last."""
    described = [describe(error, node, source, root, text) for error in errors]
    return [said for _, said in sorted(described, key=lambda d: (d[0] is None, d[0] or (0, 0)))]


def describe(
    error: Any, node: yaml.Node | None, source: str, root: type[BaseModel], text: str
) -> tuple[tuple[int, int] | None, PlacedError]:
    """A validation error of `root` (the config, read from `text`): the file, the key's line
    (a query's error: the line and column of the mistake), its path and what is wrong; and
    that line and column (0: none), where it has one."""
    loc, key = _key_loc(error, node)
    why = _why(error, loc, key, root)
    kind = error["type"]
    line, found = _find(node, loc)
    found = key or found
    if kind in _WANTED and found is not None:
        why = _not_a(found, _WANTED[kind])
    if kind == "bool_not_number" and isinstance(found, yaml.ScalarNode):  # `yes`, `on`, `off`
        read = {"written": found.value, "read": _as(str(error["ctx"]["value"]))}
        why = Said(N_("YAML reads {written} {read}; write {wanted}"), read | _wanted(error))
    where = in_file(source, line or 0)
    place = (line, 0) if line else None
    if isinstance(cause := error.get("ctx", {}).get("error"), QueryValueError):
        at = text_position(text, found, cause.column)
        # the user's words in the reader's marks; `check`'s English keeps Python's quotes
        values = {
            k: Quoted(v, english=repr(v)) if k in cause.error.quoted else v
            for k, v in cause.error.values.items()
        }
        query = Said(cause.error.template, values)
        if cause.problem != cause.error.message:  # "in the query" places a word
            query = Said(N_("{problem} in the query"), {"problem": query})
        # not found in the file's characters (a quoted query's escapes): the key's line, and
        # the column in the query's own text, which is no column of the file
        why = Said(
            N_("{problem} (character {column} of its text)"),
            {"problem": query, "column": str(cause.column)},
        )
        if at is not None:
            where, why, place = in_file(source, *at), query, at
    return place, PlacedError(where, key_path(loc), why.message, why.values)


def _why(error: Any, loc: list[int | str], key: yaml.Node | None, root: type[BaseModel]) -> Said:
    """What is wrong: a msgid of the bot's catalogues and its values."""
    message = str(error["msg"])
    kind = error["type"]
    cause = error.get("ctx", {}).get("error")
    got: dict[str, Value] = {"value": _shown(error.get("input"))}
    if kind == "extra_forbidden" and loc[:1] == ["telegram"] and str(loc[-1]).lower() in _TOKENS:
        # "did you mean token_env?" led the token into token_env, to be refused there
        return Said(
            N_(
                "the token is never written in the config: delete this line and put the token"
                " in the environment variable telegram.token_env names (export"
                " TELEGRAM_BOT_TOKEN=...)"
            )
        )
    if kind == "extra_forbidden":
        close = (
            difflib.get_close_matches(str(loc[-1]), _keys_of(root, loc[:-1]), n=1) if loc else []
        )
        if close:
            return Said(N_("unknown key; did you mean {key}?"), {"key": close[0]})
        return Said(N_("unknown key (check its spelling and indentation)"))
    if kind == "missing":
        return Said(N_("required key is missing"))
    if isinstance(cause, Refusal):
        return Said(cause.why, cause.values)
    if isinstance(cause, Refused):
        return Said(cause.template, {k: _value(v) for k, v in cause.values.items()})
    if kind == "value_error":  # a validator's words of no catalogue
        return Said(re.sub(r"^Value error, ", "", message))
    if kind == "string_pattern_mismatch" and loc and loc[-1] == "token_env":
        # without the value: it is the token itself, more often than not
        return Said(
            N_("write the variable's name (TELEGRAM_BOT_TOKEN) here, never the token itself")
        )
    if kind == "string_pattern_mismatch":
        shape = _shape(loc, on_key=key is not None or error["loc"][-1:] == ("[key]",))
        return Said(_FORMS.get(shape, _ANOTHER_FORM), got)
    if kind.startswith("int_") and loc[:2] == ["telegram", "admins"]:
        # an operator writes the @username they know; the bot checks numeric user ids
        return Said(
            N_(
                "a numeric Telegram user id such as 123456789, not a @username (the daemon's"
                " log names the id of each user it refuses an admin command); got {value}"
            ),
            got,
        )
    if kind in ("url_parsing", "url_scheme", "url_type"):
        return _bad_url(error["input"], message)
    if kind == "bool_not_number":  # (`watchers.config`'s words, said so where no line is)
        value = {"value": str(error["ctx"]["value"])}
        return Said(N_("{value} is not a number; write {wanted}"), value | _wanted(error))
    if message.startswith("Input should be ") and kind not in _WANTED:
        # "Input should be a valid boolean, unable to interpret input" quoted nothing
        if kind in _KINDS:
            return Said(_KINDS[kind], got)
        return _pydantics(message.removeprefix("Input "), got)
    return _pydantics(message, {})


def _value(value: RefusedValue) -> Value:
    """A refusal's value: a user's words quoted in the reader's marks, others as they are."""
    return Quoted(value.words, value.english) if isinstance(value, Written) else value


def _wanted(error: Any) -> dict[str, Value]:
    """What a number's key wants (`watchers.config`'s `_no_boolean`), in a msgid."""
    return {"wanted": Said(str(error["ctx"]["wanted"]))}


# pydantic's words for what a value should be (its message less "Input "), each as a msgid
# that says them alike in English, with the value refused: "; got {value}"
_SHOULD: dict[str, Message] = {
    r"should be greater than or equal to (?P<bound>\S+)": N_(
        "should be greater than or equal to {bound}; got {value}"
    ),
    r"should be greater than (?P<bound>\S+)": N_("should be greater than {bound}; got {value}"),
    r"should be less than or equal to (?P<bound>\S+)": N_(
        "should be less than or equal to {bound}; got {value}"
    ),
    r"should be less than (?P<bound>\S+)": N_("should be less than {bound}; got {value}"),
    r"should be a valid integer": N_("should be a valid integer; got {value}"),
    r"should be a valid number": N_("should be a valid number; got {value}"),
    r"should be a valid number, unable to parse string as a number": N_(
        "should be a valid number, unable to parse string as a number; got {value}"
    ),
    r"should be a finite number": N_("should be a finite number; got {value}"),
    r"should be a valid boolean": N_("should be a valid boolean; got {value}"),
    r"should be (?P<choices>'[^']*'(?:, '[^']*')* or '[^']*')": N_(
        "should be {choices}; got {value}"
    ),
    # a count: Russian's form follows it (не длиннее 21 символа, 64 символов)
    r"String should have at most (?P<most>\d+) characters?": Plural.ngettext(
        "String should have at most {most} character",
        "String should have at most {most} characters",
        "most",
    ),
}


def _pydantics(words: str, got: dict[str, Value]) -> Said:
    """pydantic's `words` of what a value should be, with the value refused (`got`), as a
    msgid of `_SHOULD`; where none says them alike, as they are (in every language)."""
    english = f"{words}; got {EN.say(got['value'])}" if got else words
    for pattern, why in _SHOULD.items():
        if (found := re.fullmatch(pattern, words)) is None:
            continue
        values: dict[str, Value] = {**found.groupdict(), **got}
        if choices := found.groupdict().get("choices"):
            *some, last = re.findall(r"'[^']*'", choices)
            values["choices"] = Said(
                N_("{some} or {last}"), {"some": Joined(tuple(some)), "last": last}
            )
        said = Said(why, values)
        if EN.say(said) == english:
            return said
    return Said(english)


_TOKENS = {"token", "bot_token", "api_token", "telegram_token", "telegram_bot_token"}
# what each key a pattern checks takes, in words (the pattern itself told an operator nothing)
_FORMS = {
    "topics.<key>": N_(
        "a topic id is lower-case letters, digits and '-', starting with a letter or digit;"
        " got {value}"
    ),
    "feeds[].id": N_(
        "ids are lower-case letters, digits and '-', starting with a letter or digit; got {value}"
    ),
    "channels[].chat": N_(
        "a channel's @username (@ and 4 to 32 letters, digits or _, starting with a letter) or"
        " a numeric chat id such as -1001234567890; got {value}"
    ),
    "metrics.listen": N_(
        "a local address and port, such as 127.0.0.1:9464, localhost:9464 or [::1]:9464 (for"
        " other machines, put a reverse proxy in front and set metrics.public_url); got {value}"
    ),
    "metrics.public_url": N_(
        "an address starting with http:// or https://, without spaces; got {value}"
    ),
    "telegram.api_base_url": N_(
        "an address starting with http:// or https://, without spaces; got {value}"
    ),
}
_ANOTHER_FORM = N_("not in the form this key takes (see the shipped config.yaml); got {value}")
_KINDS = {
    "bool_parsing": N_("write true or false; got {value}"),
    "int_parsing": N_("write a whole number; got {value}"),
    "int_from_float": N_("write a whole number; got {value}"),
}
MAX_SHOWN = 60  # characters of a refused value quoted in its message
# the URL parser's words for what is wrong in a URL, which a feed's error names
_URL_DETAILS = {
    N_("empty host"),
    N_("invalid international domain name"),
    N_("invalid port number"),
    N_("invalid IPv4 address"),
    N_("invalid IPv6 address"),
    N_("invalid domain character"),
    N_("input is empty"),
}


def _bad_url(value: object, message: str) -> Said:
    """A feed URL pydantic refused, in words: 'tass.com/rss' was "relative URL without a
    base", which told an operator nothing about the `https://` it lacks."""
    detail = message.removeprefix("Input should be a valid URL, ")
    got: dict[str, Value] = {"value": _shown(value)}
    if isinstance(value, str) and re.match(r"^[\w-]+(\.[\w-]+)+(/\S*)?$", value):
        whole = N_(
            "an address starting with http:// or https://, without spaces; got {value}; write"
            " it whole: {whole}"
        )
        return Said(whole, got | {"whole": _shown("https://" + value)})
    if detail != message and detail != "relative URL without a base":
        why = N_(
            "an address starting with http:// or https://, without spaces; got {value} ({detail})"
        )
        return Said(why, got | {"detail": Said(detail) if detail in _URL_DETAILS else detail})
    return Said(_FORMS["metrics.public_url"], got)


def _shape(loc: Sequence[int | str], *, on_key: bool) -> str:
    """The key path with list positions and a mapping's own keys left out: `feeds[].id`,
    `topics.<key>`."""
    path = key_path(loc[:-1] if on_key else loc)
    return re.sub(r"\[\d+\]", "[]", path) + (".<key>" if on_key else "")


def _shown(value: object) -> Quoted:
    """A refused value as its message quotes it: a long one cut."""
    text = value if isinstance(value, str) else str(value)
    cut = text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 4] + "…"
    return Quoted(cut, repr(cut))


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
    """The error's path without pydantic's tags (and with a `Refusal`'s own), and the key's
    node when the key itself is wrong. A key YAML read as a number or a boolean (`no:` is
    False, which pydantic shows as 0) is named as it is written."""
    loc: list[int | str] = []
    key = None
    cause = error.get("ctx", {}).get("error")
    parts = (*error["loc"], *(cause.loc if isinstance(cause, Refusal) else ()))
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
    # Translators: what a config's key wants written, as in "write text here"
    "string_type": N_("text"),
    "model_type": N_("keys (key: value lines)"),
    "dict_type": N_("keys (key: value lines)"),
    "tuple_type": N_("a list ([a, b] or lines starting with '- ')"),
    "path_type": N_("a file path"),
}


def _not_a(node: yaml.Node, wanted: str) -> Said:
    """Why a value is not what the key wants: nothing was written, or YAML read `no`, `off` or
    `2024` as a boolean or a number where text was meant, or it is another shape."""
    kind = node.tag.rpartition(":")[2]
    if kind == "null":
        return Said(N_("empty; write {wanted} here"), {"wanted": Said(wanted)})
    if wanted != _WANTED["string_type"] or kind not in ("bool", "int", "float", "timestamp"):
        return Said(N_("write {wanted} here"), {"wanted": Said(wanted)})
    value = yaml.load(node.value, Loader=yaml.SafeLoader)
    read = _as(str(value).lower())
    if kind != "bool":
        read = Said(N_("as a date") if kind == "timestamp" else N_("as a number"))
    why = N_("YAML reads {written} {read}; to mean the text, quote it: '{written}'")
    return Said(why, {"written": node.value, "read": read})


def _as(value: str) -> Said:
    """How YAML read a value: "as true" (a boolean, as YAML writes it)."""
    # Translators: how YAML read a value, as in "YAML reads yes as true" ({reading}: YAML's
    # own word, not the user's: true, false)
    return Said(N_("as {reading}"), {"reading": value})


def _is_pydantic_tag(part: int | str) -> bool:
    # dict keys of a validated mapping show up as "[key]" parts; union tags as "function-..."
    return isinstance(part, str) and (part == "[key]" or part.startswith("function-"))
