"""Firing and silent cases of the cache group's alerts."""

from __future__ import annotations

from harvester_manifests.config.models import Config
from harvester_manifests.monitoring import rules as r
from tests.monitoring.alert_cases.common import (
    Api,
    Fires,
    Scenario,
    _f,
    humanize_percentage,
)


def scenarios(cfg: Config) -> list[Scenario]:
    t = cfg.alerts.cache
    api = Api(cfg)
    lru = {"cache_type": "discoveries"}

    def lookups(hits: float | None, misses: float | None) -> list[tuple[str, str]]:
        series = []
        if hits is not None:
            series.append((api("cache_hits_total", **lru), f"0+{_f(hits)}x90"))
        if misses is not None:
            series.append((api("cache_misses_total", **lru), f"0+{_f(misses)}x90"))
        return series

    per_minute = t.min_lookups_per_second * 60 * 4
    low = t.hit_ratio_min / 2
    high = (1 + t.hit_ratio_min) / 2
    return [
        Scenario(
            r.CACHE_HIT_RATE,
            "hit ratio below the minimum",
            lookups(per_minute * low, per_minute * (1 - low)),
            "80m",
            [Fires("info", lru, humanize_percentage(low))],
        ),
        Scenario(
            r.CACHE_HIT_RATE,
            "no hit at all (no hits series)",
            lookups(None, per_minute),
            "80m",
            [Fires("info", lru, humanize_percentage(0))],
        ),
        Scenario(
            r.CACHE_HIT_RATE,
            "hit ratio above the minimum",
            lookups(per_minute * high, per_minute * (1 - high)),
            "80m",
            [],
        ),
        Scenario(
            r.CACHE_HIT_RATE,
            "no miss at all (no misses series)",
            lookups(per_minute, None),
            "80m",
            [],
        ),
        Scenario(
            r.CACHE_HIT_RATE,
            "too few lookups",
            lookups(per_minute / 20 * low, per_minute / 20 * (1 - low)),
            "80m",
            [],
        ),
    ]
