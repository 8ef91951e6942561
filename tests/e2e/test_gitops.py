"""Argo CD really syncs every GitOps-mode environment (see gitops.py and e2e/README.md).

One real Argo CD (redis + argocd-repo-server + argocd-application-controller, plain
processes) syncs every environment that build/argocd/ has an Application for, each into
a kube-apiserver of its own, as the product lays it out: the in-cluster destination is
the API server Argo CD itself runs against, and each named destination is another API
server registered as a cluster Secret. Each destination runs the real External Secrets
Operator with a store that holds .env.example's values. The rendered tree is committed
to a throwaway `file://` repository and build/argocd/ is applied: the bootstrap. Then,
per environment, in this order:

1. the Application reaches Synced with operationState.phase Succeeded, and Healthy:
   with no manual step where its sync is automated; where the product makes it manual
   (prod), after the one sync an operator starts (`argocd app sync`);
2. every rendered object is live and tracked; the dashboard ConfigMaps were applied
   server-side;
3. ESO materialises the guide's Secrets with exactly the .env values, and every Secret
   and ConfigMap the pods reference resolves;
4. the diff stays empty over two further reconciliations (no OutOfSync loop, no sync);
5. a second commit (an image tag and an alert threshold) is synced after a refresh, and
   exactly the objects whose render changed change in the cluster;
6. a hand edit of a synced Deployment is reverted by selfHeal where it is on, and stays
   (OutOfSync) where it is off;
7. a resource deleted from the render is pruned.
"""

from __future__ import annotations

import base64
import json
import shutil
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack, suppress
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pytest

from harvester_manifests.config.envfile import read_env_file
from harvester_manifests.config.loader import load_config
from harvester_manifests.secrets import secret_specs
from tests.e2e.apiserver import (
    Binaries,
    Cluster,
    Etcd,
    HarnessError,
    Process,
    kube_apiserver,
    stop_all,
)
from tests.e2e.conftest import BUILD, ENV_EXAMPLE, install_crds
from tests.e2e.gitops import (
    ArgoCD,
    GitOpsBinaries,
    GitRepo,
    GroupKind,
    Obj,
    apply,
    argocd,
    collect,
    documents,
    eso_crds,
    external_secrets_operator,
    garbage_collector,
    get,
    group_kind,
    kubectl_ok,
    register_cluster,
    show,
    start_concurrently,
    unresolved_references,
    wait_for_references,
)
from tests.e2e.gitops_tree import (
    APPLICATIONS,
    ENVS,
    HAND_EDIT_MANAGER,
    IN_CLUSTER,
    NAMESPACE,
    OVERLAYS,
    Key,
    content,
    differing_files,
    edit_overlay,
    key,
    kustomize_build,
    live_objects,
    render_tree,
    secret_store,
    show_key,
    write_gitops_file,
)

# One of the two longest files of `make e2e`: what it starts runs at the normal CPU priority
# (conftest.scheduling_priority).
pytestmark = [pytest.mark.e2e, pytest.mark.e2e_critical_path]

SERVER_SIDE = ("argocd.argoproj.io/sync-options", "ServerSideApply=true")
NEW_TAG = "v2.0.1-e2e"
HAND_EDITED_IMAGE = "hand/edited:1"


@dataclass
class Fleet:
    """Argo CD, the destination clusters, the repository and what the tests learn."""

    argo: ArgoCD
    clusters: dict[str, Cluster]
    repo: GitRepo
    config_dir: Path
    gitops_file: Path
    revisions: list[str] = field(default_factory=list)
    before_second: dict[str, dict[Key, Obj]] = field(default_factory=dict)
    rendered_before_second: dict[str, dict[Key, Obj]] = field(default_factory=dict)

    def app(self, env: str) -> str:
        return str(APPLICATIONS[env]["metadata"]["name"])

    def automated(self, env: str) -> Obj | None:
        policy = self.argo.application(self.app(env))["spec"].get("syncPolicy") or {}
        automated: Obj | None = policy.get("automated")
        return automated

    def rendered(self, env: str) -> dict[Key, Obj]:
        """The environment as committed now; every kind of it is one Argo CD watches."""
        objects = kustomize_build(self.repo.path / "build" / env)
        self.argo.check_included(objects.values())
        return objects

    def tracked(self, env: str) -> set[Key]:
        status = self.argo.application(self.app(env)).get("status") or {}
        return {
            (r.get("group") or "", r["kind"], r.get("namespace") or "", r["name"])
            for r in status.get("resources") or []
        }

    def sync_where_manual(self, prune: bool = False) -> None:
        """The operator's `argocd app sync` for the Applications the product syncs by hand."""
        for env in ENVS:
            if not self.automated(env):
                self.argo.sync(self.app(env), prune=prune)


def destination_key(env: str) -> str:
    destination = APPLICATIONS[env]["spec"]["destination"]
    return str(destination.get("name") or destination.get("server"))


def provide_platform(
    env: str, cluster: Cluster, built: dict[Key, Obj], values: dict[str, str]
) -> None:
    """What the destination's own platform provides: the CRDs of the kinds the environment
    uses (monitoring.mode operator: the cluster's kube-prometheus-stack), the namespaces it
    writes into without creating them, and the store its ExternalSecrets read."""
    objects = list(built.values())
    install_crds(cluster, objects)
    own = {o["metadata"]["name"] for o in objects if o["kind"] == "Namespace"}
    foreign = {o["metadata"].get("namespace") for o in objects} - own - {None}
    if foreign:
        apply(
            cluster,
            [
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
                for name in sorted(str(n) for n in foreign)
            ],
        )
    apply(cluster, secret_store(env, built, values))


@pytest.fixture(scope="module")
def fleet(
    e2e_workdir: Path, etcd_server: Etcd, binaries: Binaries, gitops_binaries: GitOpsBinaries
) -> Iterator[Fleet]:
    if not ENVS:
        pytest.fail("build/argocd/ has no Application: no GitOps-mode environment to prove")
    workdir = e2e_workdir / "gitops"
    try:
        with ExitStack() as stack:
            # The servers start concurrently (their start-ups are mostly waiting), each
            # destination's ESO and garbage collector as soon as its API server is ready,
            # while Argo CD starts; the threads that start them live until the end (see
            # start_concurrently), one per job, since jobs wait on each other's results.
            pool = stack.enter_context(ThreadPoolExecutor(max_workers=3 * len(ENVS) + 2))
            # Argo CD's own API server is the in-cluster destination, when one uses it.
            home_env = next((e for e in ENVS if destination_key(e) == IN_CLUSTER), None)
            others = [env for env in ENVS if env != home_env]
            # What Argo CD watches: the kinds of the rendered tree (resource.inclusions),
            # and what each destination's platform provides: known once the tree is
            # rendered, below, while the API servers start.
            kinds: Future[frozenset[GroupKind]] = Future()
            rendered: Future[dict[str, dict[Key, Obj]]] = Future()
            values = read_env_file(ENV_EXAMPLE)

            def api_server(name: str, prefix: str) -> Callable[[ExitStack], Cluster]:
                return lambda own: own.enter_context(
                    kube_apiserver(workdir / name, etcd_server, binaries, prefix)
                )

            starting_home = start_concurrently(pool, api_server("argocd-home", "/registry-argocd"))
            starting = {
                env: start_concurrently(pool, api_server(env, f"/registry-gitops-{env}"))
                for env in others
            }

            def cluster_of(env: str) -> Cluster:
                return (starting_home if env == home_env else starting[env]).result()[0]

            def argo_cd(own: ExitStack) -> ArgoCD:
                home = starting_home.result()[0]
                return own.enter_context(
                    argocd(home, workdir / "argocd", gitops_binaries, kinds.result())
                )

            def eso(env: str) -> Callable[[ExitStack], Process]:
                def start(own: ExitStack) -> Process:
                    cluster = cluster_of(env)
                    process = own.enter_context(
                        external_secrets_operator(cluster, workdir / f"eso-{env}", gitops_binaries)
                    )
                    provide_platform(env, cluster, rendered.result()[env], values)
                    return process

                return start

            def gc(env: str) -> Callable[[ExitStack], Process]:
                def start(own: ExitStack) -> Process:
                    cluster = cluster_of(env)
                    return own.enter_context(
                        garbage_collector(cluster, workdir / f"gc-{env}", gitops_binaries)
                    )

                return start

            starting_argo = start_concurrently(pool, argo_cd)
            eso_crds(gitops_binaries.eso_crds)  # parsed once, here, not by each job at once
            starting_esos = [start_concurrently(pool, eso(env)) for env in ENVS]
            starting_gcs = [start_concurrently(pool, gc(env)) for env in ENVS]
            try:  # meanwhile: the tree to commit, which must be build/ as committed
                repo = GitRepo(workdir / "repo", gitops_binaries.git)
                config_dir = workdir / "overlays"
                shutil.copytree(OVERLAYS, config_dir)
                gitops_file = write_gitops_file(workdir / "gitops.yaml", repo.url)
                render_tree(config_dir, gitops_file, repo.path / "build")
                for env in ENVS:
                    drift = differing_files(BUILD / env, repo.path / "build" / env)
                    drift = [f for f in drift if not f.startswith("secrets")]
                    if drift:
                        raise HarnessError(f"build/{env} is not what render makes: {drift}")
                built = {env: kustomize_build(repo.path / "build" / env) for env in ENVS}
                kinds.set_result(
                    frozenset(group_kind(o) for objects in built.values() for o in objects.values())
                )
                rendered.set_result(built)
            except BaseException as err:
                for future in (kinds, rendered):
                    if not future.done():  # Argo CD's and ESO's starts wait for them
                        future.set_exception(err)
                # What the threads started is stopped with the stack; the error is this one.
                with suppress(BaseException):
                    collect(stack, [starting_home, *starting.values()])
                with suppress(BaseException):
                    collect(stack, [starting_argo])
                with suppress(BaseException):
                    collect(stack, [*starting_esos, *starting_gcs])
                raise
            servers = collect(stack, [starting[env] for env in others])
            clusters = dict(zip(others, servers, strict=True))
            (home,) = collect(stack, [starting_home])
            if home_env is not None:
                clusters[home_env] = home
            (argo,) = collect(stack, [starting_argo])
            clients = [*collect(stack, starting_esos), *collect(stack, starting_gcs)]
            for env in others:
                register_cluster(argo, destination_key(env), clusters[env])
            # Unwound first, each group stopped at once (a kube-apiserver's graceful
            # shutdown takes about a second): the clients of the API servers, Argo CD's
            # controller (which watches every destination), ESO and the garbage
            # collectors, then the API servers; an API server stopped while a client
            # still watches it waits out its graceful shutdown (STOP_TIMEOUT).
            stack.callback(stop_all, [c.apiserver for c in clusters.values()])
            stack.callback(stop_all, [*argo.processes, *clients])
            state = Fleet(argo, clusters, repo, config_dir, gitops_file)
            state.revisions.append(repo.commit("the rendered tree"))
            # The bootstrap: build/argocd/ applied to Argo CD's cluster.
            apply(home, list(kustomize_build(repo.path / "build" / "argocd").values()))
            for env in ENVS:
                argo.await_project(state.app(env))
            state.sync_where_manual()
            yield state
    except HarnessError as err:
        pytest.fail(str(err), pytrace=False)


@pytest.mark.parametrize("env", ENVS)
def test_the_application_syncs(fleet: Fleet, env: str) -> None:
    fleet.argo.wait_for_sync(fleet.app(env), fleet.revisions[0])
    rendered = fleet.rendered(env)
    live = live_objects(fleet.clusters[env], list(rendered))
    missing = [show_key(k) for k in rendered if k not in live]
    assert not missing, f"rendered but not live after the sync: {missing}"
    untracked = [show_key(k) for k in rendered if k not in fleet.tracked(env)]
    assert not untracked, f"live but not tracked by the Application: {untracked}"


@pytest.mark.parametrize("env", ENVS)
def test_the_large_configmaps_are_applied_server_side(fleet: Fleet, env: str) -> None:
    rendered = fleet.rendered(env)
    annotated = [
        k for k, o in rendered.items()
        if (o["metadata"].get("annotations") or {}).get(SERVER_SIDE[0]) == SERVER_SIDE[1]
    ]  # fmt: skip
    assert any("dashboard" in k[3] for k in annotated), "no dashboard ConfigMap applied server-side"
    for k, obj in live_objects(fleet.clusters[env], annotated).items():
        annotations = obj["metadata"].get("annotations") or {}
        assert "kubectl.kubernetes.io/last-applied-configuration" not in annotations, show_key(k)
        managers = {(m["manager"], m["operation"]) for m in obj["metadata"]["managedFields"]}
        assert ("argocd-controller", "Apply") in managers, f"{show_key(k)}: {managers}"


@pytest.mark.parametrize("env", ENVS)
def test_eso_materialises_the_env_values(fleet: Fleet, env: str) -> None:
    cluster = fleet.clusters[env]
    values = read_env_file(ENV_EXAMPLE)
    wait_for_references(cluster, NAMESPACE)
    for spec in secret_specs(load_config(OVERLAYS, env)):
        secret = get(cluster, "secret", spec.name, NAMESPACE)
        assert secret is not None, spec.name
        data = {k: base64.b64decode(v).decode() for k, v in (secret.get("data") or {}).items()}
        assert data == {k: values[var] for k, var in spec.keys}, f"Secret {spec.name}"
        owners = [o["kind"] for o in secret["metadata"].get("ownerReferences") or []]
        assert owners == ["ExternalSecret"], f"Secret {spec.name} is not ESO's: {owners}"
    api = get(cluster, "deployment", "signal-harvester-api", NAMESPACE)
    assert api is not None
    env_from = api["spec"]["template"]["spec"]["containers"][0].get("envFrom") or []
    assert {"secretRef": {"name": "signal-harvester-api-keys"}} in env_from, env_from
    assert unresolved_references(cluster, NAMESPACE) == []


def reconciled_at(app: Obj) -> str:
    return str((app.get("status") or {}).get("reconciledAt"))


def after_second_of(timestamp: str) -> None:
    """Sleep until the second after `timestamp` (RFC 3339, whole seconds) has begun, so that
    a reconciliation from now on stores another reconciledAt."""
    when = datetime.fromisoformat(timestamp).timestamp() + 1
    time.sleep(max(0.0, when - time.time()))


def moved_on(last: str) -> Callable[[Obj], bool]:
    return lambda app: reconciled_at(app) != last


@dataclass
class Reconciled:
    """One Application before and after two further reconciliations (see reconciled_twice)."""

    started: str  # operationState.startedAt before
    rendered: list[Key]
    before_live: dict[Key, Obj]
    seen: list[str]  # reconciledAt: before, then after each further reconciliation
    apps: list[Obj] = field(default_factory=list)  # the Application after each
    after_live: dict[Key, Obj] = field(default_factory=dict)
    error: str = ""  # why it could not be reconciled twice


@pytest.fixture(scope="module")
def reconciled_twice(fleet: Fleet) -> dict[str, Reconciled]:
    """Every Application reconciled twice more, each time asked for as `--refresh` does (a
    comparison with git as thorough as a periodic one), once the next second has begun
    (reconciledAt has whole seconds). The Applications are asked together, not one after
    the other: each round waits for a new second, which was 2-3 s of the file per
    environment. An environment that fails is reported by its own test."""
    state: dict[str, Reconciled] = {}
    for env in ENVS:
        before = fleet.argo.application(fleet.app(env))
        rendered = list(fleet.rendered(env))
        state[env] = Reconciled(
            started=before["status"]["operationState"]["startedAt"],
            rendered=rendered,
            before_live=live_objects(fleet.clusters[env], rendered),
            seen=[reconciled_at(before)],
        )
    for _ in range(2):
        going = {env: s for env, s in state.items() if not s.error}
        if not going:
            break
        after_second_of(max(s.seen[-1] for s in going.values()))
        for env in going:
            fleet.argo.refresh(fleet.app(env))
        for env, s in going.items():
            try:
                app = fleet.argo.wait(fleet.app(env), moved_on(s.seen[-1]), "reconciled again")
            except HarnessError as err:
                s.error = str(err)
                continue
            s.seen.append(reconciled_at(app))
            s.apps.append(app)
    for env, s in state.items():
        if not s.error:
            s.after_live = live_objects(fleet.clusters[env], s.rendered)
    return state


@pytest.mark.parametrize("env", ENVS)
def test_the_diff_stays_empty(reconciled_twice: dict[str, Reconciled], env: str) -> None:
    s = reconciled_twice[env]
    if s.error:
        pytest.fail(s.error, pytrace=False)
    assert len(s.apps) == 2, s.seen
    for app in s.apps:  # each further reconciliation: nothing to sync, and none ran
        status = app["status"]
        drift = [show(r) for r in status.get("resources") or [] if r.get("status") != "Synced"]
        assert status["sync"]["status"] == "Synced" and not drift, f"OutOfSync: {drift}"
        assert status["operationState"]["startedAt"] == s.started, "a sync ran with nothing to do"
    changed = [
        show_key(k) for k, v in s.before_live.items() if content(s.after_live[k]) != content(v)
    ]
    assert not changed, f"changed with nothing to sync: {changed}"


@pytest.fixture(scope="module")
def second_commit(fleet: Fleet) -> str:
    """One commit for every environment: a new API image tag and a latency threshold."""
    for env in ENVS:
        fleet.rendered_before_second[env] = fleet.rendered(env)
        fleet.before_second[env] = live_objects(
            fleet.clusters[env], list(fleet.rendered_before_second[env])
        )
        edit_overlay(
            fleet.config_dir,
            env,
            {"api": {"image": {"tag": NEW_TAG}}, "alerts": {"api": {"latencyP95Seconds": 0.123}}},
        )
    render_tree(fleet.config_dir, fleet.gitops_file, fleet.repo.path / "build")
    revision = fleet.repo.commit("new API image tag and a latency threshold")
    fleet.revisions.append(revision)
    for env in ENVS:
        fleet.argo.refresh(fleet.app(env))
    fleet.sync_where_manual()
    return revision


@pytest.mark.parametrize("env", ENVS)
def test_a_second_commit_changes_exactly_what_it_changes(
    fleet: Fleet, second_commit: str, env: str
) -> None:
    before_render, before_live = fleet.rendered_before_second[env], fleet.before_second[env]
    after_render = fleet.rendered(env)
    assert set(after_render) == set(before_render), "the second commit adds or drops objects"
    expected = {k for k in before_render if after_render[k] != before_render[k]}
    assert {k[1] for k in expected} >= {"Deployment", "ConfigMap"}, expected
    fleet.argo.wait_for_sync(fleet.app(env), second_commit)
    after_live = live_objects(fleet.clusters[env], list(before_render))
    changed = {k for k in before_render if content(after_live[k]) != content(before_live[k])}
    assert sorted(map(show_key, changed)) == sorted(map(show_key, expected))
    assert api_image(fleet.clusters[env]).endswith(f":{NEW_TAG}")


def api_image(cluster: Cluster) -> str:
    deployment = get(cluster, "deployment", "signal-harvester-api", NAMESPACE)
    assert deployment is not None
    image: str = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
    return image


@pytest.mark.parametrize("env", ENVS)
def test_a_hand_edit_is_healed_where_self_heal_is_on(
    fleet: Fleet, second_commit: str, env: str
) -> None:
    cluster, name = fleet.clusters[env], fleet.app(env)
    self_heal = bool((fleet.automated(env) or {}).get("selfHeal"))
    rendered_image = api_image(cluster)
    patch = [
        {"op": "replace", "path": "/spec/template/spec/containers/0/image",
         "value": HAND_EDITED_IMAGE}
    ]  # fmt: skip
    kubectl_ok(
        cluster, "patch", "deployment", "signal-harvester-api", f"--namespace={NAMESPACE}",
        "--type=json", f"--patch={json.dumps(patch)}", f"--field-manager={HAND_EDIT_MANAGER}",
    )  # fmt: skip
    if self_heal:
        fleet.argo.wait(
            name,
            lambda a: (
                api_image(cluster) == rendered_image and a["status"]["sync"]["status"] == "Synced"
            ),
            "healed",
        )
    else:
        fleet.argo.wait(name, lambda a: a["status"]["sync"]["status"] == "OutOfSync", "OutOfSync")
        assert api_image(cluster) == HAND_EDITED_IMAGE


@pytest.fixture(scope="module")
def pruning_commit(fleet: Fleet, second_commit: str) -> tuple[str, Obj]:
    """A commit whose render lacks one object of the base that no environment's overlay
    patches or deletes (removing a patched one would break that overlay's build, not prune):
    a NetworkPolicy where one qualifies, else any such object but the Namespace."""
    build = fleet.repo.path / "build"
    base = build / "base"
    kustomization = documents((base / "kustomization.yaml").read_text())[0]
    touched = {
        patch.name.removeprefix("delete-")
        for env in ENVS
        for patch in (build / env / "patches").glob("*.yaml")
    }
    free = [
        entry
        for entry in kustomization["resources"]
        if Path(entry).name not in touched
        and "default-deny" not in entry
        and not Path(entry).name.startswith("namespace-")
    ]
    victim = next((e for e in free if "networkpolicy" in e), free[0])
    obj = documents((base / victim).read_text())[0]
    kustomization["resources"].remove(victim)
    (base / "kustomization.yaml").write_text(json.dumps(kustomization, indent=1))
    (base / victim).unlink()
    revision = fleet.repo.commit(f"drop {victim}")
    for env in ENVS:
        fleet.argo.refresh(fleet.app(env))
    fleet.sync_where_manual(prune=True)
    return revision, obj


@pytest.mark.parametrize("env", ENVS)
def test_a_resource_deleted_from_the_render_is_pruned(
    fleet: Fleet, pruning_commit: tuple[str, Obj], env: str
) -> None:
    revision, obj = pruning_commit
    k = key(obj)

    def pruned(app: Obj) -> bool:
        operation = (app.get("status") or {}).get("operationState") or {}
        if (operation.get("syncResult") or {}).get("revision") != revision:
            return False
        if operation.get("phase") != "Succeeded":
            return False
        return k not in live_objects(fleet.clusters[env], [k])

    # The object is gone after a Succeeded sync at the pruning revision: only Argo CD's
    # prune deletes it here (whether it happened in that sync or in an earlier automated
    # one at the same revision, which then left nothing to report).
    fleet.argo.wait(fleet.app(env), pruned, f"synced at {revision} with {show(obj)} pruned")
