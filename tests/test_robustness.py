"""Every file of ../shared/corpus goes through the parse stage: items or an error, never an
exception; entity bombs neither expand nor read local files."""

from __future__ import annotations

import resource
from datetime import UTC
from pathlib import Path

import pytest

from tests.conftest import shared, shared_names
from watchers.parse import parse_feed


def files(folder: str) -> list[Path]:
    corpus = shared(f"corpus/{folder}")
    return sorted(p for p in corpus.rglob("*") if p.is_file() and p.name != "LICENSE")


@pytest.mark.parametrize("folder", ["feedparser", "news-feeds"])
def test_every_corpus_file_gives_items_or_an_error(folder: str) -> None:
    paths = files(folder)
    assert len(paths) >= (2000 if folder == "feedparser" else 4)
    outcomes = {"items": 0, "error": 0, "empty feed": 0}
    for path in paths:
        parsed = parse_feed(path.read_bytes(), feed_id="c", url="http://c.example/feed")
        for item in parsed.items:
            assert item.feed_id == "c" and item.guid and item.title.strip(), path
            assert len(item.summary) <= 20_000, path
            assert item.link is None or item.link.startswith(("http://", "https://")), path
            assert item.published is None or item.published.tzinfo is UTC, path
        if parsed.error:
            assert not parsed.items and parsed.error.startswith("not a feed"), path
            # a well-formed feed is never "not a feed", bar a CDF channel (it has no items)
            assert "wellformed" not in path.parts or "cdf" in path.parts, (path, parsed.error)
        outcomes["items" if parsed.items else "error" if parsed.error else "empty feed"] += 1
    assert sum(outcomes.values()) == len(paths)
    assert outcomes["items"] >= len(paths) // 4, outcomes


def test_real_news_feeds_parse_into_items() -> None:
    for path in files("news-feeds"):
        parsed = parse_feed(path.read_bytes(), feed_id="n", url="http://n.example/feed")
        assert parsed.error is None and len(parsed.items) >= 5, path
        assert all(item.title and "\ufffd" not in item.title for item in parsed.items), path


@pytest.mark.parametrize("name", shared_names("corpus/adversarial"))
def test_entity_bombs_do_not_expand_or_read_files(name: str) -> None:
    content = (shared("corpus/adversarial") / name).read_bytes()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    parsed = parse_feed(content, feed_id="a", url="http://a.example/feed")  # CPU: bench/bombs.py
    assert (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024 < 50
    text = " ".join(i.title + " " + i.summary for i in parsed.items)
    assert len(text) < 10 * len(content)
    assert "lollollol" not in text
    hostname = Path("/etc/hostname").read_text().strip() if Path("/etc/hostname").exists() else ""
    if hostname:
        assert hostname not in text.replace("X&xxe;X", "")


def test_a_utf16_billion_laughs_is_defused_too() -> None:
    doc = (
        '<?xml version="1.0" encoding="utf-16"?>\n<!DOCTYPE rss [<!ENTITY a "aaaaaaaaaa">'
        + "".join(
            f'<!ENTITY {c} "{("&" + p + ";") * 10}">'
            for p, c in zip("abcdefg", "bcdefgh", strict=False)
        )
        + ']><rss version="2.0"><channel><title>t</title><item><title>&h;</title>'
        "<guid>1</guid></item></channel></rss>"
    )
    parsed = parse_feed(doc.encode("utf-16"), feed_id="u", url="http://u.example/")
    assert all(len(i.title) < 100 for i in parsed.items)
