"""The difference between two renders of one object, as a reviewer would write it by hand.

- Strategic-merge patches (SMP) first: maps merge key by key, and the lists Kubernetes merges by
  a key (containers, env, volumes, volumeMounts, ports, ...) are addressed by that key, never
  by position. A removed map key is `key: null`; a removed element is `$patch: delete`. Lists
  without a merge key (args, accessModes, Ingress rules, HPA policies) are atomic: the patch
  holds the whole new list.
- Kustomize's SMP puts the elements a patch names first, in the patch's order, then the rest
  (kubernetes-sigs/kustomize#5904). So a keyed list patch names every element up to the last
  one it changes, in the rendered order: the result has that order whether or not kustomize
  ever keeps the destination's order instead.
- Image changes go to the kustomization's `images:` and Deployment replica counts to its
  `replicas:` (`kustomize edit set image` and Argo CD's `kustomize.images` keep working).
- JSON 6902 only for what SMP cannot say (a keyed list SMP cannot keep in order, an emptied
  list or map), says only by repeating an atomic list whole (an Ingress's host, one of a
  container's args), or says at length for a change that touches no list (a volume size: one
  `replace` line instead of nine lines of SMP); kustomize.object_patch picks the shorter, and
  a change to a keyed list always stays SMP. Every list index in a path is pinned by a `test`
  op, on the element's merge key or, in a list without one, on the old value of the scalar
  being replaced. The ops are written one per line (yamlio.dump_ops), a table a reviewer reads
  down.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

Obj = dict[str, Any]
Path = tuple[str, ...]  # field names from the object's root; "[]" for "an element of"

_POD_LISTS = {"containers": "name", "initContainers": "name", "volumes": "name"}
_POD_LISTS |= {"imagePullSecrets": "name", "topologySpreadConstraints": "topologyKey"}
_CONTAINER_LISTS = {"env": "name", "volumeMounts": "mountPath", "ports": "containerPort"}


def merge_key(kind: str, path: Path) -> str | None:
    """The patchMergeKey Kubernetes' schema gives a list at `path`, or None (atomic list)."""
    name = path[-1]
    if kind == "Service" and path == ("spec", "ports"):
        return "port"
    if len(path) >= 3 and path[-3] in ("containers", "initContainers"):
        return _CONTAINER_LISTS.get(name)
    if path[:-1] == ("spec", "template", "spec"):
        return _POD_LISTS.get(name)
    return None


class Unsayable(Exception):
    """The change cannot be written as a strategic-merge patch that kustomize applies exactly."""


SAME = object()


def smp(kind: str, old: Any, new: Any, path: Path = ()) -> Any:
    """The SMP body that turns old into new, or SAME."""
    if new is None:
        raise Unsayable("/".join(path))
    if old is new:
        return SAME
    if isinstance(old, dict) and isinstance(new, dict):
        if old == new:
            return SAME
        if not new and old:
            raise Unsayable("/".join(path))  # SMP cannot leave an emptied map behind
        out: Obj = {}
        for key, value in new.items():
            if key not in old:
                out[key] = value
                continue
            diff = smp(kind, old[key], value, (*path, key))
            if diff is not SAME:
                out[key] = diff
        out |= {key: None for key in old if key not in new}
        return out or SAME
    if isinstance(old, list) and isinstance(new, list):
        key = merge_key(kind, path) if path else None
        if key is not None:
            return _keyed_list(kind, old, new, path, key)
        return SAME if old == new else new
    if old == new and type(old) is type(new):
        return SAME
    return new


def _keys(items: list[Any], key: str) -> list[Any] | None:
    if not all(isinstance(e, dict) and key in e for e in items):
        return None
    keys = [e[key] for e in items]
    return keys if len(set(map(repr, keys))) == len(keys) else None


def _keyed_list(kind: str, old: list[Any], new: list[Any], path: Path, key: str) -> Any:
    old_keys, new_keys = _keys(old, key), _keys(new, key)
    if old_keys is None or new_keys is None or not new:
        raise Unsayable("/".join(path))
    if old == new:
        return SAME
    old_by_key = dict(zip(old_keys, old, strict=True))
    # The shortest prefix of `new` the patch must name: what follows it is the old elements
    # that stay, unchanged and in their old order.
    cut = len(new)
    for n in range(len(new) + 1):
        named = set(new_keys[:n])
        if new[n:] == [e for e in old if e[key] in new_keys and e[key] not in named]:
            cut = n
            break
    patch: list[Any] = []
    for element in new[:cut]:
        if element[key] not in old_by_key:
            patch.append(element)
            continue
        diff = smp(kind, old_by_key[element[key]], element, (*path, "[]"))
        patch.append({key: element[key]} | ({} if diff is SAME else diff))
    patch += [{key: k, "$patch": "delete"} for k in old_keys if k not in new_keys]
    return patch


def _escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def json_patch(kind: str, old: Any, new: Any, path: Path = (), pointer: str = "") -> list[Obj]:
    """RFC 6902 operations: one per changed field; a keyed list element is addressed by index
    after a `test` op pins its key there; other lists are replaced whole."""
    if isinstance(old, dict) and isinstance(new, dict):
        if old == new and repr(old) == repr(new):
            return []  # the same, down to each value's type (1 and 1.0 are ==): nothing to say
        ops: list[Obj] = [
            {"op": "remove", "path": f"{pointer}/{_escape(k)}"} for k in old if k not in new
        ]
        for k, value in new.items():
            child = f"{pointer}/{_escape(k)}"
            if k not in old:
                ops.append({"op": "add", "path": child, "value": value})
            else:
                ops += json_patch(kind, old[k], value, (*path, k), child)
        return ops
    if isinstance(old, list) and isinstance(new, list) and old != new:
        key = merge_key(kind, path) if path else None
        if key is not None and _keys(old, key) is not None and _keys(old, key) == _keys(new, key):
            ops = []
            for i, (a, b) in enumerate(zip(old, new, strict=True)):
                inner = json_patch(kind, a, b, (*path, "[]"), f"{pointer}/{i}")
                if inner:
                    pin = f"{pointer}/{i}/{_escape(key)}"
                    ops += [{"op": "test", "path": pin, "value": a[key]}, *inner]
            return ops
        if key is None and len(old) == len(new):
            pinned = _pinned_scalars(kind, old, new, path, pointer)
            if pinned is not None:
                return pinned
        return [{"op": "replace", "path": pointer, "value": new}]
    if old == new and type(old) is type(new):
        return []
    return [{"op": "replace", "path": pointer, "value": new}]


def _pinned_scalars(
    kind: str, old: list[Any], new: list[Any], path: Path, pointer: str
) -> list[Obj] | None:
    """A list without a merge key whose elements differ only in scalars: each changed scalar
    as `test` (its old value) + `replace`, or None. The test pins the element: if the base
    ever holds something else at that index, the build fails instead of editing it."""
    ops: list[Obj] = []
    for i, (a, b) in enumerate(zip(old, new, strict=True)):
        for op in json_patch(kind, a, b, (*path, "[]"), f"{pointer}/{i}"):
            if op["op"] == "test":
                ops.append(op)
                continue
            if op["op"] != "replace" or isinstance(op["value"], dict | list):
                return None
            was = _at(a, op["path"][len(f"{pointer}/{i}") :])
            if isinstance(was, dict | list):
                return None
            if not ops or ops[-1] != {"op": "test", "path": op["path"], "value": was}:
                ops.append({"op": "test", "path": op["path"], "value": was})
            ops.append(op)
    return ops


def _at(obj: Any, pointer: str) -> Any:
    for part in pointer.split("/")[1:]:
        part = part.replace("~1", "/").replace("~0", "~")
        obj = obj[int(part)] if isinstance(obj, list) else obj[part]
    return obj


def atomic_lists(kind: str, patch: Any, path: Path = ()) -> bool:
    """Whether a strategic-merge patch holds a list without a merge key (repeated whole)."""
    if isinstance(patch, dict):
        return any(atomic_lists(kind, v, (*path, k)) for k, v in patch.items())
    if isinstance(patch, list):
        key = merge_key(kind, path) if path else None
        if key is None:
            return True
        return any(atomic_lists(kind, e, (*path, "[]")) for e in patch)
    return False


def keyed_lists(kind: str, patch: Any, path: Path = ()) -> bool:
    """Whether a strategic-merge patch names list elements by their merge key (containers,
    env, volumes): such a change stays a strategic merge, which names the element instead of
    its index."""
    if isinstance(patch, dict):
        return any(keyed_lists(kind, v, (*path, k)) for k, v in patch.items())
    if isinstance(patch, list):
        return merge_key(kind, path) is not None
    return False


# --- images: and replicas: ---------------------------------------------------------------------


def split_image(ref: str) -> tuple[str, str, str]:
    """(name, tag, digest) as kustomize splits an image reference ("" when absent)."""
    name, _, digest = ref.partition("@")
    colon = name.rfind(":")
    if colon > name.rfind("/"):
        return name[:colon], name[colon + 1 :], digest
    return name, "", digest


def set_image(entry: Obj, ref: str) -> str:
    """What kustomize's images transformer makes of `ref` with this entry."""
    name, tag, digest = split_image(ref)
    name = str(entry.get("newName", name))
    if "newTag" in entry or "digest" in entry:
        tag, digest = str(entry.get("newTag", "")), str(entry.get("digest", ""))
    return name + (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")


def _image_entry(old: str, new: str) -> Obj:
    (name, tag, digest), (name2, tag2, digest2) = split_image(old), split_image(new)
    entry: Obj = {"name": name}
    if name2 != name:
        entry["newName"] = name2
    if (tag2, digest2) != (tag, digest):
        if tag2:
            entry["newTag"] = tag2
        if digest2:
            entry["digest"] = digest2
    return entry


def _containers(obj: Obj) -> Iterator[Obj]:
    if obj["kind"] != "Deployment":
        return
    pod = obj["spec"]["template"]["spec"]
    for field_name in ("initContainers", "containers"):
        yield from pod.get(field_name, [])


@dataclass
class Transformers:
    """The kustomization's `images:` and `replicas:`, and the base as they leave it."""

    images: list[Obj] = field(default_factory=list)
    replicas: list[Obj] = field(default_factory=list)
    base: dict[Any, Obj] = field(default_factory=dict)


def transformers(base: dict[Any, Obj], env: dict[Any, Obj]) -> Transformers:
    """`images:` for every image whose every use changes the same way; `replicas:` for every
    Deployment whose count changes (kustomize's transformers apply to all resources)."""
    wanted: dict[str, list[tuple[str, str]]] = {}  # image name -> [(input, wanted)]
    for key, obj in env.items():
        source = base.get(key, obj)
        olds: dict[str, str] = {c["name"]: c["image"] for c in _containers(source)}
        for container in _containers(obj):
            new: str = container["image"]
            old = olds.get(container["name"], new)
            wanted.setdefault(split_image(old)[0], []).append((old, new))
    images: list[Obj] = []
    for pairs in wanted.values():
        changed = [(o, n) for o, n in pairs if o != n]
        if not changed:
            continue
        entry = _image_entry(*changed[0])
        if all(set_image(entry, o) == n for o, n in pairs):
            images.append(entry)
    result = Transformers(images=sorted(images, key=lambda e: e["name"]))
    by_name = {e["name"]: e for e in result.images}
    result.base = dict(base)  # Deployments are copied before they are transformed
    for key, obj in base.items():
        if obj["kind"] != "Deployment":
            continue
        target: Obj | None = env.get(key)
        count = None if target is None else target["spec"].get("replicas")
        if count == obj["spec"].get("replicas"):
            count = None
        retagged = any(split_image(c["image"])[0] in by_name for c in _containers(obj))
        if not retagged and count is None:
            continue
        obj = result.base[key] = copy.deepcopy(obj)
        for container in _containers(obj):
            found = by_name.get(split_image(container["image"])[0])
            if found is not None:
                container["image"] = set_image(found, container["image"])
        if count is not None:
            result.replicas.append({"name": obj["metadata"]["name"], "count": count})
            obj["spec"]["replicas"] = count
    return result
