"""The version of what a watch is filed under: a digest of the code that turns a query into its
keys and an item into its words. Keys kept in the store are used only by the same code; after
any change to it (or to Python's Unicode tables) every watch is filed anew from its text."""

from __future__ import annotations

import hashlib
import unicodedata
from pathlib import Path

from watchers.topics import engine, index, kept_index, lexer, morph, normalise, presearch, query


def _digest() -> str:
    digest = hashlib.sha256(unicodedata.unidata_version.encode())
    for module in (lexer, query, normalise, morph, engine, presearch, index, kept_index):
        digest.update(Path(str(module.__file__)).read_bytes())
    return digest.hexdigest()[:16]


FILING_VERSION = _digest()
