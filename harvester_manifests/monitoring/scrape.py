"""prometheus.yml: what Prometheus scrapes, where it sends alerts, which rules it loads.

- The API pods through Kubernetes service discovery, limited to the rendered namespace, kept by
  the Deployment's `app` label and the container port, scraped at `api.metricsPath`: the same
  model values the Deployment is rendered from, so they cannot drift.
- Prometheus itself, Alertmanager and Grafana as static targets (the guide), by their Services.
- Container CPU and memory from each kubelet's cAdvisor, read through the API server's node
  proxy (one egress destination for the network policy instead of every kubelet's 10250),
  kept only for this namespace.
- Alerts go to the rendered Alertmanager Service; rules are the files beside prometheus.yml.
"""

from __future__ import annotations

from typing import Any

from harvester_manifests import names
from harvester_manifests.config.models import Config

CONFIG_DIR = "/etc/prometheus"
RULES_GLOB = f"{CONFIG_DIR}/*.rules.yaml"
API_JOB = names.API
CADVISOR_JOB = "kubernetes-cadvisor"
# Jobs whose targets expose process_start_time_seconds (restart detection in rules/resources.py).
PROCESS_JOBS = (API_JOB, names.PROMETHEUS, names.ALERTMANAGER, names.GRAFANA)
SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
API_SERVER = "kubernetes.default.svc:443"


def service_address(cfg: Config, service: str, port: int) -> str:
    return f"{service}.{cfg.namespace}.svc:{port}"


def _api_job(cfg: Config) -> dict[str, Any]:
    return {
        "job_name": API_JOB,
        "metrics_path": cfg.api.metrics_path,
        "kubernetes_sd_configs": [
            {"role": "pod", "namespaces": {"names": [cfg.namespace]}},
        ],
        "relabel_configs": [
            {
                "source_labels": ["__meta_kubernetes_pod_label_app"],
                "regex": names.API,
                "action": "keep",
            },
            {
                "source_labels": ["__meta_kubernetes_pod_container_port_number"],
                "regex": str(cfg.api.port),
                "action": "keep",
            },
            # A finished or evicted pod is no replica: it must not count as a down target.
            {
                "source_labels": ["__meta_kubernetes_pod_phase"],
                "regex": "Succeeded|Failed",
                "action": "drop",
            },
            {"source_labels": ["__meta_kubernetes_namespace"], "target_label": "namespace"},
            {"source_labels": ["__meta_kubernetes_pod_name"], "target_label": "pod"},
            {"source_labels": ["__meta_kubernetes_pod_node_name"], "target_label": "node"},
        ],
    }


def _cadvisor_job(cfg: Config) -> dict[str, Any]:
    return {
        "job_name": CADVISOR_JOB,
        "scheme": "https",
        "tls_config": {"ca_file": f"{SA_DIR}/ca.crt"},
        "authorization": {"credentials_file": f"{SA_DIR}/token"},
        "kubernetes_sd_configs": [{"role": "node"}],
        "relabel_configs": [
            {"target_label": "__address__", "replacement": API_SERVER},
            {
                "source_labels": ["__meta_kubernetes_node_name"],
                "regex": "(.+)",
                "target_label": "__metrics_path__",
                "replacement": "/api/v1/nodes/$1/proxy/metrics/cadvisor",
            },
            # Every target has the same __address__: without a per-node instance label the
            # nodes' `up` and scrape_* series would collide.
            {"source_labels": ["__meta_kubernetes_node_name"], "target_label": "instance"},
            {"source_labels": ["__meta_kubernetes_node_name"], "target_label": "node"},
        ],
        # Every node reports every pod: keep only the containers of this namespace.
        "metric_relabel_configs": [
            {"source_labels": ["namespace"], "regex": cfg.namespace, "action": "keep"},
        ],
    }


def prometheus_config(cfg: Config) -> dict[str, Any]:
    prom = cfg.prometheus
    alertmanager = service_address(cfg, names.ALERTMANAGER, cfg.alertmanager.port)
    scrape: list[dict[str, Any]] = [
        _api_job(cfg),
        {
            "job_name": names.PROMETHEUS,
            "static_configs": [{"targets": [f"localhost:{prom.port}"]}],
        },
        {
            "job_name": names.ALERTMANAGER,
            "static_configs": [{"targets": [alertmanager]}],
        },
        {
            "job_name": names.GRAFANA,
            "static_configs": [
                {"targets": [service_address(cfg, names.GRAFANA, cfg.grafana.port)]}
            ],
        },
    ]
    if prom.scrape_cadvisor:
        scrape.append(_cadvisor_job(cfg))
    return {
        "global": {
            "scrape_interval": prom.scrape_interval,
            "evaluation_interval": prom.evaluation_interval,
            "external_labels": {"namespace": cfg.namespace},
        },
        "alerting": {"alertmanagers": [{"static_configs": [{"targets": [alertmanager]}]}]},
        "rule_files": [RULES_GLOB],
        "scrape_configs": scrape,
    }
