"""Memory of the Russian word-forms caches under a flood of distinct words (as /watch can bring).

    .venv/bin/python bench/forms_memory.py [--words 30000] [--step 5000] [--kind mix|verbs]
        [--bound MB]

Words are dictionary forms (lemmas) from pymorphy3's own dictionary, spread over the alphabet
(`mix`), or infinitives only (`verbs`: the largest paradigms, the worst case per word). Two
fills, each from empty caches:

- looked up: `russian_forms(word)` then `whole_words` of its set, as filing a watch does;
- given: `give_forms` of sets received from another process (fresh copies, as a parse worker
  unpickles them and the daemon reads them from the store), in batches of 100 words.

Both fill the one cache of `watchers.topics.morph`, bounded by `FORMS_BYTES` (`--bound` sets
it for the run). At every `step` words it prints the Python memory traced (tracemalloc: the
cache's own bytes) and the RSS growth, each in MB and in MB per 1,000 words, and the words the
cache holds with their bytes as it counts them. RSS is read in a pass without tracemalloc (its
own records would count).
"""

from __future__ import annotations

import argparse
import gc
import pickle
import subprocess
import sys
import tracemalloc
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from watchers.topics import morph
from watchers.topics.morph import forget_forms, forms_held, give_forms, russian_forms
from watchers.topics.normalise import normalise
from watchers.topics.presearch import whole_words

# the rarest first letters first: what one lacks of its share passes to the letters after it
ALPHABET = "йщюяэцжчшфхеиагзбудлтвмнкорсп"


def lemmas(count: int, kind: str) -> list[str]:
    """`count` distinct dictionary forms, the same ones every run: a share from each letter's
    start (the dictionary's words in its order), so every letter is in it."""
    dictionary = morph._analyzer().dictionary
    found: dict[str, None] = {}
    for n, letter in enumerate(ALPHABET):
        share = -(-(count - len(found)) // (len(ALPHABET) - n))
        taken = 0
        for word, (para_id, idx) in dictionary.words.iteritems(letter):
            if taken == share:
                break
            if idx or "-" in word or normalise(word) in found:
                continue
            if kind == "verbs" and "INFN" not in dictionary.build_tag_info(para_id, idx):
                continue
            found[normalise(word)] = None
            taken += 1
    return list(found)


def rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def held() -> str:
    """What the cache holds now."""
    words, counted = forms_held()
    bound = morph.FORMS_BYTES / 2**20
    return f"{words:,} words, {counted / 2**20:.1f} MB counted (bound {bound:.0f} MB)"


def clear() -> None:
    forget_forms()
    gc.collect()


def look_up(words: Sequence[str]) -> None:
    for word in words:
        whole_words(russian_forms(word))


def pickled(words: Sequence[str]) -> dict[str, bytes]:
    """Each word's forms as another process sends them, in batches of 100 (by first word);
    looked up past the cache, which they would leave full of freed memory."""
    return {
        words[start]: pickle.dumps(
            tuple((w, morph._looked_up(w)) for w in words[start : start + 100])
        )
        for start in range(0, len(words), 100)
    }


def measure(
    label: str, words: Sequence[str], step: int, fill: Callable[[Sequence[str]], None]
) -> None:
    """Fill from empty caches, `step` words at a time: RSS in one pass, tracemalloc in another."""
    rss: list[float] = []
    for traced in (False, True):
        clear()
        if traced:
            tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0] if traced else rss_mb()
        for start in range(0, len(words), step):
            fill(words[start : start + step])
            done = min(start + step, len(words))
            if not traced:
                rss.append(rss_mb() - base)
                continue
            traced_mb = (tracemalloc.get_traced_memory()[0] - base) / 2**20
            grown = rss[start // step]
            print(
                f"{label}, {done:>7,} words: traced {traced_mb:7.1f} MB"
                f" ({traced_mb / done * 1000:5.2f} MB/1k), RSS +{grown:7.1f} MB"
                f" ({grown / done * 1000:5.2f} MB/1k); held: {held()}"
            )
        tracemalloc.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--words", type=int, default=30_000)
    parser.add_argument("--step", type=int, default=5_000)
    parser.add_argument("--kind", choices=("mix", "verbs"), default="mix")
    parser.add_argument("--bound", type=float, help="the cache's bound in MB for this run")
    parser.add_argument("--fill", choices=("both", "looked-up", "given"), default="both")
    args = parser.parse_args()
    if args.step % 100:
        parser.error("--step: a multiple of 100 (the batches given)")
    if args.bound is not None:
        morph.FORMS_BYTES = int(args.bound * 2**20)
    words = lemmas(args.words, args.kind)
    if args.fill == "both":  # each fill in a process of its own: RSS freed by one hides the next
        forms = [len(morph._looked_up(word)) for word in words]
        print(
            f"{len(words):,} {args.kind} words, {sum(forms) / len(forms):.1f} forms a word"
            f" (max {max(forms)})",
            flush=True,
        )
        for fill in ("looked-up", "given"):
            subprocess.run([sys.executable, *sys.argv, "--fill", fill], check=True)
    elif args.fill == "looked-up":
        measure("looked up", words, args.step, look_up)
    else:
        sent = pickled(words)

        def give(chunk: Sequence[str]) -> None:  # fresh copies, as unpickled
            for start in range(0, len(chunk), 100):
                give_forms(pickle.loads(sent[chunk[start]]))

        measure("given", words, args.step, give)


if __name__ == "__main__":
    main()
