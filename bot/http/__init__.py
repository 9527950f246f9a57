"""The HTTP listener's views of the stored stories: Atom feeds of topics and of a chat's watches
(served beside /metrics and /healthz of bot/metrics.py)."""
