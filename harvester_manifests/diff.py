"""What a render would change in the output on disk, object by object, for a reviewer.

Both sides are built by the real kustomize (kustomizer.py): the planned files (`render.plan`,
in memory) written into a private temporary directory, and the output directory as it is.
What is compared is therefore exactly what `kubectl apply -k` (or Argo CD) would apply, whatever
the layout (patches of any kind, generators, components). Objects are matched by group, kind,
namespace and name, then compared field by field. A Secret's values are compared but never
shown; files are only ever named, never shown (the secrets/*.env files hold values).
"""

from __future__ import annotations

import difflib
import json
import re
import shutil
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from harvester_manifests.clusterdiff import write_files
from harvester_manifests.components.common import Obj
from harvester_manifests.errors import ToolError
from harvester_manifests.kustomize import Files
from harvester_manifests.kustomizer import (
    KUSTOMIZATION_FILES,
    BuildFailed,
    Kustomize,
    ObjectId,
    missing_inputs,
)

BASE = "base"
REDACTED = "(secret value)"
SECRET_FIELDS = ("data", "stringData")


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
    key: str  # Kind/name, as shown (longer when two objects share it: group, namespace)
    change: str  # "added", "removed", "changed"
    fields: tuple[FieldChange, ...] = ()


@dataclass
class EnvironmentDiff:
    name: str
    change: str  # "added", "removed", "changed", "unchanged", "unreadable"
    objects: list[ObjectChange] = field(default_factory=list)
    problem: str = ""  # why the output on disk could not be built ("unreadable")
    absent: list[str] = field(default_factory=list)  # inputs not on disk, built as empty


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
            or any(e.change != "unchanged" or e.absent for e in self.environments)
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
    """Every directory with a kustomization one can apply (`kubectl apply -k`): each
    environment, and any layer inside one (a secrets/ layer); not base/, nor a Component."""
    return sorted(
        {
            directory
            for path, text in files.items()
            for directory, _, name in [path.rpartition("/")]
            if name in KUSTOMIZATION_FILES and directory.split("/")[0] not in ("", BASE)
            if not _is_component(text)
        }
    )


def _is_component(text: str) -> bool:
    try:
        spec = yaml.safe_load(text)
    except yaml.YAMLError:
        return False  # kustomize will say what is wrong with it
    return isinstance(spec, dict) and spec.get("kind") == "Component"


def compare(out: Path, planned: Files, envs: list[str] | None, kustomize: Kustomize) -> Diff:
    """Compare the output on disk in `out` with the planned files, both built by `kustomize`.

    `envs`: the environments the render writes; None for all (then an environment only on
    disk is removed, as `render --env all` removes it). ToolError when kustomize cannot run,
    or refuses the planned files; output on disk that does not build is reported, not raised.
    """
    before = {p: c for p, c in read_output(out).items() if in_scope(p, envs)}
    after = {p: c for p, c in planned.items() if in_scope(p, envs)}
    result = Diff(
        files_added=sorted(after.keys() - before.keys()),
        files_removed=sorted(before.keys() - after.keys()),
        files_changed=sorted(p for p in after.keys() & before.keys() if after[p] != before[p]),
    )
    old_envs, new_envs = environments_in(before), environments_in(after)
    with tempfile.TemporaryDirectory(prefix="harvester-gen-diff-") as tmp:
        render = Path(tmp) / "render"
        write_files(render, planned)  # all of it: a kustomization may refer to any of it
        disk = _OnDisk(out, Path(tmp) / "disk", kustomize)
        for env in sorted({*old_envs, *new_envs}):
            new = _planned(kustomize, render, env) if env in new_envs else None
            if env not in old_envs:
                result.environments.append(_one_sided(env, "added", new or {}))
                continue
            try:
                old, absent = disk.build(env)
            except BuildFailed as exc:
                result.environments.append(EnvironmentDiff(env, "unreadable", problem=str(exc)))
                continue
            if new is None:
                result.environments.append(_one_sided(env, "removed", old, absent))
            else:
                result.environments.append(_compare_environment(env, old, new, absent))
    return result


def _planned(kustomize: Kustomize, render: Path, env: str) -> dict[ObjectId, Obj]:
    try:
        return _by_id(kustomize.build(render / env, render, "<render>"))
    except BuildFailed as exc:  # what render would write does not build: a bug, or the tool
        raise ToolError(f"{kustomize.name} refused the planned {env}: {exc}") from None


class _OnDisk:
    """Builds the output on disk where it is; when inputs its generators read are missing
    (the gitignored secret values of a fresh clone), from a private copy with empty ones."""

    def __init__(self, out: Path, copy: Path, kustomize: Kustomize) -> None:
        self.out, self.copy, self.kustomize = out, copy, kustomize

    def build(self, env: str) -> tuple[dict[ObjectId, Obj], list[str]]:
        root = self.out.absolute()
        absent = missing_inputs(root / env)
        inside = [p.relative_to(root) for p in absent if p.is_relative_to(root)]
        if not absent or len(inside) < len(absent):  # outside the output: kustomize says so
            return _by_id(self.kustomize.build(root / env, root, str(self.out))), []
        if not self.copy.exists():
            shutil.copytree(root, self.copy, symlinks=True)
        for relative in inside:
            stand_in = self.copy / relative
            stand_in.parent.mkdir(parents=True, exist_ok=True)
            stand_in.touch()
        objects = self.kustomize.build(self.copy / env, self.copy, str(self.out))
        return _by_id(objects), [p.as_posix() for p in inside]


def _by_id(objects: list[Obj]) -> dict[ObjectId, Obj]:
    return {ObjectId.of(obj): obj for obj in objects}


def _labels(ids: set[ObjectId]) -> dict[ObjectId, str]:
    """Kind/name for each object; with group and namespace where two objects share it."""
    short = Counter(f"{i.kind}/{i.name}" for i in ids)
    labels = {}
    for i in ids:
        label = f"{i.kind}/{i.name}"
        if short[label] > 1:
            kind = f"{i.kind}.{i.group}" if i.group else i.kind
            label = f"{kind}/{i.name} in {i.namespace or '(no namespace)'}"
        labels[i] = label
    return labels


def _one_sided(
    env: str, change: str, objects: dict[ObjectId, Obj], absent: list[str] | None = None
) -> EnvironmentDiff:
    labels = _labels(set(objects))
    changes = sorted((ObjectChange(env, labels[i], change) for i in objects), key=lambda c: c.key)
    return EnvironmentDiff(env, change, changes, absent=absent or [])


def _compare_environment(
    env: str, old: dict[ObjectId, Obj], new: dict[ObjectId, Obj], absent: list[str]
) -> EnvironmentDiff:
    labels = _labels({*old, *new})
    changes = [ObjectChange(env, labels[i], "removed") for i in old if i not in new]
    changes += [ObjectChange(env, labels[i], "added") for i in new if i not in old]
    for i in new.keys() & old.keys():
        fields = tuple(object_changes(i, old[i], new[i]))
        if fields:
            changes.append(ObjectChange(env, labels[i], "changed", fields))
    changes.sort(key=lambda c: (c.key, c.change))
    return EnvironmentDiff(env, "changed" if changes else "unchanged", changes, absent=absent)


def is_secret(identity: ObjectId) -> bool:
    return (identity.group, identity.kind) == ("", "Secret")


def object_changes(identity: ObjectId, old: Obj, new: Obj) -> list[FieldChange]:
    """The changed fields of one object. A Secret's values are marked secret, key by key (a
    Secret without data compares as one with empty data: each key is then added or removed)."""
    if not is_secret(identity):
        return field_changes(old, new)
    old, new = dict(old), dict(new)
    for name in SECRET_FIELDS:
        if name in old or name in new:
            old[name] = old.get(name) or {}
            new[name] = new.get(name) or {}
    return field_changes(old, new, secret=True)


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
        if env.change == "unchanged" and not env.absent:
            continue
        if env.change == "unreadable":
            lines.append(f"{env.name}: the output on disk does not build: {env.problem}")
            continue
        if env.change in ("added", "removed"):
            lines.append(f"{env.name}: environment {env.change} ({len(env.objects)} objects)")
        else:
            lines.append(f"{env.name}:")
        if env.absent:
            lines.append(
                "  ! not on disk, built as empty (a fresh clone has no gitignored secret values;"
                " a render writes them):"
            )
            lines += [f"      {path}" for path in env.absent]
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
