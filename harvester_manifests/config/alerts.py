"""Alert thresholds: every number (and every `for` duration) an alert rule compares against.

One sub-model per alert category, so an overlay changes one value in place:

    alerts:
      api: {latencyP95Seconds: 0.1}
      llm: {tokensPerHour: 5000000}

Ratios are fractions (0.05 is 5 %). Where an alert has a warning and a critical level, the
critical one must be the stricter; the validators say which value to change.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import Field, model_validator

from harvester_manifests.config.types import Duration, Model, Number, PositiveInt32

Ratio = Annotated[Number, Field(gt=0, le=1)]
Seconds = Annotated[Number, Field(gt=0)]
Positive = Annotated[Number, Field(gt=0)]

_UNITS = {"y": 365 * 86400, "w": 7 * 86400, "d": 86400, "h": 3600, "m": 60, "s": 1, "ms": 0.001}


def duration_seconds(duration: str) -> float:
    """A Prometheus duration ("90s", "1h30m", "3d") in seconds."""
    parts = re.findall(r"(\d+)(ms|y|w|d|h|m|s)", duration)
    if not parts or "".join(n + u for n, u in parts) != duration:
        raise ValueError(f"{duration!r} is not a Prometheus duration (examples: 30s, 5m, 4h)")
    return sum(int(number) * _UNITS[unit] for number, unit in parts)


def _check_levels(section: str, pairs: list[tuple[str, float, str, float]]) -> None:
    """Each (warning, critical) pair: the critical level must be above the warning one."""
    for warning_name, warning, critical_name, critical in pairs:
        if critical <= warning:
            raise ValueError(
                f"alerts.{section}.{critical_name} {critical} must be above "
                f"{warning_name} {warning}: the critical level is the stricter one"
            )


class ApiAlerts(Model):
    """The API: down, 5xx ratio, latency (the guide: p95 above 50ms), saturation."""

    down_for: Duration = "2m"
    error_rate_warning: Ratio = 0.01
    error_rate_critical: Ratio = 0.05
    # Below this many requests per second the 5xx ratio is noise (1 error in 3 requests).
    error_rate_min_requests_per_second: Positive = 0.1
    error_rate_for: Duration = "5m"
    latency_p95_seconds: Seconds = 0.05
    latency_p95_critical_seconds: Seconds = 0.5
    latency_for: Duration = "10m"
    in_progress_per_pod: Positive = 50
    saturation_for: Duration = "5m"
    # As many API pods as the HPA's maxReplicas: it cannot scale further.
    max_replicas_for: Duration = "15m"

    @model_validator(mode="after")
    def _levels(self) -> ApiAlerts:
        _check_levels(
            "api",
            [
                (
                    "errorRateWarning",
                    self.error_rate_warning,
                    "errorRateCritical",
                    self.error_rate_critical,
                ),
                (
                    "latencyP95Seconds",
                    self.latency_p95_seconds,
                    "latencyP95CriticalSeconds",
                    self.latency_p95_critical_seconds,
                ),
            ],
        )
        return self


class DatabaseAlerts(Model):
    """SQLite on the API's volume: size against the volume, growth, slow queries."""

    # Fractions of api.storage.size (sqlite mode; in postgres mode there is no volume to fill).
    size_warning_ratio: Ratio = 0.8
    size_critical_ratio: Ratio = 0.9
    size_for: Duration = "15m"
    # Warn when the growth of the last growthWindow would fill the volume within fillsWithin.
    growth_window: Duration = "6h"
    fills_within: Duration = "3d"
    growth_for: Duration = "1h"
    query_p95_seconds: Seconds = 0.1
    query_for: Duration = "10m"

    @model_validator(mode="after")
    def _levels(self) -> DatabaseAlerts:
        _check_levels(
            "database",
            [
                (
                    "sizeWarningRatio",
                    self.size_warning_ratio,
                    "sizeCriticalRatio",
                    self.size_critical_ratio,
                )
            ],
        )
        return self


class DiscoveryAlerts(Model):
    """The discovery pipeline: share of failed runs, and no successful run for a while."""

    error_window: Duration = "6h"
    error_ratio_warning: Ratio = 0.2
    error_ratio_critical: Ratio = 0.5
    error_for: Duration = "15m"
    # No successful run for this long. Must exceed the pipeline's schedule interval
    # (twice it is safe: a counter's first increment is invisible to increase()).
    stale_after: Duration = "6h"

    @model_validator(mode="after")
    def _levels(self) -> DiscoveryAlerts:
        _check_levels(
            "discovery",
            [
                (
                    "errorRatioWarning",
                    self.error_ratio_warning,
                    "errorRatioCritical",
                    self.error_ratio_critical,
                )
            ],
        )
        if duration_seconds(self.stale_after) < 3600:
            raise ValueError(
                f"alerts.discovery.staleAfter {self.stale_after} is under 1h: a pipeline "
                "scheduled less often would always look stale"
            )
        return self


class LlmAlerts(Model):
    """LLM providers: error ratio, latency and token spend, per provider."""

    error_rate_warning: Ratio = 0.1
    error_rate_critical: Ratio = 0.5
    error_rate_for: Duration = "10m"
    latency_p95_seconds: Seconds = 30
    latency_for: Duration = "15m"
    tokens_per_hour: Positive = 1_000_000
    tokens_for: Duration = "15m"

    @model_validator(mode="after")
    def _levels(self) -> LlmAlerts:
        _check_levels(
            "llm",
            [
                (
                    "errorRateWarning",
                    self.error_rate_warning,
                    "errorRateCritical",
                    self.error_rate_critical,
                )
            ],
        )
        return self


class CacheAlerts(Model):
    """Cache hit ratio (info: a miss costs latency, which the latency alert covers)."""

    hit_ratio_min: Ratio = 0.5
    # Below this many lookups per second the ratio is noise.
    min_lookups_per_second: Positive = 0.1
    hit_ratio_for: Duration = "30m"


class ResourceAlerts(Model):
    """Pods: restarts (from process_start_time_seconds), CPU throttling, memory vs limit."""

    restarts_per_hour: PositiveInt32 = 3
    cpu_throttling_ratio: Ratio = 0.25
    cpu_throttling_for: Duration = "15m"
    memory_warning_ratio: Ratio = 0.85
    memory_critical_ratio: Ratio = 0.95
    memory_for: Duration = "10m"

    @model_validator(mode="after")
    def _levels(self) -> ResourceAlerts:
        _check_levels(
            "resources",
            [
                (
                    "memoryWarningRatio",
                    self.memory_warning_ratio,
                    "memoryCriticalRatio",
                    self.memory_critical_ratio,
                )
            ],
        )
        return self


class MonitoringAlerts(Model):
    """The monitoring pipeline itself: config reloads of Prometheus and Alertmanager, rule
    evaluation, alert delivery (Prometheus to Alertmanager, Alertmanager to Slack) and the
    scrape of the monitoring components."""

    # Prometheus or Alertmanager runs on its previous config after a failed /-/reload.
    config_reload_for: Duration = "10m"
    rule_failures_for: Duration = "15m"
    # Prometheus knows no Alertmanager: every alert, this one too, goes nowhere.
    alertmanager_missing_for: Duration = "10m"
    # Share of the alerts Prometheus sends that fail to reach Alertmanager.
    notification_error_ratio: Ratio = 0.05
    notification_errors_for: Duration = "15m"
    # Alertmanager's Slack notifications keep failing (each is retried at the next
    # group_interval, so a single failure only delays a message).
    slack_failures_for: Duration = "10m"
    # Prometheus, Alertmanager or Grafana cannot be scraped.
    target_down_for: Duration = "5m"

    @model_validator(mode="after")
    def _limits(self) -> MonitoringAlerts:
        if self.notification_error_ratio >= 1:
            raise ValueError(
                f"alerts.monitoring.notificationErrorRatio {self.notification_error_ratio} must "
                "be below 1: errors are a part of the alerts sent, so the ratio never exceeds 1 "
                "and the alert could never fire"
            )
        if duration_seconds(self.target_down_for) < 120:
            raise ValueError(
                f"alerts.monitoring.targetDownFor {self.target_down_for} is under 2m: "
                "Grafana and Alertmanager are replaced with the Recreate strategy, so every "
                "rollout would look like an outage"
            )
        return self


class AlertThresholds(Model):
    """Defaults follow the guide (p95 above 50ms is its 'high latency' symptom)."""

    api: ApiAlerts = ApiAlerts()
    database: DatabaseAlerts = DatabaseAlerts()
    discovery: DiscoveryAlerts = DiscoveryAlerts()
    llm: LlmAlerts = LlmAlerts()
    cache: CacheAlerts = CacheAlerts()
    resources: ResourceAlerts = ResourceAlerts()
    monitoring: MonitoringAlerts = MonitoringAlerts()
