"""prometheus-operator out of cluster against an e2e kube-apiserver, and its CRDs.

The CRDs are the pinned module's own (example/prometheus-operator-crd/, kept byte for byte
in .cache/crd-schemas/crds/ by tools/crd_schemas.py, from mk/crds.mk's table, or under
$HARVESTER_CRD_SCHEMAS as for validation); the operator
is bin/prometheus-operator, built from the same pin (e2e/operator/go.mod). It talks to the
API server through the cluster's kubeconfig (KUBECONFIG) and serves its metrics on a free
loopback port. Nothing needs a kubelet: the operator writes the configuration of the
Prometheus and Alertmanager it is asked for into Secrets and ConfigMaps whether or not their
pods ever run.
"""

from __future__ import annotations

import base64
import gzip
import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from harvester_manifests.validate import crd_schemas_dir
from tests.e2e.apiserver import (
    BIN,
    LOOPBACK,
    Cluster,
    HarnessError,
    Process,
    free_port,
    http_get,
    wait_until,
)
from tests.e2e.conftest import load_crd
from tests.e2e.gitops import wait_established

T = TypeVar("T")
GROUP = "monitoring.coreos.com"
CRDS = crd_schemas_dir() / "crds"
OPERATOR = BIN / "prometheus-operator"
# How long the operator may take to write a configuration: a deadline for a wait, never a
# timing assertion (on a busy 2-core machine it takes a few seconds).
CONFIG_TIMEOUT = float(os.environ.get("HARVESTER_E2E_OPERATOR_TIMEOUT", "180"))


def uses_operator_kinds(objects: list[dict[str, object]]) -> bool:
    return any(str(o.get("apiVersion", "")).startswith(f"{GROUP}/") for o in objects)


def crd_files() -> list[Path]:
    files = sorted(CRDS.glob(f"*.{GROUP}.yaml"))
    if not files:
        raise HarnessError(f"no prometheus-operator CRDs in {CRDS}: run `make setup`")
    return files


def install_operator_crds(cluster: Cluster) -> None:
    """Every CRD of the pinned operator, established before anything uses it."""
    cluster.apply_crds([load_crd(path) for path in crd_files()], "e2e")
    # Polled: `kubectl wait` errs on a CRD whose status is not written yet.
    wait_established(cluster, [path.stem for path in crd_files()], timeout=120)


@contextmanager
def prometheus_operator(cluster: Cluster, workdir: Path) -> Iterator[Process]:
    """The operator, watching every namespace, with its web server on a loopback port."""
    if not OPERATOR.exists():
        raise HarnessError(f"{OPERATOR} is missing: run `make setup`")
    port = free_port()
    args = [
        str(OPERATOR),
        f"--web.listen-address={LOOPBACK}:{port}",
        "--log-level=debug",
        # No kubelet Service/Endpoints to maintain: there are no kubelets.
        "--kubelet-service=",
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("KUBE")}
    env["KUBECONFIG"] = str(cluster.kubeconfig)
    process = Process("prometheus-operator", args, workdir / "prometheus-operator.log", env)
    try:
        wait_until(
            process,
            lambda: "prometheus_operator" in http_get(f"http://{LOOPBACK}:{port}/metrics"),
            "serving /metrics",
        )
        yield process
    finally:
        process.stop()


def wait_for(process: Process, what: str, probe: Callable[[], T | None]) -> T:
    """Poll `probe` until it returns a value; fail with the operator's log otherwise."""
    deadline = time.monotonic() + CONFIG_TIMEOUT
    while time.monotonic() < deadline:
        if not process.alive():
            raise HarnessError(process.describe_failure(f"died before {what}"))
        found = probe()
        if found is not None:
            return found
        time.sleep(0.5)
    raise HarnessError(process.describe_failure(f"had not written {what}"))


def get_json(cluster: Cluster, *args: str) -> dict[str, object] | None:
    result = cluster.kubectl("get", *args, "-o", "json")
    if result.returncode != 0:
        return None
    loaded: dict[str, object] = json.loads(result.stdout)
    return loaded


def secret_file(secret: dict[str, object], key: str) -> str | None:
    """A key of a Secret's data, decoded (and gunzipped when it ends in .gz)."""
    data = secret.get("data")
    if not isinstance(data, dict) or key not in data:
        return None
    raw = base64.b64decode(str(data[key]))
    return (gzip.decompress(raw) if key.endswith(".gz") else raw).decode()
