"""Story clustering: the same story told by different outlets, found by word overlap.

Each item becomes a set of tokens (stemmed words without stopwords, numbers kept; Japanese and
Chinese as character bigrams). MinHash LSH (datasketch) finds candidates among the items of the
last 72 hours in the same script; the exact Jaccard similarity of the token sets decides. The
threshold was chosen on `tests/data/story_pairs.jsonl` for precision first: a false merge hides
news.
"""

from __future__ import annotations

import functools
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta

import snowballstemmer
from datasketch import MinHash, MinHashLSH

from watchers.normalise import WORD, is_cjk, is_cyrillic, normalise

THRESHOLD = 0.7  # the lowest with pair precision >= 0.98 on the labelled pairs (bench/cluster.py)
WINDOW = timedelta(hours=72)
NUM_PERM = 64
# A story keeps only its first few reports in the index, and a lookup weighs only the most
# recent candidates: a feed of near-identical items (templated weather or market reports) must
# not make each lookup scan thousands of entries.
MAX_PER_STORY = 4
MAX_CANDIDATES = 64
MIN_TOKENS = 3

_STOP = frozenset(
    "a an the of to in on at for from by with and or but is are was were be been has have had"
    " it its this that as said says will would not no after over new more than about into"
    " и в во на с со по к о об от до из за у же ли не что это как а но или для при был была"
    " были будет его ее их он она они так также уже".split()
)
_STEMMERS = {"en": snowballstemmer.stemmer("english"), "ru": snowballstemmer.stemmer("russian")}


@functools.lru_cache(maxsize=200_000)
def _stem(word: str) -> str:
    stemmer = _STEMMERS["ru" if is_cyrillic(word) else "en"]
    return str(stemmer.stemWord(word))


def script_of(text: str) -> str:
    if is_cjk(text):
        return "ja"
    return "ru" if is_cyrillic(text) else "en"


def story_tokens(title: str, summary: str) -> frozenset[str]:
    """The tokens two reports of one story share: stems, numbers, CJK character bigrams."""
    tokens: set[str] = set()
    for word in WORD.findall(normalise(f"{title}\n{summary}")):
        if is_cjk(word):
            tokens.update(word[i : i + 2] for i in range(max(1, len(word) - 1)))
        elif word not in _STOP and (len(word) > 1 or word.isdigit()):
            tokens.add(word if word.isdigit() else _stem(word))
    return frozenset(tokens)


def similarity(a: frozenset[str], b: frozenset[str]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


@dataclass(frozen=True, slots=True)
class Sketch:
    """What the index knows of one report: its tokens, script and MinHash signature."""

    tokens: frozenset[str]
    script: str
    signature: MinHash | None  # None when too few tokens to compare


def sketch(title: str, summary: str) -> Sketch:
    tokens = story_tokens(title, summary)
    signature = _minhash(tokens) if len(tokens) >= MIN_TOKENS else None
    return Sketch(tokens, script_of(f"{title}\n{summary}"), signature)


def pair_score(
    a: tuple[str, str, datetime], b: tuple[str, str, datetime], window: timedelta = WINDOW
) -> float:
    """How alike two (title, summary, time) reports are: 0 when further apart than `window`."""
    if abs(a[2] - b[2]) > window:
        return 0.0
    return similarity(story_tokens(a[0], a[1]), story_tokens(b[0], b[1]))


@dataclass(frozen=True, slots=True)
class _Entry:
    key: str
    story_id: int
    tokens: frozenset[str]
    at: datetime
    script: str


class StoryIndex:
    """The recent items of every story, to find which story a new item belongs to."""

    def __init__(self, threshold: float = THRESHOLD, window: timedelta = WINDOW) -> None:
        self.threshold, self.window = threshold, window
        # LSH at a lower threshold only proposes candidates; the exact similarity decides
        self._lsh = {
            s: MinHashLSH(threshold=threshold * 0.7, num_perm=NUM_PERM) for s in ("en", "ru", "ja")
        }
        self._entries: dict[str, _Entry] = {}
        self._order: deque[str] = deque()
        self._members: dict[int, int] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def find(self, report: Sketch, at: datetime) -> int | None:
        """The story of the most similar recent item, if similar enough."""
        if report.signature is None:
            return None
        best, best_score = None, self.threshold
        keys = self._lsh[report.script].query(report.signature)
        if len(keys) > MAX_CANDIDATES:  # keys are item ids: the highest are the most recent
            keys = sorted(keys, key=int)[-MAX_CANDIDATES:]
        for key in keys:
            entry = self._entries.get(key)
            if entry is None or abs(at - entry.at) > self.window:
                continue
            score = similarity(report.tokens, entry.tokens)
            if score >= best_score:
                best, best_score = entry.story_id, score
        return best

    def add(self, item_id: int, story_id: int, report: Sketch, at: datetime) -> None:
        key = str(item_id)
        if key in self._entries or report.signature is None:
            return
        if self._members.get(story_id, 0) >= MAX_PER_STORY:
            return
        self._lsh[report.script].insert(key, report.signature)
        self._entries[key] = _Entry(key, story_id, report.tokens, at, report.script)
        self._order.append(key)
        self._members[story_id] = self._members.get(story_id, 0) + 1

    def prune(self, now: datetime) -> None:
        """Forget items older than the window."""
        while self._order:
            entry = self._entries.get(self._order[0])
            if entry is not None and now - entry.at <= self.window:
                break
            self._order.popleft()
            if entry is not None:
                self._lsh[entry.script].remove(entry.key)
                del self._entries[entry.key]
                left = self._members.pop(entry.story_id, 1) - 1
                if left:
                    self._members[entry.story_id] = left


# Drawing the permutations is most of the cost of a new MinHash: draw them once.
_SEED = MinHash(num_perm=NUM_PERM, seed=1)


def _minhash(tokens: frozenset[str]) -> MinHash:
    signature = MinHash(num_perm=NUM_PERM, permutations=_SEED.permutations, scheme=_SEED.scheme)
    signature.update_batch([t.encode() for t in tokens])
    return signature
