"""The backtest core: stored items re-matched with old and new queries, as stories per topic."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from store import PastItem
from watchers.backtest import _Prefilter, backtest, changed_topics, preview
from watchers.topics.engine import Matcher
from watchers.topics.query import parse

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def item(n: int, title: str, summary: str = "", story: int | None = None) -> PastItem:
    return PastItem(
        id=n,
        story_id=story or n,
        feed_id="f",
        outlet="Outlet",
        title=title,
        summary=summary,
        link=f"https://example.org/{n}",
        published_at=None,
        fetched_at=T0 + timedelta(hours=n),
    )


ITEMS = [
    item(1, "Shikotan fishing quota agreed"),
    item(2, "Iturup airport reopens", "Kuril news"),
    item(3, "Kuril Islands military drills", "near Iturup"),
    item(4, "Kunashir ferry", story=1),  # joins story 1
    item(5, "Weather in Tokyo"),
    item(6, "Kuril fishing quota", "Shikotan fishermen"),
]


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        # a term added: the stories with it are gained, their matched term is named
        (
            {"k": "Kuril*"},
            {"k": "Kuril* OR Shikotan"},
            [("k", "changed", [(1, ("shikotan",))], [], 3)],
        ),
        # an exclusion added: the stories it removes are lost, the exclusion named
        (
            {"k": "Kuril* OR Iturup"},
            {"k": "(Kuril* OR Iturup) -military"},
            [("k", "changed", [], [(3, ("-military",))], 2)],
        ),
        # a phrase exclusion
        (
            {"k": "Kuril*"},
            {"k": 'Kuril* NOT "fishing quota"'},
            [("k", "changed", [], [(6, ('-"fishing quota"',))], 2)],
        ),
        # a term dropped: the story that only had it is lost, the term named
        (
            {"k": "Kuril* OR Kunashir"},
            {"k": "Kuril*"},
            [("k", "changed", [], [(1, ("kunashir",))], 3)],
        ),
        # a term required: the lost story lacks it
        (
            {"k": "Kuril*"},
            {"k": "Kuril* AND Iturup"},
            [("k", "changed", [], [(6, ("needs iturup",))], 2)],
        ),
        # a part required: named whole, not each term of it the item lacks
        (
            {"k": "Iturup OR Shikotan"},
            {"k": "(Iturup OR Shikotan) Kuril*"},
            [("k", "changed", [], [(1, ("needs kuril*",))], 3)],
        ),
        # a condition required: the phrase the new query still has is not the reason
        (
            {"k": '"fishing quota" OR Iturup'},
            {"k": '"fishing quota" lang:en'},
            [
                (
                    "k",
                    "changed",
                    [],
                    [
                        (6, ("needs lang:en",)),
                        (3, ("iturup",)),
                        (2, ("iturup",)),
                        (1, ("needs lang:en",)),
                    ],
                    0,
                )
            ],
        ),
        # same query: nothing to report
        ({"k": "Kuril*"}, {"k": "Kuril*"}, []),
        # added and removed topics
        (
            {"gone": "Tokyo"},
            {"new": "Tokyo"},
            [
                ("gone", "removed", [], [(5, ("topic removed",))], 0),
                ("new", "added", [(5, ("tokyo",))], [], 0),
            ],
        ),
    ],
)
def test_gained_and_lost_per_topic(
    old: dict[str, str], new: dict[str, str], expected: list[tuple[object, ...]]
) -> None:
    diffs = backtest(ITEMS, old, new)
    got = [
        (
            d.topic_id,
            d.status,
            [(c.story_id, c.terms) for c in d.gained],
            [(c.story_id, c.terms) for c in d.lost],
            d.unchanged,
        )
        for d in diffs
    ]
    assert got == expected


def test_a_story_is_gained_once_whichever_item_matches() -> None:
    (diff,) = backtest(ITEMS, {"k": "Iturup"}, {"k": "Iturup OR Kunashir OR Shikotan"})
    assert [c.story_id for c in diff.gained] == [6, 1]  # newest first; story 1 counted once
    assert diff.gained[1].item.id == 1  # shown by its first matching item


def test_changed_topics_keeps_config_order() -> None:
    assert changed_topics({"a": "x", "b": "y", "c": "z"}, {"c": "w", "a": "x", "d": "v"}) == [
        "b",
        "c",
        "d",
    ]


def test_preview_counts_stories_newest_first() -> None:
    count, latest = preview(ITEMS, "Shikotan OR Kunashir")
    assert count == 2
    assert [i.id for i in latest] == [6, 4]
    assert preview(ITEMS, "Shikotab") == (0, [])


WORDS = st.sampled_from(
    [
        "former",
        "Islanders",
        "atlasov",
        "island",
        "Kuril",
        "KURILS",
        "Kúril",
        "kurilsk",
        "Шикотан",
        "шикотане",
        "ёлка",
        "北方四島",
        "北方4島",
        "drills",
        "fishing",
        "quota",
        "peace",
        "treaty",
        "the",
        "Iturup-based",
        "x",
    ]
)
QUERIES = [
    "Kuril* OR Shikotan",
    "kurilsk -drills",
    '"fishing quota" AND Kuril*',
    "шикотан OR 北方四島",
    "title:peace NEAR/2 treaty",
    "ёлка OR Iturup",
    '"former islanders" OR ("atlasov island" -drills)',
    '("peace treaty" OR quota) AND (Kuril* OR 北方四島) AND (the OR x)',
    '(fishing -drills) AND (quota OR Shikotan NEAR/3 "fishing quota")',
]


@given(st.lists(WORDS, max_size=8), st.lists(WORDS, max_size=12))
@settings(max_examples=300, deadline=None)
def test_the_prefilter_never_drops_an_item_a_query_matches(
    title: list[str], summary: list[str]
) -> None:
    one = item(1, " ".join(title), " ".join(summary))
    trees = [parse(q) for q in QUERIES]
    matcher = Matcher({str(n): tree for n, tree in enumerate(trees)})
    if matcher.match({"title": one.title, "summary": one.summary}):
        assert _Prefilter(trees)(one)


@given(
    st.lists(
        st.tuples(st.lists(WORDS, max_size=6), st.lists(WORDS, max_size=8), st.integers(1, 4)),
        max_size=12,
    ),
    st.sampled_from(QUERIES),
    st.sampled_from(QUERIES),
)
@settings(max_examples=150, deadline=None)
def test_backtest_agrees_with_matching_each_item_plainly(
    rows: list[tuple[list[str], list[str], int]], old: str, new: str
) -> None:
    items = [item(n, " ".join(t), " ".join(s), story=k) for n, (t, s, k) in enumerate(rows, 1)]

    def stories(query: str) -> set[int]:
        matcher = Matcher({"t": parse(query)})
        return {
            i.story_id for i in items if matcher.match({"title": i.title, "summary": i.summary})
        }

    diffs = backtest(items, {"t": old}, {"t": new})
    if old == new:
        assert diffs == []
        return
    [diff] = diffs
    before, after = stories(old), stories(new)
    assert {c.story_id for c in diff.gained} == after - before
    assert {c.story_id for c in diff.lost} == before - after
    assert diff.unchanged == len(before & after)


def test_a_changed_story_is_dated_in_the_configured_time_zone() -> None:
    from zoneinfo import ZoneInfo

    from bot.operator.backtest import _line
    from watchers.backtest import StoryChange

    late = PastItem(
        id=1, story_id=1, feed_id="f", outlet="NHK", title="Shikotan ferry", summary="",
        link=None, published_at=datetime(2026, 11, 29, 20, 0, tzinfo=UTC),
        fetched_at=datetime(2026, 11, 29, 20, 5, tzinfo=UTC),
    )  # fmt: skip
    change = StoryChange(1, late, ("shikotan",))
    assert " 2026-11-30 NHK: Shikotan ferry" in _line("+", change, ZoneInfo("Asia/Tokyo"))
    assert " 2026-11-29 NHK: Shikotan ferry" in _line("+", change, ZoneInfo("Europe/Moscow"))
