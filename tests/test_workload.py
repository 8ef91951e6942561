"""The workload helper: what every Deployment gets without asking, the Service derived from
the containers' named ports, the version label kept out of selectors, and the Secret consumers
derived from the secret specs."""

from __future__ import annotations

import pytest

from harvester_manifests.components.workload import VERSION_LABEL, Port, container, version
from harvester_manifests.config.models import Config, Image, Resources
from harvester_manifests.stack import build_stack, secret_consumers
from tests.conftest import Obj

CONFIGS = [
    Config(),
    Config.model_validate({"api": {"database": {"mode": "postgres"}}}),
    Config.model_validate(
        {"monitoringAuth": {"enabled": False, "allowSourceRanges": ["10.0.0.0/8"]}}
    ),
]


def deployments(cfg: Config) -> list[Obj]:
    return [o for o in build_stack(cfg) if o["kind"] == "Deployment"]


@pytest.mark.parametrize("cfg", CONFIGS)
def test_every_container_has_what_cannot_be_forgotten(cfg: Config) -> None:
    for deploy in deployments(cfg):
        pod = deploy["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        for c in pod["containers"]:
            assert c["imagePullPolicy"] == "IfNotPresent"
            assert c["securityContext"]["allowPrivilegeEscalation"] is False
            assert c["ports"] and all(p["name"] for p in c["ports"])
            assert {"readinessProbe", "livenessProbe", "resources"} <= set(c)


@pytest.mark.parametrize("cfg", CONFIGS)
def test_services_expose_the_main_containers_named_ports(cfg: Config) -> None:
    objects = build_stack(cfg)
    services = {o["metadata"]["name"]: o for o in objects if o["kind"] == "Service"}
    for deploy in deployments(cfg):
        main = deploy["spec"]["template"]["spec"]["containers"][0]
        service = services[deploy["metadata"]["name"]]
        assert service["spec"]["selector"] == deploy["spec"]["selector"]["matchLabels"]
        assert [(p["name"], p["port"], p["targetPort"]) for p in service["spec"]["ports"]] == [
            (p["name"], p["containerPort"], p["name"]) for p in main["ports"]
        ]


@pytest.mark.parametrize("cfg", CONFIGS)
def test_the_version_label_is_the_image_tag_and_never_selects(cfg: Config) -> None:
    tags = {
        "signal-harvester-api": cfg.api.image.tag,
        "prometheus": cfg.prometheus.image.tag,
        "grafana": cfg.grafana.image.tag,
        "alertmanager": cfg.alertmanager.image.tag,
    }
    for deploy in deployments(cfg):
        name = deploy["metadata"]["name"]
        assert deploy["metadata"]["labels"][VERSION_LABEL] == tags[name]
        assert deploy["spec"]["template"]["metadata"]["labels"][VERSION_LABEL] == tags[name]
        assert VERSION_LABEL not in deploy["spec"]["selector"]["matchLabels"]
    for obj in build_stack(cfg):
        for selector in (
            obj.get("spec", {}).get("selector"),
            obj.get("spec", {}).get("podSelector"),
        ):
            assert VERSION_LABEL not in str(selector)


def test_a_digest_alone_gives_no_version_label() -> None:
    digest = "sha256:" + "ab" * 32
    assert version(Image(repository="a/b", digest=digest)) is None
    assert version(Image(repository="a/b", tag="v1", digest=digest)) == "v1"
    assert version(Image(repository="a/b", tag="x" * 64)) is None  # too long for a label


def test_a_container_needs_a_named_port() -> None:
    with pytest.raises(ValueError, match="named port"):
        container(
            "x",
            Image(repository="a/b", tag="v1"),
            ports=[],
            resources_=Config().api.resources,
            readiness={},
            liveness={},
            mounts=[],
        )
    built = container(
        "x",
        Image(repository="a/b", tag="v1"),
        ports=[Port("http", 80)],
        resources_=Resources.model_validate(Config().api.resources.model_dump()),
        readiness={},
        liveness={},
        mounts=[],
    )
    assert built["ports"] == [{"name": "http", "containerPort": 80, "protocol": "TCP"}]


def secret_readers(deploy: Obj) -> bool:
    pod = deploy["spec"]["template"]["spec"]
    from_volumes = any("secret" in v for v in pod["volumes"])
    from_env = any(
        "secretRef" in source for c in pod["containers"] for source in c.get("envFrom", [])
    )
    return from_volumes or from_env


@pytest.mark.parametrize("cfg", CONFIGS)
def test_secret_consumers_are_exactly_the_deployments_that_read_a_secret(cfg: Config) -> None:
    readers = {d["metadata"]["name"] for d in deployments(cfg) if secret_readers(d)}
    assert secret_consumers(cfg) == readers
