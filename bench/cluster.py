"""Choosing the story-clustering threshold: pair precision and recall on the labelled pairs.

    .venv/bin/python bench/cluster.py

Prints, for thresholds from 0.20 to 0.80, how many labelled pairs of `tests/data/
story_pairs.jsonl` the clustering would merge, with precision and recall per language and in
all. Precision comes first (a false merge hides news): pick the lowest threshold at which
precision stays at or above 0.98.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from watchers.stories import THRESHOLD, pair_score

PAIRS = ROOT / "tests" / "data" / "story_pairs.jsonl"


def report(side: dict[str, str]) -> tuple[str, str, datetime]:
    """A labelled pair's side as (title, summary, published)."""
    published = datetime.fromisoformat(side["published"].replace("Z", "+00:00"))
    return side["title"], side["summary"], published


def main() -> None:
    pairs = [json.loads(line) for line in PAIRS.read_text(encoding="utf-8").splitlines() if line]
    scored = []
    for pair in pairs:
        scored.append(
            (pair["lang"], pair["same_story"], pair_score(report(pair["a"]), report(pair["b"])))
        )
    print(f"{len(pairs)} pairs; current threshold {THRESHOLD}")
    print(f"{'threshold':>9} {'lang':>5} {'merged':>7} {'precision':>9} {'recall':>7}")
    for step in range(20, 61, 2):
        threshold = step / 100
        for lang in ("en", "ru", "ja", "all"):
            rows = [s for s in scored if lang in ("all", s[0])]
            tp = sum(1 for _, same, score in rows if same and score >= threshold)
            fp = sum(1 for _, same, score in rows if not same and score >= threshold)
            positives = sum(1 for _, same, _ in rows if same)
            precision = tp / (tp + fp) if tp + fp else 1.0
            print(
                f"{threshold:>9.2f} {lang:>5} {tp + fp:>7} {precision:>9.3f} {tp / positives:>7.3f}"
            )


if __name__ == "__main__":
    main()
