"""The Telegram face: command handlers by area, their shared context and texts."""
