"""A value the config's models refuse, in words each reader's language says: a msgid of the
bot's catalogues (`N_`) and its values, the user's own words marked (`Written`) to be quoted in
the reader's marks; `str()` is the English line `kurilwatch check` prints."""

from __future__ import annotations

from dataclasses import dataclass


def N_(message: str) -> str:
    """Mark a message for extraction into the bot's catalogues (bot/locales)."""
    return message


@dataclass(frozen=True, slots=True)
class Written:
    """A user's own words a refusal names: `words`, quoted in each reader's marks, and
    `english`, as the English line writes them (`'soon'`, a long one cut)."""

    words: str
    english: str


RefusedValue = str | Written


class Refused(ValueError):
    """Why a value is refused: `template` (a msgid) and its `values`."""

    def __init__(self, template: str, **values: RefusedValue) -> None:
        self.template = template
        self.values = values
        english = {k: v.english if isinstance(v, Written) else v for k, v in values.items()}
        super().__init__(template.format(**english) if values else template)


def written(value: object, english: str | None = None) -> RefusedValue:
    """What a user wrote, as a refusal names it: text is their words, quoted (in English as
    `english`, or as Python writes a string); another value (a number YAML read) as Python
    writes it, unquoted in every language."""
    shown = repr(value) if english is None else english
    return Written(value, shown) if isinstance(value, str) else shown
