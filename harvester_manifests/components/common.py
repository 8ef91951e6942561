"""Pieces every component builds from: metadata, secure pod defaults, services, volumes, ingress.

Objects are plain dicts shaped exactly like the Kubernetes API objects they describe, with keys
in the order a person would write them. Nothing here knows about files or Kustomize.
"""

from __future__ import annotations

from typing import Any, Literal

from harvester_manifests import names
from harvester_manifests.config.models import Config, Probe, Resources, Storage

Obj = dict[str, Any]


def labels(app: str, component: str) -> dict[str, str]:
    """The guide's `app` label (its kubectl -l selectors use it) plus the recommended ones."""
    return {
        "app": app,
        "app.kubernetes.io/name": app,
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/part-of": names.PART_OF,
        "app.kubernetes.io/managed-by": names.MANAGED_BY,
    }


def selector(app: str) -> dict[str, str]:
    """Selectors are immutable on Deployments: keep them to the one label the guide uses."""
    return {"app": app}


def metadata(
    cfg: Config, name: str, app: str, component: str, annotations: dict[str, str] | None = None
) -> Obj:
    meta: Obj = {"name": name, "namespace": cfg.namespace, "labels": labels(app, component)}
    if annotations:
        meta["annotations"] = dict(sorted(annotations.items()))
    return meta


def cluster_metadata(name: str, app: str, component: str) -> Obj:
    return {"name": name, "labels": labels(app, component)}


def resources(res: Resources) -> Obj:
    return {
        side: {
            "cpu": amounts.cpu,
            "memory": amounts.memory,
            "ephemeral-storage": amounts.ephemeral_storage,
        }
        for side, amounts in (("requests", res.requests), ("limits", res.limits))
    }


def container_security() -> Obj:
    """Pod Security "restricted" for a container, with a read-only root filesystem."""
    return {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def pod_security(uid: int) -> Obj:
    return {
        "runAsNonRoot": True,
        "runAsUser": uid,
        "runAsGroup": uid,
        "fsGroup": uid,
        "fsGroupChangePolicy": "OnRootMismatch",
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def tcp_probe(port: str, probe: Probe) -> Obj:
    """Liveness by TCP: a failing dependency behind the health check must not restart the pod."""
    return {
        "tcpSocket": {"port": port},
        "initialDelaySeconds": probe.initial_delay_seconds,
        "periodSeconds": probe.period_seconds,
        "timeoutSeconds": probe.timeout_seconds,
        "failureThreshold": probe.failure_threshold,
    }


def http_probe(path: str, port: str, probe: Probe) -> Obj:
    return {
        "httpGet": {"path": path, "port": port},
        "initialDelaySeconds": probe.initial_delay_seconds,
        "periodSeconds": probe.period_seconds,
        "timeoutSeconds": probe.timeout_seconds,
        "failureThreshold": probe.failure_threshold,
    }


def service_account(cfg: Config, name: str, component: str) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": metadata(cfg, name, name, component),
        "automountServiceAccountToken": False,
    }


def pvc(cfg: Config, name: str, app: str, component: str, storage: Storage) -> Obj:
    spec: Obj = {
        "accessModes": [storage.access_mode],
        "resources": {"requests": {"storage": storage.size}},
    }
    if storage.storage_class is not None:
        spec["storageClassName"] = storage.storage_class
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": metadata(cfg, name, app, component),
        "spec": spec,
    }


Exposed = Literal["api", "prometheus", "grafana", "alertmanager"]


def ingresses(cfg: Config, exposed: Exposed, name: str, port: int, tls_secret: str) -> list[Obj]:
    """The component's Ingress at its host (none when disabled). The monitoring UIs get basic
    auth and/or a source allowlist (monitoringAuth); the API authenticates with its own key."""
    if not getattr(cfg, exposed).ingress.enabled:
        return []
    host = cfg.host(exposed)
    annotations: dict[str, str] = {}
    if cfg.ingress.tls:
        annotations["cert-manager.io/cluster-issuer"] = cfg.ingress.cluster_issuer
    ranges = cfg.monitoring_auth.allow_source_ranges
    if exposed != "api" and ranges:
        annotations["nginx.ingress.kubernetes.io/whitelist-source-range"] = ",".join(ranges)
    if exposed != "api" and cfg.monitoring_auth.enabled:
        annotations.update(
            {
                "nginx.ingress.kubernetes.io/auth-type": "basic",
                "nginx.ingress.kubernetes.io/auth-secret": names.BASIC_AUTH_SECRET,
                "nginx.ingress.kubernetes.io/auth-realm": cfg.monitoring_auth.realm,
            }
        )
    spec: Obj = {"ingressClassName": cfg.ingress.class_name}
    if cfg.ingress.tls:
        spec["tls"] = [{"hosts": [host], "secretName": tls_secret}]
    spec["rules"] = [
        {
            "host": host,
            "http": {
                "paths": [
                    {
                        "path": "/",
                        "pathType": "Prefix",
                        "backend": {"service": {"name": name, "port": {"number": port}}},
                    }
                ]
            },
        }
    ]
    component = "api" if exposed == "api" else "monitoring"
    return [
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "metadata": metadata(cfg, name, name, component, annotations),
            "spec": spec,
        }
    ]


def external_url_args(cfg: Config, exposed: Exposed) -> list[str]:
    """Prometheus and Alertmanager link to themselves by the URL users reach them at."""
    if not getattr(cfg, exposed).ingress.enabled:
        return []
    return [f"--web.external-url=https://{cfg.host(exposed)}/", "--web.route-prefix=/"]


def config_map(cfg: Config, name: str, app: str, component: str, data: dict[str, str]) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": metadata(cfg, name, app, component),
        "data": dict(sorted(data.items())),
    }


def empty_dir(name: str, size: str) -> Obj:
    return {"name": name, "emptyDir": {"sizeLimit": size}}
