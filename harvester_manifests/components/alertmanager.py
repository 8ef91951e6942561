"""Alertmanager: Deployment with its routing config, Slack URLs from a Secret, storage, Ingress.

Like Prometheus, a reloader sidecar calls /-/reload when the config or the Slack URLs change,
so silences and notification state survive a config change.
"""

from __future__ import annotations

from harvester_manifests import names
from harvester_manifests.components.common import (
    Obj,
    config_map,
    container_security,
    external_url_args,
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
)
from harvester_manifests.components.reloader import reloader_container
from harvester_manifests.config.models import Config, Probe
from harvester_manifests.monitoring.routing import SLACK_DIR, alertmanager_config
from harvester_manifests.yamlio import dump

COMPONENT = "monitoring"
UID = 65534
CONFIG = "alertmanager-config"
CONFIG_DIR = "/etc/alertmanager/config"
DATA = "alertmanager-data"
DATA_DIR = "/alertmanager"


def build(cfg: Config) -> list[Obj]:
    am = cfg.alertmanager
    objects = [
        service_account(cfg, names.ALERTMANAGER, COMPONENT),
        config_map(
            cfg,
            CONFIG,
            names.ALERTMANAGER,
            COMPONENT,
            {"alertmanager.yml": dump(alertmanager_config(cfg))},
        ),
        pvc(cfg, DATA, names.ALERTMANAGER, COMPONENT, am.storage),
        deployment(cfg),
        service(cfg, names.ALERTMANAGER, names.ALERTMANAGER, COMPONENT, am.port),
    ]
    objects += ingresses(cfg, "alertmanager", names.ALERTMANAGER, am.port, "alertmanager-tls")
    return objects


def deployment(cfg: Config) -> Obj:
    am = cfg.alertmanager
    args = [
        f"--config.file={CONFIG_DIR}/alertmanager.yml",
        f"--storage.path={DATA_DIR}",
        f"--web.listen-address=:{am.port}",
        # One replica: no gossip peers, and no port 9094 to open in the network policy.
        "--cluster.listen-address=",
    ]
    args += external_url_args(cfg, "alertmanager")
    container: Obj = {
        "name": names.ALERTMANAGER,
        "image": am.image.reference,
        "imagePullPolicy": "IfNotPresent",
        "args": args,
        "ports": [{"name": "http", "containerPort": am.port, "protocol": "TCP"}],
        "resources": resources(am.resources),
        "readinessProbe": http_probe("/-/ready", "http", Probe()),
        "livenessProbe": http_probe("/-/healthy", "http", Probe(period_seconds=20)),
        "securityContext": container_security(),
        "volumeMounts": [
            {"name": "config", "mountPath": CONFIG_DIR, "readOnly": True},
            {"name": "slack", "mountPath": SLACK_DIR, "readOnly": True},
            {"name": "data", "mountPath": DATA_DIR},
        ],
    }
    reload_url = f"http://127.0.0.1:{am.port}/-/reload"
    watched = [("config", CONFIG_DIR), ("slack", SLACK_DIR)]
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata(cfg, names.ALERTMANAGER, names.ALERTMANAGER, COMPONENT),
        "spec": {
            "replicas": 1,
            "revisionHistoryLimit": 5,
            "selector": {"matchLabels": selector(names.ALERTMANAGER)},
            "strategy": {"type": "Recreate"},
            "template": {
                "metadata": {"labels": labels(names.ALERTMANAGER, COMPONENT)},
                "spec": {
                    "serviceAccountName": names.ALERTMANAGER,
                    "automountServiceAccountToken": False,
                    "restartPolicy": "Always",
                    "securityContext": pod_security(UID),
                    "containers": [container, reloader_container(cfg, watched, reload_url)],
                    "volumes": [
                        {"name": "config", "configMap": {"name": CONFIG}},
                        {"name": "slack", "secret": {"secretName": names.SLACK_SECRET}},
                        {"name": "data", "persistentVolumeClaim": {"claimName": DATA}},
                    ],
                },
            },
        },
    }
