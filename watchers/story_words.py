"""What a report's words say for story clustering: its tokens (stems, numbers, CJK bigrams), the
proper names its title gives, everything it mentions, the two parties it names (the islands:
`watchers.story_places`), whether its title reports a reply, and the earlier events its text
recalls."""

from __future__ import annotations

import functools
import re

import snowballstemmer

from watchers.story_places import _PLACES, _island, places
from watchers.topics.normalise import WORD, fold_marks, is_cjk, is_cyrillic, normalise

_STOP = frozenset(
    "a an the of to in on at for from by with and or but is are was were be been has have had"
    " it its this that as said says will would not no after over new more than about into"
    " и в во на с со по к о об от до из за у же ли не что это как а но или для при был была"
    " были будет его ее их он она они так также уже".split()
)
_STEMMERS = {"en": snowballstemmer.stemmer("english"), "ru": snowballstemmer.stemmer("russian")}
# The two parties, by their names, capitals, governments and adjectives: "Tokyo protests" and
# "Japan protests" name one actor, so neither is a name the other report lacks.
_PARTIES = {
    "japan": "japan tokyo япон токио 日本 東京".split(),
    "russia": "russia moscow kremlin росси рф москв кремл ロシア モスクワ クレムリン".split(),
}
# A title that rejects or rebuts something reports a reply, an event of its own: "Moscow
# rejects Tokyo's protest" is not the protest's story ("отверг", "一蹴", "反論" alike), nor is a
# denial ("Moscow denies violating Japan's airspace"). Entry, a visa or bail denied is an event,
# and a defendant who denies the charges is the trial's.
REPLY = re.compile(
    r"\b(?:reject|rebuff|dismiss|отверг|отклони|опроверг"
    r"|den(?:y|ies|ied)\b(?! (?:\w+ ){0,2}(?:entry|visa|access|permission|bail|charge|guilt"
    r"|wrongdoing)))|一蹴|反論|(?<!入国|上陸|入域|発給|査証|ビザ)拒否|拒絶"
)

# A title that reports a period's figures ("Q1 output up 4%", "в I квартале … на 4%", "4～6月期"
# … 5%増): a quarter's or a half-year's results (a share: `SHARE`), no one-off event of the
# same project, nor a plan set for a quarter. `PERIODS`: any naming of a period, as the same
# figures' report in another language may give it.
SHARE = re.compile(r"%|％|\bper ?cent|процент|割")
_RESULTS = r"(?:profit|results|earnings|output|sales|revenue|loss|figures)"
PERIOD = re.compile(
    r"\b(?:first|second|third|fourth|[1-4](?:st|nd|rd|th)) quarter\b|\bq[1-4]\b|\b[1-4]q\b"
    rf"|\bquarterly {_RESULTS}|\b(?:first|second)[- ]half {_RESULTS}"
    rf"|\bhalf[- ]year(?:ly)? {_RESULTS}"
    r"|\b(?:в|во|за|итогам)\s+(?:i{1,3}|iv|[1-4](?:-?[а-я]{1,2})?|перв\w*|втор\w*|трет\w*"
    r"|четв[её]рт\w*|прошл\w*)\s+квартал|\b(?:в|во|за|итогам)\s+(?:\w+\s+)?полугоди"
    r"|四半期|上半期|下半期|\d{1,2}\s*[～〜~-]\s*\d{1,2}\s*月期"
)
PERIODS = re.compile(
    rf"{PERIOD.pattern}|\bquarter|квартал|полугоди|\bhalf[- ]year|\b(?:first|second) half\b"
    r"|\bh[12]\b|nine months|первой половин|девять месяцев|\b9 месяцев|半期|上期|下期|前年同期"
    r"|\d{1,2}\s*[～〜~-]\s*\d{1,2}\s*月|\bjanuary\s*[-–—]\s*(?:march|june|september)"
    r"|(?:январ|апрел|июл|октябр)\w*\s*[-–—]\s*(?:март|июн|сентябр|декабр)"
)

# Stems kept per process. A daemon meets new words for ever (names, inflected forms), so the
# cache fills to its bound at about 200 bytes a word: 4 MB here, where 200,000 let each parse
# worker and the daemon grow by up to 40 MB (bench/soak.py). PyStemmer's own cache of 10,000
# words per language is switched off: every word it would hold is in this one.
STEM_CACHE = 20_000
for _stemmer in _STEMMERS.values():
    if hasattr(_stemmer, "maxCacheSize"):  # PyStemmer, not the pure Python fallback
        _stemmer.maxCacheSize = 0


@functools.lru_cache(maxsize=STEM_CACHE)
def stem(word: str) -> str:
    stemmer = _STEMMERS["ru" if is_cyrillic(word) else "en"]
    return str(stemmer.stemWord(word))


def script_of(text: str) -> str:
    if is_cjk(text):
        return "ja"
    return "ru" if is_cyrillic(text) else "en"


_KATAKANA = re.compile(r"[\u30a1-\u30fa\u30fc]{2,}")  # foreign names and places in Japanese
# katakana that measures, not names: "噴煙2500メートル" and "噴煙2.5キロ" tell one eruption
_UNITS = frozenset(
    "メートル キロ キロメートル センチ センチメートル ミリ ミリメートル トン キログラム グラム"
    " ヘクタール リットル ノット マイル インチ バレル ドル ルーブル ユーロ パーセント ポイント"
    " マグニチュード ガル ヘクトパスカル キロワット メガワット シーベルト マイクロシーベルト"
    " ベクレル".split()
)
_OPENERS = frozenset(":;.!?|—–-")  # what ends a title's clause before its next first word
_SENTENCES = re.compile(r"(?<=[.!?])\s+|\n")
# A headline's clauses: after "US open:" a capital opens a clause, as in a sentence.
_CLAUSES = re.compile(r"(?<=[:;])\s+")
_NAME_WORD = re.compile(r"[^\W\d_]\w*")


# A wire's slug before its headline ("UPDATE 2-", "RPT-", "GLOBAL MARKETS-", "ОБЗОР-"): a
# version or desk, not news, and its number is no quantity of the event.
_WIRE_SLUG = re.compile(
    r"(?:(?:(?:UPDATE|WRAPUP|ОБНОВЛЕНИЕ|ОБЗОР) \d{1,2}"
    r"|RPT|REFILE|CORRECTED|CORRECTION|EXCLUSIVE|INSIGHT|ANALYSIS|FACTBOX|TIMELINE|PREVIEW"
    r"|BREAKINGVIEWS|BRIEF|COLUMN|INTERVIEW|SPECIAL REPORT|(?:GLOBAL|EMERGING) MARKETS|FOREX"
    r"|PRECIOUS|METALS|TREASURIES|GRAINS|SOFTS|(?:[A-Z]{2,6} )?STOCKS"
    r"|ОБЗОР|ЭКСКЛЮЗИВ|ИНТЕРВЬЮ|АНАЛИЗ|ХРОНОЛОГИЯ)-(?=\S))+"
)


def wire_slug(title: str) -> int:
    """The length of the wire's slug that opens a title, 0 if none."""
    match = _WIRE_SLUG.match(title.lstrip())
    return len(title) - len(title.lstrip()) + match.end() if match else 0


def _words(title: str, summary: str, words: list[str] | None) -> list[str]:
    return WORD.findall(normalise(f"{title}\n{summary}")) if words is None else words


def story_tokens(title: str, summary: str, words: list[str] | None = None) -> frozenset[str]:
    """The tokens two reports of one story share: stems, numbers, CJK character bigrams.
    `words`, when given, are the normalised words of the title and then the summary."""
    tokens: set[str] = set()
    for word in _words(title, summary, words):
        if is_cjk(word):
            tokens.update(word[i : i + 2] for i in range(max(1, len(word) - 1)))
        elif word not in _STOP and (len(word) > 1 or word.isdigit()):
            tokens.add(word if word.isdigit() else stem(word))
    return frozenset(tokens)


# A sentence that opens by recalling what came before the report's news ("Напомним, что
# накануне...", "Earlier, ...", "これに先立ち"): the event it tells is an earlier one, unless
# it happened today ("Ранее сегодня самолет совершил посадку", then the report's details).
# Not "Как сообщалось" or "As reported": wire updates recap their own story so. Not the
# words' other senses: "накануне визита" (on the eve of), "ранее не" (never before),
# "previously unknown", 以前から (long since), 先に進む (go ahead).
_RECALL = re.compile(
    r"\W*(?:напомним|накануне(?!\s+(?:визит|встреч|переговор|выбор|саммит|голосован|заседан"
    r"|праздник|годовщин|приезд|поездк))|ранее(?!\s+не)"
    r"|earlier(?![\w-])|previously(?![\s-]+un)"
    r"|これに先立ち|先に(?!進|行)|以前(?!から|より))",
    re.IGNORECASE,
)
# Japanese recalls mid-sentence ("防衛省は先に、…と発表していた", "日銀は前日、…を決めていた")
_RECALL_JA = re.compile(r"これに先立|先に(?!進|行)|前日(?!比)")
# a recalling sentence that credits another outlet with the news retells the same event
# ("Ранее об этом сообщило ТАСС", "Ранее сообщалось, что...", "Earlier, Kyodo reported that...")
_CREDIT = re.compile(
    r"\b(?:сообщил[аио]?|сообщал(?:[аи]|ось)?|передал[аио]?|передает|пишет|писал[аио]?|reported"
    r"|reports|according\s+to)\b|^\W*by\b|報じ|伝え",
    re.IGNORECASE,
)
# a word of each opening, to skip the split where none occurs (most summaries)
_RECALL_WORDS = (
    "напомним", "накануне", "ранее", "earlier", "previously", "先立", "先に", "以前", "前日",
)  # fmt: skip
# not before a small letter: "около 2 тыс. противников", "the U.S. earlier" are one sentence
_ANY_SENTENCE = re.compile(r"(?<=[.!?])\s+(?![a-zа-яё])|(?<=[。！？])|\n")
_DAYS_EN = "monday|tuesday|wednesday|thursday|friday|saturday|sunday"
_DAYS_RU = "понедельник|вторник|среду|четверг|пятницу|субботу|воскресенье"
# a day of the week or a month: when, not who (days are `story_facts.dates`' to compare)
_DAY_NAME = re.compile(
    rf"{_DAYS_EN}|понедельник|вторник|сред[ау]|четверг|пятниц[ау]|суббот[ау]|воскресенье"
    r"|january|february|march|april|may|june|july|august|september|october|november|december"
    r"|jan|feb|mar|apr|jun|jul|aug|sept?|oct|nov|dec"
)
# today, or the report's own day by its name: "Earlier on Monday, the ferry ran aground"
_TODAY = re.compile(
    rf"сегодня|today|this morning|this afternoon|tonight|きょう|今日|本日|午前|午後"
    rf"|earlier (?:on )?(?:{_DAYS_EN})|earlier in the day|ранее (?:днем|днём|утром)"
    rf"|в тот же день|ранее во? (?:{_DAYS_RU})",
    re.IGNORECASE,
)
MAX_RECALLS = 4


# A wire's dateline before its lead: "MOSCOW, Jan. 12 (Reuters) - ", "ЮЖНО-САХАЛИНСК, 10 июня.
# /ТАСС/. ", "TOKYO (Kyodo) -- "
_DATELINE = re.compile(
    r"\s*(?:[A-ZА-ЯЁ][A-ZА-ЯЁ .\-]{2,40}(?:,[^/()\n]{0,30}?)?"
    r"(?:\.?\s*/[^/\n]{2,40}/\.?|\s*\([^)\n]{2,20}\))\s*[-–—]*"
    # "Москва. 11 ноября. INTERFAX.RU - ", "Хабаровск, 5 мая. ИНТЕРФАКС-ДАЛЬНИЙ ВОСТОК - ":
    # the agency before a dash, not the lead's first word ("5 мая. МЧС России сообщило")
    r"|[A-ZА-ЯЁ][\w\-]{1,25}(?: [\w\-]{1,25})?[.,]\s+\d{1,2}\s+\w{3,9}\.\s+"
    r"[A-ZА-ЯЁ][A-ZА-ЯЁ.\-]{2,20}(?: [A-ZА-ЯЁ]{2,15})?\s*[-–—]+)\s*"
)
# a period that ends no sentence: initials ("U.S."), titles, months, Russian contractions
_ABBREVIATION = re.compile(
    r"(?:\w\.)+\w?\.?|(?:mr|mrs|ms|dr|st|no|gen|col|lt|sgt|adm|gov|sen|rep|jan|feb|mar|apr|jun"
    r"|jul|aug|sept?|oct|nov|dec|vs|inc|corp|co|ltd|jr|г|гг|ул|им|тыс|млн|млрд|руб|т\.?е|т\.?к)\.",
    re.IGNORECASE,
)
LEAD_CHARS = 400  # of a lead that no sentence end closes (a Japanese summary without 。)


def dateline(summary: str) -> str:
    """A summary's wire dateline, if it opens with one ("" if not): the day it names is when
    the report was filed, not when its event happened."""
    found = _DATELINE.match(summary.lstrip())
    return found[0] if found else ""


def without_dateline(summary: str) -> str:
    """A summary after its wire's dateline, if it opens with one."""
    text = summary.strip()
    return text[len(dateline(text)) :]


def lead_sentence(summary: str) -> str:
    """A summary's first sentence, after a wire's dateline."""
    text = without_dateline(summary)
    for end in _ANY_SENTENCE.finditer(text):
        if end.start() > LEAD_CHARS:  # the lead is cut there anyway: a text of "U.S. U.S. …"
            break  # must not cost a scan per period
        before = text[: end.start()].split()
        if not before or not _ABBREVIATION.fullmatch(before[-1]):
            return text[: end.start()]
    return text[:LEAD_CHARS]


def recalls(summary: str) -> frozenset[frozenset[str]]:
    """The tokens of a summary's sentences (after the lead, at most `MAX_RECALLS`) that open
    by recalling an earlier event, neither crediting an outlet with it nor saying it
    happened today."""
    found: list[frozenset[str]] = []
    folded = summary.lower()
    if not any(word in folded for word in _RECALL_WORDS):
        return frozenset()
    # the lead tells the report's own news, even when it opens "Накануне вечером..."
    for sentence in _ANY_SENTENCE.split(summary.strip())[1:]:
        if (
            (opening := _RECALL.match(sentence) or _RECALL_JA.search(sentence))
            and not _CREDIT.search(sentence[opening.end() :])
            and not _TODAY.search(sentence)
            and (tokens := story_tokens(sentence, ""))
        ):
            found.append(tokens)
            if len(found) == MAX_RECALLS:
                break
    return frozenset(found)


def _title_case(title: str) -> bool:
    """Headline Style Capitalisation, where a capital says nothing of a name."""
    long_words = [word for word in _NAME_WORD.findall(title) if len(word) > 3]
    return len(long_words) >= 3 and sum(w[0].isupper() for w in long_words) >= 0.6 * len(long_words)


# the generic last words of places' and bodies' names, as `stem` gives them
_HEADS = frozenset(
    map(
        stem,
        "island islands islet islets sea strait bay fleet district region prefecture port"
        " airport cape volcano mountain peninsula ocean river lake street group company"
        " university territories ridge harbor harbour base station".split(),
    )
)


def _capitalised_runs(title: str) -> list[list[tuple[str, bool]]]:
    """A title's capitalised words, in runs that only spaces part ("Pacific Fleet", "Shikotan
    Island"; "Южно-Курильск" is two runs, as Северо-Курильск shares its second), each with
    whether it opens the title or a clause (capitalised as any first word is: "В Курильске")."""
    runs: list[list[tuple[str, bool]]] = []
    end = -1
    for match in _NAME_WORD.finditer(title):
        word = match.group()
        if not word[0].isupper():
            end = -1
            continue
        if end >= 0 and title[end : match.start()].isspace():
            runs[-1].append((word, False))
        else:
            before = title[: match.start()].rstrip(" \"'«“‘(")
            runs.append([(word, not before or before[-1] in _OPENERS)])
        end = match.end()
    return runs


def title_names(title: str, summary: str) -> frozenset[str]:
    """Stems of the proper names in a title: its capitalised words that the report also writes
    capitalised inside a sentence (so a title's first word counts only if it is a name; a
    title in Title Case counts only through its summary), and its katakana words. The last
    name of a run of capitalised words is given with the run's other words, "island|shikotan"
    for "Shikotan Island" (`named_in`: a report that mentions Shikotan mentions it; Pacific
    Fleet is still not Northern Fleet); a party neither stands for a run's name nor is stood
    for."""
    sentences = _SENTENCES.split(summary) if summary else []
    title_case = _title_case(title)
    if not title_case:
        sentences.extend(_CLAUSES.split(title))
    inside: set[str] = set()
    for sentence in sentences:
        for word in _NAME_WORD.findall(sentence)[1:]:
            if word[0].isupper():
                inside.add(stem(normalise(word)))
    names: set[str] = set()
    # in Title Case every word is capitalised: no run says a name goes with its neighbours
    runs = (
        [[w] for r in _capitalised_runs(title) for w in r]
        if title_case
        else _capitalised_runs(title)
    )
    for run in runs:
        folded = [normalise(word) for word, _ in run]
        named = [stem(f) in inside and not _DAY_NAME.fullmatch(f) for f in folded]
        if not any(named):
            continue
        parties = [_party(f) for f in folded]
        forms = [
            _island(w) or p or stem(f) for (w, _), p, f in zip(run, parties, folded, strict=True)
        ]
        # the run's last word, if a place's or a body's generic head (Island, Sea, Fleet), is
        # stood for by the run's other words, but a party's or a first word's that is no name;
        # a title before a person's name stands for nobody ("Foreign Minister Hayashi")
        mates = [
            form
            for form, party, name, (_, first) in zip(forms, parties, named, run, strict=True)
            if not party and (name or not first)
        ]
        names.update(form for form, name in zip(forms[:-1], named[:-1], strict=True) if name)
        if named[-1]:
            head = forms[-1]
            names.add(
                "|".join([head, *(m for m in mates if m != head)]) if head in _HEADS else head
            )
    names.update(
        _island(word) or _party(word) or word
        for word in _KATAKANA.findall(fold_marks(title))
        if word not in _UNITS
    )
    return frozenset(names)


# Japanese names a meeting by its two countries in one kanji each (日ロ外相会談, 日中首脳会談,
# 日米共同訓練): a minister who meets several counterparts at one summit holds several. Only
# before what such a pair is followed by: 日中 alone is as often "in the daytime".
_JA_PAIR = re.compile(
    "日([ロ露中米韓朝印豪英仏独比越台])(?=外相|外務|首脳|首相|会談|関係|協議|対話|共同|合同"
    "|防衛|安保|経済|貿易|通商|漁業|平和|友好|両|政府|次官|局長|議員|間)"
)
_JA_PARTNERS = {
    "ロ": "russia", "露": "russia", "中": "china", "米": "usa", "韓": "korea", "朝": "dprk",
    "印": "india", "豪": "australia", "英": "uk", "仏": "france", "独": "germany",
    "比": "philippines", "越": "vietnam", "台": "taiwan",
}  # fmt: skip
# the countries by their own names (露 alone, not inside 披露, 暴露, 露天, 露呈, 露骨, 露わ...)
_JA_COUNTRIES = {
    country: re.compile(pattern)
    for country, pattern in {
        "russia": "ロシア|(?<![披暴結吐発甘朝雨夜])露(?![天出呈店見営骨わ払])",
        "china": "中国", "usa": "米国|アメリカ|米軍|米政府", "korea": "韓国", "dprk": "北朝鮮",
        "india": "インド", "australia": "オーストラリア|豪州", "uk": "英国|イギリス",
        "france": "フランス", "germany": "ドイツ", "philippines": "フィリピン",
        "vietnam": "ベトナム", "taiwan": "台湾",
    }.items()
}  # fmt: skip


def ja_countries(title: str) -> frozenset[str]:
    """The countries other than Japan a Japanese title names: by a two-country name ("日中" is
    "china") or by their own (中国, ロシア, 露)."""
    folded = fold_marks(title)
    found = (
        {_JA_PARTNERS[m.group(1)] for m in _JA_PAIR.finditer(folded)} if "日" in folded else set()
    )
    found.update(c for c, named in _JA_COUNTRIES.items() if named.search(folded))
    return frozenset(found)


# each party's forms as `_party` tests them: a prefix of a word, or (kanji, kana) inside it
_PARTY_FORMS = [
    (
        party,
        tuple(form for form in forms if not is_cjk(form)),
        re.compile("|".join(re.escape(form) for form in forms if is_cjk(form))),
    )
    for party, forms in _PARTIES.items()
]


def _party(folded: str) -> str | None:
    """The party ("japan" or "russia") a normalised word names, if it names one."""
    for party, prefixes, inside in _PARTY_FORMS:
        if folded.startswith(prefixes) or (not folded.isascii() and inside.search(folded)):
            return party
    return None


def mentions(
    title: str,
    summary: str,
    words: list[str] | None = None,
    islands: frozenset[str] | None = None,
) -> frozenset[str]:
    """Everything a report mentions, in the forms `title_names` gives its names' parts, with
    their `name_roots`; `islands`, when given, are the report's `places`."""
    text = f"{title}\n{summary}"
    distinct = set(_words(title, summary, words))  # a report repeats its words
    katakana = _KATAKANA.findall(fold_marks(text))
    found = {stem(word) for word in distinct if not word.isdigit()}
    found.update(
        root for form in list(found) if form.endswith(_NAME_ENDINGS) for root in name_roots(form)
    )
    found.update(katakana)
    found.update(filter(None, map(_party, distinct)))
    found.update(filter(None, map(_party, katakana)))
    # an island by its id: Etorofu names what Iturup mentions
    found.update(places(text) if islands is None else islands)
    return frozenset(found)


# A Russian place's name and its adjective or people share a root once the suffix is cut off
# (Казань and казанский, Китай and китайцы): a title naming Kazan is not about somewhere the
# report that says "казанское метро" never mentions. Roots under four letters are left out.
# English demonyms (China and Chinese) were measured too and not kept: bench/STORIES.md.
_NAME_ENDINGS = ("анск", "йск", "ск", "анц", "йц", "ц")
_NAME_ROOT = 4


def name_roots(form: str) -> frozenset[str]:
    """A name's or a mention's form, and its roots without an adjective's or a people's suffix."""
    if not form.endswith(_NAME_ENDINGS):
        return frozenset((form,))
    return frozenset(
        [form]
        + [
            form[: -len(ending)]
            for ending in _NAME_ENDINGS
            if form.endswith(ending) and len(form) - len(ending) >= _NAME_ROOT
        ]
    )


def named_in(names: frozenset[str], mentioned: frozenset[str]) -> bool:
    """Whether a report whose `mentions` are `mentioned` mentions every one of `names`: an
    adjective or a people counts for its place (the mentions hold their `name_roots`; a name's
    own suffix is not cut, Островский is no island), and a word of a run for the run's head."""
    return all(any(part in mentioned for part in name.split("|")) for name in names)


# Where the islands' news happens, in Japanese: the tokens (`story_tokens`) of the islands' and
# the two parties' names (with the の that follows them) and of the usual phrases of place.
# Two Japanese reports of the islands share them whatever they tell ("北方領土の色丹島で"),
# so `stories` does not count them as tokens in common.
JA_SETTING = frozenset().union(
    *(
        story_tokens(f"{form}の", "")
        for forms in (
            *_PLACES.values(),
            *_PARTIES.values(),
            ("北方領土の北方四島の千島列島のロシア側のサハリン州",),
        )
        for form in forms
        if is_cjk(form)
    )
)

# Where the islands' news happens, in every language: the tokens of the islands', the Kurils'
# and the two parties' names. Two reports of the islands that share no other token tell two
# events ("Ferry timetable for the Kurils", "Earthquake shakes the Kurils"), unless they
# report one kind of event (`watchers.story_resemblance`).
SETTING = frozenset(
    token
    for token in JA_SETTING.union(
        *(
            story_tokens(form, "")
            for forms in (
                *_PLACES.values(),
                *_PARTIES.values(),
                ("kuril", "kurils", "northern", "territories", "курил", "курильск", "курилы"),
                ("island", "islands", "islet", "остров", "острова"),
            )
            for form in forms
            if not is_cjk(form) and " " not in form  # not "остров юри": Юрий is a name too
        )
    )
    # not Кетой's stem, which кета shares, the salmon of the islands' fishing news
    if not token.isdigit() and token != "кет"
)
