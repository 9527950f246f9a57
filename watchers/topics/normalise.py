"""Text normalisation shared by queries and documents, and word tokenisation.

NFKC; combining accents (stress marks) and characters invisible inside words removed;
casefold; ё→е; kanji digits → ASCII digits, so that 北方四島 and 北方4島 meet. Precomposed
letters (й, é, が) stay as they are. A word ends where Japanese/Chinese script meets Latin,
Cyrillic or digits (NATO加盟 is NATO and 加盟).
"""

from __future__ import annotations

import re
import unicodedata

_CJK_RANGES = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f々〆ヶ"


def _word_ranges(ranges: str) -> str:
    """The word characters among `ranges` (so not the middle dot ・ or the sound marks ゛゜), as
    a character class body of ranges."""
    # two scans in C over the block (a match per character took 40 ms of every process's start)
    inside = "".join(re.findall(f"[{ranges}]", "".join(map(chr, range(0x3000, 0xFFA0)))))
    kept = [ord(c) for c in re.findall(r"\w", inside)]
    runs: list[list[int]] = []
    for code in kept:
        if runs and runs[-1][1] == code - 1:
            runs[-1][1] = code
        else:
            runs.append([code, code])
    return "".join(chr(a) if a == b else f"{chr(a)}-{chr(b)}" for a, b in runs)


# `_word_ranges(_CJK_RANGES)` under Python 3.11's Unicode, found once here rather than at each
# process's start (13 ms of it); a Python of another Unicode version finds its own
_UNICODE, _CJK_WORD_RANGES = (
    "14.0.0",
    "\u3005-\u3006\u3041-\u3096\u309d-\u309f\u30a1-\u30fa\u30fc-\u30ff\u3400-\u4dbf"
    "\u4e00-\u9fff\uf900-\ufa6d\ufa70-\ufad9\uff66-\uff9f",
)
if unicodedata.unidata_version != _UNICODE:  # pragma: no cover - another Python
    _CJK_WORD_RANGES = _word_ranges(_CJK_RANGES)
# a run of Japanese/Chinese letters is a word of its own, apart from Latin, Cyrillic or digits
WORD = re.compile(f"[^\\W{_CJK_RANGES}]+|[{_CJK_WORD_RANGES}]+")
# a word as written: the marks and invisible characters normalising removes from inside a word
# are part of it (Ку\u00adрилы, Итуру\u0301п), so its words are those of the normalised text
_REMOVED = "\u00ad\u200b-\u200d\u2060\ufeff\u0300-\u036f"
WRITTEN_WORD = re.compile(
    f"[^\\W{_CJK_RANGES}](?:[^\\W{_CJK_RANGES}]|[{_REMOVED}])*"
    f"|[{_CJK_WORD_RANGES}](?:[{_CJK_WORD_RANGES}]|[{_REMOVED}])*"
)
_ACCENTS = re.compile("[\u0300-\u036f]")
# invisible inside a word: a soft hyphen (a site's &shy;), zero-width spaces and joiners, a
# word joiner, a byte order mark; NFKC keeps them, and each would split the word in two
_INVISIBLE = re.compile("[\u00ad\u200b-\u200d\u2060\ufeff]")
_KANJI_DIGITS = str.maketrans("〇一二三四五六七八九", "0123456789")
_KANJI_DIGIT = re.compile("[〇一二三四五六七八九]")
_CJK = re.compile(f"[{_CJK_RANGES}]")
_CYRILLIC = re.compile(r"[\u0400-\u04ff]")


def fold_marks(text: str) -> str:
    """NFKC without combining accents, kanji digits as ASCII digits; case is kept."""
    if text.isascii():
        return text
    text = unicodedata.normalize("NFKC", text)
    if _INVISIBLE.search(text):
        text = _INVISIBLE.sub("", text)
    if _ACCENTS.search(text):  # stress marks stay combining: Cyrillic has no precomposed forms
        text = _ACCENTS.sub("", text)
    if _KANJI_DIGIT.search(text):
        text = text.translate(_KANJI_DIGITS)
    return text.replace("ё", "е").replace("Ё", "Е")


def normalise(text: str) -> str:
    """The form queries and documents are compared in."""
    folded = fold_marks(text).casefold()
    # casefolding can add a combining mark of its own (İ → i̇)
    return _ACCENTS.sub("", folded) if not folded.isascii() and _ACCENTS.search(folded) else folded


def words(text: str) -> list[str]:
    return WORD.findall(normalise(text))


def is_cjk(text: str) -> bool:
    # isascii first: a C scan, several times quicker than the regex on the (many) ASCII words
    return not text.isascii() and _CJK.search(text) is not None


def is_cyrillic(text: str) -> bool:
    return not text.isascii() and _CYRILLIC.search(text) is not None


def written_length(text: str, start: int, length: int) -> int:
    """How many characters of `text` from `start` normalise to `length` characters: inside a
    Japanese run, half-width ｶﾞ is one character (ガ) once normalised."""
    if text.isascii():
        return length
    # the longest such prefix: a sound mark after the last character joins it (ﾊﾟ is パ)
    low, high = 0, min(len(text) - start, 4 * length + 4)
    while low < high:
        middle = (low + high + 1) // 2
        if len(normalise(text[start : start + middle])) <= length:
            low = middle
        else:
            high = middle - 1
    while start + low < len(text) and not normalise(text[start + low]):
        low += 1  # a zero-width space or soft hyphen before the word: not where it starts
    return low
