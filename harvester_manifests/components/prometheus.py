"""Prometheus: Deployment with its config, rules, storage, RBAC for discovery, Service, Ingress.

Config changes reach the pod without a restart: a reloader sidecar watches the mounted
ConfigMap and calls /-/reload (--web.enable-lifecycle). A restart would replay the WAL and
leave a gap in the metrics.
"""

from __future__ import annotations

from harvester_manifests import names
from harvester_manifests.components.common import (
    Obj,
    cluster_metadata,
    external_url_args,
    http_probe,
    ingresses,
)
from harvester_manifests.components.reloader import reloader_container
from harvester_manifests.components.workload import Port, Workload, container
from harvester_manifests.config.models import Config, Probe
from harvester_manifests.monitoring.rules import rule_files
from harvester_manifests.monitoring.scrape import CONFIG_DIR, prometheus_config
from harvester_manifests.yamlio import dump_shared

COMPONENT = "monitoring"
UID = 65534
CONFIG = "prometheus-config"
DATA = "prometheus-data"
DATA_DIR = "/prometheus"


def workload(cfg: Config) -> Workload:
    return Workload(cfg, names.PROMETHEUS, COMPONENT, cfg.prometheus.image)


def build(cfg: Config) -> list[Obj]:
    prom, work = cfg.prometheus, workload(cfg)
    deploy = deployment(cfg)
    objects = [
        # Prometheus discovers pods and nodes through the Kubernetes API with its token.
        work.service_account(automount_token=None),
        cluster_role(),
        cluster_role_binding(cfg),
        work.config_map(
            CONFIG,
            {
                "prometheus.yml": dump_shared(prometheus_config(cfg)),
                **{name: dump_shared(rules) for name, rules in rule_files(cfg).items()},
            },
        ),
        work.pvc(DATA, prom.storage),
        deploy,
        work.service(deploy),
    ]
    objects += ingresses(cfg, "prometheus", names.PROMETHEUS, prom.port, "prometheus-tls")
    return objects


def cluster_role() -> Obj:
    """Read-only discovery of pods and nodes, and cAdvisor through the API server's proxy."""
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": cluster_metadata(names.PROMETHEUS, names.PROMETHEUS, COMPONENT),
        "rules": [
            {
                "apiGroups": [""],
                "resources": ["nodes", "pods", "services", "endpoints"],
                "verbs": ["get", "list", "watch"],
            },
            {
                "apiGroups": ["discovery.k8s.io"],
                "resources": ["endpointslices"],
                "verbs": ["get", "list", "watch"],
            },
            {"apiGroups": [""], "resources": ["nodes/proxy", "nodes/metrics"], "verbs": ["get"]},
            {"nonResourceURLs": ["/metrics"], "verbs": ["get"]},
        ],
    }


def cluster_role_binding(cfg: Config) -> Obj:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": cluster_metadata(names.PROMETHEUS, names.PROMETHEUS, COMPONENT),
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "ClusterRole",
            "name": names.PROMETHEUS,
        },
        "subjects": [
            {"kind": "ServiceAccount", "name": names.PROMETHEUS, "namespace": cfg.namespace}
        ],
    }


def deployment(cfg: Config) -> Obj:
    prom = cfg.prometheus
    args = [
        f"--config.file={CONFIG_DIR}/prometheus.yml",
        f"--storage.tsdb.path={DATA_DIR}",
        f"--storage.tsdb.retention.time={prom.retention}",
        f"--web.listen-address=:{prom.port}",
        "--web.enable-lifecycle",
    ]
    if prom.admin_api:
        args.append("--web.enable-admin-api")
    args += external_url_args(cfg, "prometheus")
    server = container(
        names.PROMETHEUS,
        prom.image,
        args=args,
        ports=[Port("http", prom.port)],
        resources_=prom.resources,
        # Replaying a large WAL after a restart takes minutes: give startup up to 10.
        startup=http_probe("/-/ready", "http", Probe(period_seconds=10, failure_threshold=60)),
        readiness=http_probe("/-/ready", "http", Probe()),
        liveness=http_probe("/-/healthy", "http", Probe(period_seconds=20)),
        mounts=[
            {"name": "config", "mountPath": CONFIG_DIR, "readOnly": True},
            {"name": "data", "mountPath": DATA_DIR},
        ],
    )
    reload_url = f"http://127.0.0.1:{prom.port}/-/reload"
    return workload(cfg).deployment(
        [server, reloader_container(cfg, [("config", CONFIG_DIR)], reload_url)],
        [
            {"name": "config", "configMap": {"name": CONFIG}},
            {"name": "data", "persistentVolumeClaim": {"claimName": DATA}},
        ],
        uid=UID,
        # One writer of the TSDB on a ReadWriteOnce volume: stop the old pod first.
        strategy="Recreate",
        # Prometheus discovers pods and nodes through the Kubernetes API.
        automount_token=True,
        termination_grace_seconds=120,
    )
