"""Meeting codes, one-time codes, participant sessions and join tokens."""
