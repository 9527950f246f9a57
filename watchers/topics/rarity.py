"""How common a word is, for choosing what a stored query is filed under: a static guess, and a
document-frequency estimate kept from recent items."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

GRAM = 4  # Japanese/Chinese terms are filed under one of their 4-character pieces

# A static guess of how common a word is, until enough items have been seen: the commonest words
# of the three languages, and otherwise the shorter the commoner.
_COMMON = frozenset(
    """the a an of to in and or for on at by with from as is are was were be been has have had
    it its this that these those not no but after over new says said will would could can may
    about into than more most up out two one first year years also who which what when where
    и в во не на с со что как по к у о об из за от до для это его ее их он она они мы вы был
    была были будет бы же ли то так все при под над после также года году лет более""".split()
)
OBSERVED_FROM = 200  # items seen before the observed frequencies replace the static guess


def static_rarity(word: str) -> float:
    if word in _COMMON:
        return 0.5
    if word.isdigit():
        return 0.05
    return min(0.3, 0.5 / (len(word) ** 2))


class TermStats:
    """A document-frequency estimate of words, kept from recent items (older ones count half
    each time `window` more items have been seen)."""

    def __init__(self, window: int = 20_000) -> None:
        self.window = window
        self.items = 0.0
        self._seen = 0
        self._counts: Counter[str] = Counter()

    def observe(self, words: Iterable[str]) -> None:
        self._counts.update(words)
        self.items += 1
        self._seen += 1
        if self._seen >= self.window:
            self._seen = 0
            self.items /= 2
            self._counts = Counter({w: n // 2 for w, n in self._counts.items() if n > 1})

    def word(self, word: str) -> float:
        """The estimated share of items that contain `word`."""
        if self.items < OBSERVED_FROM:
            return static_rarity(word)
        return (self._counts.get(word, 0) + 0.5) / (self.items + 1)

    def gram(self, gram: str) -> float:
        # hiragana are the particles and endings of every sentence; kanji and katakana say more
        kana = sum("\u3040" <= c <= "\u309f" for c in gram)
        return float(0.002 * 4**kana * 3 ** (GRAM - len(gram)) + (0.1 if " " in gram else 0.0))
