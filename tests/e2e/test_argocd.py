"""build/argocd/ (AppProject + Applications) applied to a real kube-apiserver that has
Argo CD's CRDs installed from the pinned module (mk/crds.mk): the same checks as every
environment gets (test_apiserver.py: served kinds, server-side dry run, apply, a second
apply that changes nothing, an empty diff), plus `kubectl apply -f` of the directory and
the server's own refusal of a field Argo CD does not have."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.apiserver import Binaries, Etcd
from tests.e2e.conftest import BUILD, Deployed, Placeholders, Target, deploy
from tests.e2e.test_apiserver import (
    PROBE_MANAGER,
    ensure_namespaces,
    test_apply_accepts_everything,
    test_every_kind_is_served,
    test_second_apply_changes_nothing,
    test_server_dry_run_accepts_everything,
    test_server_side_diff_is_empty,
)

pytestmark = pytest.mark.e2e

__all__ = [  # collected here again, against the targets below
    "test_apply_accepts_everything",
    "test_every_kind_is_served",
    "test_second_apply_changes_nothing",
    "test_server_dry_run_accepts_everything",
    "test_server_side_diff_is_empty",
]

GITOPS_TARGETS = [Target("build/argocd", BUILD / "argocd")]


@pytest.fixture(scope="module", params=GITOPS_TARGETS, ids=[t.id for t in GITOPS_TARGETS])
def deployed(
    request: pytest.FixtureRequest,
    e2e_workdir: Path,
    etcd_server: Etcd,
    binaries: Binaries,
    placeholders: Placeholders,
) -> Iterator[Deployed]:
    yield from deploy(request.param, e2e_workdir, etcd_server, binaries, placeholders)


def test_the_pinned_crds_are_installed(deployed: Deployed) -> None:
    code, out, err = deployed.kubectl("get", "customresourcedefinitions", "-o", "name")
    assert code == 0, err
    installed = set(out.split())
    for name in ("applications.argoproj.io", "appprojects.argoproj.io"):
        assert f"customresourcedefinition.apiextensions.k8s.io/{name}" in installed, out


def test_apply_f_of_the_directory_works_too(deployed: Deployed) -> None:
    """`kubectl apply -f build/argocd/` reads only *.yaml: the Kustomization file is
    invisible to it, and every object names its namespace."""
    ensure_namespaces(deployed)
    code, out, err = deployed.kubectl(
        "apply", "--server-side", "--dry-run=server", "-f", str(deployed.directory)
    )
    assert code == 0, err
    assert len(out.splitlines()) == len(deployed.objects), out


def test_server_refuses_a_field_argo_cd_does_not_have(deployed: Deployed) -> None:
    (app, *_) = [o for o in deployed.objects if o["kind"] == "Application"]
    meta = app["metadata"]
    probe = {
        "apiVersion": app["apiVersion"],
        "kind": app["kind"],
        "metadata": {"name": meta["name"], "namespace": meta["namespace"]},
        "spec": {**app["spec"], "syncPolicy": {"automated": {"selfheal": True}}},
    }
    code, _, err = deployed.kubectl(
        "apply", "--server-side", f"--field-manager={PROBE_MANAGER}", "--force-conflicts",
        "--validate=strict", "--dry-run=server", "-f", "-", stdin=json.dumps(probe),
    )  # fmt: skip
    assert code != 0, "kube-apiserver accepted a misspelled Application field"
    assert "selfheal" in err, err
