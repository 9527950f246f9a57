"""Topics: the query language, compiling topics from it, and the matching engine."""
