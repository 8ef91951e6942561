"""The Argo CD harness fails on a broken render, and its message names the object.

Two deliberately broken variants of a GitOps environment's render, each committed to
the throwaway repository and synced by the real Argo CD as an Application of its own:

- the API Deployment also reads a Secret that no secret mode produces: Argo CD syncs
  it (the API server accepts a Deployment whatever it references), and the harness's
  reference check fails, naming the Deployment and the Secret;
- a 300 KiB ConfigMap applied client-side (Argo CD's default, without the
  `ServerSideApply=true` sync option the render puts on its dashboards): the
  last-applied annotation exceeds the API server's 256 KiB limit on annotations, the
  sync fails, and the harness fails naming the ConfigMap.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from harvester_manifests.config.envfile import read_env_file
from tests.e2e.apiserver import Binaries, Etcd, HarnessError, kube_apiserver
from tests.e2e.conftest import ENV_EXAMPLE
from tests.e2e.gitops import (
    ArgoCD,
    GitOpsBinaries,
    GitRepo,
    apply,
    argocd,
    external_secrets_operator,
    garbage_collector,
    group_kind,
    wait_for_references,
)
from tests.e2e.gitops_tree import (
    ENVS,
    NAMESPACE,
    OVERLAYS,
    app_project,
    application,
    kustomize_build,
    render_tree,
    secret_store,
    write_gitops_file,
)

pytestmark = pytest.mark.e2e

ENV = ENVS[-1]
NO_SUCH_SECRET = "harvester-e2e-no-mode-makes-this"
BIG_NS = "harvester-e2e-big"
BIG_CONFIGMAP = "harvester-e2e-big-dashboard"
BIG_BYTES = 300 * 1024


@dataclass
class Broken:
    argo: ArgoCD
    repo: GitRepo


def write(path: Path, obj: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(obj, sort_keys=False))


def broken_secret_reference(repo: Path) -> None:
    """build/<env> plus one envFrom entry on the API Deployment that names nothing."""
    patch = [
        {
            "op": "add",
            "path": "/spec/template/spec/containers/0/envFrom/-",
            "value": {"secretRef": {"name": NO_SUCH_SECRET}},
        }
    ]
    write(
        repo / "broken" / "secret-ref" / "kustomization.yaml",
        {
            "apiVersion": "kustomize.config.k8s.io/v1beta1",
            "kind": "Kustomization",
            "resources": [f"../../build/{ENV}"],
            "patches": [
                {
                    "patch": json.dumps(patch),
                    "target": {"kind": "Deployment", "name": "signal-harvester-api"},
                }
            ],
        },
    )


def big_client_side_configmap(repo: Path) -> None:
    """A dashboard-sized ConfigMap of 300 KiB that Argo CD must apply client-side."""
    directory = repo / "broken" / "big-configmap"
    write(directory / "namespace.yaml", {
        "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": BIG_NS},
    })  # fmt: skip
    write(directory / "configmap.yaml", {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": BIG_CONFIGMAP,
            "namespace": BIG_NS,
        },
        "data": {"dashboard.json": json.dumps({"panels": "x" * BIG_BYTES})},
    })  # fmt: skip
    write(directory / "kustomization.yaml", {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": ["namespace.yaml", "configmap.yaml"],
    })  # fmt: skip


@pytest.fixture(scope="module")
def broken(
    e2e_workdir: Path, etcd_server: Etcd, binaries: Binaries, gitops_binaries: GitOpsBinaries
) -> Iterator[Broken]:
    workdir = e2e_workdir / "gitops-broken"
    try:
        with kube_apiserver(workdir / "api", etcd_server, binaries, "/registry-broken") as cluster:
            # Rendered first: Argo CD watches exactly the kinds the broken trees hold.
            repo = GitRepo(workdir / "repo", gitops_binaries.git)
            config_dir = workdir / "overlays"
            shutil.copytree(OVERLAYS, config_dir)
            gitops_file = write_gitops_file(workdir / "gitops.yaml", repo.url)
            render_tree(config_dir, gitops_file, repo.path / "build")
            broken_secret_reference(repo.path)
            big_client_side_configmap(repo.path)
            repo.commit("two broken renders")
            synced = [
                obj
                for tree in ("secret-ref", "big-configmap")
                for obj in kustomize_build(repo.path / "broken" / tree).values()
            ]
            with (
                argocd(
                    cluster, workdir / "argocd", gitops_binaries, map(group_kind, synced)
                ) as argo,
                external_secrets_operator(cluster, workdir / "eso", gitops_binaries),
                garbage_collector(cluster, workdir / "gc", gitops_binaries),
            ):
                argo.check_included(synced)
                rendered = kustomize_build(repo.path / "build" / ENV)
                apply(cluster, secret_store(ENV, rendered, read_env_file(ENV_EXAMPLE)))
                apply(cluster, [
                    app_project(),
                    application("broken-secret-ref", repo.url, "broken/secret-ref", NAMESPACE),
                    application(
                        "broken-big-configmap", repo.url, "broken/big-configmap", BIG_NS
                    ),
                ])  # fmt: skip
                for name in ("broken-secret-ref", "broken-big-configmap"):
                    argo.await_project(name)
                yield Broken(argo, repo)
    except HarnessError as err:
        pytest.fail(str(err), pytrace=False)


def test_a_secret_no_mode_produces_fails_naming_the_deployment(broken: Broken) -> None:
    app = broken.argo.wait_for_sync("broken-secret-ref")  # Kubernetes accepts it: Argo CD syncs it
    # Healthy means every ExternalSecret is: Argo CD's own check of one is ESO's Ready
    # condition, which ESO sets once it has written the Secret. So every Secret that will
    # ever exist exists now, and the check need not wait for ESO: one look is the verdict.
    external = [r for r in app["status"]["resources"] if r["kind"] == "ExternalSecret"]
    assert external, "the environment has no ExternalSecret"
    assert all((r.get("health") or {}).get("status") == "Healthy" for r in external), external
    with pytest.raises(HarnessError) as failure:
        wait_for_references(broken.argo.cluster, NAMESPACE, timeout=0)
    message = str(failure.value)
    assert f"Deployment {NAMESPACE}/signal-harvester-api: references Secret {NO_SUCH_SECRET}," in (
        message
    )
    assert len(message.splitlines()) == 2, message  # one problem: the real Secrets all resolve


def test_a_client_side_applied_big_configmap_fails_naming_it(broken: Broken) -> None:
    with pytest.raises(HarnessError) as failure:
        broken.argo.wait_for_sync("broken-big-configmap")
    message = str(failure.value)
    assert f"ConfigMap {BIG_NS}/{BIG_CONFIGMAP}:" in message, message
    assert "Too long" in message, message
