"""The whole deployment of one environment as Kubernetes objects, in a stable order."""

from __future__ import annotations

import base64
import copy

from harvester_manifests import names
from harvester_manifests.components import alertmanager, api, grafana, network, prometheus
from harvester_manifests.components.common import Obj
from harvester_manifests.components.namespace import build_namespace
from harvester_manifests.config.models import Config
from harvester_manifests.secrets import SecretValues, secret_specs
from harvester_manifests.syncwaves import with_sync_waves

SECRETS_CHECKSUM = "harvester-gen/secrets-checksum"


def build_stack(cfg: Config) -> list[Obj]:
    """Every object except Secrets, which come from the operator's .env at apply time."""
    objects = [build_namespace(cfg.namespace)]
    for component in (api, prometheus, grafana, alertmanager, network):
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


def with_secret_checksums(objects: list[Obj], values: SecretValues) -> list[Obj]:
    """Annotate each consumer's pod template so that a changed secret rolls its pods."""
    result = copy.deepcopy(objects)
    consumers = {names.API, names.ALERTMANAGER, names.GRAFANA}
    for obj in result:
        if obj["kind"] == "Deployment" and obj["metadata"]["name"] in consumers:
            template = obj["spec"]["template"]["metadata"]
            annotations = template.setdefault("annotations", {})
            annotations[SECRETS_CHECKSUM] = values.checksum(obj["metadata"]["name"])
            template["annotations"] = dict(sorted(annotations.items()))
    return result


def render_environment(cfg: Config, values: SecretValues | None) -> list[Obj]:
    """What `kubectl apply -k build/<env>` creates: the stack, plus Secrets from the .env,
    with Argo CD's sync waves where ordering matters (syncwaves.py)."""
    objects = build_stack(cfg)
    if values is not None:
        objects = with_secret_checksums(objects, values) + build_secrets(cfg, values)
    return with_sync_waves(objects)
