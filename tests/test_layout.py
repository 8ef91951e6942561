"""The Kustomize layout: base plus overlays build to exactly the direct render, every time."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from harvester_manifests.render import render
from tests.conftest import (
    ENV_EXAMPLE,
    ENVS,
    LOCAL,
    OVERLAYS,
    ROOT,
    Obj,
    apply_dir,
    direct_render,
    index,
    kubeconform_accepts,
    kustomize_build,
    run,
)


def normalized(obj: Obj) -> Obj:
    """kustomize wraps long base64 at 70 columns; the API server ignores the line breaks."""
    if obj["kind"] == "Secret":
        obj = {**obj, "data": {k: "".join(v.split()) for k, v in obj.get("data", {}).items()}}
    return obj


def tree(directory: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(directory)): p.read_bytes()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


@pytest.mark.parametrize("env", ENVS)
def test_kustomize_build_equals_direct_render(env: str, rendered: Path) -> None:
    built = {k: normalized(o) for k, o in index(kustomize_build(apply_dir(rendered, env))).items()}
    direct = {k: normalized(o) for k, o in index(direct_render(env)).items()}
    assert sorted(built) == sorted(direct)
    for key, obj in direct.items():
        assert built[key] == obj, f"{env}: {key} differs between kustomize build and render"


@pytest.mark.parametrize("env", ENVS)
def test_kubectl_kustomize_agrees_with_pinned_kustomize(env: str, rendered: Path) -> None:
    result = run(["kubectl", "kustomize", apply_dir(rendered, env)])
    assert result.returncode == 0, result.stderr
    by_kubectl = index([d for d in yaml.safe_load_all(result.stdout) if d])
    by_kustomize = index(kustomize_build(apply_dir(rendered, env)))
    assert {k: normalized(o) for k, o in by_kubectl.items()} == {
        k: normalized(o) for k, o in by_kustomize.items()
    }


def test_render_is_byte_identical_twice(tmp_path: Path, rendered: Path) -> None:
    again = tmp_path / "build"
    render("all", OVERLAYS, again, ENV_EXAMPLE, ROOT)
    assert tree(again) == tree(rendered)


def test_committed_build_is_fresh(rendered: Path) -> None:
    """build/ is committed for GitOps review: it must be what the committed inputs render."""
    committed = {k: v for k, v in tree(ROOT / "build").items() if not k.endswith(".env")}
    fresh = {k: v for k, v in tree(rendered).items() if not k.endswith(".env")}
    stale = sorted(k for k in committed.keys() | fresh.keys() if committed.get(k) != fresh.get(k))
    assert not stale, f"build/ is stale, run `make render` and commit: {stale}"


def test_no_secret_file_is_tracked_by_git() -> None:
    tracked = subprocess.run(
        ["git", "ls-files", "build", ".env", ".env.prod"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert tracked, "build/ should be committed"
    assert not [path for path in tracked if path.endswith(".env") or "/secrets/" in path]
    ignored = subprocess.run(
        ["git", "check-ignore", "build/prod/secrets/signal-harvester-api-keys.env", ".env"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert ignored.returncode == 0, "rendered secret files must be gitignored"


def test_no_secret_value_in_non_secret_files(rendered: Path, env_file_rendered: Path) -> None:
    values = [
        line.split("=", 1)[1]
        for line in ENV_EXAMPLE.read_text().splitlines()
        if "=" in line and not line.startswith("#")
    ]
    files = tree(rendered) | {f"env-file/{k}": v for k, v in tree(env_file_rendered).items()}
    assert [k for k in files if k.endswith(".env")], "the env-file render has its .env files"
    for path, content in files.items():
        if path.endswith(".env"):
            continue
        text = content.decode()
        assert not [v for v in values if v in text], f"{path} holds a secret value"


def test_base_is_the_guide_and_prod_overlay_is_small(rendered: Path) -> None:
    """prod is the guide, so its overlay only adds how its Secrets are delivered: the
    ExternalSecrets, and sync wave -1 on the Namespace they live in (syncwaves.py)."""
    patches = sorted(p.name for p in (rendered / "prod" / "patches").iterdir())
    assert patches == ["namespace-signal-harvester.yaml"]
    patch = yaml.safe_load((rendered / "prod" / "patches" / patches[0]).read_text())
    assert patch == [
        {
            "op": "add",
            "path": "/metadata/annotations",
            "value": {"argocd.argoproj.io/sync-wave": "-1"},
        }
    ]
    kustomization = yaml.safe_load((rendered / "prod" / "kustomization.yaml").read_text())
    assert kustomization["patches"] == [
        {
            "path": f"patches/{patches[0]}",
            "target": {"kind": "Namespace", "name": "signal-harvester"},
        }
    ]
    assert kustomization["resources"][0] == "../base"
    assert {Path(r).name.split("-", 1)[0] for r in kustomization["resources"][1:]} == {
        "externalsecret"
    }


def test_secret_files_are_private(env_file_rendered: Path) -> None:
    files = list((env_file_rendered / LOCAL / "secrets").glob("*.env"))
    assert files
    for path in files:
        assert path.stat().st_mode & 0o077 == 0, f"{path} is readable by others"


def test_env_file_secrets_layer_builds_to_the_direct_render(
    env_file_rendered: Path, env_file_overlays: Path
) -> None:
    """kubectl apply -k build/<env>/secrets: the environment, its Secrets and checksums."""
    built = {
        k: normalized(o)
        for k, o in index(kustomize_build(env_file_rendered / LOCAL / "secrets")).items()
    }
    direct = {k: normalized(o) for k, o in index(direct_render(LOCAL, env_file_overlays)).items()}
    assert built == direct
    assert {k for k in built if k[0] == "Secret"} == {
        ("Secret", "signal-harvester-api-keys"),
        ("Secret", "alertmanager-slack-urls"),
        ("Secret", "grafana-admin"),
    }
    api = built[("Deployment", "signal-harvester-api")]["spec"]["template"]["metadata"]
    assert "harvester-gen/secrets-checksum" in api["annotations"]


def test_env_file_mode_commits_what_builds_without_the_env(
    env_file_rendered: Path, tmp_path: Path
) -> None:
    """What git keeps of an env-file render (no secrets/) builds, and holds no generator."""
    gitignore = (env_file_rendered / ".gitignore").read_text().splitlines()
    assert "/*/secrets/" in gitignore and "*.env" in gitignore
    copy = tmp_path / "build"
    shutil.copytree(
        env_file_rendered, copy, ignore=lambda d, names: ["secrets"] if d.endswith(LOCAL) else []
    )
    assert not (copy / LOCAL / "secrets").exists()
    kustomization = yaml.safe_load((copy / LOCAL / "kustomization.yaml").read_text())
    assert "secretGenerator" not in kustomization
    objects = index(kustomize_build(copy / LOCAL))
    assert not [k for k in objects if k[0] == "Secret"]
    assert kubeconform_accepts(copy / LOCAL)


@pytest.mark.parametrize("env", ENVS)
def test_libyaml_and_pure_python_emit_the_same_bytes(env: str) -> None:
    """Output must not depend on whether this machine's PyYAML has libyaml."""
    from harvester_manifests import yamlio

    for obj in direct_render(env):
        assert yamlio.dump(obj) == yamlio.dump(obj, pure=True)


@pytest.mark.parametrize(
    "value", ["y", "Y", "n", "N", "yes", "off", "true", "null", "0", "1e3", "0o17", "0x1F", ".5"]
)
def test_strings_kustomize_would_read_as_other_types_stay_strings(
    value: str, tmp_path: Path
) -> None:
    """A label value such as "N" is a boolean to kustomize's YAML 1.1 reader when written
    plain: every string the render writes must come back from kustomize as that string."""
    from harvester_manifests.yamlio import dump

    cm = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "x", "labels": {"v": value}},
        "data": {"v": value},
    }
    (tmp_path / "cm.yaml").write_text(dump(cm))
    (tmp_path / "kustomization.yaml").write_text("resources: [cm.yaml]\n")
    (built,) = kustomize_build(tmp_path)
    assert built["metadata"]["labels"]["v"] == value
    assert built["data"]["v"] == value
