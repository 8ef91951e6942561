"""Grafana: the provisioned datasource and the guide's three dashboards.

Every panel expression parses (promtool check rules, each loaded as a recording rule), and
every metric it names is one the app contract lists, a known cluster metric, or a self-metric
of the pinned Prometheus or Alertmanager (the syntax tree from Prometheus' own parser,
/api/v1/parse_query, not a regex). The same checks run on the alert rules' expressions.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harvester_manifests.components.grafana import (
    DATASOURCES,
    PROVIDERS,
    PROVISIONING,
    dashboard_config_map_name,
)
from harvester_manifests.config.models import Config
from harvester_manifests.monitoring.dashboards import (
    DASHBOARDS_DIR,
    DATASOURCE_UID,
    dashboards,
)
from harvester_manifests.monitoring.rules import sizes
from harvester_manifests.monitoring.scrape import CADVISOR_JOB
from harvester_manifests.yamlio import dump_json
from tests.conftest import ENVS

from .generated import DASHBOARDS, Generated, expect_ok, promtool, write_yaml
from .servers import prometheus_parse_query

# The Signal Harvester app contract's metric table, histograms with their series.
APP_METRICS = {
    "http_requests_total",
    "http_requests_in_progress",
    "db_size_bytes",
    "pipeline_runs_total",
    "pipeline_errors_total",
    "discoveries_fetched_total",
    "llm_requests_total",
    "llm_errors_total",
    "llm_tokens_total",
    "cache_hits_total",
    "cache_misses_total",
    "cache_size",
} | {
    f"{histogram}{suffix}"
    for histogram in (
        "http_request_duration_seconds",
        "db_query_duration_seconds",
        "pipeline_run_duration_seconds",
        "llm_request_duration_seconds",
    )
    for suffix in ("_bucket", "_sum", "_count")
}
# Cluster metrics: Prometheus' own `up`, the client libraries' process collector, and the
# kubelet's cAdvisor (what prometheus.scrapeCadvisor scrapes).
CLUSTER_METRICS = {
    "up",
    "process_start_time_seconds",
    "container_cpu_usage_seconds_total",
    "container_cpu_cfs_periods_total",
    "container_cpu_cfs_throttled_periods_total",
    "container_spec_cpu_quota",
    "container_spec_cpu_period",
    "container_memory_working_set_bytes",
    "container_spec_memory_limit_bytes",
}
# The monitoring pipeline's own metrics (the `monitoring` alert group), each with the labels a
# rule aggregates by. Every name and label was read from the /metrics of the pinned binaries,
# and test_real_servers.py checks them there again on every run: Prometheus 3.16.0 (its
# self-scrape, job "prometheus") and Alertmanager 0.35.0 (scraped as job "alertmanager").
PROMETHEUS_SELF_METRICS: dict[str, set[str]] = {
    "prometheus_config_last_reload_successful": set(),
    "prometheus_rule_evaluation_failures_total": {"rule_group"},
    "prometheus_notifications_alertmanagers_discovered": set(),
    "prometheus_notifications_errors_total": {"alertmanager"},
    "prometheus_notifications_sent_total": {"alertmanager"},
}
ALERTMANAGER_SELF_METRICS: dict[str, set[str]] = {
    "alertmanager_config_last_reload_successful": set(),
    # After Alertmanager's retries; `reason` is authError, clientError, serverError, ...
    "alertmanager_notifications_failed_total": {"integration", "reason"},
}
SELF_METRICS = set(PROMETHEUS_SELF_METRICS) | set(ALERTMANAGER_SELF_METRICS)
# The series our own sizes group records (the alerts read them; nothing scrapes them).
RECORDED = {sizes.HPA_MAX_REPLICAS, sizes.DATABASE_VOLUME_BYTES}
# Grafana's variables, as the values Grafana would put in on a 15s scrape interval.
GRAFANA_VARIABLES = {"$__rate_interval": "1m", "$__interval": "15s", "$__range": "6h"}
# kubectl apply keeps the whole object in its last-applied-configuration annotation, and all
# annotations of an object together must stay under 256 KiB.
CONFIG_MAP_LIMIT = 262144


def panels(board: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in board["panels"] if p["type"] != "row"]


def targets(board: dict[str, Any]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    for panel in panels(board):
        for target in panel["targets"]:
            yield panel, target


def promql(expr: str) -> str:
    for variable, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(variable, value)
    assert "$" not in expr, f"an unknown Grafana variable in {expr!r}"
    return expr


def metric_names(tree: Any) -> Iterator[str]:
    if isinstance(tree, dict):
        if tree.get("type") in ("vectorSelector", "matrixSelector"):
            yield tree["name"]
        for value in tree.values():
            yield from metric_names(value)
    elif isinstance(tree, list):
        for value in tree:
            yield from metric_names(value)


def every_expression(gen: Generated) -> dict[str, str]:
    exprs = {
        f"{name} #{panel['id']} {target['refId']}": promql(target["expr"])
        for name, board in gen.dashboards.items()
        for panel, target in targets(board)
    }
    exprs.update({f"rule {a.name} {a.severity}": a.rule["expr"] for a in gen.alerts()})
    return exprs


# --- as code, deterministic, and what kustomize ships -------------------------------------------


def test_dashboards_are_deterministic() -> None:
    first = {k: dump_json(v) for k, v in dashboards(Config()).items()}
    second = {k: dump_json(v) for k, v in dashboards(Config()).items()}
    assert first == second
    assert all(isinstance(json.loads(text), dict) for text in first.values())


@pytest.mark.parametrize("env", ENVS)
def test_config_maps_hold_the_dashboards_built_from_the_config(
    generated: dict[str, Generated], env: str
) -> None:
    gen = generated[env]
    assert gen.dashboard_json == {k: dump_json(v) for k, v in dashboards(gen.cfg).items()}


@pytest.mark.parametrize("env", ENVS)
@pytest.mark.parametrize("name", DASHBOARDS)
def test_config_map_stays_under_the_size_limit(
    generated: dict[str, Generated], env: str, name: str
) -> None:
    config_map = generated[env].objects[("ConfigMap", dashboard_config_map_name(name))]
    size = len(json.dumps(config_map).encode())
    assert size < CONFIG_MAP_LIMIT, f"{name}: {size} bytes (limit {CONFIG_MAP_LIMIT})"


# --- structure --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", DASHBOARDS)
def test_dashboard_structure(generated: dict[str, Generated], name: str) -> None:
    board = generated["prod"].dashboards[name]
    assert board["uid"] == name
    assert board["title"] and board["tags"] == ["signal-harvester"]
    assert board["editable"] is False  # provisioned: edits belong in the code
    ids = [p["id"] for p in board["panels"]]
    assert ids == list(range(1, len(ids) + 1))
    cells: set[tuple[int, int]] = set()
    for panel in board["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 24, panel["title"]
        mine = {
            (x, y)
            for x in range(grid["x"], grid["x"] + grid["w"])
            for y in range(grid["y"], grid["y"] + grid["h"])
        }
        assert not mine & cells, f"{panel['title']} overlaps another panel"
        cells |= mine
    for panel in panels(board):
        assert panel["datasource"] == {"type": "prometheus", "uid": DATASOURCE_UID}
        refs = [t["refId"] for t in panel["targets"]]
        assert refs and len(set(refs)) == len(refs)
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == DATASOURCE_UID
            assert target["expr"].strip()


def titles(board: dict[str, Any]) -> str:
    return " | ".join(p["title"].lower() for p in panels(board))


def test_the_guide_panels_are_there(generated: dict[str, Generated]) -> None:
    boards = generated["prod"].dashboards
    overview = titles(boards["signal-harvester-overview"])
    for words in ("request rate", "5xx", "p50 / p95 / p99", "in progress", "by endpoint"):
        assert words in overview
    discovery = titles(boards["discovery-pipeline"])
    for words in ("runs", "errors", "duration", "by source"):
        assert words in discovery
    pods = titles(boards["kubernetes-pods"])
    for words in ("cpu", "memory against limit", "throttling", "restarts"):
        assert words in pods
    latency = next(
        p for p in panels(boards["signal-harvester-overview"]) if "p50 / p95 / p99" in p["title"]
    )
    assert [t["expr"].split(",")[0] for t in latency["targets"]] == [
        "histogram_quantile(0.5",
        "histogram_quantile(0.95",
        "histogram_quantile(0.99",
    ]


@pytest.mark.parametrize("env", ENVS)
def test_pod_panels_read_this_namespace_from_cadvisor(
    generated: dict[str, Generated], env: str
) -> None:
    gen = generated[env]
    for panel, target in targets(gen.dashboards["kubernetes-pods"]):
        if "container_" in target["expr"]:
            selectors = target["expr"].count("container_")
            assert target["expr"].count(f'namespace="{gen.cfg.namespace}"') == selectors
            assert target["expr"].count(f'job="{CADVISOR_JOB}"') == selectors, panel["title"]


@pytest.mark.parametrize("env", ENVS)
def test_provisioning_points_at_the_prometheus_service_and_mounted_dashboards(
    generated: dict[str, Generated], env: str
) -> None:
    import yaml

    gen = generated[env]
    data = gen.objects[("ConfigMap", DATASOURCES)]["data"]["prometheus.yaml"]
    (source,) = yaml.safe_load(data)["datasources"]
    service = gen.objects[("Service", "prometheus")]
    port = service["spec"]["ports"][0]["port"]
    assert source["uid"] == DATASOURCE_UID and source["type"] == "prometheus"
    assert source["url"] == f"http://prometheus.{gen.cfg.namespace}.svc:{port}"
    assert source["jsonData"]["timeInterval"] == gen.cfg.prometheus.scrape_interval
    (provider,) = yaml.safe_load(
        gen.objects[("ConfigMap", PROVIDERS)]["data"]["signal-harvester.yaml"]
    )["providers"]
    assert provider["options"]["path"] == DASHBOARDS_DIR
    assert provider["updateIntervalSeconds"] == 30  # dashboard changes need no restart
    pod = gen.objects[("Deployment", "grafana")]["spec"]["template"]
    mounts = {m["mountPath"]: m["name"] for m in pod["spec"]["containers"][0]["volumeMounts"]}
    assert f"{PROVISIONING}/datasources" in mounts
    volume = next(v for v in pod["spec"]["volumes"] if v["name"] == mounts[DASHBOARDS_DIR])
    projected = {s["configMap"]["name"] for s in volume["projected"]["sources"]}
    assert projected == {dashboard_config_map_name(n) for n in DASHBOARDS}
    # A datasource change rolls the pod (Grafana reads datasources only at start).
    assert "harvester-gen/provisioning-checksum" in pod["metadata"]["annotations"]


# --- expressions: they parse, and name only known metrics -----------------------------------------


@pytest.mark.parametrize("env", ENVS)
def test_every_panel_expression_parses(
    generated: dict[str, Generated], env: str, tmp_path: Path
) -> None:
    gen = generated[env]
    exprs = [
        promql(target["expr"]) for board in gen.dashboards.values() for _, target in targets(board)
    ]
    assert len(exprs) >= 30
    rules = {
        "groups": [
            {
                "name": "dashboard-expressions",
                "rules": [
                    {"record": f"dashboard:expression_{i}", "expr": expr}
                    for i, expr in enumerate(exprs)
                ],
            }
        ]
    }
    out = expect_ok(promtool("check", "rules", write_yaml(tmp_path / "dashboards.yaml", rules)))
    assert f"SUCCESS: {len(exprs)} rules found" in out


def test_a_broken_panel_expression_is_caught(tmp_path: Path) -> None:
    rules = {"groups": [{"name": "x", "rules": [{"record": "x:y", "expr": "sum(rate(x[5m])"}]}]}
    result = promtool("check", "rules", write_yaml(tmp_path / "broken.yaml", rules))
    assert result.returncode != 0


@pytest.mark.parametrize("env", ENVS)
def test_every_metric_is_from_the_app_contract_or_the_cluster(
    generated: dict[str, Generated], env: str, prometheus_parser: str
) -> None:
    unknown = {}
    seen: set[str] = set()
    for where, expr in every_expression(generated[env]).items():
        names = set(metric_names(prometheus_parse_query(prometheus_parser, expr)))
        assert names and "" not in names, f"{where}: a selector without a metric name"
        seen |= names
        if names - APP_METRICS - CLUSTER_METRICS - SELF_METRICS - RECORDED:
            unknown[where] = sorted(names - APP_METRICS - CLUSTER_METRICS - SELF_METRICS - RECORDED)
    assert not unknown
    # The dashboards and alerts together use most of the contract.
    assert len(seen & APP_METRICS) >= 15
    # Every self-metric on the allowlist is used (an unused one would go unchecked).
    assert seen >= SELF_METRICS


def test_the_parser_sees_metric_names_not_functions(prometheus_parser: str) -> None:
    tree = prometheus_parse_query(
        prometheus_parser,
        'histogram_quantile(0.9, sum by (le) (rate(foo_bucket{job="x"}[5m]))) / on () bar',
    )
    assert sorted(metric_names(tree)) == ["bar", "foo_bucket"]


def test_dashboards_live_in_base_only(rendered: Path, generated: dict[str, Generated]) -> None:
    """Dashboards depend on nothing an environment changes but the namespace (the pod panels
    name it): in the guide's namespace no overlay patches a dashboard."""
    base = generated["prod"]
    for env in ENVS:
        if generated[env].cfg.namespace != base.cfg.namespace:
            continue
        assert generated[env].dashboards == base.dashboards
        patched = sorted(p.name for p in (rendered / env).rglob("*grafana-dashboard*"))
        assert not patched, f"{env} patches {patched}"
