"""Every story decision bench/cluster.py scores, one line each, for diffing two versions.

    PYTHONHASHSEED=0 .venv/bin/python bench/story_decisions.py [SET_SUBSTRING ...] > after.txt

Run it before and after a rule change (say, in a `git worktree` of the old commit) and `diff`
the two outputs: each line names the set, the pair or report, the label and what was decided,
so a change's every gain and loss is read, not only the totals. With arguments, only the sets
whose name holds one of them.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import cluster

from watchers.story_replay import StoryReplay

Side = Callable[[dict[str, Any]], tuple[Any, ...]]


def _stream(name: str, reports: list[dict[str, Any]]) -> Iterator[str]:
    placer = StoryReplay()
    for r in reports:
        story = placer.place(
            r["id"],
            r["title"],
            r.get("summary") or "",
            cluster._time(r["published"]),
            r.get("link") or "",
        )
        yield f"{name}\t{r['id']}\tlabel {r['story']}\tstory {story}\t{r['title'][:80]}"
    yield f"{name}\t{cluster.stream(name, reports, StoryReplay).row()}"


def _pairs(name: str, rows: list[dict[str, Any]], side: Side) -> Iterator[str]:
    for n, pair in enumerate(rows):
        placer = StoryReplay()
        placer.place("a", *side(pair["a"]))
        merged = placer.place("b", *side(pair["b"])) == "a"
        same = bool(pair["same_story"])
        verdict = "ok" if merged == same else ("FALSE PAIR" if merged else "MISSED")
        label = pair.get("id", n)
        yield f"{name}\t{label}\t{pair['lang']}\tsame {same}\tmerged {merged}\t{verdict}"


def _set_stream(path: Path) -> Iterator[str]:
    rows = cluster._read(path)
    reports = {(r[s]["title"], r[s]["published"]): r[s] for r in rows for s in "ab"}
    order = sorted(reports, key=lambda key: (cluster._time(key[1]), key[0]))
    places = StoryReplay()
    story = {
        key: places.place(str(n), key[0], reports[key]["summary"], cluster._time(key[1]))
        for n, key in enumerate(order)
    }
    for n, r in enumerate(rows):
        a, b = ((r[s]["title"], r[s]["published"]) for s in "ab")
        merged, same = story[a] == story[b], bool(r["same_story"])
        verdict = "ok" if merged == same else ("FALSE PAIR" if merged else "MISSED")
        yield f"{path.stem} stream\t{r.get('id', n)}\t{r['lang']}\tmerged {merged}\t{verdict}"


def decisions(wanted: list[str]) -> Iterator[str]:
    def chosen(name: str) -> bool:
        return not wanted or any(w in name for w in wanted)

    uci, tg = cluster.CORPUS / "uci_stream.jsonl", cluster.CORPUS / "tgcontest_pairs.jsonl"
    if uci.exists() and chosen("uci"):
        yield from _stream("uci", cluster._read(uci))
    if tg.exists() and chosen("tgcontest"):
        rows = cluster._read(tg)
        yield from _pairs("tgcontest", rows, cluster.tg_side)
        yield from _pairs("tgcontest titles", rows, cluster.title_only(cluster.tg_side))
    for path in cluster.our_sets():
        if path.exists() and chosen(path.stem):
            yield from _pairs(path.stem, cluster._read(path), cluster.our_side)
            if path.stem.startswith("cross_lang"):
                yield from _set_stream(path)


def main() -> None:
    wanted = sys.argv[1:]
    for line in decisions(wanted):
        print(line, flush=True)
    cross = sorted(cluster.DATA.glob("cross_lang_*.jsonl"))
    cluster.other_events(
        [p for p in cross if not wanted or any(w in p.stem for w in wanted)], StoryReplay
    )


if __name__ == "__main__":
    main()
