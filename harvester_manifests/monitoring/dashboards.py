"""Grafana provisioning: the Prometheus datasource and the guide's three dashboards.

The dashboards are built as code with the official grafana-foundation-sdk (typed builders for
Grafana 11.6's dashboard schema; Grafana migrates the schema forward on load) and returned as
plain JSON dicts. Every panel has a fixed id, its position comes from the SDK's deterministic
grid layout, and every query names the provisioned datasource by its fixed uid, so the same
config gives the same bytes on every run.

Queries use the app's job and the rendered namespace from the model, and the stat panels
colour at the alert thresholds of `cfg.alerts`, so a panel agrees with the alert it explains.
`$__rate_interval` is Grafana's: at least four scrape intervals (the datasource tells Grafana
the scrape interval).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from grafana_foundation_sdk.builders import dashboard as gdashboard
from grafana_foundation_sdk.builders import prometheus as gprometheus
from grafana_foundation_sdk.builders import stat as gstat
from grafana_foundation_sdk.builders import timeseries as gtimeseries
from grafana_foundation_sdk.builders.common import (
    GraphThresholdsStyleConfig,
    VizLegendOptions,
    VizTooltipOptions,
)
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.common import (
    GraphThresholdsStyleMode,
    LegendDisplayMode,
    LegendPlacement,
    SortOrder,
    TooltipDisplayMode,
)
from grafana_foundation_sdk.models.dashboard import (
    DashboardCursorSync,
    DashboardLinkType,
    DataSourceRef,
    Threshold,
    ThresholdsMode,
)

from harvester_manifests import names
from harvester_manifests.config.alerts import AlertThresholds
from harvester_manifests.config.models import Config
from harvester_manifests.monitoring import queries as q
from harvester_manifests.monitoring.queries import RATE_INTERVAL as RATE
from harvester_manifests.yamlio import dump_json

DATASOURCE_UID = "prometheus"
DASHBOARDS_DIR = "/etc/grafana/dashboards"
TAG = names.PART_OF

_DATASOURCE = DataSourceRef(type_val="prometheus", uid=DATASOURCE_UID)


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
                "jsonData": {
                    "timeInterval": cfg.prometheus.scrape_interval,
                    "httpMethod": "POST",
                },
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


# --- a small vocabulary over the SDK's builders ------------------------------------------------


@dataclass(frozen=True)
class Query:
    expr: str
    legend: str = ""


@dataclass(frozen=True)
class Panel:
    """A time series (or, with stat=True, a single number) of one or more queries."""

    title: str
    queries: Sequence[Query]
    unit: str
    width: int = 12
    height: int = 8
    description: str = ""
    stat: bool = False
    # Colour steps (value, colour) after the base green: the alert thresholds.
    steps: Sequence[tuple[float, str]] = field(default_factory=tuple)


@dataclass(frozen=True)
class Row:
    title: str
    panels: Sequence[Panel]


def _targets(panel: Panel) -> list[gprometheus.Dataquery]:
    targets = []
    for index, query in enumerate(panel.queries):
        target = (
            gprometheus.Dataquery()
            .ref_id(chr(ord("A") + index))
            .expr(query.expr)
            .datasource(_DATASOURCE)
            .range()
        )
        if query.legend:
            target = target.legend_format(query.legend)
        targets.append(target)
    return targets


def _thresholds(panel: Panel) -> gdashboard.ThresholdsConfig:
    steps = [Threshold(value=None, color="green")]
    steps += [Threshold(value=value, color=color) for value, color in panel.steps]
    return gdashboard.ThresholdsConfig().mode(ThresholdsMode.ABSOLUTE).steps(steps)


def _stat(panel_id: int, panel: Panel) -> gstat.Panel:
    built = (
        gstat.Panel()
        .id(panel_id)
        .title(panel.title)
        .datasource(_DATASOURCE)
        .unit(panel.unit)
        .span(panel.width)
        .height(panel.height)
        .thresholds(_thresholds(panel))
        .targets(list(_targets(panel)))
    )
    return built.description(panel.description) if panel.description else built


def _timeseries(panel_id: int, panel: Panel) -> gtimeseries.Panel:
    built = (
        gtimeseries.Panel()
        .id(panel_id)
        .title(panel.title)
        .datasource(_DATASOURCE)
        .unit(panel.unit)
        .span(panel.width)
        .height(panel.height)
        .fill_opacity(10)
        .legend(
            VizLegendOptions()
            .display_mode(LegendDisplayMode.TABLE)
            .placement(LegendPlacement.BOTTOM)
            .show_legend(True)
            .calcs(["mean", "max", "lastNotNull"])
        )
        .tooltip(VizTooltipOptions().mode(TooltipDisplayMode.MULTI).sort(SortOrder.DESCENDING))
        .thresholds(_thresholds(panel))
        .targets(list(_targets(panel)))
    )
    if panel.steps:  # draw the alert thresholds as dashed lines
        built = built.thresholds_style(
            GraphThresholdsStyleConfig().mode(GraphThresholdsStyleMode.DASHED)
        )
    return built.description(panel.description) if panel.description else built


def _board(uid: str, title: str, description: str, rows: Sequence[Row]) -> dict[str, Any]:
    """The dashboard as plain JSON: panels numbered 1.. in order, rows included."""
    builder = (
        gdashboard.Dashboard(title)
        .uid(uid)
        .description(description)
        .tags([TAG])
        .timezone("browser")
        .time("now-6h", "now")
        .refresh("30s")
        .tooltip(DashboardCursorSync.CROSSHAIR)
        .readonly()
        .link(
            gdashboard.DashboardLink("Signal Harvester")
            .type(DashboardLinkType.DASHBOARDS)
            .tags([TAG])
            .as_dropdown(True)
            .keep_time(True)
            .include_vars(False)
            .target_blank(False)
        )
    )
    panel_id = 0
    for row in rows:
        panel_id += 1
        builder = builder.with_row(gdashboard.Row(row.title).id(panel_id))
        for panel in row.panels:
            panel_id += 1
            make = _stat if panel.stat else _timeseries
            builder = builder.with_panel(make(panel_id, panel))
    board: dict[str, Any] = json.loads(json.dumps(builder.build(), cls=JSONEncoder))
    return board


# --- the three dashboards ---------------------------------------------------------------------


def _overview(t: AlertThresholds) -> dict[str, Any]:
    traffic = Row(
        "API",
        [
            Panel(
                "API pods up",
                [Query(q.API_PODS_UP)],
                "none",
                width=6,
                height=4,
                stat=True,
                description="API pods that answered the last scrape.",
            ),
            Panel("Request rate", [Query(q.requests(RATE))], "reqps", width=6, height=4, stat=True),
            Panel(
                "5xx ratio",
                [Query(q.error_ratio(RATE))],
                "percentunit",
                width=6,
                height=4,
                stat=True,
                steps=[
                    (t.api.error_rate_warning, "orange"),
                    (t.api.error_rate_critical, "red"),
                ],
            ),
            Panel(
                "p95 latency",
                [Query(q.latency("0.95", RATE))],
                "s",
                width=6,
                height=4,
                stat=True,
                steps=[
                    (t.api.latency_p95_seconds, "orange"),
                    (t.api.latency_p95_critical_seconds, "red"),
                ],
            ),
            Panel(
                "Request rate by endpoint",
                [Query(q.requests_by("endpoint", RATE), "{{endpoint}}")],
                "reqps",
            ),
            Panel(
                "5xx ratio by endpoint",
                [Query(q.error_ratio_by("endpoint", RATE), "{{endpoint}}")],
                "percentunit",
            ),
            Panel(
                "Latency p50 / p95 / p99",
                [
                    Query(q.latency("0.5", RATE), "p50"),
                    Query(q.latency("0.95", RATE), "p95"),
                    Query(q.latency("0.99", RATE), "p99"),
                ],
                "s",
                description="The guide's high-latency symptom is p95 above 50ms.",
                steps=[(t.api.latency_p95_seconds, "orange")],
            ),
            Panel(
                "p95 latency by endpoint",
                [Query(q.latency("0.95", RATE, "le, endpoint"), "{{endpoint}}")],
                "s",
            ),
            Panel(
                "Requests in progress by pod",
                [Query(q.in_progress("pod"), "{{pod}}")],
                "none",
                steps=[(t.api.in_progress_per_pod, "orange")],
            ),
            Panel(
                "Responses by status",
                [Query(q.requests_by("status", RATE), "{{status}}")],
                "reqps",
            ),
        ],
    )
    dependencies = Row(
        "Database, cache and LLM providers",
        [
            Panel("Database size", [Query(q.DB_SIZE, "size")], "bytes", 8),
            Panel(
                "Database query p95 by type",
                [Query(q.db_query_p95(RATE), "{{query_type}}")],
                "s",
                8,
            ),
            Panel(
                "Cache hit ratio by type",
                [Query(q.cache_hit_ratio(RATE), "{{cache_type}}")],
                "percentunit",
                8,
            ),
            Panel(
                "LLM requests and errors by provider",
                [
                    Query(q.llm_requests(RATE), "{{provider}} requests"),
                    Query(q.llm_errors(RATE), "{{provider}} errors"),
                ],
                "reqps",
                8,
            ),
            Panel(
                "LLM p95 latency by model",
                [Query(q.llm_latency(RATE), "{{provider}}/{{model}}")],
                "s",
                8,
            ),
            Panel(
                "LLM tokens per hour by provider",
                [Query(q.LLM_TOKENS_PER_HOUR, "{{provider}}")],
                "short",
                8,
                steps=[(t.llm.tokens_per_hour, "orange")],
            ),
        ],
    )
    return _board(
        "signal-harvester-overview",
        "Signal Harvester overview",
        "API traffic, errors, latency and saturation; database, cache and LLM providers.",
        [traffic, dependencies],
    )


def _discovery(alerts: AlertThresholds) -> dict[str, Any]:
    t = alerts.discovery
    runs, errors, fetched = q.PIPELINE_RUNS, q.PIPELINE_ERRORS, q.DISCOVERIES_FETCHED
    window = t.error_window
    summary = Row(
        "Last 24 hours",
        [
            Panel("Runs", [Query(f"sum(increase({runs}[24h]))")], "short", 6, 4, stat=True),
            Panel("Errors", [Query(f"sum(increase({errors}[24h]))")], "short", 6, 4, stat=True),
            Panel(
                "Discoveries fetched",
                [Query(f"sum(increase({fetched}[24h]))")],
                "short",
                6,
                4,
                stat=True,
            ),
            Panel(
                f"Errors per run ({window})",
                [Query(f"sum(increase({errors}[{window}])) / sum(increase({runs}[{window}]))")],
                "percentunit",
                6,
                4,
                stat=True,
                steps=[(t.error_ratio_warning, "orange"), (t.error_ratio_critical, "red")],
            ),
        ],
    )
    pipeline = Row(
        "Pipeline",
        [
            Panel(
                "Runs per hour by pipeline",
                [Query(f"sum by (pipeline_type) (increase({runs}[1h]))", "{{pipeline_type}}")],
                "short",
            ),
            Panel(
                "Errors per hour by pipeline",
                [
                    Query(
                        f"sum by (pipeline_type) (increase({errors}[1h]))",
                        "{{pipeline_type}}",
                    )
                ],
                "short",
            ),
            Panel(
                "Run duration by pipeline",
                [
                    Query(q.pipeline_duration("0.5", "1h"), "{{pipeline_type}} p50"),
                    Query(q.pipeline_duration("0.95", "1h"), "{{pipeline_type}} p95"),
                ],
                "s",
            ),
            Panel(
                "Discoveries fetched per hour by source",
                [Query(f"sum by (source) (increase({fetched}[1h]))", "{{source}}")],
                "short",
            ),
        ],
    )
    return _board(
        "discovery-pipeline",
        "Discovery pipeline",
        "Pipeline runs, errors and durations, and discoveries fetched by source.",
        [summary, pipeline],
    )


def _pods(namespace: str, alerts: AlertThresholds) -> dict[str, Any]:
    t = alerts.resources
    sel = q.containers(namespace)
    by = "by (pod, container)"
    cpu = f"sum {by} (rate(container_cpu_usage_seconds_total{{{sel}}}[{RATE}]))"
    memory = f"max {by} (container_memory_working_set_bytes{{{sel}}})"
    note = (
        "From the kubelets' cAdvisor (prometheus.scrapeCadvisor), for the pods of namespace "
        f"{namespace}."
    )
    containers = Row(
        f"Pods of {namespace}",
        [
            Panel(
                "CPU by container", [Query(cpu, "{{pod}}/{{container}}")], "short", description=note
            ),
            Panel(
                "CPU against limit",
                [
                    Query(
                        f"{cpu}\n  / max {by} (container_spec_cpu_quota{{{sel}}} > 0)\n"
                        f"  * max {by} (container_spec_cpu_period{{{sel}}})",
                        "{{pod}}/{{container}}",
                    )
                ],
                "percentunit",
                description=note,
            ),
            Panel(
                "Memory working set by container",
                [Query(memory, "{{pod}}/{{container}}")],
                "bytes",
                description=note,
            ),
            Panel(
                "Memory against limit",
                [Query(q.memory_against_limit(namespace), "{{pod}}/{{container}}")],
                "percentunit",
                description=note + " At 100% the container is OOM-killed.",
                steps=[(t.memory_warning_ratio, "orange"), (t.memory_critical_ratio, "red")],
            ),
            Panel(
                "CPU throttling",
                [Query(q.cpu_throttling(namespace, RATE), "{{pod}}/{{container}}")],
                "percentunit",
                description="Share of CPU periods in which the container hit its CPU limit.",
                steps=[(t.cpu_throttling_ratio, "orange")],
            ),
            Panel(
                "Restarts in the last hour",
                [Query(q.RESTARTS_LAST_HOUR, "{{job}} {{pod}}")],
                "short",
                description=(
                    "Process restarts seen by Prometheus (a new process start time on the same "
                    "target); kube-state-metrics is not needed."
                ),
                steps=[(t.restarts_per_hour, "orange")],
            ),
        ],
    )
    return _board(
        "kubernetes-pods",
        "Kubernetes pods",
        f"CPU, memory against limits, throttling and restarts of the pods in {namespace}.",
        [containers],
    )


def dashboards(cfg: Config) -> dict[str, dict[str, Any]]:
    """The three dashboards: they depend on the namespace and the alert thresholds only."""
    return {
        "signal-harvester-overview": _overview(cfg.alerts),
        "discovery-pipeline": _discovery(cfg.alerts),
        "kubernetes-pods": _pods(cfg.namespace, cfg.alerts),
    }


_FILES: dict[tuple[str, str], dict[str, str]] = {}


def dashboard_files(cfg: Config) -> dict[str, str]:
    """Each dashboard's JSON file by name, built and encoded once per (namespace, thresholds):
    most environments share them, and building and encoding them is most of a render."""
    key = (cfg.namespace, cfg.alerts.model_dump_json())
    files = _FILES.get(key)
    if files is None:
        files = {name: dump_json(board) for name, board in sorted(dashboards(cfg).items())}
        if len(_FILES) >= 64:
            _FILES.clear()
        _FILES[key] = files
    return files
