"""prometheus.yml: what Prometheus scrapes, where it sends alerts, which rules it loads."""

from __future__ import annotations

from typing import Any

from harvester_manifests import names
from harvester_manifests.config.models import Config

CONFIG_DIR = "/etc/prometheus"
RULES_GLOB = f"{CONFIG_DIR}/*.rules.yaml"
API_JOB = names.API
SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"


def service_address(cfg: Config, service: str, port: int) -> str:
    return f"{service}.{cfg.namespace}.svc:{port}"


def prometheus_config(cfg: Config) -> dict[str, Any]:
    prom = cfg.prometheus
    scrape: list[dict[str, Any]] = [
        {
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
                {"source_labels": ["__meta_kubernetes_namespace"], "target_label": "namespace"},
                {"source_labels": ["__meta_kubernetes_pod_name"], "target_label": "pod"},
                {"source_labels": ["__meta_kubernetes_pod_node_name"], "target_label": "node"},
            ],
        },
        {
            "job_name": names.PROMETHEUS,
            "static_configs": [{"targets": [f"localhost:{prom.port}"]}],
        },
        {
            "job_name": names.ALERTMANAGER,
            "static_configs": [
                {"targets": [service_address(cfg, names.ALERTMANAGER, cfg.alertmanager.port)]}
            ],
        },
        {
            "job_name": names.GRAFANA,
            "static_configs": [
                {"targets": [service_address(cfg, names.GRAFANA, cfg.grafana.port)]}
            ],
        },
    ]
    if prom.scrape_cadvisor:
        # Through the API server's node proxy: one egress destination for the network policy
        # instead of every kubelet's port 10250.
        scrape.append(
            {
                "job_name": "kubernetes-cadvisor",
                "scheme": "https",
                "tls_config": {"ca_file": f"{SA_DIR}/ca.crt"},
                "authorization": {"credentials_file": f"{SA_DIR}/token"},
                "kubernetes_sd_configs": [{"role": "node"}],
                "relabel_configs": [
                    {"target_label": "__address__", "replacement": "kubernetes.default.svc:443"},
                    {
                        "source_labels": ["__meta_kubernetes_node_name"],
                        "regex": "(.+)",
                        "target_label": "__metrics_path__",
                        "replacement": "/api/v1/nodes/$1/proxy/metrics/cadvisor",
                    },
                ],
                "metric_relabel_configs": [
                    {
                        "source_labels": ["namespace"],
                        "regex": cfg.namespace,
                        "action": "keep",
                    }
                ],
            }
        )
    return {
        "global": {
            "scrape_interval": prom.scrape_interval,
            "evaluation_interval": prom.evaluation_interval,
            "external_labels": {"namespace": cfg.namespace},
        },
        "alerting": {
            "alertmanagers": [
                {
                    "static_configs": [
                        {
                            "targets": [
                                service_address(cfg, names.ALERTMANAGER, cfg.alertmanager.port)
                            ]
                        }
                    ]
                }
            ]
        },
        "rule_files": [RULES_GLOB],
        "scrape_configs": scrape,
    }
