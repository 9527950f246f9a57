"""Benchmark of entity bombs: the CPU that parsing each file of ../shared/corpus/adversarial
takes, against a plain RSS feed of the same size parsed in the same run.

    .venv/bin/python bench/bombs.py [--repeats 20]

Billion laughs, quadratic blowup and XXE are defused before parsing, so a bomb should cost
about what any document of its size costs; each line prints the median CPU time of both and
their ratio. Targets: every bomb under 2 s of CPU and at most 3x its plain feed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fakes.feed_server import FeedEntry, rss
from watchers.parse import parse_feed

CORPUS = ROOT.parent / "shared" / "corpus" / "adversarial"
CPU_LIMIT = 2.0
RATIO_LIMIT = 3.0


def plain_feed(size: int) -> bytes:
    """An ordinary RSS document of about `size` bytes (at least one item)."""

    def document(count: int) -> bytes:
        return rss(
            [
                FeedEntry(
                    f"Story {n} on quotas", f"https://p.example/{n}", summary="Talks went on."
                )
                for n in range(count)
            ]
        )

    per_item = (len(document(11)) - len(document(1))) / 10
    return document(max(1, round((size - len(document(0))) / per_item)))


def cpu(content: bytes, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.process_time()
        parse_feed(content, feed_id="a", url="http://a.example/feed")
        times.append(time.process_time() - started)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    if not CORPUS.is_dir():
        print(f"{CORPUS} is absent: this benchmark reads it", file=sys.stderr)
        return 2
    ok = True
    print(f"{'file':<44} {'bytes':>8} {'bomb ms':>9} {'plain ms':>9} {'ratio':>6}")
    for path in sorted(p for p in CORPUS.iterdir() if p.is_file() and p.name != "LICENSE"):
        content = path.read_bytes()
        bomb = cpu(content, args.repeats)
        baseline = plain_feed(len(content))
        plain = cpu(baseline, args.repeats)
        ratio = bomb / plain
        ok &= bomb < CPU_LIMIT and ratio <= RATIO_LIMIT
        print(
            f"{path.name:<44} {len(content):>8,} {bomb * 1000:>9.2f} {plain * 1000:>9.2f}"
            f" {ratio:>5.1f}x"
        )
    print(
        f"targets: under {CPU_LIMIT:g} s of CPU and at most {RATIO_LIMIT:g}x the plain feed:"
        f" {'met' if ok else 'NOT met'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
