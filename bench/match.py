"""Benchmark of topic matching: items per second, against a naive regex loop in the same run.

    .venv/bin/python bench/match.py [--items 20000] [--topics 1000]

Items are the labelled corpus and filler news in EN/RU/JA; generated topics are watch-like
queries (made-up names, with a context word, an exclusion or NEAR) that 30% of the filler
items mention. Prints items/s for the shipped topics and for generated topics, the naive
loop's items/s (one compiled `re.search` per term per item, no boolean logic at all) and the
ratio; the compile time of the generated topics and of 1,000 queries shaped as in
tests/test_query.py, each beside the naive loop's set-up (parse, one regex per term) timed in
the same run; and `kurilwatch match` over 40,000 JSON lines against the time the same
interpreter needs just to read, decode and write those lines.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.config import load_config
from watchers.topics.compile import compile_topics
from watchers.topics.engine import Matcher
from watchers.topics.query import leaves, parse

LABELLED = ROOT / "tests" / "data" / "labelled.jsonl"

VOCABULARY = {
    "en": "minister talks visit island islands fishing military base drill missile governor "
    "treaty agreement sanctions trade energy gas oil port airport volcano earthquake "
    "tsunami weather election parliament court bank market ruble yen summit delegation "
    "border coast guard navy vessel aircraft exercise pipeline festival school hospital "
    "bridge road railway tourism museum satellite export import tariff budget".split(),
    "ru": "министр переговоры визит остров рыбак военный база учения ракета губернатор "
    "договор соглашение санкция торговля энергетика газ нефть порт аэропорт вулкан "
    "землетрясение цунами погода выборы парламент суд банк рынок рубль саммит делегация "
    "граница побережье флот судно самолёт трубопровод фестиваль школа больница мост "
    "дорога туризм музей спутник экспорт бюджет".split(),
    "ja": "首相 外相 会談 訪問 漁業 防衛 演習 ミサイル 知事 条約 合意 制裁 貿易 "
    "エネルギー ガス 石油 港 空港 火山 地震 津波 天気 選挙 国会 裁判 銀行 市場 円 "
    "首脳 代表団 国境 海上保安庁 船舶 航空機 観光 博物館 衛星 輸出 予算".split(),
}


SYLLABLES = ["ka", "ri", "lo", "mi", "na", "to", "su", "ve", "da", "ne", "shi", "ru", "po", "ga"]
CYRILLIC = {
    "ka": "ка",
    "ri": "ри",
    "lo": "ло",
    "mi": "ми",
    "na": "на",
    "to": "то",
    "su": "су",
    "ve": "ве",
    "da": "да",
    "ne": "не",
    "shi": "ши",
    "ru": "ру",
    "po": "по",
    "ga": "га",
}
KATAKANA = {
    "ka": "カ",
    "ri": "リ",
    "lo": "ロ",
    "mi": "ミ",
    "na": "ナ",
    "to": "ト",
    "su": "ス",
    "ve": "ヴェ",
    "da": "ダ",
    "ne": "ネ",
    "shi": "シ",
    "ru": "ル",
    "po": "ポ",
    "ga": "ガ",
}


def names(count: int, rng: random.Random) -> dict[str, list[str]]:
    """Made-up proper names (people, places, companies) in each script, as watches name them."""
    out: dict[str, list[str]] = {"en": [], "ru": [], "ja": []}
    seen: set[str] = set()
    while len(seen) < count:
        parts = rng.choices(SYLLABLES, k=rng.randint(3, 4))
        latin = "".join(parts)
        if latin in seen:
            continue
        seen.add(latin)
        out["en"].append(latin.capitalize())
        out["ru"].append("".join(CYRILLIC[p] for p in parts).capitalize())
        out["ja"].append("".join(KATAKANA[p] for p in parts))
    return out


def items(
    count: int, rng: random.Random, pool: dict[str, list[str]] | None = None
) -> list[dict[str, str]]:
    """`count` items: the labelled corpus, and filler news in three languages that now and
    then names someone from `pool`."""
    base: list[dict[str, str]] = []
    if LABELLED.exists():
        for line in LABELLED.read_text(encoding="utf-8").splitlines():
            obj = json.loads(line)
            base.append({"title": obj["title"], "summary": obj["summary"]})
    out = []
    for n in range(count):
        if base and n % 4 == 0:
            out.append(base[n % len(base)])
            continue
        lang = rng.choice(["en", "ru", "ja"])
        words = list(VOCABULARY[lang])
        joiner = "" if lang == "ja" else " "
        title_words = rng.choices(words, k=8)
        summary_words = rng.choices(words, k=45)
        if pool and rng.random() < 0.3:
            title_words.insert(2, rng.choice(pool[lang]))
            summary_words.insert(10, rng.choice(pool[lang]))
        out.append(
            {"title": joiner.join(title_words) + f" {n}", "summary": joiner.join(summary_words)}
        )
    return out


def generated_queries(count: int, rng: random.Random, pool: dict[str, list[str]]) -> dict[str, str]:
    """Watch-like queries: names, some with a context word or an exclusion."""
    queries = {}
    for n in range(count):
        lang = rng.choice(["en", "ru", "ja"])
        a, b = rng.sample(pool[lang], 2)
        common, other = rng.sample(VOCABULARY[lang], 2)
        shape = n % 4
        if shape == 0:
            queries[f"t{n}"] = f"{a} OR {b}"
        elif shape == 1:
            queries[f"t{n}"] = f"({a} OR {b}) AND {common}"
        elif shape == 2:
            queries[f"t{n}"] = f'"{a} {common}" OR {b} -{other}'
        else:
            queries[f"t{n}"] = f"{a} NEAR/5 ({common} OR {other})"
    return queries


def rate(
    label: str, fn: Callable[[dict[str, str]], object], data: Sequence[dict[str, str]]
) -> float:
    start = time.process_time()
    for item in data:
        fn(item)
    elapsed = time.process_time() - start
    per_second = len(data) / elapsed
    print(f"{label:<44} {per_second:>12,.0f} items/s  ({len(data):,} items, {elapsed:.2f} s CPU)")
    return per_second


def naive(queries: dict[str, str]) -> Callable[[dict[str, str]], object]:
    """The baseline: one compiled, case-insensitive `re.search` per term per item."""
    patterns = [
        re.compile(re.escape(" ".join(t.text for t in [term])), re.IGNORECASE)
        for query in queries.values()
        for term in leaves(parse(query))
    ]

    def run(item: dict[str, str]) -> object:
        text = item["title"] + "\n" + item["summary"]
        return [p.search(text) for p in patterns]

    return run


def test_queries(count: int) -> dict[str, str]:
    """The shape tests/test_query.py compiles 1,000 of."""
    return {
        f"t{n}": f'(город{n} OR "остров{n} мыс") AND title:порт{n} -склад OR 北方{n}島'
        for n in range(count)
    }


def compile_time(label: str, queries: dict[str, str]) -> Matcher:
    """Parse and compile `queries` into one matcher, against parsing them and compiling one
    regex per term (the naive loop's set-up) in the same run."""
    start = time.perf_counter()
    matcher = Matcher({tid: parse(q) for tid, q in queries.items()})
    ours = time.perf_counter() - start
    start = time.perf_counter()
    naive(queries)
    theirs = time.perf_counter() - start
    print(
        f"{'compile ' + label:<44} {ours:>12.3f} s, {ours / theirs:.1f}x the naive set-up"
        f" ({theirs:.3f} s)  (target < 1 s)"
    )
    return matcher


def cli_ratio(data: Sequence[dict[str, str]], lines: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "items.jsonl"
        with path.open("w", encoding="utf-8") as out:
            for n in range(lines):
                item = data[n % len(data)]
                out.write(json.dumps({"id": n, **item}, ensure_ascii=False) + "\n")
        baseline = (
            "import json,sys\n"
            "for line in sys.stdin:\n"
            "    obj = json.loads(line)\n"
            "    sys.stdout.write(json.dumps({'id': obj['id'], 'topics': []}) + '\\n')\n"
        )
        run = [sys.executable, "-c", baseline]
        match = [sys.executable, "-m", "bot.cli", "match", "--config", str(ROOT / "config.yaml")]
        timings = {}
        for label, command in (("read+decode+write", run), ("kurilwatch match", match)):
            with path.open("rb") as stdin:
                start = time.perf_counter()
                subprocess.run(
                    command, stdin=stdin, stdout=subprocess.DEVNULL, check=True, cwd=ROOT
                )
                timings[label] = time.perf_counter() - start
            print(f"{label:<44} {timings[label]:>12.2f} s for {lines:,} JSON lines")
        ratio = timings["kurilwatch match"] / timings["read+decode+write"]
        print(f"{'kurilwatch match / plain JSON round trip':<44} {ratio:>12.1f}x  (target <= 7x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--topics", type=int, default=1_000)
    parser.add_argument("--naive-items", type=int, default=1_000, help="the baseline is slow")
    parser.add_argument("--cli-lines", type=int, default=40_000)
    args = parser.parse_args()
    rng = random.Random(7)
    pool = names(3 * args.topics, rng)
    data = items(args.items, rng, pool)

    shipped = compile_topics(load_config(ROOT / "config.yaml").topics)
    shipped_rate = rate(
        f"shipped topics ({len(shipped)})",
        lambda item: shipped.matcher.match(item),
        data,
    )
    print(f"{'':<44} target >= 20,000 items/s: {'met' if shipped_rate >= 20_000 else 'NOT met'}")

    queries = generated_queries(args.topics, rng, pool)
    matcher = compile_time(f"{args.topics} generated topics", queries)
    compile_time(f"{args.topics} queries of tests/test_query.py", test_queries(args.topics))
    ours = rate(f"{args.topics} generated topics, one pass", matcher.match, data)
    baseline = rate(
        f"{args.topics} generated topics, naive re loop", naive(queries), data[: args.naive_items]
    )
    print(f"{'ratio one pass / naive':<44} {ours / baseline:>12.1f}x  (target >= 10x)")
    cli_ratio(data, args.cli_lines)


if __name__ == "__main__":
    main()
