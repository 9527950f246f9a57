"""The `source:` of a query that no feed is, and what it does to the query: the query never
matches, one of its alternatives never does, or (under NOT) it leaves nothing out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from watchers.topics.query import And, Field, Meta, Near, Node, Not, Phrase, Term, conditions

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
    is one. (Read from the tree: the text may spell it `ｓｏｕｒｃｅ：`.)"""
    unknown = [
        m.value for m in conditions(query) if m.name == "source" and not is_feed(m.value, feeds)
    ]
    if not unknown:
        return None
    required = [
        m.value
        for m in conditions(query, positive_only=True)
        if m.name == "source" and not is_feed(m.value, feeds)
    ]
    if _constant(query, feeds) is False:
        return NoFeed((required or unknown)[0], "never")
    if required:  # not under NOT: the AND it is in never holds, and it is an OR's alternative
        return NoFeed(required[0], "part")
    return NoFeed(unknown[0], "left_out")


def _constant(node: Node, feeds: Sequence[str]) -> bool | None:
    """True if `node` holds for every item, False for none (a `source:` no feed is never
    holds), None if that depends on the item."""
    if isinstance(node, Meta):
        return False if node.name == "source" and not is_feed(node.value, feeds) else None
    if isinstance(node, Term | Phrase):
        return None
    if isinstance(node, Not):
        inner = _constant(node.child, feeds)
        return None if inner is None else not inner
    if isinstance(node, Field):
        return _constant(node.child, feeds)
    if isinstance(node, Near):  # both sides must be found, near each other
        sides = (_constant(node.left, feeds), _constant(node.right, feeds))
        return False if False in sides else None
    values = [_constant(child, feeds) for child in node.children]
    if isinstance(node, And):
        if False in values:
            return False
        return True if all(v is True for v in values) else None
    if True in values:
        return True
    return False if all(v is False for v in values) else None
