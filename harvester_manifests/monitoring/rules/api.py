"""The API: down, 5xx error rate, latency, saturation, and the HPA at its ceiling."""

from __future__ import annotations

from harvester_manifests.config.models import Config
from harvester_manifests.monitoring import queries as q
from harvester_manifests.monitoring.rules import sizes
from harvester_manifests.monitoring.rules.common import (
    Rule,
    alert,
    levels,
    number,
    percent,
    seconds_text,
)

API_DOWN = "SignalHarvesterApiDown"
API_ERROR_RATE = "SignalHarvesterApiHighErrorRate"
API_LATENCY = "SignalHarvesterApiHighLatency"
API_SATURATED = "SignalHarvesterApiSaturated"
API_MAX_REPLICAS = "SignalHarvesterApiAtMaxReplicas"

# With the API down there is no traffic to measure: these would only add noise.
MUTED_BY_API_DOWN = (API_ERROR_RATE, API_LATENCY)


def rules(cfg: Config) -> list[Rule]:
    t = cfg.alerts.api
    rules = [
        alert(
            cfg,
            API_DOWN,
            f"{q.API_PODS_UP} == 0 or absent({q.API_UP})",
            t.down_for,
            "critical",
            "api",
            "Signal Harvester API is down",
            f"No API pod has answered a scrape of {cfg.api.metrics_path} on port "
            f"{cfg.api.port} for {t.down_for}, or no API pod is running.",
        )
    ]
    for level in levels(t.error_rate_warning, t.error_rate_critical, t.error_rate_for):
        rules.append(
            alert(
                cfg,
                API_ERROR_RATE,
                f"{q.error_ratio('5m')}\n"
                f"  > {number(level.threshold)}\n"
                f"and on () {q.requests('5m')} > {number(t.error_rate_min_requests_per_second)}",
                level.duration,
                level.severity,
                "api",
                "API 5xx error rate is high",
                f"{{{{ $value | humanizePercentage }}}} of API requests answer 5xx "
                f"(threshold {percent(level.threshold)} for {level.duration}).",
            )
        )
    for level in levels(t.latency_p95_seconds, t.latency_p95_critical_seconds, t.latency_for):
        rules.append(
            alert(
                cfg,
                API_LATENCY,
                f"{q.latency('0.95', '5m')} > {number(level.threshold)}",
                level.duration,
                level.severity,
                "api",
                f"API p95 latency above {seconds_text(level.threshold)}",
                "p95 request latency is {{ $value | humanizeDuration }} "
                f"(threshold {seconds_text(level.threshold)} for {level.duration}).",
            )
        )
    rules.append(
        alert(
            cfg,
            API_SATURATED,
            f"{q.in_progress('namespace, pod')} > {number(t.in_progress_per_pod)}",
            t.saturation_for,
            "warning",
            "api",
            "API pod {{ $labels.pod }} is saturated",
            "{{ $value }} requests are in progress in pod {{ $labels.pod }} "
            f"(threshold {number(t.in_progress_per_pod)} for {t.saturation_for}).",
        )
    )
    return rules + capacity_rules(cfg)


def capacity_rules(cfg: Config) -> list[Rule]:
    """The HPA at its maxReplicas, read from the sizes group (sizes.py)."""
    t = cfg.alerts.api
    if not cfg.api.autoscaling.enabled:
        return []
    return [
        alert(
            cfg,
            API_MAX_REPLICAS,
            f"count({q.API_UP}) >= {sizes.size(cfg, sizes.HPA_MAX_REPLICAS)}",
            t.max_replicas_for,
            "warning",
            "api",
            "API runs at the HPA's maxReplicas",
            "{{ $value }} API pods are running, the HPA's maxReplicas, "
            f"for {t.max_replicas_for}. It cannot scale further; "
            "raise api.autoscaling.maxReplicas or the pods' capacity.",
        )
    ]
