"""Lays rendered objects out as Kustomize: a base and, per environment, the smallest overlay.

The base is the render of the defaults (the deployment guide). Each overlay turns the base into
its environment the way a careful person would write it by hand (patches.py): one
strategic-merge patch per changed object that names list elements by their merge key,
`images:` and `replicas:` for image and replica changes, JSON 6902 (with `test` ops pinning every
list index) only where a strategic merge cannot say the change or says it only by repeating a
list without a merge key whole (object_patch), new resources for objects only
it has, delete patches for objects it drops, and secretGenerators for the values from the .env.
The invariant the tests hold us to:
`kustomize build <out>/<env>` equals `stack.render_environment(<env's config>)`, object for object.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, NamedTuple

from harvester_manifests.components.common import Obj
from harvester_manifests.patches import (
    SAME,
    Unsayable,
    atomic_lists,
    json_patch,
    keyed_lists,
    smp,
    transformers,
)
from harvester_manifests.secrets import SecretSpec, SecretValues
from harvester_manifests.yamlio import Flow, dump, dump_ops, dump_shared, line_count

KUSTOMIZATION = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization"}
SECRETS_DIR = "secrets"
Files = dict[str, str]  # path relative to the output directory -> content
# object_patch's answers by the identity of the objects compared, for one environment laid out
# twice from the same objects (its committed overlay and its env-file secrets/ layer). The
# entries hold the objects, so no id is reused while the memo lives; the caller must not change
# the objects meanwhile (render.plan makes one per environment, right before both layouts).
PatchMemo = dict[tuple[int, int], tuple[Any, Any, Any, str]]


class Key(NamedTuple):
    """Identity of an object within one render (every object shares the namespace). A tuple:
    hashed and compared in C, as each environment's overlay looks up every object by it."""

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
    memo: PatchMemo | None = None,
) -> Files:
    """The overlay directory's files: kustomization.yaml, patches/, resources/.

    `secrets` and `values` are no longer used: the committed overlay never reads a .env (see
    layout_env_file_secrets for the gitignored layer that adds the Secrets).
    """
    files, kustomization = _overlay(base, env, memo)
    files["kustomization.yaml"] = dump_shared(kustomization)  # often the same in a fleet
    return dict(sorted(files.items()))


def _overlay(
    base: list[Obj], env: list[Obj], memo: PatchMemo | None
) -> tuple[Files, dict[str, Any]]:
    """layout_overlay's files but its kustomization.yaml, and that kustomization as data."""
    base_by_key = {Key.of(o): o for o in base}
    env_by_key = {Key.of(o): o for o in env if o["kind"] != "Secret"}
    files: Files = {}
    resources = ["../base"]
    patches: list[dict[str, Any]] = []
    transformed = transformers(base_by_key, env_by_key)
    kind_names = Counter((k.kind, k.name) for k in base_by_key)
    for key, obj in env_by_key.items():
        if key not in base_by_key:
            path = f"resources/{key.file_name}"
            files[path] = dump(obj)
            resources.append(path)
            continue
        patch, text = _remembered_patch(transformed.base[key], obj, memo)
        if patch is None:
            continue
        path = f"patches/{key.file_name}"
        files[path] = text
        if isinstance(patch, dict):  # strategic merge: the patch names its target
            patches.append({"path": path})
        else:
            patches.append({"path": path, "target": Flow(_target(key, obj, kind_names))})
    for key, obj in base_by_key.items():
        if key not in env_by_key:
            path = f"patches/delete-{key.file_name}"
            files[path] = dump_shared({**_identity(obj), "$patch": "delete"})
            patches.append({"path": path})
    kustomization: dict[str, Any] = {**KUSTOMIZATION, "resources": resources}
    if transformed.images:
        kustomization["images"] = transformed.images
    if transformed.replicas:
        kustomization["replicas"] = transformed.replicas
    if patches:
        kustomization["patches"] = patches
    return files, kustomization


def layout_env_file_secrets(
    base: list[Obj],
    applied: list[Obj],
    secrets: list[SecretSpec],
    values: SecretValues,
    memo: PatchMemo | None = None,
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
    overlay, kustomization = _overlay(base, objects, memo)
    # One level deeper: what the overlay reaches outside itself (the base) is one more `../`.
    kustomization["resources"] = [
        "../" + r if r.startswith("../") else r for r in kustomization["resources"]
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
    files[f"{SECRETS_DIR}/kustomization.yaml"] = dump_shared(kustomization)
    for spec in secrets:
        lines = [f"{key}={values.values[spec.name][key]}\n" for key, _ in spec.keys]
        files[f"{SECRETS_DIR}/{spec.file_name}"] = "".join(sorted(lines))
    return dict(sorted(files.items()))


def _identity(obj: Obj) -> Obj:
    """apiVersion, kind, name and namespace: how a strategic-merge patch names its target."""
    meta = {k: obj["metadata"][k] for k in ("name", "namespace") if k in obj["metadata"]}
    return {"apiVersion": obj["apiVersion"], "kind": obj["kind"], "metadata": meta}


# A JSON 6902 patch's entry in the kustomization: path, then `target: {kind: K, name: N}`.
TARGET_LINES = 2


def object_patch(old: Obj, new: Obj) -> Obj | list[Obj] | None:
    """A strategic-merge patch (a dict) where it can say the change, else JSON 6902 ops.

    A strategic-merge patch names its target by its own metadata, so it cannot move an object
    to another namespace: that takes JSON 6902 with a target selector.

    A list without a merge key (an Ingress's `tls` and `rules`, container `args`) is atomic
    to a strategic merge: changing one host repeats both lists whole, and the reader has to
    find the difference. Where such a change is only scalars, JSON 6902 says it field by
    field, each `replace` right after a `test` of the old value (the test pins the element:
    a base that holds something else at that index fails the build rather than being
    edited). That form is used when it is shorter, kustomization entry included: an Ingress's
    new host is 4 lines (tls and rules) instead of both lists' 21, a changed Prometheus flag
    names the one argument and its old value instead of repeating all eight. A change that
    needs a list written whole, or that a keyed strategic merge says shorter (env, resources),
    stays a strategic merge. A change that touches no list at all (a volume size, an HPA's
    bounds) is also written as JSON 6902 when shorter: its paths hold no index, so there is
    nothing to pin, and one op per line beats repeating the object's identity and nesting. A
    change to a keyed list (containers, env, volumes) is always a strategic merge, which names
    the element by its key."""
    try:
        if old["metadata"].get("namespace") != new["metadata"].get("namespace"):
            raise Unsayable("metadata/namespace")
        body = smp(new["kind"], old, new)
    except Unsayable:
        return json_patch(new["kind"], old, new) or None
    if body is SAME:
        return None
    identity = _identity(new)
    patch: Obj = {**identity, **{k: v for k, v in body.items() if k != "metadata"}}
    if "metadata" in body:
        patch["metadata"] = {**identity["metadata"], **body["metadata"]}
        patch = {k: patch[k] for k in ("apiVersion", "kind", "metadata")} | patch
    if atomic_lists(new["kind"], body) or not keyed_lists(new["kind"], body):
        ops = json_patch(new["kind"], old, new)
        if _lines(ops) + TARGET_LINES < _lines(patch) + 1 and not _whole_lists(ops):
            return ops
    return patch


def _remembered_patch(old: Obj, new: Obj, memo: PatchMemo | None) -> tuple[Any, str]:
    """object_patch(old, new) and its file's text ("" for no patch), once per pair in memo."""
    key = (id(old), id(new))
    if memo is not None and key in memo:
        return memo[key][2], memo[key][3]
    patch = object_patch(old, new)
    if patch is None:
        text = ""
    elif isinstance(patch, dict):
        text = dump_shared(patch)  # environments often share a strategic merge
    else:
        text = dump_ops(patch)
    if memo is not None:
        memo[key] = (old, new, patch, text)  # old and new held: their ids stay theirs
    return patch, text


def _lines(document: Any) -> int:
    """Counted without encoding where yamlio can (most strategic merges); else the dump the
    patch file would be, remembered (JSON 6902 ops are written one per line by dump_ops)."""
    if isinstance(document, list):
        return dump_ops(document).count("\n")
    counted = line_count(document)
    return counted if counted is not None else dump_shared(document).count("\n")


def _whole_lists(ops: list[Obj]) -> bool:
    return any(isinstance(op.get("value"), list) for op in ops)


def _target(key: Key, obj: Obj, kind_names: Counter[tuple[str, str]]) -> dict[str, str]:
    """kind and name; group and version too when another kind of that name and name exists."""
    if kind_names[(key.kind, key.name)] <= 1:
        return {"kind": key.kind, "name": key.name}
    target = {"group": key.group} if key.group else {}  # core kinds have no group
    return target | {"version": _version(obj), "kind": key.kind, "name": key.name}


def _version(obj: Obj) -> str:
    return str(obj["apiVersion"]).rpartition("/")[2]
