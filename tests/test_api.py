"""The public library surface, used as a platform team would: nothing but `harvester_manifests`.

(The test helpers from tests.conftest only locate the repository's files and run the pinned
kustomize on the result.)
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

import harvester_manifests as hm
from tests.conftest import ENV_EXAMPLE, OVERLAYS, ROOT, index, kustomize_build

TEAM = {"example.com/team": "platform"}
SIDECAR = {
    "name": "log-shipper",
    "image": "fluent/fluent-bit:3.2.4",
    "resources": {
        "requests": {"cpu": "10m", "memory": "32Mi", "ephemeral-storage": "16Mi"},
        "limits": {"cpu": "100m", "memory": "64Mi", "ephemeral-storage": "64Mi"},
    },
    "securityContext": {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
    },
    "volumeMounts": [{"name": "logs", "mountPath": "/app/logs", "readOnly": True}],
}


def labelled(objects: list[hm.Obj]) -> list[hm.Obj]:
    """Every object with the platform team's label (what the README's example does)."""
    result = copy.deepcopy(objects)
    for obj in result:
        obj["metadata"].setdefault("labels", {}).update(TEAM)
    return result


def with_sidecar(objects: list[hm.Obj]) -> list[hm.Obj]:
    result = copy.deepcopy(objects)
    for obj in result:
        if obj["kind"] == "Deployment" and obj["metadata"]["name"] == "signal-harvester-api":
            obj["spec"]["template"]["spec"]["containers"].append(SIDECAR)
    return result


def test_the_surface_is_exported() -> None:
    assert set(hm.__all__) >= {"load_config", "render_objects", "lay_out", "write", "Config"}
    for name in hm.__all__:
        assert getattr(hm, name) is not None
        if callable(getattr(hm, name)) and name[0].islower():
            assert getattr(hm, name).__doc__, f"{name} has no docstring"


@pytest.mark.parametrize("env", hm.environments(OVERLAYS))
def test_unchanged_objects_lay_out_as_the_committed_build(env: str) -> None:
    cfg = hm.load_config(OVERLAYS, env)
    secrets = hm.load_secrets(cfg, ENV_EXAMPLE)
    files = hm.lay_out(env, cfg, hm.render_objects(cfg, secrets, env), secrets)
    for path, content in files.items():
        # Gitignored, never committed (build/.gitignore): the secret values, and in mode
        # env-file the whole secrets/ layer, which a fresh clone does not have.
        if not path.endswith(".env") and path.split("/")[1:2] != ["secrets"]:
            assert (ROOT / "build" / path).read_text() == content, path


def test_a_label_on_every_object_and_a_sidecar(tmp_path: Path) -> None:
    out = tmp_path / "build"
    for env in ("staging", "prod"):
        cfg = hm.load_config(OVERLAYS, env)
        secrets = hm.load_secrets(cfg, ENV_EXAMPLE)
        objects = with_sidecar(labelled(hm.render_objects(cfg, secrets, env)))
        hm.write(out, hm.lay_out(env, cfg, objects, secrets, base=labelled(hm.base_objects())))
    assert sorted(p.name for p in out.iterdir()) == [".gitignore", "base", "prod", "staging"]
    # The label is in the base, so the overlays patch only what the environment changes.
    assert "example.com/team" not in (out / "prod" / "kustomization.yaml").read_text()
    for env in ("staging", "prod"):
        built = index(kustomize_build(out / env))
        for (kind, name), obj in built.items():
            if kind != "Secret":  # made by the secretGenerator, not from the objects
                assert obj["metadata"]["labels"]["example.com/team"] == "platform", (kind, name)
        pod = built[("Deployment", "signal-harvester-api")]["spec"]["template"]["spec"]
        assert [c["name"] for c in pod["containers"]] == ["signal-harvester-api", "log-shipper"]


def test_write_keeps_other_environments(tmp_path: Path) -> None:
    out = tmp_path / "build"
    cfg = hm.load_config(OVERLAYS, "dev")
    secrets = hm.load_secrets(cfg, ENV_EXAMPLE)
    hm.write(out, hm.lay_out("dev", cfg, hm.render_objects(cfg, secrets), secrets))
    cfg = hm.load_config(OVERLAYS, "prod")
    hm.write(out, hm.lay_out("prod", cfg, hm.render_objects(cfg, None), None))
    assert (out / "dev" / "kustomization.yaml").is_file()
    assert "secretGenerator" not in (out / "prod" / "kustomization.yaml").read_text()


def test_bad_input_raises_input_error_with_problems(tmp_path: Path) -> None:
    (tmp_path / "prod.yaml").write_text("api: {replicas: many}\n")
    with pytest.raises(hm.InputError) as caught:
        hm.load_config(tmp_path, "prod")
    (problem,) = caught.value.problems
    assert isinstance(problem, hm.Problem)
    assert (problem.source, problem.field) == (str(tmp_path / "prod.yaml"), "api.replicas")
    empty = tmp_path / "empty.env"
    empty.write_text("")
    with pytest.raises(hm.InputError, match="OPENAI_API_KEY"):
        hm.load_secrets(hm.Config(), empty)


def test_external_secrets_need_no_env_file() -> None:
    cfg = hm.Config.model_validate({"secrets": {"mode": "external"}})
    assert hm.load_secrets(cfg, Path("does-not-exist")) is None
    assert not [o for o in hm.render_objects(cfg) if o["kind"] == "Secret"]
