"""Alert rules for the application's metrics (the app contract) and its pods."""

from __future__ import annotations

from typing import Any

from harvester_manifests import names
from harvester_manifests.config.models import Config
from harvester_manifests.monitoring.scrape import API_JOB

RULES_FILE = "signal-harvester.rules.yaml"


def _alert(
    cfg: Config,
    name: str,
    expr: str,
    duration: str,
    severity: str,
    category: str,
    summary: str,
    description: str,
) -> dict[str, Any]:
    return {
        "alert": name,
        "expr": expr,
        "for": duration,
        "labels": {"severity": severity, "category": category},
        "annotations": {
            "summary": summary,
            "description": description,
            "runbook_url": f"{cfg.runbook_base_url.rstrip('/')}/{name}",
        },
    }


def alert_rules(cfg: Config) -> dict[str, Any]:
    job = f'job="{API_JOB}"'
    api = [
        _alert(
            cfg,
            "SignalHarvesterApiDown",
            f"sum(up{{{job}}}) == 0 or absent(up{{{job}}})",
            cfg.alerts.api_down_for,
            "critical",
            "api",
            "Signal Harvester API is down",
            "No API pod has answered a scrape for 2 minutes.",
        ),
        _alert(
            cfg,
            "SignalHarvesterApiHighLatency",
            "histogram_quantile(0.95, sum by (le) "
            f"(rate(http_request_duration_seconds_bucket{{{job}}}[5m]))) "
            f"> {cfg.alerts.latency_p95_seconds}",
            cfg.alerts.latency_for,
            "warning",
            "api",
            "API p95 latency above 50ms",
            "p95 request latency is {{ $value | humanizeDuration }} (threshold 50ms).",
        ),
    ]
    return {"groups": [{"name": f"{names.PART_OF}-api", "rules": api}]}
