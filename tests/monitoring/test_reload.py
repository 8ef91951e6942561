"""A monitoring change reaches the running pods with no manual step, and without a restart
where none is needed:

- rules and scrape config: only the prometheus-config ConfigMap changes; the reloader sidecar
  watching its mount calls /-/reload (--web.enable-lifecycle), the pod template is unchanged;
- routing: only alertmanager-config changes, reloaded the same way;
- dashboards: only their ConfigMaps change; Grafana rescans the directory every 30 s;
- the datasource: read only at Grafana's start, so its checksum annotation rolls the pod.
"""

from __future__ import annotations

from typing import Any

from harvester_manifests import names
from harvester_manifests.components.grafana import dashboard_config_map_name
from harvester_manifests.components.prometheus import CONFIG as PROMETHEUS_CONFIG
from harvester_manifests.config.models import Config
from harvester_manifests.stack import build_stack

Objects = dict[tuple[str, str], dict[str, Any]]


def objects(overrides: dict[str, Any]) -> Objects:
    cfg = Config.model_validate(overrides)
    return {(o["kind"], o["metadata"]["name"]): o for o in build_stack(cfg)}


def changed(before: Objects, after: Objects) -> set[tuple[str, str]]:
    return {key for key in before.keys() | after.keys() if before.get(key) != after.get(key)}


def template(objs: Objects, deployment: str) -> Any:
    return objs[("Deployment", deployment)]["spec"]["template"]


def test_a_threshold_change_touches_config_maps_only() -> None:
    before = objects({})
    after = objects({"alerts": {"api": {"latencyP95Seconds": 0.1}}})
    # The rule file, and the overview dashboard whose latency panel colours at the threshold.
    assert changed(before, after) == {
        ("ConfigMap", PROMETHEUS_CONFIG),
        ("ConfigMap", dashboard_config_map_name("signal-harvester-overview")),
    }


def test_a_routing_change_touches_the_alertmanager_config_map_only() -> None:
    before = objects({})
    after = objects({"alertmanager": {"slack": {"warning": "#other-alerts"}}})
    assert changed(before, after) == {("ConfigMap", "alertmanager-config")}


def test_the_reloaders_watch_the_mounted_config() -> None:
    objs = objects({})
    for deployment, volumes in (
        (names.PROMETHEUS, {"config"}),
        (names.ALERTMANAGER, {"config", "slack"}),
    ):
        containers = {c["name"]: c for c in template(objs, deployment)["spec"]["containers"]}
        reloader = containers["config-reloader"]
        assert {m["name"] for m in reloader["volumeMounts"]} == volumes
        assert any(a.endswith("/-/reload") for a in reloader["args"])
    prometheus = {c["name"]: c for c in template(objs, names.PROMETHEUS)["spec"]["containers"]}
    assert "--web.enable-lifecycle" in prometheus[names.PROMETHEUS]["args"]


def test_a_datasource_change_rolls_grafana() -> None:
    before = objects({})
    after = objects({"prometheus": {"scrapeInterval": "30s"}})
    annotation = "harvester-gen/provisioning-checksum"
    old = template(before, names.GRAFANA)["metadata"]["annotations"][annotation]
    new = template(after, names.GRAFANA)["metadata"]["annotations"][annotation]
    assert old != new
    # ... while Prometheus itself only reloads its config.
    assert template(before, names.PROMETHEUS) == template(after, names.PROMETHEUS)
