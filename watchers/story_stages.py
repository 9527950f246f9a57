"""The stage of a process a title reports (a criminal case, a vote, a course of talks or
action, a search, a seizure or closure, an attack, a contest), in English, Russian and
Japanese: a later report at a later stage of one process tells a follow-up, another story."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from watchers.story_bridge import ACTOR_LEXICON, Lexicon
from watchers.story_facts import plain
from watchers.story_words import REPLY
from watchers.topics.normalise import WORD, is_cjk, normalise

# "process:n", n the stage, later stages higher. Forms as in `watchers.story_bridge`: a Latin
# or Cyrillic form is the start of a word ("$": the whole word), a form with a space the start
# of words in a row, a Japanese form anywhere. A title that tells a later stage often recalls
# the earlier one ("Court jails official detained in May"): the latest stage it names counts.
STAGES: Mapping[str, tuple[str, ...]] = {
    "case:1": (  # detained, arrested by the police
        "detain", "arrest$", "arrests$", "arrested$", "задержан", "задержал", "задержив",
        "задержани", "逮捕", "身柄を拘束",
    ),
    "case:2": (  # in custody by a court's order, charged
        "charged$", "charges$", "indict", "remand", "court arrest", "арестова", "под арест",
        "под стражу", "обвинени", "предъявил", "送検", "起訴", "勾留",
    ),
    "case:3": (  # on trial
        "trial open", "trial begin", "goes on trial", "go on trial", "начался суд",
        "начался процесс", "первое заседание", "初公判",
    ),
    "case:4": (  # the prosecution's demand
        "prosecutors seek", "prosecutor seeks", "prosecutors demand", "прокурор запросил",
        "прокуратура запросила", "обвинение запросило", "гособвинение запросило", "запросил для",
        "запросила для", "запросило для", "запросили для", "求刑",
    ),
    "case:5": (  # the verdict
        "sentenced", "sentences$", "convict", "acquit", "jails$", "found guilty", "verdict",
        "suspended term", "suspended sentence", "prison term", "jail term", "условный срок",
        "условного срока", "условному сроку",
        "執行猶予",
        "приговор", "осужден", "осуждён", "оправдал", "оправдан", "признал виновн",
        "признали виновн", "判決", "実刑",
    ),
    "vote:1": (  # a bill or ballot still ahead
        "to vote", "will vote", "to consider", "will consider", "begins debate", "debate on",
        "рассмотрит", "рассмотрят", "внесли законопроект", "внес законопроект",
        "審議入り", "きょう投開票", "あす投開票", "告示",
    ),
    "vote:2": (  # passed (by a chamber, a committee, in a first reading), elected
        "passes", "passed$", "approve$", "approves", "approved$", "adopts", "adopted$",
        "elected", "elects$", "принял законопроект", "приняла законопроект",
        "приняли законопроект", "принял в перв",
        "приняла в перв", "приняли в перв", "принял во втор", "приняла во втор",
        "одобрил", "утвердил", "избран", "可決", "否決", "当選", "選出", "新代表に",
    ),
    "vote:3": (  # enacted: passed for good (a law, not a bill, passed by the Duma)
        "enact", "final reading", "final approval", "final passage", "принял закон$",
        "приняла закон$", "приняли закон$", "одобрил закон$", "одобрила закон$",
        "одобрили закон$", "принял в трет", "приняла в трет", "приняли в трет", "окончательн",
        "成立",
    ),
    "vote:4": (  # signed into law, promulgated
        "into law", "подписал закон", "公布",
    ),
    "course:1": (  # talks, a strike, a journey begun
        "begin", "began$", "start$", "starts$", "started$", "kick off", "kicks off", "начали",
        "начал$", "начались", "начался", "начнут", "начнется", "стартовал", "開始", "始ま", "開幕",
        "交渉入り", "出発", "突入", "open talks", "opens talks", "opened talks", "talks open",
        "обсуждают$", "обсуждает$",  # under way ("обсудили", discussed, tells a meeting held)
    ),
    "course:2": (  # ended: an agreement, a breakdown, a signature
        "agree$", "agrees$", "agreed$", "conclude", "clinch", "end$", "ended$", "ends$",
        "talks collapse", "broke down", "breaks down", "signed$", "signs$", "согласова",
        "договорил", "заверши", "закончил", "подписал", "сорвал", "妥結", "合意", "決裂", "物別れ",
        "終了", "閉幕", "調印", "署名", "平行線",
    ),
    "search:1": (  # missing, sought
        "missing", "search", "lost contact", "unaccounted", "пропал", "пропавш", "ищут", "поиск",
        "行方不明", "安否不明", "不明者", "不明漁船", "不明の漁船", "不明船", "人が不明", "人不明",
        "員が不明", "船不明", "船が不明", "連絡取れず",
        "連絡が取れ", "連絡絶", "捜索",
    ),
    "search:2": (  # found, rescued, bodies recovered
        "found$", "find$", "finds$", "rescued", "rescues$", "нашли", "найден", "спасли", "спасен$",
        "спасена$", "спасены$", "спасён$", "обнаружен", "обнаружили", "を救助", "人救助", "員救助",
        "救助され", "発見", "見つかる", "見つかった", "遺体",
    ),
    "hold:1": (  # seized, closed, cut off
        "seize", "detain", "closed$", "closes$", "shut$", "shuts$", "shutdown", "suspend", "halt",
        "blackout", "outage",
        "задержан", "задержал", "задержив", "задержани", "закрыл", "закрыт", "приостанов",
        "без света", "без воды", "без тепла", "без отоплени", "без газа", "ограничен",
        "拿捕", "拘束", "閉鎖", "運休", "見合わせ", "欠航", "停電", "断水",
    ),
    "hold:2": (  # released, reopened, restored
        "frees$", "freed$", "releas", "reopen", "resum", "restor", "lifted$", "освобод",
        "отпуст", "возобнов", "восстанов", "дали тепло", "дали свет", "дали газ", "дали воду",
        "подали тепло", "подали воду", "подали газ", "解放", "釈放", "再開", "復旧", "解除",
    ),
    "attack:1": (  # someone attacked, by an animal or a person
        "maul", "attacked by", "bear attack", "напал$", "напала$", "напали$", "напавш", "нападени",
        "покусал", "襲われ", "襲う", "かまれ",
    ),
    "attack:2": (  # the attacking animal killed or caught
        "culled", "shot dead", "put down", "bear shot", "bear killed", "bear caught",
        "shot the bear", "killed the bear",
        "застрелили медвед", "застрелен медвед", "застрелил медвед", "медведя застрел",
        "медведь застрел", "отстрел", "駆除", "捕獲",
    ),
    "storm:1": (  # a storm on its way
        "hurricane warning", "typhoon warning", "storm warning", "nears$", "approaching",
        "bears down", "приближается", "приближени", "接近", "暴風域に入る",
    ),
    "storm:2": (  # the storm's landfall
        "landfall", "slams into", "slammed into", "обрушился", "обрушилась", "上陸",
    ),
    "contest:1": (  # through to a final, on pole
        "reach final", "reaches final", "into final", "semifinal", "semi final", "pole$",
        "вышел в финал", "вышла в финал", "вышли в финал", "полуфинал", "決勝進出", "準決勝",
    ),
    "contest:2": (  # won
        "wins$", "won$", "champion$", "title$", "выиграл", "победил", "чемпионом$", "чемпионкой$",
        "завоевал", "優勝",
        "制覇",
    ),
}  # fmt: skip
# A Japanese title's stage still ahead: "成立へ" (to be enacted), "妥結へ" (near agreement).
_AHEAD = {
    "成立へ": "vote:1", "可決へ": "vote:1", "採決へ": "vote:1", "妥結へ": "course:1",
    "合意へ": "course:1", "会談へ": "course:1", "判決へ": "case:4", "きょう判決": "case:4",
    "あす判決": "case:4",
}  # fmt: skip
STAGE_LEXICON = Lexicon(STAGES)
ENACTED = "vote:3"
# a reading before the last named anywhere ("приняла закон ... в первом чтении"): passed, no law
_EARLY_READING = re.compile(r"(?<!\S)(?:в первом|во втором) чтени")
# a demand to free or give back what the other side seized (Tokyo's answer to a seizure): a
# reaction, and no release ("Japan demands release of seized boat" is not the boat freed).
# The islands' return is the standing claim, not a reaction ("北方領土返還要求大会").
_SEIZED = r"(?:seized|detained|captured|задержанн|захваченн|арестованн)"
_DEMAND = re.compile(
    r"\b(?:demand(?:s|ed|ing)?|call(?:s|ed|ing)? for)(?: the)?(?: \w+)?"
    rf" (?:release\b|return of (?:the )?{_SEIZED})"
    rf"|(?:по)?треб(?:у|ова)\w*(?: \w+)? (?:освобо|(?:верну|возвра)\w* {_SEIZED})"
    r"|(?:解放|釈放)を?(?:強く)?(?:求め|要求)"
)
# The other side's reaction (a protest, regret, concern, a summoned envoy) is an event of its
# own when a title leads with it ("Japan protests Russian deputy PM's visit"), after a report
# of the act that names no reaction; appended to the act ("…配備　政府が抗議") it is the
# act's report.
_REACTION = re.compile(
    REPLY.pattern + "|"  # a reply to a reaction is one too
    r"\b(?:protest(?!er|ing\b)|summon|condemn|regret|deplor|unacceptabl"
    r"|call(?:s|ed|ing)? in (?:\w+ ){0,2}(?:envoy|ambassador|diplomat)"
    r"|(?:(?:voic|express|rais)(?:e|es|ed|ing)?|convey(?:s|ed|ing)?) ['\"‘“]?(?:\w+ )?concern)"
    r"|протест(?!у|н)|вызвал[аи]?(?: \w+)? посл(?:а|ов)\b|выразил\w* сожалени|сожалеет"
    r"|недопустим|неприемлем|обеспокоен|прискорб"
    r"|抗議(?!デモ|活動|集会)|呼び出|召致|遺憾|受け入れられ(?:ない|ず)|容認でき(?:ない|ず)"
    r"|相(?:いれ|容れ|入れ)(?:ない|ず)"  # 「わが国の立場と相いれない」, Tokyo's set phrase
    r"|懸念を?(?:表明|伝え|示)"  # 懸念 alone is often a risk ("安全に懸念"), unless quoted
    # asking the other side to explain an act ("Tokyo seeks explanation over…")
    r"|\b(?:seek(?:s|ing)?|sought|demand(?:s|ed|ing)?|ask(?:s|ed|ing)?|request(?:s|ed|ing)?"
    r"|want(?:s|ed|ing)?) (?:an )?explanation|\bask(?:s|ed)? (?:\w+ ){1,3}to explain"
    r"|(?:по)?треб(?:у|ова)\w*(?: от \w+(?: \w+)?)? объяснени|запросил\w* (?:\w+ )?объяснени"
    r"|説明を?(?:求め|要求)"
    # gratitude is the other side's answer too ("Russian embassy thanks Japan Coast Guard…")
    r"|\bthank(?:s|ed|ing)?\b|поблагодари|выразил\w* благодарност|感謝" + "|" + _DEMAND.pattern
)
# Criticism ("Motegi slams…", "露報道官、…を批判") is a reaction too, but told in words a
# statement's other reports do not share ("Захарова назвала…", "Lavrov: …"): it is another
# story than the act, not than a report of the statement (`SAID`).
_CRITICISM = re.compile(
    r"\b(?:slam|critici[sz]|denounc|decr(?:y|ies|ied)\b|void\b|hits? back|retort)"
    r"|раскритик|ничтожн|ответил\w*|заподозрил\w*|非難|批判|無効|反発"
)
# a title that reports what a speaker said: who, then the saying ("Zakharova calls…", "Лавров:
# …", "МИД назвал…"), or the saying, then who (", Zakharova says", "— deputy FM"); in Japanese,
# a quotation with who said it
_SAID_AFTER = r"(?:, (?:\S+ ){0,3}(?:says|said)|\s[—–-] (?:\S+ ){0,3}\S+)$"
_ATTRIBUTION = re.compile(_SAID_AFTER)  # whose words the title ends with
_SAYING = re.compile(
    r"^(?:\S+ ){0,4}?\S+(?::| (?:says?|said|calls?|called|urges?|warns?|vows?|insists?|claims?"
    r"|accuses?|rules? out|ruled out|sees? no|tells?|told|заявил\w*|назвал\w*|сказал\w*"
    r"|считает|ответил\w*|прокомментировал\w*|предупредил\w*|призвал\w*|обвинил\w*|не видит"
    r"|исключил\w*|указал\w*)\b)|" + _SAID_AFTER
)
# a reaction quoted (the title reports what was said): one quotation, opened and closed
_QUOTED = re.compile(
    r"(?:[「\"«“‘]|(?<!\w)')[^「」\"'«»“”‘’]{0,80}?(?:"
    + _REACTION.pattern.replace(r"\b", "")
    + r"|懸念)[^「」\"'«»“”‘’]{0,80}[」\"'»”’]"
)
# a Japanese title that opens with who reacts ("政府、ロシアの演習に懸念表明"): its first
# clause is the reaction, however long
_OPENER = re.compile(r"[^、 　]{1,8}、[^ 　]*")  # NFKC (`plain`) makes 　 a space
# Who reacts: a government, its people, or the islands' people of `watchers.story_bridge`; a
# crowd that protests ("Thousands protest in Tokyo") is an event, not a reaction.
_SPEAKER = re.compile(
    r"\b(?:japan(?!ese)|tokyo|russia(?!n)|moscow|kremlin|government|ministry|minister|spokes"
    r"|envoy|ambassador|embassy|cabinet|diplomat|authorit)|япони|токио|росси(?!йск)|москв|кремл"
    r"|правительств|мид\b|министр|посол|посольств|сторон|власт|дипломат"
    r"|日本|東京|ロシア|政府|外務省|外相|官房長官|首相|大使|報道官|外務"
)
# who reacts, in a clause of its own before the reaction's: a few characters, no particle,
# ending with an office, a foreign name in katakana or 氏 (a clause that tells the act ends
# otherwise)
SPEAKER_CHARS = 10
_PARTICLE = re.compile(r"[がをにでへはもと]|から|まで|より")
_SPEAKER_JA = re.compile(
    r"(?:(?:日本|ロシア|政府|外務省|外相|官房長官|首相|大使|報道官|次官|大統領|知事"
    r"|[\u30a1-\u30fa\u30fc]{2,})(?:氏|ら)?|氏)$"
)
_QUOTE = re.compile(r"「[^」]*」")
# the act told as what a Japanese lead's reaction answers ("…したことを受けて、", "…に対し、")
_AFTER_ACT = re.compile(r"(?:を受け(?:て)?|について|に対し(?:て)?|をめぐり|に関し(?:て)?)、")
# a Japanese lead that opens with who reacts as its topic ("木原官房長官は午後の記者会見で、")
_SPEAKER_TOPIC = re.compile(
    r"[^、。「」]{0,12}?(?:政府|外務省|外相|官房長官|首相|大使館?|報道官|外務次官)は"
)
LEAD_WORDS = 4  # words before the reaction in a title that leads with it (not Japanese)
# the verb that makes the reaction (a protest lodged, declared, voiced), not counted among
# those words: "Глава МИД Японии заявил о протесте…" leads with it as "Токио протестует…" does
_DECLARING = re.compile(
    r"(?:\b(?:lodg|fil|issu|voic|register|deliver|mak)(?:e|es|ed|ing|s)?|\bmade|\bexpress(?:es|ed)?"
    r"|заяв\w*|выраз\w*|выска\w*|направ\w*|вруч\w*|объяв\w*)"
    r"(?:\s+(?:a|an|its|his|her|their|strong|formal|official|о|об|свой|свое|решительн\w*"
    r"|официальн\w*))*\s*$"
)


APPENDED = "appended"  # a title that tells the act, then the reaction: the act's report
REACTED = "reaction:2"
CRITICISED = "reaction:3"  # a reaction told as criticism, apart from the act unless `SAID`
SAID = "said:1"  # a title that reports what someone said
# Whose side a title's first party is (who reacts, mostly): a criticism and a reaction of one
# side are one story, of two sides a statement and its reply.
_SIDES = {
    "japan": re.compile(
        r"^japanese|\b(?:japan(?!ese)|tokyo|motegi|kamikawa|hayashi|iwaya|kishida|ishiba|takaichi"
        r"|япони|токио|мотэ?ги|камикав|хаяси|ивая|кисид|исиб|такаити)|日本|東京|茂木|上川|岩屋|岸田"
        r"|石破|高市|官房長官|政府|外務省|外相|首相"
    ),
    "russia": re.compile(
        r"^russian|\b(?:мид(?! япони)|russia(?!n)|moscow|kremlin|putin|lavrov|peskov|zakharova"
        r"|medvedev|shoigu|belousov|galuzin|nozdrev|росси|рф\b|москв|кремл|путин|лавров|песков|захаров"
        r"|медведев|шойгу|белоусов|галузин|ноздрев)|ロシア|露|(?<![\u30a1-\u30fc])ロ(?![\u30a1-\u30fc])"
        r"|モスクワ|クレムリン|プーチン|ラブロフ|ペスコフ|ザハロワ|メドベージェフ|ショイグ|ガルージン"
    ),
}
_SIDE_MARKS = frozenset({"side:1", "side:2"})
_SPEAKS_JA = re.compile(r"[^、「」 がはのに]{0,6}(?:「|、| |が|は)")


def title_stages(title: str, words: Sequence[str] | None = None, lead: str = "") -> frozenset[str]:
    """The latest stage of each process the title reports, as "process:n"; `words`, when
    given, are its normalised words, and `lead` the report's first sentence."""
    found: set[str] = set()
    if any(form in title for form in _AHEAD):
        for form, stage in _AHEAD.items():
            if form in title:
                title = title.replace(form, " ")
                found.add(stage)
        words = None
    said = _said(title)
    if said:
        found.add(SAID)
    if side := _side(title):
        found.add(side)
    if (reaction := _reaction(title)) == "reaction:1" and (
        (criticism := _reaction(title, _CRITICISM)) == REACTED or (said and criticism == APPENDED)
    ):
        found.add(CRITICISED)
    elif reaction not in (None, APPENDED):
        found.add(reaction)
    elif lead and _lead_reacts(lead):  # a title that appends the reaction: its lead says whose
        found.add("reaction:2")
    elif reaction == APPENDED:
        found.add("reaction:1")
    if _DEMAND.search(folded := plain(title)):
        title, words = _DEMAND.sub(" ", folded), None
    tokens = WORD.findall(normalise(title)) if words is None else words
    named = found | STAGE_LEXICON.find(tokens)
    if ENACTED in named and _EARLY_READING.search(" ".join(tokens)):
        named = (named - {ENACTED}) | {"vote:2"}
    latest: dict[str, int] = {}
    for stage in named:
        process, n = stage.split(":")
        latest[process] = max(latest.get(process, 0), int(n))
    return frozenset(f"{process}:{n}" for process, n in latest.items())


def _side(title: str) -> str | None:
    """ "side:1" (Japan) or "side:2" (Russia), the side the title names first, if any."""
    folded = plain(title)
    if not is_cjk(folded) and (said := _ATTRIBUTION.search(folded)):
        folded = said.group()  # "…, Zakharova says": whose words
    found = [(m.start(), n) for n, p in enumerate(_SIDES.values(), 1) if (m := p.search(folded))]
    if is_cjk(folded):  # who speaks, before a quotation, a comma, a space, が or は
        spoken = [
            (m.start(), n)
            for n, p in enumerate(_SIDES.values(), 1)
            for m in p.finditer(folded)
            if _SPEAKS_JA.match(folded, m.end())
        ]
        found = spoken or found
    return f"side:{min(found)[1]}" if found else None


def _said(title: str) -> bool:
    """A title that reports what someone said (`_SAYING`; in Japanese, a quotation and who)."""
    folded = plain(title)
    if is_cjk(folded):
        return bool(_QUOTE.search(folded) and _SPEAKER.search(_QUOTE.sub(" ", folded)))
    return _SAYING.search(folded) is not None


def _reaction(title: str, reactions: re.Pattern[str] = _REACTION) -> str | None:
    """ "reaction:2" for a title that leads with the other side's reaction, "reaction:1" for
    one that names none, `APPENDED` for one whose side's reaction follows the act it reports
    ("…, Japan protests"), None for one whose reaction is nobody's side's (a crowd's protest)."""
    folded = plain(title)
    found = reactions.search(folded)
    # 官房長官「極めて遺憾」, calls remarks 'regrettable'
    quoted = _QUOTED.search(folded) if reactions is _REACTION else None
    if quoted is not None:
        start = quoted.start()
    elif found is not None:
        start = found.start()
    else:
        return "reaction:1"
    if is_cjk(folded):
        opener = _OPENER.match(folded)
        leads = (
            (quoted is not None and not _quote_appended(folded, start))
            or start < len(folded) / 2
            or bool(opener and start < opener.end() and _SPEAKER.search(opener.group()))
            or _led_by_speaker(folded, start)
            # one sentence ("…延長、官房長官が遺憾表明"): the reaction is its predicate; a
            # reaction after a space is appended to the act's clause ("…訪問　政府が抗議")
            or " " not in folded[:start].strip()
        )
    else:
        before = _DECLARING.sub("", folded[:start])
        leads = quoted is not None or len(WORD.findall(normalise(before))) <= LEAD_WORDS
    # who is quoted is often named after the words ("「受け入れられない」　政府、ロシアに抗議"),
    # never inside them ("野党「ロシアの演習は容認できない」")
    said = folded[:start] + (" " + folded[quoted.end() :] if quoted is not None else "")
    speaker = _SPEAKER.search(said) or ACTOR_LEXICON.find(WORD.findall(normalise(said)))
    if not speaker:
        return None
    return "reaction:2" if leads else APPENDED


def _lead_reacts(lead: str) -> bool:
    """A lead that reports the other side's reaction, the act its background ("…を訪問した
    ことを受けて、外務省は…抗議しました", "Japan lodged a protest with Russia over…"): the
    report of a title that tells the act and appends the reaction is the reaction's."""
    folded = plain(lead)
    if not is_cjk(folded):
        return _reaction(folded) == "reaction:2"
    after = _AFTER_ACT.search(folded)
    if after is not None:
        rest = folded[after.end() :]
    else:  # "木原官房長官は…ことについて「…」として、懸念を伝えた": whose words the lead is
        rest = folded if _SPEAKER_TOPIC.match(folded) else ""
    return _REACTION.search(rest) is not None and _SPEAKER.search(rest) is not None


def _quote_appended(folded: str, start: int) -> bool:
    """A Japanese title's quoted reaction after the clause that tells the act ("ロシア軍、択捉島に
    Su57配備　官房長官「遺憾」"): appended to it. After a subject alone ("千島連盟の指定　外相
    「受け入れられない」"), with no particle or comma, or after a clause that reacts already,
    the quote is what the title tells. The clauses before the quote's own space are read: NHK's
    "ロシア 北方領土で軍事演習　官房長官「遺憾」" opens with a subject alone, then tells the act."""
    space = folded.rfind(" ", 0, start)
    before = folded[:space]
    return (
        space > 0
        and bool("、" in before or _PARTICLE.search(before))
        and not _REACTION.search(before)  # "志発島「集落」新設に抗議　政府「…」" leads with it
    )


def _led_by_speaker(folded: str, start: int) -> bool:
    """A Japanese title whose clauses before the reaction's name only who reacts ("茂木外相
    …射撃訓練に抗議", "ザハロワ氏「挑発」 …命名に抗議"): the reaction is its predicate. A
    clause that tells the act, with particles or without ("露首相択捉島訪問 政府が抗議"), has
    the reaction appended to it."""
    clause = folded.rfind(" ", 0, start)  # NFKC (`plain`) made the ideographic space one
    before = _QUOTE.sub("", folded[: max(clause, 0)]).strip()
    return (
        0 < len(before) <= SPEAKER_CHARS
        and not _PARTICLE.search(before)
        and _SPEAKER_JA.search(before) is not None
    )


def unspoken(title: str) -> str:
    """A Japanese title without the words it quotes someone as saying in a clause appended to
    the event it tells ("「北方領土の日」全国大会　首相「粘り強く交渉」": the rally, where the
    prime minister vowed talks, not talks held). A title that leads with the words is a
    statement, which they tell ("外務次官「協議再開の用意」　制裁解除を条件に"); a quoted name
    ("「北方領土の日」") stays."""
    folded = plain(title)

    def spoken(m: re.Match[str]) -> str:
        before = folded[: m.start()].strip()
        return " " if " " in before and _SPEAKER_JA.search(before) else m.group()

    return _QUOTE.sub(spoken, folded)


def stages_apart(later: frozenset[str], earlier: frozenset[str], *, across: bool = False) -> bool:
    """The later report's title is at a later stage of a process than the earlier one's: a
    follow-up. Not the other way round: a later title that names an earlier stage recalls it
    ("Задержанный в прошлом году министр получил девять лет" after "Суд приговорил"). An act
    and the other side's reaction are two stories in either order: the act's own report after
    the reaction's (an English wire after NHK) is the act's story still.
    `across` languages, and in English, a law passed and a law enacted are one stage: "Diet
    passes bill" is English for 成立, where Japanese tells a chamber's 可決 from it."""
    before = {process: int(n) for process, n in (_stage(stage, across) for stage in earlier)}
    return any(
        _reactions_apart(n, before.get(process, n), later, earlier)
        if process == "reaction"
        else process != "side" and n > before.get(process, n)
        for process, n in (_stage(s, across) for s in later)
    )


def _reactions_apart(n: int, m: int, later: frozenset[str], earlier: frozenset[str]) -> bool:
    """Criticism and another reaction are one; criticism and a title naming no reaction are
    two, unless that title reports what was said (the criticism's other words)."""
    if {n, m} == {2, 3}:  # a criticism and the other side's reaction: a statement, a reply
        return (
            bool(later & _SIDE_MARKS)
            and bool(earlier & _SIDE_MARKS)
            and later & _SIDE_MARKS != earlier & _SIDE_MARKS
        )
    if n == m:
        return False
    if 3 in (n, m):  # unless the other reports what was said, by the same side or no side's
        other = earlier if n == 3 else later
        sides = (later & _SIDE_MARKS) | (earlier & _SIDE_MARKS)
        return SAID not in other or len(sides) == 2
    return True


def _stage(stage: str, across: bool) -> tuple[str, int]:
    process, n = stage.split(":")
    if across and stage == ENACTED:
        return process, int(n) - 1
    return process, int(n)
