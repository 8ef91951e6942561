"""Argo CD: build/argocd/ (AppProject + Applications), the sync waves and sync options the
environments carry, and the errors of gitops.yaml and the overlays' argocd: sections."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from harvester_manifests import validate
from harvester_manifests.syncwaves import SYNC_OPTIONS, SYNC_WAVE, wave_of, with_sync_waves
from tests.conftest import ENV_EXAMPLE, ENVS, OVERLAYS, ROOT, Obj
from tests.test_errors import assert_input_error, harvester_gen, out, snapshot

__all__ = ["out"]  # the fixture, imported for the error tests

ARGOCD = ROOT / "build" / "argocd"
CLUSTER_KINDS = [
    {"group": "", "kind": "Namespace"},
    {"group": "rbac.authorization.k8s.io", "kind": "ClusterRole"},
    {"group": "rbac.authorization.k8s.io", "kind": "ClusterRoleBinding"},
]


def committed() -> dict[str, Obj]:
    """build/argocd's objects by kind/name."""
    docs = [yaml.safe_load(p.read_text()) for p in sorted(ARGOCD.glob("*.yaml"))]
    return {f"{d['kind']}/{d['metadata']['name']}": d for d in docs}


def applications() -> dict[str, Obj]:
    return {
        d["metadata"]["labels"]["app.kubernetes.io/instance"]: d
        for d in committed().values()
        if d["kind"] == "Application"
    }


def project() -> Obj:
    (found,) = [d for d in committed().values() if d["kind"] == "AppProject"]
    return found


# --- the committed objects --------------------------------------------------------------


def test_kustomize_build_of_argocd_passes_kubeconform_strict() -> None:
    """Against Argo CD's own CRDs (mk/crds.mk), so every field name is Argo CD's."""
    oldest = validate.supported_kubernetes_versions()[0]
    (report,) = validate.validate_directory(ARGOCD, [oldest])
    assert report.ok and report.resources == 1 + len(ENVS), [str(p) for p in report.problems()]


def test_kustomization_lists_every_file_and_is_invisible_to_apply_f() -> None:
    kustomization = yaml.safe_load((ARGOCD / "Kustomization").read_text())
    assert sorted(kustomization["resources"]) == sorted(p.name for p in ARGOCD.glob("*.yaml"))
    assert not list(ARGOCD.glob("*.yml")) and not list(ARGOCD.glob("kustomization.*"))


def test_one_application_per_environment_pointing_at_its_build() -> None:
    apps = applications()
    assert sorted(apps) == sorted(ENVS)
    proj = project()
    for env, app in apps.items():
        spec = app["spec"]
        assert spec["project"] == proj["metadata"]["name"]
        assert app["metadata"]["namespace"] == proj["metadata"]["namespace"]
        assert spec["source"]["path"] == f"build/{env}"
        assert spec["source"]["repoURL"] in proj["spec"]["sourceRepos"]
        assert spec["destination"] in proj["spec"]["destinations"]
        assert "PruneLast=true" in spec["syncPolicy"]["syncOptions"]
        assert "ignoreDifferences" not in spec


def test_sync_policy_dev_staging_automated_prod_from_config() -> None:
    apps = applications()
    for env in ("dev", "staging"):
        assert apps[env]["spec"]["syncPolicy"]["automated"] == {"prune": True, "selfHeal": True}
    prod = yaml.safe_load((OVERLAYS / "prod.yaml").read_text())
    assert prod["argocd"]["syncPolicy"]["automated"] is None
    assert "automated" not in apps["prod"]["spec"]["syncPolicy"]


def test_project_is_scoped_to_this_repo_and_exactly_the_clusterwide_kinds(
    built: dict[str, dict[tuple[str, str], Obj]],
) -> None:
    spec = project()["spec"]
    assert spec["sourceRepos"] == [yaml.safe_load((ROOT / "gitops.yaml").read_text())["repoURL"]]
    assert spec["clusterResourceWhitelist"] == CLUSTER_KINDS
    cluster_scoped = {
        (o["apiVersion"].rpartition("/")[0], o["kind"])
        for env in ENVS
        for o in built[env].values()
        if "namespace" not in o["metadata"]
    }
    assert cluster_scoped == {(k["group"], k["kind"]) for k in CLUSTER_KINDS}
    assert len(spec["destinations"]) == len(ENVS)


# --- what the environments carry for Argo CD --------------------------------------------


def _mounted_claims(obj: Obj) -> set[str]:
    volumes = obj["spec"]["template"]["spec"].get("volumes", [])
    return {
        v["persistentVolumeClaim"]["claimName"] for v in volumes if "persistentVolumeClaim" in v
    }


@pytest.mark.parametrize("env", ENVS)
def test_no_claim_is_synced_before_the_pod_that_mounts_it(
    env: str, built: dict[str, dict[tuple[str, str], Obj]]
) -> None:
    objects = built[env]
    for deployment in (o for (kind, _), o in objects.items() if kind == "Deployment"):
        for claim in _mounted_claims(deployment):
            assert wave_of(objects[("PersistentVolumeClaim", claim)]) >= wave_of(deployment)


@pytest.mark.parametrize("env", ENVS)
def test_waves_only_where_ordering_matters(
    env: str, built: dict[str, dict[tuple[str, str], Obj]]
) -> None:
    """Plain kinds rely on Argo CD's kind order; only Secret-delivering CRs (and their
    Namespace) get a wave, and every Secret source comes before every workload."""
    waved = {
        key for key, o in built[env].items() if SYNC_WAVE in o["metadata"].get("annotations", {})
    }
    allowed = {"SealedSecret", "ExternalSecret", "SecretStore", "Namespace"}
    assert {kind for kind, _ in waved} <= allowed
    sources = [o for (kind, _), o in built[env].items() if kind in allowed - {"Namespace"}]
    workloads = [o for (kind, _), o in built[env].items() if kind == "Deployment"]
    for source in sources:
        assert all(wave_of(source) < wave_of(w) for w in workloads)


def test_secret_sources_and_their_namespace_go_first() -> None:
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ns"}}
    sealed = {
        "apiVersion": "bitnami.com/v1alpha1",
        "kind": "SealedSecret",
        "metadata": {"name": "s", "namespace": "ns"},
    }
    pvc = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "d"}}
    original = [namespace, sealed, pvc]
    waved = with_sync_waves(original)
    assert [wave_of(o) for o in waved] == [-1, -1, 0]
    assert SYNC_WAVE not in waved[2]["metadata"].get("annotations", {})
    assert "annotations" not in namespace["metadata"], "the input is left untouched"
    assert [wave_of(o) for o in with_sync_waves([namespace, pvc])] == [0, 0]


@pytest.mark.parametrize("env", ENVS)
def test_dashboards_and_only_dashboards_are_applied_server_side(
    env: str, built: dict[str, dict[tuple[str, str], Obj]]
) -> None:
    for (kind, name), obj in built[env].items():
        option = obj["metadata"].get("annotations", {}).get(SYNC_OPTIONS)
        dashboard = kind == "ConfigMap" and name.startswith("grafana-dashboard-")
        dashboard = dashboard and name != "grafana-dashboard-providers"
        assert option == ("ServerSideApply=true" if dashboard else None), (kind, name)


@pytest.mark.parametrize("env", ENVS)
def test_no_field_is_owned_by_a_controller(
    env: str, built: dict[str, dict[tuple[str, str], Obj]]
) -> None:
    """Why the Applications need no ignoreDifferences: an HPA's target has no replicas."""
    for (kind, _), hpa in built[env].items():
        if kind == "HorizontalPodAutoscaler":
            target = built[env][
                (hpa["spec"]["scaleTargetRef"]["kind"], hpa["spec"]["scaleTargetRef"]["name"])
            ]
            assert "replicas" not in target["spec"]


# --- configuration: overrides, single-environment renders, errors -----------------------


def write(path: Path, data: Any) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def scratch_overlays(tmp_path: Path) -> Path:
    config_dir = tmp_path / "overlays"
    shutil.copytree(OVERLAYS, config_dir)
    return config_dir


def test_repo_revision_and_destination_come_from_config(tmp_path: Path) -> None:
    """What a test against a real Argo CD needs: a file:// repository and another server."""
    config_dir = scratch_overlays(tmp_path)
    overlay = yaml.safe_load((config_dir / "dev.yaml").read_text())
    overlay["argocd"]["destination"] = {"server": "https://127.0.0.1:6443"}
    write(config_dir / "dev.yaml", overlay)
    gitops = write(
        tmp_path / "gitops.yaml",
        {"repoURL": "file:///srv/git/deploy.git", "targetRevision": "test", "path": "out"},
    )
    target = tmp_path / "build"
    result = harvester_gen(
        "render", "--config-dir", config_dir, "--env-file", ENV_EXAMPLE,
        "--gitops", gitops, "--out", target,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    app = yaml.safe_load((target / "argocd" / "application-signal-harvester-dev.yaml").read_text())
    assert app["spec"]["source"] == {
        "repoURL": "file:///srv/git/deploy.git",
        "targetRevision": "test",
        "path": "out/dev",
    }
    assert app["spec"]["destination"] == {
        "server": "https://127.0.0.1:6443",
        "namespace": "signal-harvester",
    }
    proj = yaml.safe_load((target / "argocd" / "appproject-signal-harvester.yaml").read_text())
    assert proj["spec"]["sourceRepos"] == ["file:///srv/git/deploy.git"]
    assert app["spec"]["destination"] in proj["spec"]["destinations"]


def test_a_single_environment_render_refreshes_argocd(out: Path, tmp_path: Path) -> None:
    config_dir = scratch_overlays(tmp_path)
    overlay = yaml.safe_load((config_dir / "prod.yaml").read_text())
    overlay["argocd"]["syncPolicy"]["automated"] = {"prune": False, "selfHeal": True}
    write(config_dir / "prod.yaml", overlay)
    result = harvester_gen(
        "render",
        "--env",
        "prod",
        "--config-dir",
        config_dir,
        "--env-file",
        ENV_EXAMPLE,
        "--out",
        out,
    )
    assert result.returncode == 0, result.stderr
    app = yaml.safe_load((out / "argocd" / "application-signal-harvester-prod.yaml").read_text())
    assert app["spec"]["syncPolicy"]["automated"] == {"prune": False, "selfHeal": True}


def test_without_gitops_yaml_there_is_no_argocd_output(tmp_path: Path) -> None:
    shutil.copytree(OVERLAYS, tmp_path / "overlays")
    result = harvester_gen("render", "--env-file", ENV_EXAMPLE, "--out", "build", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "build" / "argocd").exists()


def test_two_environments_on_one_cluster_and_namespace_are_warned_about(tmp_path: Path) -> None:
    config_dir = scratch_overlays(tmp_path)
    overlay = yaml.safe_load((config_dir / "dev.yaml").read_text())
    overlay["argocd"]["destination"] = {"server": "https://kubernetes.default.svc"}
    write(config_dir / "dev.yaml", overlay)
    result = harvester_gen(
        "render", "--config-dir", config_dir, "--env-file", ENV_EXAMPLE, "--out", tmp_path / "b"
    )
    assert result.returncode == 0, result.stderr
    assert "prod.yaml: argocd.destination: same cluster and namespace" in result.stderr


@pytest.mark.parametrize(
    ("gitops", "expected"),
    [
        ({"targetRevision": "main"}, "gitops.yaml: repoURL: Field required"),
        ({"repoURL": "ftp://x/y.git"}, "gitops.yaml: repoURL: String should match pattern"),
        ({"repoURL": "https://g/x.git", "project": "Bad_Name"}, "gitops.yaml: project:"),
        ({"repoURL": "https://g/x.git", "revision": "main"}, "gitops.yaml: revision: unknown key"),
        (["not", "a", "mapping"], "gitops.yaml: must be a mapping"),
    ],
)
def test_a_bad_gitops_yaml_is_refused(
    out: Path, tmp_path: Path, gitops: Any, expected: str
) -> None:
    path = write(tmp_path / "gitops.yaml", gitops)
    before = snapshot(out)
    result = harvester_gen("render", "--env-file", ENV_EXAMPLE, "--gitops", path, "--out", out)
    assert_input_error(result, out, before, expected)


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        (
            {"destination": {"server": "https://a.example.com", "name": "a"}},
            "argocd.destination: give exactly one of server",
        ),
        ({"destination": {}}, "argocd.destination: give exactly one of server"),
        ({"destination": {"server": "a.example.com"}}, "argocd.destination.server:"),
        (
            {"syncPolicy": {"automated": {"selfheal": True}}},
            "argocd.syncPolicy.automated.selfheal: unknown key",
        ),
        ({"syncPolicy": {"retry": {"limit": -1}}}, "argocd.syncPolicy.retry.limit:"),
    ],
)
def test_a_bad_argocd_section_is_refused(
    out: Path, tmp_path: Path, section: dict[str, Any], expected: str
) -> None:
    config_dir = scratch_overlays(tmp_path)
    overlay = yaml.safe_load((config_dir / "staging.yaml").read_text())
    overlay["argocd"] = section
    write(config_dir / "staging.yaml", overlay)
    before = snapshot(out)
    result = harvester_gen(
        "render",
        "--env",
        "dev",
        "--config-dir",
        config_dir,
        "--env-file",
        ENV_EXAMPLE,
        "--out",
        out,
    )
    assert_input_error(result, out, before, f"staging.yaml: {expected}")
