"""Outlets in the store: an outlet's own item and the same outlet's item carried by Google News
are one outlet; "Also:" names every other outlet once; the item keeps its outlet and key."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.delivery.render import render_html
from bot.delivery.worker import to_alert
from bot.i18n import texts
from store import FeedState, ItemRecord, Store
from store.outlets import Member, Shown, Source, same_outlet, shown_report
from tests.conftest import new_store
from watchers.embedding import embed_titles
from watchers.items import make_item
from watchers.stories import THRESHOLD
from watchers.story_resemblance import resemblance
from watchers.story_sketch import sketch

T0 = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
CHAT = 7
ARTICLE = "https://tass.com/politics/2041187"
TITLE = "Russia deploys Bastion missiles on Paramushir"

GNEWS = FeedState(id="gnews-en", url="https://news.google.com/rss/search?q=x", title="Google News")
TASS = FeedState(id="tass-en", url="https://tass.com/rss/v2.xml", title="TASS")
NHK = FeedState(id="nhk", url="https://www3.nhk.or.jp/rss/news/cat0.xml", title="NHK")


def own(guid: str, link: str, key: str, title: str = TITLE) -> ItemRecord:
    return ItemRecord(
        guid=guid,
        link=link,
        canonical_url=link,
        title=title,
        summary="Russia has deployed Bastion coastal missile systems on Paramushir.",
        published_at=T0,
        topics=("kuril",),
        outlet_key=key,
    )


def carried(guid: str, outlet: str, key: str, link: str, story: int | None = None) -> ItemRecord:
    return ItemRecord(
        guid=guid,
        link=link,
        canonical_url=link,
        title=TITLE,
        summary="",
        published_at=T0,
        topics=("kuril",),
        story_hint=story,
        outlet=outlet,
        outlet_key=key,
    )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(new_store(tmp_path / "kw.db"))
    for feed in (GNEWS, TASS, NHK):
        s.ingest(feed, [], now=T0 - timedelta(hours=1), alert=False)
    s.upsert_subscriber(CHAT, now=T0 - timedelta(hours=1))
    s.subscribe(CHAT, "kuril", now=T0 - timedelta(hours=1))
    yield s
    s.close()


def test_same_outlet() -> None:
    tass_own = Source("tass-en", None, "tass.com")
    tass_via_google = Source("gnews-en", "TASS", "tass.com")
    nhk_via_google = Source("gnews-en", "NHK", "www3.nhk.or.jp")
    assert same_outlet(tass_own, tass_via_google) and same_outlet(tass_via_google, tass_own)
    assert not same_outlet(tass_via_google, nhk_via_google)  # one aggregator, two outlets
    # two own feeds are two outlets, even when they carry one site's links
    assert not same_outlet(tass_own, Source("kyodo", None, "tass.com"))
    assert same_outlet(tass_own, Source("tass-en", None, None))
    # items stored before outlets were kept count as their feed's
    assert Source("tass-en", None, None).key == "feed:tass-en"


def test_google_news_first_then_the_outlets_own_item_is_one_story_naming_tass_once(
    store: Store,
) -> None:
    first = store.ingest(GNEWS, [carried("g1", "TASS", "tass.com", ARTICLE)], now=T0, alert=True)
    assert first.queued == 1
    story = first.stored[0].story_id
    again = store.ingest(
        TASS, [own("t1", ARTICLE, "tass.com")], now=T0 + timedelta(minutes=5), alert=True
    )
    assert again.queued == 0 and again.stored[0].story_id == story
    [delivery] = store.due_deliveries(T0 + timedelta(hours=1))
    assert delivery.also == ()
    alert = to_alert(delivery)
    assert (alert.source, alert.via) == ("TASS", "Google News")  # said in the chat's language
    assert "<i>TASS (via Google News) · " in render_html(alert)
    assert "Also" not in render_html(alert)
    # another outlet carried by the same aggregator is another outlet; its own item is not
    store.ingest(
        GNEWS,
        [
            carried(
                "g2",
                "NHKニュース",
                "www3.nhk.or.jp",
                "https://news.google.com/rss/articles/AU",
                story,
            )
        ],
        now=T0 + timedelta(minutes=10),
        alert=True,
    )
    store.ingest(
        NHK,
        [
            replace(
                own("n1", "https://www3.nhk.or.jp/news/1.html", "www3.nhk.or.jp"), story_hint=story
            )
        ],
        now=T0 + timedelta(minutes=15),
        alert=True,
    )
    [delivery] = store.due_deliveries(T0 + timedelta(hours=1))
    assert delivery.also == ("NHKニュース",)  # NHK's own item (its feed: "NHK") adds nothing


def test_the_outlets_own_item_first_then_google_news_adds_no_outlet(store: Store) -> None:
    store.ingest(TASS, [own("t1", ARTICLE, "tass.com")], now=T0, alert=True)
    later = store.ingest(
        GNEWS,
        [carried("g1", "TASS", "tass.com", ARTICLE)],
        now=T0 + timedelta(minutes=5),
        alert=True,
    )
    assert later.queued == 0
    [delivery] = store.due_deliveries(T0 + timedelta(hours=1))
    assert delivery.also == ()
    assert to_alert(delivery).source == "TASS"
    row = store.db.execute("SELECT outlet, outlet_key FROM items WHERE guid = 'g1'").fetchone()
    assert row == ("TASS", "tass.com")


@pytest.mark.parametrize(
    ("headline", "outlet", "own_title", "own_summary"),
    [
        (
            "Russia deploys Bastion missiles on Paramushir in the Kuril Islands",
            "TASS",
            "Russia deploys Bastion missiles on Paramushir in the Kuril Islands",
            "Russia has deployed Bastion coastal missile systems on Paramushir Island in the"
            " northern Kuril chain, the Pacific Fleet said on Thursday.",
        ),
        (
            "Россия разместила комплексы «Бастион» на Парамушире",
            "ТАСС",
            "Россия разместила комплексы «Бастион» на Парамушире",
            "Береговые ракетные комплексы «Бастион» заступили на боевое дежурство на острове"
            " Парамушир Курильской гряды, сообщили в пресс-службе Тихоокеанского флота.",
        ),
        (
            "ロシア軍 千島列島の幌筵島に地対艦ミサイル配備",
            "NHKニュース",
            "ロシア軍、千島列島の幌筵島に地対艦ミサイル配備",
            "ロシア太平洋艦隊は、千島列島北部の幌筵島に地対艦ミサイル「バスチオン」を配備したと発表しました。",
        ),
    ],
)
def test_an_undecodable_google_item_still_joins_the_outlets_report_by_story(
    headline: str, outlet: str, own_title: str, own_summary: str
) -> None:
    """Newer Google tokens cannot be read offline: the headline, without its suffix and with no
    echoed summary, is what clustering compares with the outlet's own report."""
    google = make_item(
        feed_id="gnews",
        guid="AU",
        link="https://news.google.com/rss/articles/CBMingFBVV95cUxQbVozdDRx?oc=5",
        title=f"{headline} - {outlet}",
        summary=f"{headline}  {outlet}",
        published=T0,
        lang=None,
        source_name=outlet,
        source_url="https://tass.com",
        description=f'<a href="x">{headline}</a>&nbsp;&nbsp;<font color="#6f6f6f">{outlet}</font>',
    )
    assert google is not None and google.title == headline and google.summary == ""
    assert google.link is not None and google.link.startswith("https://news.google.com/")
    vectors = embed_titles([google.title, own_title])
    together = resemblance(
        sketch(google.title, google.summary),
        sketch(own_title, own_summary),
        timedelta(hours=1),
        (vectors[0], vectors[1]),
    )
    assert together >= THRESHOLD


def test_a_chat_that_muted_an_outlets_feed_does_not_get_it_through_an_aggregator(
    store: Store,
) -> None:
    other = CHAT + 1
    store.upsert_subscriber(other, now=T0 - timedelta(hours=1))
    store.subscribe(other, "kuril", now=T0 - timedelta(hours=1))
    # TASS's own feed has published before: its outlet is known as tass.com
    store.ingest(
        TASS,
        [own("t0", "https://tass.com/old/1", "tass.com", "Old TASS report on fisheries")],
        now=T0 - timedelta(minutes=30),
        alert=False,
    )
    assert store.toggle_source(CHAT, "tass-en", now=T0) is True
    [filtered] = store.chat_filters([CHAT, other]).values()
    assert filtered.muted == {"tass-en"} and filtered.muted_outlets == {"tass.com"}
    # TASS through Google News: not to the chat that muted TASS, to the other one
    result = store.ingest(GNEWS, [carried("g1", "TASS", "tass.com", ARTICLE)], now=T0, alert=True)
    assert result.queued == 1
    assert [d.chat_id for d in store.due_deliveries(T0 + timedelta(hours=1))] == [other]
    # another outlet through the same aggregator still reaches both
    nhk = carried("g2", "NHK", "www3.nhk.or.jp", "https://www3.nhk.or.jp/news/2.html")
    nhk = replace(nhk, title="Japan protests missile drills near Etorofu", guid="g2")
    assert store.ingest(GNEWS, [nhk], now=T0 + timedelta(minutes=1), alert=True).queued == 2


def test_an_outlet_in_another_language_is_named_with_it(store: Store) -> None:
    """A story joined across languages: the English alert's "Also:" names the Russian and the
    Japanese outlets with their languages; an outlet in the alert's language goes untagged."""
    ru = FeedState(id="tass-ru", url="https://tass.ru/rss/v2.xml", title="ТАСС")
    en2 = FeedState(id="kyodo", url="https://english.kyodonews.net/rss/all.xml", title="Kyodo")
    for feed in (ru, en2):
        store.ingest(feed, [], now=T0 - timedelta(hours=1), alert=False)
    first = store.ingest(
        TASS, [replace(own("t1", ARTICLE, "tass.com"), lang="en")], now=T0, alert=True
    )
    story = first.stored[0].story_id
    joined = [
        (ru, "r1", "https://tass.ru/armiya/1", "ru"),
        (NHK, "n1", "https://www3.nhk.or.jp/news/2.html", "ja"),
        (en2, "k1", "https://english.kyodonews.net/news/3", "en"),
    ]
    for minutes, (feed, guid, link, lang) in enumerate(joined, 1):
        record = replace(own(guid, link, feed.id), lang=lang, story_hint=story)
        store.ingest(feed, [record], now=T0 + timedelta(minutes=minutes), alert=True)
    [delivery] = store.due_deliveries(T0 + timedelta(hours=1))
    assert delivery.also == ("ТАСС (ru)", "NHK (ja)", "Kyodo")
    assert "Also: ТАСС (ru), NHK (ja), Kyodo" in render_html(to_alert(delivery))


def test_a_followed_story_replies_only_in_the_chats_news_languages(store: Store) -> None:
    """A report of another language joins the story: "Also:" names it, but a chat that reads
    English news only gets no reply with it."""
    first = store.ingest(
        TASS, [replace(own("t1", ARTICLE, "tass.com"), lang="en")], now=T0, alert=True
    )
    story = first.stored[0].story_id
    [delivery] = store.due_deliveries(T0 + timedelta(minutes=1))
    store.mark_sent(delivery.id, 555, now=T0 + timedelta(minutes=1))
    store.control_story(CHAT, story, "follow", now=T0 + timedelta(minutes=2))
    store.set_news_langs(CHAT, ["en"])
    japanese = replace(
        own("n1", "https://www3.nhk.or.jp/news/3.html", "nhk"), lang="ja", story_hint=story
    )
    store.ingest(NHK, [japanese], now=T0 + timedelta(minutes=3), alert=True)
    assert store.due_deliveries(T0 + timedelta(hours=1)) == []  # no reply in Japanese
    [edit] = store.due_edits()
    assert edit.also == ("NHK (ja)",)
    english = replace(
        own("k1", "https://english.kyodonews.net/news/4", "kyodo"), lang="en", story_hint=story
    )
    store.ingest(GNEWS, [english], now=T0 + timedelta(minutes=4), alert=True)
    [reply] = store.due_deliveries(T0 + timedelta(hours=1))
    assert reply.reply_to == 555


def test_lang_pointing_a_waiting_alert_to_another_report_never_lists_that_reports_outlet(
    store: Store,
) -> None:
    """/lang ru gives the waiting English alert TASS's Russian report: "Also:" no longer names
    ТАСС (now the alert's own outlet), but TASS's English report, in the Russian alert's terms."""
    tass_ru = FeedState(id="tass-ru", url="https://tass.ru/rss/v2.xml", title="ТАСС")
    store.ingest(tass_ru, [], now=T0 - timedelta(hours=1), alert=False)
    first = store.ingest(
        TASS, [replace(own("t1", ARTICLE, "tass.com"), lang="en")], now=T0, alert=True
    )
    story = first.stored[0].story_id
    joined = [
        (tass_ru, "r1", "https://tass.ru/politika/1", "tass.ru", "ru"),
        (NHK, "n1", "https://www3.nhk.or.jp/news/1.html", "nhk", "ja"),
    ]
    for minutes, (feed, guid, link, key, lang) in enumerate(joined, 1):
        record = replace(own(guid, link, key), lang=lang, story_hint=story)
        store.ingest(feed, [record], now=T0 + timedelta(minutes=minutes), alert=True)
    [waiting] = store.due_deliveries(T0 + timedelta(hours=1))
    assert waiting.also == ("ТАСС (ru)", "NHK (ja)")
    store.set_news_langs(CHAT, ["ru"])
    [delivery] = store.due_deliveries(T0 + timedelta(hours=1))
    assert delivery.item.guid == "r1"
    assert delivery.also == ("TASS (en)", "NHK (ja)")
    text = render_html(to_alert(delivery), tr=texts("ru"))
    assert "<i>ТАСС · " in text and "Также: TASS (en), NHK (ja)</i>" in text


def test_a_source_muted_while_an_alert_waits_leaves_its_also_line(store: Store) -> None:
    """The alert waits (a digest, quiet hours, a mute's end) naming NHK in "Also:"; /sources
    then mutes NHK, whose reports never appear in the chat's "Also:" (nor TASS's once muted)."""
    first = store.ingest(TASS, [own("t1", ARTICLE, "tass.com")], now=T0, alert=True)
    story = first.stored[0].story_id
    nhk = replace(own("n1", "https://www3.nhk.or.jp/news/1.html", "nhk"), story_hint=story)
    store.ingest(NHK, [nhk], now=T0 + timedelta(minutes=1), alert=True)
    [waiting] = store.due_deliveries(T0 + timedelta(hours=1))
    assert waiting.also == ("NHK",)
    assert store.toggle_source(CHAT, "nhk", now=T0 + timedelta(minutes=2))
    [delivery] = store.due_deliveries(T0 + timedelta(hours=1))
    assert delivery.item.guid == "t1" and delivery.also == ()


def member(item_id: int, feed_id: str, name: str, lang: str | None, key: str) -> Member:
    return Member(item_id, Source(feed_id, None, key), name, lang)


KYODO_EN = member(1, "kyodo", "Kyodo", "en", "english.kyodonews.net")
TASS_EN = member(2, "tass-en", "TASS", "en", "tass.com")
TASS_RU = member(3, "tass-ru", "ТАСС", "ru", "tass.ru")
RIA_RU = member(4, "ria", "РИА Новости", "ru", "ria.ru")
NHK_JA = member(5, "nhk", "NHK", "ja", "www3.nhk.or.jp")
TASS_VIA_GOOGLE_RU = Member(6, Source("gnews-ru", "TASS.ru", "tass.ru"), "TASS.ru", "ru")
UNKNOWN = member(7, "old", "Old", None, "old.example")  # stored before languages were kept
STORY = (KYODO_EN, TASS_EN, TASS_RU, RIA_RU, NHK_JA)


@pytest.mark.parametrize(
    ("members", "shown", "chat_language", "news_langs", "expected"),
    [
        # a Russian chat shown the English report: the earliest Russian one, the others listed
        # with their languages (the report shown until now too), its own language untagged
        (STORY, 1, "ru", (), Shown(3, ("Kyodo (en)", "TASS (en)", "РИА Новости", "NHK (ja)"))),
        (STORY, 1, "ru-RU", (), Shown(3, ("Kyodo (en)", "TASS (en)", "РИА Новости", "NHK (ja)"))),
        (
            STORY,
            2,
            "ja",
            (),
            Shown(5, ("Kyodo (en)", "TASS (en)", "ТАСС (ru)", "РИА Новости (ru)")),
        ),
        # a chat that reads Japanese shown a Russian report gets the Japanese one
        (STORY[2:], 3, "ja", ("ja", "ru"), Shown(5, ("ТАСС (ru)", "РИА Новости (ru)"))),
        # shown in the chat's language already: it stays, even if an earlier member is too
        (STORY, 4, "ru", (), None),
        (STORY, 1, "en", (), None),
        # no member in the chat's language, or no language of its own: as it is
        (STORY[:2], 1, "ru", (), None),
        (STORY, 1, "de", (), None),
        (STORY, 1, None, (), None),
        # a chat whose news languages leave its own language out keeps the report it has
        (STORY, 1, "ru", ("en", "ja"), None),
        # a report an aggregator carried for an outlet is in its language like another
        ((TASS_EN, TASS_VIA_GOOGLE_RU, NHK_JA), 2, "ru", (), Shown(6, ("TASS (en)", "NHK (ja)"))),
        # the chosen report's outlet carried by an aggregator is not listed
        ((TASS_EN, TASS_RU, TASS_VIA_GOOGLE_RU), 2, "ru", (), Shown(3, ("TASS (en)",))),
        # a report of no known language is shown until one in the chat's language comes
        ((UNKNOWN, TASS_RU), 7, "ru", (), Shown(3, ("Old",))),
    ],
)
def test_the_report_an_alert_shows_in_its_chats_language(
    members: tuple[Member, ...],
    shown: int,
    chat_language: str | None,
    news_langs: tuple[str, ...],
    expected: Shown | None,
) -> None:
    assert shown_report(members, shown, chat_language, frozenset(news_langs)) == expected


def test_an_alert_is_edited_to_show_the_report_in_its_chats_language(store: Store) -> None:
    """TASS's Russian report joins the English story: a Russian chat's alert, sent or waiting,
    is edited to show it, the English report listed; the English chat's as before; a Russian
    chat that follows the story gets the report as a reply, its alert as it was."""
    tass_ru = FeedState(id="tass-ru", url="https://tass.ru/rss/v2.xml", title="ТАСС")
    store.ingest(tass_ru, [], now=T0 - timedelta(hours=1), alert=False)
    reader, follower, waiting = CHAT + 1, CHAT + 2, CHAT + 3
    for chat in (reader, follower, waiting):
        store.upsert_subscriber(chat, language_code="ru", now=T0 - timedelta(hours=1))
        store.subscribe(chat, "kuril", now=T0 - timedelta(hours=1))
    first = store.ingest(
        TASS, [replace(own("t1", ARTICLE, "tass.com"), lang="en")], now=T0, alert=True
    )
    story = first.stored[0].story_id
    for message_id, delivery in enumerate(store.due_deliveries(T0 + timedelta(minutes=1)), 500):
        if delivery.chat_id != waiting:  # held: a digest, quiet hours
            store.mark_sent(delivery.id, message_id, now=T0 + timedelta(minutes=1))
    store.control_story(follower, story, "follow", now=T0 + timedelta(minutes=2))
    russian = replace(own("r1", "https://tass.ru/armiya/1", "tass.ru"), lang="ru", story_hint=story)
    store.ingest(tass_ru, [russian], now=T0 + timedelta(minutes=3), alert=True)
    edits = {edit.chat_id: edit for edit in store.due_edits()}
    assert (edits[CHAT].item.guid, edits[CHAT].also) == ("t1", ("ТАСС (ru)",))
    assert (edits[reader].item.guid, edits[reader].also) == ("r1", ("TASS (en)",))
    assert (edits[follower].item.guid, edits[follower].also) == ("t1", ("ТАСС (ru)",))
    text = render_html(to_alert(edits[reader]), tr=texts("ru"))
    assert "Также: TASS (en)</i>" in text and "<i>ТАСС · " in text
    queued = {d.chat_id: d for d in store.due_deliveries(T0 + timedelta(hours=1))}
    assert (queued[waiting].item.guid, queued[waiting].also) == ("r1", ("TASS (en)",))
    assert queued[follower].item.guid == "r1" and queued[follower].reply_to is not None
    # a later report only extends the line: the alert keeps its Russian report
    for chat in (reader, CHAT):
        store.edit_done(edits[chat].id, edits[chat].also)
    nhk = replace(
        own("n1", "https://www3.nhk.or.jp/news/1.html", "nhk"), lang="ja", story_hint=story
    )
    store.ingest(NHK, [nhk], now=T0 + timedelta(minutes=4), alert=True)
    edits = {edit.chat_id: edit for edit in store.due_edits()}
    assert (edits[reader].item.guid, edits[reader].also) == ("r1", ("TASS (en)", "NHK (ja)"))
    assert edits[CHAT].also == ("ТАСС (ru)", "NHK (ja)")


def test_an_update_that_showed_the_report_it_was_switched_from_is_due_again(
    store: Store,
) -> None:
    """An "Also:" update on its way when the alert was switched to the report in its chat's
    language, with the same line, showed the old report: it is not done, whatever its line."""
    tass_ru = FeedState(id="tass-ru", url="https://tass.ru/rss/v2.xml", title="ТАСС")
    store.ingest(tass_ru, [], now=T0 - timedelta(hours=1), alert=False)
    store.upsert_subscriber(CHAT, language_code="ru", now=T0 - timedelta(hours=1))
    store.subscribe(CHAT, "kuril", now=T0 - timedelta(hours=1))
    first = store.ingest(
        TASS, [replace(own("t1", ARTICLE, "tass.com"), lang="en")], now=T0, alert=True
    )
    english, story = first.stored[0].id, first.stored[0].story_id
    [alert] = store.due_deliveries(T0 + timedelta(minutes=1))
    store.mark_sent(alert.id, 500, now=T0, also=alert.also, item_id=english)
    assert store.due_edits() == []
    russian = replace(own("r1", "https://tass.ru/armiya/1", "tass.ru"), lang="ru", story_hint=story)
    store.ingest(tass_ru, [russian], now=T0 + timedelta(minutes=3), alert=True)
    [edit] = store.due_edits()
    store.edit_done(edit.id, edit.also, english)  # the line as now, the English report shown
    [again] = store.due_edits()
    assert (again.id, again.item.guid) == (edit.id, "r1")
    store.edit_done(edit.id, edit.also, edit.item.id)
    assert store.due_edits() == []
