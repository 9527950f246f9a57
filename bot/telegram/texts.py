"""What the bot says about itself: the command list (per language) and the welcome."""

from __future__ import annotations

from dataclasses import dataclass

LANGUAGES = ("en", "ru", "ja")


@dataclass(frozen=True, slots=True)
class Command:
    name: str
    en: str
    ru: str
    ja: str
    admin: bool = False  # only for telegram.admins; not in the public menu

    def about(self, language: str) -> str:
        return str(getattr(self, language if language in LANGUAGES else "en"))


COMMANDS = (
    Command(
        "start", "welcome, topics and your settings", "приветствие, темы и настройки", "開始と設定"
    ),
    Command("help", "all commands", "все команды", "コマンド一覧"),
    Command("topics", "the topics you can follow", "темы для подписки", "トピック一覧"),
    Command(
        "subscribe", "follow a topic: /subscribe <id>", "подписаться: /subscribe <id>", "購読する"
    ),
    Command("unsubscribe", "stop following a topic", "отписаться от темы", "購読をやめる"),
    Command(
        "list", "your topics, watches and settings", "ваши темы, запросы и настройки", "購読と設定"
    ),
    Command("latest", "recent stories: /latest [topic] [n]", "последние новости", "最新のニュース"),
    Command("search", "search stored news: /search <words>", "поиск по новостям", "ニュース検索"),
    Command(
        "watch", "your own alert: /watch <query>", "свой запрос: /watch <запрос>", "キーワード登録"
    ),
    Command("watches", "your watches", "ваши запросы", "登録キーワード"),
    Command(
        "mywatch", "your watches as an Atom feed", "ваши запросы как лента Atom", "Atomフィード"
    ),
    Command(
        "unwatch", "remove a watch: /unwatch <n>", "удалить запрос: /unwatch <n>", "キーワード削除"
    ),
    Command(
        "digest",
        "off | daily HH:MM | weekly <day> HH:MM",
        "сводка: off | daily | weekly",
        "ダイジェスト",
    ),
    Command("timezone", "your time zone: /timezone Europe/Moscow", "часовой пояс", "タイムゾーン"),
    Command("quiet", "quiet hours: /quiet 23:00-07:00 silent|hold", "тихие часы", "通知しない時間"),
    Command("mute", "pause alerts: /mute 2h | 1d", "пауза: /mute 2h | 1d", "一時停止"),
    Command("unmute", "resume alerts", "возобновить", "再開"),
    Command(
        "trend",
        "a chart: /trend [topic] [7d|30d|90d]",
        "график: /trend [тема] [7d|30d|90d]",
        "推移グラフ",
    ),
    Command(
        "report",
        "weekly report: /report weekly <day> HH:MM | off",
        "недельный отчёт: /report weekly <день> ЧЧ:ММ | off",
        "週間レポート",
    ),
    Command("spikes", "spike alerts: /spikes on | off", "всплески: /spikes on | off", "急増通知"),
    Command("stop", "stop and forget this chat", "остановить и удалить данные", "停止と削除"),
    Command("stats", "subscribers, stories, deliveries", "статистика", "統計", admin=True),
    Command("feeds", "feed health", "состояние лент", "フィードの状態", admin=True),
    Command("reload", "re-read config.yaml", "перечитать config.yaml", "設定の再読込", admin=True),
    Command(
        "export", "stories as CSV: /export [topic] [30d]", "выгрузка CSV", "CSV出力", admin=True
    ),
    Command(
        "broadcast",
        "message every chat: /broadcast <text>",
        "сообщение всем",
        "全員に送信",
        admin=True,
    ),
)

WELCOME = {
    "en": (
        "👋 <b>kurilwatch</b> sends you news alerts on the Kuril Islands dispute and the "
        "Russia–Japan peace treaty, from Russian, Japanese and English sources: one alert per "
        "story, as it happens. Tap a topic below to follow it, or write your own alert with "
        "<code>/watch</code>."
    ),
    "ru": (
        "👋 <b>kurilwatch</b> присылает новости о Курильских островах и мирном договоре "
        "России и Японии из российских, японских и английских источников: одно сообщение на "
        "событие, сразу. Нажмите на тему ниже, чтобы подписаться, или задайте свой запрос "
        "командой <code>/watch</code>."
    ),
    "ja": (
        "👋 <b>kurilwatch</b> は北方領土問題と日露平和条約のニュースを、ロシア・日本・英語の"
        "報道からお届けします。下のトピックを押すと購読できます。"
    ),
}


def language(code: str | None) -> str:
    """The bot's language for a Telegram `language_code` (en, ru or ja; English otherwise)."""
    base = (code or "en").split("-")[0].lower()
    return base if base in LANGUAGES else "en"
