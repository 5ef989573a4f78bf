"""Prometheus metrics of dispatch (served by the platform's /metrics)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

BATCH_SECONDS = Histogram(
    "matching_batch_seconds",
    "Wall time of one dispatch batch (all zones)",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10),
)
OFFERS = Counter("matching_offers_total", "Offers made, and how batches ended them", ["outcome"])
ZONES = Counter(
    "matching_zones_total", "Zone solves by outcome (solved, skipped: held elsewhere, failed)", ["outcome"]
)
