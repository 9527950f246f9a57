"""The topic query language: parse a query into a tree; `watchers.topics.engine` evaluates it.

Grammar (operators upper-case; adjacent terms are ANDed; NEAR binds tightest)::

    query   := or
    or      := and ("OR" and)*
    and     := near (["AND"] near)*
    near    := unary ["NEAR/n" unary]
    unary   := ("NOT" | "-") unary | primary
    primary := [field ":"] ( "(" or ")" | ["="] '"' words '"' | ["="] word ["*"] )

A word matches case-insensitively, Russian words in every inflected form, `word*` any word
that starts so, a quoted phrase ("…", «…», „…“, “…”) its words in a row, `a NEAR/n b` the two
within n words, `title:x` only in that field, and `=Word` only with the same capitalisation
(proper nouns that collide with common words). Japanese and Chinese terms match as substrings.
`lang:ru` and `source:tass` are conditions on the item rather than words: its language, and
the feed it came from (`source:tass` matches the feed `tass` and `tass-en`, `tass-ru`, ...);
they narrow a query and cannot stand alone.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from watchers.topics.lexer import N_, TYPOGRAPHIC, Token, lex
from watchers.topics.lexer import QueryError as QueryError
from watchers.topics.normalise import WORD, fold_marks, is_cjk, normalise

MIN_PREFIX = 3
MAX_DEPTH = 32  # nesting bound: the parser, the matcher and str() recurse once per level
# what one query may cost: every item is matched against every topic and every watch its words
# wake, and each NEAR compares the positions of its two sides (14 NEARs took 100 ms an item);
# the shipped topics have 1 NEAR, 129 terms and 1,274 characters at most
MAX_NEARS = 4
MAX_TERMS = 400
MAX_LENGTH = 4000
LANGS = ("en", "ru", "ja")
_SOURCE = re.compile(r"^[a-z0-9][a-z0-9-]*$")


# -- the tree ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Term:
    """One word (normalised), a prefix, or a run of CJK text matched as a substring.

    `cased` holds the word as written when its capitalisation must match too.
    """

    text: str
    prefix: bool = False
    cased: str | None = None

    def __str__(self) -> str:
        # a CJK run is kept with spaces where its words split (北方 4 島), and shown without
        text = self.text.replace(" ", "") if is_cjk(self.text) else self.text
        return ("=" + self.cased if self.cased else text) + ("*" if self.prefix else "")


@dataclass(frozen=True, slots=True)
class Phrase:
    terms: tuple[Term, ...]

    def __str__(self) -> str:
        return '"' + " ".join(map(str, self.terms)) + '"'


@dataclass(frozen=True, slots=True)
class Near:
    left: Node
    right: Node
    distance: int

    def __str__(self) -> str:
        return f"{self.left} NEAR/{self.distance} {self.right}"


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    child: Node

    def __str__(self) -> str:
        return f"{self.name}:{self.child}"


@dataclass(frozen=True, slots=True)
class And:
    children: tuple[Node, ...]

    def __str__(self) -> str:
        return "(" + " AND ".join(map(str, self.children)) + ")"


@dataclass(frozen=True, slots=True)
class Or:
    children: tuple[Node, ...]

    def __str__(self) -> str:
        return "(" + " OR ".join(map(str, self.children)) + ")"


@dataclass(frozen=True, slots=True)
class Not:
    child: Node

    def __str__(self) -> str:
        return f"-{self.child}"


@dataclass(frozen=True, slots=True)
class Meta:
    """A condition on the item itself: `lang:ru`, `source:tass`."""

    name: str
    value: str

    def __str__(self) -> str:
        return f"{self.name}:{self.value}"

    def holds(self, meta: Mapping[str, str | None]) -> bool:
        actual = meta.get(self.name) or ""
        if self.name == "source":
            return actual == self.value or actual.startswith(self.value + "-")
        return actual == self.value


Node = Term | Phrase | Near | Field | And | Or | Not | Meta


def leaves(node: Node, *, positive_only: bool = False) -> Iterator[Term]:
    """The terms of a tree (without those under NOT, if asked)."""
    if isinstance(node, Term):
        yield node
    elif isinstance(node, Meta):
        return
    elif isinstance(node, Phrase):
        yield from node.terms
    elif isinstance(node, Near):
        yield from leaves(node.left, positive_only=positive_only)
        yield from leaves(node.right, positive_only=positive_only)
    elif isinstance(node, Field):
        yield from leaves(node.child, positive_only=positive_only)
    elif isinstance(node, Not):
        if not positive_only:
            yield from leaves(node.child)
    else:
        for child in node.children:
            yield from leaves(child, positive_only=positive_only)


def conditions(node: Node, *, positive_only: bool = False) -> Iterator[Meta]:
    """The `lang:` and `source:` conditions of a tree (without those under NOT, if asked)."""
    if isinstance(node, Meta):
        yield node
    elif isinstance(node, Near):
        yield from conditions(node.left, positive_only=positive_only)
        yield from conditions(node.right, positive_only=positive_only)
    elif isinstance(node, Not):
        if not positive_only:
            yield from conditions(node.child)
    elif isinstance(node, Field):
        yield from conditions(node.child, positive_only=positive_only)
    elif isinstance(node, And | Or):
        for child in node.children:
            yield from conditions(child, positive_only=positive_only)


# -- parsing ----------------------------------------------------------------------------------


class _Parser:
    def __init__(self, query: str, *, typographic: bool) -> None:
        self.tokens = list(lex(query, typographic=typographic))
        self.pos = 0
        self.depth = 0
        self.nears = 0
        self.terms = 0

    def count_terms(self, node: Node, token: Token) -> Node:
        self.terms += sum(1 for _ in leaves(node))
        if self.terms > MAX_TERMS:
            raise QueryError(
                N_("more than {most} terms; split it into several queries"),
                token.column,
                most=MAX_TERMS,
            )
        return node

    def nest(self, token: Token) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise QueryError(
                N_("nested more than {most} deep (parentheses, '-', fields); write it flatter"),
                token.column,
                most=MAX_DEPTH,
            )

    @property
    def token(self) -> Token:
        return self.tokens[self.pos]

    def advance(self) -> Token:
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def parse(self) -> Node:
        if self.token.kind == "END":
            raise QueryError(N_("the query is empty"), 1)
        node = self.parse_or()
        if self.token.kind == "RPAREN":
            raise QueryError(N_("')' without a matching '('"), self.token.column)
        return node

    def parse_or(self) -> Node:
        children = [self.parse_and()]
        while self.token.kind == "OR":
            self.advance()
            children.append(self.parse_and())
        return children[0] if len(children) == 1 else Or(tuple(children))

    def parse_and(self) -> Node:
        children = [self.parse_near()]
        while self.token.kind not in ("OR", "RPAREN", "END"):
            if self.token.kind == "AND":
                self.advance()
            children.append(self.parse_near())
        return children[0] if len(children) == 1 else And(tuple(children))

    def parse_near(self) -> Node:
        column = self.token.column
        left = self.parse_unary()
        if self.token.kind != "NEAR":
            return left
        near = self.advance()
        self.nears += 1
        if self.nears > MAX_NEARS:
            raise QueryError(
                N_("more than {most} NEARs; use a quoted phrase or AND for the others"),
                near.column,
                most=MAX_NEARS,
            )
        right_column = self.token.column
        right = self.parse_unary()
        _check_near_operand(left, column)
        _check_near_operand(right, right_column)
        if self.token.kind == "NEAR":
            raise QueryError(
                N_("NEAR cannot be chained; use AND between two NEARs"), self.token.column
            )
        return Near(left, right, near.number)

    def parse_unary(self) -> Node:
        if self.token.kind == "NOT":
            self.nest(self.advance())
            node: Node = Not(self.parse_unary())
            self.depth -= 1
            return node
        return self.parse_primary()

    def parse_primary(self) -> Node:
        token = self.advance()
        if token.kind == "FIELD":
            if self.token.kind in ("END", "RPAREN", "OR", "AND", "NEAR"):
                raise QueryError(
                    N_("'{field}:' needs a term after it"), token.column, field=token.text
                )
            self.nest(token)
            field = Field(token.text, self.parse_primary())
            self.depth -= 1
            return field
        if token.kind == "META":
            return _meta(token, self.advance())
        if token.kind == "CASE":
            if self.token.kind not in ("WORD", "PHRASE"):
                raise QueryError(
                    N_("'=' must stand right before a word or a quoted phrase"), token.column
                )
            return self.count_terms(_cased(self.advance()), token)
        if token.kind == "LPAREN":
            if self.token.kind == "RPAREN":
                raise QueryError(N_("empty parentheses"), token.column)
            self.nest(token)
            node = self.parse_or()
            if self.token.kind != "RPAREN":
                raise QueryError(N_("'(' is never closed"), token.column)
            self.advance()
            self.depth -= 1
            return node
        if token.kind == "PHRASE":
            return self.count_terms(_phrase(token), token)
        if token.kind == "WORD":
            return self.count_terms(_word(token), token)
        if token.kind == "END":
            raise QueryError(N_("a term is missing at the end"), token.column)
        if token.kind == "RPAREN":
            raise QueryError(N_("')' without a matching '('"), token.column)
        # an operator where a term must be: `AND x`, `a OR OR b`, `(NEAR x)`
        raise QueryError(
            N_("a term is missing before {operator}"), token.column, operator=token.text
        )


def _meta(field: Token, value: Token) -> Meta:
    text = value.text.lower()
    if value.kind != "WORD" or value.column != field.column + len(field.text) + 1:
        raise QueryError(
            N_("'{field}:' needs a value right after it"), field.column, field=field.text
        )
    if field.text == "lang" and text not in LANGS:
        raise QueryError(N_("lang: takes {langs}"), value.column, langs=", ".join(LANGS))
    if field.text == "source" and not _SOURCE.match(text):
        raise QueryError(N_("source: takes a feed id, like source:tass-en"), value.column)
    return Meta(field.text, text)


def _check_near_operand(node: Node, column: int) -> None:
    ok = isinstance(node, Term | Phrase) or (
        isinstance(node, Or | Field)
        and all(
            isinstance(c, Term | Phrase)
            for c in ((node.child,) if isinstance(node, Field) else node.children)
        )
    )
    if not ok:
        raise QueryError(N_("NEAR joins terms, phrases, or an OR of them in parentheses"), column)


def _term(raw: str, column: int, *, cased: bool = False) -> Term:
    prefix = raw.endswith("*")
    bare = raw[:-1] if prefix else raw
    if "*" in bare:
        raise QueryError(N_("'*' may only end a term"), column)
    text = normalise(bare)
    if is_cjk(text):  # matched inside the document's words, which it must split like them
        text = " ".join(WORD.findall(text))
    if prefix and len(text) < MIN_PREFIX and not is_cjk(text):
        raise QueryError(N_("a prefix needs at least {n} letters before '*'"), column, n=MIN_PREFIX)
    return Term(text, prefix and not is_cjk(text), fold_marks(bare) if cased else None)


def _words(raw: str, column: int, *, cased: bool = False) -> list[Term]:
    """Terms for the words of `raw`, as documents split them (yuzhno-kurilsk → two words)."""
    if is_cjk(raw):
        term = _term(raw.replace(" ", "").rstrip("*"), column, cased=cased)
        return [term] if term.text else []  # punctuation or sound marks alone: no word
    terms: list[Term] = []
    for piece in raw.split():
        prefix = piece.endswith("*")
        if "*" in piece[:-1]:
            raise QueryError(N_("'*' may only end a term"), column)
        parts = WORD.findall(fold_marks(piece))
        for index, part in enumerate(parts):
            star = "*" if prefix and index == len(parts) - 1 else ""
            terms.append(_term(part + star, column, cased=cased))
    return terms


def _word(token: Token, *, cased: bool = False) -> Node:
    terms = _words(token.text, token.column, cased=cased)
    if not terms:
        raise QueryError(
            N_("{text} has no letters or digits to match"),
            token.column,
            quoted={"text"},
            text=token.text,
        )
    return terms[0] if len(terms) == 1 else Phrase(tuple(terms))


def _phrase(token: Token, *, cased: bool = False) -> Node:
    if not token.text.strip():
        raise QueryError(N_("empty quotes"), token.column)
    terms = _words(token.text, token.column, cased=cased)
    if not terms:
        raise QueryError(N_("the quotes hold no words"), token.column)
    return terms[0] if len(terms) == 1 else Phrase(tuple(terms))


def _cased(token: Token) -> Node:
    return (_phrase if token.kind == "PHRASE" else _word)(token, cased=True)


def anchored(node: Node) -> bool:
    """Whether every match needs at least one positive term (so matching can start there)."""
    if isinstance(node, Term | Phrase | Near):
        return True
    if isinstance(node, Meta):
        return False
    if isinstance(node, Field):
        return anchored(node.child)
    if isinstance(node, Not):
        return False
    if isinstance(node, And):
        return any(anchored(child) for child in node.children)
    return all(anchored(child) for child in node.children)


def parse(query: str) -> Node:
    """Parse a query; raises `QueryError` naming the column of the problem.

    A query that parses only with «» „“ ” read as characters of its words, as they were before
    they quoted, is read so: `„b“OR` was the phrase "b or", and a watch saved so still parses.
    """
    try:
        return _parse(query, typographic=True)
    except QueryError as error:
        if not any(quote in query for quote in TYPOGRAPHIC):
            raise
        try:
            return _parse(query, typographic=False)
        except QueryError:
            raise error from None


def _parse(query: str, *, typographic: bool) -> Node:
    node = _Parser(query, typographic=typographic).parse()
    if len(query) > MAX_LENGTH:  # after parsing, so a query's first mistake is named first
        raise QueryError(
            N_("longer than {most} characters; split it into several queries"),
            MAX_LENGTH + 1,
            most=MAX_LENGTH,
        )
    if not anchored(node):
        raise QueryError(
            N_(
                "the query would match items without any of its terms: every part of it needs"
                " at least one term that is not negated"
            ),
            1,
        )
    return node
