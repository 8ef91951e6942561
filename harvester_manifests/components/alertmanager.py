"""Alertmanager: Deployment with its routing config, Slack URLs from a Secret, storage, Ingress.

Like Prometheus, a reloader sidecar calls /-/reload when the config or the Slack URLs change,
so silences and notification state survive a config change.
"""

from __future__ import annotations

from harvester_manifests import names
from harvester_manifests.components.common import Obj, external_url_args, http_probe, ingresses
from harvester_manifests.components.reloader import reloader_container
from harvester_manifests.components.workload import Port, Workload, container
from harvester_manifests.config.models import Config, Probe
from harvester_manifests.monitoring.routing import SLACK_DIR, alertmanager_config
from harvester_manifests.yamlio import dump_shared

COMPONENT = "monitoring"
UID = 65534
CONFIG = "alertmanager-config"
CONFIG_DIR = "/etc/alertmanager/config"
DATA = "alertmanager-data"
DATA_DIR = "/alertmanager"


def workload(cfg: Config) -> Workload:
    return Workload(cfg, names.ALERTMANAGER, COMPONENT, cfg.alertmanager.image)


def build(cfg: Config) -> list[Obj]:
    am, work = cfg.alertmanager, workload(cfg)
    deploy = deployment(cfg)
    objects = [
        work.service_account(),
        work.config_map(CONFIG, {"alertmanager.yml": dump_shared(alertmanager_config(cfg))}),
        work.pvc(DATA, am.storage),
        deploy,
        work.service(deploy),
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
    server = container(
        names.ALERTMANAGER,
        am.image,
        args=args,
        ports=[Port("http", am.port)],
        resources_=am.resources,
        readiness=http_probe("/-/ready", "http", Probe()),
        liveness=http_probe("/-/healthy", "http", Probe(period_seconds=20)),
        mounts=[
            {"name": "config", "mountPath": CONFIG_DIR, "readOnly": True},
            {"name": "slack", "mountPath": SLACK_DIR, "readOnly": True},
            {"name": "data", "mountPath": DATA_DIR},
        ],
    )
    reload_url = f"http://127.0.0.1:{am.port}/-/reload"
    watched = [("config", CONFIG_DIR), ("slack", SLACK_DIR)]
    return workload(cfg).deployment(
        [server, reloader_container(cfg, watched, reload_url)],
        [
            {"name": "config", "configMap": {"name": CONFIG}},
            {"name": "slack", "secret": {"secretName": names.SLACK_SECRET}},
            {"name": "data", "persistentVolumeClaim": {"claimName": DATA}},
        ],
        uid=UID,
        strategy="Recreate",
    )
