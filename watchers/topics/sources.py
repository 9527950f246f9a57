"""The `source:` of a query that no feed is, and what it does to the query: the query never
matches, one of its alternatives never does, or (under NOT) it leaves nothing out; and every
such source the query needs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from watchers.topics.query import (
    LANGS,
    And,
    Field,
    Meta,
    Near,
    Node,
    Not,
    Phrase,
    Term,
    conditions,
)

# "never": no item can match the query; "part": an alternative of it (`a OR (b source:gone)`)
# never matches, the rest still does; "left_out": under NOT (`a -source:gone`), it leaves out
# nothing
Reach = Literal["never", "part", "left_out"]


@dataclass(frozen=True, slots=True)
class NoFeed:
    source: str
    reach: Reach


def is_feed(source: str, feeds: Sequence[str]) -> bool:
    """`source:` names a feed id, or the outlet prefix of one (`tass` of `tass-en`)."""
    return any(f == source or f.startswith(source + "-") for f in feeds)


def no_feed(query: Node, feeds: Sequence[str]) -> NoFeed | None:
    """The first `source:` of the parsed `query` that no feed is, and its reach; None if each
    is one. (Read from the tree: the text may spell it `ｓｏｕｒｃｅ：`.) A query that never
    matches is named for a source whose feed would let it match, if one would."""
    sources = [m for m in conditions(query) if m.name == "source"]
    unknown = [m.value for m in sources if not is_feed(m.value, feeds)]
    if not unknown:
        return None
    required = unknown_sources(query, feeds)
    named = list(dict.fromkeys([*required, *unknown]))
    # the feeds alike to the query's sources: one of each is enough to try
    alike = {tuple(m.holds({"source": f}) for m in sources): f for f in feeds}.values()
    if not any(_matches_from(query, f) for f in alike):
        return NoFeed(next((s for s in named if _matches_from(query, s)), named[0]), "never")
    if required:  # not under NOT: the AND it is in never holds, and it is an OR's alternative
        return NoFeed(required[0], "part")
    return NoFeed(unknown[0], "left_out")


def unknown_sources(query: Node, feeds: Sequence[str]) -> tuple[str, ...]:
    """Every `source:` of the parsed `query` that no feed is and that the query needs, once
    each, in the order written: not those under NOT, which leave out nothing (`no_feed`'s
    "left_out"). A reload's notice counts a watch under each of them, not only the first."""
    return tuple(
        dict.fromkeys(
            m.value
            for m in conditions(query, positive_only=True)
            if m.name == "source" and not is_feed(m.value, feeds)
        )
    )


def _matches_from(query: Node, feed: str) -> bool:
    """Whether an item from `feed`, in some language, may match `query` (its words aside)."""
    return any(
        _constant(query, {"source": feed, "lang": lang}) is not False for lang in (*LANGS, None)
    )


def _constant(node: Node, item: Mapping[str, str | None]) -> bool | None:
    """True if `node` holds for every item of `item`'s feed and language, False for none,
    None if that depends on its words."""
    if isinstance(node, Meta):
        return node.holds(item)
    if isinstance(node, Term | Phrase):
        return None
    if isinstance(node, Not):
        inner = _constant(node.child, item)
        return None if inner is None else not inner
    if isinstance(node, Field):
        return _constant(node.child, item)
    if isinstance(node, Near):  # both sides must be found, near each other
        sides = (_constant(node.left, item), _constant(node.right, item))
        return False if False in sides else None
    values = [_constant(child, item) for child in node.children]
    if isinstance(node, And):
        if False in values:
            return False
        return True if all(v is True for v in values) else None
    if True in values:
        return True
    return False if all(v is False for v in values) else None
