"""Lays rendered objects out as Kustomize: a base and, per environment, the smallest overlay.

The base is the render of the defaults (the deployment guide). Each overlay turns the base into
its environment with JSON patches (one file per changed object, one operation per changed
field), new resources for objects only it has, delete patches for objects it drops, and
secretGenerators for the values from the .env. The invariant the tests hold us to:
`kustomize build <out>/<env>` equals `stack.render_environment(<env's config>)`, object for object.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from harvester_manifests.components.common import Obj
from harvester_manifests.secrets import SecretSpec, SecretValues
from harvester_manifests.yamlio import dump

KUSTOMIZATION = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization"}
SECRETS_DIR = "secrets"
Files = dict[str, str]  # path relative to the output directory -> content


@dataclass(frozen=True, order=True)
class Key:
    """Identity of an object within one render (every object shares the namespace)."""

    group: str
    kind: str
    name: str

    @staticmethod
    def of(obj: Obj) -> Key:
        group = obj["apiVersion"].rpartition("/")[0]
        return Key(group, obj["kind"], obj["metadata"]["name"])

    @property
    def file_name(self) -> str:
        return f"{self.kind.lower()}-{self.name}.yaml"


def _folder(obj: Obj) -> str:
    if obj["kind"] == "Namespace":
        return ""
    if obj["kind"] == "NetworkPolicy":
        return "network/"
    return f"{obj['metadata'].get('labels', {}).get('app', 'other')}/"


def layout_base(objects: list[Obj]) -> Files:
    files: Files = {}
    resources = []
    for obj in objects:
        path = f"{_folder(obj)}{Key.of(obj).file_name}"
        if path in files:
            raise ValueError(f"two objects render to {path}")
        files[path] = dump(obj)
        resources.append(path)
    files["kustomization.yaml"] = dump({**KUSTOMIZATION, "resources": resources})
    return files


# kustomize also reads a file named `Kustomization`; `kubectl apply -f DIR` reads only
# *.yaml, *.yml and *.json, so that name keeps both ways of applying a flat directory working.
FLAT_KUSTOMIZATION = "Kustomization"


def layout_flat(objects: list[Obj]) -> Files:
    """One file per object plus a `Kustomization` listing them: for `kubectl apply -k DIR`
    and `kubectl apply -f DIR` alike (every object names its own namespace)."""
    files: Files = {}
    for obj in objects:
        path = Key.of(obj).file_name
        if path in files:
            raise ValueError(f"two objects render to {path}")
        files[path] = dump(obj)
    files[FLAT_KUSTOMIZATION] = dump({**KUSTOMIZATION, "resources": list(files)})
    return files


def layout_overlay(
    base: list[Obj],
    env: list[Obj],
    secrets: list[SecretSpec],
    values: SecretValues | None,
    namespace: str,
) -> Files:
    """The overlay directory's files: kustomization.yaml, patches/, resources/.

    `secrets` and `values` are no longer used: the committed overlay never reads a .env (see
    layout_env_file_secrets for the gitignored layer that adds the Secrets).
    """
    base_by_key = {Key.of(o): o for o in base}
    env_by_key = {Key.of(o): o for o in env if o["kind"] != "Secret"}
    files: Files = {}
    resources = ["../base"]
    patches: list[dict[str, Any]] = []
    for key, obj in env_by_key.items():
        if key not in base_by_key:
            path = f"resources/{key.file_name}"
            files[path] = dump(obj)
            resources.append(path)
            continue
        ops = json_patch(base_by_key[key], obj)
        if ops:
            path = f"patches/{key.file_name}"
            files[path] = dump(ops)
            target = {"group": key.group} if key.group else {}  # core kinds have no group
            target |= {"version": _version(obj), "kind": key.kind, "name": key.name}
            patches.append({"path": path, "target": target})
    for key, obj in base_by_key.items():
        if key not in env_by_key:
            path = f"patches/delete-{key.file_name}"
            meta = {k: obj["metadata"][k] for k in ("name", "namespace") if k in obj["metadata"]}
            files[path] = dump(
                {
                    "apiVersion": obj["apiVersion"],
                    "kind": key.kind,
                    "metadata": meta,
                    "$patch": "delete",
                }
            )
            patches.append({"path": path})
    kustomization: dict[str, Any] = {**KUSTOMIZATION, "resources": resources}
    if patches:
        kustomization["patches"] = patches
    files["kustomization.yaml"] = dump(kustomization)
    return dict(sorted(files.items()))


def layout_env_file_secrets(
    base: list[Obj], applied: list[Obj], secrets: list[SecretSpec], values: SecretValues
) -> Files:
    """secrets mode env-file: the gitignored `secrets/` kustomization, paths relative to the
    environment's directory.

    A whole overlay of its own over the base (kustomize refuses a kustomization that includes
    its parent directory): the environment's objects with the pod-template checksum annotations
    that roll the pods when a value changes, plus the Secrets from the rendered .env files
    (secretGenerator). `kubectl apply -k build/<env>/secrets` applies the environment with its
    Secrets; the committed `build/<env>` builds from a clean clone without them.
    """
    objects = [o for o in applied if o["kind"] != "Secret"]
    namespaces = {
        o["metadata"]["name"]: o["metadata"]["namespace"] for o in applied if o["kind"] == "Secret"
    }
    overlay = layout_overlay(base, objects, secrets, None, "")
    kustomization = yaml.safe_load(overlay.pop("kustomization.yaml"))
    kustomization["resources"] = [
        "../../base" if r == "../base" else r for r in kustomization["resources"]
    ]
    kustomization["secretGenerator"] = [
        {
            "name": spec.name,
            "namespace": namespaces[spec.name],
            "type": "Opaque",
            "envs": [spec.file_name],
            # The guide's kubectl commands use these exact names; pods roll through the
            # checksum annotation instead of a name suffix.
            "options": {"disableNameSuffixHash": True},
        }
        for spec in secrets
    ]
    files = {f"{SECRETS_DIR}/{path}": content for path, content in overlay.items()}
    files[f"{SECRETS_DIR}/kustomization.yaml"] = dump(kustomization)
    for spec in secrets:
        lines = [f"{key}={values.values[spec.name][key]}\n" for key, _ in spec.keys]
        files[f"{SECRETS_DIR}/{spec.file_name}"] = "".join(sorted(lines))
    return dict(sorted(files.items()))


def _version(obj: Obj) -> str:
    return str(obj["apiVersion"]).rpartition("/")[2]


def _escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def json_patch(old: Any, new: Any, path: str = "") -> list[dict[str, Any]]:
    """RFC 6902 operations that turn old into new: one per changed field, lists whole."""
    if isinstance(old, dict) and isinstance(new, dict):
        ops: list[dict[str, Any]] = [
            {"op": "remove", "path": f"{path}/{_escape(k)}"} for k in old if k not in new
        ]
        for k, value in new.items():
            child = f"{path}/{_escape(k)}"
            if k not in old:
                ops.append({"op": "add", "path": child, "value": value})
            else:
                ops += json_patch(old[k], value, child)
        return ops
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        return [
            op
            for i, (a, b) in enumerate(zip(old, new, strict=True))
            for op in json_patch(a, b, f"{path}/{i}")
        ]
    if old == new and type(old) is type(new):
        return []
    return [{"op": "replace", "path": path, "value": new}]
