"""The harness itself, without an API server: it fails (never skips) and says why."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.e2e.apiserver import ROOT, Binaries, HarnessError, start_server
from tests.e2e.conftest import BUILD, NOT_ENVIRONMENTS, TARGETS, Target, materialize
from tests.e2e.gitops import ARGOCD_VERSION, ESO_VERSION, GitOpsBinaries

pytestmark = pytest.mark.e2e


def test_a_missing_binary_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(HarnessError, match=r"kube-apiserver.*run `make setup`"):
        Binaries.from_bin(tmp_path)


def test_targets_are_every_environment_and_the_sample() -> None:
    ids = [target.id for target in TARGETS]
    environments = sorted(
        f"build/{p.parent.name}"
        for p in BUILD.glob("*/kustomization.yaml")
        if p.parent.name not in NOT_ENVIRONMENTS
    )
    assert ids == [*environments, "fixture/sample"]


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def test_a_server_that_dies_is_reported_with_its_log(tmp_path: Path) -> None:
    def attempt() -> tuple[list[str], Callable[[], bool]]:
        return python("print('boom: bad flag'); raise SystemExit(3)"), lambda: False

    with pytest.raises(HarnessError, match=r"(?s)exited with code 3.*boom: bad flag"):
        start_server("fake", tmp_path / "fake.log", attempt, "ready")


def test_a_port_taken_in_between_is_tried_again(tmp_path: Path) -> None:
    tries = tmp_path / "tries"
    tries.write_text("")
    code = (
        f"import pathlib, sys, time; p = pathlib.Path({str(tries)!r}); "
        "p.write_text(p.read_text() + 'x'); "
        "(len(p.read_text()) == 1) and sys.exit('listen tcp: bind: address already in use'); "
        "time.sleep(30)"
    )

    def attempt() -> tuple[list[str], Callable[[], bool]]:
        return python(code), lambda: tries.read_text() == "xx"

    process = start_server("fake", tmp_path / "fake.log", attempt, "ready")
    try:
        assert process.alive()
        assert tries.read_text() == "xx"
    finally:
        process.stop()


def write_kustomization(directory: Path, env: str) -> None:
    directory.mkdir(parents=True)
    (directory / "kustomization.yaml").write_text(
        f"secretGenerator:\n  - name: keys\n    envs: [secrets/{env}]\n"
    )


def test_env_files_come_from_their_examples(tmp_path: Path) -> None:
    source = tmp_path / "repo" / "env"
    write_kustomization(source, "keys.env")
    (source / "secrets").mkdir()
    (source / "secrets" / "keys.env").write_text("KEY=operator-value\n")
    (source / "secrets" / "keys.env.example").write_text("KEY=example\n")
    directory = materialize(Target("t", source), tmp_path / "copy")
    assert (directory / "secrets" / "keys.env").read_text() == "KEY=example\n"
    assert (source / "secrets" / "keys.env").read_text() == "KEY=operator-value\n"


def test_a_missing_env_file_without_example_is_an_error(tmp_path: Path) -> None:
    source = tmp_path / "repo" / "env"
    write_kustomization(source, "keys.env")
    with pytest.raises(HarnessError, match=r"secrets/keys.env.*make render"):
        materialize(Target("t", source), tmp_path / "copy")


def test_placeholders_replace_the_operators_values(tmp_path: Path) -> None:
    source = tmp_path / "build" / "dev"
    write_kustomization(source, "keys.env")
    (source / "secrets").mkdir()
    (source / "secrets" / "keys.env").write_text("KEY=operator-value\n")
    placeholder = tmp_path / "placeholder.env"
    placeholder.write_text("KEY=placeholder\n")
    asked: list[Path] = []

    def placeholders(relative: Path) -> Path | None:
        asked.append(relative)
        return placeholder

    directory = materialize(Target("t", source), tmp_path / "copy", placeholders)
    assert asked == [Path("dev/secrets/keys.env")]
    assert (directory / "secrets" / "keys.env").read_text() == "KEY=placeholder\n"


def test_missing_gitops_binaries_are_an_error(tmp_path: Path) -> None:
    with pytest.raises(HarnessError, match=r"argocd-repo-server.*run `make setup`"):
        GitOpsBinaries.from_bin(tmp_path, tmp_path)


def test_the_crd_schema_pins_are_the_running_versions() -> None:
    """kubeconform checks build/ against the CRDs of the versions the e2e harness runs."""
    crds_mk = (ROOT / "mk" / "crds.mk").read_text()
    assert f"github.com/argoproj/argo-cd/v3@{ARGOCD_VERSION}:" in crds_mk
    assert f"github.com/external-secrets/external-secrets@{ESO_VERSION}:" in crds_mk
