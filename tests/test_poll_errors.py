"""A feed's error said in each admin's language: every message a poll can record on its feed
(watchers/poll_errors.py) has its Russian and Japanese and reads with its values; the kept
message beside `last_error`, and a row kept before it (its English as it is); the reasons a poll
disables its feed, kept the same way beside `disabled_reason`."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_file
from sqlite_utils import Database

from bot.i18n import Said, Span, kept_said, texts
from store import FeedState, Store, migrations
from tests.conftest import ROOT
from watchers import poll_errors as e
from watchers.poll_errors import PollError, address_refusal, as_is, disabled_by

T0 = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
PRIVATE = address_refusal("private", "10.0.0.5")

# every message of poll_errors.py, with values as a poll records them
TABLE = [
    PollError(e.TIMED_OUT_CONNECTING),
    PollError(e.TIMED_OUT_READING),
    PollError(e.TIMED_OUT),
    PollError(e.TIMED_OUT_IN_ALL, {"seconds": 60.0}),
    PollError(e.REDIRECT_LOOP),
    PollError(e.NOT_HTTP_REDIRECT, {"url": "ftp://example.org/feed"}),
    PollError(e.INVALID_URL, {"url": "http://[::1/feed"}),
    PollError(e.UNRESOLVED, {"host": "example.org"}),
    PollError(e.CERTIFICATE, {"reason": "certificate has expired"}),
    PollError(e.REFUSED, {"host": "example.org", "port": "443"}),
    PollError(e.UNCONNECTED, {"host": "example.org", "port": "443", "reason": "No route to host"}),
    PollError(e.DISCONNECTED),
    PollError(e.BROKEN_BODY, {"reason": "Not enough data to satisfy content length header."}),
    PollError(e.CUT_SHORT, {"encoding": "gzip"}),
    PollError(e.MALFORMED, {"reason": "Invalid status line"}),
    PollError(e.TOO_LARGE, {"bytes": 10485760}),
    PollError(e.BAD_BODY, {"reason": "Error -3 while decompressing data"}),
    PollError(e.STATUS, {"status": "404", "phrase": "Not Found"}),
    PollError(e.BARE_STATUS, {"status": "599"}),
    PollError(e.UNASKED_304),
    PollError(e.EMPTY, {"status": "200"}),
    PollError(e.REFUSED_REDIRECT, {"host": "wiki.corp.example", "reason": PRIVATE}),
    PollError(e.REFUSED_CONNECT, {"host": "feeds.example", "reason": PRIVATE}),
    *(address_refusal(kind, "10.0.0.5") for kind in e.ADDRESS_KINDS),
    PollError(e.OTHER_KIND, {"kind": "carrier-grade", "address": "100.64.0.1"}),
    PollError(e.NOT_AN_IP, {"address": "'not-an-ip'"}),
    PollError(e.UNRESOLVED_HERE, {"host": "intranet.example"}),
    PollError(e.NO_LONGER_RESOLVES, {"host": "intranet.example"}),
    PollError(e.PUBLIC_NOW, {"address": "93.184.216.34"}),
    PollError(e.HTML_PAGE),
    PollError(e.HTML_PAGE_TYPED, {"media": "text/html"}),
    PollError(e.BLANK),
    PollError(e.NOT_XML_TYPE, {"media": "application/pdf"}),
    PollError(e.NOT_XML),
    PollError(e.NOT_XML_TYPED, {"media": "text/xml"}),
    PollError(e.BROKEN_XML, {"line": "7", "column": "2", "reason": "mismatched tag"}),
    PollError(e.NOT_A_FEED, {"reason": "document declared as us-ascii, but parsed as utf-8"}),
    PollError(e.NO_FEED_IN_XML),
    PollError(e.JSON_NOT_UTF8, {"reason": "invalid start byte"}),
    PollError(e.JSON_TOO_DEEP),
    PollError(e.JSON_INVALID, {"reason": "Expecting value: line 1 column 1 (char 0)"}),
    PollError(e.JSON_NO_VERSION),
    PollError(e.JSON_NO_ITEMS),
    PollError(e.PARSER_DIED),
    PollError(e.PARSE_TOO_LONG, {"seconds": 20.0}),
    PollError(e.INTERNAL, {"error": "RuntimeError: a bug nobody foresaw"}),
]


WEEK = timedelta(days=7)
# every reason a poll disables its feed for, as `disabled_by` gives it: its English (the feed's
# `disabled_reason`, as before) and how a Russian and a Japanese admin read it
DISABLED = [
    (
        disabled_by(410, timedelta(0), WEEK),
        "the server says the feed is gone for good (HTTP 410)",
        "сервер сообщает, что лента удалена навсегда (HTTP 410)",
        "サーバーによると、フィードは完全に削除されました（HTTP 410）",
    ),
    (
        disabled_by(404, timedelta(hours=6), timedelta(hours=6)),
        "not found (HTTP 404) for 6.0h",
        "сервер 6 часов подряд отвечал «не найдено» (HTTP 404)",
        "サーバーが 6 時間にわたって「見つかりません」（HTTP 404）と応答し続けました",
    ),
    (
        # the span as the reader's language writes one, to the minute
        disabled_by(404, WEEK + timedelta(minutes=3, seconds=10), WEEK),
        "not found (HTTP 404) for 7.0d",
        "сервер 7 дней 3 минуты подряд отвечал «не найдено» (HTTP 404)",
        "サーバーが 7 日 3 分にわたって「見つかりません」（HTTP 404）と応答し続けました",
    ),
]


def marked_messages() -> set[str]:
    """The msgids poll_errors.py marks (`N_`), as the catalogues' extraction finds them."""
    found = extract_from_file("python", str(ROOT / "watchers" / "poll_errors.py"))
    return {str(message) for _, message, _, _ in found}


def test_the_tables_name_every_message_a_poll_records() -> None:
    disabling = {reason.message for reason, *_ in DISABLED if reason is not None}
    assert {error.message for error in TABLE} | disabling == marked_messages()


@pytest.mark.parametrize(("reason", "english", "ru", "ja"), DISABLED)
def test_each_reason_a_feed_is_disabled_for_reads_in_the_admins_language(
    reason: PollError | None, english: str, ru: str, ja: str
) -> None:
    assert reason is not None
    assert reason.line() == english  # disabled_reason: `kurilwatch feeds`, the log, tests
    kept = reason.kept()
    assert kept is not None
    assert texts("ru").say(kept_said(kept, english)) == ru
    assert texts("ja").say(kept_said(kept, english)) == ja
    # English: the span in words too, as the failing notice writes one
    assert texts("en").say(kept_said(kept, english)) == english.replace("6.0h", "6 hours").replace(
        "7.0d", "7 days 3 minutes"
    )


@pytest.mark.parametrize(
    ("status", "failing_for"),
    [(404, WEEK - timedelta(seconds=1)), (500, 30 * WEEK), (None, 30 * WEEK), (403, WEEK)],
)
def test_no_other_answer_disables_a_feed(status: int | None, failing_for: timedelta) -> None:
    assert disabled_by(status, failing_for, WEEK) is None


def test_the_span_of_a_404_is_kept_as_a_span() -> None:
    reason = disabled_by(404, timedelta(hours=6, seconds=20), timedelta(hours=6))
    assert reason is not None
    assert json.loads(reason.kept() or "") == {
        "message": e.NOT_FOUND_FOR,
        "values": {"span": {"span": 6 * 3600}},
    }
    assert kept_said(reason.kept(), "") == Said(e.NOT_FOUND_FOR, {"span": Span(6 * 3600)})


def words(error: PollError) -> list[str]:
    """The values said as they came: a host, a port, a server's or a parser's words."""
    found: list[str] = []
    for value in error.values.values():
        if isinstance(value, PollError):
            found += words(value)
        elif isinstance(value, str):
            found.append(value)
    return found


@pytest.mark.parametrize("error", TABLE, ids=[error.message for error in TABLE])
@pytest.mark.parametrize("lang", ["ru", "ja"])
def test_each_message_reads_in_the_admins_language_with_its_values(
    lang: str, error: PollError
) -> None:
    said = texts(lang).say(kept_said(error.kept(), str(error)))
    english = str(error)
    assert said != english and "{" not in said, said
    for value in words(error):
        assert value in said, (value, said)
    if not any(isinstance(v, int | float) for v in error.values.values()):
        # in English the kept message reads as last_error does (a number: grouped, 10,485,760)
        assert texts("en").say(kept_said(error.kept(), english)) == english


@pytest.mark.parametrize(
    ("error", "ru", "ja"),
    [
        (
            PollError(e.TIMED_OUT_READING),
            "истекло время ожидания (чтение)",
            "タイムアウト（読み込み）",
        ),
        (
            PollError(e.REFUSED, {"host": "example.org", "port": "443"}),
            "не удалось подключиться к example.org:443: в соединении отказано",
            "example.org:443 に接続できません: 接続を拒否されました",
        ),
        (
            PollError(e.REFUSED_REDIRECT, {"host": "wiki.corp.example", "reason": PRIVATE}),
            "перенаправление на wiki.corp.example отклонено: вместо публичного адреса — частный"
            " адрес (10.0.0.5)",
            "wiki.corp.example へのリダイレクトを拒否しました:"
            " 公開アドレスではなく、プライベートアドレス（10.0.0.5）です",
        ),
        (
            PollError(e.TOO_LARGE, {"bytes": 10485760}),
            "ответ больше 10\xa0485\xa0760 байт",
            "応答が 10,485,760 バイトを超えています",
        ),
        (
            PollError(e.STATUS, {"status": "404", "phrase": "Not Found"}),
            "сервер ответил HTTP 404 (Not Found)",
            "サーバーの応答: HTTP 404（Not Found）",
        ),
    ],
)
def test_a_message_reads_as_a_native_admin_writes_it(error: PollError, ru: str, ja: str) -> None:
    kept = error.kept()
    assert texts("ru").say(kept_said(kept, str(error))) == ru
    assert texts("ja").say(kept_said(kept, str(error))) == ja


def test_the_english_is_last_error_and_the_kept_message_is_json() -> None:
    error = PollError(e.REFUSED_REDIRECT, {"host": "wiki.corp.example", "reason": PRIVATE})
    assert str(error) == (
        "refused a redirect to wiki.corp.example: it is at a private address (10.0.0.5),"
        " not a public one"
    )
    assert json.loads(error.kept() or "") == {
        "message": e.REFUSED_REDIRECT,
        "values": {
            "host": "wiki.corp.example",
            "reason": {"said": e.ADDRESS_KINDS["private"], "values": {"address": "10.0.0.5"}},
        },
    }
    # a server's words are kept as one printable line, as last_error keeps them
    broken = PollError(e.MALFORMED, {"reason": "Bad status\r\n\x1b[2J  line"})
    assert broken.line() == "malformed HTTP answer: Bad status \\x1b[2J line"
    assert "Bad status \\x1b[2J line" in texts("ru").say(kept_said(broken.kept(), ""))


def test_an_error_of_no_words_of_ours_keeps_no_message() -> None:
    """An exception nobody foresaw, named with its own words: nothing to translate."""
    error = as_is("ClientOSError: [Errno 104] Connection reset by peer")
    assert str(error) == "ClientOSError: [Errno 104] Connection reset by peer"
    assert error.kept() is None


@pytest.mark.parametrize(
    "kept",
    [
        None,  # a row kept before messages were
        "",
        "not json",
        '["a list"]',
        '{"values": {}}',
        json.dumps({"message": e.REFUSED, "values": {"host": "example.org"}}),  # no port
        json.dumps(
            {"message": e.REFUSED_CONNECT, "values": {"host": "h", "reason": {"said": "{x}"}}}
        ),
    ],
    ids=["none", "empty", "not-json", "not-an-object", "no-message", "a-value-missing", "nested"],
)
def test_an_error_without_a_whole_kept_message_reads_as_its_english(kept: str | None) -> None:
    assert kept_said(kept, "HTTP 503") == "HTTP 503"
    assert texts("ru").say(kept_said(kept, "HTTP 503")) == "HTTP 503"


def test_kept_said_is_a_said() -> None:
    kept = PollError(e.UNRESOLVED, {"host": "example.org"}).kept()
    assert kept_said(kept, "") == Said(e.UNRESOLVED, {"host": "example.org"})


def test_a_feed_stored_before_its_error_messages_migrates_and_keeps_one(tmp_path: Path) -> None:
    path = tmp_path / "m033.db"
    old = Database(path)
    migrations.migrations.apply(old, stop_before="m034_feed_error_messages")
    old["feeds"].insert(
        {"id": "a", "url": "http://a/", "primed": 1, "consecutive_errors": 2, "last_error": "x"}
    )
    old.close()
    kept = PollError(e.UNRESOLVED, {"host": "a"}).kept()
    with Store(path) as store:
        state = store.feed_state("a")
        assert state is not None and state.last_error == "x"
        assert state.last_error_message is None
        store.save_feed_state(replace(state, last_error_message=kept))
    with Store(path) as store:
        again = store.feed_state("a")
        assert again == FeedState(
            id="a",
            url="http://a/",
            primed=True,
            consecutive_errors=2,
            last_error="x",
            last_error_message=kept,
        )


def test_a_feed_disabled_before_its_reasons_were_messages_migrates_and_keeps_one(
    tmp_path: Path,
) -> None:
    path = tmp_path / "m036.db"
    old = Database(path)
    migrations.migrations.apply(old, stop_before="m037_feed_disabled_messages")
    old["feeds"].insert({"id": "a", "url": "http://a/", "primed": 1, "disabled_reason": "gone"})
    old.close()
    reason = disabled_by(410, timedelta(0), WEEK)
    assert reason is not None
    with Store(path) as store:
        state = store.feed_state("a")
        assert state is not None and state.disabled_reason == "gone"
        assert state.disabled_reason_message is None
        # an old row: /feeds and the notice say its English as it is
        assert kept_said(state.disabled_reason_message, "gone") == "gone"
        store.save_feed_state(replace(state, disabled_reason_message=reason.kept()))
    with Store(path) as store:
        again = store.feed_state("a")
        assert again is not None and again.disabled_reason_message == reason.kept()
        assert again.disabled_reason == "gone"
