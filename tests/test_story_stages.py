"""The stage of a process a title reports: two stages of one process are an event and its
follow-up, one stage told in other words is one event."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from watchers.story_replay import StoryReplay
from watchers.story_stages import STAGES, stages_apart, title_stages

T0 = datetime(2031, 6, 3, 2, 0, tzinfo=UTC)
_FORMS = [form.rstrip("$") for forms in STAGES.values() for form in forms]


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Border guards detain Japanese crab boat off Shikotan", "Russia frees Japanese crab boat"),
        ("Fishing boat missing off Nemuro with five aboard", "Five fishermen rescued off Nemuro"),
        (
            "Mayor of Tomsk detained on bribery suspicion",
            "Court jails ex-mayor of Tomsk for 9 years",
        ),
        ("Senate to vote on port security bill", "Senate passes port security bill"),
        ("Salmon talks begin in Moscow", "Japan, Russia agree on salmon quota"),
        ("Aurora reach final in Sapporo", "Aurora win title in Sapporo"),
        ("В Южно-Сахалинске задержан вице-мэр", "Суд арестовал вице-мэра Южно-Сахалинска"),
        ("Рыбаки пропали у Шикотана", "Пропавших у Шикотана рыбаков нашли живыми"),
        ("Аэропорт Итурупа закрыли из-за тумана", "Аэропорт Итурупа возобновил работу"),
        ("根室沖で漁船が行方不明", "根室沖の不明漁船 乗組員全員を救助"),
        ("国後島沖で小型船転覆 2人不明", "国後島沖の転覆 不明の2人を発見"),
        ("新知島で研究者2人が不明", "新知島で不明の研究者2人 無事発見"),
        ("根室沖でロシア漁船不明", "不明のロシア漁船 発見 乗組員全員無事"),
        ("元市長を逮捕", "元市長を起訴"),
        ("Ex-mayor charged with bribery", "Ex-mayor gets suspended term for bribery"),
        ("Экспортеру предъявили обвинение", "Экспортеру дали условный срок"),
        ("元社長を起訴", "元社長に執行猶予付き判決"),
        ("漁業交渉が開始", "漁業交渉が妥結"),
        ("Visa-free exchange talks begin in Tokyo", "Visa-free exchange talks end in Tokyo"),
        ("改正法案が衆院で審議入り", "改正法が成立"),
        ("改正法案 あす成立へ", "改正法が成立"),
        # an attack, then the animal shot or caught
        ("Bear mauls angler on Iturup", "На Итурупе застрелили медведя, напавшего на рыбака"),
        ("На Итурупе медведь напал на рыбака", "Bear that attacked angler on Iturup shot dead"),
        ("択捉島でクマに襲われ男性重傷", "男性襲ったクマを駆除　択捉島"),
        # a bill passed by a chamber or in a first reading, then enacted or signed
        (
            "Госдума приняла в первом чтении законопроект о квотах",
            "Закон о квотах принят окончательно",
        ),
        ("北方領土法改正案、衆院で可決", "改正北方領土法が成立"),
        ("Совфед одобрил закон о Курилах", "Президент подписал закон о Курилах"),
        ("Госдума приняла законопроект о квотах в первом чтении", "Госдума приняла закон о квотах"),
        ("House passes Kuril fisheries bill", "Kuril fisheries bill signed into law"),
        ("Shareholders to vote on Nemuro fish merger", "Shareholders approve Nemuro fish merger"),
        # a storm on its way, then its landfall
        ("台風10号 北海道に接近", "台風10号 根室に上陸"),
        ("Typhoon Lan nears Hokkaido", "Typhoon Lan makes landfall near Nemuro"),
        # a strike begun, then ended; a meeting ahead, then over without agreement
        ("根室の漁協がスト突入", "漁協のスト 労使合意で終結"),
        ("日ロ外相 あす会談へ", "日ロ外相会談 平和条約で平行線"),
        ("Россия и Япония обсуждают квоты на краба", "Россия и Япония договорились о квотах"),
        # heating cut off, then restored
        ("Северо-Курильск остался без тепла после аварии", "В Северо-Курильске дали тепло"),
    ],
)
def test_a_later_stage_of_one_process_is_a_follow_up(a: str, b: str) -> None:
    assert stages_apart(title_stages(b), title_stages(a))
    # a later report at the earlier stage recalls it ("detained in May"), no follow-up
    assert not stages_apart(title_stages(a), title_stages(b))


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Border guards detain Japanese crab boat", "Russia seizes Japanese crab boat"),
        ("Rescuers find missing fishermen alive", "Missing fishermen rescued off Nemuro"),
        ("Jury convicts ex-mayor on bribery charges", "Ex-mayor found guilty of bribery"),
        ("Court jails ex-mayor detained in May", "Ex-mayor sentenced to 9 years"),
        ("Senate passes port security bill", "Senate approves port bill"),
        ("Суд арестовал вице-мэра", "Вице-мэра отправили под стражу"),
        ("行方不明の漁船を捜索", "漁船と連絡取れず"),
        ("Salmon talks begin in Moscow", "Lavrov sees no basis for treaty talks"),
        ("Начальник полиции уволен", "Полицейский задержан"),
        # words that only look like a stage: a description, a name, another sense
        ("ビザなし交流 見合わせ ロシア", "Russia suspends visa-free exchanges with Japan"),
        ("Japan-Russia fishing talks begin", "Japan, Russia start talks on fishing agreement"),
        ("Russia charges Navalny with extremism", "Jailed critic Navalny charged with extremism"),
        ("Former mayor goes on trial", "Former mayor pleads not guilty as trial opens"),
        ("Japan reaches semifinal", "Japan reaches semifinal at world championships"),
        ("不明の漁船 捜索続く", "不明の漁船 見つからず 捜索続く"),
        ("Рыбаков ищут у Шикотана", "Операция по спасению рыбаков у Шикотана"),
        ("Thousands rally in Tokyo against budget", "Thousands protest in Tokyo against budget"),
        (
            "Russia deploys Bastion missiles on Kurils",
            "Russia deploys 'Bastion' on Kurils, Japan protests",
        ),
        ("Путин встретился с губернатором", "Путин принял в Кремле губернатора"),
        ("Лавров и Мотэги обсудили мирный договор", "Лавров и Мотэги договорились о встрече"),
        ("Bear mauls angler on Iturup", "На Итурупе медведь напал на рыбака"),
        ("択捉島でクマに襲われ男性重傷", "Bear attack on Iturup leaves angler injured"),
        # a law the Duma passed is passed in its final reading
        ("Госдума приняла закон о туристическом сборе", "Депутаты окончательно одобрили сбор"),
        # a bill passed in a first reading, its words in another order (a bill is no law)
        (
            "Госдума приняла в первом чтении законопроект о квотах",
            "Госдума приняла законопроект о квотах в первом чтении",
        ),
        ("Госдума одобрила законопроект о квотах", "Госдума приняла законопроект о квотах"),
        ("Госдума одобрила закон о квотах", "Госдума приняла закон о квотах"),
        (
            "Госдума приняла во втором чтении закон о квотах",
            "Дума приняла закон о квотах во втором чтении",
        ),
    ],
)
def test_one_stage_in_other_words_or_none_is_no_conflict(a: str, b: str) -> None:
    assert not stages_apart(title_stages(a), title_stages(b))
    assert not stages_apart(title_stages(b), title_stages(a))


@pytest.mark.parametrize(
    ("enacted", "passed"),
    [
        ("改正北方領土法が成立", "Japan's Diet passes northern territories law"),
        ("Госдума окончательно приняла закон о Курилах", "Duma passes Kuril law"),
    ],
)
def test_a_law_enacted_is_a_law_passed_in_another_language(enacted: str, passed: str) -> None:
    """English says "passes" of a law enacted: only one language tells the two stages apart."""
    assert stages_apart(title_stages(enacted), title_stages(passed))  # as in one language
    assert not stages_apart(title_stages(enacted), title_stages(passed), across=True)


@pytest.mark.parametrize(
    ("passed", "enacted"),
    [
        (
            "Japan's Diet passes law to bolster Nemuro fisheries",
            "Japan's Diet enacts law to bolster Nemuro fisheries",
        ),
        (
            "State Duma passes law on free flights for Kuril residents",
            "State Duma passes law on free flights for Kuril residents in final reading",
        ),
    ],
)
def test_english_that_says_passed_and_enacted_of_one_vote_tells_one_story(
    passed: str, enacted: str
) -> None:
    """English says "passes" of a law enacted (a Diet's last vote, the Duma's third
    reading): two outlets' words for one vote are one story, as across languages."""
    replay = StoryReplay()
    first = replay.place("passed", passed, "", T0)
    assert replay.place("enacted", enacted, "", T0 + timedelta(minutes=20)) == first


@given(st.lists(st.sampled_from(_FORMS), max_size=6), st.lists(st.sampled_from(_FORMS), max_size=6))
def test_a_title_has_one_stage_a_process_and_a_follow_up_is_later(
    a: list[str], b: list[str]
) -> None:
    first, second = title_stages(" ".join(a)), title_stages(" ".join(b))
    for stages in (first, second):
        processes = [stage.split(":")[0] for stage in stages]
        assert len(processes) == len(set(processes))
    assert not stages_apart(first, first)
    earlier = dict(stage.split(":") for stage in second)
    later = any(
        int(n) > int(earlier.get(process, n))
        for process, n in (stage.split(":") for stage in first)
    )
    assert stages_apart(first, second) == later


def test_a_rescue_after_a_missing_boat_alerts_and_its_second_report_does_not() -> None:
    replay = StoryReplay()
    missing = replay.place(
        "missing",
        "Fishing boat with three aboard missing off Rausu",
        "The coast guard is searching for the Daiei Maru, which lost contact on Monday night.",
        T0,
    )
    rescued = replay.place(
        "rescued",
        "Three crew of fishing boat missing off Rausu rescued",
        "The coast guard rescued the three crew of the Daiei Maru, found adrift on Tuesday.",
        T0 + timedelta(hours=14),
    )
    again = replay.place(
        "again",
        "Coast guard rescues three crew of Daiei Maru off Rausu",
        "All three crew of the boat that lost contact on Monday were rescued, the coast guard said.",
        T0 + timedelta(hours=15),
    )
    assert rescued != missing
    assert again == rescued


@pytest.mark.parametrize(
    ("act", "reaction"),
    [
        ("Deputy PM Trutnev visits Iturup to inspect new port", "Japan protests Trutnev's visit"),
        ("Putin sees no basis for treaty talks", "Tokyo calls Putin's remarks 'regrettable'"),
        ("На Итурупе прошли учения", "Токио вызвал российского посла из-за учений на Итурупе"),
        (
            "ロシア、千島連盟を「望ましくない団体」に指定",
            "千島連盟の指定　外相「受け入れられない」",
        ),
        ("ロシア軍が択捉島で演習", "政府、ロシアに抗議　択捉島の演習で"),
        # the opening clause reacts, and a quote after it too
        (
            "サハリン州、志発島に集落新設へ",
            "志発島「集落」新設に抗議　政府「到底受け入れられない」",
        ),
        # the quoted reaction's speaker named after the quote
        (
            "国後島沖でロシアが資源探査",
            "国後島沖の資源探査「受け入れられない」　政府、ロシアに抗議",
        ),
        (
            "Russia starts gas survey off Kunashir",
            "Gas survey off Kunashir 'unacceptable', Tokyo says",
        ),
        # concern is a reaction too
        ("Russia deploys drones on Iturup", "Japan expresses concern over drones on Iturup"),
        ("Россия разместит дроны на Итурупе", "Токио выразил обеспокоенность дронами на Итурупе"),
        ("択捉島に無人機配備", "政府「懸念」　択捉島の無人機配備"),
        # a Japanese title whose clauses before the reaction's name only who reacts: the
        # reaction is its predicate
        ("国後島でロシア軍が砲撃訓練", "外相　国後島での砲撃訓練に抗議"),
        ("根室に新巡視船　「はぼまい」と命名", "ザハロワ氏「挑発」　巡視船命名に抗議"),
        ("露、日本人議員の入国禁止", "露の入国禁止「到底受け入れられず」　官房長官"),
        ("サハリン州議会、観光税を可決", "北方領土の観光税　官房長官「わが国の立場と相いれず」"),
        ("Russia deploys drones on Iturup", "Japan voiced serious concern over Iturup drones"),
        ("Russia and China hold drills off Kunashir", "Japan conveys 'grave concern' over drills"),
        ("Россия разместит дроны на Итурупе", "Токио обеспокоен размещением дронов"),
        ("択捉島に無人機配備", "政府、択捉島の無人機配備に懸念表明"),
        # the verb that makes the reaction is not counted among the words before it
        ("歯舞群島周辺でロシア軍が射撃訓練へ", "Глава МИД Японии заявил о протесте из-за стрельб"),
        ("Russia holds drills off Kunashir", "Japan's foreign minister lodges protest over drills"),
        ("Russia holds drills off Kunashir", "Japan's foreign ministry registers protest"),
        # a demand to free what was seized is Tokyo's answer to a seizure, not the release
        (
            "Пограничники задержали японскую шхуну у Шикотана",
            "Токио требует вернуть задержанную шхуну",
        ),
        ("Russia seizes Nemuro boat off Shikotan", "Japan demands release of seized fishing boat"),
        ("根室の漁船　色丹島沖で拿捕", "政府、漁船の早期解放を求める"),
        # asking the other side to explain the act is an answer to it, not the act told again
        ("Russia bars Japanese reporter at Sakhalin airport", "Tokyo seeks explanation over ban"),
        ("Russia bars Japanese reporter at Sakhalin airport", "Japan asks Russia to explain ban"),
        (
            "Японскому журналисту отказали во въезде на Сахалин",
            "Токио потребовал от Москвы объяснений",
        ),
        ("日本人記者、サハリンで入国拒否", "政府、ロシアに説明求める　記者の入国拒否"),
        # so is thanking the other side for it
        (
            "Japan Coast Guard rescues 12 from sinking Russian trawler",
            "Russian embassy thanks Japan Coast Guard for rescue",
        ),
        (
            "納沙布岬沖でロシア漁船沈没　12人救助",
            "Посольство России поблагодарило японских спасателей",
        ),
        ("Japan Coast Guard rescues 12 from sinking Russian trawler", "ロシア大使館、海保に感謝"),
    ],
)
def test_a_title_leading_with_the_other_sides_reaction_is_another_story_than_the_act(
    act: str, reaction: str
) -> None:
    """Whichever is filed first: the act's own report after the reaction's (an English wire
    after NHK) is the act's story still, though the reaction's report told the act."""
    assert stages_apart(title_stages(reaction), title_stages(act))
    assert stages_apart(title_stages(act), title_stages(reaction))


@pytest.mark.parametrize(
    ("earlier", "later"),
    [
        # the act's report that appends the reaction is the act's story
        ("択捉島にSu35戦闘機配備", "択捉島にSu35戦闘機配備　露軍発表、政府が抗議"),
        ("Su-35 jets deployed on Iturup", "Su-35 jets deployed on Iturup, Japan protests"),
        ("国後島でロシア軍が射撃訓練", "国後島でロシア軍が射撃訓練　外務省が抗議"),
        # ... a clause that tells the act without particles too
        ("露首相が択捉島を訪問", "露首相択捉島訪問　政府が抗議"),
        ("国後島で森林を伐採", "国後島森林　政府が抗議"),  # 林 ends the clause, no one's name
        ("ロシア、色丹島を保護区に指定", "色丹島の保護区指定　政府がロシアに抗議"),
        # one reaction in other words, and a reply to it, are reactions alike
        ("Токио вызвал российского посла", "Ноздрев получил протест японского МИД"),
        ("Motegi rejects Lavrov's preconditions", "茂木外相、ラブロフ氏発言に反論"),
        # a demand appended to the seizure is the seizure's story; the islands' return is the
        # standing claim, and a rally's name
        (
            "Пограничники задержали японскую шхуну",
            "Пограничники задержали японскую шхуну у Шикотана, Токио требует освободить экипаж",
        ),
        (
            "Zakharova calls Tokyo rally 'revanchist'",
            "Russia slams Tokyo rally calling for return of isles",
        ),
        ("「北方領土の日」全国大会", "首相、領土問題解決へ決意　北方領土返還要求大会"),
    ],
)
def test_a_reaction_appended_or_told_again_follows_nothing(earlier: str, later: str) -> None:
    assert not stages_apart(title_stages(later), title_stages(earlier))


@pytest.mark.parametrize(
    ("act", "reaction"),
    [
        ("Su-35 jets deployed on Iturup, Japan protests", "Japan protests Su-35 deployment"),
        (
            "Russian minister visits Kunashiri, Japan protests",
            "外務省 ロシア閣僚の国後島訪問に抗議",
        ),
        ("ロシア下院議長が択捉島訪問　政府が抗議", "Япония заявила протест в связи с поездкой"),
        # a quoted reaction after the clause that tells the act (not after a subject alone:
        # "千島連盟の指定　外相「受け入れられない」" leads with it)
        ("ロシア軍、択捉島にSu57配備　官房長官「遺憾」", "Japan conveys 'strong regret' over jets"),
        # NHK's style: a subject, a space, the act, then the quoted reaction after a space
        ("ロシア 北方領土で軍事演習　官房長官「極めて遺憾」", "Japan protests Russian drills"),
        # a reaction in other words: a summoned envoy, a regret called so
        ("Russia holds drills off Kunashiri", "Tokyo calls in Russian envoy to protest drills"),
        ("Медведев посетил Шикотан", "Мотэги назвал поездку Медведева «крайне прискорбной»"),
    ],
)
def test_an_acts_report_that_appends_the_reaction_is_another_story_than_the_reactions(
    act: str, reaction: str
) -> None:
    """The title tells the act and adds the reaction ("…, Japan protests"; "…訪問　政府が抗議":
    a clause of its own after a space): the act's report, in either order."""
    assert stages_apart(title_stages(reaction), title_stages(act))
    assert stages_apart(title_stages(act), title_stages(reaction))


def test_a_japanese_title_of_one_sentence_ending_in_the_reaction_is_the_reactions() -> None:
    """ "…延長、官房長官が遺憾表明" is one sentence whose predicate is the regret."""
    act = title_stages("北方領土の経済特区延長へ")
    for title in (
        "北方領土の経済特区延長、官房長官が遺憾表明",
        "政府、北方領土の税優遇延長に「遺憾」",
    ):
        assert "reaction:2" in title_stages(title)
        assert stages_apart(title_stages(title), act)


@pytest.mark.parametrize(
    ("lead", "reacts"),
    [
        (
            "ロシアの副首相が色丹島を訪問したことを受けて、外務省は在日ロシア大使館に抗議しました。",
            True,
        ),
        ("色丹島の保護区指定について、官房長官は「受け入れられない」と述べ抗議した。", True),
        ("Japan lodged a protest with Moscow over the designation on Tuesday.", True),
        # who reacts as the lead's topic, the act told in the clause after it
        (
            "木原官房長官は午後の記者会見で、ロシアの副首相が色丹島を訪問したことについて"
            "「わが国の立場と相いれない」として抗議したことを明らかにしました。",
            True,
        ),
        ("木原官房長官は午後の記者会見で、来週の訪米日程を説明しました。", False),
        ("ロシアの副首相が9日、色丹島を訪れ、水産加工場を視察しました。", False),
        ("Russia placed the islet in a reserve on Tuesday, the ministry said.", False),
    ],
)
def test_a_title_appending_the_reaction_is_the_reactions_when_its_lead_tells_it(
    lead: str, reacts: bool
) -> None:
    act = title_stages("ロシア副首相が色丹島を訪問")
    title = "ロシア副首相の色丹島訪問　政府が抗議"
    assert stages_apart(title_stages(title, lead=lead), act) is reacts
    assert not stages_apart(title_stages(title), act)  # the title alone: the act's report


@pytest.mark.parametrize(
    ("title", "lead"),
    [
        (
            "ロシア副首相が色丹島を訪問",
            "ロシアの副首相が色丹島を訪問したことを受けて、外務省は在日ロシア大使館に抗議しました。",
        ),
        ("Russia deploys Bastion missiles on Iturup", "Japan lodged a protest with Moscow."),
    ],
)
def test_a_title_telling_the_act_alone_is_the_acts_whatever_its_lead_says(
    title: str, lead: str
) -> None:
    """Only a title that appends the reaction reads its lead for it: a title with no reaction is
    the act's report, whose lead may well tell the protest that followed."""
    assert title_stages(title, lead=lead) == title_stages(title)


@pytest.mark.parametrize(
    ("act", "criticism"),
    [
        (
            "Russia to hold artillery drills near Shikotan",
            "Kamikawa slams Russian drills near Shikotan",
        ),
        (
            "Сахалинская дума ввела туристический сбор на Курилах",
            "Токио раскритиковал туристический сбор на Курилах",
        ),
        ("国会、北方領土法改正案を可決", "Japan's revised islands law null and void, Moscow says"),
        ("色丹島に新たな発電所が完成", "政府、色丹島の発電所建設を非難"),
        ("Japan's coast guard names new ship 'Habomai'", "露報道官「挑発」と反発　巡視船の命名"),
        # the other side's reaction to the criticism: a statement and its reply
        ("Tokyo voices regret over Lavrov's remarks", "Lavrov slams Japan's new sanctions"),
        ("Japan protests Zakharova's words on textbooks", "ザハロワ氏、日本の教科書を批判"),
        ("ラブロフ外相発言に官房長官「遺憾」", "ラブロフ外相、日本の制裁を批判"),  # who is quoted
        # what one side said, and the other side's answer to it
        ("Japan's foreign minister: Kurils illegally held", "Moscow hits back at Japan's minister"),
        ("Japanese minister calls Kurils 'occupied'", "В МИД ответили японскому министру"),
    ],
)
def test_criticism_is_another_story_than_the_act_or_the_other_sides_reply(
    act: str, criticism: str
) -> None:
    assert stages_apart(title_stages(criticism), title_stages(act))
    assert stages_apart(title_stages(act), title_stages(criticism))


@pytest.mark.parametrize(
    ("said", "criticism"),
    [
        # what was said, told in other words: who said it, then the saying, or a quotation
        (
            "Zakharova calls Japanese white paper 'confrontational'",
            "Russia slams Japan's white paper",
        ),
        ("Галузин: решение Токио не имеет юридической силы", "Moscow calls Tokyo's decision void"),
        (
            "Lavrov says no conditions for talks while sanctions stay",
            "ラブロフ外相「交渉の条件ない」　制裁を批判",
        ),
        ("Захарова назвала учения провокацией", "Zakharova denounces drills as provocation"),
        (
            "Песков: Москва не будет обсуждать статус Курил",
            "Кремль ответил на слова премьера Японии",
        ),
        # whose words are those of the attribution
        ("Japan's new islands law void for Russia, Galuzin says", "Галузин: закон Японии ничтожен"),
        # another reaction
        ("Japan protests Russian drills near Shikotan", "Tokyo slams Russian drills near Shikotan"),
        ("政府、ロシアに抗議　色丹島の演習", "Токио раскритиковал учения на Шикотане"),
        # one side's suspicion and its request for an explanation: one statement
        (
            "Tokyo asks Moscow to explain damaged undersea cable",
            "Токио заподозрил российское судно в обрыве кабеля",
        ),
        ("Япония заподозрила танкер в обрыве кабеля", "政府、ロシアに説明要求　海底ケーブル損傷"),
    ],
)
def test_criticism_and_the_same_words_said_otherwise_are_one_story(
    said: str, criticism: str
) -> None:
    assert not stages_apart(title_stages(criticism), title_stages(said))
    assert not stages_apart(title_stages(said), title_stages(criticism))


@pytest.mark.parametrize(
    "title",
    [
        "日本漁船の安全に懸念　ロシアが射撃訓練通告",  # a risk, not a reaction
        "Japanese fishermen voice concern over Russian drills",  # not a side's
        "Японские рыбаки выразили обеспокоенность учениями",
        "野党「ロシアの演習は容認できない」",  # Russia inside the quote is not who speaks
    ],
)
def test_concern_that_is_no_sides_reaction_is_none(title: str) -> None:
    assert "reaction:2" not in title_stages(title)


@pytest.mark.parametrize(
    ("english", "japanese"),
    [
        ("Japanese reporter refused entry at Sakhalin airport", "日本人記者、サハリンで入国拒否"),
        ("Russia turns back Japanese lawmakers at Kunashir", "議員団の国後島上陸拒否　ロシア側"),
    ],
)
def test_entry_refused_is_an_act_not_a_reply(english: str, japanese: str) -> None:
    """拒否 after 入国 or 上陸 is a border's act, told so in every language; 拒否 alone answers
    (a rejected demand)."""
    assert not stages_apart(title_stages(japanese), title_stages(english))
    assert not stages_apart(title_stages(english), title_stages(japanese))
    assert title_stages("露外務省、日本の要求を拒否") != title_stages(japanese)


@pytest.mark.parametrize("arrival", ["in order", "reaction first"])
def test_the_later_published_report_is_the_follow_up_whichever_comes_in_first(
    arrival: str,
) -> None:
    act = ("Russian troops hold drills on Kunashir", "Some 300 troops took part.", T0)
    reaction = (
        "Japan protests Russian drills on Kunashir",
        "Tokyo lodged a protest over the drills on Kunashir.",
        T0 + timedelta(hours=3),
    )
    replay = StoryReplay()
    reports = [("act", act), ("reaction", reaction)]
    if arrival == "reaction first":
        reports.reverse()
    stories = {name: replay.place(name, *report) for name, report in reports}
    assert stories["act"] != stories["reaction"]
