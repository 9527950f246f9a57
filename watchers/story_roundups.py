"""Roundups: titles that list unrelated subjects under a column's label, or a digest's by
its phrasing and day (`is_roundup`); such a report belongs to no story."""

from __future__ import annotations

import re

# A roundup (a digest, a market column) lists unrelated subjects under a column's label
# ("Stocks to Watch: American Eagle Outfitters (AEO), Himax Technologies, Inc", "Option Clips:
# Citigroup Inc, McDonald's, and American Eagle Outfitters") or is a digest by its phrasing and
# day ("M&A Chatter for Tuesday", "Главное к утру", "主なニュース"): it tells no story of its own.
# Two named parties of one event are no list ("American Airlines, JetBlue End Partnership"):
# a list is the whole of what follows a label, and either a subject carries a market mark (a
# ticker, an exchange, Inc) or the label is a digest's; or three marks anywhere.
_EXCHANGE = (
    r"(?:NYSE(?:\s?(?:MKT|Arca|American))?|NASDAQ(?:GS|GM|CM)?|Nasdaq|AMEX|NYSEARCA|NYSEMKT"
    r"|OTC(?:BB|QB|QX|MKTS|PK)?|TSXV?|LSE|ASX|HKEX|TYO)"
)
_MARK = re.compile(
    rf"\(?\b{_EXCHANGE}\s?:\s?[A-Z][A-Z0-9.\-]{{0,7}}\)?"  # NYSE:AEO, (NASDAQ:RGSE)
    rf"|\(\s?{_EXCHANGE}\b[^)]*(?:\)|$)"  # (NYSE ... cut short
    r"|\([A-Z]{1,5}(?:\.[A-Z])?\)"  # (AEO), (ADR)
)
# a company's form after a comma belongs to the name before it ("Real Goods Solar, Inc.")
_FORM_AFTER_COMMA = re.compile(r",\s*((?:Inc|Corp|Co|Ltd|LLC|PLC|plc|LP|L\.P|N\.V|S\.A|AG)\b\.?)")
_FORM = re.compile(r"^(?:Inc|Corp|Co|Ltd|LLC|PLC|plc|LP|L\.P|N\.V|S\.A|AG)\.?$")
_LABEL = re.compile(r"^\s*(?P<label>[^:\n]{2,40}?)(?::\s+|\s+[-–—]{1,2}\s+)(?P<rest>.+)$")
_CUT_SHORT = re.compile(r"\s*(?:\.{3}|…)\s*$")
_LIST_SEPARATOR = re.compile(r"\s*(?:[,;、，])\s*(?:(?:and|и)\s+)?|\s+(?:and|и)\s+")
_NAME_PART = re.compile(r"(?:[A-ZА-ЯЁ0-9]|[a-z][A-Z])[\w.'’&\-]*|&|of|de|du|la|von|van|der|the")
_CJK_NAME = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff\uff66-\uff9f]{1,12}")
_DIGEST_LABEL = re.compile(
    r"\b(?:buzz\w*|movers|to watch|watch ?list|clips|chatter|round-?up|wrap(?:-?up)?|recap"
    r"|digest|briefing|briefs?|highlights|headlines|top stories|in brief|newsmakers|hot stocks"
    r"|gainers|losers|главн\w*|итоги|дайджест|коротко|вкратце)\b|まとめ|主な|ダイジェスト|ニュース",
    re.IGNORECASE,
)
_WEEKDAY = "monday|tuesday|wednesday|thursday|friday|saturday|sunday"
_MONTH = "january|february|march|april|may|june|july|august|september|october|november|december"
_DIGEST = re.compile(
    r"\b(?:morning|midday|mid-day|afternoon|evening|overnight|weekend|weekly|daily|pre-?market"
    r"|after-?hours)\s+(?:buzz\w*|movers|briefing|round-?up|wrap(?:-?up)?|digest|headlines"
    r"|chatter|recap|highlights)\b"
    r"|\b(?:buzz|chatter|round-?up|recap|digest|briefing|wrap(?:-?up)?|highlights|headlines"
    rf"|top stories|top news|movers)\s+(?:for|of|on)\s+(?:the\s+)?(?:{_WEEKDAY}|{_MONTH}|today"
    r"|tonight|yesterday|day|week|weekend|this week)\b"
    # Russian digests open the title, with a time or a day or alone before a colon
    r"|^\W*(?:главное|главные\s+(?:новости|события)|итоги|новости)"
    r"(?:\s+(?:к\s+(?:утру|вечеру|обеду)|за\s+(?:день|сутки|неделю|выходные|\d{1,2}\s+[а-я]+)"
    r"|на\s+(?:утро|вечер)|дня|часа|недели|суток|месяца|года|\d{1,2}\s+[а-я]+))"
    r"(?:\s+\d{1,2}\s+[а-я]+)?\s*(?:[:.\-–—]|$)"
    r"|^\W*(?:главное|главные\s+новости)\s*(?::|$)|^\W*дайджест\b|^\W*коротко\s+о\s+главном"
    r"|主なニュース|主要ニュース|ニュース\s*まとめ|ニュース\s*ダイジェスト|(?:きょう|今日|本日)のニュース",
    re.IGNORECASE,
)
ROUNDUP_MARKS = 3  # market marks anywhere that make a title a list of companies


def _listed(rest: str) -> tuple[int, bool] | None:
    """The subjects `rest` lists, and whether one carries a market mark, if the whole of it is
    a list of names (capitalised words, or short Japanese ones); None if not."""
    rest = _FORM_AFTER_COMMA.sub(r" \1", _CUT_SHORT.sub("", rest))
    items = [item for item in _LIST_SEPARATOR.split(rest) if item.strip()]
    marked = False
    for item in items:
        bare = _MARK.sub(" ", item)
        marked = marked or bare != item
        parts = bare.split()
        if not 1 <= len(parts) <= 6:
            return None
        if any(_FORM.match(p) for p in parts):
            marked = True
        if not all(_NAME_PART.fullmatch(p) or _CJK_NAME.fullmatch(p) for p in parts):
            return None
    return len(items), marked


def is_roundup(title: str) -> bool:
    """Whether a title is a roundup's: a column label over a list of two or more subjects,
    marked as market news or under a digest's label; three market marks; or a digest's phrasing
    with its day or time of day ("Главное к утру", "Benzinga's M&A Chatter for Tuesday")."""
    if _DIGEST.search(title) or len(_MARK.findall(title)) >= ROUNDUP_MARKS:
        return True
    labelled = _LABEL.match(title)
    if labelled is None or len(labelled["label"].split()) > 5:
        return False
    listed = _listed(labelled["rest"])
    return (
        listed is not None
        and listed[0] >= 2
        and (listed[1] or _DIGEST_LABEL.search(labelled["label"]) is not None)
    )
