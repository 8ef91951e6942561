"""Fixtures of the e2e tests: one etcd per session, one kube-apiserver per target.

A target is a kustomization applied to a cluster of its own: each environment in
build/ (every build/*/kustomization.yaml but the shared base) and the sample under
tests/e2e/fixtures/. Each target gets a fresh kube-apiserver with an etcd prefix of
its own, so every environment starts from an empty cluster (the environments share
names such as the Namespace signal-harvester and cluster-scoped RBAC, and there is
no kube-controller-manager here to finish a namespace deletion between them).

Each target is applied from a copy of its parent directory, and nothing is written
into the work tree. In the copy, the env files that secretGenerators read get
placeholder values: from `X.env.example` beside them, or, for build/, from a render
with the repo's .env.example (build/'s `*.env` are gitignored: a fresh clone has none,
and an operator's hold real values).
"""

from __future__ import annotations

import functools
import itertools
import os
import shutil
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from harvester_manifests.validate import crd_schemas_dir
from tests.e2e.apiserver import (
    ROOT,
    Binaries,
    Cluster,
    Etcd,
    HarnessError,
    Priority,
    etcd,
    kube_apiserver,
)
from tests.e2e.gitops import GitOpsBinaries, documents, wait_established

BUILD = ROOT / "build"
ENV_EXAMPLE = ROOT / ".env.example"
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


# Where a missing env file can be had instead: its path relative to the copied tree
# in, a file with placeholder values (or None) out.
Placeholders = Callable[[Path], Path | None]


def no_placeholders(_: Path) -> Path | None:
    return None


def materialize(target: Target, into: Path, placeholders: Placeholders = no_placeholders) -> Path:
    """Copy the target's parent (overlays reach ../base) and settle its env files.

    Each env file a secretGenerator reads comes, in this order, from `X.env.example`
    beside it, from `placeholders`, or from the `X.env` already there; none of the
    three is an error.
    """
    copy = into / target.source.parent.name
    shutil.copytree(target.source.parent, copy, symlinks=False)
    directory = copy / target.source.name
    missing = []
    for env in referenced_env_files(directory):
        example = env.with_name(env.name + ".example")
        placeholder = placeholders(env.relative_to(copy))
        # In a fresh clone build/<env>/secrets/ does not exist: it holds only gitignored files.
        env.parent.mkdir(parents=True, exist_ok=True)
        if example.is_file():
            shutil.copyfile(example, env)
        elif placeholder is not None and placeholder.is_file():
            shutil.copyfile(placeholder, env)
        elif not env.is_file():
            missing.append(str(env.relative_to(into)))
    if missing:
        raise HarnessError(
            f"{target.id}: secretGenerator env files missing, with no example or placeholder: "
            f"{', '.join(missing)} (they are rendered from the operator's .env: `make render`)"
        )
    return directory


def render_placeholders(out: Path) -> Path:
    """Every environment rendered with the placeholder values of the repo's .env.example.

    build/'s secret env files are gitignored (a fresh clone has none) and hold the
    operator's values where they exist: the e2e tests use these instead, always.
    """
    gen = Path(sys.executable).parent / "harvester-gen"
    command = [str(gen), "render", "--env", "all", "--out", str(out)]
    command += ["--env-file", str(ENV_EXAMPLE)]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise HarnessError(f"{' '.join(command)} failed:\n{result.stdout}{result.stderr}")
    return out


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


class _CrdLoader(yaml.CSafeLoader):
    """Reads a plain `=` as a string, as Kubernetes' YAML 1.2 does (PyYAML's 1.1 cannot
    construct it; prometheus-operator's CRDs have `- =` in enums). libyaml's parser: the
    pure-Python one takes seconds for the 7 MB of CRDs, this one a tenth of that."""


def _plain_string(loader: _CrdLoader, node: yaml.Node) -> str:
    assert isinstance(node, yaml.ScalarNode), node
    return str(loader.construct_scalar(node))


_CrdLoader.add_constructor("tag:yaml.org,2002:value", _plain_string)


def load_crd(path: Path) -> Obj:
    """A pinned CRD file's object (prometheus-operator's have `- =` in enums)."""
    crd: Obj = yaml.load(path.read_text(encoding="utf-8"), _CrdLoader)
    return crd


@functools.cache
def crd_files() -> dict[tuple[str, str], Path]:
    """(group, kind) -> its CRD, byte for byte as the pinned module ships it (mk/crds.mk).

    Read once per test process: the folder is made by `make setup`, never during a run."""
    folder = crd_schemas_dir() / "crds"
    files = sorted(folder.glob("*.yaml"))
    if not files:
        raise HarnessError(f"no CRDs in {folder}: run `make setup` (mk/crds.mk)")
    return {crd_group_kind(path.read_text(encoding="utf-8")): path for path in files}


def crd_group_kind(text: str) -> tuple[str, str]:
    """The (group, kind) a CRD file defines.

    Read from the part before `spec.versions` where the file has controller-gen's layout
    (group, names and scope, then the versions with their schemas, which are nearly all
    of the 7 MB): parsing whole files took 0.7 CPU-s in every test process that
    installs a CRD. Any other layout is parsed whole."""
    head = text.split("\n  versions:", 1)[0]
    for candidate in (head, text):
        try:
            spec = yaml.load(candidate, _CrdLoader)["spec"]
            return str(spec["group"]), str(spec["names"]["kind"])
        except (yaml.YAMLError, KeyError, TypeError):
            continue
    raise HarnessError(f"not a CustomResourceDefinition:\n{text[:200]}")


def install_crds(cluster: Cluster, objects: list[Obj]) -> list[str]:
    """Install the CRDs of the custom resources among `objects`, and wait until each is
    established (served); return their names. Server-side, as Argo CD's own install
    does: the largest CRDs exceed the 256 KiB annotation that client-side apply writes."""
    used = {(str(obj["apiVersion"]).rpartition("/")[0], str(obj["kind"])) for obj in objects}
    served = {str(group["name"]) for group in cluster.get_json("/apis")["groups"]}
    needed = {(group, kind) for group, kind in used if group and group not in served}
    if not needed:
        return []  # built-in kinds only: the CRD cache is not even read
    available = crd_files()
    unknown = sorted(f"{kind}.{group}" for group, kind in needed - available.keys())
    if unknown:
        raise HarnessError(f"no pinned CRD (mk/crds.mk) for {', '.join(unknown)}")
    paths = [available[group_kind] for group_kind in sorted(needed)]
    cluster.apply_crds([load_crd(path) for path in paths], "harvester-e2e")
    names = [path.stem for path in paths]
    # Polled, not `kubectl wait`: that errs on a CRD whose status is not written yet,
    # which a busy API server shows for a moment.
    wait_established(cluster, names)
    return names


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
    config.addinivalue_line(
        "markers",
        "e2e_critical_path: one of the two longest e2e files; what it starts keeps the "
        "normal CPU priority",
    )


@pytest.fixture(scope="module", autouse=True)
def scheduling_priority(request: pytest.FixtureRequest) -> Iterator[None]:
    """Processes the module starts run at Priority.BACKGROUND unless it is on the critical path.

    make e2e is CPU-bound on 2 cores and its wall time is that of its longest chains:
    test_gitops.py (the fleet's start, then Argo CD's syncs one after the other) and
    test_apiserver.py (a fresh API server per target, one after the other); the other
    files fit in the CPU those chains leave idle. The session's etcd, started before
    any module, keeps the normal priority."""
    critical = request.node.get_closest_marker("e2e_critical_path") is not None
    Priority.increment = 0 if critical else Priority.BACKGROUND
    yield
    Priority.increment = 0


@pytest.fixture(scope="session")
def binaries() -> Binaries:
    try:
        return Binaries.from_bin()
    except HarnessError as err:
        pytest.fail(str(err), pytrace=False)


@pytest.fixture(scope="session")
def gitops_binaries() -> GitOpsBinaries:
    try:
        return GitOpsBinaries.from_bin()
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


@pytest.fixture(scope="session")
def placeholders(e2e_workdir: Path) -> Placeholders:
    """Env files of build/ targets, from a render with .env.example (made on first use).

    A render that fails (the renderer is broken, or mid-change) is reported once as a
    warning; the build/ targets then fall back to the env files already in build/, and
    fail where there are none.
    """
    rendered: list[Path | None] = []

    def find(relative: Path) -> Path | None:
        if not rendered:
            try:
                rendered.append(render_placeholders(e2e_workdir / "placeholders" / "build"))
            except HarnessError as err:
                warnings.warn(f"no placeholder env files for build/: {err}", stacklevel=1)
                rendered.append(None)
        root = rendered[0]
        return None if root is None else root / relative

    return find


_PREFIXES = itertools.count(1)


@pytest.fixture(scope="module", params=TARGETS, ids=[t.id for t in TARGETS])
def deployed(
    request: pytest.FixtureRequest,
    e2e_workdir: Path,
    etcd_server: Etcd,
    binaries: Binaries,
    placeholders: Placeholders,
) -> Iterator[Deployed]:
    """A fresh kube-apiserver (own etcd prefix) for one target, and the target rendered."""
    yield from deploy(request.param, e2e_workdir, etcd_server, binaries, placeholders)


def deploy(
    target: Target,
    e2e_workdir: Path,
    etcd_server: Etcd,
    binaries: Binaries,
    placeholders: Placeholders,
) -> Iterator[Deployed]:
    """The body of a `deployed` fixture: the target in a cluster of its own, with the CRDs
    of the custom resources it uses installed first (install_crds)."""
    n = next(_PREFIXES)
    workdir = e2e_workdir / f"{n:02d}-{target.id.replace('/', '-')}"
    try:
        fill = placeholders if target.source.parent == BUILD else no_placeholders
        directory = materialize(target, workdir / "src", fill)
        with kube_apiserver(workdir, etcd_server, binaries, f"/registry-{n:02d}") as cluster:
            rendered = cluster.kubectl("kustomize", str(directory))
            if rendered.returncode != 0:
                pytest.fail(f"kubectl kustomize {target.id} failed:\n{rendered.stderr}")
            objects = documents(rendered.stdout)  # libyaml: the dashboards are large
            install_crds(cluster, objects)
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
