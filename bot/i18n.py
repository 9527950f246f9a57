"""The bot's languages: gettext catalogues (managed with Babel) and `Texts`, one language's voice.

Messages are English msgids in the code, marked with `tr._(...)`, `tr.ngettext(...)` or `N_(...)`
and `Plural.ngettext(...)` (for texts defined before a language is known; their values may be
said in the reader's language too: `Said`, `Joined`, `Number`, `Span`). The catalogues are
`bot/locales/<lang>/LC_MESSAGES/kurilwatch.po`; `make locales` extracts and updates them.
A compiled `.mo` beside a `.po` is used when it is newer; otherwise the `.po` is compiled in
memory with Babel's API, so a fresh clone works with only Python (the `.mo` files are build
output and not committed).
"""

from __future__ import annotations

import functools
import gettext
import io
import json
import string
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Literal, Protocol, get_args

from babel import Locale
from babel.dates import format_date, format_datetime, get_day_names
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal, format_percent
from babel.units import format_unit

LANGUAGES = ("en", "ru", "ja")
DOMAIN = "kurilwatch"
LOCALES = Path(__file__).parent / "locales"
LANGUAGE_NAMES = {"en": "English", "ru": "Русский", "ja": "日本語"}


FULL_STOPS = ("。", "！", "？")  # a sentence ends at these with no space after it
QUOTED = 60  # characters of a user's own words that a reply quotes back, at most


def cut(text: str) -> str:
    """A user's words as a reply quotes them back: at most `QUOTED` characters. (A 4,000
    character argument of '&', each escaped to five, came back as five messages.)"""
    return text if len(text) <= QUOTED else text[: QUOTED - 1] + "…"


# a user's words quoted as each language quotes: Russian «x», Japanese 「x」 (English: 'x',
# as Python writes a string)
QUOTES = {"ru": ("«", "»"), "ja": ("「", "」")}


def quoted(*values: str, tr: Texts | None = None) -> str:
    """'x', 'y': a user's words in `tr`'s quotation marks («x» in Russian, 「x」 in Japanese;
    English's without one), listed as it lists and cut as `cut` does, their closing quote
    kept. What would not show (a direction control, a newline) is written as Python escapes
    it."""
    marks = QUOTES.get((tr or EN).lang)
    each = (repr(v) if marks is None else f"{marks[0]}{_shown(v)}{marks[1]}" for v in values)
    text = listed(tr or EN, each)
    return text if len(text) <= QUOTED else text[: QUOTED - 2] + "…" + text[-1]


def _shown(text: str) -> str:
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


@dataclass(frozen=True, slots=True)
class Quoted:
    """A user's words, quoted in the reader's way once the reader is known (a `SettingError`'s
    value, a config error's); as text, quoted as English quotes, or as `english` writes them
    where a message's English was written otherwise (`kurilwatch check`'s lines: their quotes
    and cuts are pinned)."""

    words: str
    english: str | None = None

    def __str__(self) -> str:
        return self.said(EN)

    def said(self, tr: Texts) -> str:
        if self.english is not None and tr.lang == "en":
            return self.english
        return quoted(self.words, tr=tr)


class Refusal(Protocol):
    """An error raised where no language is known (`watchers`' `QueryError`, `store`'s
    `SearchError`): a msgid, its values, and which of them are the user's words."""

    @property
    def template(self) -> str: ...
    @property
    def values(self) -> Mapping[str, str]: ...
    @property
    def quoted(self) -> Collection[str]: ...


def reason(error: Refusal, tr: Texts) -> str:
    """`error`'s message in `tr`'s language, the user's words in its quotation marks (the
    others cut as `cut` cuts them)."""
    values = error.values.items()
    return tr._(
        error.template, **{k: quoted(v, tr=tr) if k in error.quoted else cut(v) for k, v in values}
    )


def N_(message: str) -> str:
    """Mark a message for extraction; translated later, where its language is known."""
    return message


@dataclass(frozen=True, slots=True)
class Plural:
    """A message of plural forms translated later, where its language is known (an admins'
    notice): `count` names its value whose number chooses the form. Made with
    `Plural.ngettext(...)`, which extraction reads as gettext's ngettext."""

    singular: str
    plural: str
    count: str

    @classmethod
    def ngettext(cls, singular: str, plural: str, count: str) -> Plural:
        return cls(singular, plural, count)


Message = str | Plural  # a msgid, or the two of a message of plural forms


@dataclass(frozen=True, slots=True)
class Said:
    """A message and its values, said in the reader's language when it is read: a line of an
    admins' notice, a part of a reload's summary."""

    message: Message
    values: Mapping[str, Value] = field(default_factory=dict)


Joining = Literal["list", "lines", "bullets", "clauses", "words", "run"]


@dataclass(frozen=True, slots=True)
class Joined:
    """Values said in the reader's language and joined as it joins them: a list ("a, b";
    Japanese "a、b"), lines, lines each marked "- ", clauses ("a; b"), or words ("a (b)"); or
    run together, nothing between them (a place said in the reader's words, then ": ")."""

    parts: tuple[Value, ...]
    how: Joining = "list"


@dataclass(frozen=True, slots=True)
class Number:
    """A number written as the reader's language writes it (`Texts.number`): 1,000; 1 000."""

    n: float
    digits: int = 0


@dataclass(frozen=True, slots=True)
class Span:
    """A length of time written as the reader's language writes it (`Texts.span`)."""

    seconds: float


# a value of a message: words as they are (a feed's id, a title, Telegram's error), or said in
# the reader's language (a user's own words in its quotation marks: `Quoted`)
Value = str | Said | Joined | Number | Span | Quoted
Values = Mapping[str, Value]


def stored(values: Values) -> dict[str, object]:
    """`values` as JSON keeps them, for a notice said when it is sent (`loaded` reads them)."""
    return {name: _stored(value) for name, value in values.items()}


def _stored(value: Value) -> object:
    if isinstance(value, Said):
        msgid, plural, counted = msgids(value.message)
        return {"said": msgid, "plural": plural, "counted": counted, "values": stored(value.values)}
    if isinstance(value, Joined):
        return {"joined": value.how, "parts": [_stored(part) for part in value.parts]}
    if isinstance(value, Number):
        return {"number": value.n, "digits": value.digits}
    if isinstance(value, Span):
        return {"span": value.seconds}
    if isinstance(value, Quoted):
        return {"quoted": value.words, "english": value.english}
    return value


def loaded(raw: Mapping[str, object]) -> dict[str, Value]:
    """The values `stored` kept (what is none of its shapes is said as its text)."""
    return {str(name): _loaded(value) for name, value in raw.items()}


def _loaded(raw: object) -> Value:
    if isinstance(raw, dict) and isinstance(raw.get("said"), str):
        plural, counted, values = raw.get("plural"), raw.get("counted"), raw.get("values")
        message: Message = raw["said"]
        if isinstance(plural, str) and isinstance(counted, str):
            message = Plural(raw["said"], plural, counted)
        return Said(message, loaded(values) if isinstance(values, dict) else {})
    if isinstance(raw, dict) and raw.get("joined") in get_args(Joining):
        parts = raw.get("parts")
        how = raw["joined"]
        return Joined(tuple(map(_loaded, parts if isinstance(parts, list) else [])), how)
    if isinstance(raw, dict) and isinstance(raw.get("number"), int | float):
        digits = raw.get("digits")
        return Number(raw["number"], digits if isinstance(digits, int) else 0)
    if isinstance(raw, dict) and isinstance(raw.get("span"), int | float):
        return Span(raw["span"])
    if isinstance(raw, dict) and isinstance(raw.get("quoted"), str):
        english = raw.get("english")
        return Quoted(raw["quoted"], english if isinstance(english, str) else None)
    return raw if isinstance(raw, str) else str(raw)


def kept_said(kept: str | None, text: str) -> Value:
    """A message a store kept as JSON beside its English `text` (a feed's error: `{"message":
    msgid, "values": {...}}`, its values as `stored` writes them), to be said in the reader's
    language; `text` as it is where none was kept (a row kept before), or what was kept is no
    such message or lacks a value its msgid names."""
    try:
        raw = json.loads(kept) if kept else None
    except ValueError:
        return text
    if not isinstance(raw, dict) or not isinstance(raw.get("message"), str):
        return text
    values = raw.get("values")
    said = Said(raw["message"], loaded(values if isinstance(values, dict) else {}))
    return said if _whole(said) else text


def _whole(value: Value) -> bool:
    """Whether each placeholder of a `Said`'s msgid, and of those of its values, is filled."""
    if isinstance(value, Joined):
        return all(map(_whole, value.parts))
    if not isinstance(value, Said):
        return True
    singular, plural, _ = msgids(value.message)
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(singular + (plural or ""))}
    except ValueError:  # a stray brace
        return False
    names.discard(None)
    return names <= set(value.values) and all(map(_whole, value.values.values()))


def msgids(message: Message) -> tuple[str, str | None, str | None]:
    """A message as a notice stores it: its msgid, plural msgid and counted value's name."""
    if isinstance(message, str):
        return message, None, None
    return message.singular, message.plural, message.count


def _form_number(count: str) -> int:
    """The number that chooses the form of a count written `count`: itself when whole; 2 for
    a fraction, whose form in English and Russian is that of 2 ("1.5 days", "1,5 дня"), or
    for what is no number."""
    try:
        number = float(count)
    except ValueError:
        return 2
    return int(number) if number.is_integer() else 2


def language(code: str | None) -> str:
    """The bot's language for a Telegram `language_code` (en, ru or ja; English otherwise)."""
    base = (code or "en").split("-")[0].split("_")[0].lower()
    return base if base in LANGUAGES else "en"


def catalogue_path(lang: str, suffix: str = ".po") -> Path:
    return LOCALES / lang / "LC_MESSAGES" / f"{DOMAIN}{suffix}"


def _translations(lang: str) -> gettext.GNUTranslations:
    po, mo = catalogue_path(lang), catalogue_path(lang, ".mo")
    if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
        with mo.open("rb") as file:
            return gettext.GNUTranslations(file)
    with po.open("rb") as file:
        catalog = read_po(file, locale=lang, domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


# every span a message says is how long something lasted ("не работает уже 1 минуту", "за 1
# минуту"): Russian takes it in the accusative, unlike CLDR's nominative only in feminine units
_ACCUSATIVE = {"ru": {"минута": "минуту", "секунда": "секунду"}}


class Texts:
    """What the bot says in one language: translated messages, plurals and dates."""

    def __init__(self, lang: str) -> None:
        self.lang = lang
        self._t = _translations(lang)

    def _(self, message: str, **values: Any) -> str:
        """`message` translated; `{name}` placeholders filled from `values`. "" is "" (gettext
        answers it with the catalogue's header)."""
        text = self._t.gettext(message) if message else ""
        return text.format(**values) if values else text

    def ngettext(self, singular: str, plural: str, n: int, **values: Any) -> str:
        """The form for `n` (placeholders `{n}` and `values`)."""
        return self._t.ngettext(singular, plural, n).format(n=n, **values)

    def said(self, message: Message, values: Values) -> str:
        """A message named before its language was known (`N_`, `Plural`), in this language,
        its placeholders filled from `values` (each said in this language); a `Plural` in the
        form of its count, the count written as this language writes numbers (1,5 in
        Russian)."""
        words = {name: self.say(value) for name, value in values.items()}
        if isinstance(message, str):
            return self._(message, **words)
        count = words.get(message.count, "")
        counted = values.get(message.count)
        if isinstance(counted, Number):  # written already, with the reader's grouping: "1 100"
            form = _form_number(f"{counted.n:.{max(counted.digits, 0)}f}")  # rounded as written
        else:
            form = _form_number(count)
            if message.count in words:
                words[message.count] = self._count(count)
        return self._t.ngettext(message.singular, message.plural, form).format(**words)

    def say(self, value: Value) -> str:
        """A message's value in this language: words as they are, a `Said` said, a `Joined`
        said part by part and joined, a `Number` or a `Span` written, `Quoted` words quoted."""
        if isinstance(value, Said):
            return self.said(value.message, value.values)
        if isinstance(value, Number):
            return self.number(value.n, value.digits)
        if isinstance(value, Span):
            return self.span(timedelta(seconds=value.seconds))
        if isinstance(value, Quoted):
            return value.said(self)
        if not isinstance(value, Joined):
            return value
        parts = [self.say(part) for part in value.parts]
        if value.how == "list":
            return listed(self, parts)
        if value.how == "clauses":
            # Translators: what separates the parts of a reload's summary, as in
            # "feeds +1 -0 ~0; topics kuril"
            return self._("; ").join(parts)
        if value.how == "words":  # none before a full-width parenthesis (Japanese: "x（…）")
            return "".join(
                p if not n or p.startswith("（") else f" {p}" for n, p in enumerate(parts)
            )
        if value.how == "run":
            return "".join(parts)
        return "\n".join(f"- {part}" if value.how == "bullets" else part for part in parts)

    def sentences(self, *parts: str) -> str:
        """Translated sentences one after another, as this language writes them: a space
        between them, but none after a full-width stop ("。"), as Japanese writes them."""
        text = ""
        for part in filter(None, parts):
            text += part if not text or text.endswith(FULL_STOPS) else " " + part
        return text

    def when(self, moment: datetime, tz: tzinfo) -> str:
        """A moment in the chat's time zone, in this language's way: "2026-11-26 09:30 UTC"."""
        local = moment.astimezone(tz)
        # Translators: a CLDR date pattern (https://cldr.unicode.org), not words to translate
        pattern = self._("yyyy-MM-dd HH:mm")
        text = format_datetime(local, pattern, tzinfo=tz, locale=self.lang)
        zone = local.tzname()
        return f"{text} {zone}" if zone else text

    def number(self, n: float, digits: int = 0) -> str:
        """`n` as this language writes it, rounded to `digits` places (each shown): "20,000",
        "1.5"; in Russian "20 000" and "1,5" (there "20,000" reads as twenty, "1.5" as a
        stray dot)."""
        pattern = "#,##0" + ("." + "0" * digits if digits > 0 else "")
        return str(format_decimal(n, format=pattern, locale=self.lang))

    def percent(self, whole: int) -> str:
        """A whole per cent as this language writes it (CLDR): "15%", "1,100%"; in Russian
        "15 %" and "1 100 %", with no-break spaces."""
        return str(format_percent(whole / 100, locale=self.lang))

    def span(self, length: timedelta) -> str:
        """A length of time in whole units, as this language writes them (CLDR): "1 day 12
        hours", "1 день 12 часов", "1 日 12 時間"; "5 minutes"."""
        seconds = round(length.total_seconds())
        units = (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1))
        parts = []
        for unit, size in units:
            if n := seconds // size:
                number, space, word = str(
                    format_unit(n, f"duration-{unit}", locale=self.lang)
                ).rpartition(" ")
                parts.append(number + space + _ACCUSATIVE.get(self.lang, {}).get(word, word))
            seconds %= size
        return " ".join(parts) or str(format_unit(0, "duration-second", locale=self.lang))

    def _count(self, value: str) -> str:
        """A count's value, written before its language was known ("1.5"), as this language
        writes the number, each digit kept; a whole number, or what is no number, as it is."""
        try:
            number = Decimal(value)
        except InvalidOperation:
            return value
        if not number.is_finite() or number == number.to_integral_value():
            return value
        return str(format_decimal(number, locale=self.lang, decimal_quantization=False))

    def language_name(self, code: str) -> str:
        """A language named in this language (CLDR): "английский" for "en" in Russian. (The
        bot's own languages are offered on buttons by their own names: `LANGUAGE_NAMES`.)"""
        return str(Locale.parse(self.lang).languages.get(code, code))

    @property
    def own_name(self) -> str:
        """This language's name as a sentence writes it: "русский" mid-sentence, where its
        button reads "Русский" (`LANGUAGE_NAMES`); "English", "日本語"."""
        return self.language_name(self.lang)

    def day_name(self, weekday: int) -> str:
        """Monday is 0."""
        return str(get_day_names("wide", locale=self.lang)[weekday])

    def day_month(self, moment: datetime) -> str:
        """A day and month: "26 Nov"."""
        # Translators: a CLDR date pattern (https://cldr.unicode.org), not words to translate
        return format_datetime(moment, self._("d MMM"), locale=self.lang)

    def month_day(self, day: date) -> str:
        """A day of /stats: "11-26" (Russian "26.11", Japanese "11/26")."""
        # Translators: a CLDR date pattern (https://cldr.unicode.org) of /stats' days, month
        # and day ("11-26"; Russian "dd.MM"), not words to translate
        return format_date(day, self._("MM-dd"), locale=self.lang)

    def day_time(self, moment: datetime, tz: tzinfo) -> str:
        """A weekday, day and time: "Fri 27 Nov 08:00"."""
        # Translators: a CLDR date pattern (https://cldr.unicode.org), not words to translate
        pattern = self._("EEE d MMM HH:mm")
        return format_datetime(moment.astimezone(tz), pattern, tzinfo=tz, locale=self.lang)


def listed(tr: Texts, items: Iterable[str]) -> str:
    """Items as `tr`'s language lists them: "Russian, English"; in Japanese "ロシア語、英語".
    Every list a reader sees is joined here, not with a ", " in the code."""
    # Translators: what separates the items of a list, as in "Also: TASS, Kyodo" (Japanese: 、)
    return tr._(", ").join(items)


def counts_listed(counts: Iterable[tuple[str, int]]) -> Joined:
    """Ids each with a count, "tass-ru (2), kyodo (1)", said and listed as the reader's
    language does: "tass-ru（2）、kyodo（1）" in Japanese."""
    # Translators: a feed's or topic's id and how many of something it has, in a list
    said = N_("{id} ({n})")
    return Joined(tuple(Said(said, {"id": name, "n": Number(n)}) for name, n in counts))


def texts(lang: str | None) -> Texts:
    """The `Texts` of a language (English for any the bot does not speak)."""
    return _texts(language(lang))


@functools.cache
def _texts(lang: str) -> Texts:
    return Texts(lang)


EN = texts("en")
