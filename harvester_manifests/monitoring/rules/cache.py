"""The caches: a low hit ratio under real traffic."""

from __future__ import annotations

from harvester_manifests.config.models import Config
from harvester_manifests.monitoring import queries as q
from harvester_manifests.monitoring.rules.common import Rule, alert, number, percent

CACHE_HIT_RATE = "SignalHarvesterCacheHitRateLow"


def rules(cfg: Config) -> list[Rule]:
    t = cfg.alerts.cache
    lookups = q.cache_lookups("30m")
    return [
        alert(
            cfg,
            CACHE_HIT_RATE,
            f"{q.cache_hit_ratio('30m')}\n  < {number(t.hit_ratio_min)}\n"
            f"and {lookups} > {number(t.min_lookups_per_second)}",
            t.hit_ratio_for,
            "info",
            "cache",
            "Low hit rate of the {{ $labels.cache_type }} cache",
            "{{ $value | humanizePercentage }} of {{ $labels.cache_type }} lookups hit "
            f"(threshold {percent(t.hit_ratio_min)} for {t.hit_ratio_for}).",
        )
    ]
