"""`kurilwatch feedback` and admin /feedback: the "Not relevant" presses of a period as the
relevance report (`watchers.relevance`), said in the reader's language."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TextIO

from bot.i18n import EN, Texts, listed
from bot.interrupt import open_store
from store import AsyncStore, FeedbackRow, Store
from store.base import no_store
from watchers.relevance import Complaint, TopicReport, relevance_report


def complaints(
    rows: Iterable[FeedbackRow], queries: Mapping[str, str]
) -> tuple[list[Complaint], dict[str, str]]:
    """The presses as the report's records, and the queries to explain them with: the topics',
    and those of the watches pressed on (a removed watch's presses count as unmatched)."""
    found: list[Complaint] = []
    explained = dict(queries)
    for row in rows:
        if row.topic is not None and row.watch_query is not None:
            explained.setdefault(row.topic, row.watch_query)
        found.append(
            Complaint(
                row.chat_id,
                row.item_id,
                row.topic,
                row.title,
                row.summary,
                row.link,
                lang=row.lang,
                feed_id=row.feed_id,
            )
        )
    return found, explained


def report_of(rows: Sequence[FeedbackRow], queries: Mapping[str, str]) -> list[TopicReport]:
    found, explained = complaints(rows, queries)
    return relevance_report(found, explained)


def report_lines(reports: Iterable[TopicReport], tr: Texts = EN, *, shown: int = 10) -> list[str]:
    """The report as plain text lines."""
    lines: list[str] = []
    for report in reports:
        name = report.topic_id or tr._("(no topic matches them now)")
        lines.append(
            tr.ngettext(
                "{topic}: {n} item marked not relevant",
                "{topic}: {n} items marked not relevant",
                len(report.items),
                topic=name,
            )
        )
        if report.terms:
            terms = listed(tr, (f"{term} ({n})" for term, n in report.terms[:8]))
            lines.append("  " + tr._("matched by: {terms}", terms=terms))
        if report.suggestion:
            lines.append(
                "  "
                + tr._(
                    "suggestion: add {exclusion} to the query (check its cost with kurilwatch"
                    " backtest)",
                    exclusion=report.suggestion,
                )
            )
        for flagged in report.items[:shown]:
            who = tr.ngettext("{n} chat", "{n} chats", flagged.chats)
            terms = listed(tr, flagged.terms) or tr._("no term")
            lines.append(f"  - {flagged.title} [{who}; {terms}]")
    return lines


def run_feedback(
    store_path: str | Path, queries: Mapping[str, str], days: int, out: TextIO = sys.stdout
) -> int:
    """`kurilwatch feedback [--days N]`."""
    absent = no_store(store_path)
    if absent:
        print(f"kurilwatch feedback: {absent}", file=sys.stderr)
        return 2
    since = datetime.now(UTC) - timedelta(days=days)
    with open_store(store_path, upgrade=False) as store:
        rows = store.feedback_rows(since)
    lines = report_lines(report_of(rows, queries))
    if not lines:
        lines = [
            EN.ngettext(
                "No 'Not relevant' press in the last {n} day.",
                "No 'Not relevant' press in the last {n} days.",
                days,
            )
        ]
    print("\n".join(lines), file=out)
    return 0


async def feedback_text(
    store: AsyncStore, queries: Mapping[str, str], since: datetime, tr: Texts
) -> list[str]:
    """/feedback's lines: the presses read on the store thread, matched on a worker thread."""
    rows = await store.run(Store.feedback_rows, since)
    reports = await asyncio.to_thread(report_of, rows, queries)
    return report_lines(reports, tr, shown=5)
