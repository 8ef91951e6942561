"""An environment in secrets mode sealed-secrets, applied to a real kube-apiserver with the
pinned SealedSecret CRD installed: the same checks as every committed environment gets
(test_apiserver.py: served kinds, server-side dry run, apply, a second apply that changes
nothing, an empty diff). No committed environment uses this mode, so it is rendered here
with a throwaway certificate (openssl) and the placeholders of .env.example.

The Sealed Secrets controller itself cannot run against this API server (it reads only the
in-cluster config); tests/test_secret_delivery.py unseals offline with kubeseal instead.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from harvester_manifests.render import render
from tests.e2e.apiserver import ROOT, Binaries, Etcd
from tests.e2e.conftest import ENV_EXAMPLE, Deployed, Placeholders, Target, deploy
from tests.e2e.test_apiserver import (
    test_apply_accepts_everything,
    test_every_kind_is_served,
    test_second_apply_changes_nothing,
    test_server_dry_run_accepts_everything,
    test_server_side_diff_is_empty,
)

pytestmark = pytest.mark.e2e

__all__ = [  # collected here again, against the environment below
    "test_apply_accepts_everything",
    "test_every_kind_is_served",
    "test_second_apply_changes_nothing",
    "test_server_dry_run_accepts_everything",
    "test_server_side_diff_is_empty",
]

ENV = "sealed"


def render_sealed(directory: Path) -> Path:
    """overlays/sealed.yaml (mode sealed-secrets) rendered into directory/build."""
    config_dir = directory / "overlays"
    (config_dir / "certs").mkdir(parents=True)
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/O=sealed-secret/CN=e2e", "-keyout", str(directory / "key.pem"),
         "-out", str(config_dir / "certs" / "e2e.pem")],
        capture_output=True, check=True,
    )  # fmt: skip
    (config_dir / f"{ENV}.yaml").write_text(
        "secrets:\n  mode: sealed-secrets\n  sealedSecrets:\n    cert: certs/e2e.pem\n"
    )
    dotenv = directory / ".env"
    dotenv.write_text(ENV_EXAMPLE.read_text(), encoding="utf-8")  # its checksum key is long
    out = directory / "build"
    render(ENV, config_dir, out, dotenv, ROOT)
    return out / ENV


@pytest.fixture(scope="module")
def deployed(
    tmp_path_factory: pytest.TempPathFactory,
    e2e_workdir: Path,
    etcd_server: Etcd,
    binaries: Binaries,
    placeholders: Placeholders,
) -> Iterator[Deployed]:
    source = render_sealed(tmp_path_factory.mktemp("sealed-e2e"))
    target = Target(f"{ENV}/{source.name}", source)
    yield from deploy(target, e2e_workdir, etcd_server, binaries, placeholders)


def test_the_sealed_secrets_are_stored_as_rendered(deployed: Deployed) -> None:
    test_apply_accepts_everything(deployed)  # idempotent; this test may run on its own
    rendered = {
        o["metadata"]["name"]: o["spec"]["encryptedData"]
        for o in deployed.objects
        if o["kind"] == "SealedSecret"
    }
    assert len(rendered) == 4
    code, out, err = deployed.kubectl(
        "get", "sealedsecrets", "-n", "signal-harvester", "-o", "json"
    )
    assert code == 0, err
    stored = {i["metadata"]["name"]: i["spec"]["encryptedData"] for i in json.loads(out)["items"]}
    assert stored == rendered
