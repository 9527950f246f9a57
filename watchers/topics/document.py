"""An item's fields as the matching engine reads them: normalised once into words and
haystacks (" " + words + " "), and where a key found in a haystack is in the original text (a
hit's offsets: explain's, and the words a brief sets in bold)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from watchers.topics.normalise import (
    WORD,
    WRITTEN_WORD,
    fold_marks,
    is_cjk,
    normalise,
    written_length,
)


@dataclass(frozen=True, slots=True)
class Hit:
    """Where a term matched: the field, and the character offsets in that field's text where
    it begins and ends (a phrase's last word, a prefix's word whole)."""

    term: str
    field: str
    offset: int | None
    end: int | None = None


class Occurrence:
    """Where a key (or a phrase) matched: the field, and [start, end) in its haystack (" " +
    words + " ")."""

    __slots__ = ("end", "field", "haystack", "start", "word_key")

    def __init__(self, field: str, haystack: str, start: int, word_key: bool, end: int) -> None:
        self.field, self.haystack, self.start, self.word_key = field, haystack, start, word_key
        self.end = end

    def through(self, last: Occurrence) -> Occurrence:
        """A phrase's occurrence: from this, its first word's, to `last`, its last word's."""
        return Occurrence(self.field, self.haystack, self.start, self.word_key, last.end)

    @property
    def index(self) -> int:
        """The word position in the field (for CJK, the word that contains the match); only
        phrases, NEAR, =Case and explain need it, so it is counted when asked."""
        return self.haystack.count(" ", 0, self.start) - (0 if self.word_key else 1)


class Document:
    """One item's fields, normalised once for every pass over them (topic matching, explain,
    fingerprints and story sketches): words and their haystacks."""

    def __init__(
        self, fields: Mapping[str, str | None], meta: Mapping[str, str | None] | None = None
    ) -> None:
        self.texts = {name: text for name, text in fields.items() if text}
        self.meta = dict(meta or {})  # lang, source: what `lang:` and `source:` test
        self.haystacks: dict[str, str] = {}
        self._cased: dict[str, list[str]] = {}
        self._spans: dict[str, list[tuple[int, int]]] = {}  # where each word of a field is
        self._words: dict[str, list[str]] = {}
        for name, text in self.texts.items():
            words = WORD.findall(normalise(text))
            self._words[name] = words
            self.haystacks[name] = " " + " ".join(words) + " "

    def words(self, field: str) -> list[str]:
        """The field's normalised words (`normalise.words`)."""
        return self._words.get(field, [])

    def cased_word(self, field: str, index: int) -> str | None:
        if field not in self._cased:
            self._cased[field] = WORD.findall(fold_marks(self.texts[field]))
        cased = self._cased[field]
        if len(cased) != len(self._words[field]):  # casefolding split a word: rare, be lenient
            return None
        return cased[index]

    def hit(self, label: str, where: Occurrence | str) -> Hit:
        """A term's hit; `where` a field's name for a `lang:` or `source:` condition's."""
        if isinstance(where, str):
            return Hit(label, where, None)
        offset = self.offset(where)
        return Hit(label, where.field, offset, None if offset is None else self._end(where))

    def _written(self, field: str) -> list[tuple[int, int]] | None:
        """Where each word of the field is in its original text, when they map."""
        spans = self._spans.get(field)
        if spans is None:  # once per field: a brief asks for the offsets of several hits
            spans = self._spans[field] = [
                m.span() for m in WRITTEN_WORD.finditer(self.texts[field])
            ]
        return spans if len(spans) == len(self._words[field]) else None

    def _end(self, occurrence: Occurrence) -> int | None:
        """Where the occurrence ends in the field's original text: its last word's end, or
        inside a Japanese run where the key ends."""
        spans, haystack = self._written(occurrence.field), occurrence.haystack
        if spans is None:
            return None
        end = occurrence.end - (haystack[occurrence.end - 1] == " ")
        index = haystack.count(" ", 0, end) - 1
        inner = end - haystack.rfind(" ", 0, end) - 1
        start, stop = spans[index]
        word = self._words[occurrence.field][index]
        if inner >= len(word) or not is_cjk(word):  # a prefix marks its word whole
            return stop
        return start + written_length(self.texts[occurrence.field], start, inner)

    def offset(self, occurrence: Occurrence) -> int | None:
        """The occurrence's character offset in the field's original text, when it maps."""
        text = self.texts[occurrence.field]
        spans = self._written(occurrence.field)
        if spans is None:
            return None
        words = self._words[occurrence.field]
        word_start = len(" ".join(words[: occurrence.index])) + 1 + (occurrence.index > 0)
        inner = max(0, occurrence.start - word_start)
        start, end = spans[occurrence.index]
        word = words[occurrence.index]
        if not text.isascii() and normalise(text[start:end]) != word:
            return None  # not the word matched: ㌔ before 北方 made one word キロ北方 of both
        if not 0 < inner < len(word):
            return start
        return start + written_length(text, start, inner)
