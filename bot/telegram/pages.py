"""Keyboards of many buttons shown a page at a time: Telegram refuses a message with more than
100 inline buttons, or about 10 KB of them ("reply markup is too long"), so a config of many
topics or feeds would leave /start, /topics and /sources unanswered."""

from __future__ import annotations

from collections.abc import Sequence

from telegram import CallbackQuery, InlineKeyboardButton, Message

PER_PAGE = 20  # buttons of a page, one a row, under the 100 and the 10 KB with room to spare
MAX_PAGES = 1000  # a page number in a press beyond this is garbage, not a page


def paged(
    buttons: Sequence[InlineKeyboardButton], page: int, turn: str
) -> list[list[InlineKeyboardButton]]:
    """The rows of `buttons` on page `page` (0-based, brought into range), one button a row,
    and, when they fill more than a page, a row to turn pages: ◀, "2/5" and ▶, whose data is
    `turn` followed by the page they show."""
    pages = max(1, -(-len(buttons) // PER_PAGE))
    page = min(max(page, 0), pages - 1)
    rows = [[button] for button in buttons[page * PER_PAGE : (page + 1) * PER_PAGE]]
    if pages > 1:
        rows.append(
            [
                InlineKeyboardButton("◀", callback_data=f"{turn}{(page - 1) % pages}"),
                InlineKeyboardButton(f"{page + 1}/{pages}", callback_data=f"{turn}{page}"),
                InlineKeyboardButton("▶", callback_data=f"{turn}{(page + 1) % pages}"),
            ]
        )
    return rows


def page_of(index: int) -> int:
    """The page that shows the button at `index`."""
    return index // PER_PAGE


def turned_to(data: str, turn: str) -> int | None:
    """The page a press of a turning button asks for; None for data that names none."""
    number = data.removeprefix(turn)
    if not data.startswith(turn) or not number.isascii() or not number.isdigit():
        return None
    page = int(number)
    return page if page < MAX_PAGES else None


def label_pressed(query: CallbackQuery, data: str | None = None) -> str | None:
    """The text of the button pressed (or of the one of `data` beside it) as the chat saw it
    (its keyboard comes with the press), or None when the message is no longer there to tell.
    A toggle acts on what it showed: two quick taps on "➕" both mean subscribe, not subscribe
    then unsubscribe."""
    message = query.message
    markup = message.reply_markup if isinstance(message, Message) else None
    wanted = query.data if data is None else data
    for row in markup.inline_keyboard if markup else ():
        for button in row:
            if button.callback_data == wanted:
                return button.text
    return None
