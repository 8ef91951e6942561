"""One typed way to build a component's workload, in the spirit of cdk8s-plus.

`container()` cannot be called without an image, named ports, resources and readiness and
liveness probes, and always adds the restricted security context and the pull policy.
`Workload` is a component's context: it names and labels every object of the component, builds
its Deployment around those containers (selector, pod security context, service account), and
its Service from the main container's named ports, so a port is declared once.

Labels: the guide's `app` plus the recommended `app.kubernetes.io/*` on every object; the
Deployment and its pods also carry `app.kubernetes.io/version` (the image tag), which is never
part of a selector (selectors are immutable and must survive an upgrade).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from harvester_manifests.components.common import (
    Obj,
    config_map,
    container_security,
    labels,
    metadata,
    pod_security,
    pvc,
    resources,
    selector,
    service_account,
)
from harvester_manifests.config.models import Config, Image, Resources, Storage

VERSION_LABEL = "app.kubernetes.io/version"
_LABEL_VALUE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?$")


@dataclass(frozen=True)
class Port:
    name: str
    number: int


def container(
    name: str,
    image: Image,
    *,
    ports: Sequence[Port],
    resources_: Resources,
    readiness: Obj,
    liveness: Obj,
    mounts: Sequence[Obj],
    startup: Obj | None = None,
    args: Sequence[str] | None = None,
    env: Sequence[Obj] | None = None,
    env_from: Sequence[Obj] | None = None,
) -> Obj:
    """A container of the restricted Pod Security profile with a read-only root filesystem."""
    if not ports:
        raise ValueError(f"container {name}: needs a named port (probes and Services use it)")
    built: Obj = {"name": name, "image": image.reference, "imagePullPolicy": "IfNotPresent"}
    if args is not None:
        built["args"] = list(args)
    built["ports"] = [{"name": p.name, "containerPort": p.number, "protocol": "TCP"} for p in ports]
    if env is not None:
        built["env"] = list(env)
    if env_from is not None:
        built["envFrom"] = list(env_from)
    built["resources"] = resources(resources_)
    if startup is not None:
        built["startupProbe"] = startup
    built |= {
        "readinessProbe": readiness,
        "livenessProbe": liveness,
        "securityContext": container_security(),
        "volumeMounts": list(mounts),
    }
    return built


def version(image: Image) -> str | None:
    """The image tag as a label value, when it is one (a digest alone is not)."""
    tag = image.tag
    return tag if tag is not None and _LABEL_VALUE.match(tag) else None


@dataclass(frozen=True)
class Workload:
    """One component: its app name (Deployment, Service and ServiceAccount share it), its
    `app.kubernetes.io/component`, and the image its version label comes from."""

    cfg: Config
    app: str
    component: str
    image: Image

    def labels(self, versioned: bool = False) -> dict[str, str]:
        result = labels(self.app, self.component)
        tag = version(self.image)
        if versioned and tag is not None:
            result[VERSION_LABEL] = tag
        return result

    def metadata(self, name: str | None = None, versioned: bool = False) -> Obj:
        meta = metadata(self.cfg, name or self.app, self.app, self.component)
        meta["labels"] = self.labels(versioned)
        return meta

    def service_account(self, automount_token: bool | None = False) -> Obj:
        """Pods get no API token unless they need one (None: the API server's default)."""
        account = service_account(self.cfg, self.app, self.component)
        if automount_token is None:
            del account["automountServiceAccountToken"]
        else:
            account["automountServiceAccountToken"] = automount_token
        return account

    def config_map(self, name: str, data: dict[str, str]) -> Obj:
        return config_map(self.cfg, name, self.app, self.component, data)

    def pvc(self, name: str, storage: Storage) -> Obj:
        return pvc(self.cfg, name, self.app, self.component, storage)

    def service(self, deployment: Obj) -> Obj:
        """A ClusterIP Service with the named ports of the Deployment's main (first) container,
        targeted by name."""
        main = deployment["spec"]["template"]["spec"]["containers"][0]
        return {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": self.metadata(),
            "spec": {
                "type": "ClusterIP",
                "selector": selector(self.app),
                "ports": [
                    {
                        "name": p["name"],
                        "port": p["containerPort"],
                        "targetPort": p["name"],
                        "protocol": p["protocol"],
                    }
                    for p in main["ports"]
                ],
            },
        }

    def deployment(
        self,
        containers: Sequence[Obj],
        volumes: Sequence[Obj],
        *,
        uid: int,
        strategy: Obj | Literal["Recreate"],
        replicas: int | None = 1,
        pod_annotations: dict[str, str] | None = None,
        automount_token: bool = False,
        placement: Obj | None = None,
        termination_grace_seconds: int | None = None,
    ) -> Obj:
        """The Deployment of `containers` (the first is the main one): selected by `app` only,
        run as `uid` under the restricted profile, with the component's service account."""
        pod: Obj = {
            "serviceAccountName": self.app,
            "automountServiceAccountToken": automount_token,
            "restartPolicy": "Always",
            "securityContext": pod_security(uid),
            **(placement or {}),
        }
        if termination_grace_seconds is not None:
            pod["terminationGracePeriodSeconds"] = termination_grace_seconds
        pod |= {"containers": list(containers), "volumes": list(volumes)}
        template_meta: Obj = {"labels": self.labels(versioned=True)}
        if pod_annotations:
            template_meta["annotations"] = pod_annotations
        spec: Obj = {} if replicas is None else {"replicas": replicas}
        spec |= {
            "revisionHistoryLimit": 5,
            "selector": {"matchLabels": selector(self.app)},
            "strategy": {"type": "Recreate"} if strategy == "Recreate" else strategy,
            "template": {"metadata": template_meta, "spec": pod},
        }
        return {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": self.metadata(versioned=True),
            "spec": spec,
        }
