"""The whole deployment of one environment as Kubernetes objects, in a stable order."""

from __future__ import annotations

import base64
from types import ModuleType

from harvester_manifests.components import (
    alertmanager,
    api,
    grafana,
    network,
    operator,
    prometheus,
)
from harvester_manifests.components.common import Obj
from harvester_manifests.components.namespace import build_namespace
from harvester_manifests.config.models import Config
from harvester_manifests.secrets import SecretValues, secret_specs
from harvester_manifests.syncwaves import with_sync_waves

SECRETS_CHECKSUM = "harvester-gen/secrets-checksum"


def build_stack(cfg: Config) -> list[Obj]:
    """Every object except Secrets, which come from the operator's .env at apply time."""
    objects = [build_namespace(cfg.namespace)]
    components: tuple[ModuleType, ...]
    if cfg.monitoring.mode == "operator":
        # The cluster's prometheus-operator stack monitors the API (components/operator.py).
        components = (api, operator, network)
    else:
        components = (api, prometheus, grafana, alertmanager, network)
    for component in components:
        objects += component.build(cfg)
    return objects


def build_secrets(cfg: Config, values: SecretValues) -> list[Obj]:
    """The Secrets exactly as kustomize's secretGenerator makes them from the rendered files."""
    objects = []
    for spec in secret_specs(cfg):
        data = values.values[spec.name]
        objects.append(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": spec.name, "namespace": cfg.namespace},
                "type": "Opaque",
                "data": {
                    key: base64.b64encode(value.encode()).decode()
                    for key, value in sorted(data.items())
                },
            }
        )
    return objects


def secret_consumers(cfg: Config) -> set[str]:
    """The Deployments whose pods read a Secret, as the secret specs name them."""
    return {spec.consumer for spec in secret_specs(cfg) if spec.consumer is not None}


def with_secret_checksums(
    objects: list[Obj], values: SecretValues, consumers: set[str]
) -> list[Obj]:
    """Annotate each consumer's pod template so that a changed secret rolls its pods.

    Copies only the maps on the way to the annotations: everything else is shared, unchanged."""
    result = []
    for obj in objects:
        if obj["kind"] == "Deployment" and obj["metadata"]["name"] in consumers:
            spec, template = obj["spec"], obj["spec"]["template"]
            annotations = {
                **template["metadata"].get("annotations", {}),
                SECRETS_CHECKSUM: values.checksum(obj["metadata"]["name"]),
            }
            meta = {**template["metadata"], "annotations": dict(sorted(annotations.items()))}
            obj = {**obj, "spec": {**spec, "template": {**template, "metadata": meta}}}
        result.append(obj)
    return result


def render_environment(cfg: Config, values: SecretValues | None) -> list[Obj]:
    """What `kubectl apply -k build/<env>` creates: the stack, plus Secrets from the .env,
    with Argo CD's sync waves where ordering matters (syncwaves.py)."""
    return environment_from(build_stack(cfg), cfg, values)


def environment_from(objects: list[Obj], cfg: Config, values: SecretValues | None) -> list[Obj]:
    """render_environment from the stack build_stack(cfg) made already (which it leaves as it
    was): for a caller that needs the environment both with and without its Secrets."""
    if values is not None:
        consumers = secret_consumers(cfg)
        objects = with_secret_checksums(objects, values, consumers) + build_secrets(cfg, values)
    return with_sync_waves(objects)
