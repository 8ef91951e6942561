"""Grafana: Deployment with the provisioned Prometheus datasource and dashboards.

Dashboards are files that Grafana rescans every 30 s, so a dashboard change needs no restart.
Datasources are read only at start: their content hash is a pod annotation, so a datasource
change rolls the pod.
"""

from __future__ import annotations

import hashlib

from harvester_manifests import names
from harvester_manifests.components.common import (
    Obj,
    config_map,
    container_security,
    empty_dir,
    http_probe,
    ingresses,
    labels,
    metadata,
    pod_security,
    pvc,
    resources,
    selector,
    service,
    service_account,
    tcp_probe,
)
from harvester_manifests.config.models import Config, Probe
from harvester_manifests.monitoring.dashboards import (
    DASHBOARDS_DIR,
    dashboards,
    datasources,
    providers,
)
from harvester_manifests.syncwaves import SERVER_SIDE_APPLY
from harvester_manifests.yamlio import dump, dump_json

COMPONENT = "monitoring"
UID = 472
DATA = "grafana-data"
DATASOURCES = "grafana-datasources"
PROVIDERS = "grafana-dashboard-providers"
PROVISIONING = "/etc/grafana/provisioning"
SECRETS_DIR = "/etc/grafana/secrets"


def dashboard_config_map_name(dashboard: str) -> str:
    return f"grafana-dashboard-{dashboard}"


def build(cfg: Config) -> list[Obj]:
    graf = cfg.grafana
    provisioning = {
        DATASOURCES: {"prometheus.yaml": dump(datasources(cfg))},
        PROVIDERS: {"signal-harvester.yaml": dump(providers())},
    }
    objects = [service_account(cfg, names.GRAFANA, COMPONENT)]
    objects += [
        config_map(cfg, name, names.GRAFANA, COMPONENT, data) for name, data in provisioning.items()
    ]
    boards = dashboards(cfg)
    objects += [
        server_side_applied(
            config_map(
                cfg,
                dashboard_config_map_name(name),
                names.GRAFANA,
                COMPONENT,
                {f"{name}.json": dump_json(board)},
            )
        )
        for name, board in sorted(boards.items())
    ]
    checksum = hashlib.sha256(dump(provisioning).encode()).hexdigest()[:32]
    objects += [
        pvc(cfg, DATA, names.GRAFANA, COMPONENT, graf.storage),
        deployment(cfg, sorted(boards), checksum),
        service(cfg, names.GRAFANA, names.GRAFANA, COMPONENT, graf.port),
    ]
    objects += ingresses(cfg, "grafana", names.GRAFANA, graf.port, "grafana-tls")
    return objects


def server_side_applied(obj: Obj) -> Obj:
    """Argo CD applies a dashboard server-side: client-side apply copies the whole object
    into an annotation, and annotations are limited to 256 KiB (dashboards only grow)."""
    annotations = {**obj["metadata"].get("annotations", {}), **SERVER_SIDE_APPLY}
    return {
        **obj,
        "metadata": {**obj["metadata"], "annotations": dict(sorted(annotations.items()))},
    }


def deployment(cfg: Config, boards: list[str], provisioning_checksum: str) -> Obj:
    graf = cfg.grafana
    root_url = (
        f"https://{cfg.host('grafana')}/"
        if graf.ingress.enabled
        else f"http://localhost:{graf.port}/"
    )
    env = [
        {"name": "GF_SECURITY_ADMIN_USER", "value": graf.admin_user},
        # Grafana reads the password from the mounted Secret file, never from the environment.
        {"name": "GF_SECURITY_ADMIN_PASSWORD__FILE", "value": f"{SECRETS_DIR}/admin-password"},
        {"name": "GF_SERVER_HTTP_PORT", "value": str(graf.port)},
        {"name": "GF_SERVER_ROOT_URL", "value": root_url},
        {"name": "GF_PATHS_PROVISIONING", "value": PROVISIONING},
        {"name": "GF_LOG_MODE", "value": "console"},
        {"name": "GF_USERS_ALLOW_SIGN_UP", "value": "false"},
        {"name": "GF_AUTH_ANONYMOUS_ENABLED", "value": "false"},
        {"name": "GF_ANALYTICS_REPORTING_ENABLED", "value": "false"},
        {"name": "GF_ANALYTICS_CHECK_FOR_UPDATES", "value": "false"},
        {"name": "GF_PLUGINS_PLUGIN_ADMIN_ENABLED", "value": "false"},
    ]
    container: Obj = {
        "name": names.GRAFANA,
        "image": graf.image.reference,
        "imagePullPolicy": "IfNotPresent",
        "ports": [{"name": "http", "containerPort": graf.port, "protocol": "TCP"}],
        "env": env,
        "resources": resources(graf.resources),
        "startupProbe": http_probe(
            "/api/health", "http", Probe(period_seconds=5, failure_threshold=24)
        ),
        "readinessProbe": http_probe("/api/health", "http", Probe()),
        "livenessProbe": tcp_probe("http", Probe(period_seconds=20)),
        "securityContext": container_security(),
        "volumeMounts": [
            {"name": "data", "mountPath": "/var/lib/grafana"},
            {"name": "tmp", "mountPath": "/tmp"},
            {"name": "datasources", "mountPath": f"{PROVISIONING}/datasources", "readOnly": True},
            {"name": "providers", "mountPath": f"{PROVISIONING}/dashboards", "readOnly": True},
            {"name": "dashboards", "mountPath": DASHBOARDS_DIR, "readOnly": True},
            {"name": "admin", "mountPath": SECRETS_DIR, "readOnly": True},
        ],
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata(cfg, names.GRAFANA, names.GRAFANA, COMPONENT),
        "spec": {
            "replicas": 1,
            "revisionHistoryLimit": 5,
            "selector": {"matchLabels": selector(names.GRAFANA)},
            # Grafana's SQLite database sits on a ReadWriteOnce volume: one pod at a time.
            "strategy": {"type": "Recreate"},
            "template": {
                "metadata": {
                    "labels": labels(names.GRAFANA, COMPONENT),
                    "annotations": {"harvester-gen/provisioning-checksum": provisioning_checksum},
                },
                "spec": {
                    "serviceAccountName": names.GRAFANA,
                    "automountServiceAccountToken": False,
                    "restartPolicy": "Always",
                    "securityContext": pod_security(UID),
                    "containers": [container],
                    "volumes": [
                        {"name": "data", "persistentVolumeClaim": {"claimName": DATA}},
                        empty_dir("tmp", "256Mi"),
                        {"name": "datasources", "configMap": {"name": DATASOURCES}},
                        {"name": "providers", "configMap": {"name": PROVIDERS}},
                        {"name": "admin", "secret": {"secretName": names.GRAFANA_ADMIN_SECRET}},
                        {
                            "name": "dashboards",
                            "projected": {
                                "sources": [
                                    {"configMap": {"name": dashboard_config_map_name(b)}}
                                    for b in boards
                                ]
                            },
                        },
                    ],
                },
            },
        },
    }
