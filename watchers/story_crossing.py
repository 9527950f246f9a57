"""When two reports in different languages tell one event: their titles' vectors are close, and
the facts that cross languages (`watchers.story_bridge`, `story_sketch.crossing_conflict`)
agree."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from watchers.story_bridge import PLACES
from watchers.story_facts import quantities_agree
from watchers.story_sketch import Sketch, crossing_conflict

# Reports in different languages share no words: they join on their titles' vectors alone,
# when the facts that cross languages agree (`crossing`).
CROSS_COSINE = 0.80
# Titles this close are one event's in two languages though the lexicon finds no kind of
# event, person or number in both (`named_alike`): the islands' news only, where both name
# where it happened and nothing conflicts.
CLOSE_COSINE = 0.85
# Titles `CROSS_COSINE` close that name nothing alike are one event's when the titles read
# with their leads (`lead_text`) lie this close: a lead names what a headline leaves out.
LEAD_COSINE = 0.88
CROSS_WINDOW = timedelta(hours=24)


def crossing(
    a: Sketch,
    b: Sketch,
    apart: timedelta,
    cosine: float,
    leads: Callable[[], float] = lambda: 0.0,
) -> float:
    """How surely two reports in different languages tell one event (A the later): their
    titles' cosine, if it reaches `CROSS_COSINE` within `CROSS_WINDOW` and `may_cross` says
    so, and for two reports of the islands' news that `may_cross` finds named otherwise, the
    titles reach `CLOSE_COSINE` or the cosine of their `lead_text`s (`leads`, asked only
    then) reaches `LEAD_COSINE`; otherwise 0."""
    if cosine < CROSS_COSINE or apart >= CROSS_WINDOW or not may_cross(a, b, close=True):
        return 0.0
    # what `may_cross` asks beyond `close` (its conflict rules are not run twice)
    if cosine >= CLOSE_COSINE or named_alike(a, b):
        return cosine
    return cosine if a.lead and b.lead and leads() >= LEAD_COSINE else 0.0


def lead_text(report: Sketch) -> str:
    """A report's title and lead, as their vectors read them."""
    return f"{report.title}. {report.lead}"


def may_cross(a: Sketch, b: Sketch, close: bool = False) -> bool:
    """All that `crossing` asks but the vectors and the time: reports in two languages, of the
    islands' news or with someone both titles name, that name the event alike (or, `close`,
    are both of the islands' news) and conflict in nothing (A the later)."""
    return (
        a.script != b.script
        and ((a.local and b.local) or bool((a.title_actors & b.title_actors) - PLACES))
        and (named_alike(a, b) or (close and a.local and b.local))
        and not crossing_conflict(a, b)
    )


def named_alike(a: Sketch, b: Sketch) -> bool:
    """Both reports name the event alike: a kind of event of one title that the other
    report's title or lead names (a later sentence may be background), a person of one
    title that the other report names (a place, as an island, sees many events a day), or
    the numbers of both titles."""
    return bool(
        a.kinds & b.lead_kinds
        or b.kinds & a.lead_kinds
        or (a.title_actors & b.actors) - PLACES
        or (b.title_actors & a.actors) - PLACES
        or (
            a.title_numbers
            and b.title_numbers
            and (
                quantities_agree(a.title_numbers, b.numbers)
                or quantities_agree(b.title_numbers, a.numbers)
            )
        )
    )
