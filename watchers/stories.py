"""Story clustering: the same story told by different outlets, in other words or languages.

A report joins the story whose reports in its own language it resembles most
(`story_resemblance.resemblance`: title vectors and rare shared tokens, 0 when their facts
conflict, `watchers.story_sketch`), if that reaches `THRESHOLD` (`HEADLINE_THRESHOLD` for a
headline alone); failing that, a story of other languages that `story_crossing.crossing`
accepts (close title vectors, or a little less close with close leads; the facts of
`watchers.story_bridge` in agreement). Only reports that may alert are embedded, with the
members of their candidate stories (a title with its lead only when `crossing` asks), and
vectors are kept by text for the window. Thresholds and weights were chosen with
`bench/cluster.py` (README and bench/STORIES.md).
"""

from __future__ import annotations

import heapq
import logging
import math
from collections import Counter, OrderedDict, defaultdict, deque
from collections.abc import Callable, Iterable, Sequence, Set
from datetime import datetime, timedelta
from functools import partial
from itertools import chain
from typing import TYPE_CHECKING

from watchers.story_bridge import PLACES, bridge_keys
from watchers.story_crossing import CROSS_COSINE, CROSS_WINDOW, crossing, lead_text, may_cross
from watchers.story_entry import LOCAL_KEY, Entry
from watchers.story_resemblance import (
    STORY_FLOOR,
    WINDOW,
    resemblance,
    story_score,
)
from watchers.story_sketch import Sketch, conflict, crossing_conflict

if TYPE_CHECKING:  # numpy loads only where vectors are made (not in the parse workers)
    from watchers.embedding import Vectors

THRESHOLD = 0.45
# A report that is a headline alone (no summary, or one adding no word) has fewer tokens to
# share and fewer names and numbers to veto with: a paraphrase scores lower, so it may join a
# story at a lower resemblance (UCI headlines, and the labelled pairs' titles alone:
# bench/STORIES.md).
HEADLINE_THRESHOLD, HEADLINE_FLOOR = 0.36, 0.20
# Close titles (`story_crossing.CLOSE_COSINE`) may share no key to be looked up by
# (`bridge_keys`): a report of the islands' news is also compared, title with title, with this
# many of the newest reports of the islands' news in other languages (`_close_stories`).
CLOSE_BUDGET = 64
IDF_PRIOR = 20  # reports assumed beside the window's, so a near-empty window weighs evenly
# A story keeps only its first few reports in the index, a lookup reads the postings of its
# rarest tokens up to a budget, and weighs only the stories of the best candidates: a feed of
# templated near-copies (weather, market reports) must not make each lookup scan thousands.
MAX_PER_STORY = 4
# Reports the index holds at most, the oldest dropped first: the window bounds it in time, this
# in memory whatever the rate of matched items. A report costs about 8 KB (news text) to 15 KB
# (words no other report shares, as in bench/soak.py); 2,000 is 500 stories or more in 72 hours.
MAX_REPORTS = 2_000
# Characters of reports waiting for the index (`StoryIndex.add_text`) that make it take them in
# at once: a bound on their memory of the order of the index's own at `MAX_REPORTS`.
WAITING_CHARS = 8_000_000
MAX_CANDIDATES = 16
MAX_STORIES = 6
SCAN_BUDGET = 500
MIN_TOKENS = 3
# Ids of the reports `StoryIndex.find_each` holds while it looks up a batch: above any stored
# item's, so that they rank as the newest, which they are.
HELD = 1 << 60

# A model that fails (not loaded: its package or weights missing or corrupt; or raising on a
# text) leaves each report its own story: one alert each rather than none. It is tried again
# after this wait, doubled at each failure in a row up to the longest.
EMBED_RETRY, EMBED_RETRY_MAX = timedelta(minutes=1), timedelta(hours=1)

_MODEL_FAILED = "story clustering: the title vector model failed (%s); reports are their own \
stories until it is tried again in %d s"

Embed = Callable[[Sequence[str]], "Vectors"]
log = logging.getLogger(__name__)


def _may_join_across(report: Sketch, at: datetime, members: Sequence[Entry]) -> bool:
    """Whether a report may join a story of other languages: no report of the story is in its
    own language (that comparison said no), `may_cross` one of the day if their vectors are
    close, and none conflicts with it."""
    return (
        all(m.script != report.script for m in members)
        and any(
            abs(at - m.at) < CROSS_WINDOW and may_cross(*_later_first(report, at, m), close=True)
            for m in members
        )
        and not any(crossing_conflict(*_later_first(report, at, m)) for m in members)
    )


def _later_first(report: Sketch, at: datetime, entry: Entry) -> tuple[Sketch, Sketch]:
    """A report and an indexed one, the later first by the times the index holds: the
    conflict rules read a follow-up as the later report (`story_sketch.conflict`). These are
    the times reports became known: fetch times in the daemon, so a report of an earlier
    stage fetched after a later stage's alert is no news and joins its story (a feed's dates
    would make it a story of its own); publication times in `kurilwatch stories` and the
    bench, whose input comes in that order."""
    return (report, entry.report) if at >= entry.at else (entry.report, report)


def _embed_titles(titles: Sequence[str]) -> Vectors:
    """The model's vectors: it (and numpy) loads with the first title to embed, not with the
    index (`poll --once` of first polls never embeds)."""
    from watchers.embedding import embed_titles

    return embed_titles(titles)


class StoryIndex:
    """The recent reports of every story, to find which story a new report belongs to.

    `embed` turns titles into vectors (the model by default); the vectors it made are kept by
    title, twice `limit` of them at most (those least recently asked for go first), and those
    not yet saved wait in `fresh` for the caller to store."""

    def __init__(
        self,
        threshold: float = THRESHOLD,
        window: timedelta = WINDOW,
        embed: Embed | None = None,
        limit: int = MAX_REPORTS,
        headline_threshold: float = HEADLINE_THRESHOLD,
        waiting_chars: int = WAITING_CHARS,
    ) -> None:
        self.threshold, self.window, self.limit = threshold, window, limit
        self.waiting_chars = waiting_chars
        self.headline_threshold = headline_threshold
        self.embed = embed or _embed_titles
        self._vectors: OrderedDict[str, Vectors] = OrderedDict()  # least recently asked first
        self.fresh: dict[str, Vectors] = {}
        self._embed_failures = 0
        self._embed_after: datetime | None = None  # no model call before (it failed)
        self._entries: dict[int, Entry] = {}
        # reports of `add_text` not taken in yet (their tokens are not counted), in order
        self._waiting: list[tuple[int, int, str, str, datetime]] = []
        self._waiting_chars = 0
        self._postings: defaultdict[str, dict[str, set[int]]] = defaultdict(dict)  # by script
        self._df: defaultdict[str, Counter[str]] = defaultdict(Counter)  # by script
        self._bridges: defaultdict[str, dict[str, set[int]]] = defaultdict(dict)  # by script
        self._order: deque[int] = deque()
        self._stories: defaultdict[int, list[int]] = defaultdict(list)

    def __len__(self) -> int:
        self._take_in()
        return len(self._entries)

    @property
    def vectors(self) -> dict[str, Vectors]:
        """The title vectors kept, by title."""
        self._take_in()
        return self._vectors

    def remember_vectors(self, known: Iterable[tuple[str, Vectors]]) -> None:
        """Vectors computed before (by a former run), by title."""
        self._take_in()
        self._vectors.update(known)
        self._keep_within(set())

    def _vectors_of(self, titles: Iterable[str], at: datetime) -> bool:
        """Whether every title has its vector (made now if need be); False while the model fails."""
        asked = dict.fromkeys(titles)
        missing = [t for t in asked if t not in self._vectors]
        for title in asked.keys() - missing:
            self._vectors.move_to_end(title)
        if not missing:
            return True
        if self._embed_after is not None and at < self._embed_after:
            return False
        try:
            vectors = self.embed(missing)
        except Exception as exc:  # a model that fails must not stop the reports
            self._embed_failures += 1
            wait = min(EMBED_RETRY * 2 ** min(self._embed_failures - 1, 16), EMBED_RETRY_MAX)
            self._embed_after = at + wait if at.year < 9999 else at  # no overflow
            why = f"{type(exc).__name__}: {str(exc)[:300]}"
            log.error(_MODEL_FAILED, why, wait.total_seconds())
            return False
        if self._embed_failures:
            log.info("story clustering: the title vector model works again")
        self._embed_failures, self._embed_after = 0, None
        for title, vector in zip(missing, vectors, strict=True):
            # a copy: a row of the batch is a view, which kept all of the batch alive
            self._vectors[title] = self.fresh[title] = vector.copy()
        self._keep_within(asked.keys())
        return True

    def _keep_within(self, asked: Set[str]) -> None:
        """Forget the vectors least recently asked for past twice `limit`, but those just
        `asked` for: a day of reports that a full story refused kept each title's until the
        daily `prune` (thousands, for a story told in three languages by Google News)."""
        while len(self._vectors) > 2 * self.limit:
            title = next(iter(self._vectors))
            if title in asked:
                return
            del self._vectors[title]

    def _weight(self, script: str) -> Callable[[str], float]:
        df, total = self._df[script], len(self._entries) + IDF_PRIOR
        return lambda token: math.log(total / (df[token] + 1))

    def find(self, report: Sketch, at: datetime) -> int | None:
        """The story this report joins, if any: among those of the best candidates of its
        language, the one `story_score` rates highest, if that reaches the threshold; else the
        story of another language that `crossing` rates highest. A roundup joins none
        (`story_roundups.is_roundup`)."""
        self._take_in()
        if len(report.tokens) < MIN_TOKENS or report.roundup:
            return None
        found = self._find_in_script(report, at)
        return self._find_across(report, at) if found is None else found

    def find_each(self, reports: Sequence[Sketch], at: datetime) -> list[int | None]:
        """`find` for reports that arrive together (one feed's answer), each seeing those before
        it as if added: a stored story's id, `HELD + k` for the story that `reports[k]` starts
        or joins, or None. The index is left as it was."""
        self._take_in()  # nothing waits after this: the reports held below end `_order`
        found: list[int | None] = []
        held: list[int] = []
        try:
            for k, report in enumerate(reports):
                story = self.find(report, at)
                found.append(story)
                # over the limit for the while: evicting a stored report would lose it
                story_id = HELD + k if story is None else story
                self._add(Entry(HELD + k, story_id, at, report), evict=False)
                held.append(HELD + k)
        finally:
            for item_id in reversed(held):
                entry = self._entries.pop(item_id, None)
                if entry is not None:  # not refused (too few tokens, its story full)
                    self._order.pop()
                    self._unindex(entry)
        return found

    def _find_in_script(self, report: Sketch, at: datetime) -> int | None:
        script = self._postings[report.script]
        # sorted: a set of strings iterates in an order PYTHONHASHSEED changes, and the scan
        # budget below and the candidates' ties must not depend on it
        postings = [posting for token in sorted(report.tokens) if (posting := script.get(token))]
        scanned: list[set[int]] = []
        budget = SCAN_BUDGET
        for posting in sorted(postings, key=len):  # rarest tokens first
            if len(posting) > budget and scanned:
                break
            scanned.append(posting)
            budget -= len(posting)
        shared = Counter(chain.from_iterable(scanned))  # one count, in C
        ranked = sorted(shared.items(), key=lambda pair: (-pair[1], -pair[0]))  # ties: newest
        candidates = ranked[:MAX_CANDIDATES]
        stories: list[int] = []
        for item_id, _ in candidates:
            entry = self._entries[item_id]
            if entry.story_id in stories or abs(at - entry.at) >= self.window:
                continue
            if not conflict(*_later_first(report, at, entry)):
                stories.append(entry.story_id)
                if len(stories) == MAX_STORIES:
                    break
        if not stories:
            return None
        members: dict[int, list[Entry]] = {}
        for story in stories:
            entries = [self._entries[i] for i in self._stories[story]]
            # its reports in other languages say nothing of the words, but must not conflict
            if not any(
                e.script != report.script and crossing_conflict(*_later_first(report, at, e))
                for e in entries
            ):
                members[story] = [e for e in entries if e.script == report.script]
        titles = chain([report.title], (e.report.title for m in members.values() for e in m))
        if not self._vectors_of(titles, at):
            return None
        mine, weight = self._vectors[report.title], self._weight(report.script)
        threshold, floor = self.threshold, STORY_FLOOR
        if report.headline:
            threshold, floor = self.headline_threshold, HEADLINE_FLOOR
        best, best_score = None, threshold
        for story in members:
            scores = [
                resemblance(
                    *_later_first(report, at, e),
                    abs(at - e.at),
                    (mine, self._vectors[e.report.title]),
                    weight,
                    self.window,
                )
                for e in members[story]
            ]
            value = story_score(scores, floor)
            if value >= best_score:
                best, best_score = story, value
        return best

    def _find_across(self, report: Sketch, at: datetime) -> int | None:
        if not report.local and not report.title_actors - PLACES:
            return None  # `may_cross` would refuse every story: nothing to scan or embed
        keys = bridge_keys(
            report.kinds, report.title_actors, report.title_places, report.title_numbers
        )
        shared = Counter(
            chain.from_iterable(
                bridges.get(key, ())
                for script, bridges in self._bridges.items()
                if script != report.script
                for key in keys
            )
        )
        # most keys in common first, then the oldest: an order that string hashing cannot move
        ranked = sorted(shared.items(), key=lambda pair: (-pair[1], pair[0]))[:SCAN_BUDGET]
        stories: dict[int, list[Entry]] = {}
        seen: set[int] = set()
        for item_id, _ in ranked:
            story = self._entries[item_id].story_id
            if story in seen:
                continue
            seen.add(story)
            members = [self._entries[i] for i in self._stories[story]]
            if _may_join_across(report, at, members):
                stories[story] = members
                if len(stories) == MAX_STORIES:
                    break
        if report.local:
            stories.update(self._close_stories(report, at, shared.keys(), seen))
        if not stories:
            return None
        titles = (m.report.title for members in stories.values() for m in members)
        if not self._vectors_of(chain([report.title], titles), at):
            return None
        mine = self._vectors[report.title]
        best, best_score = None, 0.0
        for story, members in stories.items():
            score = max(
                crossing(
                    *_later_first(report, at, m),
                    abs(at - m.at),
                    float(mine @ self._vectors[m.report.title]),
                    partial(self._lead_cosine, report, m.report, at),
                )
                for m in members
            )
            if score > best_score:
                best, best_score = story, score
        return best

    def _lead_cosine(self, a: Sketch, b: Sketch, at: datetime) -> float:
        texts = lead_text(a), lead_text(b)
        if not self._vectors_of(texts, at):
            return 0.0
        return float(self._vectors[texts[0]] @ self._vectors[texts[1]])

    def _close_stories(
        self, report: Sketch, at: datetime, found: Set[int], weighed: set[int]
    ) -> dict[int, list[Entry]]:
        """The stories of the newest `CLOSE_BUDGET` reports of the islands' news in other
        languages (the highest item ids: the order reports came in) whose titles are
        `CROSS_COSINE` close to the report's, but the reports its keys `found` and the stories
        already `weighed`: close titles need no key in common (`crossing` judges them)."""
        newest = heapq.nlargest(
            CLOSE_BUDGET,
            (
                item_id
                for script, bridges in self._bridges.items()
                if script != report.script
                for item_id in bridges.get(LOCAL_KEY, ())
                if item_id not in found
            ),
        )
        entries = [self._entries[i] for i in newest]
        entries = [
            e for e in entries if e.story_id not in weighed and abs(at - e.at) < CROSS_WINDOW
        ]
        if not entries:
            return {}
        if not self._vectors_of(chain([report.title], (e.title for e in entries)), at):
            return {}
        mine = self._vectors[report.title]
        stories: dict[int, list[Entry]] = {}
        for entry in entries:
            if entry.story_id in stories or float(mine @ self._vectors[entry.title]) < CROSS_COSINE:
                continue
            members = [self._entries[i] for i in self._stories[entry.story_id]]
            if _may_join_across(report, at, members):
                stories[entry.story_id] = members
        return stories

    def add(self, item_id: int, story_id: int, report: Sketch, at: datetime) -> None:
        self._take_in()
        if item_id not in self._entries:
            self._add(Entry(item_id, story_id, at, report))

    def add_text(self, item_id: int, story_id: int, title: str, summary: str, at: datetime) -> None:
        """`add` for a report that no lookup may ever weigh (those of a first poll, those of
        the window at a start). It waits: the index takes it in (its tokens) at the next call
        that reads or changes the index, so a run that ends first (`poll --once`) never pays
        for it; the rest of its sketch is made when a lookup first weighs it."""
        self._waiting.append((item_id, story_id, title, summary, at))
        self._waiting_chars += len(title) + len(summary)
        if self._waiting_chars > self.waiting_chars:
            self._take_in()

    def _take_in(self) -> None:
        """Add the reports waiting since `add_text`, in their order: the index ends as it
        would have had each been added at once."""
        if not self._waiting:
            return
        waiting, self._waiting, self._waiting_chars = self._waiting, [], 0
        for item_id, story_id, title, summary, at in waiting:
            if item_id not in self._entries:
                self._add(Entry(item_id, story_id, at, text=(title, summary)))

    def _add(self, entry: Entry, evict: bool = True) -> None:
        item_id, story_id = entry.item_id, entry.story_id
        # a roundup lists unrelated subjects: indexed, a later report of one would join it
        if (
            entry.roundup
            or len(entry.tokens) < MIN_TOKENS
            or len(self._stories[story_id]) >= MAX_PER_STORY
        ):
            return
        while evict and self._order and len(self._entries) >= self.limit:
            self._forget_oldest()
        self._entries[item_id] = entry
        script = self._postings[entry.script]
        for token in entry.tokens:
            script.setdefault(token, set()).add(item_id)
        self._df[entry.script].update(entry.tokens)
        bridges = self._bridges[entry.script]
        for key in entry.bridges:
            bridges.setdefault(key, set()).add(item_id)
        self._order.append(item_id)
        self._stories[story_id].append(item_id)

    def prune(self, now: datetime) -> None:
        """Forget reports (and vectors) older than the window."""
        self._take_in()
        while self._order:
            entry = self._entries.get(self._order[0])
            if entry is not None and now - entry.at <= self.window:
                break
            self._forget_oldest()
        # vectors of titles no report holds (looked up but refused by a full story, loaded at a
        # start for reports since forgotten) go once they outnumber the reports' twice over
        if len(self._vectors) > 2 * len(self._entries):
            titles = {entry.title for entry in self._entries.values()}
            self._vectors = OrderedDict((t, v) for t, v in self._vectors.items() if t in titles)

    def _forget_oldest(self) -> None:
        entry = self._entries.pop(self._order.popleft(), None)
        if entry is None:
            return
        self._unindex(entry)
        self._vectors.pop(entry.title, None)

    def _unindex(self, entry: Entry) -> None:
        _unpost(self._postings[entry.script], entry.tokens, entry.item_id)
        _unpost(self._bridges[entry.script], entry.bridges, entry.item_id)
        df = self._df[entry.script]
        df.subtract(entry.tokens)
        for token in entry.tokens:
            if df[token] <= 0:  # Counter.subtract keeps zeros: without this, df grows for ever
                del df[token]
        members = self._stories[entry.story_id]
        members.remove(entry.item_id)
        if not members:
            del self._stories[entry.story_id]


def _unpost(postings: dict[str, set[int]], keys: Iterable[str], item_id: int) -> None:
    """Take an item off the postings of its keys, and drop the postings left empty."""
    for key in keys:
        posting = postings[key]
        posting.discard(item_id)
        if not posting:
            del postings[key]
