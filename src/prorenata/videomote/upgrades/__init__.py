"""Upgrade steps; the next profile version is 1001."""
