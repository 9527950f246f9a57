"""Story clustering: reworded reports of one story meet; other stories on the same subject do not."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from watchers.cluster import StoryIndex, script_of, story_tokens

T0 = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def test_index_finds_the_story_within_the_window_and_script() -> None:
    index = StoryIndex()
    tokens = story_tokens(
        "Russia to deploy Bastion missile systems on Iturup",
        "Russia will deploy Bastion coastal missile systems on Iturup island next year.",
    )
    index.add(1, 1, tokens, "en", T0)
    reworded = story_tokens(
        "Bastion missiles to be deployed on Iturup, Russia says",
        "Russia says it will deploy Bastion coastal missile systems on Iturup island next year.",
    )
    assert index.find(reworded, "en", T0 + timedelta(hours=3)) == 1
    assert index.find(reworded, "en", T0 + timedelta(hours=80)) is None
    assert index.find(reworded, "ru", T0) is None
    other = story_tokens("Iturup airport closed by fog", "Flights to Iturup were cancelled.")
    assert index.find(other, "en", T0) is None
    drills = story_tokens(
        "Russia holds drills on Iturup",
        "Troops held exercises on Iturup island with Bastion coastal missile systems.",
    )
    assert index.find(drills, "en", T0) is None  # same island and weapons, another story
    index.prune(T0 + timedelta(hours=73))
    assert len(index) == 0


@pytest.mark.parametrize(("text", "script"), [("Итуруп", "ru"), ("択捉島", "ja"), ("Iturup", "en")])
def test_script_of(text: str, script: str) -> None:
    assert script_of(text) == script


def test_japanese_uses_character_bigrams() -> None:
    assert story_tokens("択捉島", "") == frozenset({"択捉", "捉島"})
