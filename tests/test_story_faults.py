"""The story pipeline under hostile input and faults: long texts, text the model cannot read,
a model that does not load, and what stays bounded over a long run."""

from __future__ import annotations

from watchers.story_places import places


def test_a_long_text_naming_an_island_again_and_again_is_read_in_one_pass() -> None:
    # "Итуруп" holds "уруп" (Urup): each of its hits searched the whole text for Urup again
    text = "Итуруп " * 300_000
    assert places(text) == {"iturup"}
    assert places("Уруп " + text) == {"iturup", "urup"}
