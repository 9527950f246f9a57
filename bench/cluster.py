"""Story clustering measured on real and labelled news, with the daemon's own story logic.

    .venv/bin/python bench/cluster.py [--sweep]

Every report goes through `watchers.story_replay.StoryReplay`, the code behind `kurilwatch
stories` (URL and fingerprint keys, the story index, the store's placement decision):

- `uci_stream.jsonl` (../shared/corpus/stories): the real headlines as one stream in
  publication order; alerts per story = clusters that hold a labelled story's reports, mixed =
  clusters holding reports of two labelled stories, and pair precision and recall over all
  pairs of reports. Also each half of the stories on its own (alternate stories in order of
  first appearance: `tune` is the half used to choose, `held-out` the other).
- `tgcontest_pairs.jsonl`: crowd-labelled pairs (title + the first 600 characters of text);
  a pair is merged when the second report joins the first one's story. Halves by position.
- `tests/data/followup_pairs*.jsonl`: one event told by two outlets, or an event and its
  follow-up, the later report with background sentences ("Напомним...", "Earlier, ...").
- `tests/data/subject_pairs*.jsonl`: general news (not the islands') in Russian and English,
  one event told by two outlets or two events on one subject, place or body within days,
  labelled as the tgcontest crowd labels (an event is a story), written by others than the
  one who chose the rules.
- `tests/data/story_pairs.jsonl` and `tests/data/cross_lang_*.jsonl`: our labelled pairs (the
  `cross_lang_heldout*` sets written by others than the one who chose the rules, each read
  once before any rule was changed for it: bench/STORIES.md gives both figures); and, from
  the cross-language sets, every two reports of one language that tell other events within a
  day, and each set replayed as one stream (its labelled pairs judged by the stories they end in).
- `tgcontest` and our pairs again with titles alone (no summary): the headline path
  (`HEADLINE_THRESHOLD`) on labelled pairs, Kuril hard negatives included, beside the UCI stream.

Prints one Markdown table (per set and language): pair precision and recall, alerts per
story, mixed clusters, and the CPU per placed report. `--sweep` also prints the pair figures
at other thresholds. `--rss` runs `kurilwatch demo` (the daemon, its parse workers and the
model, loaded by the demo's alerts) and prints the peak resident memory of the whole tree.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from watchers.stories import HEADLINE_THRESHOLD, THRESHOLD, StoryIndex
from watchers.story_replay import StoryReplay

CORPUS = ROOT.parent / "shared" / "corpus" / "stories"
DATA = ROOT / "tests" / "data"
TEXT_CHARS = 600
NO_TIME = datetime(2020, 5, 6, 12, tzinfo=UTC)

Replay = Callable[[], StoryReplay]


def _time(text: str | None) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")) if text else NO_TIME


def _read(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


@dataclass
class Figures:
    name: str
    lang: str
    reports: int
    tp: int = 0
    fp: int = 0
    positives: int = 0
    alerts_per_story: float | None = None
    mixed: float | None = None
    clusters: int = 0
    cpu: float = 0.0  # seconds, all reports

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / self.positives if self.positives else 1.0

    def row(self) -> str:
        aps = "" if self.alerts_per_story is None else f"{self.alerts_per_story:.2f}"
        mixed = "" if self.mixed is None else f"{100 * self.mixed:.1f}%"
        if self.mixed is not None:
            mixed += f" ({round(self.mixed * self.clusters)} of {self.clusters})"
        ms = 1000 * self.cpu / max(1, self.reports)
        return (
            f"| {self.name} | {self.lang} | {self.reports} | {self.precision:.3f} |"
            f" {self.recall:.3f} | {aps} | {mixed} | {ms:.2f} |"
        )


def stream(name: str, reports: list[dict[str, Any]], replay: Replay) -> Figures:
    """The reports as one stream: clusters against the labelled stories."""
    placer = replay()
    started = time.process_time()
    story_of = {
        r["id"]: placer.place(
            r["id"], r["title"], r.get("summary") or "", _time(r["published"]), r.get("link") or ""
        )
        for r in reports
    }
    cpu = time.process_time() - started
    label = {r["id"]: r["story"] for r in reports}
    clusters: defaultdict[object, set[str]] = defaultdict(set)
    per_label: defaultdict[str, set[object]] = defaultdict(set)
    for report_id, story in story_of.items():
        clusters[story].add(label[report_id])
        per_label[label[report_id]].add(story)
    figures = Figures(name, "en", len(reports), cpu=cpu)
    ids = list(story_of)
    for i, a in enumerate(ids):
        for b in ids[i + 1 :]:
            same, merged = label[a] == label[b], story_of[a] == story_of[b]
            figures.positives += same
            figures.tp += same and merged
            figures.fp += merged and not same
    figures.alerts_per_story = sum(len(s) for s in per_label.values()) / len(per_label)
    figures.mixed = sum(len(labels) > 1 for labels in clusters.values()) / len(clusters)
    figures.clusters = len(clusters)
    return figures


def pairs(
    name: str, rows: Iterable[dict[str, Any]], replay: Replay, side: Callable[..., tuple[Any, ...]]
) -> list[Figures]:
    """Each pair on its own: merged when the second report joins the first one's story."""
    by_lang: dict[str, Figures] = {}
    for pair in rows:
        figures = by_lang.setdefault(pair["lang"], Figures(name, pair["lang"], 0))
        placer = replay()
        started = time.process_time()
        placer.place("a", *side(pair["a"]))
        merged = placer.place("b", *side(pair["b"])) == "a"
        figures.cpu += time.process_time() - started
        figures.reports += 2
        figures.positives += pair["same_story"]
        figures.tp += merged and pair["same_story"]
        figures.fp += merged and not pair["same_story"]
    return [by_lang[lang] for lang in sorted(by_lang)]


def tg_side(side: dict[str, str]) -> tuple[Any, ...]:
    return side["title"], side["text"][:TEXT_CHARS], NO_TIME, side.get("url", "")


def our_side(side: dict[str, str]) -> tuple[Any, ...]:
    return side["title"], side["summary"], _time(side.get("published")), side.get("link", "")


def title_only(side: Callable[..., tuple[Any, ...]]) -> Callable[..., tuple[Any, ...]]:
    """The same report as a headline alone (a feed that gives no summary, as Google News)."""
    return lambda report: (report["title"], "", *side(report)[2:])


def halves(rows: list[dict[str, Any]], key: Callable[[dict[str, Any]], str]) -> list[list[Any]]:
    """Rows split by alternate keys in order of first appearance: [tune, held-out]."""
    order = list(dict.fromkeys(key(r) for r in rows))
    tune = set(order[::2])
    return [[r for r in rows if key(r) in tune], [r for r in rows if key(r) not in tune]]


def our_sets() -> list[Path]:
    """Our labelled pair sets, in the order the table shows them."""
    return [
        DATA / "story_pairs.jsonl",
        *sorted(DATA.glob("followup_pairs*.jsonl")),
        *sorted(DATA.glob("subject_pairs*.jsonl")),
        *sorted(DATA.glob("cross_lang_*.jsonl")),
    ]


def run(replay: Replay) -> list[Figures]:
    out: list[Figures] = []
    uci_path, tg_path = CORPUS / "uci_stream.jsonl", CORPUS / "tgcontest_pairs.jsonl"
    if uci_path.exists():
        uci = _read(uci_path)
        out.append(stream("uci stream", uci, replay))
        tune, held = halves(uci, lambda r: str(r["story"]))
        out.append(stream("uci tune half", tune, replay))
        out.append(stream("uci held-out half", held, replay))
    if tg_path.exists():
        tg = _read(tg_path)
        out += pairs("tgcontest", tg, replay, tg_side)
        tune, held = halves(tg, lambda r: str(r["id"]))
        out += pairs("tgcontest tune half", tune, replay, tg_side)
        out += pairs("tgcontest held-out half", held, replay, tg_side)
        out += pairs("tgcontest, titles alone", tg, replay, title_only(tg_side))
    for path in our_sets():
        if path.exists():
            out += pairs(path.stem, _read(path), replay, our_side)
    if (DATA / "story_pairs.jsonl").exists():
        rows = _read(DATA / "story_pairs.jsonl")
        out += pairs("story_pairs, titles alone", rows, replay, title_only(our_side))
    return out


HEADER = (
    "| set | lang | reports | pair precision | pair recall | alerts per story | mixed clusters"
    " | CPU ms per report |\n|---|---|---|---|---|---|---|---|"
)


def cross_language(path: Path) -> None:
    """What joining across languages would give: the title vectors' cosine alone (the token
    signal needs a shared script), with the conflict vetoes, per threshold."""
    from watchers.embedding import embed_titles
    from watchers.story_sketch import conflict, sketch

    scored = []
    for pair in _read(path):
        a, b = (sketch(pair[s]["title"], pair[s]["summary"]) for s in "ab")
        vectors = embed_titles([a.title, b.title])
        cosine = 0.0 if conflict(a, b) else float(vectors[0] @ vectors[1])
        scored.append((pair["lang"], pair["same_story"], cosine))
    print("\ncross-language pairs joined by title vectors (not done by the daemon):")
    print(
        "| title cosine >= | "
        + " | ".join(f"{x} P / R" for x in ("en-ru", "en-ja", "ru-ja", "all"))
        + " |"
    )
    print("|---|---|---|---|---|")
    for threshold in (0.82, 0.84, 0.86, 0.88):
        cells = []
        for lang in ("en-ru", "en-ja", "ru-ja", "all"):
            rows = [r for r in scored if lang in ("all", r[0])]
            tp = sum(1 for _, same, c in rows if same and c >= threshold)
            fp = sum(1 for _, same, c in rows if not same and c >= threshold)
            positives = sum(1 for _, same, _ in rows if same)
            precision = f"{tp / (tp + fp):.2f}" if tp + fp else "-"
            cells.append(f"{precision} / {tp / positives:.2f}")
        print(f"| {threshold:.2f} | " + " | ".join(cells) + " |")


def other_events(paths: Iterable[Path], replay: Replay) -> None:
    """Hard negatives in one language from the cross-language sets: every two reports of one
    language telling different events within a day (the same island, the same kind of event)."""
    print("\nother events in one language (cross-language sets, reports a day apart or less):")
    print("| set | pairs | merged |\n|---|---|---|")
    for path in paths:
        reports: dict[tuple[str, str], dict[str, Any]] = {}
        for pair in _read(path):
            if pair["same_story"]:
                # "same event: <key>", perhaps with a remark after the key
                event = (pair["note"].split(":", 1)[-1].split() or [pair["note"]])[0]
                for side, lang in zip("ab", pair["lang"].split("-"), strict=True):
                    reports[(event, lang)] = pair[side]
        count = merged = 0
        for (event, lang), a in reports.items():
            for (other, other_lang), b in reports.items():
                apart = _time(b["published"]) - _time(a["published"])
                if lang != other_lang or event == other or not 0 <= apart.total_seconds() <= 86400:
                    continue
                if (apart.total_seconds(), event) == (0, max(event, other)):
                    continue  # published together: one order of the two
                places = replay()
                first = places.place("a", a["title"], a["summary"], _time(a["published"]))
                count += 1
                merged += (
                    places.place("b", b["title"], b["summary"], _time(b["published"])) == first
                )
        print(f"| {path.stem} | {count} | {merged} |")


def _ratio(part: int, whole: int) -> str:
    return f"{part / whole:.3f}" if whole else "-"


def set_streams(paths: Iterable[Path], replay: Replay, *, headlines: bool = False) -> None:
    """Each cross-language set as the daemon would meet it: all its reports in one stream, in
    publication order, and every labelled pair judged by the stories they end in. Unlike the
    pair rows, a report may join a third report's story, or a story chained in one language.
    `headlines`: their titles alone, as Google News search feeds carry the islands' news."""
    alone = ", headlines alone" if headlines else ""
    print(f"\ncross-language sets replayed as one stream{alone} (pair precision / recall):")
    print("| set | en-ru | en-ja | ru-ja |\n|---|---|---|---|")
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for path in paths:
        rows = _read(path)
        reports = {(r[s]["title"], r[s]["published"]): r[s] for r in rows for s in "ab"}
        order = sorted(reports, key=lambda key: (_time(key[1]), key[0]))
        places = replay()
        story = {
            key: places.place(
                str(n), key[0], "" if headlines else reports[key]["summary"], _time(key[1])
            )
            for n, key in enumerate(order)
        }
        cells = []
        for lang in ("en-ru", "en-ja", "ru-ja"):
            counts = totals[lang]
            tp = fp = fn = 0
            for r in rows:
                if r["lang"] != lang:
                    continue
                a, b = ((r[s]["title"], r[s]["published"]) for s in "ab")
                merged = story[a] == story[b]
                tp += merged and r["same_story"]
                fp += merged and not r["same_story"]
                fn += not merged and r["same_story"]
            counts[0], counts[1], counts[2] = counts[0] + tp, counts[1] + fp, counts[2] + fn
            cells.append(f"{_ratio(tp, tp + fp)} / {_ratio(tp, tp + fn)}")
        print(f"| {path.stem} | " + " | ".join(cells) + " |")
    cells = [
        f"{_ratio(tp, tp + fp)} / {_ratio(tp, tp + fn)} ({fp} false)"
        for tp, fp, fn in (totals[lang] for lang in ("en-ru", "en-ja", "ru-ja"))
    ]
    print("| all | " + " | ".join(cells) + " |")


def _tree(pid: int) -> list[int]:
    """A process and its descendants (Linux /proc)."""
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        try:
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        found.append(current)
        pending += [int(child) for child in children]
    return found


def _tree_rss(pids: list[int]) -> int:
    """Resident kilobytes of the processes."""
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            status = Path(f"/proc/{pid}/status").read_text()
            total += next(
                (int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")),
                0,
            )
    return total


def demo_rss() -> tuple[float, bool]:
    """Peak RSS (MB) of `kurilwatch demo`'s process tree, and whether the model was loaded
    in it."""
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "demo"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, "TELEGRAM_BOT_TOKEN": ""},
    )
    peak = 0
    loaded = False
    while process.poll() is None:
        pids = _tree(process.pid)
        peak = max(peak, _tree_rss(pids))
        for pid in pids:  # the model's process, beside the parse workers
            with contextlib.suppress(OSError):
                loaded = loaded or "e5-small-q4.bin" in Path(f"/proc/{pid}/maps").read_text()
        time.sleep(0.1)
    return peak / 1024, loaded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sweep", action="store_true", help="pair figures at other thresholds")
    parser.add_argument("--rss", action="store_true", help="peak RSS of `kurilwatch demo`")
    args = parser.parse_args()
    if args.rss:
        peak, loaded = demo_rss()
        print(
            f"kurilwatch demo, daemon and parse workers: peak RSS {peak:.0f} MB"
            f" (model {'loaded' if loaded else 'NOT loaded'}; target <= 250 MB)"
        )
    print(f"threshold {THRESHOLD} (headlines alone {HEADLINE_THRESHOLD})")
    print(HEADER)
    for figures in run(StoryReplay):
        print(figures.row())
    if (DATA / "cross_lang_pairs.jsonl").exists():
        cross_language(DATA / "cross_lang_pairs.jsonl")
    other_events(sorted(DATA.glob("cross_lang_*.jsonl")), StoryReplay)
    set_streams(sorted(DATA.glob("cross_lang_*.jsonl")), StoryReplay)
    set_streams(sorted(DATA.glob("cross_lang_*.jsonl")), StoryReplay, headlines=True)
    if args.sweep:
        gap = THRESHOLD - HEADLINE_THRESHOLD
        for step in range(10, 61, 4):
            threshold = step / 100

            def replay(threshold: float = threshold) -> StoryReplay:
                index = StoryIndex(threshold=threshold, headline_threshold=threshold - gap)
                return StoryReplay(index)

            print(f"\nthreshold {threshold:.2f} (headlines alone {threshold - gap:.2f})")
            for figures in run(replay):
                print(figures.row())


if __name__ == "__main__":
    main()
