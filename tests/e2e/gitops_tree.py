"""The throwaway GitOps repository of the Argo CD e2e tests, and what goes around it.

The GitOps-mode environments are those build/argocd/ has an Application for. The tree
committed to the throwaway repository is `harvester-gen render --env all` of a copy of
overlays/, with a gitops.yaml whose repoURL is that repository's file:// URL: so
build/argocd/ points at it, and every build/<env> is byte for byte the committed one
(the fixture checks). Around it, what a cluster owner provides: the secret store ESO
reads (ESO's `fake` provider, filled from .env.example under the key convention of the
README), the cluster Secrets of the named destinations.
"""

from __future__ import annotations

import copy
import filecmp
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from harvester_manifests.config.loader import load_config
from harvester_manifests.secrets import secret_specs
from tests.e2e.apiserver import ROOT, Cluster, HarnessError
from tests.e2e.conftest import BUILD, ENV_EXAMPLE
from tests.e2e.gitops import ARGOCD_NAMESPACE, Obj, documents, kubectl_ok

OVERLAYS = ROOT / "overlays"
ARGOCD_BUILD = BUILD / "argocd"
NAMESPACE = "signal-harvester"
HAND_EDIT_MANAGER = "harvester-e2e-hand-edit"
IN_CLUSTER = "https://kubernetes.default.svc"
Key = tuple[str, str, str, str]


def committed_applications() -> dict[str, Obj]:
    """env -> its Application in the committed build/argocd/."""
    found = {}
    for path in sorted(ARGOCD_BUILD.glob("application-*.yaml")):
        for app in documents(path.read_text()):
            if app.get("kind") == "Application":
                env = Path(app["spec"]["source"]["path"]).name
                if (OVERLAYS / f"{env}.yaml").exists():
                    found[env] = app
    return found


APPLICATIONS = committed_applications()
ENVS = sorted(APPLICATIONS)


def harvester_gen(*args: str) -> None:
    gen = Path(sys.executable).parent / "harvester-gen"
    command = [str(gen), *args]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise HarnessError(f"harvester-gen {' '.join(args)} failed:\n{result.stderr}")


def write_gitops_file(path: Path, repo_url: str) -> Path:
    """The repo's gitops.yaml with the throwaway repository as repoURL."""
    data = yaml.safe_load((ROOT / "gitops.yaml").read_text())
    data["repoURL"] = repo_url
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def render_tree(config_dir: Path, gitops_file: Path, out: Path) -> None:
    """`harvester-gen render --env all` of config_dir into out (replacing it)."""
    staging = out.with_name(out.name + ".render")
    shutil.rmtree(staging, ignore_errors=True)
    harvester_gen(
        "render", "--env", "all", "--config-dir", str(config_dir), "--gitops", str(gitops_file),
        "--out", str(staging), "--env-file", str(ENV_EXAMPLE),
    )  # fmt: skip
    shutil.rmtree(out, ignore_errors=True)
    staging.rename(out)


def differing_files(left: Path, right: Path) -> list[str]:
    """Relative paths that differ between two trees (missing on either side included)."""
    comparison = filecmp.dircmp(left, right, ignore=[])
    found: list[str] = []

    def walk(c: filecmp.dircmp[str], prefix: str) -> None:
        found.extend(prefix + n for n in [*c.left_only, *c.right_only, *c.diff_files])
        found.extend(prefix + n for n in c.funny_files)
        for name, sub in sorted(c.subdirs.items()):
            walk(sub, f"{prefix}{name}/")

    walk(comparison, "")
    return sorted(found)


def key(obj: Obj) -> Key:
    meta = obj.get("metadata") or {}
    group = obj["apiVersion"].rpartition("/")[0]
    return (group, obj["kind"], meta.get("namespace") or "", meta["name"])


def show_key(k: Key) -> str:
    group, kind, namespace, name = k
    return f"{kind}{'.' + group if group else ''} {namespace + '/' if namespace else ''}{name}"


def kustomize_build(directory: Path) -> dict[Key, Obj]:
    result = subprocess.run(
        [str(ROOT / "bin" / "kustomize"), "build", str(directory)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if result.returncode != 0:
        raise HarnessError(f"kustomize build {directory} failed:\n{result.stderr}")
    return {key(obj): obj for obj in documents(result.stdout)}


VOLATILE_METADATA = ("resourceVersion", "managedFields", "generation", "creationTimestamp", "uid")


def content(obj: Obj) -> Obj:
    """What an object says, without what the API server keeps about it."""
    meta = {k: v for k, v in obj["metadata"].items() if k not in VOLATILE_METADATA}
    return {**{k: v for k, v in obj.items() if k != "status"}, "metadata": meta}


def live_objects(cluster: Cluster, keys: list[Key]) -> dict[Key, Obj]:
    """The live objects for `keys` (absent ones left out), one kubectl call per namespace."""
    found: dict[Key, Obj] = {}
    by_namespace: dict[str, list[str]] = {}
    for group, kind, namespace, name in keys:
        by_namespace.setdefault(namespace, []).append(
            f"{kind.lower()}{'.' + group if group else ''}/{name}"
        )
    for namespace, names in sorted(by_namespace.items()):
        ns = [f"--namespace={namespace}"] if namespace else []
        out = kubectl_ok(
            cluster, "get", *ns, *names, "-o", "json", "--ignore-not-found", "--show-managed-fields"
        )
        if out.strip():
            parsed = json.loads(out)
            for obj in parsed["items"] if parsed.get("kind") == "List" else [parsed]:
                found[key(obj)] = obj
    return found


def edit_overlay(config_dir: Path, env: str, edit: dict[str, Any]) -> None:
    path = config_dir / f"{env}.yaml"
    data = yaml.safe_load(path.read_text()) or {}

    def merge(into: dict[str, Any], extra: dict[str, Any]) -> None:
        for k, v in extra.items():
            if isinstance(v, dict) and isinstance(into.get(k), dict):
                merge(into[k], v)
            else:
                into[k] = copy.deepcopy(v)

    merge(data, edit)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def store_key(env: str, secret: str, key: str) -> str:
    """Where the README tells the operator to put each value in the cluster's store."""
    return f"signal-harvester/{env}/{secret}/{key}"


def secret_store(env: str, rendered: dict[Key, Obj], values: dict[str, str]) -> list[Obj]:
    """The cluster's store, as its owner fills it: ESO's `fake` provider, holding each value
    of .env.example under the README's key, with the name and kind the ExternalSecrets use.
    """
    refs = {
        json.dumps(o["spec"]["secretStoreRef"], sort_keys=True)
        for o in rendered.values()
        if o["kind"] == "ExternalSecret"
    }
    data = [
        {"key": store_key(env, spec.name, k), "value": values[var]}
        for spec in secret_specs(load_config(OVERLAYS, env))
        for k, var in spec.keys
    ]
    stores = []
    for ref in sorted(refs):
        store_ref = json.loads(ref)
        store: Obj = {
            "apiVersion": "external-secrets.io/v1",
            "kind": store_ref.get("kind", "SecretStore"),
            "metadata": {"name": store_ref["name"]},
            "spec": {"provider": {"fake": {"data": data}}},
        }
        if store["kind"] == "SecretStore":
            store["metadata"]["namespace"] = NAMESPACE
        stores.append(store)
    return stores


def app_project() -> Obj:
    """A project of the test's own, for the Applications the test constructs."""
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AppProject",
        "metadata": {"name": "harvester-e2e", "namespace": ARGOCD_NAMESPACE},
        "spec": {
            "sourceRepos": ["*"],
            "destinations": [{"server": "*", "namespace": "*"}],
            "clusterResourceWhitelist": [{"group": "*", "kind": "*"}],
        },
    }


def application(name: str, repo_url: str, path: str, namespace: str) -> Obj:
    """An Application the test constructs (the broken renders): automated, Argo CD's defaults."""
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": name, "namespace": ARGOCD_NAMESPACE},
        "spec": {
            "project": "harvester-e2e",
            "source": {"repoURL": repo_url, "targetRevision": "main", "path": path},
            "destination": {"server": IN_CLUSTER, "namespace": namespace},
            "syncPolicy": {"automated": {"prune": True}},
        },
    }
