"""What reports in different languages can compare: the kind of event a title reports and the
people and places it names, as ids that are the same in English, Russian and Japanese."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from itertools import chain

from watchers.topics.normalise import is_cjk

# "толчок" alone is as often an impetus ("дать толчок развитию"): a tremor is named with a word
# beside it
_TREMOR_RU = (
    *(f"толч{end} магнитуд" for end in ("ок", "ка", "ком")),
    *(f"подземн{end} толч" for end in ("ый", "ые", "ого", "ых")),
)
_AFTERSHOCK_RU = tuple(
    f"повторн{end} {shock}"
    for end in ("ый", "ые", "ого", "ых", "ое")
    for shock in ("толч", "землетряс")
)
# Forms are matched in a text's normalised words: a Latin or Cyrillic form as the start of a
# word ("$" after it: the whole word), a form with a space or hyphen as whole words in a row,
# the last one its start ("повторный толч"), a Japanese form anywhere.
KINDS: Mapping[str, tuple[str, ...]] = {
    "quake": (
        "quake", "earthquake", "tremor", "seismic", "tsunami", "землетрясен", "толчки$",
        "толчков$", *_TREMOR_RU, *_AFTERSHOCK_RU, "сейсм", "цунами", "地震", "震度", "津波",
    ),
    "aftershock": ("aftershock", "афтершок", *_AFTERSHOCK_RU, "余震"),
    "eruption": (
        "erupt", "ash$", "изверж", "изверг", "пепел", "пепла", "пеплов", "噴火", "噴煙",
    ),
    "storm": (
        "storm", "typhoon", "cyclone", "blizzard", "gale$", "gales$", "шторм", "циклон",
        "тайфун", "ураган", "метел", "пург", "暴風", "台風", "低気圧", "大雪", "高波", "しけ",
    ),
    "outage": (
        "blackout", "outage", "power cut", "cuts power", "without power", "without electricity",
        "без света", "без электри", "обесточ", "停電",
        "without water", "water cut", "без воды", "без водоснабж", "断水",
        "without heat", "heating cut", "без тепла", "без отоплен", "暖房停止", "暖房が止ま",
        "internet outage", "without internet", "без интернет", "без связи", "通信障害", "不通",
    ),
    "fire": (
        "fire$", "fires$", "wildfire", "blaze", "пожар", "возгоран", "火災", "火事",
    ),
    "drills": (
        "drill$", "drills$", "exercises$", "manoeuvr", "maneuver", "wargam", "war games",
        "учения$", "учений$", "учениях$", "учениям$", "учениями$", "учение$", "учении$",
        "учением$", "маневр", "стрельб",
        "отработал", "условн",
        "演習", "訓練", "射撃",
    ),
    "deployment": (
        "deploy", "combat duty", "развер", "размест", "заступил", "на дежурство", "配備",
    ),
    "entry ban": (
        "entry ban", "banned from entering", "запрет на въезд", "закрыла въезд", "закрыл въезд",
        "запретил въезд", "стоп-лист", "入国禁止", "入国を禁止",
    ),
    "commemoration": (
        "anniversar", "commemorat", "wreath", "memorial", "годовщин", "почтил", "памят",
        "венк", "мемориал", "慰霊", "追悼", "記念式", "周年",
    ),
    "protest": (
        "protest", "summon", "rally against", "rallies against", "rallied against", "протест",
        "вызвал посл", "вызвали посл", "митинг против", "митинга против", "митинге против",
        "митинги против", "пикет", "抗議", "呼び出", "召致",
    ),
    "visit": (
        "visit", "inspect$", "inspects$", "inspected$", "inspecting$", "inspection$",
        "inspections$", "tour$", "tours$", "toured$", "посет", "посещ", "визит", "осмотр",
        "побывал", "訪問", "視察", "訪れ", "訪ロ", "訪露", "訪日", "来日", "島入り",
    ),
    "seizure": (
        "seiz", "detain", "detention", "arrest", "captur", "задержа", "арест", "拿捕", "拘束",
        "逮捕", "連行",
    ),
    "accident": (
        "capsiz", "wreck", "sink", "sank$", "sunk$", "aground", "collid", "collision", "crash",
        "опрокин", "затону", "на мель", "на камни", "столкн", "крушен", "авария$", "аварии$",
        "аварию$",
        "転覆", "沈没", "座礁", "衝突", "事故",
    ),
    "medevac": (
        "airlift", "air ambulance", "medevac", "санавиац", "медэвакуац", "緊急搬送", "ドクターヘリ",
    ),
    "search": (
        "missing", "rescu", "пропал", "пропавш", "спас", "поиск", "行方不明", "安否不明", "不明者",
        "人が不明", "人不明", "員が不明", "船不明", "船が不明", "救助", "捜索",
    ),
    # whole Russian words (Медведев is no bear, Китов no whale); クマ only before a particle
    # or as "bear sighted" (not ブックマーク)
    "wildlife": (
        "bear$", "bears$", "whale", "orca", "sea lion", "медведь$", "медведя$", "медведю$",
        "медведем$", "медведе$", "медведи$", "медведей$", "медведям$", "медведями$",
        "медведях$", "медведиц", "медвеж", "кит$", "кита$", "киту$", "китом$", "ките$",
        "киты$", "китам$", "китами$", "китах$", "китенок", "касатк", "косатк", "сивуч",
        "ヒグマ", "クマが", "クマに", "クマの", "クマを", "クマ出没", "クマ目撃", "クジラ",
        "シャチ", "seals$", "тюлен", "нерп", "アザラシ", "オットセイ", "walrus", "морж$",
        "моржа$", "моржи$", "моржей$", "セイウチ", "sea otter", "калан", "ラッコ", "dolphin",
        "дельфин", "イルカ", "eagle$", "eagles$", "орлан", "オオワシ", "オジロワシ",
    ),
    # a roof, bridge, crane or building that falls in, by what fell: a bare "обрушилась" is as
    # often a storm or criticism, "рухнул" a helicopter, 崩落 a landslide, "gave way" a
    # concession; 倒壊 is a structure's
    "collapse": (
        "roof collapse", "bridge collapse", "building collapse", "обрушилась крыш",
        "обрушилась кровл", "обрушился мост", "обрушилось здание", "обрушение крыш",
        "обрушение кровл", "обрушение моста", "обрушения крыш", "обрушения моста",
        "крыша обрушилась", "мост обрушился", "рухнул мост", "рухнула крыша", "мост рухнул",
        "крыша рухнула", "屋根が崩落", "屋根崩落", "橋が崩落", "橋崩落", "橋が崩れ", "屋根が崩れ",
        "倒壊", "crane collapse", "crane toppl", "рухнул кран", "рухнул портальный кран",
        "рухнул башенный кран", "кран рухнул", "упал кран",
    ),
    "outbreak": (
        "outbreak", "measles", "epidemic", "quarantin", "вспышк", "корь$", "кори$", "эпидеми",
        "карантин", "rabies", "rabid", "бешенств", "はしか", "麻疹", "集団感染", "感染拡大",
        "狂犬病", "検疫",
    ),
    "poisoning": ("poisoning", "poisoned", "отравлен", "отравил", "食中毒"),
    "landslide": (
        "avalanche", "landslide", "mudslide", "mudflow", "лавин", "оползн", "сель$", "雪崩",
        "土砂崩れ", "地滑り", "土石流",
    ),
    "labour": (
        "walkout", "unpaid wages", "wage arrears", "забастов", "стачк", "невыплат",
        "долгов по зарплат", "долги по зарплат", "ストライキ", "でスト", "賃金未払い",
    ),
    "cruise": ("cruise ship", "cruise liner", "cruise call", "круиз", "クルーズ", "観光船"),
    "auction": (
        "auction", "tender", "аукцион", "торги$", "торгах$", "с торгов", "落札", "入札", "競売",
    ),
    "housing": (
        "housing", "apartment", "flats$", "new homes", "ключи от", "новых квартир",
        "новые квартиры", "жиль", "новосел", "集合住宅",
    ),
    "ordnance": (
        "unexploded", "ordnance", "боеприпас", "снаряд", "авиабомб", "разминир", "不発弾", "砲弾",
        "爆破処理",
    ),
    "wartime relics": (
        "wartime", "relic", "salvag", "танк$", "танка$", "танки$", "戦車", "引き揚げ",
    ),
    "church": ("church", "cathedral", "храм", "церк", "教会"),
    "excavation": (
        "archaeolog", "excavat", "раскоп", "археолог", "発掘", "遺跡", "住居跡",
    ),
    "leak": ("leak", "ammonia", "spill", "утечк", "аммиак", "разлив", "漏れ", "漏洩", "流出"),
    "volcanic alert": (
        "aviation code", "colour code", "color code", "код авиационной", "авиационный код",
        "噴火警戒", "火山活動", "警戒レベル",
    ),
    "opening": (
        "open$", "opens$", "opened$", "inaugurat", "unveil", "commissioned$", "into service",
        "completed$", "открыл", "в строй", "в эксплуатацию", "достроил", "достроен", "完成",
        "открыт", "открыва", "заработал", "запущ", "запуст", "開業", "開所", "開校", "開設",
        "稼働", "開通", "運用開始", "開園", "運航開始", "就航",
    ),
    "construction": (
        "construct", "reconstruct", "built$", "renovat", "строител", "строят",
        "постро", "реконструкц", "建設", "工事", "着工", "改修",
    ),
    "halt": (
        "halt", "shut$", "shuts$", "shutdown", "suspend", "repair", "breakdown", "malfunction",
        "поломк",
        "останов", "приостанов", "ремонт", "прекрат", "停止", "休止", "故障", "中止", "中断",
        "閉鎖", "closure", "закрыти",
    ),
    "talks": (
        "talks$", "consultations$", "negotiat", "summit", "переговор", "консультаци", "саммит",
        "会談", "交渉", "協議",
    ),
    "fishing": (
        "harvest", "fishing season", "kelp", "промысел", "промысл", "ламинари", "解禁", "出漁",
        "漁が始", "漁始", "コンブ", "昆布",
    ),
    "agreed": (
        "agree", "deal$", "accord$", "согласова", "договорил", "妥結", "合意",
    ),
    "stalled": (
        "stall", "deadlock", "impasse", "тупик", "безрезультат", "まとまらず", "難航", "決裂",
        "物別れ",
    ),
    "request": (
        "ask$", "asks$", "asked$", "request", "urge$", "urges$", "urged$", "попрос", "просьб",
        "призвал", "призыв", "要請", "要望",
    ),
    "graves": ("graves$", "grave visit", "cemeter", "могил", "кладбищ", "墓参", "墓地"),
    "aerial": ("aerial", "from the air", "облет", "上空"),
    # an opinion survey, not a seismic or geological one
    "poll": (
        "poll$", "polls$", "opinion survey", "survey show", "survey find", "survey found",
        "опрос", "世論調査",
    ),
    "economic zone": (
        "customs", "tax-free", "tax break", "таможен", "льгот", "関税", "特区", "免税",
    ),
    "election": ("election", "elect$", "elected$", "vote", "выбор", "голосова", "選挙", "投票"),
    "court": ("court$", "courts$", "fined$", "sentenc", "suspended term", "prison term",
              "jail term", "jailed$", "суд$", "суде$", "штраф", "оштраф", "приговор",
              "условный срок", "условного срока", "условному сроку",
              "裁判", "判決", "罰金", "執行猶予", "懲役", "禁錮"),
}  # fmt: skip

# People and places that outlets of every language name, by the forms their names take.
ACTORS: Mapping[str, tuple[str, ...]] = {
    # Putin's case forms, not the fishing season's (путины, путиной: "первая сайра путины")
    "putin": (
        "putin", "путин$", "путина$", "путину$", "путиным$", "путине$", "путинск", "プーチン",
    ),
    "lavrov": ("lavrov", "лавров", "ラブロフ"),
    "peskov": ("peskov", "песков", "ペスコフ"),
    "zakharova": ("zakharova", "захарова", "захаровой", "ザハロワ"),
    "medvedev": ("medvedev", "медведев", "メドベージェフ"),
    "shoigu": ("shoigu", "шойгу", "ショイグ"),
    "belousov": ("belousov", "белоусов", "ベロウソフ"),
    "mishustin": ("mishustin", "мишустин", "ミシュスチン"),
    "trutnev": ("trutnev", "трутнев", "トルトネフ"),
    "limarenko": ("limarenko", "лимаренко", "リマレンコ"),
    "galuzin": ("galuzin", "галузин", "ガルージン"),
    "nozdrev": ("nozdrev", "ноздрев", "ノズドレフ"),
    "takaichi": ("takaichi", "такаити", "高市"),
    "ishiba": ("ishiba", "исиба", "石破"),
    "kishida": ("kishida", "кисида", "岸田"),
    "motegi": ("motegi", "мотеги", "мотэги", "茂木"),
    "iwaya": ("iwaya", "ивая", "岩屋"),
    "kamikawa": ("kamikawa", "камикава", "上川外相", "上川陽子"),
    "hayashi": ("hayashi", "хаяси", "林官房", "林外相", "林芳正"),
    "muto": ("muto$", "муто$", "武藤"),
    "ebeko": ("ebeko", "эбеко", "エベコ"),
    "severo-kurilsk": ("severo-kurilsk", "severokurilsk", "северо-курильск", "セベロクリリスク"),
    "yuzhno-kurilsk": ("yuzhno-kurilsk", "южно-курильск", "ユジノクリリスク"),
    "malokurilskoye": ("malokurilsk", "малокурильск", "マロクリリスコエ"),
    "mendeleyevo": ("mendeleyevo", "mendeleevo", "менделеево", "メンデレーエボ"),
    "nemuro": ("nemuro", "немуро", "根室"),
    "hokkaido": ("hokkaido", "хоккайдо", "北海道"),
    "sakhalin": ("sakhalin", "сахалин", "サハリン"),
}  # fmt: skip


# Named by most reports from there, whatever happened: no sign of one event.
REGIONS = frozenset({"hokkaido", "sakhalin"})
# The places of `ACTORS` on or by the islands: a report naming one is the islands' news (people
# are not: Putin's news is mostly other news).
LOCAL_PLACES = frozenset(
    {"ebeko", "severo-kurilsk", "yuzhno-kurilsk", "malokurilskoye", "mendeleyevo", "nemuro"}
)
# Where something happened, as an island is: many events there a day, so no sign of one.
PLACES = REGIONS | LOCAL_PLACES
# The island a town or volcano is on, by the town's own forms ("В Северо-Курильске" is on
# Paramushir, 幌筵島), not its district's adjective: Южно-Курильский район holds Shikotan too.
TOWNS: Mapping[str, tuple[str, ...]] = {
    "paramushir": (
        "severo-kurilsk$", "severokurilsk$", "северо-курильск$", "северо-курильска$",
        "северо-курильску$", "северо-курильске$", "セベロクリリスク", "ebeko", "эбеко", "エベコ",
    ),
    "kunashir": (
        "yuzhno-kurilsk$", "южно-курильск$", "южно-курильска$", "южно-курильску$",
        "южно-курильске$", "ユジノクリリスク", "mendeleyevo", "mendeleevo", "менделеево",
        "メンデレーエボ",
    ),
    "shikotan": (
        "malokurilsk", "малокурильск", "マロクリリスコエ", "斜古丹", "krabozavodsk", "крабозаводск",
        "クラボザボツコエ",
    ),
    # and Kurilsk (`town_islands`), which Japanese outlets call 紗那
    "iturup": ("紗那", "reidovo", "рейдово", "レイドボ"),
}  # fmt: skip
# The islands as a whole, for telling their news from other news (not a place to compare).
KURILS: Mapping[str, tuple[str, ...]] = {
    "kurils": (
        "kuril",
        "northern territories",
        "курил",
        "курильск",
        "千島",
        "北方領土",
        "北方四島",
        # the visa-free exchanges are with the islands alone
        "visa free exchange",
        "безвизовых обмен",
        "безвизовые обмен",
        "безвизовым обмен",
        "безвизового обмен",
        "ビザなし交流",
        "ビザなし渡航",
    ),
}


class Lexicon:
    """Finds which ids of a table of forms a text's normalised words name, cheaply: a word's
    form is looked up by the word's first three letters, and only Japanese forms and phrases
    are searched for in the words joined."""

    def __init__(self, table: Mapping[str, Iterable[str]]) -> None:
        self._by_start: defaultdict[str, list[tuple[str, bool, str]]] = defaultdict(list)
        self._japanese: list[tuple[str, str]] = []  # (form, id)
        self._phrases: list[tuple[str, str]] = []
        for key, forms in table.items():
            for form in forms:
                whole = form.endswith("$")
                form = form.rstrip("$")
                if is_cjk(form):
                    self._japanese.append((form, key))
                elif " " in form or "-" in form:
                    self._phrases.append((f" {form.replace('-', ' ')}{' ' if whole else ''}", key))
                else:
                    self._by_start[form[:3]].append((form, whole, key))

    def find(self, words: Sequence[str]) -> frozenset[str]:
        """The ids that a text's normalised words (`watchers.topics.normalise.WORD`) name."""
        found = set()
        distinct = set(words)
        # most texts name none: the starts are compared in C first
        if starts := {word[:3] for word in distinct} & self._by_start.keys():
            for word in distinct:
                for form, whole, key in (
                    self._by_start.get(word[:3], ()) if word[:3] in starts else ()
                ):
                    if word == form or (not whole and word.startswith(form)):
                        found.add(key)
        text = f" {' '.join(words)} "
        for form, key in chain(self._phrases, self._japanese if is_cjk(text) else ()):
            if form in text:
                found.add(key)
        return frozenset(found)


KIND_LEXICON = Lexicon(KINDS)
# Warning shots and gunfire, a kind of event whose phrases borrow the words of others ("fire
# warning shots" is no blaze, "открыли огонь" no opening, 警告射撃 no drills): the other
# kinds are read in the words left around the phrase. Not a table of forms: the verb that
# borrows is known only beside its object ("opens fire on", not "opens fire station").
_SHOOTING = re.compile(
    r"(?<!\S)(?:(?:fir(?:e|es|ed|ing) )?warning shots?|open(?:s|ed|ing)? fire(?= (?:on|at|near"
    r"|over|in)\b)|gunfire|открыл[аи]? (?:предупредительный )?огонь|предупредительн\w* "
    r"(?:огонь|выстрел\w*|стрельб\w*))(?!\S)|警告射撃|威嚇射撃|発砲"
)


# A hazard that names what a facility is for is no event of its kind ("tsunami gauge
# station", "fire depot", "станция предупреждения о цунами", 津波観測所): the other kinds are
# read in the words left around the phrase, as for shooting.
_FACILITY = re.compile(
    r"(?<!\S)(?:tsunami|quake|earthquake|seismic|fire|volcano|volcanic|storm)"
    r"(?: (?:warning|early|gauge|monitoring|observation|alert|safety|hazard))*"
    r" (?:stations?|posts?|gauges?|sensors?|systems?|depots?|centres?|centers?|crews?"
    r"|engines?|trucks?|brigades?|services?|hydrants?|observator\w*)(?!\S)"
    r"|(?<!\S)пожарн\w* (?:депо|част\w*|машин\w*|станц\w*|охран\w*|команд\w*|автомоб\w*)(?!\S)"
    r"|(?<!\S)(?:станц|пост|систем|датчик|обсерватор)\w*(?: \S+){0,3}"
    r" (?:цунами|землетрясен\w*|сейсм\w*)(?!\S)"
    r"|сейсмостанц\w*|津波観測|津波計|地震計|地震観測|消防署|火災報知"
)


def facility_kinds(words: Sequence[str]) -> frozenset[str]:
    """The kinds of hazard the facilities a title names are for ("色丹島に津波観測所": the
    quake): a lead's warnings of that hazard tell the facility's purpose, not an event."""
    found = _FACILITY.findall(" ".join(words))
    return KIND_LEXICON.find(" ".join(found).split()) if found else frozenset()


def kinds_of(words: Sequence[str]) -> frozenset[str]:
    """The kinds of event a text's normalised words name, warning shots and gunfire
    ("shooting") among them."""
    text = " ".join(words)
    if _FACILITY.search(text):
        text = _FACILITY.sub(" ", text)
        words = text.split()
    if not _SHOOTING.search(text):
        return KIND_LEXICON.find(words)
    return KIND_LEXICON.find(_SHOOTING.sub(" ", text).split()) | {"shooting"}


ACTOR_LEXICON = Lexicon(ACTORS)
TOWN_LEXICON = Lexicon(TOWNS)
# Kurilsk, the town of Iturup, ends the names of the other islands' towns (Северо-Курильск,
# Южно-Курильск, Yuzhno Kurilsk), whose hyphen the normalised words lose: it is found in the
# text itself, as a whole word (Курильская гряда is the chain, the Курильский заповедник on
# Kunashir, the Первый Курильский пролив off Paramushir).
_KURILSK = re.compile(
    r"(?<![\w\u2010-\u2015-])(?<!южно.)(?<!северо.)(?<!yuzhno.)(?<!severo.)"
    r"(?:kurilsk|курильск[аеу]?)(?!\w)",
    re.IGNORECASE,
)


def town_islands(text: str, words: Sequence[str]) -> frozenset[str]:
    """The islands of the towns a text names (`words` its normalised words)."""
    found = TOWN_LEXICON.find(words)
    return found | {"iturup"} if _KURILSK.search(text) else found


KURIL_LEXICON = Lexicon(KURILS)


# Two ends of talks: an agreement and a deadlock are two events, whatever else they share.
OUTCOMES = frozenset({"agreed", "stalled"})


def kinds_conflict(a: frozenset[str], b: frozenset[str]) -> bool:
    """Two titles report different kinds of event: each names a kind, and none in common; or
    they report talks ending in different ways."""
    return bool(a and b and not a & b) or ends_apart(a, b)


def ends_apart(a: frozenset[str], b: frozenset[str]) -> bool:
    """Two titles report talks that ended in different ways (of any news: "talks stall" and
    "talks agreed" are no figures of speech)."""
    ends = (a & OUTCOMES, b & OUTCOMES)
    return "talks" in a & b and bool(ends[0] and ends[1] and not ends[0] & ends[1])


# numbers too common in titles to look a report up by: a count below 10, a year
_COMMON_NUMBER = re.compile(r"[0-9]|(?:19|20)[0-9]{2}")


def bridge_keys(
    kinds: frozenset[str],
    actors: frozenset[str],
    islands: frozenset[str],
    title_numbers: frozenset[str] = frozenset(),
) -> frozenset[str]:
    """What a report in another language is looked up by: its title's kinds of event, people,
    places and telling numbers (not a count below 10 or a year, which many titles share)."""
    named = (f"@{name}" for name in chain(actors, islands))
    numbered = (f"#{n}" for n in title_numbers if not _COMMON_NUMBER.fullmatch(n))
    return frozenset(chain(kinds, named, numbered))
