"""Delivery: the outbox worker and the pure parts it decides with (outcome, plan, limits)."""
