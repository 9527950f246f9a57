"""The relevance report's core: "Not relevant" presses grouped by topic, with suggestions."""

from __future__ import annotations

import pytest

from bot.operator.feedback import report_lines
from watchers.relevance import Complaint, exclusion, relevance_report

QUERIES = {
    "kuril": 'kuril* OR matua OR "northern territories" OR iturup',
    "peace": '"peace treaty" AND (japan OR russia)',
    "solo": "kuril*",
}


def c(item: int, title: str, topic: str | None = "kuril", chat: int = 1) -> Complaint:
    return Complaint(chat_id=chat, item_id=item, topic=topic, title=title, summary="")


@pytest.mark.parametrize(
    ("complaints", "expected"),
    [
        # one term explains 3 of 4: a phrase is excluded with NOT "..."
        (
            [
                c(1, "Northern Territories election in Darwin"),
                c(2, "Northern Territories cattle exports"),
                c(3, "Northern Territories floods"),
                c(4, "Kuril fishing season opens"),
            ],
            [("kuril", [1, 2, 3, 4], '"northern territories"', 'NOT "northern territories"')],
        ),
        # a word: -term; presses by two chats rank the item first
        (
            [
                c(1, "Matua cricket club wins"),
                c(2, "Matua wine festival", chat=1),
                c(2, "Matua wine festival", chat=2),
            ],
            [("kuril", [2, 1], "matua", "-matua")],
        ),
        # no term explains most: no suggestion
        (
            [c(1, "Matua club"), c(2, "Iturup weather"), c(3, "Kuril ferry late")],
            [("kuril", [1, 2, 3], "iturup", None)],  # 1 of 3 each; ties by name
        ),
        # a term every match of the query needs is not suggested ('NOT "peace treaty"' would
        # leave a topic that matches nothing): the next term that explains most is
        (
            [
                c(1, "Peace treaty: Japan and Iran", topic="peace"),
                c(2, "Japan signs peace treaty with Iran", topic="peace"),
            ],
            [("peace", [1, 2], '"peace treaty"', "-japan")],
        ),
        ([c(1, "Kuril ferry"), c(2, "Kuril cafe")], [("kuril", [1, 2], "kuril*", "-kuril*")]),
        (
            [c(1, "Kuril ferry", topic="solo"), c(2, "Kuril cafe", topic="solo")],
            [("solo", [1, 2], "kuril*", None)],
        ),
        # a single item is too few to suggest anything
        ([c(1, "Matua club")], [("kuril", [1], "matua", None)]),
        # no topic recorded: every topic that matches the item; none: the unmatched group
        (
            [
                c(1, "Japan and Russia: peace treaty talks near Iturup", topic=None),
                c(2, "Weather in Paris", topic=None),
            ],
            [
                ("kuril", [1], "iturup", None),
                ("peace", [1], '"peace treaty"', None),
                ("", [2], None, None),
            ],
        ),
        # a recorded topic that no longer matches the item (the query changed since)
        ([c(1, "Weather in Paris")], [("", [1], None, None)]),
    ],
)
def test_grouped_by_topic_with_a_suggested_exclusion(
    complaints: list[Complaint], expected: list[tuple[object, ...]]
) -> None:
    reports = relevance_report(complaints, QUERIES)
    got = [
        (
            r.topic_id,
            [f.item_id for f in r.items],
            r.terms[0][0] if r.terms else None,
            r.suggestion,
        )
        for r in reports
    ]
    assert got == expected


def test_report_lines_name_the_terms_and_the_suggestion() -> None:
    reports = relevance_report(
        [c(1, "Matua wine", chat=1), c(1, "Matua wine", chat=2), c(2, "Matua cricket")], QUERIES
    )
    lines = report_lines(reports)
    assert lines[0] == "kuril: 2 items marked not relevant"
    assert "matua (2)" in lines[1]
    assert "add -matua to the query" in lines[2]
    assert lines[3] == "  - Matua wine [2 chats; matua]"


def test_exclusion_syntax() -> None:
    assert exclusion("matua") == "-matua"
    assert exclusion('"kurile lake"') == 'NOT "kurile lake"'
    assert exclusion("kuril*") == "-kuril*"


@pytest.mark.parametrize(
    "query", ["kuril* lang:en", "kuril* source:tass", "(kuril* lang:en) OR (iturup lang:en)"]
)
def test_a_condition_every_press_matched_is_never_suggested_as_an_exclusion(query: str) -> None:
    """`lang:` and `source:` are named among the matched terms (as explain names them); one
    that every flagged item held was suggested ('add -lang:en'), which makes the topic match
    nothing: a condition says which items, not what is wrong with them."""
    complaints = [
        Complaint(chat, item, "k", f"Kuril news {item}", "", lang="en", feed_id="tass-en")
        for item in (1, 2, 3)
        for chat in (1, 2)
    ]
    [report] = relevance_report(complaints, {"k": query})
    assert report.suggestion is None or not report.suggestion.lstrip("-").startswith(
        ("lang:", "source:")
    ), report.suggestion
