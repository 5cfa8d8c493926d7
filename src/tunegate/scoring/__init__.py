"""Scorers: pure, synchronous functions from (case, response) to per-case scores and metrics."""
