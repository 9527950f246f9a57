"""Made-up news reports about the Kuril Islands for benchmarks: each a distinct event (its own
place, people, numbers and day, in one of many story shapes), worded as wire reports are, so
that the story logic sees what real feeds bring rather than near-copies or random syllables.

    from bench.headlines import Reports
    title, summary = Reports(seed).next()

Every title of `next()` names the Kurils or one of their islands, so every report matches the
shipped `kuril` topic (about one in five is in Russian); `other()` is news of elsewhere, which
matches no shipped topic.
"""

from __future__ import annotations

import random
from collections.abc import Callable

# the islands: English, and Russian after "на" for where (prepositional) and whither (accusative)
ISLANDS = [
    ("Iturup", "Итурупе", "Итуруп"),
    ("Kunashir", "Кунашире", "Кунашир"),
    ("Shikotan", "Шикотане", "Шикотан"),
    ("Paramushir", "Парамушире", "Парамушир"),
    ("Shumshu", "Шумшу", "Шумшу"),
    ("Urup", "Урупе", "Уруп"),
    ("Matua", "Матуа", "Матуа"),
    ("Simushir", "Симушире", "Симушир"),
    ("Onekotan", "Онекотане", "Онекотан"),
    ("Habomai", "Хабомаи", "Хабомаи"),
]
TOWNS = [
    "Kurilsk", "Yuzhno-Kurilsk", "Severo-Kurilsk", "Malokurilskoye", "Reidovo", "Krabozavodskoye",
    "Goryachiy Plyazh", "Kitovy", "Burevestnik", "Golovnino", "Otrada", "Rybaki",
]  # fmt: skip
OFFICIALS = [
    "Valery Limarenko", "Sergei Lavrov", "Maria Zakharova", "Dmitry Peskov", "Andrei Belousov",
    "Marat Khusnullin", "Yuri Trutnev", "Alexei Chekunkov", "Mikhail Mishustin",
    "Dmitry Medvedev", "Takeshi Iwaya", "Yoshimasa Hayashi", "Shigeru Ishiba", "Sanae Takaichi",
    "Yoko Kamikawa", "Gen Nakatani", "Minoru Kihara", "Naoki Okada", "Koichi Ishikawa",
    "Tatsuya Ito", "Pavel Sivak", "Oleg Kozhemyako", "Nikolai Patrushev", "Vladimir Kolokoltsev",
    "Anton Siluanov", "Sergei Shoigu", "Yevgeny Nikitin", "Hiroshi Suzuki", "Kenji Wakamiya",
]  # fmt: skip
SHIPS = [
    "Hokko Maru", "Daiichi Kaiyo Maru", "Seiho Maru", "Koyo Maru", "Shinsei Maru", "Eiko Maru",
    "Kotoshiro Maru", "Fukuyoshi Maru", "Tenyo Maru", "Hakuryu Maru", "Kaiun Maru",
]  # fmt: skip
WEAPONS = [
    "Bastion coastal missile systems", "Bal anti-ship missile launchers", "Su-35 fighter jets",
    "Tor-M2 air defence systems", "S-300V4 batteries", "Orlan-10 drones", "T-72B3 tanks",
    "Ka-52 helicopters", "Buk-M3 launchers", "Iskander units",
]  # fmt: skip
VOLCANOES = [
    ("Ebeko", "Paramushir"), ("Chikurachki", "Paramushir"), ("Sarychev Peak", "Matua"),
    ("Tyatya", "Kunashir"), ("Alaid", "Atlasov Island"), ("Kudryavy", "Iturup"),
    ("Baransky", "Iturup"), ("Mendeleev", "Kunashir"), ("Raikoke", "Raikoke"),
]  # fmt: skip
CITIES = ["Nemuro", "Sapporo", "Kushiro", "Wakkanai", "Abashiri", "Rausu", "Hakodate"]
PROJECTS = [
    "a geothermal power plant", "a fish processing plant", "a new pier", "a 220-bed hospital",
    "a school for 400 pupils", "a sports complex", "an airport terminal", "a water treatment works",
    "a diesel power station", "a fibre-optic line", "a kindergarten", "a cultural centre",
]  # fmt: skip
FISH = ["kelp", "sea urchin", "pollock", "salmon", "crab", "scallop", "saury", "squid"]
MONTHS = [
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
]  # fmt: skip
AGENCIES = ["TASS", "RIA Novosti", "Interfax", "Kyodo", "NHK", "Jiji", "Sakhalin.info"]
# news of elsewhere
ELSEWHERE = [
    "Novosibirsk", "Yekaterinburg", "Kazan", "Vladivostok", "Osaka", "Nagoya", "Fukuoka",
    "Sendai", "Khabarovsk", "Irkutsk", "Perm", "Kobe", "Yokohama", "Omsk", "Samara", "Kyoto",
]  # fmt: skip
TEAMS = [
    "Zenit", "Spartak", "CSKA", "Lokomotiv", "Dynamo", "Urawa Reds", "Kashima Antlers",
    "Gamba Osaka", "Yokohama F. Marinos", "Vissel Kobe", "Krasnodar", "Rubin",
]  # fmt: skip
COMPANIES = [
    "Gazprom", "Rosneft", "Sberbank", "Toyota", "Sony", "Hitachi", "Aeroflot", "Nissan",
    "Norilsk Nickel", "Mitsubishi Heavy", "Yandex", "Panasonic", "Magnit", "SoftBank",
]  # fmt: skip


class Reports:
    """A stream of distinct reports; the same seed gives the same stream."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.shapes: list[Callable[[], tuple[str, str]]] = [
            self.quake,
            self.volcano,
            self.deployment,
            self.drills,
            self.detained,
            self.visit,
            self.protest,
            self.islanders,
            self.fishing_talks,
            self.building,
            self.tourism,
            self.rescue,
            self.ru_quake,
            self.ru_building,
            self.ru_visit,
        ]

        self.other_shapes: list[Callable[[], tuple[str, str]]] = [
            self.match,
            self.earnings,
            self.fire,
            self.transport,
            self.weather,
            self.rate,
        ]

    def next(self) -> tuple[str, str]:
        """(title, summary) of one more report about the Kurils."""
        return self.rng.choice(self.shapes)()

    def other(self) -> tuple[str, str]:
        """(title, summary) of one more report about somewhere else."""
        return self.rng.choice(self.other_shapes)()

    # -- helpers --------------------------------------------------------------------------

    def _island(self) -> str:
        return self.rng.choice(ISLANDS)[0]

    def _day(self) -> str:
        return f"{self.rng.choice(MONTHS)} {self.rng.randint(1, 28)}"

    def _n(self, low: int, high: int) -> int:
        return self.rng.randint(low, high)

    def _who(self) -> str:
        return self.rng.choice(OFFICIALS)

    def _agency(self) -> str:
        return self.rng.choice(AGENCIES)

    # -- English shapes -------------------------------------------------------------------

    def quake(self) -> tuple[str, str]:
        mag = self.rng.randint(40, 76) / 10
        island, depth, km = self._island(), self._n(10, 180), self._n(20, 260)
        title = self.rng.choice(
            [
                f"M{mag} earthquake strikes off {island} in the Kuril Islands",
                f"Magnitude {mag} quake jolts southern Kurils near {island}",
                f"Strong {mag} tremor hits {km} km from {island}, no tsunami threat",
            ]
        )
        summary = (
            f"A magnitude {mag} earthquake struck at a depth of {depth} km about {km} km from"
            f" {island} on {self._day()}, the Geophysical Survey said. Residents of"
            f" {self.rng.choice(TOWNS)} felt shaking of up to {self._n(2, 6)} points; no damage"
            f" was reported, {self._agency()} said."
        )
        return title, summary

    def volcano(self) -> tuple[str, str]:
        name, island = self.rng.choice(VOLCANOES)
        km = self._n(2, 12)
        title = self.rng.choice(
            [
                f"{name} volcano on {island} in the Kurils spews ash {km} km high",
                f"Aviation code orange as {name} ash column reaches {km} km over Kuril Islands",
                f"Kuril volcano {name} erupts for {self.rng.choice(['second', 'third', 'fifth'])}"
                f" time this week, ash rises {km} km",
            ]
        )
        summary = (
            f"The {name} volcano threw ash {km} km above sea level on {self._day()}, the"
            f" Kuril Volcanic Eruption Response Team said. The plume stretched {self._n(10, 90)}"
            f" km to the {self.rng.choice(['east', 'south-east', 'north', 'west'])}; ashfall"
            f" was reported in {self.rng.choice(TOWNS)}."
        )
        return title, summary

    def deployment(self) -> tuple[str, str]:
        n, weapon, island = self._n(2, 24), self.rng.choice(WEAPONS), self._island()
        title = self.rng.choice(
            [
                f"Russia deploys {n} {weapon} to {island} in the Kuril chain",
                f"Moscow sends {n} more {weapon} to Kuril Islands' {island}",
                f"Japan concerned as Russia stations {n} {weapon} on disputed {island}",
            ]
        )
        summary = (
            f"The Eastern Military District moved {n} {weapon} to {island} on {self._day()},"
            f" {self._agency()} reported. {self._who()} said the deployment strengthens the"
            f" defence of the Kurils; Tokyo said it would lodge a protest."
        )
        return title, summary

    def drills(self) -> tuple[str, str]:
        troops, island, ships = self._n(300, 5000), self._island(), self._n(3, 40)
        title = self.rng.choice(
            [
                f"Russian Pacific Fleet holds drills with {troops} troops on {island}, Kurils",
                f"{troops} servicemen, {ships} ships in Kuril Islands exercise near {island}",
                f"Kuril drills: {ships} warships practise repelling landing on {island}",
            ]
        )
        summary = (
            f"About {troops} servicemen and {ships} ships of the Pacific Fleet took part in"
            f" exercises on {island} from {self._day()}, the Defence Ministry said."
            f" {self._who()} called the drills routine."
        )
        return title, summary

    def detained(self) -> tuple[str, str]:
        ship = f"{self.rng.choice(SHIPS)} No. {self._n(1, 88)}"
        crew, island = self._n(2, 17), self._island()
        title = self.rng.choice(
            [
                f"Russian border guards detain Japanese boat {ship} with {crew} crew off {island}",
                f"Japanese fishing vessel {ship} seized near Kuril island of {island}",
                f"Tokyo demands release of {ship} and {crew} fishermen held in Kurils",
            ]
        )
        summary = (
            f"The FSB border service detained the {ship} from {self.rng.choice(CITIES)} on"
            f" {self._day()} for fishing {self.rng.choice(FISH)} without a licence about"
            f" {self._n(3, 40)} km off {island}. Its {crew} crew members are held in"
            f" {self.rng.choice(TOWNS)}."
        )
        return title, summary

    def visit(self) -> tuple[str, str]:
        who, island, days = self._who(), self._island(), self._n(1, 5)
        title = self.rng.choice(
            [
                f"{who} visits {island} in the Kuril Islands, Tokyo protests",
                f"{who} arrives on Kuril island of {island} for {days}-day trip",
                f"{who} tours {island}, promises {self._n(2, 90)} billion roubles for the Kurils",
            ]
        )
        summary = (
            f"{who} arrived on {island} on {self._day()} and visited"
            f" {self.rng.choice(TOWNS)}, where {self.rng.choice(PROJECTS)} is being built,"
            f" {self._agency()} said. Japan's Foreign Ministry called the visit regrettable."
        )
        return title, summary

    def protest(self) -> tuple[str, str]:
        who, island, n = self._who(), self._island(), self._n(2, 40)
        thing = self.rng.choice(
            [
                f"{n} new military buildings",
                f"a tax-free zone for {n} companies",
                f"plans for {n} residential blocks",
                f"a {n}-day missile firing",
            ]
        )
        title = self.rng.choice(
            [
                f"Japan lodges protest over {thing} on {island} in the Kurils",
                f"Tokyo calls {thing} on Kuril island of {island} unacceptable",
            ]
        )
        summary = (
            f"{who} said on {self._day()} that {thing} on {island} contradicts Japan's position"
            f" on the Northern Territories. The protest was passed through diplomatic channels."
        )
        return title, summary

    def islanders(self) -> tuple[str, str]:
        n, island, years = self._n(12, 80), self._island(), self._n(2, 9)
        age = self._n(78, 94)
        title = self.rng.choice(
            [
                f"{n} former Kuril islanders ask to visit graves on {island} after {years} years",
                f"Former residents of {island}, average age {age}, urge resumption of Kuril visits",
                f"{n} elderly ex-islanders gather in {self.rng.choice(CITIES)} to recall {island}",
            ]
        )
        summary = (
            f"About {n} former residents of {island} met in {self.rng.choice(CITIES)} on"
            f" {self._day()}; their average age is now {age}. Grave visits to the Northern"
            f" Territories have been suspended for {years} years."
        )
        return title, summary

    def fishing_talks(self) -> tuple[str, str]:
        fish, tons = self.rng.choice(FISH), self._n(200, 9000)
        title = self.rng.choice(
            [
                f"Japan, Russia agree {fish} quota of {tons} tonnes near Kuril Islands",
                f"Talks on {fish} fishing off the Kurils end with {tons}-tonne catch limit",
                f"Kuril {fish} season: Japanese boats may take {tons} tonnes, fee"
                f" {self._n(10, 90)} million yen",
            ]
        )
        summary = (
            f"Negotiators in {self.rng.choice(['Moscow', 'Tokyo', 'Yuzhno-Sakhalinsk'])}"
            f" agreed on {self._day()} that Japanese boats may catch {tons} tonnes of"
            f" {fish} in waters off the southern Kurils this year."
        )
        return title, summary

    def building(self) -> tuple[str, str]:
        project, town, cost = self.rng.choice(PROJECTS), self.rng.choice(TOWNS), self._n(1, 60)
        title = self.rng.choice(
            [
                f"Kurils: {project} opens in {town} at a cost of {cost} billion roubles",
                f"{town} on the Kuril Islands to get {project} by {self._n(2026, 2031)}",
            ]
        )
        summary = (
            f"Construction of {project} in {town} began on {self._day()}, the Sakhalin region's"
            f" government said; {self._n(40, 600)} workers are on site and the budget is"
            f" {cost} billion roubles."
        )
        return title, summary

    def tourism(self) -> tuple[str, str]:
        n, island = self._n(300, 9000), self._island()
        title = self.rng.choice(
            [
                f"Record {n} tourists visited {island} in the Kurils this summer",
                f"Kuril Islands tourist flow to {island} up {self._n(5, 80)}%, {n} visitors",
            ]
        )
        summary = (
            f"{n} tourists came to {island} by {self._day()}, the Kuril district administration"
            f" said, most of them by ferry from Korsakov; {self._n(3, 30)} new guest houses"
            f" opened."
        )
        return title, summary

    def rescue(self) -> tuple[str, str]:
        n, island = self._n(2, 30), self._island()
        title = self.rng.choice(
            [
                f"{n} hikers rescued after storm on {island}, Kuril Islands",
                f"Helicopter evacuates {n} people from cut-off village on {island}",
                f"Storm cuts power to {n * 100} homes on the Kurils' {island}",
            ]
        )
        summary = (
            f"Emergency services on {island} said on {self._day()} that {n} people were"
            f" evacuated after winds of {self._n(25, 45)} m/s; the ferry to"
            f" {self.rng.choice(TOWNS)} was cancelled."
        )
        return title, summary

    # -- Russian shapes -------------------------------------------------------------------

    def ru_quake(self) -> tuple[str, str]:
        mag = self.rng.randint(40, 76) / 10
        island, km = self.rng.choice(ISLANDS)[1], self._n(20, 260)
        title = f"Землетрясение магнитудой {mag} произошло у Курил в {km} км от острова"
        summary = (
            f"Подземные толчки магнитудой {mag} зарегистрированы в {km} км от берега, жители"
            f" на {island} почувствовали толчки силой до {self._n(2, 6)} баллов,"
            f" сообщила Геофизическая служба РАН."
        )
        return title, summary

    def ru_building(self) -> tuple[str, str]:
        island, cost = self.rng.choice(ISLANDS)[1], self._n(1, 60)
        n = self.rng.randrange(25, 805, 5)  # "на 25 мест" agrees; "на 21 место" would not
        thing = self.rng.choice(
            ["новую школу", "больницу", "гостиницу", "общежитие", "детский сад", "спорткомплекс"]
        )
        title = f"На Курилах на {island} построят {thing} на {n} мест за {cost} млрд рублей"
        summary = (
            f"Власти Сахалинской области сообщили, что строительство на {island} начнется в"
            f" {self._n(2026, 2030)} году; объект рассчитан на {n} мест."
        )
        return title, summary

    def ru_visit(self) -> tuple[str, str]:
        island, days = self.rng.choice(ISLANDS)[2], self._n(2, 4)  # "2-4 дня"
        who = self.rng.choice(
            ["Лимаренко", "Трутнев", "Хуснуллин", "Чекунков", "Мишустин", "Козлов", "Сивак"]
        )
        title = f"{who} прибыл на {island} на Курилах с {days}-дневной рабочей поездкой"
        summary = (
            f"Как сообщает {self._agency()}, {who} осмотрит строящиеся объекты и встретится"
            f" с жителями. Он пробудет на Курилах {days} дня или дольше."
        )
        return title, summary

    # -- news of elsewhere ----------------------------------------------------------------

    def _city(self) -> str:
        return self.rng.choice(ELSEWHERE)

    def match(self) -> tuple[str, str]:
        home, away = self.rng.sample(TEAMS, 2)
        a, b = self._n(0, 5), self._n(0, 5)
        title = f"{home} beat {away} {max(a, b) + 1}-{min(a, b)} in front of {self._n(8, 60)},000"
        summary = (
            f"{home} won on {self._day()} with goals in the {self._n(2, 44)}th and"
            f" {self._n(46, 90)}th minutes; {away} stay {self._n(2, 16)}th in the table."
        )
        return title, summary

    def earnings(self) -> tuple[str, str]:
        company, change = self.rng.choice(COMPANIES), self._n(2, 60)
        way = self.rng.choice(["rises", "falls", "jumps", "slips"])
        title = f"{company} quarterly profit {way} {change}% to {self._n(11, 990)} billion"
        summary = (
            f"{company} reported on {self._day()} that revenue came to {self._n(100, 9000)}"
            f" billion, {self._n(1, 30)}% {self.rng.choice(['above', 'below'])} analysts'"
            f" forecasts; its shares closed {self._n(1, 9)}.{self._n(0, 9)}% higher."
        )
        return title, summary

    def fire(self) -> tuple[str, str]:
        city, n = self._city(), self._n(2, 40)
        place = self.rng.choice(["warehouse", "shopping centre", "factory", "hotel", "market"])
        title = f"Fire at {city} {place} covers {n * 100} square metres, {self._n(0, 9)} injured"
        summary = (
            f"Firefighters in {city} put out the blaze after {self._n(2, 11)} hours on"
            f" {self._day()}; {n} crews took part, the emergencies ministry said."
        )
        return title, summary

    def transport(self) -> tuple[str, str]:
        city, n = self._city(), self._n(2, 12)
        thing = self.rng.choice(["metro stations", "tram lines", "bus routes", "bridges"])
        title = f"{city} opens {n} new {thing} costing {self._n(3, 90)} billion"
        summary = (
            f"The mayor of {city} opened {n} {thing} on {self._day()}; about"
            f" {self._n(20, 400)},000 passengers a day are expected to use them."
        )
        return title, summary

    def weather(self) -> tuple[str, str]:
        city, t = self._city(), self._n(-38, 39)
        title = f"{city} records {t} degrees, the {self.rng.choice(['coldest', 'warmest'])} day"
        title += f" since {self._n(1890, 2020)}"
        summary = (
            f"Forecasters said on {self._day()} that {city} would see {self._n(0, 40)} mm of"
            f" rain or snow in the coming {self._n(2, 6)} days."
        )
        return title, summary

    def rate(self) -> tuple[str, str]:
        rate = self._n(5, 210) / 10
        bank = self.rng.choice(["Bank of Russia", "Bank of Japan"])
        title = f"{bank} {self.rng.choice(['holds', 'raises', 'cuts'])} key rate at {rate}%"
        summary = (
            f"The {bank} decided on {self._day()} to set its key rate at {rate}%; inflation was"
            f" {self._n(1, 120) / 10}% in {self.rng.choice(MONTHS)}, it said."
        )
        return title, summary
