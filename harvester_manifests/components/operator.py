"""monitoring.mode operator: the application's monitoring handed to the cluster's own
prometheus-operator stack (kube-prometheus-stack or kube-prometheus) instead of a bundled one.

- A ServiceMonitor, not a PodMonitor: the API already has a Service with a named port, and a
  ServiceMonitor's targets get `job=<Service name>` (signal-harvester-api), the job name the
  bundled scrape config uses, so every alert rule and dashboard query keys on the same job
  (a PodMonitor's job is `<namespace>/<PodMonitor name>`). It scrapes only our namespace, on
  the Service's `http` port, at api.metricsPath, every prometheus.scrapeInterval.
- A PrometheusRule with the rule groups of the bundled rules file (rules.alert_rules), each
  rule also labelled `namespace=<our namespace>`: the bundled Prometheus puts that label on
  every alert as an external label, and the operator routes an AlertmanagerConfig only the
  alerts that carry it (an alert such as "no API pod is up" has no series to take it from).
- An AlertmanagerConfig with the bundled routing tree (operator_routing.py), unless
  monitoring.operator.alertmanagerConfig is false (the cluster routes centrally).
- The dashboards as ConfigMaps for the Grafana dashboard sidecar: its label, and the folder
  annotation, in the namespace Grafana's sidecar watches (the monitoring namespace by default).

The objects the cluster's Prometheus and Alertmanager must select carry the configured
selector labels (kube-prometheus-stack's `release: <name>` by default).
"""

from __future__ import annotations

from typing import Any

from harvester_manifests import names
from harvester_manifests.components.common import Obj, labels, metadata, selector
from harvester_manifests.config.models import Config
from harvester_manifests.monitoring.dashboards import dashboards
from harvester_manifests.monitoring.operator_routing import alertmanager_config_spec
from harvester_manifests.monitoring.rules import alert_rules
from harvester_manifests.syncwaves import SERVER_SIDE_APPLY
from harvester_manifests.yamlio import dump_json

COMPONENT = "monitoring"
GROUP = "monitoring.coreos.com"
# The Service's port name (components/common.py `service`).
API_PORT_NAME = "http"
RULES = names.PART_OF
ALERTMANAGER_CONFIG = names.PART_OF


def dashboard_config_map_name(dashboard: str) -> str:
    """Unique in a namespace that every team's dashboards share."""
    return f"{names.PART_OF}-dashboard-{dashboard}"


def _selected(meta: Obj, selector_labels: dict[str, str]) -> Obj:
    return {**meta, "labels": {**meta["labels"], **selector_labels}}


def service_monitor(cfg: Config) -> Obj:
    return {
        "apiVersion": f"{GROUP}/v1",
        "kind": "ServiceMonitor",
        "metadata": _selected(
            metadata(cfg, names.API, names.API, COMPONENT),
            cfg.monitoring.operator.prometheus_labels(),
        ),
        "spec": {
            "selector": {"matchLabels": selector(names.API)},
            "namespaceSelector": {"matchNames": [cfg.namespace]},
            "endpoints": [
                {
                    "port": API_PORT_NAME,
                    "path": cfg.api.metrics_path,
                    "scheme": "http",
                    "interval": cfg.prometheus.scrape_interval,
                    "relabelings": [
                        # The operator labels each target endpoint=<port name>, which would
                        # rename the app's own `endpoint` label (the request path) to
                        # exported_endpoint: the dashboards group by the app's.
                        {"action": "labeldrop", "regex": "endpoint"},
                        # As the bundled scrape job: the node a pod runs on.
                        {
                            "sourceLabels": ["__meta_kubernetes_pod_node_name"],
                            "targetLabel": "node",
                        },
                    ],
                }
            ],
        },
    }


def rule_groups(cfg: Config) -> list[dict[str, Any]]:
    """The bundled rule groups, each alert labelled with our namespace."""
    groups = []
    for group in alert_rules(cfg)["groups"]:
        rules = [
            {**rule, "labels": {**rule["labels"], "namespace": cfg.namespace}}
            for rule in group["rules"]
        ]
        groups.append({**group, "rules": rules})
    return groups


def prometheus_rule(cfg: Config) -> Obj:
    return {
        "apiVersion": f"{GROUP}/v1",
        "kind": "PrometheusRule",
        "metadata": _selected(
            metadata(cfg, RULES, names.PROMETHEUS, COMPONENT),
            cfg.monitoring.operator.prometheus_labels(),
        ),
        "spec": {"groups": rule_groups(cfg)},
    }


def alertmanager_config(cfg: Config) -> Obj:
    return {
        "apiVersion": f"{GROUP}/v1alpha1",
        "kind": "AlertmanagerConfig",
        "metadata": _selected(
            metadata(cfg, ALERTMANAGER_CONFIG, names.ALERTMANAGER, COMPONENT),
            cfg.monitoring.operator.alertmanager_labels(),
        ),
        "spec": alertmanager_config_spec(cfg),
    }


def dashboard_config_maps(cfg: Config) -> list[Obj]:
    sidecar = cfg.monitoring.operator.dashboards
    return [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": dashboard_config_map_name(name),
                "namespace": cfg.monitoring.operator.dashboards_namespace(),
                "labels": {**labels(names.GRAFANA, COMPONENT), sidecar.label: sidecar.label_value},
                # Argo CD applies dashboards server-side, as the bundled ones (grafana.py):
                # client-side apply's last-applied annotation is limited to 256 KiB.
                "annotations": dict(
                    sorted({sidecar.folder_annotation: sidecar.folder, **SERVER_SIDE_APPLY}.items())
                ),
            },
            "data": {f"{name}.json": dump_json(board)},
        }
        for name, board in sorted(dashboards(cfg).items())
    ]


def build(cfg: Config) -> list[Obj]:
    objects = [service_monitor(cfg), prometheus_rule(cfg)]
    if cfg.monitoring.operator.alertmanager_config:
        objects.append(alertmanager_config(cfg))
    return objects + dashboard_config_maps(cfg)
