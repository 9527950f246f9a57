"""Story clustering: the same story told by different outlets, found by word overlap.

Each report becomes a set of tokens (stemmed words without stopwords, numbers kept; Japanese and
Chinese as character bigrams). Two reports score the cosine of their token sets, scaled down
linearly with the time between them (0 at the 72-hour window), and 0 when each title names
someone or something the other report never mentions (Ebeko versus Chikurachki volcano, Trutnev
versus Bastion on Iturup). An inverted index over the tokens finds the candidates among the
reports of the window. The threshold was chosen on `tests/data/story_pairs.jsonl` for precision
first (`bench/cluster.py`): a false merge hides news.
"""

from __future__ import annotations

import functools
import math
import re
from collections import Counter, defaultdict, deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import chain
from operator import itemgetter

import snowballstemmer

from watchers.topics.normalise import WORD, fold_marks, is_cjk, is_cyrillic, normalise

THRESHOLD = 0.34  # the lowest with pair precision >= 0.98 on the labelled pairs (bench/cluster.py)
WINDOW = timedelta(hours=72)
# A story keeps only its first few reports in the index, a lookup reads the postings of its
# rarest tokens up to a budget, and weighs only the best candidates: a feed of templated
# near-copies (weather, market reports) must not make each lookup scan thousands of entries.
MAX_PER_STORY = 4
MAX_CANDIDATES = 16
SCAN_BUDGET = 500
MIN_TOKENS = 3

_STOP = frozenset(
    "a an the of to in on at for from by with and or but is are was were be been has have had"
    " it its this that as said says will would not no after over new more than about into"
    " и в во на с со по к о об от до из за у же ли не что это как а но или для при был была"
    " были будет его ее их он она они так также уже".split()
)
_STEMMERS = {"en": snowballstemmer.stemmer("english"), "ru": snowballstemmer.stemmer("russian")}


# Stems kept per process. A daemon meets new words for ever (names, inflected forms), so the
# cache fills to its bound at about 200 bytes a word: 4 MB here, where 200,000 let each parse
# worker and the daemon grow by up to 40 MB (bench/soak.py). PyStemmer caches words itself.
STEM_CACHE = 20_000


@functools.lru_cache(maxsize=STEM_CACHE)
def _stem(word: str) -> str:
    stemmer = _STEMMERS["ru" if is_cyrillic(word) else "en"]
    return str(stemmer.stemWord(word))


def script_of(text: str) -> str:
    if is_cjk(text):
        return "ja"
    return "ru" if is_cyrillic(text) else "en"


_KATAKANA = re.compile(r"[\u30a1-\u30fa\u30fc]{2,}")  # foreign names and places in Japanese
_SENTENCES = re.compile(r"(?<=[.!?])\s+|\n")
_NAME_WORD = re.compile(r"[^\W\d_]\w*")


def _words(title: str, summary: str, words: list[str] | None) -> list[str]:
    return WORD.findall(normalise(f"{title}\n{summary}")) if words is None else words


def story_tokens(title: str, summary: str, words: list[str] | None = None) -> frozenset[str]:
    """The tokens two reports of one story share: stems, numbers, CJK character bigrams.
    `words`, when given, are the normalised words of the title and then the summary."""
    tokens: set[str] = set()
    for word in _words(title, summary, words):
        if is_cjk(word):
            tokens.update(word[i : i + 2] for i in range(max(1, len(word) - 1)))
        elif word not in _STOP and (len(word) > 1 or word.isdigit()):
            tokens.add(word if word.isdigit() else _stem(word))
    return frozenset(tokens)


def title_names(title: str, summary: str) -> frozenset[str]:
    """Stems of the proper names in a title: its capitalised words that the report also writes
    capitalised inside a sentence (so a title's first word counts only if it is a name), and
    its katakana words."""
    inside: set[str] = set()
    for sentence in _SENTENCES.split(f"{title}\n{summary}"):
        for word in _NAME_WORD.findall(sentence)[1:]:
            if word[0].isupper():
                inside.add(_stem(normalise(word)))
    names = {
        stem
        for word in _NAME_WORD.findall(title)
        if word[0].isupper() and (stem := _stem(normalise(word))) in inside
    }
    names.update(_KATAKANA.findall(fold_marks(title)))
    return frozenset(names)


def mentions(title: str, summary: str, words: list[str] | None = None) -> frozenset[str]:
    """Everything a report mentions, in the forms `title_names` gives."""
    text = f"{title}\n{summary}"
    found = {_stem(word) for word in _words(title, summary, words) if not word.isdigit()}
    found.update(_KATAKANA.findall(fold_marks(text)))
    return frozenset(found)


@dataclass(frozen=True, slots=True)
class Sketch:
    """What clustering knows of one report."""

    tokens: frozenset[str]
    names: frozenset[str]
    mentions: frozenset[str]
    script: str


def sketch(title: str, summary: str, words: list[str] | None = None) -> Sketch:
    """The report's sketch; `words` as for `story_tokens`, when the caller has them."""
    return Sketch(
        story_tokens(title, summary, words),
        title_names(title, summary),
        mentions(title, summary, words),
        script_of(f"{title}\n{summary}"),
    )


def score(a: Sketch, b: Sketch, apart: timedelta, window: timedelta = WINDOW) -> float:
    """How surely two reports tell one story, from 0 to 1."""
    if apart >= window or not a.tokens or not b.tokens or a.script != b.script:
        return 0.0
    if not a.names <= b.mentions and not b.names <= a.mentions:
        return 0.0  # each names something the other never mentions: two events
    cosine = len(a.tokens & b.tokens) / math.sqrt(len(a.tokens) * len(b.tokens))
    return cosine * (1 - apart / window)


def pair_score(
    a: tuple[str, str, datetime], b: tuple[str, str, datetime], window: timedelta = WINDOW
) -> float:
    """`score` of two (title, summary, time) reports."""
    return score(sketch(a[0], a[1]), sketch(b[0], b[1]), abs(a[2] - b[2]), window)


@dataclass(frozen=True, slots=True)
class _Entry:
    item_id: int
    story_id: int
    report: Sketch
    at: datetime


class StoryIndex:
    """The recent reports of every story, to find which story a new report belongs to."""

    def __init__(self, threshold: float = THRESHOLD, window: timedelta = WINDOW) -> None:
        self.threshold, self.window = threshold, window
        self._entries: dict[int, _Entry] = {}
        self._postings: defaultdict[str, dict[str, set[int]]] = defaultdict(dict)  # by script
        self._order: deque[int] = deque()
        self._members: Counter[int] = Counter()

    def __len__(self) -> int:
        return len(self._entries)

    def find(self, report: Sketch, at: datetime) -> int | None:
        """The story of the best-scoring recent report, if it scores the threshold."""
        if len(report.tokens) < MIN_TOKENS:
            return None
        script = self._postings[report.script]
        postings = [posting for token in report.tokens if (posting := script.get(token))]
        scanned: list[set[int]] = []
        budget = SCAN_BUDGET
        for posting in sorted(postings, key=len):  # rarest tokens first
            if len(posting) > budget and scanned:
                break
            scanned.append(posting)
            budget -= len(posting)
        shared = Counter(chain.from_iterable(scanned))  # one count, in C
        best, best_score = None, self.threshold
        # most_common's heap, in C: sorted() is stable, so ties keep the same order
        candidates = sorted(shared.items(), key=itemgetter(1), reverse=True)[:MAX_CANDIDATES]
        for item_id, _ in candidates:
            entry = self._entries[item_id]
            value = score(report, entry.report, abs(at - entry.at), self.window)
            if value >= best_score:
                best, best_score = entry.story_id, value
        return best

    def add(self, item_id: int, story_id: int, report: Sketch, at: datetime) -> None:
        if item_id in self._entries or len(report.tokens) < MIN_TOKENS:
            return
        if self._members[story_id] >= MAX_PER_STORY:
            return
        self._entries[item_id] = _Entry(item_id, story_id, report, at)
        script = self._postings[report.script]
        for token in report.tokens:
            script.setdefault(token, set()).add(item_id)
        self._order.append(item_id)
        self._members[story_id] += 1

    def prune(self, now: datetime) -> None:
        """Forget reports older than the window."""
        while self._order:
            entry = self._entries.get(self._order[0])
            if entry is not None and now - entry.at <= self.window:
                break
            self._order.popleft()
            if entry is None:
                continue
            del self._entries[entry.item_id]
            script = self._postings[entry.report.script]
            for token in entry.report.tokens:
                posting = script[token]
                posting.discard(entry.item_id)
                if not posting:
                    del script[token]
            self._members[entry.story_id] -= 1
            if self._members[entry.story_id] <= 0:
                del self._members[entry.story_id]
