"""What a valid config holds that is likely not meant: no feeds; a topic no item can match, or
one that a single common word matches; two topics with one query; a feed listed twice; a feed
URL read otherwise than written (`https:/host`); a poll interval under a second (`5ms` written
for `5m`). `kurilwatch check` prints these as warnings (exit 0), `run` logs them, a reload logs
the new ones and tells the admins. Pure: `config_warnings` reads the config's models; `find`
and `places_of` say where a key is in the YAML. Each warning's why is a msgid of the bot's
catalogues (`N_`) with its values (words, and numbers each language writes its own way), so
the admins read it in their language; `check` and the log in English."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import timedelta
from types import MappingProxyType
from typing import NamedTuple

import yaml

from watchers.config import FeedConfig, PollConfig, TopicConfig
from watchers.topics.lexer import N_, Token, lex
from watchers.topics.normalise import is_cjk, normalise
from watchers.topics.query import And, Field, Meta, Near, Node, Not, Or, Phrase, Term, parse
from watchers.topics.rarity import static_rarity

MAX_PARTS = 10  # a query of more distinct parts is not searched for a contradiction (2**10)


@dataclass(frozen=True, slots=True)
class Words:
    """A query's words a warning names, as written: each reader's language quotes each in its
    marks and lists them («or», «и»; 「or」、「и」); `check` and the log as Python writes them
    ('or', 'и': repr, a character that is no text escaped, as `written_as` does)."""

    words: tuple[str, ...]

    def __str__(self) -> str:
        return ", ".join(repr(w) for w in self.words)


# a number is written in each reader's language's way, words quoted in its marks
WarningValue = str | int | float | Words


class Warning(NamedTuple):
    loc: tuple[int | str, ...]  # the key path
    # what is likely wrong there: a msgid (`N_`) whose `{name}`s `values` fill
    template: str
    # what it is about, whatever the key's position: a reload compares warnings by this
    about: tuple[str, ...]
    # a query's warning: the query and the 1-based column in it of the word it names, which
    # the file's line and column are told of (a query folded over lines named the key's line)
    at: tuple[str, int] | None = None
    # what the why names: words as written or made here (a feed id, a query's words), and
    # numbers (a count, milliseconds), which each reader's language writes its own way
    values: Mapping[str, WarningValue] = MappingProxyType({})

    @property
    def message(self) -> str:
        """What is likely wrong, in English (`check`, the log)."""
        return filled(self.template, self.values)


def english(value: WarningValue) -> str:
    """A warning's value as `check` and the log write it: a number as Python's `g` writes it
    (0.5, 250), a count whole; words as Python quotes them."""
    return f"{value:g}" if isinstance(value, float) else str(value)


def filled(template: str, values: Mapping[str, WarningValue]) -> str:
    """A warning's why in English, its `{name}`s filled from `values`."""
    if not values:
        return template
    return template.format(**{name: english(value) for name, value in values.items()})


def config_warnings(
    feeds: Sequence[FeedConfig], topics: Mapping[str, TopicConfig], poll: PollConfig | None = None
) -> list[Warning]:
    """The warnings of a config that loaded, in the order of its keys."""
    out: list[Warning] = []
    if poll is not None:
        out += _too_often(("poll", "interval"), poll.interval)
    if not feeds:  # valid: a config for `match` needs none
        out.append(
            Warning(
                ("feeds",),
                N_("none: `run` polls nothing (`match` and `stories` need no feeds)"),
                ("no feeds",),
            )
        )
    for n, feed in enumerate(feeds):
        if feed.interval is not None:
            out += _too_often(("feeds", n, "interval"), feed.interval, feed.id)
    for n, feed in enumerate(feeds):
        written = feed.written_url.strip(_URL_ENDS)  # `url: >` ends it with a line break
        if _misspelt(written):
            out.append(
                Warning(
                    ("feeds", n, "url"),
                    N_("{written} is read as {read}, as a browser reads it: write it so if meant"),
                    ("url misspelt", written),
                    values={"written": written_as(written), "read": str(feed.url)},
                )
            )
    urls: dict[str, int] = {}
    listed: dict[str, int] = {}  # the times each URL was listed so far
    for n, feed in enumerate(feeds):
        url = str(feed.url)
        listed[url] = listed.get(url, 0) + 1
        if url in urls:
            first = urls[url]
            out.append(
                Warning(
                    ("feeds", n, "url"),
                    N_(
                        "the same URL as feeds[{first}] ({feed}): it is polled twice as often,"
                        " for the same items"
                    ),
                    ("url listed again", url, str(listed[url])),  # whatever the feeds' ids
                    # a position in a key path, written as the path writes it: no number
                    values={"first": str(first), "feed": written_as(feeds[first].id)},
                )
            )
        urls.setdefault(url, n)
    # the languages items can have: any, unless every feed states its own
    langs = None if not feeds or any(f.lang is None for f in feeds) else {f.lang for f in feeds}
    seen: dict[Node, str] = {}
    for tid, topic in topics.items():
        tree = parse(topic.query)
        loc = ("topics", tid, "query")
        if tree in seen:
            out.append(
                Warning(
                    loc,
                    N_("the same query as topics.{topic}: an item of one is an item of both"),
                    ("query twice", seen[tree], tid, topic.query),
                    values={"topic": written_as(seen[tree])},
                )
            )
        seen.setdefault(tree, tid)
        for kind, problem, values in _query_problems(tree, langs):
            column = _column(topic.query, tree, kind)
            at = (topic.query, column) if column else None
            out.append(Warning(loc, problem, ("query", tid, topic.query, *kind), at, values))
    return out


def written_as(value: str) -> str:
    """A value as the config writes it, quoted in a warning: each character that is no text (a
    line break or a tab of a `|` block, a no-break space) shown as Python escapes it (\\n, \\t,
    \\xa0), so the warning stays one line and says what is there."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in value)


def _too_often(loc: tuple[int | str, ...], interval: timedelta, feed: str = "") -> list[Warning]:
    """An interval under a second: the feed polled many times a second (`5ms` for `5m`)."""
    if interval >= timedelta(seconds=1):
        return []
    ms = interval / timedelta(microseconds=1) / 1000  # 0.5, not 0.5000000000000001
    times = round(1 / max(interval.total_seconds(), 0.001))
    why = _TOO_OFTEN[bool(feed), times > 1]  # 900 ms: "more than once", not "1 times"
    values: dict[str, WarningValue] = {"ms": ms}
    if times > 1:
        values["times"] = times
    return [Warning(loc, why, ("interval under a second", feed, english(ms)), None, values)]


_TOO_OFTEN = {  # (the feed's own interval, polled more than once a second)
    (True, True): N_(
        "{ms} ms between two polls: the feed is polled {times} times a second (minutes are"
        " written 5m)"
    ),
    (True, False): N_(
        "{ms} ms between two polls: the feed is polled more than once a second (minutes are"
        " written 5m)"
    ),
    (False, True): N_(
        "{ms} ms between two polls: a feed without an interval of its own is polled {times}"
        " times a second (minutes are written 5m)"
    ),
    (False, False): N_(
        "{ms} ms between two polls: a feed without an interval of its own is polled more than"
        " once a second (minutes are written 5m)"
    ),
}


# what a URL's reading drops at either end, as the WHATWG URL standard does: C0 controls and
# spaces (not a no-break space: that is read as %C2%A0)
_URL_ENDS = "".join(map(chr, range(0x21)))


def _misspelt(url: str) -> bool:
    """A URL whose scheme is not followed by two slashes ("https:/host"), or that holds a space
    or a backslash: read as a browser reads it (two slashes; %20; a slash), likely a slip."""
    return re.match(r"[A-Za-z][A-Za-z0-9+.-]*://(?!/)", url) is None or bool(
        re.search(r"[\s\\]", url)
    )


def was_known(about: tuple[str, ...], known: Collection[tuple[str, ...]]) -> bool:
    """Whether a warning about `about` was given before (`known`: what those were about): the
    same, or of the same query's languages no feed gives, one that named these and more (a feed
    of one of them added leaves the others, which the admins were told of)."""
    if about in known:
        return True
    if about[0] != "query" or about[3:4] != ("lang",):
        return False
    return any(k[:4] == about[:4] and set(about[4:]) <= set(k[4:]) for k in known)


def query_warnings(tree: Node, langs: AbstractSet[str | None] | None = None) -> list[str]:
    """Why a parsed query matches no item, or nearly every item; `langs`: the languages the
    feeds give (None: any)."""
    return [why.format(**values) for _, why, values in _query_problems(tree, langs)]


def _query_problems(
    tree: Node, langs: AbstractSet[str | None] | None
) -> list[tuple[tuple[str, ...], str, dict[str, WarningValue]]]:
    """`query_warnings`, each with its kind (words that do not change with the feeds' langs;
    of languages no feed gives, each of them), as a msgid and its values."""
    problems: list[tuple[tuple[str, ...], str, dict[str, WarningValue]]] = []
    dead = sorted(
        {m.value for m in _positive_conditions(tree) if m.name == "lang"} - (langs or set())
    )
    if langs is not None and dead:
        given = ", ".join(sorted(str(lang) for lang in langs))
        named = ", ".join(f"lang:{d}" for d in dead)
        problem = N_("{named}: no feed gives such items (each feed's lang is {given})")
        problems.append((("lang", *dead), problem, {"named": named, "given": given}))
    if words := operator_words(tree):
        problem = N_(
            "{words}: read as words an item must contain; the operators are written AND, OR,"
            " NOT, in capitals"
        )
        problems.append((("operators",), problem, {"words": Words(tuple(words))}))
    if not problems and contradicts(tree, langs):
        problem = N_("no item can match it: its parts exclude each other")
        problems.append((("contradiction",), problem, {}))
    elif common := _common_match(tree):
        problem = N_(
            "{words} alone makes an item match, and nearly every item has such a common word:"
            " put it in a phrase or with a rarer word"
        )
        problems.append((("common",), problem, {"words": Words(tuple(common))}))
    return problems


def _column(query: str, tree: Node, kind: tuple[str, ...]) -> int | None:
    """The 1-based column in `query` of the first word (or `lang:` condition) a warning of
    `kind` names; None for a warning about the whole query."""
    words: set[str] = set()
    if kind[0] == "operators":
        words = set(operator_words(tree))
    elif kind[0] == "common":
        words = set(_common_match(tree))
    elif kind[0] != "lang":
        return None
    tokens = list(lex(query))
    for before, token in zip([Token("START", "", 0), *tokens], tokens, strict=False):
        if kind[0] == "lang":  # `lang:xx`: its `lang:`
            value = token.text.lower()
            named = (before.kind, before.text) == ("META", "lang") and value in kind[1:]
            column = before.column
        else:
            alone = token.kind == "WORD" and before.kind not in _NOT_ALONE
            named = alone and normalise(token.text) in words
            column = token.column
        if named:
            return column
    return None


_NOT_ALONE = ("NOT", "CASE", "FIELD", "META")  # a word after these is not one they name


# "kuril or shikotan" is the three words kuril, or, shikotan, all required: a query that
# matches nearly nothing, with no error, when the operators are written in lower case or as
# Russian words
OPERATOR_WORDS = frozenset({"and", "or", "not", "и", "или", "не"})


def operator_words(tree: Node, required: bool = False) -> list[str]:
    """The words of `tree` written bare (not in a phrase) and required beside others, that
    look meant as operators. (One an OR offers alone is `_common_match`'s.)"""
    if isinstance(tree, Term):  # `=Or` asks for the word as written: it is meant
        meant = tree.prefix or tree.cased is not None
        return [tree.text] if required and tree.text in OPERATOR_WORDS and not meant else []
    if isinstance(tree, And | Or):
        inside = isinstance(tree, And)
        words = [w for child in tree.children for w in operator_words(child, inside)]
        return list(dict.fromkeys(words))
    return []


def contradicts(tree: Node, langs: AbstractSet[str | None] | None = None) -> bool:
    """True when no item can match `tree`: no truth value of its terms, phrases, fields and
    conditions, each taken as independent of the others (a phrase may hold without its words),
    makes it hold. So never True of a query some item matches; queries of more than MAX_PARTS
    such parts are not searched (False)."""
    parts = list(dict.fromkeys(_parts(tree)))
    # nearly every query holds with what it names present and what it excludes absent
    excluded = set(_parts(tree, negated=True)) - set(_parts(tree, negated=False))
    if _holds(tree, lambda part: part not in excluded and _one_lang(part, tree, langs)):
        return False
    if len(parts) > MAX_PARTS:
        return False
    for values in itertools.product((False, True), repeat=len(parts)):
        held = dict(zip(parts, values, strict=True))
        named = [m.value for m in parts if isinstance(m, Meta) and m.name == "lang" and held[m]]
        if len(named) > 1 or (langs is not None and any(v not in langs for v in named)):
            continue  # an item has one language, one the feeds give
        if _holds(tree, held.__getitem__):
            return False
    return True


def _common_match(tree: Node) -> list[str]:
    """The common words an item needs no more than to match `tree` (none: it needs more)."""
    common = [t for t in _terms(tree) if _is_common(t)]
    if not common or not _holds(tree, lambda part: _common_part(part)):
        return []
    return list(dict.fromkeys(str(t) for t in common))


def _is_common(term: Term) -> bool:
    if is_cjk(term.text):  # one or two kana: the particles and endings of every sentence
        return len(term.text) <= 2 and all("\u3040" <= c <= "\u309f" for c in term.text)
    return not term.prefix and static_rarity(term.text) >= 0.5


def _common_part(part: Node) -> bool:
    """Whether an item of common words only has this part (a condition: it may)."""
    if isinstance(part, Meta):
        return True
    if isinstance(part, Term):
        return _is_common(part)
    return all(_is_common(t) for t in _terms(part))


def _one_lang(part: Node, tree: Node, langs: AbstractSet[str | None] | None) -> bool:
    """For the quick try: a `lang:` condition holds if it is the query's only one and the
    feeds give it."""
    if not isinstance(part, Meta) or part.name != "lang":
        return True
    named = {m.value for m in _parts(tree) if isinstance(m, Meta) and m.name == "lang"}
    return len(named) == 1 and (langs is None or part.value in langs)


def _parts(node: Node, negated: bool | None = None, under: bool = False) -> Iterable[Node]:
    """The parts whose truth decides the query's: terms, phrases, NEARs, fields, conditions
    (only those under an odd number of NOTs, or an even one, if `negated` says)."""
    if isinstance(node, And | Or):
        for child in node.children:
            yield from _parts(child, negated, under)
    elif isinstance(node, Not):
        yield from _parts(node.child, negated, not under)
    elif negated is None or negated == under:
        yield node


def _holds(node: Node, has: Callable[[Node], bool]) -> bool:
    if isinstance(node, And):
        return all(_holds(c, has) for c in node.children)
    if isinstance(node, Or):
        return any(_holds(c, has) for c in node.children)
    if isinstance(node, Not):
        return not _holds(node.child, has)
    return has(node)


def _terms(node: Node) -> Iterable[Term]:
    """The terms of a tree not under NOT."""
    if isinstance(node, Term):
        yield node
    elif isinstance(node, Phrase):
        yield from node.terms
    elif isinstance(node, And | Or):
        for child in node.children:
            yield from _terms(child)
    elif isinstance(node, Field):
        yield from _terms(node.child)
    elif isinstance(node, Near):
        yield from _terms(node.left)
        yield from _terms(node.right)


def _positive_conditions(node: Node) -> Iterable[Meta]:
    if isinstance(node, Meta):
        yield node
    elif isinstance(node, And | Or):
        for child in node.children:
            yield from _positive_conditions(child)


def places_of(
    node: yaml.Node | None, locs: Iterable[Sequence[int | str]]
) -> list[tuple[int | None, yaml.Node | None]]:
    """`find`'s line and node of each of `locs`, each mapping's keys looked up once: a config
    of 100,000 topics holds as many keys in one mapping."""
    keys: dict[int, dict[str, tuple[int, yaml.Node]]] = {}
    places: list[tuple[int | None, yaml.Node | None]] = []
    for loc in locs:
        at, line = node, None if node is None else node.start_mark.line + 1
        for part in loc:
            if isinstance(at, yaml.MappingNode):
                if id(at) not in keys:
                    keys[id(at)] = {
                        k.value: (k.start_mark.line + 1, v)
                        for k, v in reversed(at.value)  # the first of a key written twice
                        if isinstance(k, yaml.ScalarNode)
                    }
                line, at = keys[id(at)].get(str(part), (line, None))
            else:
                line, at = find(at, [part]) if at is not None else (line, None)
            if at is None:
                break
        places.append((line, at))
    return places


def find(node: yaml.Node | None, loc: Sequence[int | str]) -> tuple[int | None, yaml.Node | None]:
    """The 1-based line of the YAML node at `loc`, as far down as the path exists, and the node
    there (None where the path goes further than the file)."""
    if node is None:
        return None, None
    line = node.start_mark.line + 1
    for part in loc:
        child: yaml.Node | None = None
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.value == str(part):
                    child = value
                    line = key.start_mark.line + 1
                    break
        elif (
            isinstance(node, yaml.SequenceNode)
            and isinstance(part, int)
            and 0 <= part < len(node.value)
        ):
            child = node.value[part]
            line = child.start_mark.line + 1
        if child is None:
            return line, None
        node = child
    return line, node
