"""The shipped topics on labelled items written for the purpose: precision and recall ≥ 0.95."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bot.config import load_config
from watchers.topics.compile import Topics, compile_topics

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"


def load(name: str) -> list[dict[str, Any]]:
    path = DATA / name
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


LABELLED = load("labelled.jsonl") + load("heldout.jsonl")


@pytest.fixture(scope="module")
def topics() -> Topics:
    return compile_topics(load_config(ROOT / "config.yaml").topics)


def test_the_corpus_is_large_and_balanced() -> None:
    assert len(LABELLED) >= 150
    for lang in ("en", "ru", "ja"):
        of_lang = [i for i in LABELLED if i["lang"] == lang]
        for topic in ("kuril", "peace-treaty"):
            assert sum(topic in i["topics"] for i in of_lang) >= 15, (lang, topic)
        assert sum(not i["topics"] for i in of_lang) >= 20, lang


@pytest.mark.parametrize("topic", ["kuril", "peace-treaty"])
def test_precision_and_recall(topics: Topics, topic: str) -> None:
    tp, false_positives, false_negatives = 0, [], []
    for item in LABELLED:
        found = [m.topic_id for m in topics.match(title=item["title"], summary=item["summary"])]
        got, want = topic in found, topic in item["topics"]
        tp += got and want
        if got and not want:
            false_positives.append(f"{item['id']}: {item['title']}")
        if want and not got:
            false_negatives.append(f"{item['id']}: {item['title']}")
    precision = tp / (tp + len(false_positives))
    recall = tp / (tp + len(false_negatives))
    assert precision >= 0.95, false_positives
    assert recall >= 0.95, false_negatives


@pytest.mark.parametrize(
    ("title", "summary", "expected"),
    [
        ("Курильский бобтейл стал лучшей кошкой выставки", "Порода родом с Курил.", ["kuril"]),
        ("Курильский бобтейл стал лучшей кошкой выставки", "Кошки покорили Москву.", []),
        ("Kurilian Bobtail wins best in show", "", []),
        ("Он курил на балконе", "Курильщики жалуются на запрет.", []),
        ("帰国後に記者会見", "首相は帰国後、平和について語った。", []),
        ("Armenia and Azerbaijan initial peace treaty", "Russia and the EU welcomed it.", []),
        ("Japan and China mark 1978 peace treaty", "Tokyo and Beijing signed it.", []),
        ("Власти Северной территории Австралии", "Пожары на севере Австралии.", []),
    ],
)
def test_hard_negatives(topics: Topics, title: str, summary: str, expected: list[str]) -> None:
    assert [m.topic_id for m in topics.match(title=title, summary=summary)] == expected
