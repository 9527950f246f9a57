"""A config file read as YAML: its text (bounded, also from a pipe), the document, with a key
written twice refused, and YAML's problems in words naming their line; `ConfigError`."""

from __future__ import annotations

import bisect
import codecs
import functools
import os
import re
import stat
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

MAX_CONFIG_BYTES = 32 * 1024 * 1024  # 100,000 topics are about 8 MB


class ConfigError(Exception):
    """A config that cannot be used; `str()` is one line per problem."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = list(problems)


def read_text(path: Path, regular_only: bool) -> str:
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
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError([f"{path}{_not_utf8(data, exc.start)}"]) from None


_BOMS = (  # UTF-32's first: its little-endian mark starts with UTF-16's
    (codecs.BOM_UTF32_LE, "UTF-32"),
    (codecs.BOM_UTF32_BE, "UTF-32"),
    (codecs.BOM_UTF16_LE, "UTF-16"),
    (codecs.BOM_UTF16_BE, "UTF-16"),
)


def _not_utf8(data: bytes, at: int) -> str:
    """Where the bytes that are not UTF-8 are, as an editor names it (the byte's offset in the
    file was named), and what to do."""
    for mark, encoding in _BOMS:
        if data.startswith(mark):  # Notepad's "Unicode"
            return f": the file is {encoding} (its first bytes say so); save it as UTF-8"
    start = data.rfind(b"\n", 0, at) + 1
    column = len(data[start:at].decode("utf-8", errors="replace")) + 1
    line = data.count(b"\n", 0, at) + 1
    return (
        f" line {line}, column {column}: byte 0x{data[at]:02x} is not UTF-8 (the file is in"
        " another encoding, such as Latin-1 or Windows-1251); save it as UTF-8"
    )


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
                raise yaml.constructor.ConstructorError(
                    None, None, "a key is a plain word, not a list or mapping", key_node.start_mark
                )
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} is written twice", key_node.start_mark
                )
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
            raise yaml.constructor.ConstructorError(
                None, None, "a number too long to be any value here", node.start_mark
            ) from None


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
        if "nesting depth" in problem:  # libyaml's own bound (1,000 levels), worded as ours
            problem = "nested too deeply to read"
        opened = _quote_never_closed(exc, text)
        if opened:  # YAML's mark is the end of the file, a line past the last
            mark = exc.context_mark  # type: ignore[attr-defined]
            problem = (
                f"the {opened} that starts this value is never closed; close it"
                f" ({opened}...{opened}) on the value's last line"
            )
        else:
            problem = _yaml_problem_in_words(problem, text, mark)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError([f"{source}{where}: invalid YAML: {problem}"]) from None


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


def _yaml_problem_in_words(problem: str, text: str, mark: Any) -> str:
    """YAML's "found character that cannot start any token" told an operator nothing about
    the tab an editor put in, or the `@` of a username: name the character and the cure; nor
    did "mapping values are not allowed", a title holding ': ' or a key indented off."""
    if "mapping values are not allowed" in problem:
        return (
            "a ':' where no key can start; put a value holding ': ' in quotes"
            ' (title: "Kurils: the dispute"), and indent a key as the keys beside it'
        )
    if mark is None:
        return problem
    lines = text.splitlines()
    line = lines[mark.line] if mark.line < len(lines) else ""
    before = line[: mark.column].rstrip()
    if before[-1:] in ('"', "'") and before.count(before[-1]) >= 2 and line[mark.column :]:
        # `query: "peace treaty" AND japan`: libyaml's "did not find expected key"
        return (
            "a value that starts with a quote ends at its closing quote, and text follows it"
            """ here; put the whole value in single quotes, a ' in it written ''"""
            """ ('"peace treaty" AND japan'), or start it on the next line after >-"""
        )
    if before[-1:] in ("]", "}") and line[mark.column :]:  # `title: [Live] Kuril Islands`
        return (
            "a value that starts with [ or { is a YAML list or mapping, which ends at its"
            " closing bracket, and text follows it here; put the whole value in quotes"
            ' (title: "[Live] Kuril Islands")'
        )
    if problem.startswith(_INDENTED_OFF) and not before.strip():  # a key's own column
        return (
            "a line indented otherwise than the keys of its block; line each key up with the"
            " keys beside it (a list item's keys with the one after its '- '), with spaces"
        )
    if not ("cannot start any token" in problem or "tab character" in problem):
        return problem
    found = line[mark.column : mark.column + 1]
    if found == "\t" or "tab character" in problem:
        return "a tab character; YAML indents with spaces only (replace the tab with spaces)"
    if found in ("@", "`", "%"):
        return f"a value cannot start with {found!r} in YAML; put it in quotes"
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
