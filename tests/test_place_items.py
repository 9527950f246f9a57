"""Story placement of an ingestion, pure: which records are new, their ids and their stories."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from store import ItemRecord
from store.items import Placement, place_items, unseen

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def rec(
    guid: str,
    url: str | None = None,
    text: str | None = None,
    hint: int | None = None,
    joins: str | None = None,
) -> ItemRecord:
    return ItemRecord(
        guid, url, url, f"Title {guid}", "", T0, fingerprint=text, story_hint=hint, joins=joins
    )


def test_unseen_skips_known_guids_and_repeats_within_the_batch() -> None:
    records = [rec("a"), rec("b"), rec("a"), rec("c"), rec("b")]
    assert [r.guid for r in unseen(records, {"c"})] == ["a", "b"]


# records, known URLs, known texts, existing stories -> (item id, story id, new story) each
CASES = {
    "new items start their own stories": (
        [rec("a", "u1"), rec("b", "u2")],
        {},
        {},
        set(),
        [(10, 10, True), (11, 11, True)],
    ),
    "a known URL joins its story": ([rec("a", "u1")], {"u1": 3}, {}, set(), [(10, 3, False)]),
    "a known text joins its story": (
        [rec("a", "u9", "t1")],
        {},
        {"t1": 4},
        set(),
        [(10, 4, False)],
    ),
    "the URL wins over the text": (
        [rec("a", "u1", "t1")],
        {"u1": 3},
        {"t1": 4},
        set(),
        [(10, 3, False)],
    ),
    "the text wins over the hint": (
        [rec("a", "u9", "t1", hint=5)],
        {},
        {"t1": 4},
        {5},
        [(10, 4, False)],
    ),
    "a hint to a stored story joins it": (
        [rec("a", "u9", hint=5)],
        {},
        {},
        {5},
        [(10, 5, False)],
    ),
    "a hint to a story not stored is ignored": (
        [rec("a", "u9", hint=6)],
        {},
        {},
        {5},
        [(10, 10, True)],
    ),
    "later items of the batch join the first with their URL or text": (
        [rec("a", "u1", "t1"), rec("b", "u1"), rec("c", "u2", "t1"), rec("d", "u3")],
        {},
        {},
        set(),
        [(10, 10, True), (11, 10, False), (12, 10, False), (13, 13, True)],
    ),
    "an item joins the story of the earlier record of the batch it names": (
        [rec("a", "u1"), rec("b", "u2", hint=5), rec("c", "u3", joins="a"), rec("d", joins="b")],
        {},
        {},
        {5},
        [(10, 10, True), (11, 5, False), (12, 10, False), (13, 5, False)],
    ),
    "the URL wins over the record it names, and a name not in the batch is ignored": (
        [rec("a", "u1"), rec("b", "u9", joins="a"), rec("c", "u4", joins="zz")],
        {"u9": 3},
        {},
        set(),
        [(10, 10, True), (11, 3, False), (12, 12, True)],
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_place_items(case: str) -> None:
    records, by_url, by_text, stories, expected = CASES[case]
    placed = place_items(records, first_id=10, by_url=by_url, by_text=by_text, stories=stories)
    assert [(p.item_id, p.story_id, p.new_story) for p in placed] == expected
    assert [p.record for p in placed] == records
    assert all(isinstance(p, Placement) for p in placed)


def test_place_items_leaves_its_lookups_alone() -> None:
    by_url: dict[str, int] = {}
    place_items([rec("a", "u1")], first_id=1, by_url=by_url, by_text={}, stories=set())
    assert by_url == {}
