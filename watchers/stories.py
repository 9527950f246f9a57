"""Story clustering: the same story told by different outlets, in other words.

A report joins the story of the recent report (of its script) that it resembles most, if
that resemblance reaches `THRESHOLD` (`HEADLINE_THRESHOLD` for a headline alone) and the
story's indexed reports resemble it on average at least `STORY_FLOOR`. The resemblance of two
reports is 0 when they conflict (each title names someone, a number or a Kuril island the
other report never mentions: Ebeko versus Chikurachki, M6.1 versus M4.8, Shikotan versus
Kunashir, though "about 2,000" is 2,050 and 2.5 km is 2,500 m; or a title dates its event to a
day that the other report, naming days, never names; or the two name days, none in common) or
share no token; otherwise the mean of two signals, scaled down linearly with the time between
them (0 at the 72-hour window):

- the cosine of their titles' sentence vectors (multilingual-e5-small, `watchers.embedding`),
  rescaled so that unrelated titles (about 0.80) score 0 and near-paraphrases (0.95) 1;
- the cosine of their token sets (stems, numbers, Japanese character bigrams), each token
  weighted by its rarity among the reports of the window (IDF), so that a shared "Kuril"
  counts little and a shared "Ebeko" much.

Only reports that may alert are compared, and vectors are computed only for them and for the
members of the few stories they share the most tokens with, then kept (by title) for the
window. The threshold and weights were chosen with `bench/cluster.py` (README).
"""

from __future__ import annotations

import functools
import math
import re
from collections import Counter, defaultdict, deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from itertools import chain
from operator import itemgetter
from typing import TYPE_CHECKING, Any

import snowballstemmer

from watchers.story_facts import dates, numbers, plain, quantities_agree
from watchers.topics.normalise import WORD, fold_marks, is_cjk, is_cyrillic, normalise

if TYPE_CHECKING:  # numpy loads only where vectors are made (not in the parse workers)
    from watchers.embedding import Vectors

THRESHOLD = 0.45
WINDOW = timedelta(hours=72)
LEXICAL_WEIGHT = 0.3  # of the token cosine, against 1 for the title vectors
VECTOR_FLOOR, VECTOR_SPAN = 0.80, 0.15  # title cosine 0.80 scores 0, 0.95 and above 1
STORY_FLOOR = 0.25  # the mean resemblance a story's reports must have with a newcomer
# A report that is a headline alone (no summary, or one adding no word) has fewer tokens to
# share and fewer names and numbers to veto with: a paraphrase scores lower, so it may join a
# story at a lower resemblance (UCI headlines; every labelled pair has a summary).
HEADLINE_THRESHOLD, HEADLINE_FLOOR = 0.40, 0.20
IDF_PRIOR = 20  # reports assumed beside the window's, so a near-empty window weighs evenly
# A story keeps only its first few reports in the index, a lookup reads the postings of its
# rarest tokens up to a budget, and weighs only the stories of the best candidates: a feed of
# templated near-copies (weather, market reports) must not make each lookup scan thousands.
MAX_PER_STORY = 4
# Reports the index holds at most, the oldest dropped first: the window bounds it in time, this
# in memory whatever the rate of matched items. A report costs about 8 KB (news text) to 15 KB
# (words no other report shares, as in bench/soak.py); 2,000 is 500 stories or more in 72 hours.
MAX_REPORTS = 2_000
MAX_CANDIDATES = 16
MAX_STORIES = 6
SCAN_BUDGET = 500
MIN_TOKENS = 3

Embed = Callable[[Sequence[str]], "Vectors"]

_STOP = frozenset(
    "a an the of to in on at for from by with and or but is are was were be been has have had"
    " it its this that as said says will would not no after over new more than about into"
    " и в во на с со по к о об от до из за у же ли не что это как а но или для при был была"
    " были будет его ее их он она они так также уже".split()
)
_STEMMERS = {"en": snowballstemmer.stemmer("english"), "ru": snowballstemmer.stemmer("russian")}
# The islands, by the forms their names take in EN, RU and JA (matched inside normalised text).
_PLACES = {
    "iturup": ("iturup", "etorofu", "итуруп", "択捉"),
    "kunashir": ("kunashir", "кунашир", "国後"),
    "shikotan": ("shikotan", "шикотан", "色丹"),
    "habomai": ("habomai", "хабомаи", "歯舞"),
    "paramushir": ("paramushir", "парамушир", "パラムシル"),
    "shumshu": ("shumshu", "шумшу", "占守"),
    "urup": ("urup", "уруп", "得撫"),
    "matua": ("matua", "матуа", "松輪"),
    "simushir": ("simushir", "симушир", "新知"),
    "onekotan": ("onekotan", "онекотан", "温禰古丹"),
}
# The two parties, by their names, capitals, governments and adjectives: "Tokyo protests" and
# "Japan protests" name one actor, so neither is a name the other report lacks.
_PARTIES = {
    "japan": "japan tokyo япон токио 日本 東京".split(),
    "russia": "russia moscow kremlin росси рф москв кремл ロシア モスクワ クレムリン".split(),
}
# A title that rejects or rebuts something reports a reply, an event of its own: "Moscow
# rejects Tokyo's protest" is not the protest's story ("отверг", "一蹴", "反論" alike).
_REPLY = re.compile(r"\b(?:reject|rebuff|dismiss|отверг|отклони)|一蹴|反論|拒否|拒絶")


# Stems kept per process. A daemon meets new words for ever (names, inflected forms), so the
# cache fills to its bound at about 200 bytes a word: 4 MB here, where 200,000 let each parse
# worker and the daemon grow by up to 40 MB (bench/soak.py). PyStemmer's own cache of 10,000
# words per language is switched off: every word it would hold is in this one.
STEM_CACHE = 20_000
for _stemmer in _STEMMERS.values():
    if hasattr(_stemmer, "maxCacheSize"):  # PyStemmer, not the pure Python fallback
        _stemmer.maxCacheSize = 0


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


def _title_case(title: str) -> bool:
    """Headline Style Capitalisation, where a capital says nothing of a name."""
    long_words = [word for word in _NAME_WORD.findall(title) if len(word) > 3]
    return len(long_words) >= 3 and sum(w[0].isupper() for w in long_words) >= 0.6 * len(long_words)


def title_names(title: str, summary: str) -> frozenset[str]:
    """Stems of the proper names in a title: its capitalised words that the report also writes
    capitalised inside a sentence (so a title's first word counts only if it is a name; a
    title in Title Case counts only through its summary), and its katakana words."""
    sentences = _SENTENCES.split(summary) if summary else []
    if not _title_case(title):
        sentences.append(title)
    inside: set[str] = set()
    for sentence in sentences:
        for word in _NAME_WORD.findall(sentence)[1:]:
            if word[0].isupper():
                inside.add(_stem(normalise(word)))
    names = {
        _island(word) or _party(normalise(word)) or stem
        for word in _NAME_WORD.findall(title)
        if word[0].isupper() and (stem := _stem(normalise(word))) in inside
    }
    names.update(
        _island(word) or _party(word) or word for word in _KATAKANA.findall(fold_marks(title))
    )
    return frozenset(names)


# each party's forms as `_party` tests them: a prefix of a word, or (kanji, kana) inside it
_PARTY_FORMS = [
    (
        party,
        tuple(form for form in forms if not is_cjk(form)),
        re.compile("|".join(re.escape(form) for form in forms if is_cjk(form))),
    )
    for party, forms in _PARTIES.items()
]


def _party(folded: str) -> str | None:
    """The party ("japan" or "russia") a normalised word names, if it names one."""
    for party, prefixes, inside in _PARTY_FORMS:
        if folded.startswith(prefixes) or (not folded.isascii() and inside.search(folded)):
            return party
    return None


def mentions(
    title: str,
    summary: str,
    words: list[str] | None = None,
    islands: frozenset[str] | None = None,
) -> frozenset[str]:
    """Everything a report mentions, in the forms `title_names` gives; `islands`, when given,
    are the report's `places`."""
    text = f"{title}\n{summary}"
    distinct = set(_words(title, summary, words))  # a report repeats its words
    katakana = _KATAKANA.findall(fold_marks(text))
    found = {_stem(word) for word in distinct if not word.isdigit()}
    found.update(katakana)
    found.update(filter(None, map(_party, distinct)))
    found.update(filter(None, map(_party, katakana)))
    # an island by its id: Etorofu names what Iturup mentions
    found.update(places(text) if islands is None else islands)
    return frozenset(found)


def _island(word: str) -> str | None:
    """The id of the Kuril island a word names, if it names one."""
    found = places(word)
    return min(found) if found else None


def places(text: str) -> frozenset[str]:
    """The Kuril islands a text names, in any of the three languages."""
    folded = normalise(text)
    return frozenset(p for p, forms in _PLACES.items() if any(f in folded for f in forms))


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
        _REPLY.search(plain(title)) is not None,
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


def resemblance(
    a: Sketch,
    b: Sketch,
    apart: timedelta,
    vectors: tuple[Vectors, Vectors],
    weight: Callable[[str], float] = lambda _: 1.0,
    window: timedelta = WINDOW,
) -> float:
    """How surely two reports tell one story, from 0 to 1; `weight` gives a token's weight."""
    if apart >= window or a.script != b.script or conflict(a, b):
        return 0.0
    shared = a.tokens & b.tokens
    if not shared:
        return 0.0
    lexical = sum(weight(t) ** 2 for t in shared) / math.sqrt(
        sum(weight(t) ** 2 for t in a.tokens) * sum(weight(t) ** 2 for t in b.tokens)
    )
    cosine = float(vectors[0] @ vectors[1])
    semantic = min(1.0, max(0.0, (cosine - VECTOR_FLOOR) / VECTOR_SPAN))
    return (semantic + LEXICAL_WEIGHT * lexical) / (1 + LEXICAL_WEIGHT) * (1 - apart / window)


def story_score(scores: Sequence[float], floor: float = STORY_FLOOR) -> float:
    """A story's resemblance to a report, from those of its indexed reports: the best one's,
    provided the story as a whole resembles it too (their mean reaches `floor`). One
    report in other words can carry a newcomer in; a chance look-alike in an unrelated story
    cannot (single linkage alone chains stories together)."""
    return max(scores) if sum(scores) / len(scores) >= floor else 0.0


class _Entry:
    """A report in the index. One added by its text alone (`StoryIndex.add_text`) is sketched
    when a lookup first weighs it: most reports of a first poll never are."""

    __slots__ = ("_report", "_text", "at", "item_id", "script", "story_id", "title", "tokens")

    def __init__(
        self,
        item_id: int,
        story_id: int,
        at: datetime,
        report: Sketch | None = None,
        text: tuple[str, str] = ("", ""),
    ) -> None:
        self.item_id, self.story_id, self.at = item_id, story_id, at
        self._report, self._text = report, text
        if report is None:
            title, summary = text
            self.tokens, self.script = (
                story_tokens(title, summary),
                script_of(f"{title}\n{summary}"),
            )
            self.title = title.strip()
        else:
            self.tokens, self.script, self.title = report.tokens, report.script, report.title

    @property
    def report(self) -> Sketch:
        if self._report is None:
            self._report, self._text = sketch(*self._text), ("", "")
        return self._report


class StoryIndex:
    """The recent reports of every story, to find which story a new report belongs to.

    `embed` turns titles into vectors (the model by default); the vectors it made are kept by
    title for the window, and those not yet saved wait in `fresh` for the caller to store."""

    def __init__(
        self,
        threshold: float = THRESHOLD,
        window: timedelta = WINDOW,
        embed: Embed | None = None,
        limit: int = MAX_REPORTS,
        headline_threshold: float = HEADLINE_THRESHOLD,
    ) -> None:
        self.threshold, self.window, self.limit = threshold, window, limit
        self.headline_threshold = headline_threshold
        if embed is None:
            from watchers.embedding import embed_titles

            embed = embed_titles
        self.embed = embed
        self.vectors: dict[str, Vectors] = {}
        self.fresh: dict[str, Vectors] = {}
        self._entries: dict[int, _Entry] = {}
        self._postings: defaultdict[str, dict[str, set[int]]] = defaultdict(dict)  # by script
        self._df: defaultdict[str, Counter[str]] = defaultdict(Counter)  # by script
        self._order: deque[int] = deque()
        self._stories: defaultdict[int, list[int]] = defaultdict(list)

    def __len__(self) -> int:
        return len(self._entries)

    def remember_vectors(self, known: Iterable[tuple[str, Vectors]]) -> None:
        """Vectors computed before (by a former run), by title."""
        self.vectors.update(known)

    def _vectors_of(self, titles: Iterable[str]) -> None:
        missing = list(dict.fromkeys(t for t in titles if t not in self.vectors))
        if missing:
            for title, vector in zip(missing, self.embed(missing), strict=True):
                self.vectors[title] = self.fresh[title] = vector

    def _weight(self, script: str) -> Callable[[str], float]:
        df, total = self._df[script], len(self._entries) + IDF_PRIOR
        return lambda token: math.log(total / (df[token] + 1))

    def find(self, report: Sketch, at: datetime) -> int | None:
        """The story this report joins, if any: among those of the best candidates, the one
        `story_score` rates highest, if that reaches the threshold."""
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
        # sorted() is stable, so ties keep the same order
        candidates = sorted(shared.items(), key=itemgetter(1), reverse=True)[:MAX_CANDIDATES]
        stories: list[int] = []
        for item_id, _ in candidates:
            entry = self._entries[item_id]
            if entry.story_id in stories or abs(at - entry.at) >= self.window:
                continue
            if not conflict(report, entry.report):
                stories.append(entry.story_id)
                if len(stories) == MAX_STORIES:
                    break
        if not stories:
            return None
        members = {story: [self._entries[i] for i in self._stories[story]] for story in stories}
        self._vectors_of(
            chain([report.title], (e.report.title for m in members.values() for e in m))
        )
        mine, weight = self.vectors[report.title], self._weight(report.script)
        threshold, floor = self.threshold, STORY_FLOOR
        if report.headline:
            threshold, floor = self.headline_threshold, HEADLINE_FLOOR
        best, best_score = None, threshold
        for story in stories:
            scores = [
                resemblance(
                    report,
                    e.report,
                    abs(at - e.at),
                    (mine, self.vectors[e.report.title]),
                    weight,
                    self.window,
                )
                for e in members[story]
            ]
            value = story_score(scores, floor)
            if value >= best_score:
                best, best_score = story, value
        return best

    def add(self, item_id: int, story_id: int, report: Sketch, at: datetime) -> None:
        if item_id not in self._entries:
            self._add(_Entry(item_id, story_id, at, report))

    def add_text(self, item_id: int, story_id: int, title: str, summary: str, at: datetime) -> None:
        """`add` for a report that no lookup may ever weigh (those of a first poll, those of
        the window at a start): its tokens now, the rest of its sketch when first weighed."""
        if item_id not in self._entries:
            self._add(_Entry(item_id, story_id, at, text=(title, summary)))

    def _add(self, entry: _Entry) -> None:
        item_id, story_id = entry.item_id, entry.story_id
        if len(entry.tokens) < MIN_TOKENS or len(self._stories[story_id]) >= MAX_PER_STORY:
            return
        while self._order and len(self._entries) >= self.limit:
            self._forget_oldest()
        self._entries[item_id] = entry
        script = self._postings[entry.script]
        for token in entry.tokens:
            script.setdefault(token, set()).add(item_id)
        self._df[entry.script].update(entry.tokens)
        self._order.append(item_id)
        self._stories[story_id].append(item_id)

    def prune(self, now: datetime) -> None:
        """Forget reports (and vectors) older than the window."""
        while self._order:
            entry = self._entries.get(self._order[0])
            if entry is not None and now - entry.at <= self.window:
                break
            self._forget_oldest()

    def _forget_oldest(self) -> None:
        entry = self._entries.pop(self._order.popleft(), None)
        if entry is None:
            return
        script = self._postings[entry.script]
        for token in entry.tokens:
            posting = script[token]
            posting.discard(entry.item_id)
            if not posting:
                del script[token]
        df = self._df[entry.script]
        df.subtract(entry.tokens)
        for token in entry.tokens:
            if df[token] <= 0:  # Counter.subtract keeps zeros: without this, df grows for ever
                del df[token]
        self.vectors.pop(entry.title, None)
        members = self._stories[entry.story_id]
        members.remove(entry.item_id)
        if not members:
            del self._stories[entry.story_id]
