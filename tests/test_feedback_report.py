"""Issue 20's relevance report over issue 19's "Not relevant" button: a press stored through the
bot appears in `kurilwatch feedback` and admin /feedback with the terms that matched its item
and a suggested exclusion; a watch's press is explained by the watch's query."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from telegram import Bot as PTBBot

from bot.config import Config
from bot.daemon import build_application
from bot.delivery.limits import DeliverySettings
from bot.delivery.worker import DeliveryWorker
from bot.operator.feedback import report_lines, report_of, run_feedback
from bot.telegram.chat import BotContext, install
from store import AsyncStore, Store
from tests.conftest import TOKEN, Clock, connections, new_store, running, shipped_topics
from tests.fakes.telegram_api import FakeBotAPI
from tests.test_subscriber_controls import (
    ALICE,
    BORIS,
    FEEDS,
    NO_LIMITS,
    T0,
    Harness,
    buttons,
    message_id,
)
from watchers.topics.compile import compile_topics

ADMIN = 777


@pytest.fixture
async def h(tmp_path: Path, bot_api: FakeBotAPI) -> AsyncIterator[Harness]:
    settings = Config.model_validate(
        {"topics": shipped_topics(), "telegram": {"api_base_url": bot_api.base_url}}
    )
    store = await AsyncStore(new_store(tmp_path / "kw.db")).open()
    clock = Clock(T0)
    app = build_application(settings, TOKEN)
    ctx = BotContext(
        store=store,
        topics=compile_topics(settings.topics).topics,
        clock=clock,
        feeds=FEEDS,
        admins=frozenset({ADMIN}),
        queries={tid: t.query for tid, t in settings.topics.items()},
    )
    install(app, ctx)
    async with PTBBot(TOKEN, base_url=bot_api.base_url, **connections()) as bot, running(app):
        worker = DeliveryWorker(
            store,
            bot,
            settings=DeliverySettings(limits=NO_LIMITS),
            clock=clock,
        )
        yield Harness(store, bot_api, clock, worker)
    await store.close()


async def not_relevant(h: Harness, chat_id: int, title: str) -> None:
    alert = next(a for a in h.alerts(chat_id) if title in a["text"])
    data = dict(buttons(alert))["👎 Not relevant"]
    assert await h.press(chat_id, message_id(h.api, chat_id, title), data) == "Noted, thank you."


async def test_a_not_relevant_press_appears_in_the_report_with_its_terms_and_an_exclusion(
    h: Harness, tmp_path: Path
) -> None:
    await h.say("/subscribe kuril", ALICE)
    await h.say("/subscribe kuril", BORIS)
    await h.report("tass-en", "Matua wine festival opens", lang="en", url="https://n.example/w")
    await h.report("tass-en", "Matua cricket club wins", lang="en", url="https://n.example/c")
    await h.report("tass-en", "Kuril fishing season opens", lang="en", url="https://n.example/f")
    await h.deliver()
    await not_relevant(h, ALICE, "Matua wine festival")
    await not_relevant(h, BORIS, "Matua wine festival")
    await not_relevant(h, ALICE, "Matua cricket club")

    rows = await h.store.run(Store.feedback_rows, T0)
    assert [(r.chat_id, r.topic, r.title) for r in rows] == [
        (ALICE, "kuril", "Matua wine festival opens"),
        (BORIS, "kuril", "Matua wine festival opens"),
        (ALICE, "kuril", "Matua cricket club wins"),
    ]
    queries = {tid: t["query"] for tid, t in shipped_topics().items()}
    [report] = report_of(rows, queries)
    assert (report.topic_id, report.terms[0], report.suggestion) == (
        "kuril",
        ("matua", 2),
        "-matua",
    )
    assert [(f.title, f.chats, f.terms) for f in report.items] == [
        ("Matua wine festival opens", 2, ("matua",)),
        ("Matua cricket club wins", 1, ("matua",)),
    ]
    lines = report_lines([report])
    assert lines[0] == "kuril: 2 items marked not relevant"
    assert "add -matua to the query" in lines[2]

    # the admin's /feedback says the same, in the admin's language; others may not ask
    english = await h.say("/feedback", ADMIN)
    assert "kuril: 2 items marked not relevant" in english and "-matua" in english
    russian = await h.say("/feedback 7d", ADMIN, language_code="ru")
    assert "kuril: 2 записи отмечены «Не по теме»" in russian
    assert "совет: добавьте -matua в запрос" in russian
    assert "only the bot's admins" in await h.say("/feedback", ALICE)
    h.clock.now += timedelta(days=2)
    assert "No 'Not relevant' press" in await h.say("/feedback 1d", ADMIN)

    # kurilwatch feedback reads the same store file (another connection, as the CLI's)
    out = io.StringIO()
    assert run_feedback(tmp_path / "kw.db", queries, days=36500, out=out) == 0
    assert out.getvalue().splitlines()[:3] == lines[:3]


async def test_a_watch_press_is_explained_by_the_watch_query(h: Harness) -> None:
    await h.say("/watch wine lang:en", ALICE)
    await h.report(
        "tass-en", "Sakhalin wine harvest", lang="en", url="https://n.example/s", topics=()
    )
    rows = await h.store.run(Store.feedback_rows, T0)
    assert rows == []
    [(item_id,)] = await h.store.run(lambda s: s.db.execute("SELECT id FROM items").fetchall())
    [watch] = await h.store.run(Store.watches, ALICE)
    await h.store.run(Store.add_feedback, ALICE, item_id, watch.topic_id, now=h.clock.now)
    rows = await h.store.run(Store.feedback_rows, T0)
    assert [(r.topic, r.watch_query, r.lang) for r in rows] == [
        (watch.topic_id, "wine lang:en", "en")
    ]
    [report] = report_of(rows, {})
    assert (report.topic_id, report.items[0].terms) == (watch.topic_id, ("wine", "lang:en"))
