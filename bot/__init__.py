"""Telegram face of kurilwatch: bot handlers, rendering, delivery, daemon wiring and CLI."""
