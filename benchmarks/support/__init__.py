"""Helpers shared by the benchmarks (not benchmarks themselves)."""
