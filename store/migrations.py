"""Versioned schema migrations: one function per change, applied once each, in order."""

from __future__ import annotations

import sqlite3
from functools import cache

from sqlite_utils import Database

from store.migrations_early import migrations  # m001-m012, registered first
from store.space import make_incremental


@migrations()
def m013_subscriber_controls(db: Database) -> None:
    # what a chat decides reaches it: the bot's language, news languages, muted outlets,
    # per-story controls; what it says is not relevant; and follow-ups sent as replies
    subscribers = db.table("subscribers")
    subscribers.add_column("language", str)  # en, ru, ja; NULL: the user's language_code
    subscribers.add_column("news_langs", str, not_null_default="")  # "ru en"; "": every one
    # queueing asks whether any chat filters at all: this answers without reading every chat
    db.execute(
        "CREATE INDEX idx_subscribers_filtering ON subscribers (chat_id) WHERE news_langs != ''"
    )
    db.table("items").add_column("lang", str)  # en, ru, ja (NULL: stored before this)
    db.table("muted_sources").create(
        {"chat_id": int, "feed_id": str, "created_at": float},
        pk=("chat_id", "feed_id"),
        not_null={"created_at"},
    )
    db.table("story_controls").create(
        {"chat_id": int, "story_id": int, "mode": str, "created_at": float},  # mute, follow
        pk=("chat_id", "story_id"),
        not_null={"mode", "created_at"},
    )
    db.table("feedback").create(
        {"id": int, "chat_id": int, "item_id": int, "topic": str, "created_at": float},
        pk="id",
        not_null={"chat_id", "item_id", "created_at"},
    )
    db.table("feedback").create_index(["item_id"])
    db.table("install_secrets").create({"name": str, "value": str}, pk="name")
    # a notice names its message (a msgid of bot/locales) and values, to be sent in each
    # admin's language; `text` stays the English, for logs and the CLI
    db.table("notices").add_column("msgid", str)
    db.table("notices").add_column("vals", str)
    # a followed story's further reports are outbox rows too, replies to the chat's alert:
    # one alert per chat and story, one follow-up per chat and item
    db.table("outbox").add_column("reply_to", int)
    db.execute("DROP INDEX idx_outbox_chat_id_story_id")
    db.execute(
        "CREATE UNIQUE INDEX idx_outbox_chat_story ON outbox (chat_id, story_id)"
        " WHERE reply_to IS NULL"
    )
    db.execute(
        "CREATE UNIQUE INDEX idx_outbox_chat_follow_up ON outbox (chat_id, item_id)"
        " WHERE reply_to IS NOT NULL"
    )


@migrations()
def m014_trends(db: Database) -> None:
    subscribers = db.table("subscribers")
    subscribers.add_column("report", str, not_null_default="")  # "", "weekly mon 08:00"
    subscribers.add_column("report_sent_at", float)  # reports are due after this moment
    subscribers.add_column("spikes", int, not_null_default=0)  # 1: spike notices wanted
    # spikes found, one row per topic and burst: at most one per topic per 12 hours
    db.table("spikes").create(
        {"id": int, "topic_id": str, "detected_at": float, "stories": int},
        pk="id",
        not_null={"topic_id", "detected_at", "stories"},
    )
    db.table("spikes").create_index(["topic_id", "detected_at"])
    # matched stories by time, for trends: a few percent of the items
    db.execute(
        "CREATE INDEX items_stories ON items (fetched_at) WHERE id = story_id AND topics != '[]'"
    )


@migrations()
def m015_word_forms(db: Database) -> None:
    # the Russian forms of watches' words (JSON lists), so a start need not look them up again
    db.execute("CREATE TABLE word_forms (word TEXT PRIMARY KEY, forms TEXT NOT NULL) WITHOUT ROWID")


@migrations()
def m016_watch_filing(db: Database) -> None:
    # what each watch is filed under in the daemon's index (opaque to the store), and the
    # version of the code that chose it: a start files watches from this without parsing them
    watches = db.table("watches")
    watches.add_column("filed_under", str)
    watches.add_column("filed_by", str)


@migrations()
def m017_outbox_by_story(db: Database) -> None:
    # a story's alerts, looked up whenever a report joins the story ("Also:" edits, and the
    # chats that have the story already)
    db.execute("CREATE INDEX outbox_story ON outbox (story_id)")


@migrations()
def m018_first_poll_items(db: Database) -> None:
    # 1: recorded by its feed's first poll, which alerts nobody (nor do the stories it starts)
    db.table("items").add_column("first_poll", int, not_null_default=0)


@migrations()
def m019_watch_ids_never_reused(db: Database) -> None:
    # items keep the topic id "@w<id>" of each watch they matched: a removed watch's id given
    # to another chat's new watch would show it the first chat's matches (its Atom feed)
    db.execute(
        "CREATE TABLE watches_kept (id INTEGER PRIMARY KEY AUTOINCREMENT,"
        " chat_id INTEGER NOT NULL, query TEXT NOT NULL, created_at REAL NOT NULL,"
        " filed_under TEXT, filed_by TEXT)"
    )
    db.execute("INSERT INTO watches_kept SELECT id, chat_id, query, created_at,"
               " filed_under, filed_by FROM watches")  # fmt: skip
    db.execute("DROP TABLE watches")
    db.execute("ALTER TABLE watches_kept RENAME TO watches")
    db.execute('CREATE UNIQUE INDEX "idx_watches_chat_id_query" ON "watches" ("chat_id", "query")')


@migrations()
def m020_item_topics(db: Database) -> None:
    # each matched item's topics, by topic and its story's time: the spike check reads every
    # topic's first story and recent stories every 10 minutes, and reading them from items'
    # JSON lists scanned every matched item (0.15 s per topic in 100,000 stories). Kept by
    # triggers: an item's story, topics and times are never changed once stored
    db.execute(
        "CREATE TABLE item_topics (topic_id TEXT NOT NULL, story_at REAL NOT NULL,"
        " story_id INTEGER NOT NULL, item_id INTEGER NOT NULL, fetched_at REAL NOT NULL,"
        " PRIMARY KEY (topic_id, story_at, story_id, item_id)) WITHOUT ROWID"
    )
    db.execute("CREATE INDEX item_topics_item ON item_topics (item_id)")
    # story_at: the story's time as store/trends.py reads it, of its first report (stored
    # before any report that joins it)
    topics_of = (
        "SELECT DISTINCT j.value, min(coalesce(h.published_at, h.fetched_at), h.fetched_at),"
        " h.id, {m}.id, {m}.fetched_at FROM {items} json_each({m}.topics) j"
        " JOIN items h ON h.id = {m}.story_id"
    )
    db.execute(
        "CREATE TRIGGER item_topics_add AFTER INSERT ON items WHEN new.topics != '[]' BEGIN"
        f" INSERT OR IGNORE INTO item_topics {topics_of.format(m='new', items='')}; END"
    )
    db.execute(
        "CREATE TRIGGER item_topics_drop AFTER DELETE ON items"
        " BEGIN DELETE FROM item_topics WHERE item_id = old.id; END"
    )
    db.execute(
        f"INSERT OR IGNORE INTO item_topics {topics_of.format(m='m', items='items m,')}"
        " WHERE m.topics != '[]'"
    )


@migrations()
def m021_edit_retries(db: Database) -> None:
    # a failed "Also:" update waits on its own row (not its chat) and is given up after a few tries
    outbox = db.table("outbox")
    outbox.add_column("edit_tries", int, not_null_default=0)
    outbox.add_column("edit_after", float)


@migrations()
def m022_code_versions(db: Database) -> None:
    # the version of the code that derived keys kept in the store (items' text fingerprints):
    # a start under other code keys the recent items again (Store.refingerprint)
    db.execute(
        "CREATE TABLE code_versions (name TEXT PRIMARY KEY, version TEXT NOT NULL) WITHOUT ROWID"
    )


@migrations()
def m023_retry_not_before(db: Database) -> None:
    # a 429 or 503's Retry-After, honoured after a restart too (past max_backoff, within a day)
    db.table("feeds").add_column("retry_not_before", float)


@migrations()
def m024_outbox_ids_never_reused(db: Database) -> None:
    # an alert's buttons name its outbox row, and stay under the message for ever: once a prune
    # had deleted the latest rows (months without a match), their ids went to new alerts, and an
    # old alert's "Mute this story" muted the new story
    db.execute(
        "CREATE TABLE outbox_kept (id INTEGER PRIMARY KEY AUTOINCREMENT,"
        " chat_id INTEGER NOT NULL, story_id INTEGER NOT NULL, item_id INTEGER NOT NULL,"
        " topics TEXT NOT NULL, state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,"
        " next_attempt_at REAL, created_at REAL NOT NULL, sent_at REAL, message_id INTEGER,"
        " last_error TEXT, also TEXT NOT NULL DEFAULT '[]',"
        " edit_pending INTEGER NOT NULL DEFAULT 0, reply_to INTEGER,"
        " edit_tries INTEGER NOT NULL DEFAULT 0, edit_after REAL)"
    )
    columns = (
        "id, chat_id, story_id, item_id, topics, state, attempts, next_attempt_at, created_at,"
        " sent_at, message_id, last_error, also, edit_pending, reply_to, edit_tries, edit_after"
    )
    db.execute(f"INSERT INTO outbox_kept ({columns}) SELECT {columns} FROM outbox")
    db.execute("DROP TABLE outbox")
    db.execute("ALTER TABLE outbox_kept RENAME TO outbox")
    for index in (
        "INDEX idx_outbox_state_next_attempt_at ON outbox (state, next_attempt_at)",
        "INDEX idx_outbox_edit_pending ON outbox (edit_pending)",
        "INDEX idx_outbox_state_chat_id_next_attempt_at"
        " ON outbox (state, chat_id, next_attempt_at)",
        "UNIQUE INDEX idx_outbox_chat_story ON outbox (chat_id, story_id) WHERE reply_to IS NULL",
        "UNIQUE INDEX idx_outbox_chat_follow_up ON outbox (chat_id, item_id)"
        " WHERE reply_to IS NOT NULL",
        "INDEX outbox_story ON outbox (story_id)",
    ):
        db.execute(f"CREATE {index}")


@migrations()
def m025_absent_feed_mutes(db: Database) -> None:
    # when the config dropped a muted feed: its mutes stay a while, as it may be added again
    db.table("muted_sources").add_column("absent_since", float)


@migrations()
def m026_compacted_title_keys(db: Database) -> None:
    # a compacted item's title, as `records.title_key` (its title itself is pruned)
    db.table("items").add_column("title_key", str)


@migrations()
def m027_chat_refused_until(db: Database) -> None:
    # a chat the bot may not post to, held until its next try: kept apart from `hold_until`,
    # which the sender decides afresh at every change of the chat's settings
    db.table("subscribers").add_column("refused_until", float)


@migrations()
def m028_chat_flood_until(db: Database) -> None:
    # a chat under Telegram's flood control (429 retry_after), held until then also across a
    # restart: kept apart from `hold_until`, which a change of the chat's settings clears
    db.table("subscribers").add_column("flood_until", float)


@migrations()
def m029_outbox_digest_part(db: Database) -> None:
    # the messages of its digest sent before a row was put back (the chat's limit, a 429, a
    # stop): the digest that takes it up again numbers its messages on from there
    db.table("outbox").add_column("digest_part", int, not_null_default=0)


@migrations(transactional=False)  # a VACUUM cannot run inside a transaction
def m030_incremental_vacuum(db: Database) -> None:
    # a prune's free pages were only reused: the file stayed at its peak for ever. With
    # auto_vacuum INCREMENTAL the daemon gives them back after each prune (store/space.py); an
    # existing store takes a one-time VACUUM to switch (a new one has it from its creation)
    make_incremental(db)


@migrations()
def m031_feedback_once(db: Database) -> None:
    # "Not relevant" pressed again and again (anyone in a group may, and a client may send the
    # callback in a loop) kept a row per press for a year: one per chat and item, the first
    db.execute(
        "DELETE FROM feedback WHERE id NOT IN"
        " (SELECT min(id) FROM feedback GROUP BY chat_id, item_id)"
    )
    db.execute("CREATE UNIQUE INDEX idx_feedback_chat_item ON feedback (chat_id, item_id)")


@migrations()
def m032_subscriber_thread(db: Database) -> None:
    # a forum's topic the chat's settings were last made in: its alerts, digests, reports and
    # notices go there (NULL: the chat itself, a forum's General topic)
    db.table("subscribers").add_column("thread_id", int)


@migrations()
def m033_notice_plurals(db: Database) -> None:
    # a notice of a count ("over the last 1 day") names its plural msgid too, and the value
    # whose number chooses the form in the admin's language (NULL: a message of one form)
    db.table("notices").add_column("plural", str)
    db.table("notices").add_column("counted", str)


@migrations()
def m034_feed_error_messages(db: Database) -> None:
    # a feed's last error as a message (a msgid of bot/locales and its values, JSON) beside its
    # English `last_error`, to be said in each admin's language (NULL: the English alone)
    db.table("feeds").add_column("last_error_message", str)


@migrations()
def m035_feed_told_since(db: Database) -> None:
    # the failing run of a feed the admins were told of (its errors_since): said once, and its
    # recovery said, whichever process (a `poll --once`, a daemon before a crash) made the polls.
    # A feed failing 6 h or more at the upgrade is taken as told, as the code before judged it
    db.table("feeds").add_column("told_since", float)
    db.execute(
        "UPDATE feeds SET told_since = errors_since WHERE consecutive_errors > 0"
        " AND disabled_reason IS NULL AND last_attempt_at - errors_since >= 6 * 3600"
    )


@migrations()
def m036_notice_except_chat(db: Database) -> None:
    # the admin a notice for every admin is not sent to: the one who asked for what it tells
    # (/reload), answered already
    db.table("notices").add_column("except_chat", int)


@migrations()
def m037_feed_disabled_messages(db: Database) -> None:
    # why a feed was disabled as a message (a msgid of bot/locales and its values, JSON) beside
    # its English `disabled_reason`, as m034 keeps its error (NULL: the English alone)
    db.table("feeds").add_column("disabled_reason_message", str)


class NewerSchema(sqlite3.DatabaseError):
    """The database holds migrations this code does not know: a later kurilwatch wrote it."""


class OlderSchema(sqlite3.DatabaseError):
    """A command that only reads found the schema behind this code's, and left it as it is."""


def apply(db: Database, *, upgrade: bool = True) -> None:
    """Bring the schema up to date; refuse, changing nothing, a schema this code does not know
    (run by an older kurilwatch, its queries would fail on it or change it half-knowingly).
    Without `upgrade` (a command that only reads), refuse one behind instead: migrating it
    beside the older daemon still running on it, after an install and before its restart,
    would leave that daemon on a schema it does not know (an empty file is given the schema)."""
    unknown = unknown_migrations(db)
    if unknown:
        raise NewerSchema(
            f"written by a newer kurilwatch (its schema has {', '.join(unknown)}, which this"
            " one does not know); upgrade kurilwatch, or restore a backup taken before that"
            " newer version first ran"
        )
    if not upgrade and migrations.applied(db) and (behind := migrations.pending(db)):
        raise OlderSchema(
            f"written by an earlier kurilwatch ({len(behind)} schema"
            f" step{'' if len(behind) == 1 else 's'} behind this one);"
            " this command only reads and leaves it as it is: restart the daemon"
            " (`kurilwatch run`) or run `kurilwatch poll --once`, which bring it up to date,"
            " then run this again"
        )
    migrations.apply(db)


def unknown_migrations(db: Database) -> list[str]:
    """The migrations applied to this database that this code does not have (a newer one's)."""
    return [m.name for m in migrations.applied(db) if m.name not in _known()]


@cache
def _known() -> frozenset[str]:
    return frozenset(m.name for m in migrations.pending(Database(memory=True)))


def schema_version(db: Database) -> int:
    """The number of migrations applied to this database."""
    return len(migrations.applied(db))


def latest_version() -> int:
    return len(migrations.pending(Database(memory=True)))
