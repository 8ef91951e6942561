"""The real Argo CD and External Secrets Operator, as plain processes, on loopback.

Argo CD's own local mode (its Procfile, docs/developer-guide/running-locally.md) runs
each component as a process outside the cluster with `ARGOCD_FAKE_IN_CLUSTER=true`:
the "in-cluster" destination `https://kubernetes.default.svc` then means the API
server of the kubeconfig. `argocd()` does the same against one loopback
kube-apiserver of `apiserver.py`:

- installs the CRDs and config objects of Argo CD's own `manifests/install.yaml`, copied
  out of the pinned module by mk/argocd.mk (never written by hand), into `argocd`;
  then sets the test's settings in argocd-cm (the health overrides, see HEALTH_OVERRIDES);
- starts redis (Debian's redis-server), argocd-repo-server (with bin/, so the pinned
  kustomize, first on PATH) and argocd-application-controller, all on free loopback
  ports, and, when asked, the External Secrets Operator controller with its CRDs.

Git repositories are plain `file://` repositories, as in Argo CD's own e2e tests.
Everything else, Applications and what they sync, is up to the caller. A component
that dies or is not ready in time raises HarnessError with the tail of its log, and
`wait_for_sync` names the objects that failed to sync.
"""

from __future__ import annotations

import base64
import functools
import json
import os
import shutil
import socket
import ssl
import subprocess
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml

from tests.e2e.apiserver import (
    BIN,
    LOOPBACK,
    ROOT,
    Cluster,
    HarnessError,
    Process,
    free_port,
    http_get,
    start_server,
    stop_all,
)

Obj = dict[str, Any]
T = TypeVar("T")

ARGOCD_NAMESPACE = "argocd"
CACHE = ROOT / ".cache" / "e2e-gitops"
SYNC_TIMEOUT = float(os.environ.get("HARVESTER_E2E_SYNC_TIMEOUT", "180"))
# The controller's periodic comparison of every Application with git (--app-resync) stays
# Argo CD's default (minutes): comparing four Applications every 2 s was about a third of
# the controller's CPU in the GitOps tests. The tests ask for each reconciliation they wait for
# (ArgoCD.refresh, what `argocd app get --refresh` does); everything else is
# event-driven (a new Application, an operation, a change of a live object).
# How long a component may take to exit after SIGTERM before it is killed: they hold
# nothing worth flushing (throwaway state), and some wait out their informers' timeouts.
STOP_GRACE = 3.0
# The kinds taken from Argo CD's install.yaml: its CRDs and its configuration. Its
# Deployments, Services, RBAC and NetworkPolicies are for an in-cluster install and
# would never run here (the components run as processes, with a token that is in
# system:masters).
INSTALLED_KINDS = frozenset({"CustomResourceDefinition", "ConfigMap", "Secret"})
# The CRDs of install.yaml that are left out: ApplicationSet's (364 KiB, the largest) is
# the applicationset-controller's, which does not run here; the application controller
# and the repo-server never read ApplicationSets. Installing it cost the API server
# about 2 CPU-s (its schema compiled, the OpenAPI documents rebuilt with it) for nothing.
NOT_INSTALLED_CRDS = frozenset({"applicationsets.argoproj.io"})

# The health checks a cluster without a kubelet, controller-manager, volume
# provisioner or ingress controller can never pass, replaced (for this test Argo CD
# only, in its argocd-cm) by a Lua check that reports the object Healthy once the API
# server has stored it. Without them, Argo CD's built-in checks leave these objects
# Progressing forever (no Deployment becomes Available, no PVC is Bound, no Ingress
# gets a load-balancer address, no HPA gets conditions), so a sync with waves waits
# forever and the Application is never Healthy. Every other kind keeps Argo CD's own
# check. e2e/README.md lists the same set.
NO_KUBELET = "e2e: no kubelet/controller-manager/provisioner/ingress controller on loopback"
HEALTHY_ONCE_STORED = f'hs = {{}}\nhs.status = "Healthy"\nhs.message = "{NO_KUBELET}"\nreturn hs\n'
HEALTH_OVERRIDES = {
    "apps_Deployment": HEALTHY_ONCE_STORED,
    "apps_StatefulSet": HEALTHY_ONCE_STORED,
    "PersistentVolumeClaim": HEALTHY_ONCE_STORED,
    "networking.k8s.io_Ingress": HEALTHY_ONCE_STORED,
    "autoscaling_HorizontalPodAutoscaler": HEALTHY_ONCE_STORED,
}


# (API group, kind): what Argo CD's controller is told to watch (see resource_inclusions).
GroupKind = tuple[str, str]


def group_kind(obj: Obj) -> GroupKind:
    return str(obj["apiVersion"]).rpartition("/")[0], str(obj["kind"])


def resource_inclusions(kinds: Iterable[GroupKind]) -> str:
    """argocd-cm's `resource.inclusions`: exactly these (group, kind)s, on every cluster.

    Argo CD's controller keeps a cache of every resource type of every destination,
    listed and watched; the test's API servers serve many more types (Argo CD's and ESO's
    CRDs among them) than the environments use (13-16). Watching only those is
    what cuts its CPU (and the API servers' serving it). The caller derives `kinds` from
    the rendered objects: a kind left out would be invisible to Argo CD (never synced,
    never tracked), so ArgoCD.check_included fails on any rendered kind outside them.
    """
    rules = [{"apiGroups": [group], "kinds": [kind]} for group, kind in sorted(set(kinds))]
    return yaml.safe_dump(rules, sort_keys=False)


def go_mod_version(go_mod: Path, module: str) -> str:
    """The version a wrapper module's go.mod requires `module` at."""
    for line in go_mod.read_text().splitlines():
        words = line.split()
        if len(words) >= 2 and words[0] == module and words[1].startswith("v"):
            return words[1]
    raise HarnessError(f"{go_mod}: no requirement of {module}")


ARGOCD_VERSION = go_mod_version(
    ROOT / "e2e" / "argocd" / "go.mod", "github.com/argoproj/argo-cd/v3"
)
ESO_VERSION = go_mod_version(
    ROOT / "e2e" / "eso" / "go.mod", "github.com/external-secrets/external-secrets"
)


@dataclass(frozen=True)
class GitOpsBinaries:
    repo_server: Path
    controller: Path
    external_secrets: Path
    controller_manager: Path
    redis: Path
    kustomize: Path
    git: Path
    argocd_install: Path
    eso_crds: Path

    @classmethod
    def from_bin(cls, bin_dir: Path = BIN, cache: Path = CACHE) -> GitOpsBinaries:
        found = cls(
            repo_server=bin_dir / "argocd-repo-server",
            controller=bin_dir / "argocd-application-controller",
            external_secrets=bin_dir / "external-secrets",
            controller_manager=bin_dir / "kube-controller-manager",
            redis=Path(shutil.which("redis-server") or "/usr/bin/redis-server"),
            kustomize=bin_dir / "kustomize",
            git=Path(shutil.which("git") or "/usr/bin/git"),
            argocd_install=cache / f"argocd-{ARGOCD_VERSION}-install.yaml",
            eso_crds=cache / f"external-secrets-{ESO_VERSION}-crds.yaml",
        )
        executables = (
            found.repo_server, found.controller, found.external_secrets,
            found.controller_manager, found.redis, found.kustomize, found.git,
        )  # fmt: skip
        missing = [str(p) for p in executables if not os.access(p, os.X_OK)]
        missing += [str(p) for p in (found.argocd_install, found.eso_crds) if not p.is_file()]
        if missing:
            raise HarnessError(f"missing {', '.join(missing)}: run `make setup` (see mk/argocd.mk)")
        return found


def documents(text: str) -> list[Obj]:
    """Every document of a YAML stream (libyaml's parser, as PyYAML's safe_load_all
    constructs them: Argo CD's install.yaml and ESO's CRDs are megabytes)."""
    return [doc for doc in yaml.load_all(text, yaml.CSafeLoader) if doc]


def show(obj: Obj) -> str:
    meta = obj.get("metadata") or {}
    namespace = meta.get("namespace") or ""
    return f"{obj.get('kind')} {namespace + '/' if namespace else ''}{meta.get('name')}"


def kubectl_ok(cluster: Cluster, *args: str, stdin: str | None = None) -> str:
    result = cluster.kubectl(*args, stdin=stdin)
    if result.returncode != 0:
        raise HarnessError(f"kubectl {' '.join(args)} failed:\n{result.stderr}{result.stdout}")
    return result.stdout


def read(cluster: Cluster, path: str) -> Obj | None:
    """GET `path` of the API server, as the harness's token: the object, or None (404).

    For what the harness polls (the Applications, every half second): one HTTPS request
    from this process, where a kubectl run costs a Go process's start each time."""
    found: Obj | None = cluster.get_json(path)
    return found


def get(cluster: Cluster, resource: str, name: str, namespace: str | None = None) -> Obj | None:
    """The live object, or None when it does not exist."""
    ns = (f"--namespace={namespace}",) if namespace else ()
    result = cluster.kubectl("get", resource, name, *ns, "-o", "json", "--ignore-not-found")
    if result.returncode != 0:
        raise HarnessError(f"kubectl get {resource} {name} failed:\n{result.stderr}")
    found: Obj | None = json.loads(result.stdout) if result.stdout.strip() else None
    return found


def apply(cluster: Cluster, objects: Sequence[Obj], manager: str = "harvester-e2e") -> None:
    """Server-side apply (CRDs are too large for the last-applied annotation): the CRDs
    with HTTPS requests from this process (Cluster.apply_crds), the rest with kubectl."""
    crds = [obj for obj in objects if obj["kind"] == "CustomResourceDefinition"]
    cluster.apply_crds(crds, manager, force=True)
    rest = [obj for obj in objects if obj["kind"] != "CustomResourceDefinition"]
    if not rest:
        return
    stream = "".join(f"---\n{json.dumps(obj)}\n" for obj in rest)
    kubectl_ok(
        cluster, "apply", "--server-side", "--force-conflicts", f"--field-manager={manager}",
        "-f", "-", stdin=stream,
    )  # fmt: skip


def redis_ping(port: int) -> bool:
    with socket.create_connection((LOOPBACK, port), timeout=2) as sock:
        sock.sendall(b"PING\r\n")
        return sock.recv(64).startswith(b"+PONG")


def http_ok(url: str) -> bool:
    http_get(url)
    return True


@dataclass
class ArgoCD:
    """A running Argo CD (and maybe ESO) that syncs into `cluster`."""

    cluster: Cluster
    workdir: Path
    binaries: GitOpsBinaries
    included: frozenset[GroupKind]
    processes: list[Process] = field(default_factory=list)

    def check_included(self, objects: Iterable[Obj]) -> None:
        """Every object is of a kind Argo CD watches (its resource.inclusions)."""
        outside = sorted({show(o) for o in objects if group_kind(o) not in self.included})
        if outside:
            raise HarnessError(
                f"rendered objects of kinds outside argocd-cm's resource.inclusions: {outside}"
            )

    def logs(self, lines: int = 30) -> str:
        return "\n".join(f"--- {p.log} ---\n{p.tail(lines)}" for p in self.processes)

    def stop(self) -> None:
        """Stop its components now, all at once (a later stop is a no-op)."""
        stop_all(self.processes)

    def check_alive(self) -> None:
        for process in self.processes:
            if not process.alive():
                raise HarnessError(process.describe_failure("died"))

    def application(self, name: str) -> Obj:
        app = read(
            self.cluster,
            f"/apis/argoproj.io/v1alpha1/namespaces/{ARGOCD_NAMESPACE}/applications/{name}",
        )
        if app is None:
            raise HarnessError(f"Application {ARGOCD_NAMESPACE}/{name} does not exist")
        return app

    def await_project(self, name: str) -> None:
        """Until the controller has reconciled Application `name` knowing its AppProject.

        A bootstrap applies an AppProject and its Applications together, and the
        controller watches the two kinds separately: an Application it reconciles before
        the AppProject has reached it reports InvalidSpecError ("referencing project ...
        which does not exist") until its next reconciliation, minutes later (a new
        AppProject requeues none of its Applications), and an operation set meanwhile
        fails ("Failed to load application project"). That reconciliation is asked for
        here, as `argocd app get --refresh` does; an AppProject that really does not
        exist is an error at once."""
        deadline = time.monotonic() + SYNC_TIMEOUT
        asked = 0.0
        app: Obj = {}
        while time.monotonic() < deadline:
            self.check_alive()
            app = self.application(name)
            project = str(app["spec"].get("project") or "default")
            status = app.get("status") or {}
            missing = [
                c for c in status.get("conditions") or []
                if c.get("type") == "InvalidSpecError"
                and f"project {project} which does not exist" in str(c.get("message"))
            ]  # fmt: skip
            if not missing and status.get("reconciledAt"):
                return
            if missing:
                path = f"/apis/argoproj.io/v1alpha1/namespaces/{ARGOCD_NAMESPACE}/appprojects"
                if read(self.cluster, f"{path}/{project}") is None:
                    raise HarnessError(f"Application {name}: {missing[0].get('message')}")
                if time.monotonic() - asked > 2:
                    self.refresh(name)
                    asked = time.monotonic()
            time.sleep(0.5)
        raise HarnessError(f"Application {name} not reconciled: {summary(app)}\n{self.logs()}")

    def refresh(self, name: str) -> None:
        """What `argocd app get --refresh` does: ask the controller to compare with git now."""
        kubectl_ok(
            self.cluster, "annotate", "--overwrite", f"--namespace={ARGOCD_NAMESPACE}",
            f"applications.argoproj.io/{name}", "argocd.argoproj.io/refresh=normal",
        )  # fmt: skip

    def sync(self, name: str, prune: bool = False) -> None:
        """What `argocd app sync [--prune]` asks for: an operation on the Application."""
        operation = {
            "initiatedBy": {"username": "harvester-e2e"},
            "sync": {"prune": prune, "syncStrategy": {"hook": {}}},
        }
        kubectl_ok(
            self.cluster, "patch", f"--namespace={ARGOCD_NAMESPACE}", "--type=merge",
            f"applications.argoproj.io/{name}", f"--patch={json.dumps({'operation': operation})}",
        )  # fmt: skip

    def wait(self, name: str, ready: Callable[[Obj], bool], what: str) -> Obj:
        """Poll the Application until `ready`; fail at once when a sync failed."""
        deadline = time.monotonic() + SYNC_TIMEOUT
        app: Obj = {}
        while time.monotonic() < deadline:
            self.check_alive()
            app = self.application(name)
            if ready(app):
                return app
            failure = sync_failure(app)
            if failure:
                raise HarnessError(f"Application {name}: {failure}")
            time.sleep(0.5)
        raise HarnessError(
            f"Application {name} not {what} after {SYNC_TIMEOUT:.0f} s: {summary(app)}\n"
            f"{self.logs()}"
        )

    def wait_for_sync(self, name: str, revision: str | None = None) -> Obj:
        """Synced, operation Succeeded (at `revision` when given), and Healthy."""

        def done(app: Obj) -> bool:
            status = app.get("status") or {}
            sync = status.get("sync") or {}
            operation = status.get("operationState") or {}
            at = (operation.get("syncResult") or {}).get("revision")
            return (
                sync.get("status") == "Synced"
                and operation.get("phase") == "Succeeded"
                and (revision is None or (sync.get("revision") == revision and at == revision))
                and (status.get("health") or {}).get("status") == "Healthy"
            )

        return self.wait(name, done, f"Synced/Succeeded/Healthy at {revision or 'HEAD'}")


def sync_failure(app: Obj) -> str:
    """What failed, naming each object, when the last sync Failed or Errored; else ''."""
    status = app.get("status") or {}
    operation = status.get("operationState") or {}
    problems = [
        f"{show(_as_obj(r))}: {r.get('message', '').strip()}"
        for r in (operation.get("syncResult") or {}).get("resources") or []
        if r.get("status") == "SyncFailed" or r.get("hookPhase") in ("Failed", "Error")
    ]
    phase = str(operation.get("phase"))
    if phase in ("Failed", "Error"):
        details = problems or [str(operation.get("message", "")).strip()]
        return f"sync {phase.lower()}: " + "; ".join(details)
    if problems and operation.get("retryCount"):
        # Argo CD retries a failed sync (its own backoff, or the Application's retry
        # policy) and the phase stays Running; an object the API server refused is a
        # defect of the render all the same.
        return "sync failed (Argo CD is retrying): " + "; ".join(problems)
    errors = [
        f"{c.get('type')}: {c.get('message')}"
        for c in status.get("conditions") or []
        if c.get("type") in ("ComparisonError", "InvalidSpecError", "SyncError")
    ]
    return "; ".join(errors)


def _as_obj(resource: Obj) -> Obj:
    """A status entry (kind, namespace, name) shaped like an object, for show()."""
    return {
        "kind": resource.get("kind"),
        "metadata": {"namespace": resource.get("namespace"), "name": resource.get("name")},
    }


def summary(app: Obj) -> str:
    status = app.get("status") or {}
    out_of_sync = [
        show(_as_obj(r)) + f" ({r.get('status')}, {(r.get('health') or {}).get('status')})"
        for r in status.get("resources") or []
        if r.get("status") != "Synced"
        or (r.get("health") or {}).get("status") not in (None, "Healthy")
    ]
    return json.dumps(
        {
            "sync": (status.get("sync") or {}).get("status"),
            "health": (status.get("health") or {}).get("status"),
            "operation": {
                k: (status.get("operationState") or {}).get(k) for k in ("phase", "message")
            },
            "conditions": status.get("conditions"),
            "not synced or not healthy": out_of_sync,
        },
        indent=1,
    )


def wait_established(cluster: Cluster, crds: list[str], timeout: float = 60) -> None:
    """Every CRD named is served (`kubectl wait` errs on a CRD with no status yet).

    Each pending CRD read with one HTTPS GET, not a kubectl run listing every CRD:
    Argo CD's and ESO's are megabytes, which a kubectl process decodes each time."""
    deadline = time.monotonic() + timeout
    pending = list(crds)
    while pending:
        pending = [name for name in pending if not established(cluster, name)]
        if pending and time.monotonic() > deadline:
            raise HarnessError(f"CRDs not established after {timeout:.0f} s: {pending}")
        if pending:
            time.sleep(0.2)


def established(cluster: Cluster, crd: str) -> bool:
    found = read(cluster, f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{crd}")
    conditions = ((found or {}).get("status") or {}).get("conditions") or []
    return any(c["type"] == "Established" and c["status"] == "True" for c in conditions)


def install_argocd(
    cluster: Cluster, binaries: GitOpsBinaries, included: frozenset[GroupKind]
) -> None:
    """Argo CD's CRDs and config objects from its install.yaml, plus the test's settings:
    the health overrides, and the resource kinds to watch (`included`)."""
    kubectl_ok(cluster, "create", "namespace", ARGOCD_NAMESPACE)
    objects = [
        doc for doc in documents(binaries.argocd_install.read_text())
        if doc["kind"] in INSTALLED_KINDS and doc["metadata"]["name"] not in NOT_INSTALLED_CRDS
    ]  # fmt: skip
    for obj in objects:
        if obj["kind"] != "CustomResourceDefinition":
            obj["metadata"]["namespace"] = ARGOCD_NAMESPACE
        if obj["kind"] == "ConfigMap" and obj["metadata"]["name"] == "argocd-cm":
            obj["data"] = {
                **(obj.get("data") or {}),
                **{f"resource.customizations.health.{k}": v for k, v in HEALTH_OVERRIDES.items()},
                "resource.inclusions": resource_inclusions(included),
            }
    apply(cluster, objects)
    crds = [o["metadata"]["name"] for o in objects if o["kind"] == "CustomResourceDefinition"]
    wait_established(cluster, crds)


def component_env(cluster: Cluster, workdir: Path) -> dict[str, str]:
    """The environment of every Argo CD process: the kubeconfig, and nothing of the caller's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KUBE", "ARGOCD_", "GIT_"))}
    tmp = workdir / "tmp"
    for sub in ("tmp", "tls", "ssh", "gpg"):
        (workdir / sub).mkdir(parents=True, exist_ok=True)
    env.update(
        HOME=str(workdir),
        TMPDIR=str(tmp),
        # bin/ first: the pinned kustomize is the one the repo-server runs.
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        KUBECONFIG=str(cluster.kubeconfig),
        ARGOCD_FAKE_IN_CLUSTER="true",
        ARGOCD_TLS_DATA_PATH=str(workdir / "tls"),
        ARGOCD_SSH_DATA_PATH=str(workdir / "ssh"),
        ARGOCD_GNUPGHOME=str(workdir / "gpg"),
        ARGOCD_GPG_ENABLED="false",
        ARGOCD_ASK_PASS_SOCK=str(workdir / "askpass.sock"),
        GIT_CONFIG_NOSYSTEM="1",
        # One controller: shard 0 of 1.
        HOSTNAME="argocd-application-controller-0",
    )
    return env


def start(
    name: str, workdir: Path, build: Callable[[], tuple[list[str], str]], env: dict[str, str]
) -> Process:
    """start_server with an environment: `build` picks ports, returns args and a ready URL."""

    def attempt() -> tuple[list[str], Callable[[], bool]]:
        args, url = build()
        if url.startswith("redis://"):
            port = int(url.rsplit(":", 1)[1])
            return args, lambda: redis_ping(port)
        return args, lambda: http_ok(url)

    return start_server(
        name, workdir / f"{name}.log", attempt, "ready", env=env, stop_timeout=STOP_GRACE
    )


@contextmanager
def argocd(
    cluster: Cluster, workdir: Path, binaries: GitOpsBinaries, included: Iterable[GroupKind]
) -> Iterator[ArgoCD]:
    """Argo CD running against `cluster` (its home, and its in-cluster destination),
    watching only the (group, kind)s `included` (see resource_inclusions)."""
    workdir.mkdir(parents=True, exist_ok=True)
    kinds = frozenset(included)
    install_argocd(cluster, binaries, kinds)
    env = component_env(cluster, workdir)
    running = ArgoCD(cluster, workdir, binaries, kinds)
    with ExitStack() as stack:

        def started(process: Process) -> Process:
            running.processes.append(process)
            stack.callback(process.stop)
            return process

        redis_port = 0

        def redis() -> tuple[list[str], str]:
            nonlocal redis_port
            redis_port = free_port()
            args = [
                str(binaries.redis), "--bind", LOOPBACK, "--port", str(redis_port),
                "--save", "", "--appendonly", "no", "--dir", str(workdir),
            ]  # fmt: skip
            return args, f"redis://{LOOPBACK}:{redis_port}"

        started(start("redis", workdir, redis, env))
        repo_port = 0

        def repo_server() -> tuple[list[str], str]:
            nonlocal repo_port
            repo_port, metrics = free_port(), free_port()
            args = [
                str(binaries.repo_server), "--address", LOOPBACK, "--port", str(repo_port),
                "--metrics-address", LOOPBACK, "--metrics-port", str(metrics),
                "--redis", f"{LOOPBACK}:{redis_port}", "--disable-tls", "--loglevel", "info",
            ]  # fmt: skip
            return args, f"http://{LOOPBACK}:{metrics}/healthz?full=true"

        started(start("argocd-repo-server", workdir, repo_server, env))

        def controller() -> tuple[list[str], str]:
            metrics = free_port()
            args = [
                str(binaries.controller),
                f"--namespace={ARGOCD_NAMESPACE}",
                f"--redis={LOOPBACK}:{redis_port}",
                f"--repo-server={LOOPBACK}:{repo_port}",
                "--repo-server-plaintext",
                f"--metrics-port={metrics}",
                "--self-heal-timeout-seconds=1",
                # Resource health in the Application's status, where the harness reads it.
                "--persist-resource-health=true",
                "--loglevel=info",
            ]
            return args, f"http://{LOOPBACK}:{metrics}/healthz"

        started(start("argocd-application-controller", workdir, controller, env))
        yield running


@functools.cache
def eso_crds(bundle: Path) -> list[Obj]:
    """ESO's CRDs, parsed once per test process (1.4 MB; the fleet installs them five times)."""
    return documents(bundle.read_text())


@contextmanager
def external_secrets_operator(
    cluster: Cluster, workdir: Path, binaries: GitOpsBinaries
) -> Iterator[Process]:
    """ESO's CRDs in `cluster` and its controller running against it, out of cluster."""
    workdir.mkdir(parents=True, exist_ok=True)
    crds = eso_crds(binaries.eso_crds)
    apply(cluster, crds)
    wait_established(cluster, [o["metadata"]["name"] for o in crds])
    env = component_env(cluster, workdir)

    def eso() -> tuple[list[str], str]:
        metrics = free_port()
        args = [
            str(binaries.external_secrets),
            f"--metrics-addr={LOOPBACK}:{metrics}",
            "--enable-leader-election=false",
            "--loglevel=info",
        ]
        return args, f"http://{LOOPBACK}:{metrics}/metrics"

    process = start("external-secrets", workdir, eso, env)
    try:
        yield process
    finally:
        process.stop()


@contextmanager
def garbage_collector(
    cluster: Cluster, workdir: Path, binaries: GitOpsBinaries
) -> Iterator[Process]:
    """kube-controller-manager running only its garbage collector and disruption controller.

    Argo CD prunes with foreground propagation and waits until the object is gone: the
    API server keeps it, with the foregroundDeletion finalizer, until the garbage
    collector has deleted its dependents and removed the finalizer.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    kubeconfig = str(cluster.kubeconfig)
    insecure = ssl.create_default_context()
    insecure.check_hostname = False
    insecure.verify_mode = ssl.CERT_NONE  # its throwaway self-signed serving certificate

    def attempt() -> tuple[list[str], Callable[[], bool]]:
        port = free_port()
        args = [
            str(binaries.controller_manager),
            f"--kubeconfig={kubeconfig}",
            f"--authentication-kubeconfig={kubeconfig}",
            f"--authorization-kubeconfig={kubeconfig}",
            # The disruption controller writes the PodDisruptionBudgets' status, which
            # Argo CD's bundled health check of a PDB waits for.
            "--controllers=garbagecollector,disruption",
            "--leader-elect=false",
            "--use-service-account-credentials=false",
            f"--bind-address={LOOPBACK}",
            f"--secure-port={port}",
            f"--cert-dir={workdir}",
        ]
        url = f"https://{LOOPBACK}:{port}/healthz"
        return args, lambda: http_get(url, insecure).strip() == "ok"

    log = workdir / "kube-controller-manager.log"
    process = start_server(
        "kube-controller-manager", log, attempt, "healthy", stop_timeout=STOP_GRACE
    )
    try:
        yield process
    finally:
        process.stop()


def register_cluster(argo: ArgoCD, name: str, target: Cluster) -> None:
    """What `argocd cluster add` leaves behind: a cluster Secret that names `target`."""
    ca = target.kubeconfig.parent / "pki" / "ca.crt"
    config = {"bearerToken": target.token, "tlsClientConfig": {"caData": b64(ca.read_bytes())}}
    apply(argo.cluster, [{
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": f"cluster-{name}",
            "namespace": ARGOCD_NAMESPACE,
            "labels": {"argocd.argoproj.io/secret-type": "cluster"},
        },
        "stringData": {"name": name, "server": target.server, "config": json.dumps(config)},
    }])  # fmt: skip


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


class GitRepo:
    """A throwaway git repository that Argo CD reads through a file:// URL."""

    def __init__(self, path: Path, git: Path) -> None:
        self.path = path
        self.git_binary = git
        path.mkdir(parents=True, exist_ok=True)
        self.git("init", "--quiet", "--initial-branch=main")

    @property
    def url(self) -> str:
        return f"file://{self.path}"

    def git(self, *args: str) -> str:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
        env.update(
            HOME=str(self.path.parent), GIT_CONFIG_NOSYSTEM="1",
            GIT_AUTHOR_NAME="harvester-e2e", GIT_AUTHOR_EMAIL="e2e@harvester.invalid",
            GIT_COMMITTER_NAME="harvester-e2e", GIT_COMMITTER_EMAIL="e2e@harvester.invalid",
        )  # fmt: skip
        result = subprocess.run(
            [str(self.git_binary), "-C", str(self.path), *args],
            capture_output=True, text=True, env=env, check=False,
        )  # fmt: skip
        if result.returncode != 0:
            raise HarnessError(f"git {' '.join(args)} failed:\n{result.stderr}")
        return result.stdout

    def commit(self, message: str) -> str:
        """Commit everything in the work tree; the new HEAD."""
        self.git("add", "--all")
        self.git("commit", "--quiet", "--allow-empty", "-m", message)
        return self.git("rev-parse", "HEAD").strip()


def secret_references(workload: Obj) -> Iterator[tuple[str, str, str | None]]:
    """(kind, name, key) of every Secret and ConfigMap a workload's pods need to start.

    `optional: true` references are left out: a pod starts without them.
    """
    pod = ((workload.get("spec") or {}).get("template") or {}).get("spec") or {}
    containers = [*(pod.get("initContainers") or []), *(pod.get("containers") or [])]
    for container in containers:
        for source in container.get("envFrom") or []:
            for kind, ref in (("Secret", "secretRef"), ("ConfigMap", "configMapRef")):
                if ref in source and not source[ref].get("optional"):
                    yield kind, source[ref]["name"], None
        for var in container.get("env") or []:
            value_from = var.get("valueFrom") or {}
            for kind, ref in (("Secret", "secretKeyRef"), ("ConfigMap", "configMapKeyRef")):
                if ref in value_from and not value_from[ref].get("optional"):
                    yield kind, value_from[ref]["name"], value_from[ref]["key"]
    for volume in pod.get("volumes") or []:
        if "secret" in volume and not volume["secret"].get("optional"):
            yield "Secret", volume["secret"]["secretName"], None
        if "configMap" in volume and not volume["configMap"].get("optional"):
            yield "ConfigMap", volume["configMap"]["name"], None
        for projected in (volume.get("projected") or {}).get("sources") or []:
            for kind, ref in (("Secret", "secret"), ("ConfigMap", "configMap")):
                if ref in projected and not projected[ref].get("optional"):
                    yield kind, projected[ref]["name"], None


def unresolved_references(cluster: Cluster, namespace: str) -> list[str]:
    """Each reference of a Deployment or StatefulSet in `namespace` that names nothing live."""
    live: dict[tuple[str, str], Obj] = {}
    for kind in ("secrets", "configmaps"):
        items = json.loads(
            kubectl_ok(cluster, "get", kind, f"--namespace={namespace}", "-o", "json")
        )
        for item in items["items"]:
            live[(item["kind"], item["metadata"]["name"])] = item
    workloads = json.loads(
        kubectl_ok(
            cluster, "get", "deployments,statefulsets", f"--namespace={namespace}", "-o", "json"
        )
    )["items"]
    problems = []
    for workload in workloads:
        for kind, name, key in secret_references(workload):
            found = live.get((kind, name))
            if found is None:
                problems.append(f"{show(workload)}: references {kind} {name}, which does not exist")
            elif key is not None and key not in {
                **(found.get("data") or {}),
                **(found.get("binaryData") or {}),
            }:
                problems.append(
                    f"{show(workload)}: references key {key} of {kind} {name}, which has none"
                )
    return problems


def wait_for_references(cluster: Cluster, namespace: str, timeout: float = 60) -> None:
    """Every Secret and ConfigMap the workloads reference exists (ESO may still be writing)."""
    deadline = time.monotonic() + timeout
    while True:
        problems = unresolved_references(cluster, namespace)
        if not problems:
            return
        if time.monotonic() > deadline:
            raise HarnessError("unresolved references after sync:\n" + "\n".join(problems))
        time.sleep(0.5)


# What a job started concurrently returns: its result, and the stack that stops what it
# started.
Started = Future[tuple[T, ExitStack]]


def start_concurrently(pool: ThreadPoolExecutor, job: Callable[[ExitStack], T]) -> Started[T]:
    """Run `job` in a thread of `pool`, with an ExitStack of its own for what it starts.

    Servers are started this way so that their start-ups (seconds of waiting each)
    overlap. `pool` must outlive every server started in it: a server gets SIGKILL when
    the thread that started it ends (PR_SET_PDEATHSIG), so its ExitStack is entered
    before anything else and shut down last. A job that fails stops what it started."""

    def run() -> tuple[T, ExitStack]:
        with ExitStack() as own:
            result = job(own)
            return result, own.pop_all()

    return pool.submit(run)


def collect(stack: ExitStack, started: Sequence[Started[T]]) -> list[T]:
    """The results of jobs from start_concurrently, in order, with what each started now
    stopped by `stack`; the first failure is raised once all of them are done (what the
    others started is on `stack` by then, and stops with it)."""
    results: list[T] = []
    error: BaseException | None = None
    for future in started:
        try:
            result, own = future.result()
        except BaseException as err:
            error = error or err
            continue
        stack.enter_context(own)
        results.append(result)
    if error is not None:
        raise error
    return results
