"""Russian inflection: every form of a word, from pymorphy3's dictionary, cached within a bound.

Queries name words in their dictionary form (Курилы, мирный договор); the matcher looks for
all their inflected forms, so documents need no morphology at all.
"""

from __future__ import annotations

import functools
import sys
import threading
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

from watchers.topics.normalise import normalise

# the bytes of the forms kept, given or looked up, the least recently used dropped past it:
# ~12,000 words of the dictionary's mix (2.3 KB each), ~5,000 verbs (6.5 KB), 15,000 of the made-up
# names of bench/watches.py (its 100,000 watches name 26,000); bench/forms_memory.py measures it
FORMS_BYTES = 32 * 2**20
_ENTRY = 184  # bytes of an entry beside its word, set and forms (the dict's slot, its links, the
# pair of the set and its size)


@functools.cache
def _analyzer() -> Any:
    import pymorphy3  # loaded on the first Russian term only: it costs ~0.1 s

    return pymorphy3.MorphAnalyzer()


def _size(word: str, forms: frozenset[str]) -> int:
    return _ENTRY + sys.getsizeof(word) + sys.getsizeof(forms) + sum(map(sys.getsizeof, forms))


class _Kept:
    """Words' forms, looked up here or given (the daemon's process hands them to parse workers,
    which then never load pymorphy3's dictionaries), within `FORMS_BYTES`: a daemon that runs
    for months meets any number of words. A word dropped is looked up again, to the same forms."""

    def __init__(self) -> None:
        # each with its size as counted when kept: a string's grows once its UTF-8 is cached
        # (pickled, bound in SQLite), and a drop must take off what the put added
        self._forms: OrderedDict[str, tuple[frozenset[str], int]] = OrderedDict()
        self.bytes = 0
        self._lock = threading.Lock()  # filing and compiling watches look forms up on threads

    def __len__(self) -> int:
        return len(self._forms)

    def get(self, word: str) -> frozenset[str] | None:
        with self._lock:
            kept = self._forms.get(word)
            if kept is None:
                return None
            self._forms.move_to_end(word)
            return kept[0]

    def put(self, word: str, forms: frozenset[str]) -> None:
        with self._lock:
            old = self._forms.pop(word, None)
            if old is not None and old[0] is forms:  # given again: kept as the latest
                self._forms[word] = old
                return
            if old is not None:
                self.bytes -= old[1]
            size = _size(word, forms)
            self._forms[word] = (forms, size)
            self.bytes += size
            while self.bytes > FORMS_BYTES and len(self._forms) > 1:
                self.bytes -= self._forms.popitem(last=False)[1][1]

    def clear(self) -> None:
        with self._lock:
            self._forms.clear()
            self.bytes = 0


_KEPT = _Kept()


def give_forms(forms: Iterable[tuple[str, frozenset[str]]]) -> None:
    """Keep these forms, computed elsewhere, as if looked up here (in their order: past the
    bound, the first given are dropped first)."""
    for word, its_forms in forms:
        _KEPT.put(word, its_forms)


def forget_forms() -> None:
    """Forget the forms kept (those given from a damaged cache too)."""
    _KEPT.clear()


def forms_held() -> tuple[int, int]:
    """The words whose forms are kept, and their bytes as counted against `FORMS_BYTES`."""
    return len(_KEPT), _KEPT.bytes


def russian_forms(word: str) -> frozenset[str]:
    """The normalised forms of `word` read as a dictionary form (itself included).

    Known words use the paradigms in which `word` is the dictionary form (Курилы → Курил,
    Курилах, ...; not курить's forms); unknown words use the best guessed paradigm.
    """
    forms = _KEPT.get(word)
    if forms is None:
        forms = _looked_up(word)
        _KEPT.put(word, forms)
    return forms


def _looked_up(word: str) -> frozenset[str]:
    try:
        parses = _analyzer().parse(word)
    except ValueError:  # a letter unicodedata cannot name (Tangut in Python 3.11): no forms
        return frozenset((word,))
    known = [p for p in parses if p.is_known] or parses[:1]
    as_lemma = [p for p in known if normalise(p.normal_form) == word]
    chosen = as_lemma or known
    forms = {normalise(form.word) for parse in chosen for form in parse.lexeme}
    forms.add(word)
    return frozenset(forms)


def forms_of(words: Iterable[str]) -> tuple[tuple[str, frozenset[str]], ...]:
    """Each word with its forms (`russian_forms`), for `give_forms` in another process."""
    return tuple((word, russian_forms(word)) for word in words)
