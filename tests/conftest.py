"""Shared fixtures: the real tools from bin/, and each environment rendered and built by kustomize.

Nothing is mocked. A missing tool fails the test that needs it (run `make setup`).
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from harvester_manifests.config.loader import load_config
from harvester_manifests.config.models import Config
from harvester_manifests.delivery import Sources, deliver
from harvester_manifests.render import render

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / "bin"
OVERLAYS = ROOT / "overlays"
ENV_EXAMPLE = ROOT / ".env.example"
ENVS = ("dev", "staging", "prod")

Obj = dict[str, Any]


def tool(name: str) -> Path:
    path = BIN / name
    if not path.exists():
        pytest.fail(f"{path} is missing: run `make setup`", pytrace=False)
    return path


def run(args: list[str | Path], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, **kwargs)


def kustomize_build(directory: Path) -> list[Obj]:
    result = run([tool("kustomize"), "build", directory])
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def index(objects: list[Obj]) -> dict[tuple[str, str], Obj]:
    """Objects by (kind, name); every rendered object has a unique pair."""
    result: dict[tuple[str, str], Obj] = {}
    for obj in objects:
        key = (obj["kind"], obj["metadata"]["name"])
        assert key not in result, f"duplicate {key}"
        result[key] = obj
    return result


def direct_render(
    env: str, config_dir: Path = OVERLAYS, env_file: Path = ENV_EXAMPLE, out: Path | None = None
) -> list[Obj]:
    """What the environment's secrets mode delivers to the cluster, computed in memory."""
    cfg = load_config(config_dir, env)
    previous = out / env if out is not None else config_dir / "no-previous-render"
    return deliver(env, cfg, Sources(config_dir, env_file, previous)).applied


def apply_dir(out: Path, env: str) -> Path:
    """The directory `kubectl apply -k` takes: build/<env>/secrets in mode env-file."""
    local = out / env / "secrets"
    return local if (local / "kustomization.yaml").is_file() else out / env


def delivered_secrets(objects: dict[tuple[str, str], Obj]) -> dict[str, set[str]]:
    """Each Secret the objects deliver, with its keys: a Secret itself, or what an
    ExternalSecret or SealedSecret makes the operator or controller write."""
    result: dict[str, set[str]] = {}
    for (kind, name), obj in objects.items():
        if kind == "Secret":
            result[name] = set(obj.get("data", {}))
        elif kind == "ExternalSecret":
            result[obj["spec"]["target"]["name"]] = {d["secretKey"] for d in obj["spec"]["data"]}
        elif kind == "SealedSecret":
            result[name] = set(obj["spec"]["encryptedData"])
    return result


@pytest.fixture(scope="session")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every committed environment rendered from .env.example into a scratch directory."""
    out = tmp_path_factory.mktemp("render") / "build"
    render("all", OVERLAYS, out, ENV_EXAMPLE, ROOT)
    return out


LOCAL = "local"  # a scratch environment in secrets mode env-file (no committed one uses it)


@pytest.fixture(scope="session")
def env_file_overlays(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """overlays/ with `local`: dev's settings, secrets from the .env (mode env-file)."""
    config_dir = tmp_path_factory.mktemp("env-file") / "overlays"
    config_dir.mkdir()
    overlay = yaml.safe_load((OVERLAYS / "dev.yaml").read_text())
    overlay["secrets"] = {"mode": "env-file"}
    (config_dir / f"{LOCAL}.yaml").write_text(yaml.safe_dump(overlay))
    return config_dir


@pytest.fixture(scope="session")
def env_file_rendered(env_file_overlays: Path) -> Path:
    """`local` rendered from .env.example: build/local/ plus the gitignored build/local/secrets/."""
    out = env_file_overlays.parent / "build"
    render(LOCAL, env_file_overlays, out, ENV_EXAMPLE, ROOT)
    return out


@pytest.fixture(scope="session")
def built(rendered: Path) -> dict[str, dict[tuple[str, str], Obj]]:
    """What `kustomize build <out>/<env>` gives for each environment, by (kind, name)."""
    return {env: index(kustomize_build(apply_dir(rendered, env))) for env in ENVS}


@pytest.fixture(scope="session")
def prod(built: dict[str, dict[tuple[str, str], Obj]]) -> dict[tuple[str, str], Obj]:
    return built["prod"]


@pytest.fixture
def write_overlay(tmp_path: Path) -> Callable[[str, str], Path]:
    """Write an overlay file into a scratch config dir; returns the config dir."""

    def write(env: str, text: str) -> Path:
        config_dir = tmp_path / "overlays"
        config_dir.mkdir(exist_ok=True)
        (config_dir / f"{env}.yaml").write_text(text, encoding="utf-8")
        return config_dir

    return write


def defaults() -> Config:
    return Config()


def copy_tree(source: Path, target: Path) -> None:
    shutil.copytree(source, target)


def kubeconform_accepts(directory: Path, versions: list[str] | None = None) -> bool:
    """kustomize build + kubeconform -strict (offline) of a rendered overlay; True when valid.

    Uses the newest and oldest supported Kubernetes versions unless told otherwise.
    """
    from harvester_manifests.validate import supported_kubernetes_versions, validate_directory

    supported = supported_kubernetes_versions()
    reports = validate_directory(directory, versions or [supported[0], supported[-1]])
    problems = [str(p) for report in reports for p in report.problems()]
    assert not problems, problems
    return True
