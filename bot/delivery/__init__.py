"""Delivery: the outbox worker and the pure parts it decides with (outcome, plan, limits)."""

import bot.lean_import  # noqa: F401  (before telegram: httpx without its console client)
