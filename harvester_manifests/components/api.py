"""The Signal Harvester API: Deployment, Service, HPA, PDB, Ingress, volume, service account."""

from __future__ import annotations

import yaml

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
)
from harvester_manifests.config.models import Config, ScalingRules

COMPONENT = "api"
APP_UID = 1000
SETTINGS_DIR = "/app/config"


def build(cfg: Config) -> list[Obj]:
    api = cfg.api
    objects = [service_account(cfg, names.API, COMPONENT), deployment(cfg)]
    objects.append(service(cfg, names.API, names.API, COMPONENT, api.port))
    if api.database.mode == "sqlite":
        objects.append(pvc(cfg, names.API_DATA_PVC, names.API, COMPONENT, api.storage))
    if api.autoscaling.enabled:
        objects.append(autoscaler(cfg))
    if api.fewest_replicas() > 1 or api.autoscaling.enabled:
        objects.append(disruption_budget(cfg))
    objects += ingresses(cfg, "api", names.API, api.port, names.API_TLS_SECRET)
    if api.settings is not None:
        text = yaml.safe_dump(api.settings, sort_keys=True, default_flow_style=False)
        objects.append(
            config_map(cfg, names.API_SETTINGS, names.API, COMPONENT, {"settings.yaml": text})
        )
    return objects


def deployment(cfg: Config) -> Obj:
    api = cfg.api
    env = [
        {"name": "PYTHONPATH", "value": "/app/src"},
        {"name": "LOG_LEVEL", "value": api.log_level},
        {"name": "DATABASE_PATH", "value": api.database.path},
    ]
    mounts: list[Obj] = [
        {"name": "data", "mountPath": "/app/var"},
        {"name": "logs", "mountPath": "/app/logs"},
        {"name": "tmp", "mountPath": "/tmp"},
    ]
    if api.database.mode == "sqlite":
        data: Obj = {"name": "data", "persistentVolumeClaim": {"claimName": names.API_DATA_PVC}}
    else:
        data = empty_dir("data", "1Gi")
    volumes: list[Obj] = [data, empty_dir("logs", "1Gi"), empty_dir("tmp", "256Mi")]
    if api.settings is not None:
        mounts.append({"name": "settings", "mountPath": SETTINGS_DIR, "readOnly": True})
        volumes.append({"name": "settings", "configMap": {"name": names.API_SETTINGS}})
    container: Obj = {
        "name": names.API,
        "image": api.image.reference,
        "imagePullPolicy": "IfNotPresent",
        "ports": [{"name": "http", "containerPort": api.port, "protocol": "TCP"}],
        "env": env,
        "envFrom": [{"secretRef": {"name": names.API_KEYS_SECRET}}],
        "resources": resources(api.resources),
        "startupProbe": http_probe(api.health_path, "http", api.probes.startup),
        "readinessProbe": http_probe(api.health_path, "http", api.probes.readiness),
        "livenessProbe": http_probe(api.health_path, "http", api.probes.liveness),
        "securityContext": container_security(),
        "volumeMounts": mounts,
    }
    pod_spec: Obj = {
        "serviceAccountName": names.API,
        "automountServiceAccountToken": False,
        "restartPolicy": "Always",
        "securityContext": pod_security(APP_UID),
        **placement(cfg),
        "terminationGracePeriodSeconds": 30,
        "containers": [container],
        "volumes": volumes,
    }
    spec: Obj = {}
    if not api.autoscaling.enabled:
        # With an HPA the autoscaler owns the replica count; a fixed one would fight it
        # on every apply.
        spec["replicas"] = api.replicas
    spec.update(
        {
            "revisionHistoryLimit": 5,
            "selector": {"matchLabels": selector(names.API)},
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {
                    "maxSurge": api.rolling_update.max_surge,
                    "maxUnavailable": api.rolling_update.max_unavailable,
                },
            },
            "template": {
                "metadata": {
                    "labels": labels(names.API, COMPONENT),
                    "annotations": {
                        "prometheus.io/scrape": "true",
                        "prometheus.io/port": str(api.port),
                        "prometheus.io/path": api.metrics_path,
                    },
                },
                "spec": pod_spec,
            },
        }
    )
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata(cfg, names.API, names.API, COMPONENT),
        "spec": spec,
    }


def placement(cfg: Config) -> Obj:
    """SQLite: every replica on the node holding the volume. PostgreSQL: spread over nodes."""
    if cfg.api.database.mode == "sqlite":
        return {
            "affinity": {
                "podAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": [
                        {
                            "labelSelector": {"matchLabels": selector(names.API)},
                            "topologyKey": "kubernetes.io/hostname",
                        }
                    ]
                }
            }
        }
    return {
        "topologySpreadConstraints": [
            {
                "maxSkew": 1,
                "topologyKey": "kubernetes.io/hostname",
                "whenUnsatisfiable": "ScheduleAnyway",
                "labelSelector": {"matchLabels": selector(names.API)},
            }
        ]
    }


def autoscaler(cfg: Config) -> Obj:
    scaling = cfg.api.autoscaling
    metrics: list[Obj] = [_utilization("cpu", scaling.target_cpu_utilization)]
    if scaling.target_memory_utilization is not None:
        metrics.append(_utilization("memory", scaling.target_memory_utilization))

    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": metadata(cfg, names.API, names.API, COMPONENT),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": names.API},
            "minReplicas": scaling.min_replicas,
            "maxReplicas": scaling.max_replicas,
            "metrics": metrics,
            "behavior": {
                "scaleUp": _rules(scaling.scale_up),
                "scaleDown": _rules(scaling.scale_down),
            },
        },
    }


def _rules(rules: ScalingRules) -> Obj:
    return {
        "stabilizationWindowSeconds": rules.stabilization_window_seconds,
        "policies": [
            {"type": p.type, "value": p.value, "periodSeconds": p.period_seconds}
            for p in rules.policies
        ],
    }


def _utilization(resource: str, percent: int) -> Obj:
    return {
        "type": "Resource",
        "resource": {
            "name": resource,
            "target": {"type": "Utilization", "averageUtilization": percent},
        },
    }


def disruption_budget(cfg: Config) -> Obj:
    """At most one API pod down for voluntary disruptions: never blocks every eviction."""
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": metadata(cfg, names.API, names.API, COMPONENT),
        "spec": {
            "maxUnavailable": 1,
            "selector": {"matchLabels": selector(names.API)},
            # A pod that is not ready serves nothing: draining a node may always evict it.
            "unhealthyPodEvictionPolicy": "AlwaysAllow",
        },
    }
