"""Parse a feed and derive what the pipeline needs of each item (the topics it matches, its
content fingerprint, story sketch and brief), and read article pages for full-text feeds; pure,
and run in the parse worker beside parsing, so that the daemon's own process only fetches,
clusters and stores.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from watchers.boilerplate import strip_boilerplate
from watchers.fingerprint import content_fingerprint
from watchers.items import MAX_SUMMARY, Item, ParsedFeed
from watchers.language import item_language
from watchers.story_sketch import Sketch, sketch
from watchers.summary import Brief, brief
from watchers.topics.compile import Match, TopicMatcher, TopicSpec, matcher_of
from watchers.topics.engine import Document
from watchers.topics.index import QueryIndex


@dataclass(frozen=True, slots=True)
class ItemFacts:
    topics: tuple[str, ...]
    fingerprint: str | None
    # only for items that match a topic (the others never alert):
    sketch: Sketch | None = None
    brief: str = ""  # the summary an alert shows
    marks: tuple[str, ...] = ()  # the matched words in it
    lang: str | None = None  # the item's language (en, ru, ja)


@dataclass(frozen=True, slots=True)
class ReadFeed:
    parsed: ParsedFeed
    facts: tuple[ItemFacts, ...]  # one per item of `parsed`, in order


# A ReadFeed crosses from a parse worker to the daemon as plain tuples: pickle stores a frozen
# dataclass field by field through its __setstate__, which took 0.3-0.45 ms of the daemon's CPU
# per 30-item feed; tuples, and the dataclasses built again from them, take 0.2 ms.
Wire = tuple[Any, ...]


def to_wire(read: ReadFeed) -> Wire:
    parsed = read.parsed
    return (
        parsed.title,
        [
            (
                i.feed_id,
                i.guid,
                i.link,
                i.canonical_url,
                i.title,
                i.summary,
                i.published,
                i.lang,
                i.outlet,
                i.outlet_key,
            )
            for i in parsed.items
        ],
        parsed.problem,
        parsed.warning,
        parsed.ttl,
        [
            (
                f.topics,
                f.fingerprint,
                None if f.sketch is None else f.sketch.wire(),
                f.brief,
                f.marks,
                f.lang,
            )
            for f in read.facts
        ],
    )


def from_wire(wire: Wire) -> ReadFeed:
    title, items, problem, warning, ttl, facts = wire
    return ReadFeed(
        ParsedFeed(title, tuple(Item(*item) for item in items), problem, warning, ttl),
        tuple(
            ItemFacts(
                topics,
                fingerprint,
                None if sketched is None else Sketch.unwire(sketched),
                brief,
                marks,
                lang,
            )
            for topics, fingerprint, sketched, brief, marks, lang in facts
        ),
    )


def item_facts(
    item: Item, matcher: TopicMatcher, lang: str | None = None, sketches: bool = True
) -> ItemFacts:
    """What matching, dedup and clustering need of an item; `lang` is its feed's `lang`;
    without `sketches`, a matched item's story sketch is left for the daemon to make."""
    language = item_language(item.title, item.summary, lang)
    doc = Document(
        {"title": item.title, "summary": item.summary, "content": ""},
        {"lang": language, "source": item.feed_id},
    )
    matches = matcher.match(doc, explain=True)
    topics = tuple(m.topic_id for m in matches)
    fingerprint = content_fingerprint(item.summary, doc.words("summary"))
    if not topics:
        return ItemFacts(topics, fingerprint, lang=language)
    summary = brief(item.summary, _summary_spans(matches))
    report = _sketch_of(item, doc) if sketches else None
    return ItemFacts(topics, fingerprint, report, summary.text, summary.marks, language)


def _sketch_of(item: Item, doc: Document) -> Sketch:
    title = doc.words("title")
    return sketch(item.title, item.summary, title + doc.words("summary"), len(title))


def _summary_spans(matches: Sequence[Match]) -> list[tuple[int, int]]:
    """Where the matched terms are in the summary: a phrase whole, not its first word."""
    return [
        (hit.offset, hit.offset if hit.end is None else hit.end)
        for match in matches
        for hit in match.hits
        if hit.field == "summary" and hit.offset is not None
    ]


def _brief_of(text: str, title: str, matcher: TopicMatcher) -> Brief:
    doc = Document({"title": title, "summary": text, "content": ""})
    return brief(text, _summary_spans(matcher.match(doc, explain=True)))


def with_watches(index: QueryIndex, item: Item, facts: ItemFacts) -> ItemFacts:
    """`facts` with the watches the item matches added to its topics; an item that matched
    only watches gets its story sketch and brief here."""
    doc = Document(
        {"title": item.title, "summary": item.summary, "content": ""},
        {"lang": facts.lang, "source": item.feed_id},
    )
    matched = index.match(doc)
    if not matched:
        return facts
    topics = facts.topics + tuple(m.topic_id for m in matched)
    if facts.sketch is not None:
        return replace(facts, topics=topics)
    made = brief(item.summary, _summary_spans(index.match(doc, explain=True)))
    report = _sketch_of(item, doc)
    return ItemFacts(topics, facts.fingerprint, report, made.text, made.marks, facts.lang)


_SENTENCE_ENDS = (".", "!", "?", "…", "。", "！", "？", '"', "»", "」")


def read_article(content: bytes, *, url: str, title: str, spec: TopicSpec) -> Brief | None:
    """The brief of an article page's main text (trafilatura), or None if it has none."""
    import trafilatura  # only feeds with full_text load it

    try:
        text = trafilatura.extract(
            content, url=url, include_comments=False, include_tables=False, favor_precision=True
        )
    except Exception:
        return None
    if not text:
        return None
    first, _, rest = text[:MAX_SUMMARY].partition("\n")
    if rest and len(first) <= 200 and not first.rstrip().endswith(_SENTENCE_ENDS):
        text = rest  # the page's headline, which the alert's title already says
    made = _brief_of(strip_boilerplate(text, title), title, matcher_of(spec))
    return made if made.text else None


def read_feed(
    content: bytes,
    *,
    feed_id: str,
    url: str,
    headers: Mapping[str, str],
    spec: TopicSpec,
    lang: str | None = None,
    sketches: bool = True,
) -> ReadFeed:
    # here, not at the top: the daemon's own process imports this module but never parses, and
    # feedparser is 40 ms of its start
    from watchers.parse import parse_feed

    parsed = parse_feed(content, feed_id=feed_id, url=url, headers=headers)
    matcher = matcher_of(spec)  # compiled once per worker and topic set
    return ReadFeed(
        parsed, tuple(item_facts(item, matcher, lang, sketches) for item in parsed.items)
    )


def read_feed_wire(
    content: bytes,
    *,
    feed_id: str,
    url: str,
    headers: Mapping[str, str],
    spec: TopicSpec,
    lang: str | None = None,
    sketches: bool = True,
) -> Wire:
    """`read_feed` for a parse worker: its result as `to_wire` gives it."""
    return to_wire(
        read_feed(
            content,
            feed_id=feed_id,
            url=url,
            headers=headers,
            spec=spec,
            lang=lang,
            sketches=sketches,
        )
    )
