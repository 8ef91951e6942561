"""`kubectl diff --server-side -k` of a render against a live cluster, from a temporary copy.

The planned files are written into a private temporary directory (secret env files 0600),
each environment is diffed by the cluster itself, and the directory is removed. kubectl masks
Secret values in its output. What is diffed is what `kubectl apply -k` takes: in secrets mode
env-file the environment's `secrets/` layer (the committed overlay without its Secrets would
hide a changed value), else the environment itself.
"""

from __future__ import annotations

import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from harvester_manifests.errors import ToolError
from harvester_manifests.kustomize import SECRETS_DIR, Files


@dataclass(frozen=True)
class ClusterDiff:
    env: str
    changed: bool
    output: str  # kubectl's unified diff, Secret values masked by kubectl
    directory: str = ""  # what was diffed, relative to the render: "prod", "prod/secrets"


def write_files(directory: Path, files: Files) -> None:
    for relative, content in sorted(files.items()):
        target = directory / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content, encoding="utf-8")
        if target.suffix == ".env":
            target.chmod(0o600)


def apply_directory(files: Files, env: str) -> str:
    """The directory of `files` that `kubectl apply -k` takes for `env`: its `secrets/`
    layer when render writes one (mode env-file: the Secrets and the pods' checksum
    annotations are only there), else the environment's own directory."""
    layer = f"{env}/{SECRETS_DIR}"
    return layer if f"{layer}/kustomization.yaml" in files else env


def diff_against_cluster(
    files: Files, envs: list[str], kubectl: str = "kubectl", kubeconfig: Path | None = None
) -> list[ClusterDiff]:
    """Each environment of the planned `files` diffed by the cluster (server-side), as
    `kubectl apply -k` would apply it (`apply_directory`)."""
    results = []
    with tempfile.TemporaryDirectory(prefix="harvester-gen-diff-") as tmp:
        out = Path(tmp) / "build"
        write_files(out, files)
        for env in envs:
            directory = apply_directory(files, env)
            command = [kubectl, "diff", "--server-side", "-k", str(out / directory)]
            if kubeconfig is not None:
                command.insert(1, f"--kubeconfig={kubeconfig}")
            try:
                result = subprocess.run(
                    command, capture_output=True, text=True, check=False, timeout=300
                )
            except (OSError, subprocess.TimeoutExpired) as exc:
                raise ToolError(f"{kubectl}: {exc}") from None
            # kubectl diff: 0 no differences, 1 differences, anything else an error.
            if result.returncode not in (0, 1):
                detail = result.stderr.strip().replace(str(out), "<render>")
                raise ToolError(
                    f"kubectl diff of {env} failed (exit {result.returncode}): {detail}"
                )
            output = result.stdout.replace(str(out), "<render>")
            results.append(ClusterDiff(env, result.returncode == 1, output, directory))
    return results
