"""Fixtures of the e2e tests: one etcd per session, one kube-apiserver per target.

A target is a kustomization applied to a cluster of its own: each environment in
build/ (every build/*/kustomization.yaml but the shared base) and the sample under
tests/e2e/fixtures/. Each target gets a fresh kube-apiserver with an etcd prefix of
its own, so every environment starts from an empty cluster (the environments share
names such as the Namespace signal-harvester and cluster-scoped RBAC, and there is
no kube-controller-manager here to finish a namespace deletion between them).

Each target is applied from a copy of its parent directory, in which every
`X.env.example` is copied over `X.env`: the secret values rendered into build/ are
gitignored, the tests never read the operator's values when an example exists, and
nothing is written into the work tree.
"""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e.apiserver import ROOT, Binaries, Cluster, Etcd, HarnessError, etcd, kube_apiserver

BUILD = ROOT / "build"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
# build/<name> directories that are not environments of their own.
NOT_ENVIRONMENTS = frozenset({"base"})

Obj = dict[str, Any]


@dataclass(frozen=True)
class Target:
    """A kustomization directory in the repo to apply, by the id the tests show."""

    id: str
    source: Path


def discover_targets() -> list[Target]:
    """Every environment build/ has now, then the sample fixture (always there)."""
    environments = sorted(
        path.parent
        for path in BUILD.glob("*/kustomization.yaml")
        if path.parent.name not in NOT_ENVIRONMENTS
    )
    samples = sorted(path.parent for path in FIXTURES.glob("*/kustomization.yaml"))
    return [Target(f"build/{p.name}", p) for p in environments] + [
        Target(f"fixture/{p.name}", p) for p in samples
    ]


TARGETS = discover_targets()


def materialize(target: Target, into: Path) -> Path:
    """Copy the target's parent (overlays reach ../base) and settle its env files."""
    copy = into / target.source.parent.name
    shutil.copytree(target.source.parent, copy, symlinks=False)
    for example in copy.rglob("*.env.example"):
        shutil.copyfile(example, example.with_suffix(""))
    directory = copy / target.source.name
    missing = [str(p.relative_to(into)) for p in referenced_env_files(directory) if not p.exists()]
    if missing:
        raise HarnessError(
            f"{target.id}: secretGenerator env files missing, and no .env.example beside them: "
            f"{', '.join(missing)} (they are rendered from the operator's .env: `make render`)"
        )
    return directory


def referenced_env_files(directory: Path) -> Iterator[Path]:
    """The env files that the kustomization in `directory`, and the ones it uses, read."""
    seen: set[Path] = set()
    pending = [directory.resolve()]
    while pending:
        current = pending.pop()
        if current in seen:
            continue
        seen.add(current)
        for name in ("kustomization.yaml", "kustomization.yml", "Kustomization"):
            if (current / name).is_file():
                spec = yaml.safe_load((current / name).read_text()) or {}
                break
        else:
            continue
        for key in ("resources", "bases", "components"):
            for entry in spec.get(key) or []:
                path = (current / str(entry)).resolve()
                if path.is_dir():
                    pending.append(path)
        for key in ("secretGenerator", "configMapGenerator"):
            for generator in spec.get(key) or []:
                for env in [*(generator.get("envs") or []), generator.get("env")]:
                    if env:
                        yield current / str(env)


@dataclass
class Deployed:
    """One target in a cluster of its own, and what the tests learn along the way."""

    target: Target
    directory: Path
    cluster: Cluster
    objects: list[Obj]
    applied: list[Obj] | None = None

    def kubectl(self, *args: str, stdin: str | None = None) -> tuple[int, str, str]:
        result = self.cluster.kubectl(*args, stdin=stdin)
        return result.returncode, result.stdout, result.stderr


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "e2e: applies rendered manifests to a real kube-apiserver + etcd on loopback"
    )


@pytest.fixture(scope="session")
def binaries() -> Binaries:
    try:
        return Binaries.from_bin()
    except HarnessError as err:
        pytest.fail(str(err), pytrace=False)


@pytest.fixture(scope="session")
def e2e_workdir() -> Iterator[Path]:
    """Removed at the end: it holds copies of secret env files and etcd's data."""
    keep = os.environ.get("HARVESTER_E2E_KEEP") == "1"
    path = Path(tempfile.mkdtemp(prefix="harvester-e2e-"))
    yield path
    if keep:
        print(f"\nHARVESTER_E2E_KEEP=1: e2e work directory kept at {path}")
    else:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def etcd_server(e2e_workdir: Path, binaries: Binaries) -> Iterator[Etcd]:
    try:
        with etcd(e2e_workdir / "etcd", binaries) as store:
            yield store
    except HarnessError as err:
        pytest.fail(str(err), pytrace=False)


_PREFIXES = itertools.count(1)


@pytest.fixture(scope="module", params=TARGETS, ids=[t.id for t in TARGETS])
def deployed(
    request: pytest.FixtureRequest, e2e_workdir: Path, etcd_server: Etcd, binaries: Binaries
) -> Iterator[Deployed]:
    """A fresh kube-apiserver (own etcd prefix) for one target, and the target rendered."""
    target: Target = request.param
    n = next(_PREFIXES)
    workdir = e2e_workdir / f"{n:02d}-{target.id.replace('/', '-')}"
    try:
        directory = materialize(target, workdir / "src")
        with kube_apiserver(workdir, etcd_server, binaries, f"/registry-{n:02d}") as cluster:
            rendered = cluster.kubectl("kustomize", str(directory))
            if rendered.returncode != 0:
                pytest.fail(f"kubectl kustomize {target.id} failed:\n{rendered.stderr}")
            objects = [doc for doc in yaml.safe_load_all(rendered.stdout) if doc]
            yield Deployed(target, directory, cluster, objects)
    except HarnessError as err:
        pytest.fail(str(err), pytrace=False)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failing e2e test shows the tail of its kube-apiserver's and etcd's logs."""
    report = yield
    if report.failed and call.when == "call":
        funcargs: dict[str, object] = getattr(item, "funcargs", {})
        deployed = funcargs.get("deployed")
        if isinstance(deployed, Deployed):
            report.sections.append(("kube-apiserver and etcd logs", deployed.cluster.logs()))
    return report
