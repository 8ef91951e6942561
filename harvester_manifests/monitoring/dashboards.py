"""Grafana provisioning: the Prometheus datasource and the guide's three dashboards."""

from __future__ import annotations

from typing import Any

from harvester_manifests import names
from harvester_manifests.config.models import Config

DATASOURCE_UID = "prometheus"
DASHBOARDS_DIR = "/etc/grafana/dashboards"


def datasources(cfg: Config) -> dict[str, Any]:
    return {
        "apiVersion": 1,
        "datasources": [
            {
                "name": "Prometheus",
                "uid": DATASOURCE_UID,
                "type": "prometheus",
                "access": "proxy",
                "url": f"http://{names.PROMETHEUS}.{cfg.namespace}.svc:{cfg.prometheus.port}",
                "isDefault": True,
                "editable": False,
            }
        ],
    }


def providers() -> dict[str, Any]:
    return {
        "apiVersion": 1,
        "providers": [
            {
                "name": "signal-harvester",
                "folder": "Signal Harvester",
                "type": "file",
                "disableDeletion": True,
                "allowUiUpdates": False,
                "updateIntervalSeconds": 30,
                "options": {"path": DASHBOARDS_DIR, "foldersFromFilesStructure": False},
            }
        ],
    }


def _panel(panel_id: int, title: str, expr: str, unit: str) -> dict[str, Any]:
    return {
        "id": panel_id,
        "type": "timeseries",
        "title": title,
        "datasource": {"type": "prometheus", "uid": DATASOURCE_UID},
        "gridPos": {
            "h": 8,
            "w": 12,
            "x": 12 * ((panel_id - 1) % 2),
            "y": 8 * ((panel_id - 1) // 2),
        },
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "targets": [{"refId": "A", "expr": expr, "datasource": {"uid": DATASOURCE_UID}}],
    }


def _dashboard(uid: str, title: str, panels: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "uid": uid,
        "title": title,
        "tags": ["signal-harvester"],
        "timezone": "browser",
        "schemaVersion": 39,
        "time": {"from": "now-6h", "to": "now"},
        "refresh": "30s",
        "panels": panels,
    }


def dashboards(cfg: Config) -> dict[str, dict[str, Any]]:
    ns = cfg.namespace
    return {
        "signal-harvester-overview": _dashboard(
            "signal-harvester-overview",
            "Signal Harvester overview",
            [
                _panel(
                    1, "Request rate", "sum by (endpoint) (rate(http_requests_total[5m]))", "reqps"
                ),
                _panel(
                    2,
                    "p95 latency",
                    "histogram_quantile(0.95, sum by (le) "
                    "(rate(http_request_duration_seconds_bucket[5m])))",
                    "s",
                ),
            ],
        ),
        "discovery-pipeline": _dashboard(
            "discovery-pipeline",
            "Discovery pipeline",
            [
                _panel(
                    1,
                    "Pipeline runs",
                    "sum by (pipeline_type) (rate(pipeline_runs_total[15m]))",
                    "ops",
                ),
                _panel(
                    2,
                    "Discoveries fetched",
                    "sum by (source) (rate(discoveries_fetched_total[15m]))",
                    "ops",
                ),
            ],
        ),
        "kubernetes-pods": _dashboard(
            "kubernetes-pods",
            "Kubernetes pods",
            [
                _panel(
                    1,
                    "CPU by pod",
                    f'sum by (pod) (rate(container_cpu_usage_seconds_total{{namespace="{ns}",'
                    'container!=""}[5m]))',
                    "cores",
                ),
                _panel(
                    2,
                    "Memory by pod",
                    f'sum by (pod) (container_memory_working_set_bytes{{namespace="{ns}",'
                    'container!=""})',
                    "bytes",
                ),
            ],
        ),
    }
