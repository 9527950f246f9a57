"""What story clustering knows of one report (its `Sketch`), and when two reports' facts say
they tell two events (`conflict`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

from watchers.story_facts import dates, numbers, plain, quantities_agree
from watchers.story_words import (
    REPLY,
    mentions,
    places,
    script_of,
    story_tokens,
    title_names,
)


@dataclass(frozen=True, slots=True)
class Sketch:
    """What clustering knows of one report."""

    tokens: frozenset[str]
    names: frozenset[str]
    mentions: frozenset[str]
    script: str
    title: str = ""
    title_numbers: frozenset[str] = frozenset()
    numbers: frozenset[str] = frozenset()
    title_places: frozenset[str] = frozenset()
    places: frozenset[str] = frozenset()
    reply: bool = False  # the title rejects or rebuts something
    title_dates: frozenset[tuple[int, int]] = frozenset()  # (month, day)
    dates: frozenset[tuple[int, int]] = frozenset()
    headline: bool = False  # no summary, or one that adds no token to the title

    def wire(self) -> tuple[Any, ...]:
        """Plain tuples, to cross from a parse worker cheaply (`unwire` builds it again)."""
        values = (getattr(self, field.name) for field in fields(self))
        return tuple(tuple(v) if isinstance(v, frozenset) else v for v in values)

    @classmethod
    def unwire(cls, wired: Sequence[Any]) -> Sketch:
        values: list[Any] = [frozenset(v) if isinstance(v, tuple) else v for v in wired]
        return cls(*values)


def sketch(title: str, summary: str, words: list[str] | None = None) -> Sketch:
    """The report's sketch; `words` as for `story_tokens`, when the caller has them."""
    text = f"{title}\n{summary}"
    islands = places(text)
    names = title_names(title, summary)  # a report mentions what its own title names
    tokens = story_tokens(title, summary, words)
    return Sketch(
        tokens,
        names,
        mentions(title, summary, words, islands) | names,
        script_of(text),
        title.strip(),
        numbers(title),
        numbers(text),
        places(title),
        islands,
        REPLY.search(plain(title)) is not None,
        dates(title),
        dates(text),
        not summary.strip() or tokens <= story_tokens(title, ""),
    )


def conflict(a: Sketch, b: Sketch) -> bool:
    """Two events: each title names someone, a number or an island the other never mentions,
    a title's day is none of the days the other names, the two name days and none in common,
    or one replies (rejects, rebuts) and the other does not."""
    return (
        a.reply != b.reply
        or (not a.names <= b.mentions and not b.names <= a.mentions)
        or (
            not quantities_agree(a.title_numbers, b.numbers)
            and not quantities_agree(b.title_numbers, a.numbers)
        )
        or (not a.title_places <= b.places and not b.title_places <= a.places)
        or _other_day(a, b)
        or _other_day(b, a)
        or bool(a.dates and b.dates and not a.dates & b.dates)  # two days: two events
    )


def _other_day(a: Sketch, b: Sketch) -> bool:
    """A's title dates its event, and B names days, none of them that one."""
    return bool(a.title_dates and b.dates and not a.title_dates & b.dates)
