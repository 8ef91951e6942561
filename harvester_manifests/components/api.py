"""The Signal Harvester API: Deployment, Service, HPA, PDB, Ingress, volume, service account."""

from __future__ import annotations

import yaml

from harvester_manifests import names
from harvester_manifests.components.common import (
    Obj,
    empty_dir,
    http_probe,
    ingresses,
    metadata,
    selector,
)
from harvester_manifests.components.workload import Port, Workload, container
from harvester_manifests.config.models import Config, ScalingRules

COMPONENT = "api"
APP_UID = 1000
SETTINGS_DIR = "/app/config"


def workload(cfg: Config) -> Workload:
    return Workload(cfg, names.API, COMPONENT, cfg.api.image)


def build(cfg: Config) -> list[Obj]:
    api, work = cfg.api, workload(cfg)
    deploy = deployment(cfg)
    objects = [work.service_account(), deploy]
    objects.append(work.service(deploy))
    if api.database.mode == "sqlite":
        objects.append(work.pvc(names.API_DATA_PVC, api.storage))
    if api.autoscaling.enabled:
        objects.append(autoscaler(cfg))
    if api.fewest_replicas() > 1 or api.autoscaling.enabled:
        objects.append(disruption_budget(cfg))
    objects += ingresses(cfg, "api", names.API, api.port, names.API_TLS_SECRET)
    if api.settings is not None:
        text = yaml.safe_dump(api.settings, sort_keys=True, default_flow_style=False)
        objects.append(work.config_map(names.API_SETTINGS, {"settings.yaml": text}))
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
    app = container(
        names.API,
        api.image,
        ports=[Port("http", api.port)],
        env=env,
        env_from=[{"secretRef": {"name": names.API_KEYS_SECRET}}],
        resources_=api.resources,
        startup=http_probe(api.health_path, "http", api.probes.startup),
        readiness=http_probe(api.health_path, "http", api.probes.readiness),
        liveness=http_probe(api.health_path, "http", api.probes.liveness),
        mounts=mounts,
    )
    return workload(cfg).deployment(
        [app],
        volumes,
        uid=APP_UID,
        # With an HPA the autoscaler owns the replica count; a fixed one would fight it
        # on every apply.
        replicas=None if api.autoscaling.enabled else api.replicas,
        strategy={
            "type": "RollingUpdate",
            "rollingUpdate": {
                "maxSurge": api.rolling_update.max_surge,
                "maxUnavailable": api.rolling_update.max_unavailable,
            },
        },
        pod_annotations={
            "prometheus.io/scrape": "true",
            "prometheus.io/port": str(api.port),
            "prometheus.io/path": api.metrics_path,
        },
        placement=placement(cfg),
        termination_grace_seconds=30,
    )


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
