"""Batchwise companion package (placeholder while the core lands)."""
