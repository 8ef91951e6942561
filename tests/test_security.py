"""Security posture of every rendered environment, on the kustomize-built output."""

from __future__ import annotations

from pathlib import Path

import pytest

from harvester_manifests.render import render
from tests.conftest import (
    ENV_EXAMPLE,
    ENVS,
    Obj,
    apply_dir,
    delivered_secrets,
    index,
    kustomize_build,
)

Built = dict[tuple[str, str], Obj]


def pods(objects: Built) -> list[tuple[str, Obj]]:
    return [
        (name, o["spec"]["template"]["spec"])
        for (kind, name), o in objects.items()
        if kind == "Deployment"
    ]


@pytest.mark.parametrize("env", ENVS)
def test_namespace_enforces_restricted_pod_security(built: dict[str, Built], env: str) -> None:
    namespace = next(o for (kind, _), o in built[env].items() if kind == "Namespace")
    labels = namespace["metadata"]["labels"]
    for mode in ("enforce", "audit", "warn"):
        assert labels[f"pod-security.kubernetes.io/{mode}"] == "restricted"


@pytest.mark.parametrize("env", ENVS)
def test_every_pod_meets_restricted(built: dict[str, Built], env: str) -> None:
    """The Pod Security Standard "restricted", plus a read-only root filesystem."""
    for name, spec in pods(built[env]):
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
        assert not spec.get("hostNetwork") and not spec.get("hostPID") and not spec.get("hostIPC")
        for volume in spec.get("volumes", []):
            assert set(volume) & {
                "persistentVolumeClaim",
                "configMap",
                "secret",
                "emptyDir",
                "projected",
            }, (
                name,
                volume,
            )
        for container in spec["containers"] + spec.get("initContainers", []):
            ctx = container["securityContext"]
            where = f"{name}/{container['name']}"
            assert ctx["allowPrivilegeEscalation"] is False, where
            assert ctx["capabilities"] == {"drop": ["ALL"]}, where
            assert ctx["readOnlyRootFilesystem"] is True, where
            assert ctx["runAsNonRoot"] is True, where
            assert not ctx.get("privileged"), where


@pytest.mark.parametrize("env", ENVS)
def test_every_container_has_requests_limits_and_probes(built: dict[str, Built], env: str) -> None:
    for name, spec in pods(built[env]):
        for container in spec["containers"]:
            where = f"{name}/{container['name']}"
            for side in ("requests", "limits"):
                assert set(container["resources"][side]) == {
                    "cpu",
                    "memory",
                    "ephemeral-storage",
                }, where
            assert "readinessProbe" in container and "livenessProbe" in container, where


@pytest.mark.parametrize("env", ENVS)
def test_service_account_tokens_only_where_the_kubernetes_api_is_used(
    built: dict[str, Built], env: str
) -> None:
    mounted = {
        name for name, spec in pods(built[env]) if spec.get("automountServiceAccountToken", True)
    }
    assert mounted == {"prometheus"}, "only Prometheus talks to the Kubernetes API (discovery)"


@pytest.mark.parametrize("env", ["staging", "prod"])
def test_no_unpinned_image_in_staging_or_prod(built: dict[str, Built], env: str) -> None:
    for name, spec in pods(built[env]):
        for container in spec["containers"]:
            image = container["image"]
            assert "@sha256:" in image or (
                ":" in image.rsplit("/", 1)[-1] and not image.endswith(":latest")
            ), (
                name,
                image,
            )


def test_monitoring_uis_need_basic_auth_in_prod(built: dict[str, Built]) -> None:
    prod = built["prod"]
    for name in ("prometheus", "grafana", "alertmanager"):
        annotations = prod[("Ingress", name)]["metadata"]["annotations"]
        assert annotations["nginx.ingress.kubernetes.io/auth-type"] == "basic"
        assert annotations["nginx.ingress.kubernetes.io/auth-secret"] == "monitoring-basic-auth"
    assert delivered_secrets(prod)["monitoring-basic-auth"] == {"auth"}
    api = prod[("Ingress", "signal-harvester-api")]["metadata"]["annotations"]
    assert "nginx.ingress.kubernetes.io/auth-type" not in api, "the API authenticates with its key"


def test_monitoring_uis_in_dev_only_from_the_private_network(built: dict[str, Built]) -> None:
    for name in ("prometheus", "grafana", "alertmanager"):
        annotations = built["dev"][("Ingress", name)]["metadata"]["annotations"]
        assert annotations["nginx.ingress.kubernetes.io/whitelist-source-range"] == "10.0.0.0/8"
        assert "nginx.ingress.kubernetes.io/auth-type" not in annotations


def test_disruption_budget_never_blocks_every_eviction(built: dict[str, Built]) -> None:
    for objects in built.values():
        pdb = objects[("PodDisruptionBudget", "signal-harvester-api")]["spec"]
        assert pdb["maxUnavailable"] >= 1 and "minAvailable" not in pdb
        assert pdb["unhealthyPodEvictionPolicy"] == "AlwaysAllow"


def test_sqlite_replicas_share_the_node_of_their_volume(built: dict[str, Built]) -> None:
    for objects in built.values():
        spec = objects[("Deployment", "signal-harvester-api")]["spec"]["template"]["spec"]
        term = spec["affinity"]["podAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][0]
        assert term == {
            "labelSelector": {"matchLabels": {"app": "signal-harvester-api"}},
            "topologyKey": "kubernetes.io/hostname",
        }


def test_postgres_mode_spreads_replicas_and_drops_the_volume(tmp_path: Path) -> None:
    config_dir = tmp_path / "overlays"
    config_dir.mkdir()
    (config_dir / "ha.yaml").write_text("api:\n  database:\n    mode: postgres\n")
    env_file = tmp_path / ".env"
    env_file.write_text(ENV_EXAMPLE.read_text() + "DATABASE_URL=postgresql://h:p@db:5432/h\n")
    render("ha", config_dir, tmp_path / "build", env_file, tmp_path)
    objects = index(kustomize_build(apply_dir(tmp_path / "build", "ha")))
    assert ("PersistentVolumeClaim", "signal-harvester-data") not in objects
    spec = objects[("Deployment", "signal-harvester-api")]["spec"]["template"]["spec"]
    assert "affinity" not in spec
    assert spec["topologySpreadConstraints"][0]["topologyKey"] == "kubernetes.io/hostname"
    assert "DATABASE_URL" in objects[("Secret", "signal-harvester-api-keys")]["data"]
    egress = objects[("NetworkPolicy", "signal-harvester-api")]["spec"]["egress"]
    assert 5432 in [p["port"] for rule in egress for p in rule["ports"]]


def test_external_secrets_render_nothing_secret_and_need_no_env_file(tmp_path: Path) -> None:
    """GitOps mode: build/ can be committed whole; the Secrets come from elsewhere."""
    config_dir = tmp_path / "overlays"
    config_dir.mkdir()
    (config_dir / "gitops.yaml").write_text("secrets:\n  mode: external\n")
    render("gitops", config_dir, tmp_path / "build", None, tmp_path)  # no .env anywhere
    overlay = tmp_path / "build" / "gitops"
    assert not (overlay / "secrets").exists()
    assert "secretGenerator" not in (overlay / "kustomization.yaml").read_text()
    objects = index(kustomize_build(overlay))
    assert not [key for key in objects if key[0] == "Secret"]
    api = objects[("Deployment", "signal-harvester-api")]["spec"]["template"]
    assert api["spec"]["containers"][0]["envFrom"] == [
        {"secretRef": {"name": "signal-harvester-api-keys"}}
    ]
    assert "harvester-gen/secrets-checksum" not in api["metadata"].get("annotations", {})
