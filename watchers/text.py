"""Plain text from feed HTML, cutting text to a length at a word boundary, and a count with
its noun and a delay written short for the operator's lines."""

from __future__ import annotations

import html
import html.parser
import re
from datetime import timedelta
from html.parser import HTMLParser

_BLOCK_TAGS = frozenset(
    {
        "p",
        "div",
        "br",
        "li",
        "ul",
        "ol",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "tr",
        "blockquote",
        "section",
        "article",
        "header",
        "footer",
        "table",
        "pre",
        "hr",
        "figure",
        "figcaption",
    }
)
_SKIP_TAGS = frozenset({"script", "style", "noscript", "template", "iframe", "object", "svg"})
_SPACES = re.compile(r"[ \t\r\f\v\u00a0\u200b]+")
# what no reader of a feed's text wants and a terminal obeys: control characters (an escape
# sequence that retitles the console-mode operator's window or recolours what follows) and the
# overrides that turn the rest of a line around in an alert
_CONTROLS = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x9f\u202a-\u202e]")
_BLANK_LINES = re.compile(r"\n\s*\n+")


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_TAGS:
            self._skip += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCK_TAGS:  # <br/> is one line break, not two
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS:
            self._skip = max(0, self._skip - 1)
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)\b[^<>]*>")
# what the regex path would get wrong: elements whose content is hidden, comments and CDATA,
# and a ">" inside a quoted attribute value
_TRICKY = re.compile(
    r"<(?:script|style|noscript|template|iframe|object|svg)\b|<!|=\s*[\"'][^\"'<>]*>",
    re.IGNORECASE,
)


def _tag(match: re.Match[str]) -> str:
    return "\n" if match.group(2).lower() in _BLOCK_TAGS else ""


def html_to_text(markup: str) -> str:
    """Visible text of an HTML fragment: tags and scripts dropped, paragraphs kept as lines."""
    if "<" not in markup and "&" not in markup:
        return tidy(markup)
    if "<" not in markup:
        return tidy(html.unescape(markup))
    if not _TRICKY.search(markup):
        # plain tags only (most feed summaries): a linear regex does what the parser would
        return tidy(html.unescape(_TAG.sub(_tag, markup)))
    return _careful_html_to_text(markup)


def defused(markup: str) -> str:
    """`markup` with the "<" that can open nothing written as "&lt;", which the parser reads
    alike: a "<" after the last ">", and an unclosed "<!--" (after the last "-->") to the
    next ">". The parser looks for the end of each of those to the end of the text, again and
    again: a feed's summary of "<!--" repeated took minutes. Markup with raw text (a script)
    or a "<![" section, where an escape could move an end, is left as it is: the parse limit
    of `watchers.pool` bounds it."""
    if _RAW_OR_SECTION.search(markup):
        return markup
    last = markup.rfind(">")
    if last + 1 < len(markup) and "<" in markup[last + 1 :]:
        markup = markup[: last + 1] + markup[last + 1 :].replace("<", "&lt;")
    if "<!--" in markup:
        start = max((found.end() for found in _COMMENT_CLOSE.finditer(markup)), default=0)
        if "<!--" in markup[start:]:  # read as text to the next ">", as the parser ends it
            escaped = _UNCLOSED.sub(lambda found: found[0].replace("<", "&lt;"), markup[start:])
            markup = markup[:start] + escaped
    return markup


# how the parser ends a comment ("-->", "-- >" on Python 3.11), and an unclosed one
_COMMENT_CLOSE = getattr(html.parser, "commentclose", re.compile(r"--\s*>"))
_UNCLOSED = re.compile(r"<!--[^>]*>?")
_RAW_OR_SECTION = re.compile(
    "<!\\[|<(?:" + "|".join(sorted(_SKIP_TAGS)) + r"|textarea|title|xmp|plaintext)\b",
    re.IGNORECASE,
)


def _careful_html_to_text(markup: str) -> str:
    markup = defused(markup)
    parser = _TextExtractor()
    try:
        parser.feed(markup)
        parser.close()
    except AssertionError:
        # Python 3.11's html.parser asserts on some malformed "<![" markup
        if "<![" not in markup:
            raise
        return _careful_html_to_text(markup.replace("<![", "&lt;!["))
    return tidy("".join(parser.parts))


def tidy(text: str) -> str:
    """Collapse runs of spaces, keep single blank lines between paragraphs."""
    if "\n" not in text:
        return _collapse(text)
    lines = [_collapse(line) for line in text.split("\n")]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def _collapse(line: str) -> str:
    # a line with single plain spaces only (most) has nothing to collapse, and the regex
    # would replace each of its spaces by itself; tabs, NBSP and the like are not printable
    if "  " not in line and line.isprintable():
        return line.strip()
    return _SPACES.sub(" ", _CONTROLS.sub("", line)).strip()


def one_line(text: str) -> str:
    if not text.isprintable():
        text = _CONTROLS.sub("", text)
    return " ".join(text.split())


def printable_line(text: str, limit: int = 300) -> str:
    """A server's words (an error) as one line of at most `limit` characters that a terminal
    shows as it is: line breaks and white space as single spaces, other characters that are
    not printable written as escapes (an escape sequence as `\\x1b[2J`, not obeyed)."""
    text = " ".join(text.split())
    if not text.isprintable():
        text = "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)
    return text[:limit]


def shorten(text: str, limit: int, ellipsis: str = "…") -> str:
    """At most `limit` characters, cut at a word boundary with an ellipsis when cut."""
    if len(text) <= limit:
        return text
    if limit <= len(ellipsis):
        return ""
    room = max(0, limit - len(ellipsis))
    cut = text[:room]
    space = cut.rfind(" ")
    if space > room // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:-–—") + ellipsis


def counted(n: int, one: str, many: str) -> str:
    """`1 entry`, `2 entries`, `0 entries`: a count in the operator's English (log lines,
    `kurilwatch` commands); what chats read counts with `Texts.ngettext`."""
    return f"{n} {one if n == 1 else many}"


def short(delay: timedelta) -> str:
    """A delay as the log writes it: 45s, 12m, 3.5h, 2.0d."""
    seconds = delay.total_seconds()
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m"
    if seconds < 172800:
        return f"{seconds / 3600:.1f}h"
    return f"{seconds / 86400:.1f}d"
