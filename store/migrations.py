"""Versioned schema migrations: one function per change, applied once each, in order."""

from __future__ import annotations

import sqlite3
from functools import cache

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from store.search import search_text

migrations = Migrations("kurilwatch")


@migrations()
def m001_initial(db: Database) -> None:
    db.table("feeds").create(
        {
            "id": str,
            "url": str,
            "title": str,
            "primed": int,
            "etag": str,
            "last_modified": str,
            "body_hash": str,
            "last_status": int,
            "last_error": str,
            "consecutive_errors": int,
            "last_attempt_at": float,
            "last_success_at": float,
            "next_poll_at": float,
        },
        pk="id",
        not_null={"url", "primed", "consecutive_errors"},
        defaults={"primed": 0, "consecutive_errors": 0},
    )
    db.table("items").create(
        {
            "id": int,
            "feed_id": str,
            "guid": str,
            "link": str,
            "canonical_url": str,
            "title": str,
            "summary": str,
            "published_at": float,
            "fetched_at": float,
            "story_id": int,
            "topics": str,  # JSON list of matched topic ids
        },
        pk="id",
        not_null={"feed_id", "guid", "title", "summary", "fetched_at", "topics"},
    )
    db.table("items").create_index(["feed_id", "guid"], unique=True)
    db.table("items").create_index(["canonical_url"])
    db.table("items").create_index(["story_id"])
    db.table("items").create_index(["fetched_at"])
    db.table("subscribers").create(
        {
            "chat_id": int,
            "chat_type": str,
            "title": str,
            "language_code": str,
            "active": int,
            "created_at": float,
            "updated_at": float,
            "inactive_reason": str,
        },
        pk="chat_id",
        not_null={"active", "created_at", "updated_at"},
    )
    db.table("subscriptions").create(
        {"chat_id": int, "topic_id": str, "created_at": float},
        pk=("chat_id", "topic_id"),
        not_null={"created_at"},
    )
    db.table("subscriptions").create_index(["topic_id"])
    db.table("outbox").create(
        {
            "id": int,
            "chat_id": int,
            "story_id": int,
            "item_id": int,
            "topics": str,
            "state": str,  # pending, sending, sent, failed, dropped
            "attempts": int,
            "next_attempt_at": float,
            "created_at": float,
            "sent_at": float,
            "message_id": int,
            "last_error": str,
        },
        pk="id",
        not_null={"chat_id", "story_id", "item_id", "topics", "state", "attempts", "created_at"},
        defaults={"attempts": 0},
    )
    db.table("outbox").create_index(["chat_id", "story_id"], unique=True)
    db.table("outbox").create_index(["state", "next_attempt_at"])


@migrations()
def m002_feed_health(db: Database) -> None:
    feeds = db.table("feeds")
    feeds.add_column("config_url", str)  # what the operator wrote; `url` follows 301s
    feeds.add_column("errors_since", float)  # start of the current run of errors
    feeds.add_column("disabled_at", float)
    feeds.add_column("disabled_reason", str)
    db.execute("UPDATE feeds SET config_url = url")


@migrations()
def m003_fingerprints(db: Database) -> None:
    items = db.table("items")
    items.add_column("fingerprint", str)
    items.create_index(["fingerprint", "fetched_at"])


@migrations()
def m004_story_updates(db: Database) -> None:
    outbox = db.table("outbox")
    outbox.add_column("also", str, not_null_default="[]")  # JSON list of further outlets
    outbox.add_column("edit_pending", int, not_null_default=0)
    outbox.create_index(["edit_pending"])


@migrations()
def m005_search(db: Database) -> None:
    # rows are added by the store (the indexed text is prepared in Python: store/search.py);
    # deleting an item, or compacting its text away, takes it out of the index
    db.execute(
        "CREATE VIRTUAL TABLE items_fts USING fts5(title, body,"
        " tokenize = 'unicode61 remove_diacritics 2')"
    )
    db.execute(
        "CREATE TRIGGER items_fts_delete AFTER DELETE ON items"
        " BEGIN DELETE FROM items_fts WHERE rowid = old.id; END"
    )
    db.execute(
        "CREATE TRIGGER items_fts_compact AFTER UPDATE OF title, summary ON items"
        " BEGIN DELETE FROM items_fts WHERE rowid = old.id; END"
    )
    rows = db.execute("SELECT id, title, summary FROM items WHERE title != '' OR summary != ''")
    db.conn.executemany(
        "INSERT INTO items_fts (rowid, title, body) VALUES (?, ?, ?)",
        ((i, search_text(title), search_text(summary)) for i, title, summary in rows),
    )


@migrations()
def m006_briefs(db: Database) -> None:
    items = db.table("items")
    items.add_column("brief", str, not_null_default="")  # the summary alerts show
    items.add_column("marks", str, not_null_default="[]")  # JSON: its words set in bold


@migrations()
def m007_notices(db: Database) -> None:
    # messages to the operators (telegram.admins): failed alerts, disabled feeds, bad reloads;
    # a row without chat_id is for every admin and is fanned out when the daemon sends it
    db.table("notices").create(
        {
            "id": int,
            "chat_id": int,
            "text": str,
            "state": str,  # pending, sending, sent, failed, dropped, fanned
            "attempts": int,
            "next_attempt_at": float,
            "created_at": float,
            "sent_at": float,
            "last_error": str,
        },
        pk="id",
        not_null={"text", "state", "attempts", "created_at"},
        defaults={"attempts": 0},
    )
    db.table("notices").create_index(["state", "next_attempt_at"])
    # the delivery worker reads the oldest due row of each chat
    db.table("outbox").create_index(["state", "chat_id", "next_attempt_at"])


@migrations()
def m008_chat_settings(db: Database) -> None:
    subscribers = db.table("subscribers")
    subscribers.add_column("timezone", str)  # IANA name; NULL: telegram.timezone
    subscribers.add_column(
        "digest", str, not_null_default=""
    )  # "", "daily 08:00", "weekly mon 08:00"
    subscribers.add_column("quiet", str, not_null_default="")  # "", "23:00-07:00 silent|hold"
    subscribers.add_column("muted_until", float)
    subscribers.add_column("hold_until", float)  # the sender's decision: nothing before then
    db.table("watches").create(
        {"id": int, "chat_id": int, "query": str, "created_at": float},
        pk="id",
        not_null={"chat_id", "query", "created_at"},
    )
    db.table("watches").create_index(["chat_id", "query"], unique=True)


@migrations()
def m009_search_progress(db: Database) -> None:
    # items are indexed for search in batches after they are stored (see Store.index_pending);
    # everything stored so far was indexed as it came
    db.execute(
        "CREATE TABLE search_progress (id INTEGER PRIMARY KEY CHECK (id = 1),"
        " indexed_to INTEGER NOT NULL)"
    )
    db.execute("INSERT INTO search_progress VALUES (1, (SELECT coalesce(max(id), 0) FROM items))")


@migrations()
def m010_outlets(db: Database) -> None:
    items = db.table("items")
    # the outlet an aggregator (Google News) item names, and the outlet's stable key (its host,
    # for own feeds too): NULL in items stored before, which count as their feed's
    items.add_column("outlet", str)
    items.add_column("outlet_key", str)


@migrations()
def m011_title_vectors(db: Database) -> None:
    # sentence vectors of matched items' titles (float16), for story clustering after a restart
    db.execute(
        "CREATE TABLE title_vectors (title TEXT PRIMARY KEY, vector BLOB NOT NULL,"
        " created_at REAL NOT NULL)"
    )
    db.execute("CREATE INDEX title_vectors_created_at ON title_vectors (created_at)")


@migrations()
def m012_watch_feed_tokens(db: Database) -> None:
    # a chat's watches as an Atom feed at /feeds/w/<token>.atom: the token is the secret;
    # forgetting the chat (/stop) forgets its token
    db.table("watch_feed_tokens").create(
        {"chat_id": int, "token": str, "created_at": float},
        pk="chat_id",
        not_null={"token", "created_at"},
    )
    db.table("watch_feed_tokens").create_index(["token"], unique=True)
    db.execute(
        "CREATE TRIGGER watch_feed_tokens_forget AFTER DELETE ON subscribers"
        " BEGIN DELETE FROM watch_feed_tokens WHERE chat_id = old.chat_id; END"
    )


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


class NewerSchema(sqlite3.DatabaseError):
    """The database holds migrations this code does not know: a later kurilwatch wrote it."""


def apply(db: Database) -> None:
    """Bring the schema up to date; refuse, changing nothing, a schema this code does not know
    (run by an older kurilwatch, its queries would fail on it or change it half-knowingly)."""
    unknown = unknown_migrations(db)
    if unknown:
        raise NewerSchema(
            f"written by a newer kurilwatch (its schema has {', '.join(unknown)}, which this"
            " one does not know); upgrade kurilwatch, or restore a backup taken before that"
            " newer version first ran"
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
