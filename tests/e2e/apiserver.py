"""A real kube-apiserver backed by a real etcd, on loopback: no kubelet, no containers.

`etcd()` starts one etcd; `kube_apiserver()` starts one kube-apiserver on it, under an
etcd prefix of its own, so several API servers can share one etcd and each still sees
an empty cluster. `cluster()` does both. Each context manager waits until its server
is ready, yields, and stops what it started (SIGTERM, then SIGKILL). Everything lives
in a work directory: certificates and keys made with the openssl CLI, the static token
file, the kubeconfig, etcd's data and each server's log. A server that dies or is not
ready in time raises `HarnessError` carrying the tail of its log.

The binaries come from bin/ (`make setup` builds them from e2e/apiserver/go.mod); a
missing one raises `HarnessError`, never skips.
"""

from __future__ import annotations

import ctypes
import functools
import json
import os
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("HARVESTER_E2E_BIN", ROOT / "bin"))
LOOPBACK = "127.0.0.1"
# The token's user is in system:masters: RBAC stays on, as in a real cluster, and
# lets this user do anything.
TOKEN_USER = "harvester-e2e"
TOKEN_GROUP = "system:masters"
READY_TIMEOUT = float(os.environ.get("HARVESTER_E2E_READY_TIMEOUT", "90"))
STOP_TIMEOUT = 15.0
# A free port can be taken by someone else before the server binds it: try again,
# on other ports, this many times in all.
PORT_ATTEMPTS = 3
PR_SET_PDEATHSIG = 1
# The Go garbage collector's target (GOGC) of every Go process the harness starts: the
# servers, the controllers and each kubectl run. Go's default (100) collects each time
# the heap doubles; profiles of the GitOps API servers showed its marking and sweeping as
# about a third of their CPU. 400 collects a quarter as often, for more memory (a few
# hundred MB per server, where the machine has GBs): the run is bound by CPU, not memory.
# Only the runtime's pacing changes; no server behaves otherwise.
GOGC = os.environ.get("HARVESTER_E2E_GOGC", "400")


class Priority:
    """The nice(2) increment of every process this test process starts from now on.

    conftest's `scheduling_priority` sets it per test module: the GitOps file and
    test_apiserver.py are the longest chains of a parallel run, so what they start
    keeps the normal priority and the other files' servers and kubectl runs (at
    +BACKGROUND) use the CPU the chains leave idle while they wait. Only the order in
    which runnable processes get a core changes; a process never waits on a
    lower-priority one for longer than the scheduler's time slice.
    HARVESTER_E2E_NICE=0 turns it off."""

    BACKGROUND = int(os.environ.get("HARVESTER_E2E_NICE", "10"))
    increment = 0


class HarnessError(RuntimeError):
    """The harness could not start, reach or stop a server."""


@dataclass(frozen=True)
class Binaries:
    kube_apiserver: Path
    etcd: Path
    kubectl: Path

    @classmethod
    def from_bin(cls, bin_dir: Path = BIN) -> Binaries:
        found = cls(
            kube_apiserver=bin_dir / "kube-apiserver",
            etcd=bin_dir / "etcd",
            kubectl=bin_dir / "e2e-kubectl",
        )
        missing = [str(p) for p in (found.kube_apiserver, found.etcd, found.kubectl)]
        missing = [p for p in missing if not os.access(p, os.X_OK)]
        if shutil.which("openssl") is None:
            missing.append("openssl (Debian package openssl)")
        if missing:
            raise HarnessError(f"missing {', '.join(missing)}: run `make setup` (see mk/e2e.mk)")
        return found


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port


# Looked up once, in the parent: a child forked while another thread holds the dynamic
# loader's lock must not call dlopen/dlsym before it execs.
_PRCTL = ctypes.CDLL(None, use_errno=True).prctl


def _die_with_parent() -> None:
    """In the child, before exec: SIGKILL when the test process dies, however it dies.

    The "parent" is the thread that started the child (prctl(2)): a thread that starts
    servers must outlive them (see gitops.start_concurrently)."""
    _PRCTL(PR_SET_PDEATHSIG, signal.SIGKILL)
    _lower_priority()


def _lower_priority() -> None:
    """In the child, before exec: the current Priority.increment."""
    if Priority.increment > 0:
        os.nice(Priority.increment)


def go_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """`env` (else the caller's environment) with the harness's GOGC."""
    return {**(os.environ if env is None else env), "GOGC": GOGC}


class Process:
    """A started server whose stdout and stderr go to `log`."""

    def __init__(
        self,
        name: str,
        args: list[str],
        log: Path,
        env: dict[str, str] | None = None,
        stop_timeout: float = STOP_TIMEOUT,
    ) -> None:
        self.name = name
        self.stop_timeout = stop_timeout
        self.args = args
        self.log = log
        self._log_file: IO[bytes] = log.open("wb")
        self.popen = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,
            env=go_env(env),
        )

    def alive(self) -> bool:
        return self.popen.poll() is None

    def tail(self, lines: int = 40) -> str:
        try:
            text = self.log.read_text(errors="replace")
        except OSError as err:
            return f"({self.log}: {err})"
        return "\n".join(text.splitlines()[-lines:])

    def describe_failure(self, what: str) -> str:
        state = "running" if self.alive() else f"exited with code {self.popen.returncode}"
        return f"{self.name} {what} ({state}); last lines of {self.log}:\n{self.tail()}"

    def stop(self) -> None:
        stop_all([self])


def stop_all(processes: Sequence[Process]) -> None:
    """SIGTERM to every one at once, then wait for each (SIGKILL after its stop_timeout).

    Concurrently, not one after the other: a kube-apiserver's graceful shutdown takes
    about a second, and the GitOps fleet stops five of them."""
    running = [p for p in processes if p.alive()]
    for process in running:
        process.popen.send_signal(signal.SIGTERM)
    deadline = time.monotonic()
    for process in running:
        try:
            process.popen.wait(max(0.0, deadline + process.stop_timeout - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.popen.kill()
            process.popen.wait()
    for process in processes:
        process._log_file.close()


def wait_until(process: Process, probe: Callable[[], bool], what: str) -> None:
    """Poll `probe` until it is true; fail fast when the process dies."""
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if not process.alive():
            raise HarnessError(process.describe_failure(f"died before {what}"))
        try:
            if probe():
                return
        except (OSError, urllib.error.URLError, ValueError):
            pass
        time.sleep(0.1)
    raise HarnessError(process.describe_failure(f"not {what} after {READY_TIMEOUT:.0f} s"))


def start_server(
    name: str,
    log: Path,
    attempt: Callable[[], tuple[list[str], Callable[[], bool]]],
    what: str,
    env: dict[str, str] | None = None,
    stop_timeout: float = STOP_TIMEOUT,
) -> Process:
    """Start the server that `attempt()` describes (args, readiness probe) and wait.

    `attempt` picks fresh ports each time it is called: a server that dies because
    its port was taken in the meantime is started again, up to PORT_ATTEMPTS times.
    """
    for tries in range(1, PORT_ATTEMPTS + 1):
        args, probe = attempt()
        process = Process(name, args, log, env, stop_timeout)
        try:
            wait_until(process, probe, what)
            return process
        except HarnessError:
            process.stop()
            if tries == PORT_ATTEMPTS or "address already in use" not in process.tail(200):
                raise
    raise AssertionError("unreachable")


def http_get(url: str, context: ssl.SSLContext | None = None, token: str = "") -> str:
    return http_request(url, context, token)


def http_request(
    url: str,
    context: ssl.SSLContext | None = None,
    token: str = "",
    method: str = "GET",
    data: bytes | None = None,
    content_type: str = "",
    timeout: float = 5,
) -> str:
    request = urllib.request.Request(url, data=data, method=method)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    if content_type:
        request.add_header("Content-Type", content_type)
    with urllib.request.urlopen(request, timeout=timeout, context=context) as response:
        body: bytes = response.read()
        return body.decode()


def openssl(*args: str) -> None:
    result = subprocess.run(["openssl", *args], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise HarnessError(f"openssl {' '.join(args)} failed:\n{result.stderr}")


@dataclass(frozen=True)
class Certs:
    ca: Path
    server_cert: Path
    server_key: Path
    sa_public: Path
    sa_private: Path

    @classmethod
    def make(cls, directory: Path) -> Certs:
        """A throwaway CA, a serving certificate for 127.0.0.1 and a service-account key."""
        directory.mkdir(parents=True, exist_ok=True)
        d = directory
        ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
        openssl(
            "req", "-x509", *ec, "-keyout", str(d / "ca.key"), "-out", str(d / "ca.crt"),
            "-days", "2", "-subj", "/CN=harvester-e2e-ca",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        )  # fmt: skip
        openssl(
            "req", "-new", *ec, "-keyout", str(d / "server.key"), "-out", str(d / "server.csr"),
            "-subj", "/CN=kube-apiserver",
        )  # fmt: skip
        (d / "server.ext").write_text(
            "basicConstraints=CA:FALSE\n"
            "keyUsage=critical,digitalSignature\n"
            "extendedKeyUsage=serverAuth\n"
            f"subjectAltName=IP:{LOOPBACK},DNS:localhost\n"
        )
        openssl(
            "x509", "-req", "-in", str(d / "server.csr"), "-CA", str(d / "ca.crt"),
            "-CAkey", str(d / "ca.key"), "-CAcreateserial", "-days", "2",
            "-extfile", str(d / "server.ext"), "-out", str(d / "server.crt"),
        )  # fmt: skip
        openssl(
            "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
            "-out", str(d / "sa.key"),
        )  # fmt: skip
        openssl("pkey", "-in", str(d / "sa.key"), "-pubout", "-out", str(d / "sa.pub"))
        return cls(d / "ca.crt", d / "server.crt", d / "server.key", d / "sa.pub", d / "sa.key")


@dataclass(frozen=True)
class Etcd:
    url: str
    process: Process


@contextmanager
def etcd(workdir: Path, binaries: Binaries) -> Iterator[Etcd]:
    """One single-member etcd on loopback; its data lives in workdir/etcd-data."""
    workdir.mkdir(parents=True, exist_ok=True)
    client = ""

    def attempt() -> tuple[list[str], Callable[[], bool]]:
        nonlocal client
        shutil.rmtree(workdir / "etcd-data", ignore_errors=True)  # no member of a failed try
        client, peer = f"http://{LOOPBACK}:{free_port()}", f"http://{LOOPBACK}:{free_port()}"
        args = [
            str(binaries.etcd),
            "--name=e2e",
            f"--data-dir={workdir / 'etcd-data'}",
            f"--listen-client-urls={client}",
            f"--advertise-client-urls={client}",
            f"--listen-peer-urls={peer}",
            f"--initial-advertise-peer-urls={peer}",
            f"--initial-cluster=e2e={peer}",
            # A throwaway store: durability buys nothing here and costs seconds.
            "--unsafe-no-fsync",
            "--log-level=warn",
        ]
        url = client
        return args, lambda: json.loads(http_get(f"{url}/health")).get("health") == "true"

    process = start_server("etcd", workdir / "etcd.log", attempt, "healthy")
    try:
        yield Etcd(client, process)
    finally:
        process.stop()


@dataclass(frozen=True)
class Cluster:
    """A ready kube-apiserver and the means to talk to it."""

    server: str
    kubeconfig: Path
    token: str
    workdir: Path
    binaries: Binaries
    apiserver: Process
    etcd: Etcd

    def kubectl(
        self, *args: str, stdin: str | None = None, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        """Run the pinned kubectl against this server (never the caller's kubeconfig)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("KUBE")}
        env["HOME"] = str(self.workdir)
        env["GOGC"] = GOGC
        command = [
            str(self.binaries.kubectl),
            f"--kubeconfig={self.kubeconfig}",
            f"--cache-dir={self.workdir / 'kube-cache'}",
            *args,
        ]
        return subprocess.run(
            command, input=stdin, capture_output=True, text=True, timeout=timeout, env=env,
            check=False, preexec_fn=_lower_priority,
        )  # fmt: skip

    @functools.cached_property
    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.workdir / "pki" / "ca.crt"))

    def get_json(self, path: str) -> Any:
        """GET `path` of this server as the harness's token: the JSON, or None on 404.

        For what the harness reads often (polls, discovery): one HTTPS request from the
        test process, where a kubectl run costs a Go process's start (50-100 ms of CPU)."""
        try:
            return json.loads(http_get(self.server + path, self.ssl_context, self.token))
        except urllib.error.HTTPError as err:
            if err.code == 404:
                return None
            body = err.read().decode(errors="replace")
            raise HarnessError(f"GET {path}: {err.code} {body}") from err

    def apply_crds(self, crds: Sequence[Any], manager: str, force: bool = False) -> None:
        """Server-side apply of CustomResourceDefinitions, as `kubectl apply --server-side
        [--force-conflicts]` sends it (a PATCH of type apply-patch per object), from the
        test process: a kubectl run decoding megabytes of CRDs costs 0.3-0.5 CPU-s."""
        for crd in crds:
            name = crd["metadata"]["name"]
            query = f"fieldManager={manager}" + ("&force=true" if force else "")
            path = f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}?{query}"
            try:
                http_request(
                    self.server + path, self.ssl_context, self.token, method="PATCH",
                    data=json.dumps(crd).encode(), content_type="application/apply-patch+yaml",
                    timeout=60,
                )  # fmt: skip
            except urllib.error.HTTPError as err:
                body = err.read().decode(errors="replace")
                raise HarnessError(f"applying the CRD {name}: {err.code} {body}") from err

    def logs(self, lines: int = 40) -> str:
        return (
            f"--- {self.apiserver.log} ---\n{self.apiserver.tail(lines)}\n"
            f"--- {self.etcd.process.log} ---\n{self.etcd.process.tail(lines)}"
        )


def write_kubeconfig(path: Path, server: str, ca: Path, token: str) -> None:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": "e2e", "cluster": {"server": server, "certificate-authority": str(ca)}}
        ],
        "users": [{"name": TOKEN_USER, "user": {"token": token}}],
        "contexts": [{"name": "e2e", "context": {"cluster": "e2e", "user": TOKEN_USER}}],
        "current-context": "e2e",
    }
    path.write_text(json.dumps(config, indent=2))  # JSON is YAML: kubectl reads it
    path.chmod(0o600)


@contextmanager
def kube_apiserver(
    workdir: Path,
    store: Etcd,
    binaries: Binaries,
    etcd_prefix: str = "/registry",
    extra_args: Sequence[str] = (),
) -> Iterator[Cluster]:
    """A kube-apiserver on a free loopback port, storing under `etcd_prefix` in `store`.

    `extra_args` go last (e.g. `--v=3` logs every request, with its user agent).
    """
    workdir.mkdir(parents=True, exist_ok=True)
    certs = Certs.make(workdir / "pki")
    token = secrets.token_hex(16)
    token_file = workdir / "tokens.csv"
    token_file.write_text(f'{token},{TOKEN_USER},{TOKEN_USER},"{TOKEN_GROUP}"\n')
    token_file.chmod(0o600)
    context = ssl.create_default_context(cafile=str(certs.ca))
    server = ""

    def attempt() -> tuple[list[str], Callable[[], bool]]:
        nonlocal server
        port = free_port()
        server = url = f"https://{LOOPBACK}:{port}"
        args = [
            str(binaries.kube_apiserver),
            f"--bind-address={LOOPBACK}",
            f"--advertise-address={LOOPBACK}",
            f"--secure-port={port}",
            f"--cert-dir={workdir / 'pki'}",
            f"--tls-cert-file={certs.server_cert}",
            f"--tls-private-key-file={certs.server_key}",
            f"--etcd-servers={store.url}",
            f"--etcd-prefix={etcd_prefix}",
            f"--token-auth-file={token_file}",
            "--authorization-mode=RBAC",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            f"--service-account-key-file={certs.sa_public}",
            f"--service-account-signing-key-file={certs.sa_private}",
            # Only allocated from, never routed to: no traffic leaves loopback.
            "--service-cluster-ip-range=10.96.0.0/16",
            # The reconciler would publish the advertise address as the endpoint of the
            # `kubernetes` Service, and refuses a loopback one.
            "--endpoint-reconciler-type=none",
            "--profiling=false",
            *extra_args,
        ]
        return args, lambda: http_get(f"{url}/readyz", context, token).strip() == "ok"

    process = start_server(
        "kube-apiserver", workdir / "kube-apiserver.log", attempt, "ready (/readyz)"
    )
    try:
        kubeconfig = workdir / "kubeconfig"
        write_kubeconfig(kubeconfig, server, certs.ca, token)
        yield Cluster(server, kubeconfig, token, workdir, binaries, process, store)
    finally:
        process.stop()


@contextmanager
def cluster(workdir: Path | None = None, binaries: Binaries | None = None) -> Iterator[Cluster]:
    """etcd plus one kube-apiserver; a workdir it made itself is removed afterwards."""
    binaries = binaries or Binaries.from_bin()
    with ExitStack() as stack:
        if workdir is None:
            workdir = Path(
                stack.enter_context(tempfile.TemporaryDirectory(prefix="harvester-e2e-"))
            )
        store = stack.enter_context(etcd(workdir, binaries))
        yield stack.enter_context(kube_apiserver(workdir / "apiserver", store, binaries))
