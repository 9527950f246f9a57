"""Russian inflection: every form of a word, from pymorphy3's dictionary, cached.

Queries name words in their dictionary form (Курилы, мирный договор); the matcher looks for
all their inflected forms, so documents need no morphology at all.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

from watchers.topics.normalise import normalise

FORMS_CACHE = 100_000  # words whose forms are kept looked up


@functools.cache
def _analyzer() -> Any:
    import pymorphy3  # loaded on the first Russian term only: it costs ~0.1 s

    return pymorphy3.MorphAnalyzer()


# forms computed elsewhere (the daemon's process hands them to parse workers, which then never
# load pymorphy3's dictionaries)
_GIVEN: dict[str, frozenset[str]] = {}


def give_forms(forms: Iterable[tuple[str, frozenset[str]]]) -> None:
    _GIVEN.update(forms)


def forget_forms() -> None:
    """Forget the forms given and those looked up with them (given from a damaged cache)."""
    _GIVEN.clear()
    russian_forms.cache_clear()


@functools.lru_cache(maxsize=FORMS_CACHE)
def russian_forms(word: str) -> frozenset[str]:
    """The normalised forms of `word` read as a dictionary form (itself included).

    Known words use the paradigms in which `word` is the dictionary form (Курилы → Курил,
    Курилах, ...; not курить's forms); unknown words use the best guessed paradigm.
    """
    if (given := _GIVEN.get(word)) is not None:  # one look: `forget_forms` may clear it
        return given
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
