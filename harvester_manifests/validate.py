"""Validate rendered manifests with the pinned kustomize and kubeconform in bin/.

`make setup` (mk/tools.mk) builds the binaries into ``bin/``, the offline
Kubernetes JSON schemas into ``.cache/k8s-schemas/`` (tools/k8s_schemas.py) and
the custom resources' schemas (Argo CD, External Secrets, Sealed Secrets) into
``.cache/crd-schemas/`` (mk/crds.mk, tools/crd_schemas.py). All are looked for next
to the repository this package lives in (an editable install), else in the current
working directory; ``HARVESTER_BIN``, ``HARVESTER_SCHEMAS`` and
``HARVESTER_CRD_SCHEMAS`` point elsewhere. Anything missing raises
:class:`ToolError`, which says to run ``make setup``.

kubeconform runs with ``-strict`` (a field the schema does not know, or a key given
twice, is an error) and two local ``-schema-location``s, the Kubernetes one first,
then the CRD one: it never reaches for the network, and a kind with no schema in
either (an unknown CRD, a typo) is an error, never skipped. This module never
prints or exits.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from harvester_manifests.errors import ToolError

__all__ = [
    "BIN_ENV",
    "CRD_SCHEMAS_ENV",
    "SCHEMAS_ENV",
    "KubeconformReport",
    "ResourceResult",
    "ToolError",
    "UnsupportedKubernetesVersion",
    "bin_dir",
    "crd_schemas_dir",
    "kubeconform",
    "kustomize_build",
    "schemas_dir",
    "supported_kubernetes_versions",
    "tool",
    "validate_directory",
]

BIN_ENV = "HARVESTER_BIN"
SCHEMAS_ENV = "HARVESTER_SCHEMAS"
CRD_SCHEMAS_ENV = "HARVESTER_CRD_SCHEMAS"
CRD_INDEX_FILE = "index.json"
VERSIONS_FILE = "versions.txt"
# kubeconform's own template for its schema repository, rooted in the local cache.
SCHEMA_TEMPLATE = (
    "{{ .NormalizedKubernetesVersion }}-standalone{{ .StrictSuffix }}"
    "/{{ .ResourceKind }}{{ .KindSuffix }}.json"
)
# tools/crd_schemas.py's layout: one file per CRD group, kind and served version.
CRD_SCHEMA_TEMPLATE = (
    "standalone{{ .StrictSuffix }}/{{ .Group }}/{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json"
)
TIMEOUT_SECONDS = 300.0
_SETUP_HINT = "run `make setup`"

Status = Literal["valid", "invalid", "error", "skipped"]
_STATUSES: dict[str, Status] = {
    "statusValid": "valid",
    "statusInvalid": "invalid",
    "statusError": "error",
    "statusSkipped": "skipped",
}
_VERSION = re.compile(r"^v?(?P<major>\d+)\.(?P<minor>\d+)(?:\.(?P<patch>\d+))?$")
# "... failed with 'file:///...#' - at '/spec': missing property 'selector'   - at ..."
_CAUSE = re.compile(r"\s+- at '(?P<path>[^']*)': ")


class UnsupportedKubernetesVersion(ValueError):
    """No offline schemas for the Kubernetes version asked for."""


@dataclass(frozen=True)
class ResourceResult:
    """kubeconform's verdict on one resource."""

    kind: str
    name: str
    api_version: str
    status: Status
    messages: tuple[str, ...] = ()

    def __str__(self) -> str:
        head = f"{self.kind}/{self.name} ({self.api_version}): {self.status}"
        return "; ".join((head, *self.messages)) if self.messages else head


@dataclass(frozen=True)
class KubeconformReport:
    """One kubeconform -strict run over a manifest stream, for one Kubernetes version."""

    kubernetes_version: str
    resources: int
    valid: int
    invalid: int
    errors: int
    skipped: int
    results: tuple[ResourceResult, ...]

    @property
    def ok(self) -> bool:
        """Every resource valid: none invalid, none in error, none skipped."""
        return self.invalid == 0 and self.errors == 0 and self.skipped == 0

    def problems(self) -> list[ResourceResult]:
        return [result for result in self.results if result.status != "valid"]


def _project_root() -> Path:
    """The checkout this package is installed from (editable), else the working dir."""
    checkout = Path(__file__).resolve().parent.parent
    if (checkout / "Makefile").is_file() and (checkout / "mk").is_dir():
        return checkout
    return Path.cwd()


def bin_dir() -> Path:
    override = os.environ.get(BIN_ENV)
    return Path(override) if override else _project_root() / "bin"


def schemas_dir() -> Path:
    override = os.environ.get(SCHEMAS_ENV)
    return Path(override) if override else _project_root() / ".cache" / "k8s-schemas"


def crd_schemas_dir() -> Path:
    override = os.environ.get(CRD_SCHEMAS_ENV)
    return Path(override) if override else _project_root() / ".cache" / "crd-schemas"


def tool(name: str) -> Path:
    """The path of a pinned tool in bin/; ToolError if it is not there."""
    path = bin_dir() / name
    if not (path.is_file() and os.access(path, os.X_OK)):
        raise ToolError(f"{name} not found at {path}: {_SETUP_HINT} (or set {BIN_ENV})")
    return path


def supported_kubernetes_versions() -> list[str]:
    """The Kubernetes versions with offline schemas, oldest first ("1.30.0", ...)."""
    path = schemas_dir() / VERSIONS_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ToolError(
            f"no Kubernetes schema cache at {path.parent}: {_SETUP_HINT} (or set {SCHEMAS_ENV})"
        ) from None
    versions = [line.strip() for line in text.splitlines() if line.strip()]
    if not versions:
        raise ToolError(f"{path} lists no Kubernetes versions: {_SETUP_HINT}")
    return versions


def _resolve_version(kubernetes_version: str, supported: Sequence[str]) -> str:
    """The cache's version for the same minor: "1.31", "v1.31.4" -> "1.31.0"."""
    wanted = _VERSION.match(kubernetes_version.strip())
    if wanted is not None:
        for version in supported:
            have = _VERSION.match(version)
            if have is not None and (have["major"], have["minor"]) == (
                wanted["major"],
                wanted["minor"],
            ):
                return version
    raise UnsupportedKubernetesVersion(
        f"no offline schemas for Kubernetes {kubernetes_version!r};"
        f" supported: {', '.join(supported)}"
    )


def _run(args: Sequence[str | Path], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            [str(arg) for arg in args],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise ToolError(f"{Path(args[0]).name} timed out after {TIMEOUT_SECONDS:.0f}s") from None
    except OSError as error:
        raise ToolError(f"cannot run {args[0]}: {error}") from error


def kustomize_build(directory: Path) -> str:
    """`kustomize build DIRECTORY`: the manifests as one YAML stream."""
    result = _run([tool("kustomize"), "build", directory])
    if result.returncode != 0:
        raise ToolError(f"kustomize build {directory} failed:\n{result.stderr.strip()}")
    return result.stdout


def _messages(
    status: Status, msg: str, kind: str, api_version: str, version: str
) -> tuple[str, ...]:
    if not msg:
        return ()
    if status == "error" and msg.startswith("could not find schema"):
        return (
            f"{msg}: no offline schema for {api_version} {kind} in Kubernetes {version}"
            " (only built-in kinds and the CRDs pinned in mk/crds.mk are known;"
            " nothing is fetched)",
        )
    parts = _CAUSE.split(msg)  # [header, path, text, path, text, ...]
    causes = [
        f"{path or '/'}: {text.strip()}"
        for path, text in zip(parts[1::2], parts[2::2], strict=True)
        if text.strip() != "validation failed"
    ]
    return tuple(causes) if causes else (msg,)


def _result(entry: dict[str, Any], version: str) -> ResourceResult:
    raw_status = str(entry.get("status", ""))
    status = _STATUSES.get(raw_status)
    if status is None:
        raise ToolError(f"kubeconform reported an unknown status {raw_status!r}")
    kind = str(entry.get("kind", ""))
    api_version = str(entry.get("version", ""))
    return ResourceResult(
        kind=kind,
        name=str(entry.get("name", "")),
        api_version=api_version,
        status=status,
        messages=_messages(status, str(entry.get("msg", "")), kind, api_version, version),
    )


def kubeconform(manifests: str, kubernetes_version: str) -> KubeconformReport:
    """kubeconform -strict of a YAML stream against one Kubernetes version's schemas.

    `kubernetes_version` is "1.31", "1.31.0" or "v1.31.4" (schemas are per minor).
    Invalid resources are reported, not raised; ToolError only when kubeconform
    itself cannot run or answers something unreadable.
    """
    version = _resolve_version(kubernetes_version, supported_kubernetes_versions())
    schemas = schemas_dir().resolve()  # absolute: kubeconform takes "http..." for a URL
    strict_folder = schemas / f"v{version}-standalone-strict"
    if not strict_folder.is_dir():
        raise ToolError(f"schema cache {schemas} has no {strict_folder.name}: {_SETUP_HINT}")
    crd_schemas = crd_schemas_dir().resolve()
    if not (crd_schemas / CRD_INDEX_FILE).is_file():
        raise ToolError(
            f"no CRD schema cache at {crd_schemas}: {_SETUP_HINT} (or set {CRD_SCHEMAS_ENV})"
        )
    args: list[str | Path] = [
        tool("kubeconform"),
        "-strict",
        "-summary",
        "-verbose",
        "-output",
        "json",
        "-n",
        "1",  # one worker: results in the order of the stream
        "-kubernetes-version",
        version,
        "-schema-location",
        f"{schemas}/{SCHEMA_TEMPLATE}",
        "-schema-location",
        f"{crd_schemas}/{CRD_SCHEMA_TEMPLATE}",
        "-",
    ]
    result = _run(args, stdin=manifests)
    try:
        data = json.loads(result.stdout)
        summary = data["summary"]
        entries = data["resources"]
        counts = {key: int(summary[key]) for key in ("valid", "invalid", "errors", "skipped")}
    except (ValueError, KeyError, TypeError):
        raise ToolError(
            f"kubeconform failed (exit {result.returncode}):"
            f" {(result.stderr or result.stdout).strip()}"
        ) from None
    if result.returncode not in (0, 1):
        raise ToolError(f"kubeconform exited {result.returncode}: {result.stderr.strip()}")
    results = tuple(_result(entry, version) for entry in entries)
    return KubeconformReport(
        kubernetes_version=version,
        resources=sum(counts.values()),
        valid=counts["valid"],
        invalid=counts["invalid"],
        errors=counts["errors"],
        skipped=counts["skipped"],
        results=results,
    )


def validate_directory(
    directory: Path, versions: list[str] | None = None
) -> list[KubeconformReport]:
    """`kustomize build` once, then kubeconform -strict for each version (default: all)."""
    wanted = supported_kubernetes_versions() if versions is None else versions
    manifests = kustomize_build(directory)
    return [kubeconform(manifests, version) for version in wanted]
