"""A config file read as YAML: its text (bounded, also from a pipe), the document, with a key
written twice refused, and YAML's problems in words naming their line; `ConfigError`, whose
problems (`PlacedError`) each reader's language says (`said_error`)."""

from __future__ import annotations

import bisect
import codecs
import functools
import os
import re
import stat
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any, NamedTuple

import yaml

from bot.i18n import EN, N_, Joined, Message, Quoted, Said, Value

MAX_CONFIG_BYTES = 32 * 1024 * 1024  # 100,000 topics are about 8 MB


class PlacedError(NamedTuple):
    """A problem of a config as `ConfigError` names it: the file, and the line (and column)
    where it is; the key path ("": the file's own problem); and why, a msgid of the bot's
    catalogues (or words of no catalogue: another program's, said as they are) and its
    values, each said in the reader's language (a user's words quoted in its marks)."""

    where: Value  # `in_file`: "config.yaml line 9, column 12", or the file alone
    key: str  # "feeds[1].url"
    why: Message
    values: Mapping[str, Value] = MappingProxyType({})

    @property
    def text(self) -> str:
        """The line `kurilwatch check` prints and the log writes, in English."""
        return EN.say(said_error(self))


def in_file(file: str, line: int = 0, column: int = 0) -> Value:
    """Where in a config file a problem is, said in the reader's language: "config.yaml line 9,
    column 12" (as `check` prints it), "config.yaml, строка 9, столбец 12", "config.yaml
    9行目12列"; the file alone without a line (0). The file and numbers are as they are."""
    if not line:
        return file
    if not column:
        # Translators: where in a config file a problem is, before its key path and what is
        # wrong ("config.yaml line 3: poll.interval: ..."); the numbers as they are
        return Said(N_("{file} line {line}"), {"file": file, "line": str(line)})
    # Translators: where in a config file a problem is: its line and the column in that line
    at = N_("{file} line {line}, column {column}")
    return Said(at, {"file": file, "line": str(line), "column": str(column)})


def said_error(error: PlacedError) -> Value:
    """A config's problem as the reader's language says it: its place in the reader's words,
    its file, numbers and key path as written (as `check` prints them), its why translated,
    the user's words quoted in the reader's marks; in English, `check`'s line byte for byte."""
    key = f": {error.key}: " if error.key else ": "
    return Joined((error.where, key, Said(error.why, error.values)), "run")


class ConfigError(Exception):
    """A config that cannot be used; `str()` is one line per problem, `problems` those lines
    (English, as `check` prints them), `errors` the problems to say in another language."""

    def __init__(self, errors: Sequence[PlacedError]) -> None:
        self.errors = list(errors)
        self.problems = [error.text for error in self.errors]
        super().__init__("\n".join(self.problems))


def read_text(path: Path, regular_only: bool) -> str:
    """The file's text, up to MAX_CONFIG_BYTES also when it is a pipe or a device (such as
    /dev/zero, which never ends)."""
    # O_NONBLOCK: a named pipe opens without waiting for a writer, so it can be refused
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | (os.O_NONBLOCK if regular_only else 0))
    mode = os.fstat(fd).st_mode
    if stat.S_ISDIR(mode) or (regular_only and not stat.S_ISREG(mode)):
        os.close(fd)
        kind = Said(file_kind(mode))
        raise ConfigError(
            [PlacedError(str(path), "", N_("not a regular file ({kind})"), {"kind": kind})]
        )
    with os.fdopen(fd, "rb") as file:
        data = file.read(MAX_CONFIG_BYTES + 1)
    if len(data) > MAX_CONFIG_BYTES:
        most = {"most": str(MAX_CONFIG_BYTES)}
        raise ConfigError([PlacedError(str(path), "", N_("larger than {most} bytes"), most)])
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError([_not_utf8(str(path), data, exc.start)]) from None


_BOMS = (  # UTF-32's first: its little-endian mark starts with UTF-16's
    (codecs.BOM_UTF32_LE, "UTF-32"),
    (codecs.BOM_UTF32_BE, "UTF-32"),
    (codecs.BOM_UTF16_LE, "UTF-16"),
    (codecs.BOM_UTF16_BE, "UTF-16"),
)


def _not_utf8(path: str, data: bytes, at: int) -> PlacedError:
    """Where the bytes that are not UTF-8 are, as an editor names it (the byte's offset in the
    file was named), and what to do."""
    for mark, encoding in _BOMS:
        if data.startswith(mark):  # Notepad's "Unicode"
            why = N_("the file is {encoding} (its first bytes say so); save it as UTF-8")
            return PlacedError(path, "", why, {"encoding": encoding})
    start = data.rfind(b"\n", 0, at) + 1
    column = len(data[start:at].decode("utf-8", errors="replace")) + 1
    line = data.count(b"\n", 0, at) + 1
    why = N_(
        "byte 0x{byte} is not UTF-8 (the file is in another encoding, such as Latin-1 or"
        " Windows-1251); save it as UTF-8"
    )
    return PlacedError(in_file(path, line, column), "", why, {"byte": f"{data[at]:02x}"})


def file_kind(mode: int) -> str:
    """What a file of `st_mode` `mode` is, in a few words (a msgid of the bot's catalogues)."""
    if stat.S_ISREG(mode):
        return N_("a file")
    if stat.S_ISDIR(mode):
        return N_("a folder")
    return N_("a named pipe") if stat.S_ISFIFO(mode) else N_("a device or socket")


def regular_file(path: str | Path) -> bool:
    """Whether `path` is a regular file (a link to one included), which can be read again."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False


# libyaml's parser where PyYAML has it: a config of 100,000 topics loads in seconds, not minutes
try:
    from yaml import CSafeLoader as SafeLoader
except ImportError:  # PyYAML built without libyaml
    from yaml import SafeLoader  # type: ignore[assignment]


_MERGE_TAG = "tag:yaml.org,2002:merge"


class _UniqueKeyLoader(SafeLoader):
    """A safe loader that refuses a key written twice in one mapping (PyYAML keeps the last),
    a mapping merged in by `<<` included."""

    def construct_document(self, node: yaml.Node) -> Any:
        # each mapping is checked once per document, before PyYAML flattens it (puts the keys
        # it merges beside its own): `- &fast {<<: *base, id: b}` then `- <<: *fast` was
        # refused, its flattened `id` read as written twice
        self._checked: set[int] = set()
        return super().construct_document(node)

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        self._keys_once(node, deep, self._checked)
        return super().construct_mapping(node, deep=deep)

    def _keys_once(self, node: yaml.MappingNode, deep: bool, checked: set[int]) -> None:
        """Refuse a key `node` has twice; so in the mappings its `<<` merges, which PyYAML
        merges without constructing them (`<<: &defaults {interval: 10m, interval: 1s}`, an
        anchor defined at its first use, kept the second `interval` silently)."""
        if id(node) in checked:
            return
        checked.add(id(node))
        seen: set[Any] = set()
        for key_node, value in node.value:
            if key_node.tag == _MERGE_TAG:  # `<<: *defaults`: merged below, never constructed
                key: Any = "<<"
                merged = value.value if isinstance(value, yaml.SequenceNode) else [value]
                for mapping in merged:
                    if isinstance(mapping, yaml.MappingNode) and id(mapping) not in checked:
                        self._keys_once(mapping, deep, checked)
            else:
                key = self.construct_object(key_node, deep=deep)
            if not isinstance(key_node, yaml.ScalarNode):  # `? [a, b]`: unhashable, and no key
                raise _Refused(N_("a key is a plain word, not a list or mapping"), key_node)
            if key in seen:
                raise _Refused(N_("key {key} is written twice"), key_node, key=_written(key))
            seen.add(key)

    def construct_yaml_int(self, node: yaml.ScalarNode) -> int:
        """An integer, or its line named: past Python's 4,300 digits, `int` refused it with a
        message of no key or line."""
        try:
            value: int = super().construct_yaml_int(node)
            # written in hexadecimal, binary or base 60, it is read whole: past the same
            # digits, every message that names it (pydantic's, ours) failed in its place
            str(value)
            return value
        except ValueError:
            raise _Refused(N_("a number too long to be any value here"), node) from None


class _Refused(yaml.constructor.ConstructorError):
    """A document our loader refuses, why said in each reader's language (`said`)."""

    def __init__(self, why: str, node: yaml.Node, **values: Value) -> None:
        self.said = Said(why, values)
        super().__init__(None, None, EN.say(self.said), node.start_mark)


def _written(key: object) -> Value:
    """A key as its problem names it: text quoted (as Python writes it, in English), another
    value YAML read (a number, a date) as Python writes it."""
    return Quoted(key, repr(key)) if isinstance(key, str) else repr(key)


_UniqueKeyLoader.add_constructor("tag:yaml.org,2002:int", _UniqueKeyLoader.construct_yaml_int)


# line breaks to YAML 1.1 (libyaml counts them), not to an editor nor `grep -n`: text pasted
# from a web page shifted every later line named, and one in a comment ended it
_INVISIBLE_BREAKS = str.maketrans({"\u0085": " ", "\u2028": " ", "\u2029": " "})


def _as_editors_read(text: str) -> str:
    """`text` with YAML's line breaks that no editor shows as one read as spaces."""
    return text.translate(_INVISIBLE_BREAKS)


def compose(text: str) -> yaml.Node | None:
    """The YAML nodes of `text`, with their lines (a safe loader's)."""
    return yaml.compose(_as_editors_read(text), Loader=SafeLoader)


def load_yaml(text: str, source: str) -> Any:
    """The YAML document of `text` (a safe loader's), or a `ConfigError` naming the line."""
    text = _as_editors_read(text)
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # a safe loader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        said: Value = getattr(exc, "said", None) or problem
        opened = _quote_never_closed(exc, text)
        if "nesting depth" in problem:  # libyaml's own bound (1,000 levels), worded as ours
            said = Said(N_("nested too deeply to read"))
        elif opened:  # YAML's mark is the end of the file, a line past the last
            mark = exc.context_mark  # type: ignore[attr-defined]
            said = Said(
                N_(
                    "the {quote} that starts this value is never closed; close it"
                    " ({quote}...{quote}) on the value's last line"
                ),
                {"quote": opened},
            )
        elif isinstance(said, str):
            said = _yaml_problem_in_words(problem, text, mark)
        where = in_file(source, mark.line + 1, mark.column + 1) if mark else source
        why = N_("invalid YAML: {problem}")
        raise ConfigError([PlacedError(where, "", why, {"problem": said})]) from None


def _quote_never_closed(exc: yaml.YAMLError, text: str) -> str | None:
    """The quote (`"` or `'`) of a quoted value YAML read to the end of the file for its
    closing quote, or None."""
    mark = getattr(exc, "context_mark", None)
    if getattr(exc, "context", None) != "while scanning a quoted scalar" or mark is None:
        return None
    if "end of stream" not in (getattr(exc, "problem", None) or ""):
        return None
    lines = text.splitlines()
    quote = lines[mark.line][mark.column : mark.column + 1] if mark.line < len(lines) else ""
    return quote if quote in ('"', "'") else None


def one_line(text: str) -> str:
    return " ".join(text.split())


# libyaml's words, and pure PyYAML's, for a key indented off its block's
_INDENTED_OFF = (
    "did not find expected key",
    "did not find expected '-' indicator",
    "expected <block end>",
)


def _yaml_problem_in_words(problem: str, text: str, mark: Any) -> Value:
    """YAML's "found character that cannot start any token" told an operator nothing about
    the tab an editor put in, or the `@` of a username: name the character and the cure; nor
    did "mapping values are not allowed", a title holding ': ' or a key indented off. YAML's
    other problems in its own words (translated where they are `_YAMLS`)."""
    if "mapping values are not allowed" in problem:
        return Said(
            N_(
                "a ':' where no key can start; put a value holding ': ' in quotes"
                ' (title: "Kurils: the dispute"), and indent a key as the keys beside it'
            )
        )
    if mark is None:
        return _yamls(problem)
    lines = text.splitlines()
    line = lines[mark.line] if mark.line < len(lines) else ""
    before = line[: mark.column].rstrip()
    if before[-1:] in ('"', "'") and before.count(before[-1]) >= 2 and line[mark.column :]:
        # `query: "peace treaty" AND japan`: libyaml's "did not find expected key"
        return Said(
            N_(
                "a value that starts with a quote ends at its closing quote, and text follows"
                """ it here; put the whole value in single quotes, a ' in it written ''"""
                """ ('"peace treaty" AND japan'), or start it on the next line after >-"""
            )
        )
    if before[-1:] in ("]", "}") and line[mark.column :]:  # `title: [Live] Kuril Islands`
        return Said(
            N_(
                "a value that starts with [ or { is a YAML list or mapping, which ends at its"
                " closing bracket, and text follows it here; put the whole value in quotes"
                ' (title: "[Live] Kuril Islands")'
            )
        )
    if problem.startswith(_INDENTED_OFF) and not before.strip():  # a key's own column
        return Said(
            N_(
                "a line indented otherwise than the keys of its block; line each key up with"
                " the keys beside it (a list item's keys with the one after its '- '), with"
                " spaces"
            )
        )
    if not ("cannot start any token" in problem or "tab character" in problem):
        return _yamls(problem)
    found = line[mark.column : mark.column + 1]
    if found == "\t" or "tab character" in problem:
        return Said(
            N_("a tab character; YAML indents with spaces only (replace the tab with spaces)")
        )
    if found in ("@", "`", "%"):
        return Said(
            N_("a value cannot start with {found} in YAML; put it in quotes"),
            {"found": repr(found)},
        )
    return _yamls(problem)


# YAML's (libyaml's and PyYAML's) words for the problems an edit likely makes, each a msgid
_YAMLS = {
    N_("did not find expected key"),
    N_("did not find expected node content"),
    N_("did not find expected ',' or ']'"),
    N_("did not find expected ',' or '}'"),
    N_("did not find expected '-' indicator"),
    N_("did not find expected <document start>"),
    N_("did not find expected alphabetic or numeric character"),
    N_("could not find expected ':'"),
    N_("found character that cannot start any token"),
    N_("found unexpected end of stream"),
    N_("found unknown escape character"),
    N_("found undefined alias"),
    N_("found unknown directive name"),
    N_("found duplicate %YAML directive"),
    N_("block sequence entries are not allowed in this context"),
    N_("mapping keys are not allowed in this context"),
    N_("but found another document"),
    N_("second occurrence"),
    N_("expected a mapping or list of mappings for merging, but found scalar"),
    N_("expected a mapping or list of mappings for merging, but found sequence"),
    N_("expected a mapping for merging, but found scalar"),
    N_("expected a mapping for merging, but found sequence"),
}
_TAG = re.compile(r"could not determine a constructor for the tag ('.*')", re.DOTALL)


def _yamls(problem: str) -> Value:
    """YAML's own words for a problem, translated where they are known; as they are else."""
    if problem in _YAMLS:
        return Said(problem)
    if tag := _TAG.fullmatch(problem):
        return Said(N_("could not determine a constructor for the tag {tag}"), {"tag": tag[1]})
    return problem


def text_position(text: str, node: yaml.Node | None, column: int) -> tuple[int, int] | None:
    """The 1-based line and column in the file `text` (the text `compose` read) of the
    `column`th character (1-based) of the scalar `node`'s value: a query folded over lines by
    `>-` had its error named at "column 824" of the joined text, on the key's line. None where
    the value is not the file's characters in order (a double-quoted scalar's escapes)."""
    if not isinstance(node, yaml.ScalarNode) or not isinstance(node.value, str):
        return None
    text, starts = _lines(text)
    begin, end = (
        starts[mark.line] + mark.column if mark.line < len(starts) else len(text)
        for mark in (node.start_mark, node.end_mark)
    )
    if node.style in ("|", ">"):  # the content starts on the line after `>-` (or `|2 # ...`)
        after = bisect.bisect_right(starts, begin)
        begin = starts[after] if after < len(starts) else end
    elif node.style in ('"', "'"):
        begin, end = begin + 1, end - 1  # inside the quotes
        if node.style == '"' and "\\" in text[begin:end]:
            return None
    # folding and indentation change only whitespace: the value's other characters are the
    # file's, one for one ('' in a single-quoted scalar is one ')
    places = []
    i = begin
    while i < end:
        if not text[i].isspace():
            places.append(i)
        i += 2 if node.style == "'" and text[i : i + 2] == "''" else 1
    value = node.value
    shown = [c for c in value if not c.isspace()]
    if [text[p] for p in places[: len(shown)]] != shown:
        return None
    at = min(max(column - 1, 0), len(value))
    before = sum(not c.isspace() for c in value[:at])
    if at < len(value) and not value[at].isspace():
        place = places[before]
    else:  # a space or the end: right after the character before it
        place = places[before - 1] + 1 if before else begin
    line = bisect.bisect_right(starts, place) - 1
    return line + 1, place - starts[line] + 1


@functools.lru_cache(maxsize=1)
def _lines(text: str) -> tuple[str, tuple[int, ...]]:
    """`text` as `compose` read it, and where each of its lines starts: read once for all the
    errors of a file (20,000 topics' broken queries took 6 minutes, the file read for each)."""
    text = _as_editors_read(text)
    return text, (0, *(m.end() for m in re.finditer(r"\r\n|\r|\n", text)))
