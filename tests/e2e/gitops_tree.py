"""The throwaway GitOps repository of the Argo CD e2e tests, and what goes around it.

Which environments are in GitOps mode, the tree committed for them (the committed
build/, or a render the test makes), the objects the test adds as the cluster's
owner (the AppProject and Application until build/argocd/ provides them, the secret
backend ESO reads), and the means to compare rendered and live objects.
"""

from __future__ import annotations

import base64
import copy
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
from tests.e2e.conftest import BUILD, ENV_EXAMPLE, NOT_ENVIRONMENTS, referenced_env_files
from tests.e2e.gitops import ARGOCD_NAMESPACE, Obj, documents, kubectl_ok

OVERLAYS = ROOT / "overlays"
NAMESPACE = "signal-harvester"
# The secret backend ESO reads, as a cluster would have it: a namespace of its own
# holding the operator's values (here .env.example's placeholders).
SOURCE_NAMESPACE = "harvester-e2e-secret-source"
SOURCE_SECRET = "harvester-env"
STORE = "harvester-e2e"
HAND_EDIT_MANAGER = "harvester-e2e-hand-edit"
Key = tuple[str, str, str, str]


def gitops_environments() -> list[str]:
    """Environments whose committed build/<env> builds from a plain checkout."""
    found = []
    for kustomization in sorted(BUILD.glob("*/kustomization.yaml")):
        directory = kustomization.parent
        if directory.name in NOT_ENVIRONMENTS or not (OVERLAYS / f"{directory.name}.yaml").exists():
            continue
        if not list(referenced_env_files(directory)):
            found.append(directory.name)
    return found


GITOPS_ENVS = gitops_environments()
# Until an environment is committed in GitOps mode, prove the harness on prod rendered
# with `secrets: {source: external}` by the test itself.
RENDERED_BY_TEST = not GITOPS_ENVS
ENVS = GITOPS_ENVS or ["prod"]


def harvester_gen(*args: str) -> None:
    gen = Path(sys.executable).parent / "harvester-gen"
    result = subprocess.run(
        [str(gen), *args], cwd=ROOT, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise HarnessError(f"harvester-gen {' '.join(args)} failed:\n{result.stderr}")


def overlays_copy(into: Path) -> Path:
    """The repo's overlays, in GitOps mode when the test renders the tree itself."""
    shutil.copytree(OVERLAYS, into)
    if RENDERED_BY_TEST:
        for path in sorted(into.glob("*.yaml")):
            data = yaml.safe_load(path.read_text()) or {}
            data["secrets"] = {"source": "external"}
            path.write_text(yaml.safe_dump(data, sort_keys=False))
    return into


def render_tree(config_dir: Path, out: Path) -> None:
    """`harvester-gen render --env all` of config_dir into out (replacing it)."""
    staging = out.with_name(out.name + ".render")
    shutil.rmtree(staging, ignore_errors=True)
    harvester_gen(
        "render", "--env", "all", "--config-dir", str(config_dir), "--out", str(staging),
        "--env-file", str(ENV_EXAMPLE),
    )  # fmt: skip
    for stale in staging.rglob("*.env"):
        stale.unlink()  # a GitOps repo holds no env file
    shutil.rmtree(out, ignore_errors=True)
    staging.rename(out)


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
        out = kubectl_ok(cluster, "get", *ns, *names, "-o", "json", "--ignore-not-found")
        if out.strip():
            parsed = json.loads(out)
            for obj in parsed.get("items", [parsed]) if parsed.get("kind") == "List" else [parsed]:
                found[key(obj)] = obj
    return found


def application(env: str, repo_url: str) -> Obj:
    """The Application the test points at the throwaway repository."""
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": f"signal-harvester-{env}", "namespace": ARGOCD_NAMESPACE},
        "spec": {
            "project": "harvester-e2e",
            "source": {"repoURL": repo_url, "targetRevision": "main", "path": f"build/{env}"},
            "destination": {"server": "https://kubernetes.default.svc", "namespace": NAMESPACE},
            "syncPolicy": {
                "automated": {"prune": True, "selfHeal": True},
                "syncOptions": ["ServerSideApply=true"],
            },
        },
    }


def app_project() -> Obj:
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


def secret_backend(cluster: Cluster, values: dict[str, str]) -> list[Obj]:
    """ESO's `kubernetes` provider, reading SOURCE_SECRET, as a ClusterSecretStore."""
    ca = Path(cluster.kubeconfig).parent / "pki" / "ca.crt"
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": SOURCE_NAMESPACE}},
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": SOURCE_SECRET, "namespace": SOURCE_NAMESPACE},
            "stringData": values,
        },
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "eso-token", "namespace": SOURCE_NAMESPACE},
            "stringData": {"token": cluster.token},
        },
        {
            "apiVersion": "external-secrets.io/v1",
            "kind": "ClusterSecretStore",
            "metadata": {"name": STORE},
            "spec": {
                "provider": {
                    "kubernetes": {
                        "remoteNamespace": SOURCE_NAMESPACE,
                        "server": {
                            "url": cluster.server,
                            "caBundle": base64.b64encode(ca.read_bytes()).decode(),
                        },
                        "auth": {
                            "token": {
                                "bearerToken": {
                                    "name": "eso-token",
                                    "key": "token",
                                    "namespace": SOURCE_NAMESPACE,
                                }
                            }
                        },
                    }
                }
            },
        },
    ]


def external_secrets(env: str) -> list[Obj]:
    """One ExternalSecret per Secret the environment needs (secrets.secret_specs)."""
    return [
        {
            "apiVersion": "external-secrets.io/v1",
            "kind": "ExternalSecret",
            "metadata": {"name": spec.name, "namespace": NAMESPACE},
            "spec": {
                "refreshInterval": "1h",
                "secretStoreRef": {"kind": "ClusterSecretStore", "name": STORE},
                "target": {"name": spec.name},
                "data": [
                    {"secretKey": k, "remoteRef": {"key": SOURCE_SECRET, "property": var}}
                    for k, var in spec.keys
                ],
            },
        }
        for spec in secret_specs(load_config(OVERLAYS, env))
    ]


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
