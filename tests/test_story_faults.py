"""The story pipeline under hostile input and faults: long texts, text the model cannot read,
a model that does not load, and what stays bounded over a long run."""

from __future__ import annotations

import json

from tests.conftest import CONFIG, kurilwatch
from watchers.embedding import DIMENSIONS, embed_titles
from watchers.story_places import places


def test_a_long_text_naming_an_island_again_and_again_is_read_in_one_pass() -> None:
    # "Итуруп" holds "уруп" (Urup): each of its hits searched the whole text for Urup again
    text = "Итуруп " * 300_000
    assert places(text) == {"iturup"}
    assert places("Уруп " + text) == {"iturup", "urup"}


def test_a_title_the_engine_cannot_take_as_it_is_gets_its_vector() -> None:
    # a lone surrogate (valid in JSON) cannot be encoded as UTF-8; a NUL ends a C string
    vectors = embed_titles(
        [
            "\ud800 Fog closes Iturup airport",
            "\0Fog closes Iturup airport",
            "Fog closes Iturup airport",
        ]
    )
    assert vectors.shape == (3, DIMENSIONS)
    assert float(vectors[1] @ vectors[2]) > 0.95


def test_stories_places_a_title_with_a_lone_surrogate() -> None:
    line = '{"id": %d, "title": "\\ud800 Fog closes Iturup airport for a day", "published": "%s"}\n'
    stdin = line % (1, "2026-01-01T00:00:00Z") + line % (2, "2026-01-01T01:00:00Z")
    result = kurilwatch("stories", "--config", CONFIG, stdin=stdin)
    assert result.returncode == 0, result.stderr
    assert [json.loads(out) for out in result.stdout.splitlines()] == [
        {"id": 1, "story": 1},
        {"id": 2, "story": 1},
    ]


def test_stories_takes_a_10_mb_title_or_summary_as_the_daemon_keeps_it() -> None:
    first = {
        "id": 1,
        "title": "Russia holds drills on Iturup island near Japan",
        "summary": "The Russian military held drills on Iturup, one of the Kuril islands.",
        "published": "2026-01-01T00:00:00Z",
    }
    words = "Iturup drills Russia Japan Kuril island military " * 200_000
    stdin = "".join(
        json.dumps(report) + "\n"
        for report in (
            first,
            {**first, "id": 2, "title": words},
            {**first, "id": 3, "summary": first["summary"] + " " + words},
        )
    )
    assert len(stdin) > 19_000_000
    result = kurilwatch("stories", "--config", CONFIG, stdin=stdin)
    assert result.returncode == 0, result.stderr
    assert [json.loads(out)["id"] for out in result.stdout.splitlines()] == [1, 2, 3]
