"""The caches: a low hit ratio under real traffic."""

from __future__ import annotations

from harvester_manifests.config.models import Config
from harvester_manifests.monitoring.rules.common import Rule, alert, number, percent
from harvester_manifests.monitoring.scrape import API_JOB

CACHE_HIT_RATE = "SignalHarvesterCacheHitRateLow"


def rules(cfg: Config) -> list[Rule]:
    t = cfg.alerts.cache
    job = f'job="{API_JOB}"'
    hits = f"sum by (cache_type) (rate(cache_hits_total{{{job}}}[30m]))"
    misses = f"sum by (cache_type) (rate(cache_misses_total{{{job}}}[30m]))"
    # A cache with no hit yet has no hits series (and one with no miss no misses series).
    hits_or_zero = f"({hits} or {misses} * 0)"
    misses_or_zero = f"({misses} or {hits} * 0)"
    lookups = f"({hits_or_zero} + {misses_or_zero})"
    return [
        alert(
            cfg,
            CACHE_HIT_RATE,
            f"{hits_or_zero}\n  / {lookups}\n  < {number(t.hit_ratio_min)}\n"
            f"and {lookups} > {number(t.min_lookups_per_second)}",
            t.hit_ratio_for,
            "info",
            "cache",
            "Low hit rate of the {{ $labels.cache_type }} cache",
            "{{ $value | humanizePercentage }} of {{ $labels.cache_type }} lookups hit "
            f"(threshold {percent(t.hit_ratio_min)} for {t.hit_ratio_for}).",
        )
    ]
