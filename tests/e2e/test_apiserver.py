"""Every rendered environment, applied to a real kube-apiserver (see conftest.py).

Per target, in this order, on a cluster of its own: every kind is served; a server-side
dry run and then the real server-side apply accept every object; a second apply
changes no resourceVersion; `kubectl diff --server-side` is empty. Then the server
proves it is really checking: a changed Deployment selector (immutable) and a field
unknown to the schema (strict field validation) are both rejected.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from tests.e2e.conftest import Deployed, Obj

# One of the two longest files of `make e2e` (a fresh API server per target, one after
# the other): what it starts runs at the normal CPU priority (conftest.scheduling_priority).
pytestmark = [pytest.mark.e2e, pytest.mark.e2e_critical_path]

FIELD_MANAGER = "harvester-gen"
# The negative tests apply as another manager, so that their partial objects never
# take fields away from harvester-gen.
PROBE_MANAGER = "harvester-e2e-probe"
APPLY = ("apply", "--server-side", f"--field-manager={FIELD_MANAGER}")

Key = tuple[str, str, str, str]

# Kinds that kube-apiserver itself rewrites on the first update after create, with no
# change visible through the API. A PersistentVolumeClaim is stored with an empty
# status on create (the PV controller, absent here, would fill it in at once); reads
# default status.phase to Pending, and the first update, even a no-op apply, stores
# that defaulted status: a new resourceVersion, identical content.
STORAGE_REWRITES = frozenset({"PersistentVolumeClaim"})


def key(obj: Obj) -> Key:
    meta = obj.get("metadata") or {}
    return (obj["apiVersion"], obj["kind"], meta.get("namespace") or "", meta["name"])


def show(k: Key) -> str:
    api_version, kind, namespace, name = k
    return f"{kind}.{api_version} {namespace + '/' if namespace else ''}{name}"


def version_of(obj: Obj) -> str:
    version: str = obj["metadata"]["resourceVersion"]
    return version


def without_version(obj: Obj) -> Obj:
    return {**obj, "metadata": {k: v for k, v in obj["metadata"].items() if k != "resourceVersion"}}


def warnings(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("Warning:")]


def served_kinds(deployed: Deployed) -> dict[tuple[str, str], bool]:
    """(apiVersion, kind) -> namespaced, for every group-version the target uses."""
    served: dict[tuple[str, str], bool] = {}
    for api_version in sorted({obj["apiVersion"] for obj in deployed.objects}):
        path = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
        found = deployed.cluster.get_json(path)  # discovery, as `kubectl get --raw` reads it
        if found is None:
            continue  # the group-version is not served at all
        for resource in found["resources"]:
            if "/" not in resource["name"]:  # not a subresource
                served[(api_version, resource["kind"])] = bool(resource["namespaced"])
    return served


def ensure_namespaces(deployed: Deployed) -> None:
    """Create the namespaces the objects live in, before any (dry-run) apply of them.

    A server-side dry run creates nothing, so the namespaced objects of a first dry
    run would be refused for want of their namespace. The Namespace objects in the
    output are applied for real, as the same manager (the full apply then finds them
    unchanged); a namespace used but not in the output is created bare.
    """
    namespaces = [obj for obj in deployed.objects if obj["kind"] == "Namespace"]
    if namespaces:
        code, _, err = deployed.kubectl(*APPLY, "-f", "-", stdin=yaml.safe_dump_all(namespaces))
        assert code == 0, f"applying the Namespace objects failed:\n{err}"
    own = {obj["metadata"]["name"] for obj in namespaces}
    served = served_kinds(deployed)
    used = {
        obj["metadata"].get("namespace") or "default"
        for obj in deployed.objects
        if served.get((obj["apiVersion"], obj["kind"]), False)
    }
    for namespace in sorted(used - own - {"default"}):
        code, _, err = deployed.kubectl("get", "namespace", namespace)
        if code != 0:
            code, _, err = deployed.kubectl("create", "namespace", namespace)
            assert code == 0, f"creating namespace {namespace} failed:\n{err}"


def apply_json(deployed: Deployed) -> dict[Key, Obj]:
    """Server-side apply of the whole target; the live objects it returns, by key."""
    code, out, err = deployed.kubectl(*APPLY, "-k", str(deployed.directory), "-o", "json")
    assert code == 0, f"server-side apply of {deployed.target.id} was rejected:\n{err}"
    assert not warnings(err), "the server warned:\n" + "\n".join(warnings(err))
    doc: Any = json.loads(out)
    items: list[Obj] = doc["items"] if doc.get("kind") == "List" else [doc]
    return {key(item): item for item in items}


def first_deployment(deployed: Deployed) -> Obj:
    if deployed.applied is None:
        pytest.fail("the apply test did not run or failed: nothing to probe")
    for obj in deployed.applied:
        if obj["kind"] == "Deployment":
            return obj
    pytest.fail(f"{deployed.target.id} renders no Deployment to probe the server with")


def probe_apply(deployed: Deployed, obj: Obj, *extra: str) -> tuple[int, str]:
    code, _, err = deployed.kubectl(
        "apply", "--server-side", f"--field-manager={PROBE_MANAGER}", "--force-conflicts",
        "--validate=strict", *extra, "-f", "-", stdin=json.dumps(obj),
    )  # fmt: skip
    return code, err


def resource_version(deployed: Deployed, obj: Obj) -> str:
    meta = obj["metadata"]
    code, out, err = deployed.kubectl(
        "get", obj["kind"].lower(), meta["name"], "-n", meta["namespace"],
        "-o", "jsonpath={.metadata.resourceVersion}",
    )  # fmt: skip
    assert code == 0, err
    return out


def test_every_kind_is_served(deployed: Deployed) -> None:
    """No object of a kind the server does not know (a CRD would have to come first)."""
    assert deployed.objects, f"{deployed.target.id} renders nothing"
    served = served_kinds(deployed)
    unknown = sorted(
        {
            show(key(obj))
            for obj in deployed.objects
            if (obj["apiVersion"], obj["kind"]) not in served
        }
    )
    assert not unknown, (
        f"{deployed.target.id} renders objects of kinds that kube-apiserver does not serve "
        f"(no CRDs are installed here): {', '.join(unknown)}"
    )


def test_server_dry_run_accepts_everything(deployed: Deployed) -> None:
    ensure_namespaces(deployed)
    code, out, err = deployed.kubectl(*APPLY, "--dry-run=server", "-k", str(deployed.directory))
    assert code == 0, f"server-side dry run of {deployed.target.id} was rejected:\n{err}"
    assert not warnings(err), "the server warned:\n" + "\n".join(warnings(err))
    lines = out.splitlines()
    assert len(lines) == len(deployed.objects), out
    assert all(line.endswith("serverside-applied (server dry run)") for line in lines), out


def test_apply_accepts_everything(deployed: Deployed) -> None:
    ensure_namespaces(deployed)
    live = apply_json(deployed)
    assert sorted(live) == sorted(key(obj) for obj in deployed.objects)
    deployed.applied = list(live.values())
    # The store really has them: every kind read back, in one kubectl run (each costs a
    # Go process's start), each line `<resource>.<group>/<name>`.
    kinds = sorted({(k[0], k[1]) for k in live})
    resources = [
        kind.lower() + ("." + api_version.split("/")[0] if "/" in api_version else "")
        for api_version, kind in kinds
    ]
    code, out, err = deployed.kubectl("get", ",".join(resources), "-A", "-o", "name")
    assert code == 0, err
    listed = {tuple(line.split("/", 1)) for line in out.splitlines()}
    for (_, kind), resource in zip(kinds, resources, strict=True):
        names = {name for prefix, name in listed if prefix == resource}
        assert {k[3] for k in live if k[1] == kind} <= names, f"{kind}: {out}"


def test_second_apply_changes_nothing(deployed: Deployed) -> None:
    """A re-apply of the same manifests writes nothing, a third one not even that.

    Every object must come back from the second apply exactly as the first left it,
    resourceVersion included, with one exception known from kube-apiserver itself:
    the kinds in STORAGE_REWRITES may get a new resourceVersion with the very same
    content. The third apply must then leave every resourceVersion as it was.
    """
    if deployed.applied is None:
        pytest.fail("the apply test did not run or failed")
    first = {key(obj): obj for obj in deployed.applied}
    second = apply_json(deployed)
    assert second.keys() == first.keys()
    changed = sorted(
        show(k) for k in first if without_version(first[k]) != without_version(second[k])
    )
    assert not changed, f"a second apply of the same manifests changed: {', '.join(changed)}"
    bumped = sorted(
        show(k)
        for k in first
        if version_of(first[k]) != version_of(second[k]) and k[1] not in STORAGE_REWRITES
    )
    assert not bumped, (
        f"a second apply wrote (same content, new resourceVersion): {', '.join(bumped)}"
    )
    third = apply_json(deployed)
    bumped = sorted(show(k) for k in second if version_of(second[k]) != version_of(third[k]))
    assert not bumped, f"a third apply of the same manifests wrote: {', '.join(bumped)}"


def test_server_side_diff_is_empty(deployed: Deployed) -> None:
    code, out, err = deployed.kubectl(
        "diff", "--server-side", f"--field-manager={FIELD_MANAGER}", "-k", str(deployed.directory)
    )
    assert (code, out) == (0, ""), f"kubectl diff exited {code} after apply:\n{out}{err}"


def test_server_rejects_changing_an_immutable_selector(deployed: Deployed) -> None:
    live = first_deployment(deployed)
    meta = live["metadata"]
    label = {"harvester-e2e/probe": "changed"}
    # The pod template's labels change along, so that only the immutability is wrong.
    selector = {**live["spec"]["selector"]["matchLabels"], **label}
    template_labels = {**live["spec"]["template"]["metadata"]["labels"], **label}
    probe = {
        "apiVersion": live["apiVersion"],
        "kind": live["kind"],
        "metadata": {"name": meta["name"], "namespace": meta["namespace"]},
        "spec": {
            "selector": {"matchLabels": selector},
            "template": {"metadata": {"labels": template_labels}},
        },
    }
    version = resource_version(deployed, live)
    code, err = probe_apply(deployed, probe)
    assert code != 0, "kube-apiserver accepted a change of an immutable Deployment selector"
    assert "field is immutable" in err, err
    assert resource_version(deployed, live) == version


def test_server_rejects_an_unknown_field(deployed: Deployed) -> None:
    live = first_deployment(deployed)
    meta = live["metadata"]
    probe = {
        "apiVersion": live["apiVersion"],
        "kind": live["kind"],
        "metadata": {"name": meta["name"], "namespace": meta["namespace"]},
        "spec": {"replicas": live["spec"].get("replicas", 1)},
    }
    # The same probe without the unknown field is fine: the field alone is refused.
    code, err = probe_apply(deployed, probe, "--dry-run=server")
    assert code == 0, err
    probe["spec"]["harvesterNotAField"] = True
    code, err = probe_apply(deployed, probe)
    assert code != 0, "kube-apiserver accepted a field that its schema does not declare"
    assert "harvesterNotAField" in err, err
