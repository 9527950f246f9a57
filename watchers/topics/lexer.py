"""The query language's tokens (`watchers.topics.query` parses them): words, quoted phrases,
parentheses, operators and fields, each with its column; and `QueryError`, a query that does not
parse, raised by both."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from watchers import bounded

MAX_NEAR = 50
DEFAULT_NEAR = 5
FIELDS = ("title", "summary", "content")
META_FIELDS = ("lang", "source")


class QueryError(ValueError):
    """A query that does not parse; `column` is 1-based."""

    def __init__(self, message: str, column: int, **values: object) -> None:
        self.template = message  # a msgid of the bot's catalogues, with `values`
        self.values = {name: str(value) for name, value in values.items()}
        self.message = message.format(**self.values) if values else message
        self.column = column
        super().__init__(f"column {column}: {self.message}")


def N_(message: str) -> str:
    """Mark a message for extraction into the bot's catalogues (bot/locales)."""
    return message


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # WORD, PHRASE, LPAREN, RPAREN, AND, OR, NOT, NEAR, FIELD, CASE, END
    text: str
    column: int
    number: int = 0


_OPERATORS = {"AND", "OR", "NOT"}
# an opening quote and the quotes that close it: ASCII, Russian «ёлочки» and „лапки“ (or „…”),
# English “…”; not ‘…’, whose ’ is the apostrophe inside words (O’Neil, Japan’s)
_QUOTES = {'"': '"', "«": "»", "„": "“”", "“": "”"}
_WORD_END = set("()").union(_QUOTES)  # and every space, U+3000 and U+00A0 too
# what a Japanese keyboard types for ASCII: the full-width forms ！ to ～ (（ ） ＂ － ＡＮＤ ...)
# and the ideographic space, read as ASCII one character for one, so columns stay as written
_ASCII_FORMS = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)} | {0x3000: ord(" ")}
_NEAR = re.compile(r"NEAR(?:/(.*))?$", re.DOTALL)
_FIELD = re.compile(r"([A-Za-z]+):")


def _ends_word(char: str) -> bool:
    return char.isspace() or char in _WORD_END


def lex(query: str) -> Iterator[Token]:
    query = query.translate(_ASCII_FORMS)
    i, n = 0, len(query)
    after_phrase = -1  # where a phrase's closing quote ended it: `«a b»-c` is `"a b" -c`
    while i < n:
        char, column = query[i], i + 1
        if char.isspace():
            i += 1
        elif char in "()":
            yield Token("LPAREN" if char == "(" else "RPAREN", char, column)
            i += 1
        elif char in _QUOTES:
            closing = _QUOTES[char]
            end = next((j for j in range(i + 1, n) if query[j] in closing), -1)
            if end < 0:
                raise QueryError(N_("unclosed quote"), column)
            yield Token("PHRASE", query[i + 1 : end], column)
            i = after_phrase = end + 1
        elif char in "-=" and (
            i in (0, after_phrase) or _ends_word(query[i - 1]) or query[i - 1] == ":"
        ):
            if i + 1 >= n or query[i + 1].isspace():
                raise QueryError(N_("'{char}' must stand right before its term"), column, char=char)
            yield Token("NOT" if char == "-" else "CASE", char, column)
            i += 1
        elif field := _FIELD.match(query, i):
            name = field.group(1)
            if name not in FIELDS + META_FIELDS:
                raise QueryError(
                    N_("unknown field '{name}:' (fields: {fields})"),
                    column,
                    name=name,
                    fields=", ".join(FIELDS + META_FIELDS),
                )
            yield Token("META" if name in META_FIELDS else "FIELD", name, column)
            i = field.end()
        else:
            start = i
            while i < n and not _ends_word(query[i]):
                i += 1
            text = query[start:i]
            if near := _NEAR.match(text):
                distance = DEFAULT_NEAR
                if near.group(1) is not None:
                    try:
                        distance = bounded.count(near.group(1), low=1, high=MAX_NEAR)
                    except ValueError:
                        raise QueryError(
                            N_("NEAR/n takes n from 1 to {most}"), column, most=MAX_NEAR
                        ) from None
                yield Token("NEAR", text, column, distance)
            else:
                yield Token(text if text in _OPERATORS else "WORD", text, column)
    yield Token("END", "", n + 1)
