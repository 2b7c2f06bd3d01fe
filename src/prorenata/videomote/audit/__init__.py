"""The append-only audit log of every access to a meeting, and its admin view."""
