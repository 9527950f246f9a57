"""Feed watchers: fetch, parse, normalise, match topics and decide what is new."""
