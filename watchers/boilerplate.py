"""Page boilerplate that feeds carry into item text, and removing it.

A line is dropped when, without its closing punctuation and case, it is one of `LINES`, or when
it repeats the item's title (alone, or as a breadcrumb: "Title / News / Agency"). Add a phrase
to `LINES` when a feed brings a new one; `tests/test_summary.py` shows what each is for.
"""

from __future__ import annotations

import re

LINES = frozenset(
    {
        # English
        "rate it",
        "add comment",
        "add a comment",
        "comments",
        "share",
        "share this article",
        "read more",
        "read more on our site",
        "continue reading",
        "click here",
        "advertisement",
        "subscribe",
        "print",
        "related",
        "related articles",
        "tags",
        # Russian
        "сообщите об орфографической ошибке",
        "выделенный текст слишком длинный",
        "читайте также",
        "читать далее",
        "подробнее",
        "комментарии",
        "поделиться",
        "реклама",
        "подписывайтесь",
        "оценить",
        "добавить комментарий",
        "нашли ошибку? выделите ее и нажмите ctrl+enter",
        # Japanese
        "続きを読む",
        "関連記事",
        "広告",
        "シェア",
        "コメント",
    }
)

_CRUMB = re.compile(r"\s*[/|›»>]\s*")
_END_CHARS = frozenset(".!?:…。！？・|>»")


def _key(line: str) -> str:
    # the line without its trailing run of spaces and .!?:… (a regex scanned the whole line)
    end = len(line)
    while end and (line[end - 1].isspace() or line[end - 1] in _END_CHARS):
        end -= 1
    return line[:end].strip().casefold()


def strip_boilerplate(text: str, title: str = "") -> str:
    """`text` without its boilerplate lines (paragraphs otherwise kept as they are)."""
    title_key = _key(title)
    kept = []
    for line in text.split("\n"):
        key = _key(line)
        if key in LINES:
            continue
        if (
            title_key
            and key.startswith(title_key)  # what the split leaves is a start of the line
            and (key == title_key or _CRUMB.split(key)[0] == title_key)
        ):
            continue
        kept.append(line)
    return re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip()
