"""The topic query language: parse a query into a tree and evaluate it on a `Document`.

Grammar (operators upper-case; adjacent terms are ANDed)::

    query   := or
    or      := and ("OR" and)*
    and     := unary (["AND"] unary)*
    unary   := ("NOT" | "-") unary | primary
    primary := "(" or ")" | '"' words '"' | word ["*"]

Matching is on normalised words (NFKC, casefold, ё→е, no stress marks), so it is
case-insensitive; a trailing `*` matches any word that starts with the term; a quoted phrase
matches its words in a row. Terms in Chinese or Japanese script match as substrings, since
those languages do not separate words by spaces. Evaluation is a walk of the tree with set and
bisect lookups: no user-written pattern ever runs as a regular expression.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

MIN_PREFIX = 3

_STRESS_MARKS = dict.fromkeys(map(ord, "\u0300\u0301"), None)
_WORD = re.compile(r"\w+")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f々〆ヶ]")


def normalise(text: str) -> str:
    """The form both queries and documents are compared in."""
    text = unicodedata.normalize("NFKC", text).casefold()
    return text.replace("ё", "е").translate(_STRESS_MARKS)


def words(text: str) -> list[str]:
    """Normalised words of a text."""
    return _WORD.findall(normalise(text))


def is_cjk(text: str) -> bool:
    return _CJK.search(text) is not None


class QueryError(ValueError):
    """A query that does not parse; `column` is 1-based."""

    def __init__(self, message: str, column: int) -> None:
        super().__init__(f"column {column}: {message}")
        self.message = message
        self.column = column


# -- the tree ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Term:
    """One word, optionally a prefix; or a run of CJK text matched as a substring."""

    text: str
    prefix: bool = False

    def __str__(self) -> str:
        return self.text + ("*" if self.prefix else "")


@dataclass(frozen=True, slots=True)
class Phrase:
    """Words in a row; each may be a prefix."""

    terms: tuple[Term, ...]

    def __str__(self) -> str:
        return '"' + " ".join(map(str, self.terms)) + '"'


@dataclass(frozen=True, slots=True)
class And:
    children: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    children: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Not:
    child: Node


Node = Term | Phrase | And | Or | Not


# -- lexing -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # WORD, PHRASE, LPAREN, RPAREN, AND, OR, NOT, END
    text: str
    column: int


_OPERATORS = {"AND", "OR", "NOT"}
_WORD_END = set(' \t\n\r()"')


def _lex(query: str) -> Iterator[_Token]:
    i = 0
    n = len(query)
    while i < n:
        char = query[i]
        column = i + 1
        if char.isspace():
            i += 1
        elif char == "(":
            yield _Token("LPAREN", char, column)
            i += 1
        elif char == ")":
            yield _Token("RPAREN", char, column)
            i += 1
        elif char == '"':
            end = query.find('"', i + 1)
            if end < 0:
                raise QueryError("unclosed quote", column)
            yield _Token("PHRASE", query[i + 1 : end], column)
            i = end + 1
        elif char == "-" and (i == 0 or query[i - 1] in _WORD_END) and i + 1 < n:
            if query[i + 1].isspace():
                raise QueryError("'-' must stand right before the term it excludes", column)
            yield _Token("NOT", char, column)
            i += 1
        else:
            start = i
            while i < n and query[i] not in _WORD_END:
                i += 1
            text = query[start:i]
            yield _Token(text if text in _OPERATORS else "WORD", text, column)
    yield _Token("END", "", n + 1)


# -- parsing ----------------------------------------------------------------------------------


class _Parser:
    def __init__(self, query: str) -> None:
        self.tokens = list(_lex(query))
        self.pos = 0

    @property
    def token(self) -> _Token:
        return self.tokens[self.pos]

    def advance(self) -> _Token:
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def parse(self) -> Node:
        if self.token.kind == "END":
            raise QueryError("the query is empty", 1)
        node = self.parse_or()
        if self.token.kind == "RPAREN":
            raise QueryError("')' without a matching '('", self.token.column)
        if self.token.kind != "END":  # pragma: no cover - parse_or consumes all else
            raise QueryError(f"unexpected {self.token.text!r}", self.token.column)
        return node

    def parse_or(self) -> Node:
        children = [self.parse_and()]
        while self.token.kind == "OR":
            self.advance()
            children.append(self.parse_and())
        return children[0] if len(children) == 1 else Or(tuple(children))

    def parse_and(self) -> Node:
        children = [self.parse_unary()]
        while self.token.kind not in ("OR", "RPAREN", "END"):
            if self.token.kind == "AND":
                self.advance()
            children.append(self.parse_unary())
        return children[0] if len(children) == 1 else And(tuple(children))

    def parse_unary(self) -> Node:
        if self.token.kind == "NOT":
            self.advance()
            return Not(self.parse_unary())
        return self.parse_primary()

    def parse_primary(self) -> Node:
        token = self.advance()
        if token.kind == "LPAREN":
            if self.token.kind == "RPAREN":
                raise QueryError("empty parentheses", token.column)
            node = self.parse_or()
            if self.token.kind != "RPAREN":
                raise QueryError("'(' is never closed", token.column)
            self.advance()
            return node
        if token.kind == "PHRASE":
            return _phrase(token)
        if token.kind == "WORD":
            return _word(token)
        if token.kind == "END":
            raise QueryError("a term is missing at the end", token.column)
        if token.kind == "RPAREN":
            raise QueryError("')' without a matching '('", token.column)
        raise QueryError(f"{token.text} needs a term after it", token.column)


def _term(raw: str, column: int) -> Term:
    prefix = raw.endswith("*")
    text = normalise(raw.rstrip("*") if prefix else raw)
    if "*" in text:
        raise QueryError("'*' may only end a term", column)
    if prefix and len(text) < MIN_PREFIX:
        raise QueryError(f"a prefix needs at least {MIN_PREFIX} letters before '*'", column)
    return Term(text, prefix)


def _word(token: _Token) -> Node:
    raw = token.text
    if "*" in raw[:-1]:
        raise QueryError("'*' may only end a term", token.column)
    if is_cjk(raw):
        return _term(raw, token.column)
    prefix = raw.endswith("*")
    parts = _WORD.findall(normalise(raw.rstrip("*")))
    if not parts:
        raise QueryError(f"{raw!r} has no letters or digits to match", token.column)
    if len(parts) == 1:
        return _term(parts[0] + ("*" if prefix else ""), token.column)
    # "yuzhno-kurilsk" is the words yuzhno, kurilsk in a row, as the documents split them
    terms = [Term(p) for p in parts[:-1]] + [
        _term(parts[-1] + ("*" if prefix else ""), token.column)
    ]
    return Phrase(tuple(terms))


def _phrase(token: _Token) -> Node:
    raw = token.text.strip()
    if not raw:
        raise QueryError("empty quotes", token.column)
    if is_cjk(raw):
        return Term(normalise(raw.replace(" ", "")))
    terms: list[Term] = []
    for piece in raw.split():
        prefix = piece.endswith("*")
        parts = _WORD.findall(normalise(piece.rstrip("*")))
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            terms.append(_term(part + ("*" if prefix and last else ""), token.column))
    if not terms:
        raise QueryError("the quotes hold no words", token.column)
    return terms[0] if len(terms) == 1 else Phrase(tuple(terms))


def _has_positive(node: Node, negated: bool = False) -> bool:
    if isinstance(node, Term | Phrase):
        return not negated
    if isinstance(node, Not):
        return _has_positive(node.child, not negated)
    return any(_has_positive(child, negated) for child in node.children)


def parse(query: str) -> Node:
    """Parse a query; raises `QueryError` naming the column of the problem."""
    node = _Parser(query).parse()
    if not _has_positive(node):
        raise QueryError("the query must have at least one term that is not negated", 1)
    return node


# -- documents and evaluation ----------------------------------------------------------------


@dataclass(slots=True)
class _Field:
    text: str
    positions: dict[str, list[int]]
    sorted_words: list[str]

    @classmethod
    def of(cls, text: str) -> _Field:
        normal = normalise(text)
        positions: dict[str, list[int]] = {}
        for index, word in enumerate(_WORD.findall(normal)):
            positions.setdefault(word, []).append(index)
        return cls(normal, positions, sorted(positions))

    def find(self, term: Term) -> set[int]:
        """Word positions where the term matches (CJK terms: {0} when present)."""
        if is_cjk(term.text):
            return {0} if term.text in self.text else set()
        if not term.prefix:
            return set(self.positions.get(term.text, ()))
        found: set[int] = set()
        index = bisect.bisect_left(self.sorted_words, term.text)
        while index < len(self.sorted_words) and self.sorted_words[index].startswith(term.text):
            found.update(self.positions[self.sorted_words[index]])
            index += 1
        return found


@dataclass(slots=True)
class Document:
    """A text prepared for matching, field by field (title, summary, ...)."""

    fields: dict[str, _Field] = field(default_factory=dict)

    @classmethod
    def of(cls, fields: Mapping[str, str | None]) -> Document:
        return cls({name: _Field.of(text) for name, text in fields.items() if text})


@dataclass(frozen=True, slots=True)
class Hit:
    """A term or phrase that matched, and the fields it matched in."""

    term: str
    fields: tuple[str, ...]


def _fields_of(node: Term | Phrase, doc: Document) -> tuple[str, ...]:
    found = []
    for name, fld in doc.fields.items():
        if isinstance(node, Term):
            if fld.find(node):
                found.append(name)
        else:
            starts = fld.find(node.terms[0])
            for offset, term in enumerate(node.terms[1:], start=1):
                if not starts:
                    break
                starts &= {p - offset for p in fld.find(term)}
            if starts:
                found.append(name)
    return tuple(found)


def evaluate(node: Node, doc: Document, hits: list[Hit] | None = None) -> bool:
    """Whether the document matches; positive hits are appended to `hits` when given."""
    if isinstance(node, Term | Phrase):
        fields = _fields_of(node, doc)
        if fields and hits is not None:
            hits.append(Hit(str(node), fields))
        return bool(fields)
    if isinstance(node, Not):
        return not evaluate(node.child, doc, None)
    if isinstance(node, And):
        if hits is None:
            return all(evaluate(child, doc) for child in node.children)
        local: list[Hit] = []
        if all(evaluate(child, doc, local) for child in node.children):
            hits.extend(local)
            return True
        return False
    matched = False
    for child in node.children:
        # with explain every matching alternative is reported; without it, stop at the first
        if evaluate(child, doc, hits):
            matched = True
            if hits is None:
                break
    return matched
