"""The Telegram face: command handlers by area, their shared context and texts."""

import bot.lean_import  # noqa: F401  (before telegram: httpx without its console client)
