"""The schema's first migrations (m001-m012: the tables and columns of the first sessions);
`store/migrations.py` registers the later ones on the same `migrations`, after these."""

from __future__ import annotations

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
