"""A config's errors in the reader's language: a refused edit's notice and /reload's answer said
every problem in English inside a Russian or Japanese frame ("topics.kuril.query: ')' without a
matching '(' in the query"). Each problem is now a msgid and its values (`PlacedError`): said in
the admin's language, with the file, line, key path and the operator's own words as written
(quoted in the reader's marks); `kurilwatch check` and the log keep their English, byte for
byte."""

from __future__ import annotations

import html
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import pytest
import yaml
from pydantic import Field, TypeAdapter, ValidationError

from bot.config import ConfigError, PlacedError, load_config, parse_config, said_error
from bot.config.errors import _pydantics
from bot.i18n import EN, Joined, Quoted, Said, Value, loaded, stored, texts
from tests.conftest import TOKEN, save_edit, write_config

F = "feeds:\n  - id: a\n    url: http://127.0.0.1:9/a.xml\n"
T = "topics:\n  kuril:\n    title: Kuril\n    query: kuril\n"

# every kind of problem a config's text makes (YAML's, the models', the validators', a query's),
# and the line `kurilwatch check` prints of it, as it printed it before the problems were said
# in other languages
CASES = [
    (
        "quote_never_closed",
        F + "topics:\n  k:\n    title: 'Kuril\n    query: kuril\n",
        "config.yaml line 6, column 12: invalid YAML: the ' that starts this value is never closed; close it ('...') on the value's last line",
    ),
    (
        "nesting",
        "a: " + "[" * 1100 + "]" * 1100 + "\n",
        "config.yaml line 1, column 1003: invalid YAML: nested too deeply to read",
    ),
    (
        "mapping_values",
        F + T + "  k2:\n    title: Kurils: the dispute\n    query: x\n",
        "config.yaml line 9, column 18: invalid YAML: a ':' where no key can start; put a value holding ': ' in quotes (title: \"Kurils: the dispute\"), and indent a key as the keys beside it",
    ),
    (
        "quote_then_text",
        F + 'topics:\n  k:\n    title: K\n    query: "peace treaty" AND japan\n',
        "config.yaml line 7, column 27: invalid YAML: a value that starts with a quote ends at its closing quote, and text follows it here; put the whole value in single quotes, a ' in it written '' ('\"peace treaty\" AND japan'), or start it on the next line after >-",
    ),
    (
        "bracket_then_text",
        F + "topics:\n  k:\n    title: [Live] Kuril\n    query: x\n",
        'config.yaml line 6, column 19: invalid YAML: a value that starts with [ or { is a YAML list or mapping, which ends at its closing bracket, and text follows it here; put the whole value in quotes (title: "[Live] Kuril Islands")',
    ),
    (
        "indented_off",
        F + "topics:\n  k:\n    title: K\n   query: x\n",
        "config.yaml line 7, column 4: invalid YAML: a line indented otherwise than the keys of its block; line each key up with the keys beside it (a list item's keys with the one after its '- '), with spaces",
    ),
    (
        "tab",
        F + "topics:\n  k:\n\ttitle: K\n",
        "config.yaml line 6, column 1: invalid YAML: a tab character; YAML indents with spaces only (replace the tab with spaces)",
    ),
    (
        "at_sign",
        F + T + "channels:\n  - chat: @kurilnews\n    topics: [kuril]\n",
        "config.yaml line 9, column 11: invalid YAML: a value cannot start with '@' in YAML; put it in quotes",
    ),
    (
        "twice",
        F + T + "topics:\n  x: {title: X, query: x}\n",
        "config.yaml line 8, column 1: invalid YAML: key 'topics' is written twice",
    ),
    (
        "key_not_plain",
        F + T + "? [a, b]\n: c\n",
        "config.yaml line 8, column 3: invalid YAML: a key is a plain word, not a list or mapping",
    ),
    (
        "number_too_long",
        F + T + "poll:\n  concurrency: " + "9" * 5000 + "\n",
        "config.yaml line 9, column 16: invalid YAML: a number too long to be any value here",
    ),
    (
        "libyaml_other",
        F + T + "poll: *nope\n",
        "config.yaml line 8, column 7: invalid YAML: found undefined alias",
    ),
    (
        "libyaml_flow",
        F + T + "channels: [a, b\n",
        "config.yaml line 9, column 1: invalid YAML: did not find expected ',' or ']'",
    ),
    ("empty", "", "config.yaml: the config file is empty"),
    (
        "not_mapping",
        "- a\n- b\n",
        "config.yaml: the config must be a mapping of keys (store, feeds, ...)",
    ),
    (
        "token",
        "telegram:\n  token: 123:abc\n" + F + T,
        "config.yaml line 2: telegram.token: the token is never written in the config: delete this line and put the token in the environment variable telegram.token_env names (export TELEGRAM_BOT_TOKEN=...)",
    ),
    (
        "unknown_close",
        "pol:\n  interval: 5m\n" + F + T,
        "config.yaml line 1: pol: unknown key; did you mean poll?",
    ),
    (
        "unknown",
        "zzz: 1\n" + F + T,
        "config.yaml line 1: zzz: unknown key (check its spelling and indentation)",
    ),
    (
        "missing",
        F + "topics:\n  k:\n    title: K\n",
        "config.yaml line 5: topics.k.query: required key is missing",
    ),
    ("missing_topics", F, "config.yaml line 1: topics: required key is missing"),
    (
        "token_env_pattern",
        "telegram:\n  token_env: 123:abc\n" + F + T,
        "config.yaml line 2: telegram.token_env: write the variable's name (TELEGRAM_BOT_TOKEN) here, never the token itself",
    ),
    (
        "topic_id_pattern",
        F + "topics:\n  Kuril:\n    title: K\n    query: x\n",
        "config.yaml line 5: topics.Kuril: a topic id is lower-case letters, digits and '-', starting with a letter or digit; got 'Kuril'",
    ),
    (
        "feed_id_pattern",
        "feeds:\n  - id: Feed B!\n    url: http://127.0.0.1:9/a.xml\n" + T,
        "config.yaml line 2: feeds[0].id: ids are lower-case letters, digits and '-', starting with a letter or digit; got 'Feed B!'",
    ),
    (
        "chat_pattern",
        F + T + "channels:\n  - chat: kurilnews\n    topics: [kuril]\n",
        "config.yaml line 9: channels[0].chat: a channel's @username (@ and 4 to 32 letters, digits or _, starting with a letter) or a numeric chat id such as -1001234567890; got 'kurilnews'",
    ),
    (
        "listen_pattern",
        F + T + "metrics:\n  listen: 0.0.0.0:9464\n",
        "config.yaml line 9: metrics.listen: a local address and port, such as 127.0.0.1:9464, localhost:9464 or [::1]:9464 (for other machines, put a reverse proxy in front and set metrics.public_url); got '0.0.0.0:9464'",
    ),
    (
        "public_url_pattern",
        F + T + "metrics:\n  listen: 127.0.0.1:9464\n  public_url: ftp://x\n",
        "config.yaml line 10: metrics.public_url: an address starting with http:// or https://, without spaces; got 'ftp://x'",
    ),
    (
        "api_base_pattern",
        "telegram:\n  api_base_url: api.telegram.org\n" + F + T,
        "config.yaml line 2: telegram.api_base_url: an address starting with http:// or https://, without spaces; got 'api.telegram.org'",
    ),
    (
        "admins_username",
        "telegram:\n  admins: ['@someone']\n" + F + T,
        "config.yaml line 2: telegram.admins[0]: a numeric Telegram user id such as 123456789, not a @username (the daemon's log names the id of each user it refuses an admin command); got '@someone'",
    ),
    (
        "admins_bool",
        "telegram:\n  admins: [true]\n" + F + T,
        "config.yaml line 2: telegram.admins[0]: true is not a user id; write a number such as 123456789",
    ),
    (
        "admins_range",
        "telegram:\n  admins: [-5]\n" + F + T,
        "config.yaml line 2: telegram.admins[0]: -5 is not a Telegram user id: a user's id is a positive number of at most 16 digits, such as 123456789 (a negative id is a group's)",
    ),
    (
        "url_relative",
        "feeds:\n  - id: a\n    url: tass.com/rss\n" + T,
        "config.yaml line 3: feeds[0].url: an address starting with http:// or https://, without spaces; got 'tass.com/rss'; write it whole: 'https://tass.com/rss'",
    ),
    (
        "url_relative_other",
        "feeds:\n  - id: a\n    url: 'not a url'\n" + T,
        "config.yaml line 3: feeds[0].url: an address starting with http:// or https://, without spaces; got 'not a url'",
    ),
    (
        "url_detail",
        "feeds:\n  - id: a\n    url: 'http://exa mple.com/'\n" + T,
        "config.yaml line 3: feeds[0].url: an address starting with http:// or https://, without spaces; got 'http://exa mple.com/' (invalid international domain name)",
    ),
    (
        "url_port",
        "feeds:\n  - id: a\n    url: 'http://example.com:99999/'\n" + T,
        "config.yaml line 3: feeds[0].url: an address starting with http:// or https://, without spaces; got 'http://example.com:99999/' (invalid port number)",
    ),
    (
        "url_scheme",
        "feeds:\n  - id: a\n    url: 'ftp://example.com/'\n" + T,
        "config.yaml line 3: feeds[0].url: an address starting with http:// or https://, without spaces; got 'ftp://example.com/'",
    ),
    (
        "url_type",
        "feeds:\n  - id: a\n    url: [a]\n" + T,
        "config.yaml line 3: feeds[0].url: an address starting with http:// or https://, without spaces; got \"['a']\"",
    ),
    (
        "bool_parsing",
        "telegram:\n  link_previews: maybe\n" + F + T,
        "config.yaml line 2: telegram.link_previews: write true or false; got 'maybe'",
    ),
    (
        "int_parsing",
        "poll:\n  concurrency: many\n" + F + T,
        "config.yaml line 2: poll.concurrency: write a whole number; got 'many'",
    ),
    (
        "int_from_float",
        "poll:\n  concurrency: 2.5\n" + F + T,
        "config.yaml line 2: poll.concurrency: write a whole number; got '2.5'",
    ),
    (
        "float_parsing",
        "delivery:\n  per_second: fast\n" + F + T,
        "config.yaml line 2: delivery.per_second: should be a valid number, unable to parse string as a number; got 'fast'",
    ),
    (
        "finite",
        "delivery:\n  per_second: .inf\n" + F + T,
        "config.yaml line 2: delivery.per_second: should be less than or equal to 10000; got 'inf'",
    ),
    (
        "ge",
        "poll:\n  concurrency: 0\n" + F + T,
        "config.yaml line 2: poll.concurrency: should be greater than or equal to 1; got '0'",
    ),
    (
        "le",
        "poll:\n  concurrency: 5000\n" + F + T,
        "config.yaml line 2: poll.concurrency: should be less than or equal to 1000; got '5000'",
    ),
    (
        "gt",
        "delivery:\n  per_second: 0\n" + F + T,
        "config.yaml line 2: delivery.per_second: should be greater than 0; got '0'",
    ),
    (
        "gt_int",
        "poll:\n  max_bytes: 0\n" + F + T,
        "config.yaml line 2: poll.max_bytes: should be greater than 0; got '0'",
    ),
    (
        "le_float",
        "delivery:\n  per_second: 20000\n" + F + T,
        "config.yaml line 2: delivery.per_second: should be less than or equal to 10000; got '20000'",
    ),
    (
        "literal",
        "feeds:\n  - id: a\n    url: http://127.0.0.1:9/a.xml\n    lang: de\n" + T,
        "config.yaml line 4: feeds[0].lang: should be 'en', 'ru' or 'ja'; got 'de'",
    ),
    (
        "literal_channel",
        F + T + "channels:\n  - chat: '@kurilnews'\n    topics: [kuril]\n    language: de\n",
        "config.yaml line 11: channels[0].language: should be 'en', 'ru' or 'ja'; got 'de'",
    ),
    (
        "too_long",
        "feeds:\n  - id: " + "a" * 70 + "\n    url: http://127.0.0.1:9/a.xml\n" + T,
        "config.yaml line 2: feeds[0].id: String should have at most 64 characters",
    ),
    (
        "int_type",
        "poll:\n  concurrency: [1]\n" + F + T,
        "config.yaml line 2: poll.concurrency: should be a valid integer; got '[1]'",
    ),
    (
        "float_type",
        "delivery:\n  per_second: [1]\n" + F + T,
        "config.yaml line 2: delivery.per_second: should be a valid number; got '[1]'",
    ),
    (
        "bool_type",
        "telegram:\n  link_previews: [1]\n" + F + T,
        "config.yaml line 2: telegram.link_previews: should be a valid boolean; got '[1]'",
    ),
    (
        "string_type_empty",
        F + "topics:\n  k:\n    title:\n    query: x\n",
        "config.yaml line 6: topics.k.title: empty; write text here",
    ),
    (
        "string_type_bool",
        F + "topics:\n  k:\n    title: no\n    query: x\n",
        "config.yaml line 6: topics.k.title: YAML reads no as false; to mean the text, quote it: 'no'",
    ),
    (
        "string_type_number",
        F + "topics:\n  k:\n    title: 2024\n    query: x\n",
        "config.yaml line 6: topics.k.title: YAML reads 2024 as a number; to mean the text, quote it: '2024'",
    ),
    (
        "string_type_date",
        F + "topics:\n  k:\n    title: 2024-01-01\n    query: x\n",
        "config.yaml line 6: topics.k.title: YAML reads 2024-01-01 as a date; to mean the text, quote it: '2024-01-01'",
    ),
    (
        "string_type_list",
        F + "topics:\n  k:\n    title: [a]\n    query: x\n",
        "config.yaml line 6: topics.k.title: write text here",
    ),
    (
        "model_type",
        "poll: 5\n" + F + T,
        "config.yaml line 1: poll: write keys (key: value lines) here",
    ),
    (
        "model_type_empty",
        "poll:\n" + F + T,
        "config.yaml line 1: poll: empty; write keys (key: value lines) here",
    ),
    (
        "dict_type",
        F + "topics: [a]\n",
        "config.yaml line 4: topics: write keys (key: value lines) here",
    ),
    (
        "tuple_type",
        "feeds: a\n" + T,
        "config.yaml line 1: feeds: write a list ([a, b] or lines starting with '- ') here",
    ),
    (
        "path_type",
        "store:\n  path: [a]\n" + F + T,
        "config.yaml line 2: store.path: write a file path here",
    ),
    (
        "bool_not_number",
        "poll:\n  concurrency: yes\n" + F + T,
        "config.yaml line 2: poll.concurrency: YAML reads yes as true; write a whole number",
    ),
    (
        "bool_not_number_float",
        "delivery:\n  per_second: on\n" + F + T,
        "config.yaml line 2: delivery.per_second: YAML reads on as true; write a number",
    ),
    (
        "path_nul",
        'store:\n  path: "a\\0b"\n' + F + T,
        "config.yaml line 2: store.path: a NUL character is in the path; write the store file's path",
    ),
    (
        "path_folder",
        "store:\n  path: data/\n" + F + T,
        "config.yaml line 2: store.path: 'data/' is a folder, not a file; name the store's file, such as data/kurilwatch.db",
    ),
    (
        "keys_retention",
        "store:\n  retention: 30d\n  keys_retention: 10d\n" + F + T,
        "config.yaml line 3: store.keys_retention: 10d is shorter than store.retention (30d): an item's dedup keys are kept at least as long as its text",
    ),
    (
        "tz",
        "telegram:\n  timezone: Mars/Base\n" + F + T,
        "config.yaml line 2: telegram.timezone: 'Mars/Base' is not a time zone (use a name like Asia/Tokyo)",
    ),
    (
        "channel_tz",
        F + T + "channels:\n  - chat: '@kurilnews'\n    topics: [kuril]\n    timezone: Mars/Base\n",
        "config.yaml line 11: channels[0].timezone: 'Mars/Base' is not a time zone (use an Area/City name like Asia/Tokyo, or UTC+3)",
    ),
    (
        "digest",
        F + T + "channels:\n  - chat: '@kurilnews'\n    topics: [kuril]\n    digest: hourly\n",
        "config.yaml line 11: channels[0].digest: 'hourly' is not a digest setting; write off, daily 08:00 or weekly mon 08:00",
    ),
    (
        "digest_day",
        F
        + T
        + "channels:\n  - chat: '@kurilnews'\n    topics: [kuril]\n    digest: weekly xyz 08:00\n",
        "config.yaml line 11: channels[0].digest: 'xyz' is not a day; write mon, tue, ... or sun",
    ),
    (
        "digest_clock",
        F + T + "channels:\n  - chat: '@kurilnews'\n    topics: [kuril]\n    digest: daily 25:00\n",
        "config.yaml line 11: channels[0].digest: '25:00' is not a time of day; write it as HH:MM, like 08:30",
    ),
    (
        "quiet",
        F + T + "channels:\n  - chat: '@kurilnews'\n    topics: [kuril]\n    quiet: night\n",
        "config.yaml line 11: channels[0].quiet: 'night' is not quiet hours; write 23:00-07:00 silent (sent without a sound) or 23:00-07:00 hold (sent when the quiet hours end), or off",
    ),
    (
        "quiet_same",
        F + T + "channels:\n  - chat: '@kurilnews'\n    topics: [kuril]\n    quiet: 23:00-23:00\n",
        "config.yaml line 11: channels[0].quiet: the quiet hours must not start and end at the same time",
    ),
    (
        "quiet_mode",
        F
        + T
        + "channels:\n  - chat: '@kurilnews'\n    topics: [kuril]\n    quiet: 23:00-07:00 loud\n",
        "config.yaml line 11: channels[0].quiet: 'loud': choose silent or hold",
    ),
    (
        "port",
        F + T + "metrics:\n  listen: 127.0.0.1:99999\n",
        "config.yaml line 9: metrics.listen: '127.0.0.1:99999': a port is 0-65535 (0: any free port)",
    ),
    (
        "feed_twice",
        F + "  - id: a\n    url: http://127.0.0.1:9/b.xml\n" + T,
        "config.yaml line 4: feeds[1].id: feed id 'a' is used twice (also feeds[0])",
    ),
    ("no_topics", F + "topics: {}\n", "config.yaml line 4: topics: at least one topic is needed"),
    (
        "source_no_feed",
        F + "topics:\n  k:\n    title: K\n    query: kuril source:tass\n",
        "config.yaml line 7: topics.k.query: source:tass is no feed of this config, nor an outlet prefix of one (feeds: a)",
    ),
    (
        "chat_twice",
        F
        + T
        + "channels:\n  - chat: '@kurilnews'\n    topics: [kuril]\n  - chat: '@KurilNews'\n    topics: [kuril]\n",
        "config.yaml line 11: channels[1].chat: @KurilNews is listed twice (also channels[0]); list a chat once, with all its topics",
    ),
    (
        "muted",
        F
        + T
        + "channels:\n  - chat: '@kurilnews'\n    topics: [kuril]\n    muted_sources: [zzz]\n",
        "config.yaml line 11: channels[0].muted_sources[0]: 'zzz' is no feed id of this config (feeds: a)",
    ),
    (
        "channel_topics",
        F + T + "channels:\n  - chat: '@kurilnews'\n    topics: [zzz, yyy]\n",
        "config.yaml line 10: channels[0].topics: 'zzz', 'yyy'; use topic ids of this config: kuril",
    ),
    (
        "channel_topics_none",
        F + T + "channels:\n  - chat: '@kurilnews'\n    topics: []\n",
        "config.yaml line 10: channels[0].topics: none given; use topic ids of this config: kuril",
    ),
    (
        "duration_bool",
        "poll:\n  interval: yes\n" + F + T,
        "config.yaml line 2: poll.interval: expected a duration such as 30s, 5m, 1h or a number of seconds",
    ),
    (
        "duration_word",
        "poll:\n  interval: soon\n" + F + T,
        "config.yaml line 2: poll.interval: 'soon' is not a duration; write it as 30s, 5m, 1h or a number of seconds",
    ),
    (
        "duration_inf",
        "poll:\n  interval: .inf\n" + F + T,
        "config.yaml line 2: poll.interval: inf is not a finite duration",
    ),
    (
        "duration_zero",
        "poll:\n  interval: 0\n" + F + T,
        "config.yaml line 2: poll.interval: 0 must be more than zero",
    ),
    (
        "duration_short",
        "poll:\n  interval: 0.0001\n" + F + T,
        "config.yaml line 2: poll.interval: 0.0001 is too short: at least 1ms",
    ),
    (
        "duration_long",
        "poll:\n  interval: 11000d\n" + F + T,
        "config.yaml line 2: poll.interval: '11000d' is too long: at most 3650 days",
    ),
    (
        "duration_long_number",
        "poll:\n  interval: 999999999999\n" + F + T,
        "config.yaml line 2: poll.interval: 999999999999 is too long: at most 3650 days",
    ),
    (
        "title_blank",
        F + "topics:\n  k:\n    title: ' '\n    query: x\n",
        "config.yaml line 6: topics.k.title: empty: the title is the name subscribers see; write one",
    ),
    (
        "query",
        F + "topics:\n  kuril:\n    title: K\n    query: (kuril AND\n",
        "config.yaml line 7, column 22: topics.kuril.query: a term is missing at the end in the query",
    ),
    (
        "query_unbalanced",
        F + "topics:\n  kuril:\n    title: K\n    query: kuril) x\n",
        "config.yaml line 7, column 17: topics.kuril.query: ')' without a matching '(' in the query",
    ),
    (
        "query_escaped",
        F + 'topics:\n  kuril:\n    title: K\n    query: "\\u0041 AND"\n',
        "config.yaml line 7: topics.kuril.query: a term is missing at the end in the query (character 6 of its text)",
    ),
    (
        "query_empty",
        F + "topics:\n  kuril:\n    title: K\n    query: ''\n",
        "config.yaml line 7, column 13: topics.kuril.query: the query is empty",
    ),
    (
        "query_field",
        F + "topics:\n  kuril:\n    title: K\n    query: 'titel:x'\n",
        "config.yaml line 7, column 13: topics.kuril.query: unknown field 'titel:' (fields: title, summary, content, lang, source) in the query",
    ),
    (
        "query_deep",
        F + "topics:\n  kuril:\n    title: K\n    query: '" + "(" * 300 + "a" + ")" * 300 + "'\n",
        "config.yaml line 7, column 45: topics.kuril.query: nested more than 32 deep (parentheses, '-', fields); write it flatter in the query",
    ),
]

# what a problem names as the config writes it, left in every language: key paths and values
# to write, YAML's syntax, names (an example in quotes is left out before this is asked)
AS_WRITTEN = {
    "AND", "Asia/Tokyo", "HH:MM", "NUL", "TELEGRAM_BOT_TOKEN", "Telegram", "Telegram:", "UTC",
    "YAML", "YAML:", "channels", "daily", "data/kurilwatch.db", "export", "false", "feeds",
    "hold", "http://", "https://", "localhost:", "metrics.public_url", "off", "silent",
    "source:", "store", "store.retention", "telegram.token_env", "title:", "true", "weekly",
    "japan",  # of a query written in YAML's quotes, as it is written
}  # fmt: skip


def leaves(value: Value) -> Iterator[Value]:
    """The values a problem's message names, through the messages said inside it."""
    if isinstance(value, Said):
        for part in value.values.values():
            yield from leaves(part)
    elif isinstance(value, Joined):
        for part in value.parts:
            yield from leaves(part)
    else:
        yield value


# a problem's place as `check` writes it, and as each reader's language says it: the file, the
# line and column numbers as they are
PLACES = {
    "ru": ("{file}, строка {line}", "{file}, строка {line}, столбец {column}"),
    "ja": ("{file} {line}行目", "{file} {line}行目{column}列"),
}


def located(lang: str, where: str) -> str:
    """`check`'s "config.yaml line 9, column 12" as `lang` says it."""
    found = re.fullmatch(r"(.*?) line (\d+)(?:, column (\d+))?", where)
    if found is None or lang == "en":
        return where
    file, line, column = found.groups()
    return PLACES[lang][column is not None].format(file=file, line=line, column=column)


def assert_said_in(lang: str, error: PlacedError) -> str:
    """`error` said in `lang`: its place in the file in its words, its file, numbers and key
    path as `check` writes them, each value it names, and no English word but what the config
    writes; what is left of the why."""
    tr = texts(lang)
    said = tr.say(said_error(error))
    where = located(lang, EN.say(error.where))
    head = f"{where}: {error.key}: " if error.key else f"{where}: "
    assert said.startswith(head), said
    why = said.removeprefix(head)
    assert why and why != error.text.removeprefix(head), said
    assert re.search(r"[а-яё]{3}" if lang == "ru" else r"[\u3040-\u30ff\u4e00-\u9fff]", why), said
    shown = [tr.say(value) for value in leaves(Said(error.why, error.values))]
    for value in sorted(shown, key=len, reverse=True):
        assert value in why, (value, said)
        why = why.replace(value, " ")
    examples = re.sub(r"\"[^\"]*\"|'[^']*'", " ", why)  # YAML to write, as it is written
    left = set(re.findall(r"[A-Za-z][A-Za-z_.:/-]{2,}", examples)) - AS_WRITTEN
    assert not left, (left, said)
    if lang == "ja":  # 「data/」はフォルダー…, not 「data/」 は…: no space beside 「…」
        assert not re.search(r"[^\x00-\x7f] 「|」 [^\x00-\x7f]", said), said
    return said


@pytest.mark.parametrize(
    ("most", "russian"),
    [(64, "не длиннее 64 символов"), (21, "не длиннее 21 символа"), (3, "не длиннее 3 символов")],
)
def test_a_length_s_limit_takes_the_case_its_number_asks_in_russian(
    most: int, russian: str
) -> None:
    """pydantic's "String should have at most 64 characters" read in Russian "наибольшая длина —
    64 (в символах)": its count now chooses the form, 21 символа as 64 символов."""
    field = Annotated[str, Field(max_length=most)]
    with pytest.raises(ValidationError) as raised:
        TypeAdapter(field).validate_python("x" * 100)
    message = raised.value.errors()[0]["msg"]
    why = _pydantics(message, {})
    assert EN.say(why) == message  # `check`'s words as they were
    assert texts("ru").say(why) == f"значение должно быть {russian}"


def refused(text: str) -> PlacedError:
    with pytest.raises(ConfigError) as raised:
        parse_config(text, source="config.yaml")
    [error] = raised.value.errors
    return error


@pytest.mark.parametrize(("text", "english"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_each_problem_of_a_config_is_said_in_the_admins_language(text: str, english: str) -> None:
    error = refused(text)
    assert error.text == english  # `check`'s line, byte for byte
    assert EN.say(said_error(error)) == english
    for lang in ("ru", "ja"):
        assert_said_in(lang, error)


@pytest.mark.parametrize(
    ("case", "lang", "head"),
    [
        ("unknown_close", "ru", "config.yaml, строка 1: pol: "),
        ("unknown_close", "ja", "config.yaml 1行目: pol: "),
        ("tab", "ru", "config.yaml, строка 6, столбец 1: "),
        ("tab", "ja", "config.yaml 6行目1列: "),
        ("query_unbalanced", "ru", "config.yaml, строка 7, столбец 17: topics.kuril.query: "),
        ("query_unbalanced", "ja", "config.yaml 7行目17列: topics.kuril.query: "),
        ("number_too_long", "ru", "config.yaml, строка 9, столбец 16: "),
        ("missing", "ja", "config.yaml 5行目: topics.k.query: "),
        ("empty", "ru", "config.yaml: "),
        ("empty", "ja", "config.yaml: "),
    ],
)
def test_a_problem_s_line_and_column_are_said_in_the_readers_language(
    case: str, lang: str, head: str
) -> None:
    """A Russian admin read "config.yaml line 3: ...", "line 13, column 12" among Russian
    words: the place is said in theirs, the file, numbers and key path as `check` writes them
    (whose English line stays as it was)."""
    error = refused(dict((c[0], c[1]) for c in CASES)[case])
    said = texts(lang).say(said_error(error))
    assert said.startswith(head), said
    assert " line " not in said and "column" not in said, said
    assert located(lang, EN.say(error.where)) == head.split(": ")[0]


def test_a_users_words_are_quoted_in_the_readers_marks_and_written_as_check_writes_them() -> None:
    """A value the operator wrote is quoted as each language quotes («soon», 「soon」); the
    English keeps `check`'s quotes, and its cut of a long value."""
    error = refused("poll:\n  interval: soon\n" + F + T)
    assert texts("ru").say(said_error(error)) == (
        "config.yaml, строка 2: poll.interval: «soon» — не длительность; напишите её как 30s,"
        " 5m, 1h или числом секунд"
    )
    assert (
        texts("ja")
        .say(said_error(error))
        .startswith("config.yaml 2行目: poll.interval: 「soon」は期間ではありません。")
    )
    long = "x" * 80
    error = refused(F + f"topics:\n  {long.upper()}:\n    title: K\n    query: x\n")
    assert error.text.endswith(f"; got '{'X' * 56}…'")
    assert texts("ru").say(said_error(error)).endswith(f"; указано «{'X' * 56}…»")


def test_a_query_s_problem_is_said_as_a_watch_s_is_and_placed_in_the_file() -> None:
    error = refused(F + "topics:\n  kuril:\n    title: K\n    query: (kuril OR iturup\n")
    assert error.text == (
        "config.yaml line 7, column 12: topics.kuril.query: '(' is never closed in the query"
    )
    russian = texts("ru").say(said_error(error))
    watch = texts("ru")._("'(' is never closed")  # as /watch says it
    assert russian == f"config.yaml, строка 7, столбец 12: topics.kuril.query: в запросе: {watch}"


@pytest.fixture
def files(tmp_path: Path) -> list[tuple[Path, str]]:
    """Config files that cannot be read, each with the line `check` prints of it."""
    cases = [
        (
            tmp_path / "missing.yaml",
            "{path}: config file not found (pass --config PATH, or copy the shipped config.yaml)",
        )
    ]
    cases.append((tmp_path, "{path}: not a regular file (a folder)"))
    (tmp_path / "u16.yaml").write_bytes("a: b\n".encode("utf-16"))
    cases.append(
        (
            tmp_path / "u16.yaml",
            "{path}: the file is UTF-16 (its first bytes say so); save it as UTF-8",
        )
    )
    (tmp_path / "l1.yaml").write_bytes(b"a: \xe9\n")
    cases.append(
        (
            tmp_path / "l1.yaml",
            "{path} line 1, column 4: byte 0xe9 is not UTF-8 (the file is in another encoding, such as Latin-1 or Windows-1251); save it as UTF-8",
        )
    )
    (tmp_path / "file").write_text("")
    cases.append(
        (
            tmp_path / "file" / "x.yaml",
            "{path}: cannot read the config file: [Errno 20] Not a directory: '{path}'",
        )
    )
    home = "store:\n  path: ~nobody-here-kw/x.db\nfeeds: []\n" + T
    (tmp_path / "home.yaml").write_text(home)
    cases.append(
        (
            tmp_path / "home.yaml",
            "{path}: store.path: cannot be resolved: Could not determine home directory.",
        )
    )
    (tmp_path / "big.yaml").write_text("a: 1\n" * 10)
    cases.append((tmp_path / "big.yaml", "{path}: larger than 10 bytes"))
    return cases


def test_a_file_that_cannot_be_read_is_said_in_the_admins_language(
    files: list[tuple[Path, str]],
) -> None:
    """(The system's own words, as "Not a directory", are said as they are.)"""
    import bot.config.yaml_text

    for path, english in files:
        with pytest.raises(ConfigError) as raised, pytest.MonkeyPatch.context() as patch:
            if path.name == "big.yaml":
                patch.setattr(bot.config.yaml_text, "MAX_CONFIG_BYTES", 10)
            load_config(path, regular_only=True)
        [error] = raised.value.errors
        assert error.text == english.format(path=path)
        for lang in ("ru", "ja"):
            said = texts(lang).say(said_error(error))
            assert said.startswith(located(lang, EN.say(error.where)) + ": "), said
            assert said != error.text, said
            assert re.search(r"[а-яё]{3}|[\u3040-\u30ff\u4e00-\u9fff]", said), said


def test_a_named_pipe_and_another_program_s_words() -> None:
    pipe = Path(f"/tmp/kw-pipe-{os.getpid()}")
    os.mkfifo(pipe)
    try:
        with pytest.raises(ConfigError) as raised:
            load_config(pipe, regular_only=True)
    finally:
        pipe.unlink()
    [error] = raised.value.errors
    assert error.text == f"{pipe}: not a regular file (a named pipe)"
    assert texts("ru").say(said_error(error)) == f"{pipe}: не обычный файл (именованный канал)"
    # what raised in a validator, and YAML's words it has no translation of: as they are
    error = refused("a: !!float x\n")
    assert (
        error.text
        == "config.yaml: cannot be used: ValueError: could not convert string to float: 'x'"
    )
    assert texts("ja").say(said_error(error)) == (
        "config.yaml: 設定として使えません: ValueError: could not convert string to float: 'x'"
    )


def test_a_problem_is_kept_with_a_notice_and_said_as_it_was() -> None:
    """A notice is said when it is sent (an admin may read it days later): its values, the
    quoted words among them, are kept as JSON."""
    error = refused("poll:\n  interval: soon\n" + F + T)
    values = {"problems": Joined((said_error(error),), "clauses")}
    kept = loaded(json.loads(json.dumps(stored(values))))
    assert kept == values
    assert isinstance(kept["problems"], Joined)
    assert "«soon»" in texts("ru").say(kept["problems"])
    assert Quoted("soon", "'soon'").said(EN) == "'soon'"


ADMIN = 777


def test_a_russian_admin_reads_a_refused_edit_s_problems_in_russian(
    tmp_path: Path, bot_api: Any, start_daemon: Any
) -> None:
    """Through the fake Bot API: an admin whose Telegram speaks Russian saves a bad edit; the
    daemon's notice and /reload's answer name each problem in Russian, its place in the file
    too ("строка 3, столбец 12"), with the file, numbers and key path as written; the log keeps
    `check`'s English. So for the warnings of the edit that mends it."""
    config = write_config(tmp_path, {}, api_base_url=bot_api.base_url, admins=(ADMIN,))
    daemon = start_daemon("run", "--config", str(config), token=TOKEN)
    bot_api.wait_until_polling(timeout=20)
    bot_api.push_message(ADMIN, "/start", language_code="ru")
    bot_api.wait_for_messages(ADMIN, 1, timeout=30)
    settings = yaml.safe_load(config.read_text())
    settings["poll"]["interval"] = "soon"
    settings["topics"]["kuril"]["query"] = "(Kuril OR Iturup"
    text = yaml.safe_dump(settings, allow_unicode=True)
    lines = text.splitlines()
    interval = lines.index("  interval: soon") + 1
    query = next(n for n, line in enumerate(lines, 1) if "(Kuril OR Iturup" in line)
    save_edit(config, text)
    logged = daemon.stderr.wait_for("config not reloaded")
    assert f"{config} line {interval}: poll.interval: 'soon' is not a duration" in logged
    assert f"{config} line {query}, column " in logged

    def said(start: str) -> str:
        def found() -> bool:
            return any(
                html.unescape(m["text"]).startswith(start) for m in bot_api.sent_messages(ADMIN)
            )

        bot_api.wait_for(found, 30, start)
        return next(
            text
            for m in bot_api.sent_messages(ADMIN)
            if (text := html.unescape(m["text"])).startswith(start)
        )

    notice = said("kurilwatch: конфигурация не перечитана (")
    bot_api.push_message(ADMIN, "/reload", language_code="ru")
    reply = said("Конфигурация не перечитана, действует прежняя. ")
    for message in (notice, reply):
        assert (
            f"{config}, строка {interval}: poll.interval: «soon» — не длительность; напишите её"
            " как 30s, 5m, 1h или числом секунд"
        ) in message, message
        assert f"{config}, строка {query}, столбец " in message, message
        assert "topics.kuril.query: в запросе: " in message, message
        # the file, numbers and key path as `check` writes them; every other word Russian
        words = re.sub(
            rf"{re.escape(str(config))}, строка \d+(, столбец \d+)?: [\w.]+:", " ", message
        )
        assert not re.findall(r"\b(?:is|the|not|in|query|line|column|write|missing)\b", words), (
            message
        )
    # mended, with what is likely not meant: a poll interval of milliseconds, a lower-case "or"
    settings["poll"]["interval"] = "5ms"
    settings["topics"]["kuril"]["query"] = "Kuril or Iturup"
    text = yaml.safe_dump(settings, allow_unicode=True)
    lines = text.splitlines()
    interval = lines.index("  interval: 5ms") + 1
    query = next(n for n, line in enumerate(lines, 1) if "Kuril or Iturup" in line)
    column = lines[query - 1].index(" or ") + 2
    save_edit(config, text)
    # the log's lines in English, as `check` prints them
    daemon.stderr.wait_for(f"config: {config} line {query}, column {column}: topics.kuril.query:")
    daemon.stderr.wait_for(f"config: {config} line {interval}: poll.interval: 5 ms between two")
    warned = said("kurilwatch: конфигурация применена, но в ней, похоже, есть то")
    assert f"\n{config}, строка {interval}: poll.interval: 5 мс между " in warned, warned
    assert f"\n{config}, строка {query}, столбец {column}: topics.kuril.query: " in warned, warned
    assert " line " not in warned and "column" not in warned, warned
    assert daemon.stop() == 0
    assert "Traceback" not in daemon.stderr.text, daemon.stderr.text
