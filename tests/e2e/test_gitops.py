"""Argo CD really syncs every GitOps-mode environment (see gitops.py and e2e/README.md).

Per environment, on a kube-apiserver of its own, with the real Argo CD (repo-server +
application-controller + redis) and the real External Secrets Operator running as
processes: the rendered tree is committed to a throwaway `file://` git repository, an
Application points at it, and then, in this order:

1. the Application reaches Synced with operationState.phase Succeeded (and Healthy),
   with no manual step (automated sync), every rendered object live and tracked;
2. the dashboard ConfigMaps were applied server-side by Argo CD;
3. ESO materialises the guide's Secrets with exactly the .env values, and every Secret
   and ConfigMap the pods reference resolves;
4. the diff stays empty over two further reconciliations (no OutOfSync loop, no sync);
5. a second commit (an image tag and an alert threshold) is synced after a refresh, and
   exactly the objects whose render changed change in the cluster;
6. a hand edit of a synced Deployment is reverted by selfHeal (where it is on);
7. a resource deleted from the render is pruned.

A GitOps-mode environment is one whose committed `build/<env>` builds from a plain
checkout (no secretGenerator env file, which only an operator's render writes).
"""

from __future__ import annotations

import base64
import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from harvester_manifests.config.envfile import read_env_file
from harvester_manifests.config.loader import load_config
from harvester_manifests.secrets import secret_specs
from tests.e2e.apiserver import Binaries, Cluster, Etcd, HarnessError, kube_apiserver
from tests.e2e.conftest import BUILD, ENV_EXAMPLE
from tests.e2e.gitops import (
    ArgoCD,
    GitOpsBinaries,
    GitRepo,
    Obj,
    apply,
    argocd,
    documents,
    get,
    kubectl_ok,
    show,
    unresolved_references,
    wait_for_references,
)
from tests.e2e.gitops_tree import (
    ENVS,
    HAND_EDIT_MANAGER,
    NAMESPACE,
    OVERLAYS,
    RENDERED_BY_TEST,
    Key,
    app_project,
    application,
    content,
    edit_overlay,
    external_secrets,
    key,
    kustomize_build,
    live_objects,
    overlays_copy,
    render_tree,
    secret_backend,
    show_key,
)

pytestmark = pytest.mark.e2e


@dataclass
class GitOpsEnv:
    env: str
    argo: ArgoCD
    repo: GitRepo
    config_dir: Path
    app_name: str
    revisions: list[str] = field(default_factory=list)
    synced: Obj = field(default_factory=dict)

    @property
    def cluster(self) -> Cluster:
        return self.argo.cluster

    def rendered(self) -> dict[Key, Obj]:
        return kustomize_build(self.repo.path / "build" / self.env)

    def tracked(self) -> list[Key]:
        resources = (self.argo.application(self.app_name).get("status") or {}).get("resources")
        return [
            (r.get("group") or "", r["kind"], r.get("namespace") or "", r["name"])
            for r in resources or []
        ]


@pytest.fixture(scope="module", params=ENVS)
def gitops(
    request: pytest.FixtureRequest,
    e2e_workdir: Path,
    etcd_server: Etcd,
    binaries: Binaries,
    gitops_binaries: GitOpsBinaries,
) -> Iterator[GitOpsEnv]:
    env: str = request.param
    workdir = e2e_workdir / f"gitops-{env}"
    prefix = f"/registry-gitops-{env}"
    try:
        with (
            kube_apiserver(workdir / "apiserver", etcd_server, binaries, prefix) as cluster,
            argocd(cluster, workdir / "argocd", gitops_binaries) as argo,
        ):
            config_dir = overlays_copy(workdir / "overlays")
            repo = GitRepo(workdir / "repo", gitops_binaries.git)
            if RENDERED_BY_TEST:
                render_tree(config_dir, repo.path / "build")
            else:
                shutil.copytree(BUILD, repo.path / "build")
            first = repo.commit(f"{env}: the rendered tree")
            values = read_env_file(ENV_EXAMPLE)
            apply(cluster, secret_backend(cluster, values))
            apply(cluster, [app_project(), application(env, repo.url)])
            state = GitOpsEnv(env, argo, repo, config_dir, f"signal-harvester-{env}", [first])
            yield state
    except HarnessError as err:
        pytest.fail(str(err), pytrace=False)


def test_the_application_syncs_with_no_manual_step(gitops: GitOpsEnv) -> None:
    app = gitops.argo.wait_for_sync(gitops.app_name, gitops.revisions[0])
    gitops.synced = app
    rendered = gitops.rendered()
    live = live_objects(gitops.cluster, list(rendered))
    missing = [show_key(k) for k in rendered if k not in live]
    assert not missing, f"rendered but not live after the sync: {missing}"
    untracked = [show_key(k) for k in rendered if k not in set(gitops.tracked())]
    assert not untracked, f"live but not tracked by the Application: {untracked}"


def test_the_dashboards_are_applied_server_side(gitops: GitOpsEnv) -> None:
    rendered = gitops.rendered()
    dashboards = [k for k in rendered if k[1] == "ConfigMap" and "dashboard" in k[3]]
    assert dashboards, "no dashboard ConfigMap in the render"
    for k, obj in live_objects(gitops.cluster, dashboards).items():
        annotations = obj["metadata"].get("annotations") or {}
        assert "kubectl.kubernetes.io/last-applied-configuration" not in annotations, show_key(k)
        managers = {(m["manager"], m["operation"]) for m in obj["metadata"]["managedFields"]}
        assert ("argocd-controller", "Apply") in managers, f"{show_key(k)}: {managers}"


def test_eso_materialises_the_env_values(gitops: GitOpsEnv) -> None:
    if RENDERED_BY_TEST:
        # The render has no ExternalSecret of its own yet: the test makes them from
        # secrets.secret_specs (what the guide's Secrets hold).
        apply(gitops.cluster, external_secrets(gitops.env))
    values = read_env_file(ENV_EXAMPLE)
    wait_for_references(gitops.cluster, NAMESPACE)
    for spec in secret_specs(load_config(OVERLAYS, gitops.env)):
        secret = get(gitops.cluster, "secret", spec.name, NAMESPACE)
        assert secret is not None, spec.name
        data = {k: base64.b64decode(v).decode() for k, v in (secret.get("data") or {}).items()}
        expected = {k: values[var] for k, var in spec.keys}
        assert data == expected, f"Secret {spec.name} does not hold the .env values"
    assert unresolved_references(gitops.cluster, NAMESPACE) == []


def reconciled_at(app: Obj) -> str:
    return str((app.get("status") or {}).get("reconciledAt"))


def test_the_diff_stays_empty(gitops: GitOpsEnv) -> None:
    before = gitops.argo.application(gitops.app_name)
    operation = before["status"]["operationState"]
    rendered = list(gitops.rendered())
    versions = {
        k: o["metadata"]["resourceVersion"]
        for k, o in live_objects(gitops.cluster, rendered).items()
    }
    seen = [reconciled_at(before)]
    while len(seen) < 3:  # two further reconciliations
        app = gitops.argo.wait(
            gitops.app_name, lambda a: reconciled_at(a) != seen[-1], "reconciled again"
        )
        seen.append(reconciled_at(app))
        status = app["status"]
        assert status["sync"]["status"] == "Synced", f"OutOfSync after {seen}: {status}"
        drift = [r for r in status.get("resources") or [] if r.get("status") != "Synced"]
        assert not drift, f"resources out of sync: {drift}"
        assert status["operationState"]["startedAt"] == operation["startedAt"], "synced again"
    after = live_objects(gitops.cluster, rendered)
    changed = [
        show_key(k) for k, v in versions.items() if after[k]["metadata"]["resourceVersion"] != v
    ]
    assert not changed, f"changed with nothing to sync: {changed}"


def test_a_second_commit_changes_exactly_what_it_changes(gitops: GitOpsEnv) -> None:
    before_render = gitops.rendered()
    keys = list(before_render)
    before_live = live_objects(gitops.cluster, keys)
    edit_overlay(
        gitops.config_dir,
        gitops.env,
        {"api": {"image": {"tag": "v2.0.1-e2e"}}, "alerts": {"api": {"latencyP95Seconds": 0.123}}},
    )
    render_tree(gitops.config_dir, gitops.repo.path / "build")
    second = gitops.repo.commit(f"{gitops.env}: new API image tag and a latency threshold")
    gitops.revisions.append(second)
    after_render = gitops.rendered()
    assert set(after_render) == set(before_render), "the second commit adds or drops objects"
    expected = {k for k in keys if after_render[k] != before_render[k]}
    assert {k[1] for k in expected} >= {"Deployment", "ConfigMap"}, expected
    gitops.argo.refresh(gitops.app_name)
    gitops.argo.wait_for_sync(gitops.app_name, second)
    after_live = live_objects(gitops.cluster, keys)
    changed = {k for k in keys if content(after_live[k]) != content(before_live[k])}
    assert sorted(map(show_key, changed)) == sorted(map(show_key, expected))
    api = next(
        o for k, o in after_live.items() if k[1] == "Deployment" and k[3] == "signal-harvester-api"
    )
    assert api["spec"]["template"]["spec"]["containers"][0]["image"].endswith(":v2.0.1-e2e")


def api_image(gitops: GitOpsEnv) -> str:
    deployment = get(gitops.cluster, "deployment", "signal-harvester-api", NAMESPACE)
    assert deployment is not None
    image: str = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
    return image


def test_a_hand_edit_is_healed_where_self_heal_is_on(gitops: GitOpsEnv) -> None:
    app = gitops.argo.application(gitops.app_name)
    self_heal = bool(((app["spec"].get("syncPolicy") or {}).get("automated") or {}).get("selfHeal"))
    rendered_image = api_image(gitops)
    patch = [
        {"op": "replace", "path": "/spec/template/spec/containers/0/image", "value": "hand/edit:1"}
    ]
    kubectl_ok(
        gitops.cluster, "patch", "deployment", "signal-harvester-api", f"--namespace={NAMESPACE}",
        "--type=json", f"--patch={json.dumps(patch)}", f"--field-manager={HAND_EDIT_MANAGER}",
    )  # fmt: skip
    if self_heal:
        gitops.argo.wait(
            gitops.app_name,
            lambda a: (
                api_image(gitops) == rendered_image and a["status"]["sync"]["status"] == "Synced"
            ),
            "healed",
        )
    else:
        app = gitops.argo.wait(
            gitops.app_name, lambda a: a["status"]["sync"]["status"] == "OutOfSync", "OutOfSync"
        )
        assert api_image(gitops) == "hand/edit:1"


def test_a_resource_deleted_from_the_render_is_pruned(gitops: GitOpsEnv) -> None:
    base = gitops.repo.path / "build" / "base"
    kustomization = yaml.safe_load((base / "kustomization.yaml").read_text())
    victim = next(
        entry for entry in kustomization["resources"]
        if "networkpolicy" in entry and "default-deny" not in entry
    )  # fmt: skip
    obj = documents((base / victim).read_text())[0]
    kustomization["resources"].remove(victim)
    (base / "kustomization.yaml").write_text(yaml.safe_dump(kustomization, sort_keys=False))
    (base / victim).unlink()
    third = gitops.repo.commit(f"{gitops.env}: drop {victim}")
    gitops.argo.refresh(gitops.app_name)
    k = key(obj)

    def pruned(app: Obj) -> bool:
        operation = (app.get("status") or {}).get("operationState") or {}
        if (operation.get("syncResult") or {}).get("revision") != third:
            return False
        live = live_objects(gitops.cluster, [k]).get(k)
        # Argo CD prunes with foreground propagation: with no garbage collector here
        # (kube-controller-manager), the API server keeps the object, marked for
        # deletion, with the foregroundDeletion finalizer the collector would remove.
        return live is None or bool(live["metadata"].get("deletionTimestamp"))

    app = gitops.argo.wait(gitops.app_name, pruned, f"synced at {third} with {show(obj)} pruned")
    results = app["status"]["operationState"]["syncResult"]["resources"]
    entry = next(
        r for r in results if r["kind"] == obj["kind"] and r["name"] == obj["metadata"]["name"]
    )
    assert entry["message"] == "pruned", entry
