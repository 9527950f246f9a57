"""When two reports in one language tell one story: their title vectors and the rare tokens
they share (`resemblance`), unless their facts conflict (`watchers.story_sketch.conflict`);
and when a story of several reports takes in a newcomer (`story_score`)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING

from watchers.story_sketch import Sketch, conflict
from watchers.story_words import JA_SETTING, SETTING

if TYPE_CHECKING:  # numpy loads only where vectors are made (not in the parse workers)
    from watchers.embedding import Vectors

WINDOW = timedelta(hours=72)
LEXICAL_WEIGHT = 0.3  # of the token cosine, against 1 for the title vectors
VECTOR_FLOOR, VECTOR_SPAN = 0.80, 0.15  # title cosine 0.80 scores 0, 0.95 and above 1
STORY_FLOOR = 0.25  # the mean resemblance a story's reports must have with a newcomer
# Two reports of the islands' news that report one kind of event (`watchers.story_bridge`)
# resemble each other more than their words and vectors alone say.
KIND_BONUS = 0.3
# Japanese titles' vectors lie close whatever they tell (the model's cosines run high in
# Japanese: two events on one island score 0.86-0.91): two Japanese reports with summaries
# must share this much of their tokens (their sets' plain cosine) for the vectors to count.
# A report of fewer tokens is a title with a byline at most (every labelled one with a
# summary has 31 or more).
MIN_JA_OVERLAP, MIN_JA_TOKENS = 0.15, 30


def resemblance(
    a: Sketch,
    b: Sketch,
    apart: timedelta,
    vectors: tuple[Vectors, Vectors],
    weight: Callable[[str], float] = lambda _: 1.0,
    window: timedelta = WINDOW,
) -> float:
    """How surely two reports tell one story, from 0 to 1 (A the later, as `_later_first`
    orders them: the later fetched in the daemon); `weight` gives a token's weight."""
    if apart >= window or a.script != b.script or conflict(a, b):
        return 0.0
    shared = a.tokens & b.tokens
    if not shared or _apart_in_japanese(a, b):
        return 0.0
    if a.local and b.local and shared <= SETTING and not a.kinds & b.kinds:
        return 0.0  # two of the islands' reports that share only where they happen
    lexical = sum(weight(t) ** 2 for t in shared) / math.sqrt(
        sum(weight(t) ** 2 for t in a.tokens) * sum(weight(t) ** 2 for t in b.tokens)
    )
    cosine = float(vectors[0] @ vectors[1])
    semantic = min(1.0, max(0.0, (cosine - VECTOR_FLOOR) / VECTOR_SPAN))
    agreed = KIND_BONUS if a.kinds & b.kinds and a.local and b.local else 0.0
    together = min(1.0, (semantic + LEXICAL_WEIGHT * lexical + agreed) / (1 + LEXICAL_WEIGHT))
    return together * (1 - apart / window)


def _apart_in_japanese(a: Sketch, b: Sketch) -> bool:
    """Two Japanese reports with summaries that share too few tokens for their title vectors
    to say they tell one event (`MIN_JA_OVERLAP`), not counting where the islands' news
    happens (`story_words.JA_SETTING`); a headline alone, or with a byline, has too few to
    tell."""
    if a.script != "ja" or min(len(a.tokens), len(b.tokens)) < MIN_JA_TOKENS:
        return False
    told_a, told_b = a.tokens - JA_SETTING, b.tokens - JA_SETTING
    return len(told_a & told_b) < MIN_JA_OVERLAP * math.sqrt(len(told_a) * len(told_b))


def story_score(scores: Sequence[float], floor: float = STORY_FLOOR) -> float:
    """A story's resemblance to a report, from those of its indexed reports: the best one's,
    provided the story as a whole resembles it too (their mean reaches `floor`). One
    report in other words can carry a newcomer in; a chance look-alike in an unrelated story
    cannot (single linkage alone chains stories together)."""
    return max(scores) if sum(scores) / len(scores) >= floor else 0.0
