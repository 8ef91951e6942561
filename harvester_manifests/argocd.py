"""Argo CD's objects for the committed output: one AppProject, one Application per environment.

Pure functions of the repository-wide settings (gitops.yaml) and each environment's config
and objects. Field names are Argo CD v3.3's (argoproj.io/v1alpha1), checked by kubeconform
-strict against its CRDs (mk/crds.mk).

- The AppProject admits only this repository, only the environments' destinations (cluster
  and namespace), and exactly the cluster-scoped kinds the environments create (computed
  from their objects: Namespace, ClusterRole, ClusterRoleBinding).
- Each Application points at <path>/<env> (a plain kustomization, built by Argo CD's
  repo-server as committed) with the environment's destination and sync policy.
  `PruneLast=true`: objects removed from Git are deleted only after everything else is
  synced and healthy. Server-side apply is per resource (the dashboard ConfigMaps), not
  app-wide, so every other object is applied as `kubectl apply -k` applies it.
- No ignoreDifferences: the only controller-owned field in the stack is the API
  Deployment's replica count under its HorizontalPodAutoscaler, and the Deployment leaves
  `replicas` out whenever an HPA exists, so there is nothing to diff.
- No finalizer: deleting an Application leaves its objects (and the volumes' data) alone.
"""

from __future__ import annotations

from typing import Any

from harvester_manifests import names
from harvester_manifests.components.common import Obj
from harvester_manifests.config.gitops import GitOps
from harvester_manifests.config.models import ArgoCdDestination, ArgoCdSyncPolicy, Config
from harvester_manifests.syncwaves import SYNC_WAVE, group_kind

API_VERSION = "argoproj.io/v1alpha1"
SYNC_OPTIONS = ("PruneLast=true",)
# The AppProject before the Applications that name it (when build/argocd is itself synced).
PROJECT_WAVE = "-1"


def application_name(gitops: GitOps, env: str) -> str:
    return f"{gitops.project}-{env}"


def _labels() -> dict[str, str]:
    return {
        "app.kubernetes.io/part-of": names.PART_OF,
        "app.kubernetes.io/managed-by": names.MANAGED_BY,
    }


def _destination(target: ArgoCdDestination, namespace: str) -> dict[str, str]:
    where = {"server": target.server} if target.server is not None else {"name": str(target.name)}
    return {**where, "namespace": namespace}


def cluster_scoped_kinds(objects: list[Obj]) -> list[tuple[str, str]]:
    """(group, kind) of every object without a namespace, sorted."""
    return sorted({group_kind(obj) for obj in objects if "namespace" not in obj["metadata"]})


def app_project(gitops: GitOps, configs: dict[str, Config], objects: list[Obj]) -> Obj:
    destinations = sorted(
        (_destination(cfg.argocd.target, cfg.namespace) for cfg in configs.values()),
        key=lambda d: (d.get("server", ""), d.get("name", ""), d["namespace"]),
    )
    unique = [d for i, d in enumerate(destinations) if d not in destinations[:i]]
    return {
        "apiVersion": API_VERSION,
        "kind": "AppProject",
        "metadata": {
            "name": gitops.project,
            "namespace": gitops.namespace,
            "labels": _labels(),
            "annotations": {SYNC_WAVE: PROJECT_WAVE},
        },
        "spec": {
            "description": "Signal Harvester, rendered by harvester-gen",
            "sourceRepos": [gitops.repo_url],
            "destinations": unique,
            "clusterResourceWhitelist": [
                {"group": group, "kind": kind} for group, kind in cluster_scoped_kinds(objects)
            ],
        },
    }


def _sync_policy(policy: ArgoCdSyncPolicy) -> dict[str, Any]:
    result: dict[str, Any] = {}
    if policy.automated is not None:
        result["automated"] = {
            "prune": policy.automated.prune,
            "selfHeal": policy.automated.self_heal,
        }
    backoff = policy.retry.backoff
    result["syncOptions"] = list(SYNC_OPTIONS)
    result["retry"] = {
        "limit": policy.retry.limit,
        "backoff": {
            "duration": backoff.duration,
            "factor": backoff.factor,
            "maxDuration": backoff.max_duration,
        },
    }
    return result


def application(gitops: GitOps, env: str, cfg: Config) -> Obj:
    return {
        "apiVersion": API_VERSION,
        "kind": "Application",
        "metadata": {
            "name": application_name(gitops, env),
            "namespace": gitops.namespace,
            "labels": {**_labels(), "app.kubernetes.io/instance": env},
        },
        "spec": {
            "project": gitops.project,
            "source": {
                "repoURL": gitops.repo_url,
                "targetRevision": gitops.target_revision,
                "path": f"{gitops.path}/{env}",
            },
            "destination": _destination(cfg.argocd.target, cfg.namespace),
            "syncPolicy": _sync_policy(cfg.argocd.sync_policy),
        },
    }


def argocd_objects(
    gitops: GitOps, configs: dict[str, Config], objects: dict[str, list[Obj]]
) -> list[Obj]:
    """The AppProject, then each environment's Application, in environment order."""
    every = [obj for env in sorted(objects) for obj in objects[env]]
    project = app_project(gitops, configs, every)
    return [project, *(application(gitops, env, cfg) for env, cfg in sorted(configs.items()))]


def destination_clashes(configs: dict[str, Config], sources: dict[str, str]) -> list[str]:
    """Two environments syncing into the same cluster and namespace would fight over every
    object: one warning per environment after the first. (A warning, not an error: overlays
    written before Argo CD, or a test's single cluster, may still render.)"""
    seen: dict[tuple[str, str, str], str] = {}
    warnings = []
    for env, cfg in sorted(configs.items()):
        target = cfg.argocd.target
        key = (target.server or "", target.name or "", cfg.namespace)
        if key in seen:
            warnings.append(
                f"{sources[env]}: argocd.destination: same cluster and namespace"
                f" ({cfg.namespace}) as environment {seen[key]}: their Applications would"
                " overwrite each other's objects; give one a different destination or namespace"
            )
        else:
            seen[key] = env
    return warnings
