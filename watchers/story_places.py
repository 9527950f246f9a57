"""The Kuril islands a text names, by the forms their names take in English, Russian and
Japanese (`places`), for story clustering."""

from __future__ import annotations

import re
from typing import Any

import ahocorasick

from watchers.topics.normalise import is_cjk, normalise

# The islands, by the forms their names take in EN, RU and JA (matched inside normalised text).
_PLACES = {
    "iturup": ("iturup", "etorofu", "итуруп", "択捉"),
    "kunashir": ("kunashir", "кунашир", "国後"),
    "shikotan": ("shikotan", "шикотан", "色丹"),
    "habomai": (  # the group, and its islets by their names
        "habomai",
        "хабомаи",
        "歯舞",
        "signalny",
        "сигнальн",
        "貝殻島",
        "tanfiliev",
        "tanfilyev",
        "танфильев",
        "水晶島",
        "polonsk",
        "полонск",
        "多楽島",
        "志発島",
        "勇留島",
        "秋勇留",
        "shibotsu",
        "suisho",
        "taraku",
        "akiyuri",
        "zelyon",
        # Зелёный, Shibotsu, is also "green": only after the word island
        "остров зелен",
        "острове зелен",
        "острова зелен",
        "островов зелен",
        "островом зелен",
        # so are Юрий, a man's name (Yuri, 勇留島), and Анучин, a surname (Anuchina, 秋勇留島)
        "остров юри",
        "острове юри",
        "острова юри",
        "yuri island",
        "yuri islet",
        "остров анучин",
        "острове анучин",
        "острова анучин",
        "anuchina island",
    ),
    # the northern islands: Japanese writes them in katakana as often as in kanji
    "paramushir": ("paramushir", "парамушир", "パラムシル", "幌筵"),
    "shumshu": ("shumshu", "шумшу", "シュムシュ", "占守"),
    "urup": ("urup", "уруп", "ウルップ", "得撫"),
    "matua": ("matua", "матуа", "マツワ", "松輪島"),
    "simushir": ("simushir", "симушир", "シムシル", "新知島"),  # 新知事 is a new governor
    "onekotan": ("onekotan", "онекотан", "オネコタン", "温禰古丹"),
    "shiashkotan": ("shiashkotan", "шиашкотан", "シャシコタン", "捨子古丹"),
    "kharimkotan": ("kharimkotan", "харимкотан", "ハリムコタン", "春牟古丹"),
    "ketoi": ("ketoi", "ketoy", "кетоя", "кетое", "ケトイ", "計吐夷"),  # кетой is chum salmon
    "rasshua": ("rasshua", "расшуа", "ラシュワ", "羅処和"),
    "ushishir": ("ushishir", "ушишир", "ウシシル", "宇志知"),
    "chirpoi": ("chirpoi", "chirpoy", "чирпо", "チルポイ", "知理保以"),
    "ekarma": ("ekarma", "экарм", "エカルマ"),
    "chirinkotan": ("chirinkotan", "чиринкотан", "チリンコタン"),
    "raikoke": ("raikoke", "райкоке", "ライコケ", "雷公計"),
    "makanrushi": ("makanrushi", "маканруши", "マカンルシ", "磨勘留"),
    "atlasov": ("alaid", "алаид", "阿頼度"),  # by its volcano: Atlasov is also a surname
}


# The Lesser Kuril Chain is Shikotan and the Habomai islets; Russian reports name the islets
# by it ("у Малой Курильской гряды", where Japanese ones say 歯舞群島) and Shikotan by its own
# name, so a text that names the chain and not Shikotan names the islets.
_LESSER_CHAIN = re.compile(r"(?<!\w)(?:мал\w* курильск\w* гряд|lesser kuril)")


def _island(word: str) -> str | None:
    """The id of the Kuril island a word names, if it names one."""
    found = places(word)
    return min(found) if found else None


# a Latin or Cyrillic name starts a word (Urup is not the end of Iturup); a Japanese one is
# found anywhere
_PLACE_FORMS = [
    (place, forms, re.compile("|".join(f if is_cjk(f) else rf"(?<!\w){f}" for f in forms)))
    for place, forms in _PLACES.items()
]


def _place_automaton() -> Any:
    """Every island's forms in one automaton: a single scan finds the islands a text may name,
    and only their own pattern is tried."""
    candidates: dict[str, list[tuple[str, re.Pattern[str]]]] = {}
    for place, forms, form in _PLACE_FORMS:
        for f in forms:
            candidates.setdefault(f, []).append((place, form))
    automaton = ahocorasick.Automaton()
    for f, found in candidates.items():
        automaton.add_word(f, found)
    automaton.make_automaton()
    return automaton


_PLACE_AUTOMATON = _place_automaton()


def places(text: str) -> frozenset[str]:
    """The Kuril islands a text names, in any of the three languages."""
    folded = normalise(text)
    found: set[str] = set()
    # each island's pattern is tried once: it searches the whole text, so trying it again at
    # every hit of its form (the "уруп" in each "Итуруп") made a long text's cost quadratic
    tried: set[str] = set()
    for _, candidates in _PLACE_AUTOMATON.iter(folded):
        for place, form in candidates:
            if place not in tried:
                tried.add(place)
                if form.search(folded):
                    found.add(place)
    if "shikotan" not in found and _LESSER_CHAIN.search(folded):
        found.add("habomai")
    return frozenset(found)
