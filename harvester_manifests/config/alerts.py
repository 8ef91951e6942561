"""Alert thresholds: every number an alert rule compares against lives here."""

from __future__ import annotations

from harvester_manifests.config.types import Duration, Model


class AlertThresholds(Model):
    """Defaults follow the guide (p95 above 50ms is its 'high latency' symptom)."""

    api_down_for: Duration = "2m"
    latency_p95_seconds: float = 0.05
    latency_for: Duration = "10m"
