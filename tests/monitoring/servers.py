"""Real Prometheus and Alertmanager servers for tests (binaries built by mk/monitoring.mk).

The servers are the pinned upstream binaries in bin/ (`make tools`): Prometheus 3.16.0
(Go module v0.316.0) and Alertmanager 0.35.0, built without their web UIs; only the
HTTP API is used. Each server listens on a free port on 127.0.0.1, keeps its storage
and its log in the given workdir, and is terminated when the context manager exits.

What a real generated (in-cluster) config does here, outside a cluster
-----------------------------------------------------------------------
Measured with Prometheus 3.16.0 (see test_servers_selftest.py, which pins the first
three points down):

* `kubernetes_sd_configs` without `api_server` (in-cluster mode) is NOT fatal.
  Prometheus starts, `/-/ready` answers 200, `reloadConfigSuccess` is true and
  `prometheus_config_last_reload_successful` is 1. Each such job logs once
  `msg="Cannot create service discovery" ... err="unable to load in-cluster
  configuration, KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be defined"`,
  counts in `prometheus_sd_failed_configs{name="scrape"}` and has no targets.
  The harness removes KUBERNETES_SERVICE_HOST/PORT from the servers' environment so
  this holds even when the tests themselves run in a pod (with them set, Prometheus
  would look for /var/run/secrets/kubernetes.io/serviceaccount/token instead).
  So a later test can load the generated prometheus.yml with its
  kubernetes_sd_configs untouched; there is no need for `api_server`.
* `api_server: http://127.0.0.1:1` also works (discovery retries quietly against a
  closed loopback port, 0 targets) BUT is a config error when combined with
  `namespaces: {own_namespace: true}` ("cannot use 'api_server' and
  'namespaces.own_namespace' simultaneously": Prometheus exits). Prefer leaving
  kubernetes_sd_configs as generated; if you do inject api_server, drop own_namespace.
* Files that only exist in a pod: a scrape job with
  `tls_config: {ca_file: /var/run/secrets/kubernetes.io/serviceaccount/ca.crt}` is not
  fatal either: that one scrape pool is not created ("error creating new scrape pool
  ... unable to read CA cert"), `prometheus_target_scrape_pools_failed_total` counts
  it, the config still reports success. `authorization.credentials_file` is read
  per scrape. But `promtool check config` FAILS on a missing credentials_file /
  bearer_token_file (it checks that the files exist); use
  `promtool check config --syntax-only` for generated configs, or point the paths at
  files in the workdir.
* `rule_files` are resolved relative to the directory of the config file; globs
  that match nothing are fine (no group loads, no error). The generated config will
  name in-pod paths (e.g. /etc/prometheus/rules/*.yml): the later test must rewrite
  `rule_files` to the workdir copies (or write the rule files next to the config and
  use relative names), otherwise the rules silently do not load; assert on
  prometheus_rule_groups() to catch that.
* Cluster service names (`alertmanager:9093`, `grafana:3000`, `api:8000`) in
  static_configs and `alerting.alertmanagers` are looked up with the system resolver
  and fail ("no such host"): not fatal, but they send DNS queries off the machine
  every scrape interval. Rewrite them to loopback in tests: the alertmanagers target
  to the harness's Alertmanager (`urlsplit(am_url).netloc`, which also gives an
  end-to-end Prometheus -> Alertmanager test), other targets to e.g. 127.0.0.1:1.
* Alertmanager: a slack receiver needs `api_url`, `api_url_file` or the global
  `slack_api_url(_file)`. `api_url_file` is read (and stripped) when a notification is
  sent, so for tests write a loopback URL into a file in the workdir (for instance a
  RecordingHTTPServer's url) and point the generated `api_url_file` there. Clustering
  is disabled (`--cluster.listen-address=`), so nothing binds 0.0.0.0:9094.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

JSONDict = dict[str, Any]
T = TypeVar("T")

REPO_ROOT = Path(__file__).resolve().parents[2]
BIN_DIR = REPO_ROOT / "bin"
LOOPBACK = "127.0.0.1"
READY_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 15.0
HTTP_TIMEOUT_S = 10.0
_PORT_ATTEMPTS = 3
_LOG_TAIL_CHARS = 6000
# Variables that would switch Prometheus' kubernetes SD into in-cluster mode.
_CLUSTER_ENV = ("KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT")

# Never send loopback requests through an HTTP proxy from the environment.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class ServerError(RuntimeError):
    """A server did not start, or its API answered something unexpected."""


def binary(name: str) -> Path:
    """The path of a tool built into bin/ by `make tools`."""
    path = BIN_DIR / name
    if not os.access(path, os.X_OK):
        raise ServerError(f"{path} is missing: run `make tools` (mk/monitoring.mk builds it)")
    return path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (start-up retries on a clash)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port


def _log_tail(log_path: Path) -> str:
    try:
        text = log_path.read_text(errors="replace")
    except OSError as exc:
        return f"<no log: {exc}>"
    return text if len(text) <= _LOG_TAIL_CHARS else "...\n" + text[-_LOG_TAIL_CHARS:]


def _server_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in _CLUSTER_ENV}


def _ready_status(base_url: str) -> int | None:
    try:
        with _OPENER.open(f"{base_url}/-/ready", timeout=2.0) as resp:
            status: int = resp.status
            return status
    except urllib.error.HTTPError as exc:
        return exc.code
    except (urllib.error.URLError, OSError):
        return None


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextlib.contextmanager
def _running(
    name: str,
    argv: Callable[[int], list[str]],
    workdir: Path,
    ready_timeout: float,
) -> Iterator[str]:
    """Start `argv(port)` in workdir, wait for GET /-/ready == 200, yield the base URL."""
    workdir.mkdir(parents=True, exist_ok=True)
    log_path = workdir / f"{name}.log"
    for attempt in range(1, _PORT_ATTEMPTS + 1):
        port = free_port()
        base_url = f"http://{LOOPBACK}:{port}"
        with log_path.open("wb") as log:
            proc = subprocess.Popen(
                argv(port),
                cwd=workdir,
                env=_server_env(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            deadline = time.monotonic() + ready_timeout
            last_status: int | None = None
            while True:
                if proc.poll() is not None:
                    break
                last_status = _ready_status(base_url)
                if last_status == 200:
                    break
                if time.monotonic() > deadline:
                    raise ServerError(
                        f"{name} on {base_url} not ready after {ready_timeout:.0f}s "
                        f"(last /-/ready status: {last_status}); log {log_path}:\n"
                        + _log_tail(log_path)
                    )
                time.sleep(0.1)
            if proc.returncode is not None:
                log_text = _log_tail(log_path)
                if "address already in use" in log_text and attempt < _PORT_ATTEMPTS:
                    continue  # another process took the port between probe and bind
                raise ServerError(
                    f"{name} exited with status {proc.returncode} before it was ready; "
                    f"log {log_path}:\n{log_text}"
                )
            yield base_url
            if proc.poll() is not None:
                raise ServerError(
                    f"{name} died while in use (status {proc.returncode}); log {log_path}:\n"
                    + _log_tail(log_path)
                )
            return
        finally:
            _stop(proc)
    raise AssertionError("unreachable")  # pragma: no cover


@contextlib.contextmanager
def running_prometheus(
    config_path: Path,
    workdir: Path,
    *,
    extra_args: Sequence[str] = (),
    ready_timeout: float = READY_TIMEOUT_S,
) -> Iterator[str]:
    """Run bin/prometheus on config_path with its TSDB in workdir/prometheus-data.

    Yields the base URL (http://127.0.0.1:PORT). POST /-/reload is enabled.
    """
    exe = binary("prometheus")
    config = config_path.resolve()

    def argv(port: int) -> list[str]:
        return [
            str(exe),
            f"--config.file={config}",
            f"--storage.tsdb.path={workdir.resolve() / 'prometheus-data'}",
            f"--web.listen-address={LOOPBACK}:{port}",
            "--web.enable-lifecycle",
            # An alert that fires before Prometheus has discovered the Alertmanager is not
            # queued for it, and is sent again only after the resend delay (1m by default):
            # resend every second so a test never waits on that race.
            "--rules.alert.resend-delay=1s",
            *extra_args,
        ]

    with _running("prometheus", argv, workdir, ready_timeout) as url:
        yield url


@contextlib.contextmanager
def running_alertmanager(
    config_path: Path,
    workdir: Path,
    *,
    extra_args: Sequence[str] = (),
    ready_timeout: float = READY_TIMEOUT_S,
) -> Iterator[str]:
    """Run bin/alertmanager on config_path, data in workdir/alertmanager-data, no HA cluster.

    Yields the base URL (http://127.0.0.1:PORT).
    """
    exe = binary("alertmanager")
    config = config_path.resolve()

    def argv(port: int) -> list[str]:
        return [
            str(exe),
            f"--config.file={config}",
            f"--storage.path={workdir.resolve() / 'alertmanager-data'}",
            f"--web.listen-address={LOOPBACK}:{port}",
            "--cluster.listen-address=",
            *extra_args,
        ]

    with _running("alertmanager", argv, workdir, ready_timeout) as url:
        yield url


# --- HTTP API helpers ---------------------------------------------------------------


def _request(url: str, data: bytes | None = None, method: str = "GET") -> Any:
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with _OPENER.open(req, timeout=HTTP_TIMEOUT_S) as resp:
            body = resp.read()
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode(errors="replace")
        raise ServerError(f"{method} {url}: HTTP {exc.code}: {detail}") from exc
    return json.loads(body) if body.strip() else None


def _prometheus_data(base_url: str, path: str) -> Any:
    reply = _request(f"{base_url}{path}")
    if not isinstance(reply, dict) or reply.get("status") != "success":
        raise ServerError(f"GET {base_url}{path}: {reply!r}")
    return reply["data"]


def prometheus_rule_groups(base_url: str) -> list[JSONDict]:
    """GET /api/v1/rules: the loaded rule groups (name, file, rules with state/health)."""
    groups: list[JSONDict] = _prometheus_data(base_url, "/api/v1/rules")["groups"]
    return groups


def prometheus_config_ok(base_url: str) -> bool:
    """True when Prometheus serves a loaded config and its last (re)load succeeded."""
    config = _prometheus_data(base_url, "/api/v1/status/config")
    runtime = _prometheus_data(base_url, "/api/v1/status/runtimeinfo")
    return bool(config.get("yaml")) and runtime.get("reloadConfigSuccess") is True


def prometheus_query(base_url: str, promql: str) -> list[JSONDict]:
    """GET /api/v1/query (instant vector): the result samples."""
    query = urllib.parse.urlencode({"query": promql})
    data = _prometheus_data(base_url, f"/api/v1/query?{query}")
    result: list[JSONDict] = data["result"]
    return result


def prometheus_parse_query(base_url: str, promql: str) -> JSONDict:
    """GET /api/v1/parse_query: the expression's syntax tree as Prometheus' own parser sees
    it (an invalid expression is a ServerError with the parser's message)."""
    query = urllib.parse.urlencode({"query": promql})
    tree: JSONDict = _prometheus_data(base_url, f"/api/v1/parse_query?{query}")
    return tree


def prometheus_alertmanagers(base_url: str) -> list[str]:
    """GET /api/v1/alertmanagers: the URLs of the Alertmanagers Prometheus sends alerts to."""
    data = _prometheus_data(base_url, "/api/v1/alertmanagers")
    return [am["url"] for am in data["activeAlertmanagers"]]


def prometheus_metrics(base_url: str) -> str:
    """GET /metrics: Prometheus' own metrics (text format)."""
    with _OPENER.open(f"{base_url}/metrics", timeout=HTTP_TIMEOUT_S) as resp:
        text: str = resp.read().decode()
        return text


def post_alerts(am_url: str, alerts: list[JSONDict]) -> None:
    """POST /api/v2/alerts. Each alert: {"labels": {...}, "annotations": {...}, ...}."""
    _request(f"{am_url}/api/v2/alerts", data=json.dumps(alerts).encode(), method="POST")


def alert_groups(am_url: str) -> list[JSONDict]:
    """GET /api/v2/alerts/groups: [{"labels", "receiver": {"name"}, "alerts": [...]}]."""
    groups: list[JSONDict] = _request(f"{am_url}/api/v2/alerts/groups")
    return groups


def alertmanager_alerts(am_url: str) -> list[JSONDict]:
    """GET /api/v2/alerts: every alert with its status (state, inhibitedBy, silencedBy)."""
    alerts: list[JSONDict] = _request(f"{am_url}/api/v2/alerts")
    return alerts


def wait_until(
    probe: Callable[[], T | None],
    *,
    timeout: float = 60.0,
    what: str = "condition",
    logs: Sequence[Path] = (),
) -> T:
    """Call probe until it returns something other than None/False/empty; return that.

    The timeout is a bound for a hung server on a loaded machine, not a speed check; on
    timeout the tails of `logs` (the servers' logs) say what the servers were doing.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            tails = "".join(f"\n--- {log}:\n{_log_tail(log)}" for log in logs if log.exists())
            raise ServerError(f"timed out after {timeout:.0f}s waiting for {what}{tails}")
        time.sleep(0.2)


# --- a loopback HTTP sink (stands in for Slack webhooks) ----------------------------


@dataclass
class RecordedRequest:
    path: str
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class RecordingHTTPServer:
    """Base url of a local server that answers 200 to every POST and records it."""

    url: str
    requests: list[RecordedRequest] = field(default_factory=list)


@contextlib.contextmanager
def recording_http_server() -> Iterator[RecordingHTTPServer]:
    """A 127.0.0.1 HTTP server that records POSTs (e.g. Alertmanager's Slack messages)."""
    lock = threading.Lock()
    recorded: list[RecordedRequest] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            with lock:
                recorded.append(RecordedRequest(self.path, body))
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer((LOOPBACK, 0), Handler)
    thread = threading.Thread(target=server.serve_forever, name="recording-http", daemon=True)
    thread.start()
    try:
        yield RecordingHTTPServer(url=f"http://{LOOPBACK}:{server.server_port}", requests=recorded)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
