"""Trends: stories per day counted from the store (`trends`), drawn as charts (`charts`),
spike detection (`spikes`) and the scheduled weekly reports and spike checks (`jobs`)."""

import bot.lean_import  # noqa: F401  (before telegram: httpx without its console client)
