"""kube-linter and kube-score on every rendered environment: zero findings, or a listed exception.

The exceptions live in lint/kube-linter.yaml and lint/kube-score.yaml, each with its reason.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.conftest import ENVS, ROOT, run, tool

LINT = ROOT / "lint"


@pytest.fixture(scope="module")
def manifests(rendered: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("manifests")
    files = {}
    for env in ENVS:
        result = run([tool("kustomize"), "build", rendered / env])
        assert result.returncode == 0, result.stderr
        files[env] = out / f"{env}.yaml"
        files[env].write_text(result.stdout)
    return files


@pytest.mark.parametrize("env", ENVS)
def test_kube_linter_finds_nothing(manifests: dict[str, Path], env: str) -> None:
    result = run(
        [tool("kube-linter"), "lint", "--config", LINT / "kube-linter.yaml", manifests[env]]
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No lint errors found" in result.stdout


def kube_score_ignores() -> list[str]:
    entries = yaml.safe_load((LINT / "kube-score.yaml").read_text())["ignore"]
    assert all(entry.get("reason") for entry in entries), "every exception needs its reason"
    return [entry["test"] for entry in entries]


@pytest.mark.parametrize("env", ENVS)
def test_kube_score_finds_nothing(manifests: dict[str, Path], env: str) -> None:
    args: list[str | Path] = [tool("kube-score"), "score", "--output-format", "ci"]
    for test in kube_score_ignores():
        args += ["--ignore-test", test]
    result = run([*args, manifests[env]])
    findings = [
        line
        for line in result.stdout.splitlines()
        if line and not line.startswith(("[OK]", "[SKIPPED]"))
    ]
    assert not findings, "\n".join(findings)
    assert result.returncode == 0, result.stderr


def test_every_exception_is_a_real_check() -> None:
    """An exception for a check that does not exist (a typo) would silence nothing."""
    known = {line.split(",")[0] for line in run([tool("kube-score"), "list"]).stdout.splitlines()}
    assert set(kube_score_ignores()) <= known
    checks = run([tool("kube-linter"), "checks", "list", "--format", "json"])
    assert checks.returncode == 0, checks.stderr
    import json

    names = {c["name"] for c in json.loads(checks.stdout)}
    excluded = yaml.safe_load((LINT / "kube-linter.yaml").read_text())["checks"]["exclude"]
    assert set(excluded) <= names


def test_linters_see_real_problems(tmp_path: Path) -> None:
    """The linters are live: a privileged, unbounded container is reported by both."""
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        """apiVersion: apps/v1
kind: Deployment
metadata: {name: bad, namespace: x}
spec:
  selector: {matchLabels: {app: bad}}
  template:
    metadata: {labels: {app: bad}}
    spec:
      containers:
        - name: bad
          image: nginx:latest
          securityContext: {privileged: true}
"""
    )
    assert (
        run([tool("kube-linter"), "lint", "--config", LINT / "kube-linter.yaml", bad]).returncode
        != 0
    )
    assert run([tool("kube-score"), "score", bad]).returncode != 0
