"""Content fingerprints: the identity of an item whose guid and link changed but whose text did not.

Publishers re-issue items with a new guid, a new slug or a lightly edited title; the body text
stays. A fingerprint is taken from the normalised words of the summary only, and only when the
summary is long enough to be specific: short or boilerplate summaries give none, so unrelated
items never share one.
"""

from __future__ import annotations

import hashlib
import unicodedata
from functools import cache
from pathlib import Path

from watchers.topics import normalise
from watchers.topics.normalise import words

MIN_WORDS = 20
MAX_WORDS = 60


def content_fingerprint(summary: str, tokens: list[str] | None = None) -> str | None:
    """The summary's fingerprint, or None; `tokens` are its `words` when the caller has them."""
    tokens = words(summary) if tokens is None else tokens
    if len(set(tokens)) < MIN_WORDS:
        return None
    digest = hashlib.sha1(" ".join(tokens[:MAX_WORDS]).encode()).hexdigest()[:24]
    return f"fp:{digest}"


@cache
def fingerprint_version() -> str:
    """A digest of the code that makes a fingerprint (this module, text normalisation and
    Python's Unicode tables): the store keys its recent items again when it changes."""
    digest = hashlib.sha256(unicodedata.unidata_version.encode())
    for module in (normalise, __file__):
        path = module if isinstance(module, str) else str(module.__file__)
        digest.update(Path(path).read_bytes())
    return digest.hexdigest()[:16]
