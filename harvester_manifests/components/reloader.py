"""The config-reload sidecar shared by Prometheus and Alertmanager."""

from __future__ import annotations

from harvester_manifests.components.common import Obj, http_probe, tcp_probe
from harvester_manifests.components.workload import Port, container
from harvester_manifests.config.models import Config, Probe

PORT = 9533


def reloader_container(cfg: Config, watched: list[tuple[str, str]], webhook_url: str) -> Obj:
    """Calls the reload endpoint when a watched (volume, mount path) pair changes."""
    return container(
        "config-reloader",
        cfg.reloader.image,
        args=[
            *(f"--volume-dir={d}" for _, d in watched),
            f"--webhook-url={webhook_url}",
            f"--web.listen-address=:{PORT}",
        ],
        ports=[Port("reloader", PORT)],
        resources_=cfg.reloader.resources,
        readiness=http_probe("/metrics", "reloader", Probe()),
        liveness=tcp_probe("reloader", Probe(period_seconds=30)),
        mounts=[{"name": volume, "mountPath": path, "readOnly": True} for volume, path in watched],
    )
