"""What the bot says about itself: the command list and the welcome (translated in
`bot/locales`, see `bot.i18n`)."""

from __future__ import annotations

from dataclasses import dataclass

from bot.i18n import LANGUAGES, N_, language, texts

__all__ = ["COMMANDS", "LANGUAGES", "WELCOME", "Command", "language"]


@dataclass(frozen=True, slots=True)
class Command:
    name: str
    description: str  # English; the msgid of its translations
    admin: bool = False  # only for telegram.admins; not in the public menu
    # in a group, where `description` says "your": the group's wording (the groups' menu, /help)
    group: str | None = None

    def about(self, lang: str, group: bool = False) -> str:
        return texts(lang)._(self.group if group and self.group else self.description)


COMMANDS = (
    Command(
        "start",
        N_("welcome, topics and your settings"),
        group=N_("welcome, topics and this group's settings"),
    ),
    Command("help", N_("all commands")),
    Command(
        "topics", N_("the topics you can follow"), group=N_("the topics this group can follow")
    ),
    Command("subscribe", N_("follow a topic: /subscribe <id>")),
    Command("unsubscribe", N_("stop following a topic")),
    Command(
        "list",
        N_("your topics, watches and settings"),
        group=N_("this group's topics, watches and settings"),
    ),
    Command("settings", N_("this chat's settings, and how to change them")),
    Command("latest", N_("recent stories: /latest [topic] [n]")),
    Command("search", N_("search stored news: /search <words>")),
    Command(
        "watch",
        N_("your own alert: /watch <query>"),
        group=N_("this group's own alert: /watch <query>"),
    ),
    Command("watches", N_("your watches"), group=N_("this group's watches")),
    Command(
        "mywatch",
        N_("your watches as an Atom feed"),
        group=N_("this group's watches as an Atom feed"),
    ),
    Command("unwatch", N_("remove a watch: /unwatch <n>")),
    Command("digest", N_("digests: /digest off | daily HH:MM | weekly <day> HH:MM")),
    Command(
        "timezone",
        N_("your time zone: /timezone Europe/Moscow"),
        group=N_("this group's time zone: /timezone Europe/Moscow"),
    ),
    Command("quiet", N_("quiet hours: /quiet 23:00-07:00 silent|hold")),
    Command("mute", N_("pause alerts: /mute 2h | 1d")),
    Command("unmute", N_("resume alerts")),
    Command("lang", N_("news languages: /lang ru en | all")),
    Command("sources", N_("mute or unmute outlets")),
    Command("language", N_("the bot's language: /language en|ru|ja")),
    Command("trend", N_("a chart: /trend [topic] [7d|30d|90d] [outlets]")),
    Command("report", N_("weekly report: /report weekly <day> HH:MM | off")),
    Command("spikes", N_("spike alerts: /spikes on | off")),
    Command("stop", N_("stop and forget this chat")),
    Command("stats", N_("subscribers, stories, deliveries"), admin=True),
    Command("feeds", N_("feed health"), admin=True),
    Command("reload", N_("re-read config.yaml"), admin=True),
    Command("export", N_("stories as CSV: /export [topic] [30d]"), admin=True),
    Command("feedback", N_("'Not relevant' presses: /feedback [30d]"), admin=True),
    Command("broadcast", N_("message every chat: /broadcast <text>"), admin=True),
)

# the shipped config.yaml's topic titles: chats see them in their language (an operator's own
# titles are shown as written)
SHIPPED_TOPIC_TITLES = (N_("Kuril Islands"), N_("Russia–Japan peace treaty"))

WELCOME = N_(
    "👋 <b>kurilwatch</b> sends you news alerts on the Kuril Islands dispute and the "
    "Russia–Japan peace treaty, from Russian, Japanese and English sources: one alert per "
    "story, as it happens. Tap a topic below to follow it, or write your own alert with "
    "<code>/watch</code>."
)
