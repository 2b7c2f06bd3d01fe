"""Behaviors for record types that already exist in a journal."""
