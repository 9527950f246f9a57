"""An item's language: the operator's `feeds[].lang`, else the script its text is written in.

Cyrillic → ru, kana or kanji → ja, anything else → en. The feeds carry only these three
languages, for which the script decides alone (100% of tests/data/labelled.jsonl; README), so
no statistical detector is loaded.
"""

from __future__ import annotations

NEWS_LANGUAGES = ("en", "ru", "ja")


def script_language(text: str) -> str:
    """The language the letters of `text` are written in (en when it has none we know)."""
    cyrillic = kana = han = latin = 0
    for char in text:
        code = ord(char)
        if 0x0400 <= code <= 0x04FF:
            cyrillic += 1
        elif 0x3040 <= code <= 0x30FF or 0xFF66 <= code <= 0xFF9D:
            kana += 1
        elif 0x4E00 <= code <= 0x9FFF or 0x3400 <= code <= 0x4DBF:
            han += 1
        elif char.isascii() and char.isalpha():
            latin += 1
    # a Japanese text carries kana; a headline of kanji alone is Japanese here too (Chinese is
    # not among the feeds' languages), unless Latin letters dominate
    if (kana or han > cyrillic) and kana + han >= latin / 4:
        return "ja"
    if cyrillic and cyrillic >= latin / 2:
        return "ru"
    return "en"


def item_language(title: str, summary: str, configured: str | None = None) -> str:
    """`configured` (the feed's `lang`) when the operator gave one; else from the text."""
    if configured in NEWS_LANGUAGES:
        return configured
    return script_language(f"{title} {summary[:500]}")
