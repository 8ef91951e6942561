"""The config-reload sidecar shared by Prometheus and Alertmanager."""

from __future__ import annotations

from harvester_manifests.components.common import (
    Obj,
    container_security,
    http_probe,
    resources,
    tcp_probe,
)
from harvester_manifests.config.models import Config, Probe

PORT = 9533


def reloader_container(cfg: Config, watched: list[tuple[str, str]], webhook_url: str) -> Obj:
    """Calls the reload endpoint when a watched (volume, mount path) pair changes."""
    return {
        "name": "config-reloader",
        "image": cfg.reloader.image.reference,
        "imagePullPolicy": "IfNotPresent",
        "args": [
            *(f"--volume-dir={d}" for _, d in watched),
            f"--webhook-url={webhook_url}",
            f"--web.listen-address=:{PORT}",
        ],
        "ports": [{"name": "reloader", "containerPort": PORT, "protocol": "TCP"}],
        "resources": resources(cfg.reloader.resources),
        "readinessProbe": http_probe("/metrics", "reloader", Probe()),
        "livenessProbe": tcp_probe("reloader", Probe(period_seconds=30)),
        "securityContext": container_security(),
        "volumeMounts": [
            {"name": volume, "mountPath": path, "readOnly": True} for volume, path in watched
        ],
    }
