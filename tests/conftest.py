"""Shared pytest configuration: deterministic hypothesis, a headless matplotlib, no stray copies."""

from __future__ import annotations

import os

import matplotlib

matplotlib.use("Agg")

from hypothesis import HealthCheck, settings  # noqa: E402

# Deterministic property tests: the same examples on every machine, no example database on disk.
settings.register_profile(
    "batchwise",
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "batchwise"))
