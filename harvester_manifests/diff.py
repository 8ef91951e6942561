"""What a render would change in the output on disk, object by object, for a reviewer.

Both sides are read the same way: the planned files (`render.plan`, in memory) and the files
under the output directory are each turned back into every environment's objects by reading
the layout `kustomize.py` writes (resources, images:, replicas:, strategic-merge, JSON and
delete patches, secretGenerators),
as `kustomize build` would. The objects are then compared field by field. A Secret's values
are compared but never shown; the secrets/*.env files are only ever named.
"""

from __future__ import annotations

import base64
import copy
import difflib
import json
import posixpath
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from harvester_manifests.components.common import Obj
from harvester_manifests.kustomize import Files
from harvester_manifests.patches import Path as FieldPath
from harvester_manifests.patches import merge_key, set_image, split_image

KUSTOMIZATION = "kustomization.yaml"
BASE = "base"
REDACTED = "(secret value)"


class LayoutError(Exception):
    """A directory that is not the layout harvester-gen writes (edited by hand, or foreign)."""


@dataclass(frozen=True)
class FieldChange:
    path: str  # spec.template.spec.containers[signal-harvester-api].image
    old: Any  # MISSING when added
    new: Any  # MISSING when removed
    secret: bool = False


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


@dataclass(frozen=True)
class ObjectChange:
    env: str
    key: str  # Kind/name
    change: str  # "added", "removed", "changed"
    fields: tuple[FieldChange, ...] = ()


@dataclass
class EnvironmentDiff:
    name: str
    change: str  # "added", "removed", "changed", "unchanged", "unreadable"
    objects: list[ObjectChange] = field(default_factory=list)
    problem: str = ""  # why the objects could not be compared ("unreadable")


@dataclass
class Diff:
    environments: list[EnvironmentDiff] = field(default_factory=list)
    files_added: list[str] = field(default_factory=list)
    files_removed: list[str] = field(default_factory=list)
    files_changed: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(
            self.files_added
            or self.files_removed
            or self.files_changed
            or any(e.change != "unchanged" for e in self.environments)
        )


def read_output(out: Path) -> Files:
    """Every file under `out` as text, by path relative to it ({} when there is no output)."""
    if not out.is_dir():
        return {}
    return {
        p.relative_to(out).as_posix(): p.read_text(encoding="utf-8", errors="replace")
        for p in sorted(out.rglob("*"))
        if p.is_file()
    }


def in_scope(path: str, envs: list[str] | None) -> bool:
    """Whether a file belongs to what a render of `envs` writes (None: everything)."""
    return envs is None or path.split("/", 1)[0] in {BASE, ".gitignore", *envs}


def environments_in(files: Files) -> list[str]:
    return sorted(
        path.split("/", 1)[0]
        for path in files
        if path.count("/") == 1 and path.endswith(f"/{KUSTOMIZATION}")
        if not path.startswith(f"{BASE}/")
    )


def compare(before: Files, after: Files, envs: list[str] | None) -> Diff:
    """Compare the output on disk (`before`) with the planned files (`after`).

    `envs`: the environments the render writes; None for all (then an environment only on
    disk is removed, as `render --env all` removes it).
    """
    before = {p: c for p, c in before.items() if in_scope(p, envs)}
    after = {p: c for p, c in after.items() if in_scope(p, envs)}
    result = Diff(
        files_added=sorted(after.keys() - before.keys()),
        files_removed=sorted(before.keys() - after.keys()),
        files_changed=sorted(p for p in after.keys() & before.keys() if after[p] != before[p]),
    )
    for env in sorted(set(environments_in(before)) | set(environments_in(after))):
        result.environments.append(_compare_environment(env, before, after))
    return result


def _compare_environment(env: str, before: Files, after: Files) -> EnvironmentDiff:
    try:
        old = objects_of(before, env) if f"{env}/{KUSTOMIZATION}" in before else None
    except LayoutError as exc:
        return EnvironmentDiff(env, "unreadable", problem=str(exc))
    new = objects_of(after, env) if f"{env}/{KUSTOMIZATION}" in after else None
    if old is None or new is None:
        change = "added" if old is None else "removed"
        objects = new if new is not None else old or {}
        return EnvironmentDiff(env, change, [ObjectChange(env, k, change) for k in objects])
    changes = [ObjectChange(env, k, "removed") for k in old if k not in new]
    changes += [ObjectChange(env, k, "added") for k in new if k not in old]
    for key in new.keys() & old.keys():
        fields = tuple(field_changes(old[key], new[key], secret=key.startswith("Secret/")))
        if fields:
            changes.append(ObjectChange(env, key, "changed", fields))
    changes.sort(key=lambda c: (c.key, c.change))
    return EnvironmentDiff(env, "changed" if changes else "unchanged", changes)


# ---------------------------------------------------------------------------------------------
# The layout read back into objects (what kustomize build gives, for what kustomize.py writes)


def objects_of(files: Files, env: str) -> dict[str, Obj]:
    """The objects `kustomize build <out>/<env>` gives, by Kind/name."""
    objects = _build(files, env, set())
    result: dict[str, Obj] = {}
    for obj in objects:
        result[_key(obj)] = obj
    return dict(sorted(result.items()))


def _key(obj: Obj) -> str:
    try:
        return f"{obj['kind']}/{obj['metadata']['name']}"
    except (KeyError, TypeError):
        raise LayoutError(f"not a Kubernetes object: {str(obj)[:80]}") from None


def _load(files: Files, path: str) -> list[Any]:
    if path not in files:
        raise LayoutError(f"{path}: missing")
    try:
        return [doc for doc in yaml.safe_load_all(files[path]) if doc is not None]
    except yaml.YAMLError as exc:
        raise LayoutError(f"{path}: invalid YAML ({exc})") from None


def _build(files: Files, directory: str, seen: set[str]) -> list[Obj]:
    if directory in seen:
        raise LayoutError(f"{directory}: includes itself")
    seen.add(directory)
    path = f"{directory}/{KUSTOMIZATION}"
    docs = _load(files, path)
    if len(docs) != 1 or not isinstance(docs[0], dict):
        raise LayoutError(f"{path}: not a kustomization")
    spec: dict[str, Any] = docs[0]
    written = {
        "apiVersion",
        "kind",
        "resources",
        "images",
        "replicas",
        "patches",
        "secretGenerator",
    }
    unknown = set(spec) - written
    if unknown:
        raise LayoutError(f"{path}: {', '.join(sorted(unknown))}: not written by harvester-gen")
    objects: list[Obj] = []
    for entry in spec.get("resources") or []:
        target = posixpath.normpath(posixpath.join(directory, str(entry)))
        if f"{target}/{KUSTOMIZATION}" in files:
            objects += _build(files, target, seen)
        else:
            objects += _load(files, target)
    # kustomize.py writes the patches against the base as images: and replicas: leave it.
    objects = _transform(objects, spec.get("images") or [], spec.get("replicas") or [])
    for patch in spec.get("patches") or []:
        objects = _patch(files, directory, objects, patch)
    for generator in spec.get("secretGenerator") or []:
        objects.append(_secret(files, directory, generator))
    return objects


def _patch(files: Files, directory: str, objects: list[Obj], patch: dict[str, Any]) -> list[Obj]:
    path = posixpath.join(directory, str(patch.get("path")))
    docs = _load(files, path)
    if len(docs) == 1 and isinstance(docs[0], dict) and docs[0].get("$patch") == "delete":
        doomed = _key(docs[0])
        return [o for o in objects if _key(o) != doomed]
    if len(docs) == 1 and isinstance(docs[0], dict) and "target" not in patch:
        named = _key(docs[0])  # a strategic merge names its target by its own metadata
        return [_merge(o["kind"], o, docs[0], ()) if _key(o) == named else o for o in objects]
    if len(docs) != 1 or not isinstance(docs[0], list) or "target" not in patch:
        raise LayoutError(f"{path}: neither a patch with its target nor a delete patch")
    target = patch["target"]
    result = []
    for obj in objects:
        if obj.get("kind") == target.get("kind") and obj["metadata"].get("name") == target.get(
            "name"
        ):
            obj = copy.deepcopy(obj)
            for op in docs[0]:
                obj = _apply(obj, op, path)
        result.append(obj)
    return result


def _merge(kind: str, old: Any, patch: Any, path: FieldPath) -> Any:
    """A strategic merge of the forms patches.smp writes: maps key by key (null removes),
    keyed lists by merge key (named elements first, in the patch's order, then the rest;
    `$patch: delete` removes), other lists and scalars replaced."""
    if isinstance(old, dict) and isinstance(patch, dict):
        merged = dict(old)
        for key, value in patch.items():
            if value is None:
                merged.pop(key, None)
            elif key in merged:
                merged[key] = _merge(kind, merged[key], value, (*path, key))
            else:
                merged[key] = value
        return merged
    key = merge_key(kind, path) if path else None
    if isinstance(old, list) and isinstance(patch, list) and key is not None:
        by_key = {e.get(key): e for e in old if isinstance(e, dict)}
        named = [e.get(key) for e in patch if isinstance(e, dict)]
        result = []
        for element in patch:
            if not isinstance(element, dict) or element.get("$patch") == "delete":
                continue
            found = by_key.get(element.get(key))
            item = element if found is None else _merge(kind, found, element, (*path, "[]"))
            result.append(item)
        return result + [e for e in old if not isinstance(e, dict) or e.get(key) not in named]
    return copy.deepcopy(patch)


def _transform(objects: list[Obj], images: list[Any], replicas: list[Any]) -> list[Obj]:
    """What the kustomization's `images:` and `replicas:` do to the Deployments."""
    by_image = {str(e.get("name")): e for e in images if isinstance(e, dict)}
    counts = {str(e.get("name")): e.get("count") for e in replicas if isinstance(e, dict)}
    result = []
    for obj in objects:
        if obj.get("kind") == "Deployment":
            obj = copy.deepcopy(obj)
            pod = obj["spec"]["template"]["spec"]
            for container in [*pod.get("initContainers", []), *pod.get("containers", [])]:
                entry = by_image.get(split_image(str(container.get("image")))[0])
                if entry is not None:
                    container["image"] = set_image(entry, str(container["image"]))
            if obj["metadata"].get("name") in counts:
                obj["spec"]["replicas"] = counts[obj["metadata"]["name"]]
        result.append(obj)
    return result


def _pointer(path: str) -> list[str]:
    return [p.replace("~1", "/").replace("~0", "~") for p in path.split("/")[1:]]


def _apply(obj: Obj, op: dict[str, Any], source: str) -> Obj:
    """One RFC 6902 operation of the kinds json_patch writes: test, add, remove, replace."""
    try:
        *parents, last = _pointer(op["path"])
        node: Any = obj
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        kind = op["op"]
        if kind == "test":
            found = node[int(last)] if isinstance(node, list) else node[last]
            if found != op["value"]:
                raise LayoutError(f"{source}: test {op['path']}: {found!r} is not {op['value']!r}")
        elif isinstance(node, list):
            index = len(node) if last == "-" else int(last)
            if kind == "add":
                node.insert(index, op["value"])
            elif kind == "remove":
                del node[index]
            elif kind == "replace":
                node[index] = op["value"]
            else:
                raise LayoutError(f"{source}: unsupported op {kind}")
        elif kind in ("add", "replace"):
            node[last] = op["value"]
        elif kind == "remove":
            del node[last]
        else:
            raise LayoutError(f"{source}: unsupported op {kind}")
    except (KeyError, IndexError, ValueError, TypeError) as exc:
        raise LayoutError(f"{source}: {op.get('op')} {op.get('path')}: {exc!r}") from None
    return obj


def _secret(files: Files, directory: str, generator: dict[str, Any]) -> Obj:
    """The Secret a secretGenerator makes; a missing env file gives a Secret without data."""
    data: dict[str, str] = {}
    for env in generator.get("envs") or []:
        path = posixpath.join(directory, str(env))
        if path in files:
            # The files render writes: KEY=VALUE lines, verbatim (kustomize reads them so).
            for line in files[path].splitlines():
                key, sep, value = line.partition("=")
                if sep and not line.lstrip().startswith("#"):
                    data[key.strip()] = base64.b64encode(value.encode()).decode()
    meta = {"name": generator.get("name"), "namespace": generator.get("namespace")}
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": meta}
    return {**secret, "type": generator.get("type", "Opaque"), "data": dict(sorted(data.items()))}


# ---------------------------------------------------------------------------------------------
# Field by field

_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


def _child(path: str, key: str) -> str:
    if _PLAIN_KEY.match(key):
        return f"{path}.{key}" if path else key
    return f"{path}[{json.dumps(key)}]"


def _named(items: list[Any]) -> dict[str, Any] | None:
    """List items by their `name` when every item has a distinct one (containers, ports...)."""
    if not all(isinstance(i, dict) and isinstance(i.get("name"), str) for i in items):
        return None
    by_name = {i["name"]: i for i in items}
    return by_name if len(by_name) == len(items) else None


def field_changes(old: Any, new: Any, path: str = "", secret: bool = False) -> list[FieldChange]:
    """Every changed leaf between old and new, with its path; Secret data is marked secret."""
    if isinstance(old, dict) and isinstance(new, dict):
        changes: list[FieldChange] = []
        for key in [*old, *(k for k in new if k not in old)]:
            child = _child(path, str(key))
            hidden = secret and (path in ("data", "stringData"))
            if key not in new:
                changes.append(FieldChange(child, old[key], MISSING, hidden))
            elif key not in old:
                changes.append(FieldChange(child, MISSING, new[key], hidden))
            elif hidden:
                if old[key] != new[key]:
                    changes.append(FieldChange(child, old[key], new[key], True))
            else:
                changes += field_changes(old[key], new[key], child, secret)
        return changes
    if isinstance(old, list) and isinstance(new, list):
        old_named, new_named = _named(old), _named(new)
        if old_named is not None and new_named is not None and list(old_named) == list(new_named):
            return [
                change
                for name, item in new_named.items()
                for change in field_changes(old_named[name], item, f"{path}[{name}]", secret)
            ]
        if len(old) == len(new):
            return [
                change
                for i, (a, b) in enumerate(zip(old, new, strict=True))
                for change in field_changes(a, b, f"{path}[{i}]", secret)
            ]
        return _list_changes(old, new, path, secret)
    if old == new and type(old) is type(new):
        return []
    return [FieldChange(path, old, new, secret and path.startswith(("data", "stringData")))]


def _list_changes(old: list[Any], new: list[Any], path: str, secret: bool) -> list[FieldChange]:
    """Items removed from and added to a list that changed length (indices of old and new)."""
    matcher = difflib.SequenceMatcher(
        a=[_value(i) for i in old], b=[_value(i) for i in new], autojunk=False
    )
    changes: list[FieldChange] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        changes += [FieldChange(f"{path}[{i}]", old[i], MISSING, secret) for i in range(i1, i2)]
        changes += [FieldChange(f"{path}[{j}]", MISSING, new[j], secret) for j in range(j1, j2)]
    return changes


# ---------------------------------------------------------------------------------------------
# The report a reviewer reads


def _value(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "), sort_keys=True)


def describe_field(change: FieldChange) -> list[str]:
    if change.secret:
        what = (
            "added" if change.old is MISSING else "removed" if change.new is MISSING else "changed"
        )
        return [f"~ {change.path}: {REDACTED} {what}"]
    if change.old is MISSING:
        return [f"+ {change.path}: {_value(change.new)}"]
    if change.new is MISSING:
        return [f"- {change.path}: {_value(change.old)}"]
    if (
        isinstance(change.old, str)
        and isinstance(change.new, str)
        and "\n" in change.old + change.new
    ):
        lines = difflib.unified_diff(
            change.old.splitlines(), change.new.splitlines(), lineterm="", n=1
        )
        body = [f"    {line}" for line in list(lines)[2:]]  # without the ---/+++ header
        return [f"~ {change.path}:", *body]
    return [f"~ {change.path}: {_value(change.old)} -> {_value(change.new)}"]


def report(diff: Diff) -> list[str]:
    """The diff as lines of text: per environment, each object; then the files by name."""
    lines: list[str] = []
    for env in diff.environments:
        if env.change == "unchanged":
            continue
        if env.change == "unreadable":
            lines.append(f"{env.name}: the output on disk is not harvester-gen's: {env.problem}")
            continue
        if env.change in ("added", "removed"):
            lines.append(f"{env.name}: environment {env.change} ({len(env.objects)} objects)")
        else:
            lines.append(f"{env.name}:")
        sign = {"added": "+", "removed": "-", "changed": "~"}
        for obj in env.objects:
            lines.append(f"  {sign[obj.change]} {obj.key}")
            lines += [f"      {line}" for f in obj.fields for line in describe_field(f)]
    files = [
        *(f"  + {p}" for p in diff.files_added),
        *(f"  - {p}" for p in diff.files_removed),
        *(f"  ~ {p}" for p in diff.files_changed),
    ]
    if files:
        lines.append(
            f"files: {len(diff.files_added)} added, {len(diff.files_removed)} removed, "
            f"{len(diff.files_changed)} changed"
        )
        lines += sorted(files, key=lambda line: line[4:])
    return lines
