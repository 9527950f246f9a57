"""A report in the story index (`watchers.stories.StoryIndex`): its tokens, script, title and
the keys it is found by across languages, with its sketch made when a lookup first needs it."""

from __future__ import annotations

from datetime import datetime

from watchers.story_bridge import ACTOR_LEXICON, bridge_keys
from watchers.story_facts import numbers
from watchers.story_places import places
from watchers.story_roundups import is_roundup
from watchers.story_sketch import Sketch, is_local, sketch, title_bridges, title_places
from watchers.story_words import script_of, story_tokens, wire_slug
from watchers.topics.normalise import WORD, normalise

LOCAL_KEY = "~local"  # the key of every report of the islands' news


class Entry:
    """A report in the index. One added by its text alone (`StoryIndex.add_text`) is sketched
    when a lookup first weighs it: most reports of a first poll never are."""

    __slots__ = (
        "_report", "_text", "at", "bridges", "item_id", "roundup", "script", "story_id", "title",
        "tokens",
    )  # fmt: skip

    def __init__(
        self,
        item_id: int,
        story_id: int,
        at: datetime,
        report: Sketch | None = None,
        text: tuple[str, str] = ("", ""),
    ) -> None:
        self.item_id, self.story_id, self.at = item_id, story_id, at
        self._report, self._text = report, text
        if report is None:
            title, summary = text
            title = title[wire_slug(title) :]
            whole = f"{title}\n{summary}"
            words = WORD.findall(normalise(whole))
            self.tokens, self.script = story_tokens(title, summary, words), script_of(whole)
            self.title = title.strip()
            self.roundup = is_roundup(title)
            heading = WORD.findall(normalise(title))
            kinds, actors = title_bridges(title, heading)
            islands = title_places(title, heading)
            self.bridges = bridge_keys(kinds, actors, islands, numbers(title))
            # as its sketch will say (`story_sketch.sketch`), from its whole text
            if is_local(places(whole) | islands, ACTOR_LEXICON.find(words) | actors, words):
                self.bridges |= {LOCAL_KEY}
        else:
            self.tokens, self.script, self.title = report.tokens, report.script, report.title
            self.roundup = report.roundup
            self.bridges = bridge_keys(
                report.kinds, report.title_actors, report.title_places, report.title_numbers
            )
            if report.local:
                self.bridges |= {LOCAL_KEY}

    @property
    def report(self) -> Sketch:
        if self._report is None:
            self._report, self._text = sketch(*self._text), ("", "")
        return self._report
