"""Overlays read like a careful person wrote them: every changed field is named, never found by
counting. Strategic-merge patches name list elements by their merge key; a JSON 6902 path with
a list index is only allowed right after a `test` op that pins that element."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from harvester_manifests.patches import Path as FieldPath
from harvester_manifests.patches import merge_key, split_image
from tests.conftest import ENVS, ROOT, index, kustomize_build, run, tool

INDEX = re.compile(r"/(\d+)(?=/|$)")


def unpinned_indexes(ops: list[dict[str, Any]]) -> list[str]:
    """Paths of ops that address a list element no earlier `test` op pinned."""
    pinned: set[str] = set()
    bad = []
    for op in ops:
        if op["op"] == "test":
            pinned |= {op["path"][: m.end()] for m in INDEX.finditer(op["path"])}
            continue
        for m in INDEX.finditer(op["path"]):
            if op["path"][: m.end()] not in pinned:
                bad.append(op["path"])
    return bad


def unnamed_elements(kind: str, patch: Any, path: FieldPath = ()) -> list[str]:
    """Keyed-list elements of a strategic-merge patch that do not name their merge key."""
    bad: list[str] = []
    if isinstance(patch, dict):
        for key, value in patch.items():
            bad += unnamed_elements(kind, value, (*path, key))
    elif isinstance(patch, list) and path and (key := merge_key(kind, path)) is not None:
        for element in patch:
            if not isinstance(element, dict) or key not in element:
                bad.append("/".join(path))
            else:
                bad += unnamed_elements(kind, element, (*path, "[]"))
    return bad


def patch_files(directory: Path) -> list[Path]:
    return sorted((directory / "patches").glob("*.yaml"))


def assert_every_changed_field_is_named(overlay: Path) -> None:
    for path in patch_files(overlay):
        patch: Any = yaml.safe_load(path.read_text())
        if isinstance(patch, list):
            assert not unpinned_indexes(patch), f"{path.name}: {unpinned_indexes(patch)}"
        else:
            assert not unnamed_elements(patch["kind"], patch), path.name


@pytest.mark.parametrize("env", ENVS)
def test_every_changed_field_is_named(env: str, rendered: Path) -> None:
    assert_every_changed_field_is_named(rendered / env)


def test_the_check_catches_a_bare_index() -> None:
    bare = [{"op": "replace", "path": "/spec/template/spec/containers/0/env/1/value", "value": 1}]
    assert unpinned_indexes(bare) == [bare[0]["path"], bare[0]["path"]]
    pinned: list[dict[str, Any]] = [
        {"op": "test", "path": "/spec/template/spec/containers/0/name", "value": "api"},
        {"op": "test", "path": "/spec/template/spec/containers/0/env/1/name", "value": "X"},
        *bare,
    ]
    assert unpinned_indexes(pinned) == []
    smp = {"spec": {"template": {"spec": {"containers": [{"image": "x"}]}}}}
    assert unnamed_elements("Deployment", smp) == ["spec/template/spec/containers"]


def test_committed_json_patches_replace_only_tested_scalars() -> None:
    """A JSON 6902 patch of the committed environments stands for a strategic merge that would
    repeat an atomic list (an Ingress's tls and rules, container args) whole, or for a longer
    one that names no list element: every list index an op goes through is pinned by an
    earlier `test` (of the element's key, or of the old value at that path), and no list is
    written out whole."""
    for env in ENVS:
        for path in patch_files(ROOT / "build" / env):
            ops: Any = yaml.safe_load(path.read_text())
            if isinstance(ops, dict):
                continue
            assert {op["op"] for op in ops} <= {"test", "replace", "add", "remove"}, path
            for op in ops:
                assert not isinstance(op.get("value"), list), (path, op)
            assert unpinned_indexes(ops) == [], path


# What a reviewer reads of each committed environment (kustomization.yaml plus patches/; the
# resources/ files are whole objects only the environment has). The budgets are issue 12's:
# a change to what renders that makes an overlay longer than this fails here, and the new
# size has to be argued for.
OVERLAY_BUDGET = {"dev": 150, "staging": 100}


def overlay_lines(directory: Path) -> int:
    files = [directory / "kustomization.yaml", *sorted((directory / "patches").glob("*"))]
    return sum(len(f.read_text().splitlines()) for f in files if f.is_file())


@pytest.mark.parametrize("env", sorted(OVERLAY_BUDGET))
def test_committed_overlays_stay_within_their_line_budget(env: str) -> None:
    assert overlay_lines(ROOT / "build" / env) < OVERLAY_BUDGET[env]


def test_a_size_change_is_one_line_per_field() -> None:
    """Staging's volume sizes and HPA bounds: one `replace` per field, no list involved."""
    patches = ROOT / "build" / "staging" / "patches"
    ops = yaml.safe_load((patches / "persistentvolumeclaim-prometheus-data.yaml").read_text())
    assert ops == [{"op": "replace", "path": "/spec/resources/requests/storage", "value": "20Gi"}]
    text = (patches / "horizontalpodautoscaler-signal-harvester-api.yaml").read_text()
    assert text == (
        "- {op: replace, path: /spec/minReplicas, value: 1}\n"
        "- {op: replace, path: /spec/maxReplicas, value: 4}\n"
    )


INGRESS = """\
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web, namespace: ns}
spec:
  tls: [{hosts: [web.example.com], secretName: web-tls}]
  rules:
  - host: web.example.com
    http:
      paths:
      - path: /
        pathType: Prefix
        backend: {service: {name: web, port: {number: 80}}}
"""


def test_a_host_change_is_a_tested_replace_that_kustomize_applies(tmp_path: Path) -> None:
    """An Ingress's new host: `test` + `replace` on the two host fields (not the whole tls and
    rules lists); kustomize and kubectl apply it, and refuse it once the base holds another
    host at that index."""
    from harvester_manifests.kustomize import layout_base, layout_overlay

    base = [yaml.safe_load(INGRESS)]
    wanted = yaml.safe_load(INGRESS.replace("web.example.com", "web.dev.example.com"))
    for relative, text in layout_base(base).items():
        write(tmp_path / "base" / relative, text)
    for relative, text in layout_overlay(base, [wanted], [], None, "ns").items():
        write(tmp_path / "env" / relative, text)
    ops = yaml.safe_load((tmp_path / "env" / "patches" / "ingress-web.yaml").read_text())
    assert [(op["op"], op["path"]) for op in ops] == [
        ("test", "/spec/tls/0/hosts/0"),
        ("replace", "/spec/tls/0/hosts/0"),
        ("test", "/spec/rules/0/host"),
        ("replace", "/spec/rules/0/host"),
    ]
    kustomization = yaml.safe_load((tmp_path / "env" / "kustomization.yaml").read_text())
    assert kustomization["patches"] == [
        {"path": "patches/ingress-web.yaml", "target": {"kind": "Ingress", "name": "web"}}
    ]
    assert index(kustomize_build(tmp_path / "env")) == index([wanted])
    result = run(["kubectl", "kustomize", tmp_path / "env"])
    assert result.returncode == 0, result.stderr
    assert index([d for d in yaml.safe_load_all(result.stdout) if d]) == index([wanted])
    # The base moves its rules around: the test op stops the build instead of editing them.
    moved = yaml.safe_load(INGRESS)
    moved["spec"]["rules"].insert(0, {**moved["spec"]["rules"][0], "host": "other.example.com"})
    for relative, text in layout_base([moved]).items():
        write(tmp_path / "base" / relative, text)
    refused = run([tool("kustomize"), "build", tmp_path / "env"])
    assert refused.returncode != 0
    assert "test" in refused.stderr.lower(), refused.stderr


def test_a_keyed_list_change_stays_a_strategic_merge(tmp_path: Path) -> None:
    """An env var's new value: a strategic merge naming the container and the variable."""
    from harvester_manifests.kustomize import object_patch

    base = yaml.safe_load(BASE)
    wanted = yaml.safe_load(BASE)
    wanted["spec"]["template"]["spec"]["containers"][0]["env"][1]["value"] = "20"
    patch = object_patch(base, wanted)
    assert isinstance(patch, dict)
    assert patch["spec"] == {
        "template": {
            "spec": {
                "containers": [{"name": "a", "env": [{"name": "A"}, {"name": "B", "value": "20"}]}]
            }
        }
    }


@pytest.mark.parametrize(
    ("ref", "parts"),
    [
        ("prom/prometheus:v3.16.0", ("prom/prometheus", "v3.16.0", "")),
        ("localhost:5000/a/b", ("localhost:5000/a/b", "", "")),
        ("localhost:5000/a/b:v1@sha256:00", ("localhost:5000/a/b", "v1", "sha256:00")),
        ("a@sha256:00", ("a", "", "sha256:00")),
    ],
)
def test_image_references_split_as_kustomize_splits_them(
    ref: str, parts: tuple[str, str, str]
) -> None:
    assert split_image(ref) == parts


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


BASE = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: ns}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: a
        image: reg.example.com:5000/app:v1
        env: [{name: A, value: "1"}, {name: B, value: "2"}, {name: C, value: "3"}]
      - {name: b, image: side:1}
"""


def reordered(env_names: list[str]) -> dict[str, Any]:
    obj = yaml.safe_load(BASE)
    values = {"A": "1", "B": "2", "C": "3", "D": "4"}
    container = obj["spec"]["template"]["spec"]["containers"][0]
    container["env"] = [{"name": n, "value": values[n]} for n in env_names]
    return dict(obj)


@pytest.mark.parametrize(
    "env_names",
    [["A", "B", "C"], [], ["A", "D", "B", "C"], ["C", "A", "B"], ["A", "C"], ["D", "A", "B", "C"]],
)
def test_kustomize_builds_each_patch_to_the_wanted_object(
    env_names: list[str], tmp_path: Path
) -> None:
    """The real kustomize keeps the rendered order of every keyed list, whatever changes."""
    from harvester_manifests.kustomize import layout_base, layout_overlay

    base = [yaml.safe_load(BASE)]
    wanted = reordered(env_names)
    wanted["spec"]["template"]["spec"]["containers"][0]["image"] = "reg.example.com:5000/app:v2"
    for relative, text in layout_base(base).items():
        write(tmp_path / "base" / relative, text)
    for relative, text in layout_overlay(base, [wanted], [], None, "ns").items():
        write(tmp_path / "env" / relative, text)
    built = index(kustomize_build(tmp_path / "env"))
    assert built == index([wanted])
    kustomization = yaml.safe_load((tmp_path / "env" / "kustomization.yaml").read_text())
    assert kustomization["images"] == [{"name": "reg.example.com:5000/app", "newTag": "v2"}]
    result = run(["kubectl", "kustomize", tmp_path / "env"])
    assert result.returncode == 0, result.stderr
    assert index([d for d in yaml.safe_load_all(result.stdout) if d]) == index([wanted])
