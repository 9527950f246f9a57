"""Text normalisation shared by queries and documents, and word tokenisation.

NFKC; combining accents (stress marks) removed; casefold; ё→е; kanji digits → ASCII digits,
so that 北方四島 and 北方4島 meet. Precomposed letters (й, é, が) stay as they are.
"""

from __future__ import annotations

import re
import unicodedata

WORD = re.compile(r"\w+")
_ACCENTS = re.compile("[\u0300-\u036f]")
_KANJI_DIGITS = str.maketrans("〇一二三四五六七八九", "0123456789")
_KANJI_DIGIT = re.compile("[〇一二三四五六七八九]")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f々〆ヶ]")
_CYRILLIC = re.compile(r"[\u0400-\u04ff]")


def fold_marks(text: str) -> str:
    """NFKC without combining accents, kanji digits as ASCII digits; case is kept."""
    if text.isascii():
        return text
    text = unicodedata.normalize("NFKC", text)
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
