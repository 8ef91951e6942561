"""The committed tree builds as Argo CD's repo-server builds it: no .env, no render step.

The copy holds the files git would commit from this working tree (tracked, plus new files that
are not ignored), so the test also holds for a change that is not committed yet; gitignored
files (the operator's .env, build/<env>/secrets/) are never in it.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from harvester_manifests.validate import supported_kubernetes_versions, validate_directory
from tests.conftest import ROOT, tool


@pytest.fixture(scope="module")
def clean_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    copy = tmp_path_factory.mktemp("clone") / "repo"
    for raw in filter(None, listed):
        source = ROOT / raw.decode()
        if source.is_file() and not source.is_symlink():  # a tracked file deleted here is gone
            target = copy / raw.decode()
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
    return copy


def committed_dirs(copy: Path) -> list[Path]:
    return sorted(
        p.parent for p in (copy / "build").glob("*/kustomization.yaml") if p.parent.name != "base"
    )


def test_the_copy_has_no_secret_input(clean_copy: Path) -> None:
    assert not (clean_copy / ".env").exists()
    assert not list(clean_copy.glob("build/**/secrets"))
    assert not [p for p in clean_copy.rglob("*.env") if p.is_file()]
    assert {p.name for p in committed_dirs(clean_copy)} >= {"dev", "staging", "prod"}


def test_every_committed_environment_builds_and_validates(clean_copy: Path) -> None:
    versions = supported_kubernetes_versions()
    for directory in committed_dirs(clean_copy):
        built = subprocess.run(
            [tool("kustomize"), "build", directory], capture_output=True, text=True, check=False
        )
        assert built.returncode == 0, f"{directory.name}: {built.stderr}"
        for report in validate_directory(directory, [versions[0], versions[-1]]):
            assert report.ok, f"{directory.name}: {[str(p) for p in report.problems()]}"
            assert report.resources > 0


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_no_committed_kustomization_reads_a_file_absent_from_git(
    clean_copy: Path, env: str
) -> None:
    kustomization = yaml.safe_load((clean_copy / "build" / env / "kustomization.yaml").read_text())
    assert "secretGenerator" not in kustomization
    assert "configMapGenerator" not in kustomization


@pytest.mark.parametrize("env", ["staging", "prod"])
def test_staging_and_prod_use_a_gitops_mode(clean_copy: Path, env: str) -> None:
    overlay = yaml.safe_load((clean_copy / "overlays" / f"{env}.yaml").read_text())
    assert overlay["secrets"]["mode"] in ("external-secrets", "sealed-secrets")
