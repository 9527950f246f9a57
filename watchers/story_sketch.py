"""What story clustering knows of one report (its `Sketch`), and when two reports' facts say
they tell two events (`conflict`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

from watchers.story_bridge import (
    ACTOR_LEXICON,
    KURIL_LEXICON,
    LOCAL_PLACES,
    ends_apart,
    facility_kinds,
    kinds_conflict,
    kinds_of,
    town_islands,
)
from watchers.story_facts import (
    dates,
    lead_days,
    magnitudes,
    numbers,
    plain,
    quantities_agree,
)
from watchers.story_places import places
from watchers.story_roundups import is_roundup
from watchers.story_stages import stages_apart, title_stages, unspoken
from watchers.story_words import (
    PERIOD,
    PERIODS,
    REPLY,
    SHARE,
    dateline,
    ja_countries,
    lead_sentence,
    mentions,
    named_in,
    recalls,
    script_of,
    story_tokens,
    title_names,
    wire_slug,
)
from watchers.topics.normalise import WORD, is_cjk, normalise

SAME_QUAKE = 0.35  # magnitudes this close may be one quake's (`_other_quake`)
QUAKES = frozenset({"quake", "aftershock"})
RECALLED_SHARE = 0.8  # of the other title's tokens, in a sentence recalling an earlier event
RECALLED_TOKENS = 3
# of a Japanese title's character bigrams: a retelling in other words shares far fewer
RECALLED_SHARE_JA = 0.4


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
    # what reports in other languages compare too (`watchers.story_bridge`)
    kinds: frozenset[str] = frozenset()  # of event, that the title reports
    title_actors: frozenset[str] = frozenset()
    actors: frozenset[str] = frozenset()
    local: bool = False  # news of the islands: the news those kinds of event were written for
    recalls: frozenset[frozenset[str]] = frozenset()  # `story_words.recalls` of the summary
    stages: frozenset[str] = frozenset()  # `story_stages.title_stages`
    lead_kinds: frozenset[str] = frozenset()  # of event, that the title or the lead reports
    magnitudes: frozenset[str] = frozenset()  # of earthquakes, that the title gives
    filed: frozenset[tuple[int, int]] = frozenset()  # the day of the summary's dateline
    countries: frozenset[str] = frozenset()  # but Japan, that a Japanese title names
    month_days: frozenset[int] = frozenset()  # that a Japanese text dates events by ("5日、")
    lead: str = ""  # the summary's first sentence
    title_period: bool = False  # the title reports a period's figures (`story_words.PERIOD`)
    period: bool = False  # the report names a period anywhere (`story_words.PERIODS`)
    roundup: bool = False  # the title is a roundup's: of no story (`story_roundups.is_roundup`)

    def wire(self) -> tuple[Any, ...]:
        """Plain tuples, to cross from a parse worker cheaply (`unwire` builds it again)."""
        values = (getattr(self, field.name) for field in fields(self))
        return tuple(tuple(v) if isinstance(v, frozenset) else v for v in values)

    @classmethod
    def unwire(cls, wired: Sequence[Any]) -> Sketch:
        values: list[Any] = [frozenset(v) if isinstance(v, tuple) else v for v in wired]
        return cls(*values)


def sketch(
    title: str, summary: str, words: list[str] | None = None, title_words: int | None = None
) -> Sketch:
    """The report's sketch, of its title without a wire's slug; `words` as for
    `story_tokens`, when the caller has them, the first `title_words` of them the title's."""
    if cut := wire_slug(title):
        slug = len(WORD.findall(normalise(title[:cut])))
        title = title[cut:]
        words = None if words is None else words[slug:]
        title_words = None if title_words is None else title_words - slug
    text = f"{title}\n{summary}"
    heading = (
        WORD.findall(normalise(title))
        if words is None or title_words is None
        else words[:title_words]
    )
    kinds, title_actors = title_bridges(title, heading)
    if words is None:
        words = WORD.findall(normalise(text))
    actors = ACTOR_LEXICON.find(words) | title_actors
    title_islands = title_places(title, heading)
    islands = places(text) | title_islands
    names = title_names(title, summary)  # a report mentions what its own title names
    tokens = story_tokens(title, summary, words)
    filed = dateline(summary)
    body = summary.strip()[len(filed) :]
    return Sketch(
        tokens,
        names,
        mentions(title, summary, words, islands) | {p for name in names for p in name.split("|")},
        script_of(text),
        title.strip(),
        numbers(title),
        numbers(text),
        title_islands,
        islands,
        REPLY.search(plain(title)) is not None,
        dates(title),
        dates(f"{title}\n{body}"),
        not summary.strip() or tokens <= story_tokens(title, ""),
        kinds,
        title_actors,
        actors,
        is_local(islands, actors, words),
        recalls(summary),
        title_stages(title, heading, lead_sentence(body)),
        kinds | kinds_of(WORD.findall(normalise(lead_sentence(body)))) - facility_kinds(heading),
        magnitudes(title) if kinds & QUAKES else frozenset(),
        dates(filed),
        ja_countries(title) if is_cjk(title) else frozenset(),
        lead_days(text) if is_cjk(text) else frozenset(),
        lead_sentence(body).strip(),
        PERIOD.search(folded := plain(title)) is not None and SHARE.search(folded) is not None,
        PERIODS.search(plain(text)) is not None,
        is_roundup(title),
    )


def is_local(islands: frozenset[str], actors: frozenset[str], words: Sequence[str]) -> bool:
    """Whether a report is the islands' news: it names an island, a person or place of
    `watchers.story_bridge` there, the Kurils, or Sakhalin, the region that governs them and
    whose news the topics let through is of the same kinds (a ferry, a bridge, an LNG deal)
    (`islands`, `actors` and `words` its own)."""
    return bool(
        islands or actors & LOCAL_PLACES or "sakhalin" in actors or KURIL_LEXICON.find(words)
    )


def title_places(title: str, words: list[str] | None = None) -> frozenset[str]:
    """The islands a title puts its event on: those it names and those of the towns it names
    (in a summary a town may be where a court sits or what a distance is measured from);
    `words`, when given, are the title's normalised words."""
    words = WORD.findall(normalise(title)) if words is None else words
    return places(title) | town_islands(title, words)


def title_bridges(
    title: str, words: list[str] | None = None
) -> tuple[frozenset[str], frozenset[str]]:
    """The kinds of event a title reports, and the people and places of
    `watchers.story_bridge` it names; `words`, when given, are its normalised words."""
    words = WORD.findall(normalise(title)) if words is None else words
    kinds = kinds_of(words)
    if kinds and is_cjk(title) and "「" in title and (told := unspoken(title)) != plain(title):
        kinds = kinds_of(WORD.findall(normalise(told)))
    return kinds, ACTOR_LEXICON.find(words)


def conflict(a: Sketch, b: Sketch) -> bool:
    """Two events: each title names someone, a number or an island the other never mentions,
    a title's day is none of the days the other names, the two name days and none in common,
    the two titles give magnitudes 0.4 or more apart (an aftershock, or the next quake), two
    Japanese titles name other countries (日中 and 日ロ外相会談),
    two Japanese reports date their events by other days of the month ("5日、" and "6日の"),
    one replies (rejects, rebuts, denies) and the other does not, two reports of the islands' news
    report other kinds of event (a deployment and drills, a capsizing and a seizure), or talks
    that ended in different ways, or one recalls the other's news as an earlier event, or A,
    the later report, is at a later stage of a process than B (`story_stages`)."""
    return (
        a.reply != b.reply
        or follows(a, b)
        or follows(b, a)
        or (a.local and b.local and kinds_conflict(a.kinds, b.kinds))
        or ends_apart(a.kinds, b.kinds)
        # English says "passes" of a law enacted, as across languages (`stages_apart`)
        or stages_apart(a.stages, b.stages, across="en" in (a.script, b.script))
        or (not named_in(a.names, b.mentions) and not named_in(b.names, a.mentions))
        or (not a.title_actors <= b.actors and not b.title_actors <= a.actors)
        or (
            not quantities_agree(a.title_numbers, b.numbers)
            and not quantities_agree(b.title_numbers, a.numbers)
        )
        or (not a.title_places <= b.places and not b.title_places <= a.places)
        or bool(a.places and b.places and not a.places & b.places)  # two islands: two events
        or _other_day(a, b)
        or _other_day(b, a)
        or _days_apart(a, b)  # two days: two events
        or _other_quake(a, b)
        or bool(a.countries and b.countries and not a.countries & b.countries)
        or bool(a.month_days and b.month_days and not a.month_days & b.month_days)
    )


def crossing_conflict(a: Sketch, b: Sketch) -> bool:
    """Two reports in different languages tell two events (A the later): as `conflict` says,
    with the people and places of `watchers.story_bridge` for names and each title's islands
    in the other report (with no words in common, nothing else vouches for a place), or their
    titles report other kinds of event, or one a period's figures and the other an event."""
    return (
        a.reply != b.reply
        or (not a.title_actors <= b.actors and not b.title_actors <= a.actors)
        or kinds_conflict(a.kinds, b.kinds)
        or stages_apart(a.stages, b.stages, across=True)
        or (
            not quantities_agree(a.title_numbers, b.numbers)
            and not quantities_agree(b.title_numbers, a.numbers)
        )
        or (
            not (a.title_places <= b.places and b.title_places <= a.places) and not _one_quake(a, b)
        )
        or bool(a.places and b.places and not a.places & b.places)  # two islands: two events
        or _other_day(a, b)
        or _other_day(b, a)
        or _days_apart(a, b)
        or _other_quake(a, b)
        or _other_period(a, b)
    )


def _other_period(a: Sketch, b: Sketch) -> bool:
    """One title reports a period's figures (a quarter's output) and the other report, in
    another language, names no period: it tells an event (the first cargo), not those results.
    In one language the words they share say more (a results release's headlines lead with
    the profit or with the chief executive leaving), and no such rule holds there."""
    return (a.title_period and not b.period) or (b.title_period and not a.period)


def follows(a: Sketch, b: Sketch) -> bool:
    """A is a follow-up of B's news: a sentence of A's that recalls an earlier event
    (`story_words.recalls`) holds `RECALLED_SHARE` of B's title, of `RECALLED_TOKENS` tokens
    or more ("Напомним, что накануне ДНР подтвердила...")."""
    if not a.recalls:
        return False
    told = story_tokens(b.title, "")
    share = RECALLED_SHARE_JA if a.script == "ja" else RECALLED_SHARE
    return len(told) >= RECALLED_TOKENS and any(
        len(told & sentence) >= share * len(told) for sentence in a.recalls
    )


def _other_quake(a: Sketch, b: Sketch) -> bool:
    """Both titles give a quake's magnitude, none within `SAME_QUAKE` of the other's: an
    aftershock, or the next quake, even when one report recalls the other's ("国後島付近で
    またM5.4" after "M6.2"). Closer magnitudes are left to the number veto: two agencies'
    readings of one quake (JMA, USGS, the Russian survey) differ by up to about 0.3."""
    return bool(a.magnitudes and b.magnitudes) and all(
        abs(float(x) - float(y)) > SAME_QUAKE for x in a.magnitudes for y in b.magnitudes
    )


def _one_quake(a: Sketch, b: Sketch) -> bool:
    """Both titles give a quake's magnitude, within `SAME_QUAKE`: a quake is placed in many
    ways (its nearest island, a town under a tsunami alert, "northern Kurils", 千島列島), so an
    island one report names and the other does not is no other quake's; two islands named
    apart still are (`crossing_conflict`)."""
    return any(abs(float(x) - float(y)) <= SAME_QUAKE for x in a.magnitudes for y in b.magnitudes)


def _other_day(a: Sketch, b: Sketch) -> bool:
    """A's title dates its event, and B names days, none of them that one nor the day B was
    filed."""
    return bool(a.title_dates and b.dates and not a.title_dates & (b.dates | b.filed))


def _days_apart(a: Sketch, b: Sketch) -> bool:
    """Both reports name days, and none in common, counting the days they were filed: a
    dateline's day alone names no day of the event, but may be one."""
    return bool(a.dates and b.dates and not (a.dates | a.filed) & (b.dates | b.filed))
