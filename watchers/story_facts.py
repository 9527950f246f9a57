"""The numbers and calendar days a report writes, and when two reports' numbers are one
quantity: what `watchers.stories` compares to tell two events apart."""

from __future__ import annotations

import re
import unicodedata

# "40,000" and "40 000" are forty thousand (a comma before three digits separates thousands
# in English and Japanese; Russian writes a decimal comma before one or two), and so are
# "40 тысяч", "40 thousand" and 4万: one quantity in every language. Digits after a space
# are not grouped to a number that follows a letter or a hyphen ("M6 100 km", "Ту-154 300",
# 震度4 300人, where a space divides a Japanese title's phrases).
_NUMBER = re.compile(
    r"(\d{1,3}(?:,\d{3})+(?:\.\d+)?(?![\d,])"
    r"|(?<![^\W_]|[.,-])\d{1,3}(?: \d{3})+(?![\d.,])"
    r"|\d+(?:[.,]\d+)?)"
    r"(千|万|億|割"
    r"|\s?(?:тыс[а-яё]*|млн|миллион[а-яё]*|млрд|миллиард[а-яё]*"
    r"|thousands?|millions?|billions?)(?![а-яёa-z]))?"
)
# "4万3000" and "1億2000万" are one number each (43,000 and 120,000,000), as Japanese writes them
_COMPOUND = re.compile(r"(?<![\d.,])(\d+)(億|万)((?:\d{1,4}万)?(?:\d千)?\d{0,4})(?!\d)")
_COMPOUND_REST = re.compile(r"(?:(\d{1,4})万)?(?:(\d)千)?(\d{0,4})")
# A time of day is a fact of its own, not a quantity: "震度2" is not the 2 of "午後2時40分".
_CLOCK = re.compile(
    r"(?P<half>午前|午後)?(?<![\d.])(?P<h>\d{1,2})時(?!間|点)(?:(?P<m>\d{1,2})分|(?P<m30>半))?"
    r"|(?<![\d.:])(?P<h2>\d{1,2})(?::(?P<m2>\d{2}))?\s*(?P<ap>[ap])\.?m\b\.?"
    r"|(?<![\d.:])(?P<h3>\d{1,2}):(?P<m3>\d{2})(?![\d:])"
    r"|\bв\s+(?P<h4>\d{1,2})\s+час(?:а|ов)?\b(?:\s+(?P<m4>\d{1,2})\s+минут)?"  # not "3 часа"
)
# what every time of day above holds: most texts have none, and this scan is cheap
_MAY_CLOCK = re.compile(r"\d(?:時|:\d|\s*[ap]\.?m\b|\s+час)")
_MULTIPLIERS = {"割": 10, "千": 1_000, "万": 10_000, "億": 100_000_000}  # 6割 is 60%
_WORD_MULTIPLIERS = {
    "тыс": 1_000, "thousand": 1_000, "млн": 1_000_000, "миллион": 1_000_000,
    "million": 1_000_000, "млрд": 1_000_000_000, "миллиард": 1_000_000_000,
    "billion": 1_000_000_000,
}  # fmt: skip


def plain(text: str) -> str:
    """NFKC and casefolded, but kanji as written: `normalise` makes the 一 of 一蹴 or 統一 a 1."""
    return unicodedata.normalize("NFKC", text).casefold()


def _compound(match: re.Match[str]) -> str:
    head, unit, rest = match.groups()
    parts = _COMPOUND_REST.fullmatch(rest)
    if not rest or parts is None or (unit == "万" and parts[1]):
        return match[0]
    man, sen, ones = (int(part or 0) for part in parts.groups())
    below = man * 10_000 + sen * 1_000 + ones
    return str(int(head) * _MULTIPLIERS[unit] + below) if below < _MULTIPLIERS[unit] else match[0]


def numbers(text: str) -> frozenset[str]:
    """The numbers a text writes in digits (5.9 and 5,9 alike; full-width digits too; 5千 as
    5000, as Japanese writes round numbers, 4万3000 as 43000, and 6割 as 60), and its times of
    day as "14:40" ("午後2時40分", "2:40 p.m.", "в 14 часов 40 минут")."""
    found: set[str] = set()

    def clock(match: re.Match[str]) -> str:
        time = _clock(match)
        if time is None:  # 25:23 is a score
            return match[0]
        found.add(time)
        return " "

    folded = plain(text)
    if _MAY_CLOCK.search(folded):
        folded = _CLOCK.sub(clock, folded)
    if "万" in folded or "億" in folded:
        folded = _COMPOUND.sub(_compound, folded)
    for digits, multiplier in _NUMBER.findall(folded):
        if re.fullmatch(r"\d{1,3}(?:[, ]\d{3})+(?:\.\d+)?", digits):
            digits = digits.replace(",", "").replace(" ", "")
        number = digits.replace(",", ".")
        if multiplier:
            word = multiplier.strip()
            factor = _MULTIPLIERS.get(word) or next(
                f for w, f in _WORD_MULTIPLIERS.items() if word.startswith(w)
            )
            value = float(number) * factor
            number = str(int(value)) if value.is_integer() else str(value)
        found.add(number)
    return frozenset(found)


# an earthquake's magnitude: "M6.2", "Mw 6.4", "М5,1", "magnitude 5.4", "magnitude-6",
# "6.1-magnitude", "магнитудой 5,1", "マグニチュード6", "マグニチュード（Ｍ）６．２"
_ONE = r"(\d(?:[.,]\d)?)(?!\d|[.,]\d)"  # 0-9.9: "magnitude 10" is none
_MAGNITUDE = re.compile(
    r"(?<![a-zа-яё])[mм]w?\s*(\d[.,]\d)(?!\d|[.,]\d)"  # with its tenth: "M1 motorway" is none
    rf"|(?:magnitude|магнитуд[а-яё]{{0,3}}|マグニチュード(?:\(m\))?)[\s-]*{_ONE}"
    r"|(?<![\d.,])(\d[.,]\d)[\s-]*magnitude"
)


# an earlier quake a title recalls beside its own ("M4.6 aftershock hours after M5.6 quake",
# "спустя час после толчка магнитудой 5,6", "M5.6の地震の後"): words before it, or after it in
# Japanese, that set it back
_RECALLED_BEFORE = re.compile(r"(?:\b(?:after|following|since)|\bпосле|вслед за)\b[^.;:]*$")
_RECALLED_AFTER = re.compile(r"^\S{0,8}?(?:の後|後に|から|に続)")


def magnitudes(text: str) -> frozenset[str]:
    """The magnitudes a text gives its own quakes, to a tenth ("6.0" for "M6.0" and
    "магнитудой 6" alike): not an earlier quake it recalls beside one of its own."""
    folded = plain(text)
    own: set[str] = set()
    recalled: set[str] = set()
    end = 0
    for match in _MAGNITUDE.finditer(folded):
        value = f"{float(next(filter(None, match.groups())).replace(',', '.')):.1f}"
        back = _RECALLED_BEFORE.search(folded[end : match.start()]) is not None
        ahead = _RECALLED_AFTER.search(folded[match.end() :]) is not None
        (recalled if back or ahead else own).add(value)
        end = match.end()
    return frozenset(own or recalled)


def _clock(match: re.Match[str]) -> str | None:
    hour = int(match["h"] or match["h2"] or match["h3"] or match["h4"])
    minute = (
        30 if match["m30"] else int(match["m"] or match["m2"] or match["m3"] or match["m4"] or 0)
    )
    if (match["half"] == "午後" or match["ap"] == "p") and hour < 12:
        hour += 12
    elif match["ap"] == "a" and hour == 12:
        hour = 0
    return f"{hour}:{minute:02d}" if hour <= 24 and minute < 60 else None


_MONTHS = (
    ("january|jan", "январ[яь]"), ("february|feb", "феврал[яь]"), ("march|mar", "марта?"),
    ("april|apr", "апрел[яь]"), ("may", "ма[йя]"), ("june|jun", "июн[яь]"),
    ("july|jul", "июл[яь]"), ("august|aug", "августа?"), ("september|sept|sep", "сентябр[яь]"),
    ("october|oct", "октябр[яь]"), ("november|nov", "ноябр[яь]"), ("december|dec", "декабр[яь]"),
)  # fmt: skip
_MONTH_NUMBER = [re.compile(f"(?:{en}|{ru})$") for en, ru in _MONTHS]
_MONTH = "(?:" + "|".join(f"{en}|{ru}" for en, ru in _MONTHS) + r")\.?(?![a-zа-яё])"
_DATE = re.compile(
    rf"\b(?P<d1>\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?(?P<m1>{_MONTH})"
    rf"|\b(?P<m2>{_MONTH})\s+(?P<d2>\d{{1,2}})(?!\d)"
    r"|(?P<m3>\d{1,2})月(?P<d3>\d{1,2})日"
)


def _month(word: str) -> int:
    if word.isdigit():
        return int(word)
    word = word.rstrip(".")
    return next(i for i, month in enumerate(_MONTH_NUMBER, 1) if month.match(word))


def dates(text: str) -> frozenset[tuple[int, int]]:
    """The calendar days a text names, as (month, day): "8 ноября", "Nov. 8", "11月8日"."""
    found = set()
    for match in _DATE.finditer(plain(text)):
        month = match["m1"] or match["m2"] or match["m3"]
        day = int(match["d1"] or match["d2"] or match["d3"])
        if 1 <= day <= 31 and 1 <= (number := _month(month)) <= 12:
            found.add((number, day))
    return frozenset(found)


# the day of the month a Japanese lead dates its event by, leaving the month unsaid:
# "北海道電力は5日、", "6日の閣議後", "3日夜" (not "3日間", "2日連続", "10日ぶり", "11月8日")
_LEAD_DAY = re.compile(
    r"(?<![\d月年/.~〜-])(\d{1,2})日(?=、|,|の(?!間|うち)|に|は|夜|朝|未明|午前|午後|夕方|昼|深夜)"
)


def lead_days(text: str) -> frozenset[int]:
    """The days of this month a Japanese text dates events by ("5日、" is 5)."""
    return frozenset(d for d in map(int, _LEAD_DAY.findall(plain(text))) if 1 <= d <= 31)


def same_quantity(a: str, b: str) -> bool:
    """One quantity: the same number, a round one and another within 5% of it ("about 2,000
    tonnes" for 2,050), or the same in units a thousand apart (2.5 km for 2,500 m)."""
    if a == b:
        return True
    if ":" in a or ":" in b:  # a time of day is that time or another
        return False
    x, y = float(a), float(b)
    if x == y:  # 5.0 and 5
        return True
    if min(x, y) <= 0:
        return False
    ratio = max(x, y) / min(x, y)
    round_ = any(v >= 1000 and v % 100 == 0 for v in (x, y))
    return (round_ and ratio <= 1.05) or abs(ratio - 1000) < 1e-6 * ratio


def quantities_agree(title: frozenset[str], text: frozenset[str]) -> bool:
    """Every number of a title is a quantity the other report gives too."""
    return title <= text or all(any(same_quantity(n, m) for m in text) for n in title)
