"""Telegram face of kurilwatch: bot handlers, rendering, delivery, daemon wiring and CLI."""

import bot.lean_import  # noqa: F401  (first: httpx without its console client)
