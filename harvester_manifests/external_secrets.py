"""secrets mode external-secrets: one ExternalSecret per Secret, exactly the guide's names and keys.

The External Secrets Operator (ESO) reads each key from the configured SecretStore or
ClusterSecretStore and writes the Secret; nothing secret is rendered and no .env is read.

Every field the API server defaults (the CRD's `default:` values of external-secrets.io/v1 in
ESO v0.16.2) is written out: a defaulted field missing from git shows as a permanent OutOfSync
in Argo CD (argoproj/argo-cd#13004).
"""

from __future__ import annotations

from harvester_manifests.components.common import Obj, labels
from harvester_manifests.config.models import Config, RemoteRef
from harvester_manifests.errors import InputError, Problem
from harvester_manifests.secrets import secret_specs

API_VERSION = "external-secrets.io/v1"
# The CRD's defaults (config/crds/bases/external-secrets.io_externalsecrets.yaml, v0.16.2).
TARGET_DEFAULTS: dict[str, str] = {"creationPolicy": "Owner", "deletionPolicy": "Retain"}
REMOTE_REF_DEFAULTS: dict[str, str] = {
    "conversionStrategy": "Default",
    "decodingStrategy": "None",
    "metadataPolicy": "None",
}
FIELD = "secrets.externalSecrets"


def remote_refs(env: str, cfg: Config, source: str) -> dict[tuple[str, str], RemoteRef]:
    """Where each (Secret, key) is read from; InputError for unknown names and collisions."""
    settings = cfg.secrets.external_secrets
    fields = {"env": env, "namespace": cfg.namespace}
    refs: dict[tuple[str, str], RemoteRef] = {}
    for spec in secret_specs(cfg):
        for key, _ in spec.keys:
            named = settings.remote_refs.get(f"{spec.name}/{key}")
            template = settings.remote_key_template.format_map(
                {**fields, "secret": spec.name, "key": key}
            )
            refs[(spec.name, key)] = named or RemoteRef(key=template)
    problems = [
        Problem(
            source,
            f"{FIELD}.remoteRefs.{name}",
            "no such Secret key (known: " + ", ".join(f"{s}/{k}" for s, k in refs) + ")",
        )
        for name in sorted(settings.remote_refs)
        if tuple(name.split("/", 1)) not in refs
    ]
    readers: dict[tuple[str, str | None], list[str]] = {}
    for (secret, key), ref in refs.items():
        readers.setdefault((ref.key, ref.property), []).append(f"{secret}/{key}")
    for (remote, prop), names in readers.items():
        if len(names) > 1:
            where = remote + (f" (property {prop})" if prop else "")
            problems.append(
                Problem(
                    source,
                    f"{FIELD}.remoteKeyTemplate",
                    f"{', '.join(names[:-1])} and {names[-1]} would all read the remote key "
                    f"{where}: "
                    "put {secret} and {key} in the template, or tell them apart in remoteRefs",
                )
            )
    if problems:
        raise InputError(problems)
    return refs


def external_secrets(env: str, cfg: Config, source: str) -> list[Obj]:
    """The ExternalSecrets of `env`, one per Secret of `secrets.secret_specs`."""
    settings = cfg.secrets.external_secrets
    store = settings.store_ref
    if store is None:
        raise InputError([Problem(source, f"{FIELD}.storeRef", "required in external-secrets")])
    refs = remote_refs(env, cfg, source)
    objects = []
    for spec in secret_specs(cfg):
        data = []
        for key, _ in spec.keys:
            ref = refs[(spec.name, key)]
            remote: dict[str, str] = {"key": ref.key}
            if ref.property is not None:
                remote["property"] = ref.property
            remote |= REMOTE_REF_DEFAULTS
            data.append({"secretKey": key, "remoteRef": remote})
        target = {"name": spec.name} | TARGET_DEFAULTS
        objects.append(
            {
                "apiVersion": API_VERSION,
                "kind": "ExternalSecret",
                "metadata": {
                    "name": spec.name,
                    "namespace": cfg.namespace,
                    "labels": labels(spec.consumer or "signal-harvester", "secrets"),
                },
                "spec": {
                    "refreshInterval": settings.refresh_interval,
                    "secretStoreRef": {"kind": store.kind, "name": store.name},
                    "target": target,
                    "data": data,
                },
            }
        )
    return objects
