"""The daemon's notices to the admins: each is queued in the store whatever the store does at
that instant (here, another connection locks it just as the notice is written)."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.config import load_config
from bot.daemon import Daemon
from bot.daemon.notices import AdminNotices
from bot.i18n import EN, Texts
from store import AsyncStore, Store
from tests.conftest import TOKEN, short_busy_timeout, write_config
from tests.fakes.feed_server import FeedServer, Route
from watchers.fetch import Fetcher
from watchers.poll import Poller
from watchers.topics.compile import compile_topics

WAIT = 20.0  # bounds each wait for an event


class LockOnWrite:
    """Another connection takes the store's write lock just before the store's own
    connection runs its first statement that `starts` with the text given, and holds it until
    `release()`: the store meets a lock at that very instant (sqlite3's trace callback, called
    on the store thread before each statement)."""

    def __init__(self, path: Path, starts: str) -> None:
        self.other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.starts = starts
        self.locked = asyncio.Event()
        self._loop = asyncio.get_running_loop()

    def trace(self, statement: str) -> None:
        if statement.lstrip().startswith(self.starts) and not self.other.in_transaction:
            self.other.execute("BEGIN IMMEDIATE")
            self._loop.call_soon_threadsafe(self.locked.set)

    def install(self) -> Callable[[Store], None]:
        def on(store: Store) -> None:
            store.db.conn.set_trace_callback(self.trace)

        return on

    def release(self) -> None:
        self.other.execute("ROLLBACK")
        self.other.close()


async def test_a_feed_disabled_while_the_store_is_locked_still_tells_the_admins(
    tmp_path: Path, feed_server: FeedServer, caplog: pytest.LogCaptureFixture
) -> None:
    """The notice was written once, just after the poll saved the feed disabled; a store
    locked in that instant (a backup, `kurilwatch prune`) lost it, and the feed was never
    polled again to say it once more. Now it is written again until the store takes it."""
    feed_server.set_route("/gone.xml", Route(status=410))
    config = write_config(tmp_path, {"gone": feed_server.url("/gone.xml")})
    settings = load_config(config)
    store = await AsyncStore(settings.store.path).open()
    await store.run(short_busy_timeout)
    fetcher = Fetcher()
    poller = Poller(
        store=store, fetcher=fetcher, topics=compile_topics(settings.topics), settings=settings.poll
    )
    daemon = Daemon(settings, TOKEN, config_path=config)
    daemon._store = store
    lock = LockOnWrite(settings.store.path, "INSERT INTO notices")
    await store.run(lock.install())
    try:
        [feed] = settings.feeds
        polling = asyncio.create_task(daemon._poll(poller, feed, "gone"))
        await asyncio.wait_for(lock.locked.wait(), WAIT)
        state = await store.run(Store.feed_state, "gone")
        assert state is not None and state.disabled_reason  # saved before the lock
    finally:
        lock.release()
    try:
        await asyncio.wait_for(polling, WAIT)
        retrying = set(daemon._notices)
        assert len(retrying) == 1  # the first write met the lock
        await asyncio.wait(retrying, timeout=WAIT)
        [notice] = await store.run(Store.notices)
        assert "feed {feed} ({url}) was disabled" in notice["msgid"]
        assert "gone for good (HTTP 410)" in notice["text"]
        assert "admins' notice not queued yet" in caplog.text
    finally:
        daemon.stop()
        await daemon._finish_notices()
        await poller.aclose()
        await fetcher.aclose()
        await store.close()


async def test_the_admins_hear_the_warnings_a_reload_brings_however_it_came(
    tmp_path: Path,
) -> None:
    """A config edit's warnings (`watchers/config_checks.py`) reached only the log, and the
    reply of /reload: an edit saved to the file, or SIGHUP, told the admins nothing. Now a
    reload tells them, in their language, the warnings the running config did not have."""
    from bot.i18n import loaded, texts

    feeds = {"a": "http://127.0.0.1:9/a.xml"}
    config = write_config(tmp_path, feeds, admins=(9009,))
    settings = load_config(config)
    store = await AsyncStore(settings.store.path).open()
    daemon = Daemon(settings, TOKEN, config_path=config, config_settle=0)
    daemon._store = store
    try:
        edited = yaml.safe_load(config.read_text())
        edited["feeds"].append({"id": "b", "url": "http://127.0.0.1:9/a.xml"})  # a again
        config.write_text(yaml.safe_dump(edited, allow_unicode=True))
        await daemon.reload()  # as the config watch and SIGHUP do
        [notice] = await store.run(Store.notices)
        values = loaded(json.loads(notice["vals"]))
        assert re.search(r"feeds\[1\]\.url: the same URL as feeds\[0\] \(a\)", notice["text"])
        assert EN.said(notice["msgid"], values) == notice["text"]
        russian = texts("ru").said(notice["msgid"], values)
        assert russian != notice["text"] and "feeds[1].url: " in russian
        edited["feeds"][1]["id"] = "b2"  # an edit that keeps the warning
        config.write_text(yaml.safe_dump(edited, allow_unicode=True))
        assert (await daemon.reload()).startswith("Reloaded: feeds")
        assert len(await store.run(Store.notices)) == 1  # said once
    finally:
        await store.close()


def test_the_warnings_notice_names_a_bounded_number_of_warnings() -> None:
    """The warnings past the first NOTICE_WARNINGS are counted, in the admin's language (the
    count's line was English, "(+7; `kurilwatch check` lists them)", in any)."""
    from bot.config.errors import PlacedWarning
    from bot.i18n import texts
    from bot.reload import NOTICE_WARNINGS, warnings_notice

    tails = {
        0: ([], []),
        1: (
            ["(+1 more warning: `kurilwatch check` lists every one)"],
            ["(и ещё 1 предупреждение: все их перечислит `kurilwatch check`)"],
        ),
        7: (
            ["(+7 more warnings: `kurilwatch check` lists every one)"],
            ["(и ещё 7 предупреждений: все их перечислит `kurilwatch check`)"],
        ),
    }
    for more, (en_tail, ru_tail) in tails.items():
        for count in (NOTICE_WARNINGS + more,) + ((1,) if not more else ()):
            placed = [
                PlacedWarning(f"config.yaml line {n}", f"topics.t{n}.query", "why", {})
                for n in range(count)
            ]
            warned = [w.text for w in placed]
            assert warned[:1] in ([], ["config.yaml line 0: topics.t0.query: why"])
            message, values = warnings_notice(placed)
            en = EN.said(message, values).splitlines()
            ru = texts("ru").said(message, values).splitlines()
            assert en[1:] == warned[:NOTICE_WARNINGS] + en_tail
            assert ru[1:] == warned[:NOTICE_WARNINGS] + ru_tail
            assert ru[0].startswith("kurilwatch: конфигурация применена"), ru[0]
            ja = texts("ja").said(message, values).splitlines()
            assert ja[NOTICE_WARNINGS + 1 :] == (
                [f"（ほか{more}件は `kurilwatch check` で一覧できます）"] if more else []
            )


async def _reload_edited(
    tmp_path: Path, edit: Callable[[dict[str, Any]], None], tr: Texts = EN
) -> tuple[Path, Any, Any, str]:
    """A reload of the config after `edit`: the config, the admins' notice it queued, that
    notice as due to an admin reading Russian, and the reload's answer in `tr`'s language."""
    from datetime import UTC, datetime

    config = write_config(tmp_path, {"a": "http://127.0.0.1:9/a.xml"}, admins=(9009,))
    settings = load_config(config)
    store = await AsyncStore(settings.store.path).open()
    daemon = Daemon(settings, TOKEN, config_path=config, config_settle=0)
    daemon._store = store
    try:
        edited = yaml.safe_load(config.read_text())
        edit(edited)
        config.write_text(yaml.safe_dump(edited, allow_unicode=True))
        reply = await daemon.reload(tr)
        [row] = await store.run(Store.notices)
        now = datetime.now(UTC)
        await store.run(Store.upsert_subscriber, 9009, now=now, language_code="ru")
        assert await store.run(Store.fan_out_notices, (9009,)) == 1
        [notice] = await store.run(Store.due_notices, now)
    finally:
        await store.close()
    return config, row, notice, reply


def _copies(count: int) -> Callable[[dict[str, Any]], None]:
    """An edit adding `count` feeds, each with feeds[0]'s URL (a warning each)."""

    def edit(settings: dict[str, Any]) -> None:
        for n in range(count):
            settings["feeds"].append({"id": f"b{n}", "url": "http://127.0.0.1:9/a.xml"})

    return edit


async def test_a_russian_admin_reads_the_whole_warnings_notice_in_russian(
    tmp_path: Path,
) -> None:
    """A reload bringing more warnings than the notice names, queued by the daemon and sent
    to an admin whose language is Russian: every word is Russian but the warnings' file, line
    number and key path, and the feed ids they name (the whys were English, as `check` prints
    them; the place "line 5" too)."""
    from bot.delivery.render import notice_text
    from bot.reload import NOTICE_WARNINGS

    config, row, notice, _ = await _reload_edited(tmp_path, _copies(NOTICE_WARNINGS + 2))
    assert row["text"].endswith("(+2 more warnings: `kurilwatch check` lists every one)")
    lines = notice_text(notice).splitlines()
    warned = lines[1 : NOTICE_WARNINGS + 1]
    whys = []
    for n, line in enumerate(warned, 1):  # the file, number and key as written; all else Russian
        place = re.match(rf"{re.escape(str(config))}, строка \d+: feeds\[{n}\]\.url: ", line)
        assert place and "feeds[0] (a)" in line, line
        whys.append(line[place.end() :].replace("feeds[0] (a)", ""))
    ours = "\n".join(lines[:1] + whys + lines[NOTICE_WARNINGS + 1 :])
    assert ours.endswith("(и ещё 2 предупреждения: все их перечислит `kurilwatch check`)"), ours
    assert set(re.findall(r"[A-Za-z]{3,}", ours)) == {"kurilwatch", "check"}, ours


async def test_the_notice_counts_every_warning_past_those_it_names(tmp_path: Path) -> None:
    """Past the 100 warnings a config's list names, the line "N more like these" was counted
    as one warning more: 150 new warnings read "+91 more" where 140 were left."""
    from bot.config import MAX_WARNINGS
    from bot.delivery.render import notice_text
    from bot.reload import NOTICE_WARNINGS

    _, row, notice, _ = await _reload_edited(tmp_path, _copies(MAX_WARNINGS + 50))
    left = MAX_WARNINGS + 50 - NOTICE_WARNINGS
    assert row["text"].endswith(f"(+{left} more warnings: `kurilwatch check` lists every one)")
    assert notice_text(notice).endswith(
        f"(и ещё {left} предупреждений: все их перечислит `kurilwatch check`)"
    )


async def test_a_russian_admin_reads_why_each_warning_is_likely_not_meant_in_russian(
    tmp_path: Path,
) -> None:
    """A reload's warnings were said in English inside the admins' Russian notice and the
    Russian answer of /reload. Now each warning's why is Russian there; its file, line and key
    path, and the operator's own words (a feed id, a query's words), stay as written; and in
    English it reads as `kurilwatch check` prints it, byte for byte."""
    from bot.config import config_warnings_of
    from bot.delivery.render import notice_text
    from bot.i18n import texts

    def edit(settings: dict[str, Any]) -> None:
        settings["poll"]["interval"] = "5ms"
        settings["feeds"].append({"id": "b", "url": "http://127.0.0.1:9/a.xml"})  # a again
        settings["topics"]["t"] = {"title": "T", "query": "shikotan or kunashir"}

    config, row, notice, reply = await _reload_edited(tmp_path, edit, texts("ru"))
    english = row["text"].splitlines()[1:]
    assert english == config_warnings_of(load_config(config), config)  # as `check` says them
    russian = notice_text(notice).splitlines()[1:]
    assert len(russian) == len(english) == 3, russian
    for en, ru in zip(english, russian, strict=True):
        place = re.match(rf"{re.escape(str(config))} line (\d+)(, column \d+)?: ([\w.\[\]]+): ", en)
        assert place, en
        # the place in Russian, its file, numbers and key path as written
        said = f"{config}, строка {place[1]}" + (place[2] or "").replace(", column", ", столбец")
        assert ru.startswith(f"{said}: {place[3]}: "), (en, ru)
        why = ru.removeprefix(f"{said}: {place[3]}: ")
        assert why != en[place.end() :] and re.search("[а-я]{4}", why), ru
        assert ru in reply, reply  # /reload's answer says them alike
    interval, url, query = russian
    assert "poll.interval: 5 " in interval, interval
    assert "feeds[1].url: " in url and "feeds[0] (a)" in url, url
    assert "topics.t.query: «or»: " in query, query  # the operator's words in Russian marks
    assert reply.startswith(texts("ru")._("Reloaded: {summary}", summary="")), reply


async def test_the_query_words_a_warning_names_are_quoted_and_listed_as_the_admin_s_language_does(
    tmp_path: Path,
) -> None:
    """A Russian admin read "topics.t.query: 'or', 'и': читается как слова…" and a Japanese
    one "'or', 'и': ニュースに…": Python's quotes and an English list, where a refused
    config's words read «soon» and 「soon」. `check` and the log keep their English."""
    from bot.delivery.render import notice_text
    from bot.i18n import loaded, texts

    def edit(settings: dict[str, Any]) -> None:
        settings["topics"]["t"] = {"title": "T", "query": "shikotan or kunashir и iturup"}
        settings["topics"]["w"] = {"title": "W", "query": "the"}

    _, row, notice, _ = await _reload_edited(tmp_path, edit)
    english = row["text"].splitlines()[1:]
    assert english[0].endswith(
        "topics.t.query: 'or', 'и': read as words an item must contain; the operators are"
        " written AND, OR, NOT, in capitals"
    ), english
    assert "topics.w.query: 'the' alone makes an item match" in english[1], english
    russian = notice_text(notice).splitlines()[1:]
    assert "topics.t.query: «or», «и»: читается как слова" in russian[0], russian
    assert "topics.w.query: «the»: для совпадения" in russian[1], russian
    japanese = texts("ja").said(row["msgid"], loaded(json.loads(row["vals"]))).splitlines()[1:]
    assert "topics.t.query: 「or」、「и」: ニュースに含まれるべき語" in japanese[0], japanese
    assert "topics.w.query: 「the」だけで一致してしまいます" in japanese[1], japanese


async def test_a_bad_edit_while_the_store_is_locked_is_named_and_the_admins_told_later(
    tmp_path: Path,
) -> None:
    """The admins' 'config not reloaded' notice met a store locked by another writer: /reload
    answered 'database is locked' instead of what is wrong in the file, and the admins heard
    neither. Now /reload names the file's problem and the notice is written once it can be."""
    config = write_config(tmp_path, {"a": "http://127.0.0.1:9/a.xml"}, admins=(9009,))
    settings = load_config(config)
    store = await AsyncStore(settings.store.path).open()
    await store.run(short_busy_timeout)
    daemon = Daemon(settings, TOKEN, config_path=config, config_settle=0)
    daemon._store = store
    lock = LockOnWrite(settings.store.path, "INSERT INTO notices")
    await store.run(lock.install())
    try:
        edited = yaml.safe_load(config.read_text())
        edited["poll"]["interval"] = "soon"
        config.write_text(yaml.safe_dump(edited, allow_unicode=True))
        said = await daemon.reload()
        assert lock.locked.is_set()
    finally:
        lock.release()
    try:
        assert said.startswith("Not reloaded; the running config stays. "), said
        assert "poll.interval: 'soon' is not a duration" in said and "locked" not in said
        await asyncio.wait(set(daemon._notices), timeout=WAIT)
        [notice] = await store.run(Store.notices)
        assert notice["msgid"].startswith("kurilwatch: config not reloaded (")
        assert "poll.interval" in notice["text"]
    finally:
        daemon.stop()
        await daemon._finish_notices()
        await store.close()


class _Notices(AdminNotices):
    """The daemon's notices over a store that fails every write (`hang`: one that never
    answers, as one held past the busy timeout's wait)."""

    def __init__(self, *, hang: bool = False) -> None:
        self.token, self._store, self._stop, self._notices = TOKEN, None, asyncio.Event(), {}
        self.hang, self.tries, self.trying = hang, 0, asyncio.Event()
        self.busy_timeout = asyncio.Event()  # set: the hanging write fails

    def _wake_delivery(self) -> None:
        pass

    async def _tell_admins(self, message: str, values: dict[str, str], **_: object) -> None:
        self.tries += 1
        self.trying.set()
        if self.hang:
            await self.busy_timeout.wait()
        raise sqlite3.OperationalError("database is locked")


async def test_a_notice_queued_behind_another_backs_off_when_the_store_still_fails() -> None:
    """The one before it done, a notice is tried at once; failing, it waited 0 s doubled, that
    is, it was tried again at every turn of the event loop for as long as the store failed."""
    notices = _Notices()
    before: asyncio.Task[None] = asyncio.create_task(asyncio.sleep(0))
    await before
    retelling = asyncio.create_task(notices._retell("lost {x}", {"x": "1"}, before))
    for _ in range(50):  # turns of the event loop, not time
        await asyncio.sleep(0)
    assert notices.tries == 1
    notices._stop.set()
    await asyncio.wait_for(retelling, WAIT)


async def test_a_notice_whose_write_a_stop_cut_short_is_logged_whole(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """At a stop the notices still written again get a grace, then are cancelled: one whose
    write was waiting on the store then was lost without a word. Its write's outcome is
    awaited a while, and said when it comes."""
    for outcome_wait in (WAIT, 0.0):
        caplog.clear()
        notices = _Notices(hang=True)
        notices.notice_outcome_wait = outcome_wait
        done: asyncio.Task[None] = asyncio.create_task(asyncio.sleep(0))
        await done
        retell = notices._retell("feed {f} gone", {"f": "tass"}, done)
        notices._notices[asyncio.create_task(retell)] = None
        await asyncio.wait_for(notices.trying.wait(), WAIT)
        [task] = notices._notices
        task.cancel()
        if outcome_wait:
            notices.busy_timeout.set()  # the write in flight fails meanwhile
        await asyncio.wait({task}, timeout=WAIT)
        assert task.done()
        if not outcome_wait:  # still in flight: said so, and its outcome said when it comes
            assert "admins' notice not queued yet, its write still waits" in caplog.text
            assert "never queued" not in caplog.text
            notices.busy_timeout.set()
            for _ in range(5):  # turns of the event loop, not time
                await asyncio.sleep(0)
        assert "admins' notice never queued: feed tass gone" in caplog.text


async def test_a_notice_behind_one_a_stop_ended_ends_without_a_new_write(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The one before it ended by a stop, a notice behind it began a write to the store
    anyway: at a stop each of the notices waiting in turn held the store thread (up to its
    busy timeout) while the daemon stopped. Now it ends at once, logged whole."""
    notices = _Notices()
    before: asyncio.Task[None] = asyncio.create_task(asyncio.sleep(0))
    await before
    notices._stop.set()
    await asyncio.wait_for(notices._retell("feed {f} gone", {"f": "tass"}, before), WAIT)
    assert notices.tries == 0
    assert "admins' notice never queued: feed tass gone" in caplog.text


async def test_a_notice_whose_write_lands_after_the_stop_cut_it_short_is_logged_queued(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A stop cancelled a notice whose write was on the store thread, waiting on a lock; the
    log said "never queued", and the write, carried on by the store thread, then landed. Now
    the cancelled notice awaits its write's outcome (bounded) and says what became of it."""
    caplog.set_level(logging.INFO, "bot.daemon")
    config = write_config(tmp_path, {"a": "http://127.0.0.1:9/a.xml"})
    settings = load_config(config)
    store = await AsyncStore(settings.store.path).open()
    daemon = Daemon(settings, TOKEN, config_path=config)
    daemon._store = store
    daemon.notice_outcome_wait = WAIT
    lock = LockOnWrite(settings.store.path, "INSERT INTO notices")
    await store.run(lock.install())
    done: asyncio.Task[None] = asyncio.create_task(asyncio.sleep(0))
    await done
    try:
        task = asyncio.create_task(daemon._retell("feed {f} gone", {"f": "tass"}, done))
        await asyncio.wait_for(lock.locked.wait(), WAIT)  # the write waits on the store thread
        task.cancel()  # the stop's grace is over
    finally:
        lock.release()
    try:
        await asyncio.wait({task}, timeout=WAIT)
        assert task.done()
        [notice] = await store.run(Store.notices)
        assert notice["text"] == "feed tass gone"
        assert "never queued" not in caplog.text, caplog.text
        assert "admins' notice queued as the daemon stopped: feed tass gone" in caplog.text
    finally:
        await store.close()


async def read_by(store: AsyncStore, admins: dict[int, str]) -> dict[str, list[str]]:
    """The admins' notices queued so far, as each admin (id → language) reads them."""
    from datetime import UTC, datetime

    from bot.delivery.render import notice_text

    now = datetime.now(UTC)
    for admin, lang in admins.items():
        await store.run(Store.upsert_subscriber, admin, now=now, language_code=lang)
    await store.run(Store.fan_out_notices, tuple(admins))
    read: dict[str, list[str]] = {lang: [] for lang in admins.values()}
    for notice in await store.run(Store.due_notices, now, 100):
        read[admins[notice.chat_id]].append(notice_text(notice))
    return read


async def test_the_feeds_and_topics_a_reload_removed_are_listed_as_each_admin_s_language_does(
    tmp_path: Path,
) -> None:
    """The notices of the chats' watches that need a feed a reload removed, and of the chats
    subscribed to a topic it removed, listed them with an English ", " in every language
    ("tass-ru (2), kyodo (1)"); Japanese lists with "、". The counts are the reader's numbers."""
    from datetime import UTC, datetime

    from bot.telegram.context import BotContext

    feeds = {f: f"http://127.0.0.1:9/{f}.xml" for f in ("tass-ru", "kyodo", "tass-en")}
    config = write_config(tmp_path, feeds, admins=(9009, 9010))
    settings = load_config(config)
    store = await AsyncStore(settings.store.path).open()
    daemon = Daemon(settings, TOKEN, config_path=config, config_settle=0)
    daemon._store, daemon._ctx = store, BotContext(store=store, topics=())
    fetcher = Fetcher()
    topics = compile_topics(settings.topics)
    daemon._poller = Poller(store=store, fetcher=fetcher, topics=topics, settings=settings.poll)
    now = datetime.now(UTC)
    watches = {1: ["Shikotan source:tass-ru", "Iturup source:kyodo"], 2: ["source:tass-ru Habomai"]}
    try:
        for chat, queries in watches.items():
            await store.run(Store.upsert_subscriber, chat, now=now)
            await store.run(Store.subscribe_to, chat, ["kuril", "peace-treaty"], now=now)
            for query in queries:
                await store.run(Store.add_watch, chat, query, now=now, limit=5)
        edited = yaml.safe_load(config.read_text())
        edited["feeds"] = [f for f in edited["feeds"] if f["id"] == "tass-en"]
        edited["topics"] = {"islands": edited["topics"]["kuril"]}  # both topics renamed
        config.write_text(yaml.safe_dump(edited, allow_unicode=True))
        await daemon.reload()
        read = await read_by(store, {9009: "ru", 9010: "ja"})
    finally:
        await fetcher.aclose()
        await store.close()
    [stranded_ru] = [n for n in read["ru"] if "source:" in n]
    [stranded_ja] = [n for n in read["ja"] if "source:" in n]
    assert "запросов): kyodo (1), tass-ru (2). " in stranded_ru, stranded_ru
    assert "キーワード数）: kyodo（1）、tass-ru（2）。" in stranded_ja, stranded_ja
    [orphans_ru] = [n for n in read["ru"] if "подписаны" in n]
    [orphans_ja] = [n for n in read["ja"] if "購読" in n]
    assert "(чатов): kuril (2), peace-treaty (2). " in orphans_ru, orphans_ru
    assert "kuril（2）、peace-treaty（2）" in orphans_ja, orphans_ja
