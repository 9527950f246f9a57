"""The query language's tokens (`watchers.topics.query` parses them): words, quoted phrases,
parentheses, operators and fields, each with its column; and `QueryError`, a query that does not
parse, raised by both."""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator
from dataclasses import dataclass

from watchers import bounded
from watchers.topics.normalise import WORD, fold_marks

MAX_NEAR = 50
DEFAULT_NEAR = 5
FIELDS = ("title", "summary", "content")
META_FIELDS = ("lang", "source")


class QueryError(ValueError):
    """A query that does not parse; `column` is 1-based."""

    def __init__(
        self, message: str, column: int, *, quoted: Collection[str] = (), **values: object
    ) -> None:
        self.template = message  # a msgid of the bot's catalogues, with `values`
        self.values = {name: str(value) for name, value in values.items()}
        # the values that are the user's words: the bot quotes them in the reader's marks
        # («x», 「x」), this message as English does ('x')
        self.quoted = frozenset(quoted)
        shown = {k: repr(v) if k in self.quoted else v for k, v in self.values.items()}
        self.message = message.format(**shown) if values else message
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
# English “…”; not ‘…’, whose ’ is the apostrophe inside words (O’Neil, Japan’s). A typographic
# one that nothing closes is a character of its word, as it was before they quoted: `Газета
# «Ведомости` is two words (an unclosed `"` is still an error)
_QUOTES = {'"': '"', "«": "»", "„": "“”", "“": "”"}
_ASCII_QUOTE = {'"': '"'}
TYPOGRAPHIC = "«„“"  # the quotes that open a phrase besides `"`
# what a Japanese keyboard types for ASCII: the full-width forms ！ to ～ (（ ） ＂ － ＡＮＤ ...)
# and the ideographic space, read as ASCII one character for one, so columns stay as written
_ASCII_FORMS = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)} | {0x3000: ord(" ")}
_NEAR = re.compile(r"NEAR(?:/(.*))?$", re.DOTALL)
_FIELD = re.compile(r"([A-Za-z]+):")


class _Text:
    """A query's characters, with where its words end: at a space (U+3000 and U+00A0 too), a
    parenthesis, or a quote that opens a phrase."""

    def __init__(self, query: str, quotes: dict[str, str]) -> None:
        self.query = query
        self.quotes = quotes
        # each closing quote's last place: a quote before it is closed
        self.last = {close: query.rfind(close) for close in "".join(quotes.values())}

    def opens(self, i: int) -> bool:
        char = self.query[i]
        return char == '"' or (
            char in self.quotes and any(self.last[close] > i for close in self.quotes[char])
        )

    def ends_word(self, i: int) -> bool:
        char = self.query[i]
        return char.isspace() or char in "()" or self.opens(i)

    def word_end(self, i: int) -> int:
        """Where the word that starts at `i` ends."""
        while i < len(self.query) and not self.ends_word(i):
            i += 1
        return i

    def after_phrase(self, i: int) -> int:
        """Where to go on after a phrase's closing quote, at `i`: past the punctuation right
        after it (`«Росатом».`, `«Ведомости», ТАСС`), as when the quotes were part of the word;
        not past a `-` or `=` before a term (`«a»-«b»`)."""
        end = self.word_end(i)
        run = self.query[i:end]
        if not run or WORD.search(fold_marks(run)):
            return i
        if (
            not run.strip("-=")
            and end < len(self.query)
            and (self.query[end] == "(" or self.opens(end))
        ):
            return i  # `«a»-(b)` is `"a" -(b)`
        return end


def lex(query: str, *, typographic: bool = True) -> Iterator[Token]:
    """The tokens of `query`; with `typographic` false, «» „“ ” are characters of words, as they
    were before they quoted."""
    query = query.translate(_ASCII_FORMS)
    quotes = _QUOTES if typographic else _ASCII_QUOTE
    text = _Text(query, quotes)
    i, n = 0, len(query)
    after_phrase = -1  # where a phrase's closing quote ended it: `«a b»-c` is `"a b" -c`
    while i < n:
        char, column = query[i], i + 1
        if char.isspace():
            i += 1
        elif char in "()":
            yield Token("LPAREN" if char == "(" else "RPAREN", char, column)
            i += 1
        elif text.opens(i):
            closing = quotes[char]
            end = next((j for j in range(i + 1, n) if query[j] in closing), -1)
            if end < 0:
                raise QueryError(N_("unclosed quote"), column)
            yield Token("PHRASE", query[i + 1 : end], column)
            i = after_phrase = text.after_phrase(end + 1)
        elif char in "-=" and (
            i in (0, after_phrase) or query[i - 1].isspace() or query[i - 1] in "():"
        ):
            if i + 1 >= n or query[i + 1].isspace():
                raise QueryError(N_("'{char}' must stand right before its term"), column, char=char)
            yield Token("NOT" if char == "-" else "CASE", char, column)
            i += 1
        elif field := _FIELD.match(query, i):
            name = field.group(1)
            if name not in FIELDS + META_FIELDS:
                raise QueryError(
                    N_("unknown field {name} (fields: {fields})"),
                    column,
                    quoted={"name"},
                    name=f"{name}:",
                    fields=", ".join(FIELDS + META_FIELDS),
                )
            yield Token("META" if name in META_FIELDS else "FIELD", name, column)
            i = field.end()
        else:
            start, i = i, text.word_end(i + 1)
            word = query[start:i]
            if near := _NEAR.match(word):
                distance = DEFAULT_NEAR
                if near.group(1) is not None:
                    try:
                        distance = bounded.count(near.group(1), low=1, high=MAX_NEAR)
                    except ValueError:
                        raise QueryError(
                            N_("NEAR/n takes n from 1 to {most}"), column, most=MAX_NEAR
                        ) from None
                yield Token("NEAR", word, column, distance)
            else:
                yield Token(word if word in _OPERATORS else "WORD", word, column)
    yield Token("END", "", n + 1)
