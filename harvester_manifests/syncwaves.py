"""How Argo CD orders and applies an environment's objects: sync waves and sync options.

Argo CD applies a sync in waves (the `argocd.argoproj.io/sync-wave` annotation, 0 when
absent), lowest first, and waits for a wave to be healthy before the next. Within a wave
it orders by kind (gitops-engine's list: Namespace, NetworkPolicy, ..., ServiceAccount,
Secret, ConfigMap, PersistentVolumeClaim, ClusterRole, ClusterRoleBinding, Service,
Deployment, HorizontalPodAutoscaler, Ingress) and *then* every kind it does not know,
custom resources included. So waves are needed only where that order is wrong:

- a SealedSecret, ExternalSecret or SecretStore is a custom resource, applied after the
  Deployments of its wave: the pods would start before their Secret exists. They go in
  wave -1, and so does the Namespace they live in (wave 0 would come after them).
- plain Secrets, ConfigMaps and PersistentVolumeClaims need nothing: kind order puts
  them before the Deployments. A PersistentVolumeClaim must never be in an *earlier* wave
  than the pod that mounts it: with a `WaitForFirstConsumer` StorageClass it stays
  Pending until a pod uses it, Argo CD waits for it to be healthy, and the sync deadlocks.

This module also names the per-resource sync options the components set (server-side
apply for the Grafana dashboard ConfigMaps). It never changes anything else.
"""

from __future__ import annotations

from harvester_manifests.components.common import Obj

SYNC_WAVE = "argocd.argoproj.io/sync-wave"
SYNC_OPTIONS = "argocd.argoproj.io/sync-options"

# Client-side apply keeps the whole object in the last-applied-configuration annotation,
# and annotations are limited to 256 KiB in total: a large dashboard would fail to sync.
SERVER_SIDE_APPLY = {SYNC_OPTIONS: "ServerSideApply=true"}

SECRETS_WAVE = -1
# (API group, kind) of the custom resources that deliver Secret values.
SECRET_SOURCES = frozenset(
    {
        ("bitnami.com", "SealedSecret"),
        ("external-secrets.io", "ExternalSecret"),
        ("external-secrets.io", "SecretStore"),
    }
)


def group_kind(obj: Obj) -> tuple[str, str]:
    return str(obj["apiVersion"]).rpartition("/")[0], str(obj["kind"])


def wave_of(obj: Obj) -> int:
    """The object's sync wave (0 when it has none)."""
    return int(obj["metadata"].get("annotations", {}).get(SYNC_WAVE, "0"))


def _with_wave(obj: Obj, wave: int) -> Obj:
    """A copy of obj with its wave set: only the maps on the way to the annotation are new."""
    meta = obj["metadata"]
    annotations = {**meta.get("annotations", {}), SYNC_WAVE: str(wave)}
    return {**obj, "metadata": {**meta, "annotations": dict(sorted(annotations.items()))}}


def with_sync_waves(objects: list[Obj]) -> list[Obj]:
    """The objects with the sync waves above set (a new list; the input is untouched).

    Copies only the objects it annotates, and of those only the maps on the way to the
    annotation: everything else is shared with the input, as stack.with_secret_checksums does
    (a deep copy of every object was most of the cost of a render)."""
    if not any(group_kind(obj) in SECRET_SOURCES for obj in objects):
        return list(objects)
    return [
        _with_wave(obj, SECRETS_WAVE)
        if group_kind(obj) in SECRET_SOURCES or obj["kind"] == "Namespace"
        else obj
        for obj in objects
    ]
