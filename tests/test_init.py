"""`harvester-gen init`, and the package on its own: built as a wheel, installed into a fresh
virtualenv in an empty directory, it starts a project, renders it, and kustomize builds it.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from harvester_manifests.config.envfile import read_env_file
from harvester_manifests.envexample import every_configuration
from harvester_manifests.scaffold import project_files
from harvester_manifests.secrets import secret_specs
from tests.conftest import ENV_EXAMPLE, ENVS, ROOT, kustomize_build, run, tool
from tests.test_errors import harvester_gen, snapshot

EXPECTED = [".env.example", ".gitignore", "README.md", *(f"overlays/{e}.yaml" for e in ENVS)]


def test_the_repos_env_example_is_the_generated_one() -> None:
    """So the repository's .env.example cannot drift from the models."""
    assert ENV_EXAMPLE.read_text(encoding="utf-8") == project_files()[".env.example"], (
        "run: .venv/bin/harvester-gen init DIR and copy DIR/.env.example over .env.example"
    )


def test_env_example_lists_every_key_of_every_configuration(tmp_path: Path) -> None:
    text = project_files()[".env.example"]
    path = tmp_path / ".env.example"
    path.write_text(text)
    active = read_env_file(path)
    default, everything = every_configuration()
    for spec in secret_specs(default):
        for _, variable in spec.keys:
            assert active.get(variable), f"{variable} needs a value in .env.example"
    for spec in secret_specs(everything):
        for _, variable in spec.keys:
            assert f"{variable}=" in text, variable
    # An optional key is listed, commented out, so a default render does not read it.
    assert "# DATABASE_URL=postgresql://" in text and "DATABASE_URL" not in active


def test_init_writes_the_project(tmp_path: Path) -> None:
    target = tmp_path / "gitops"
    result = harvester_gen("init", target)
    assert result.returncode == 0, result.stderr
    assert sorted(snapshot(target)) == sorted(EXPECTED)
    assert (target / "overlays" / "prod.yaml").read_text().startswith("# Production.")
    readme = (target / "README.md").read_text()
    assert "harvester-gen render --env prod" in readme and "kubectl apply -k build/prod" in readme
    ignored = (target / ".gitignore").read_text().splitlines()
    assert {"/.env", "/.env.*", "!/.env.example"} <= set(ignored)


def test_init_defaults_to_the_current_directory(tmp_path: Path) -> None:
    result = harvester_gen("init", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert sorted(snapshot(tmp_path)) == sorted(EXPECTED)


def test_init_refuses_to_overwrite_and_writes_nothing(tmp_path: Path) -> None:
    (tmp_path / "overlays").mkdir()
    (tmp_path / "overlays" / "prod.yaml").write_text("domain: mine.example.com\n")
    (tmp_path / "README.md").write_text("mine\n")
    before = snapshot(tmp_path)
    result = harvester_gen("init", tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines() == [
        f"error: {tmp_path / 'README.md'}: already exists: init never overwrites a file",
        f"error: {tmp_path / 'overlays' / 'prod.yaml'}: already exists: init never overwrites "
        "a file",
    ]
    assert snapshot(tmp_path) == before


def test_init_into_a_file_is_bad_input(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    result = harvester_gen("init", tmp_path / "file")
    assert result.returncode == 2
    assert result.stderr == f"error: {tmp_path / 'file'}: exists and is not a directory\n"


def source_copy(target: Path) -> Path:
    """The repository's files (tracked, or new and not ignored) copied to `target`.

    The wheel is built from the copy: building in the work tree would write build/lib into
    the committed build/ directory.
    """
    listed = run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT)
    assert listed.returncode == 0, listed.stderr
    for name in filter(None, listed.stdout.split("\0")):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


def outside_env(venv: Path) -> dict[str, str]:
    """An environment that knows nothing of this repository or its virtualenv."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME", "PYTHONSTARTUP")
    }
    env["PATH"] = os.pathsep.join([str(venv / "bin"), "/usr/local/bin", "/usr/bin", "/bin"])
    return env


def test_the_wheel_starts_renders_and_builds_a_project_outside_the_repo(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    built = run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", wheels,
         source_copy(tmp_path / "src")],
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    (wheel,) = wheels.glob("harvester_manifests-*.whl")

    venv, project = tmp_path / "venv", tmp_path / "project"
    project.mkdir()
    made = run([sys.executable, "-m", "venv", venv], cwd=project)
    assert made.returncode == 0, made.stderr
    env = outside_env(venv)
    installed = run(
        [venv / "bin" / "pip", "install", "--quiet", "--disable-pip-version-check", wheel],
        cwd=project,
        env=env,
    )
    assert installed.returncode == 0, installed.stderr
    where = run(
        [venv / "bin" / "python", "-c", "import harvester_manifests as h; print(h.__file__)"],
        cwd=project,
        env=env,
    )
    assert Path(where.stdout.strip()).is_relative_to(venv), where.stdout

    gen = venv / "bin" / "harvester-gen"
    for args in (["init"], ["render", "--env", "all"]):
        result = run([gen, *args], cwd=project, env=env)
        assert result.returncode == 0, (args, result.stdout, result.stderr)
        assert str(ROOT) not in result.stdout + result.stderr
    for env_name in ENVS:
        # secrets mode env-file: the committed overlay, then the local layer with the Secrets
        committed = kustomize_build(project / "build" / env_name)
        assert {o["kind"] for o in committed} >= {"Deployment", "Ingress"}
        objects = kustomize_build(project / "build" / env_name / "secrets")
        assert {o["kind"] for o in objects} >= {"Deployment", "Secret", "Ingress"}
    assert tool("kustomize").is_file()
