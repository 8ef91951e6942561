"""Bad input: one clear line per problem naming the file and field, exit 2, output untouched."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import ENV_EXAMPLE, OVERLAYS, ROOT

GEN = ROOT / ".venv" / "bin" / "harvester-gen"


def harvester_gen(*args: str | Path, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(GEN), *map(str, args)], capture_output=True, text=True, cwd=cwd, check=False
    )


def render_overlays(
    config_dir: Path, env: str, out: Path, env_file: Path = ENV_EXAMPLE
) -> subprocess.CompletedProcess[str]:
    return harvester_gen(
        "render", "--env", env, "--config-dir", config_dir, "--env-file", env_file, "--out", out
    )


def snapshot(directory: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(directory)): p.read_bytes()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def out(tmp_path: Path) -> Path:
    """A previous good render, which a failed render must leave byte-identical."""
    target = tmp_path / "build"
    result = harvester_gen("render", "--env", "all", "--env-file", ENV_EXAMPLE, "--out", target)
    assert result.returncode == 0, result.stderr
    return target


def assert_input_error(
    result: subprocess.CompletedProcess[str], out: Path, before: dict[str, bytes], *expected: str
) -> list[str]:
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines and all(line.startswith("error: ") for line in lines), lines
    for text in expected:
        assert any(text in line for line in lines), (text, lines)
    assert snapshot(out) == before, "a failed render changed the output"
    return lines


CASES = {
    "malformed YAML": ("api: [unclosed\n", ["dev.yaml", "invalid YAML", "line"]),
    "duplicate key": ("api: {}\napi: {}\n", ["dev.yaml", "duplicate key 'api'"]),
    "not a mapping": ("- a\n- b\n", ["dev.yaml", "must be a mapping"]),
    "unknown key": ("api:\n  replicaz: 3\n", ["dev.yaml: api.replicaz: unknown key", "replicas"]),
    "wrong type": ("api:\n  port: eighty\n", ["dev.yaml: api.port:", "integer"]),
    "min above max": (
        "api:\n  autoscaling:\n    minReplicas: 5\n    maxReplicas: 3\n",
        ["dev.yaml: api.autoscaling:", "minReplicas 5 is above maxReplicas 3"],
    ),
    "bad quantity": (
        "api:\n  resources:\n    requests: {cpu: lots, memory: 1Gi}\n",
        ["dev.yaml: api.resources.requests.cpu:", "not a Kubernetes quantity"],
    ),
    "request above limit": (
        "api:\n  resources:\n    requests: {cpu: '2'}\n    limits: {cpu: '1'}\n",
        ["dev.yaml: api.resources:", "requests.cpu 2 is above limits.cpu 1"],
    ),
    "invalid host": ("domain: Not_A_Host\n", ["dev.yaml: domain:", "not a valid DNS host name"]),
    "invalid ingress host": (
        "grafana:\n  ingress:\n    host: grafana..example.com\n",
        ["dev.yaml: grafana.ingress.host:", "not a valid DNS host name"],
    ),
    "latest image in a pinned environment": (
        "api:\n  image:\n    repository: bwillia13x/signal-harvester\n    tag: latest\n",
        ["dev.yaml", "api.image bwillia13x/signal-harvester:latest is not pinned"],
    ),
    "monitoring UIs open to the internet": (
        "monitoringAuth:\n  enabled: false\n",
        ["dev.yaml: monitoringAuth: the prometheus, grafana, alertmanager UIs would be open"],
    ),
    "not a network range": (
        "monitoringAuth:\n  allowSourceRanges: [10.0.0.1/8]\n",
        ["dev.yaml: monitoringAuth.allowSourceRanges.0:", "not a network address range"],
    ),
    "sqlite on a network filesystem": (
        "api:\n  storage:\n    accessMode: ReadWriteMany\n",
        ["dev.yaml: api:", "SQLite over a network filesystem"],
    ),
    "sqlite with one-pod volume and replicas": (
        "api:\n  storage:\n    accessMode: ReadWriteOncePod\n",
        ["dev.yaml: api:", "ReadWriteOncePod allows one pod"],
    ),
    "sqlite replicas beyond one node": (
        "api:\n  autoscaling:\n    maxReplicas: 40\n",
        ["dev.yaml", "40 replicas x 250m cpu requested exceed the node's 4"],
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_overlay(case: str, out: Path, write_overlay: Callable[[str, str], Path]) -> None:
    text, expected = CASES[case]
    config_dir = write_overlay("dev", text)
    before = snapshot(out)
    result = render_overlays(config_dir, "dev", out)
    assert_input_error(result, out, before, *expected)


def test_every_problem_is_reported_at_once(
    out: Path, write_overlay: Callable[[str, str], Path]
) -> None:
    write_overlay("dev", "api:\n  port: 0\n  logLevel: LOUD\n")
    config_dir = write_overlay("staging", "domain: -bad-\n")
    before = snapshot(out)
    result = render_overlays(config_dir, "all", out)
    lines = assert_input_error(
        result, out, before, "api.port", "api.logLevel", "staging.yaml: domain"
    )
    assert len(lines) == 3


def test_missing_env_key(
    tmp_path: Path, out: Path, write_overlay: Callable[[str, str], Path]
) -> None:
    config_dir = write_overlay("local", "")  # the default mode: env-file
    env_file = tmp_path / ".env"
    env_file.write_text(
        "\n".join(
            line
            for line in ENV_EXAMPLE.read_text().splitlines()
            if not line.startswith("OPENAI_API_KEY")
        )
    )
    before = snapshot(out)
    result = render_overlays(config_dir, "local", out, env_file)
    assert_input_error(result, out, before, f"{env_file}: OPENAI_API_KEY: missing")


def test_missing_env_file(
    tmp_path: Path, out: Path, write_overlay: Callable[[str, str], Path]
) -> None:
    config_dir = write_overlay("local", "")
    before = snapshot(out)
    result = render_overlays(config_dir, "local", out, tmp_path / "nope.env")
    assert_input_error(result, out, before, "nope.env: no such file (copy .env.example")


def test_malformed_env_line(
    tmp_path: Path, out: Path, write_overlay: Callable[[str, str], Path]
) -> None:
    config_dir = write_overlay("local", "")
    env_file = tmp_path / ".env"
    env_file.write_text(ENV_EXAMPLE.read_text() + "this is not a setting\n")
    before = snapshot(out)
    result = render_overlays(config_dir, "local", out, env_file)
    assert_input_error(result, out, before, ".env: line", "expected KEY=VALUE")


def test_postgres_needs_database_url(out: Path, write_overlay: Callable[[str, str], Path]) -> None:
    config_dir = write_overlay("dev", "api:\n  database:\n    mode: postgres\n")
    before = snapshot(out)
    result = render_overlays(config_dir, "dev", out)
    assert_input_error(result, out, before, "DATABASE_URL: missing")


def test_secret_value_in_overlay_is_refused(
    tmp_path: Path, out: Path, write_overlay: Callable[[str, str], Path]
) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(
        ENV_EXAMPLE.read_text().replace("replace-with-openai-api-key", "sk-live-0123456789")
    )
    config_dir = write_overlay("dev", "# old key: sk-live-0123456789\n")
    before = snapshot(out)
    result = render_overlays(config_dir, "dev", out, env_file)
    assert_input_error(result, out, before, "dev.yaml", "secret value")


def test_unknown_environment(out: Path) -> None:
    before = snapshot(out)
    result = harvester_gen("render", "--env", "qa", "--env-file", ENV_EXAMPLE, "--out", out)
    assert_input_error(
        result, out, before, "qa.yaml: no such environment (available: dev, prod, staging"
    )


def test_refuses_to_replace_a_foreign_directory(tmp_path: Path) -> None:
    foreign = tmp_path / "important"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    result = harvester_gen("render", "--env", "dev", "--env-file", ENV_EXAMPLE, "--out", foreign)
    assert result.returncode == 2
    assert "is not a harvester-gen output" in result.stderr
    assert (foreign / "notes.txt").read_text() == "keep me"


def test_rendering_one_environment_keeps_the_others(out: Path) -> None:
    before = snapshot(out)
    result = harvester_gen("render", "--env", "dev", "--env-file", ENV_EXAMPLE, "--out", out)
    assert result.returncode == 0, result.stderr
    assert snapshot(out) == before
    assert "dev: " in result.stdout and "kubectl apply -k" in result.stdout


def test_a_fresh_clone_renders_the_committed_build_without_any_dotenv(tmp_path: Path) -> None:
    """Every committed environment uses a GitOps secrets mode: render needs no .env at all."""
    shutil.copytree(OVERLAYS, tmp_path / "overlays")
    shutil.copy(ROOT / "gitops.yaml", tmp_path / "gitops.yaml")  # committed, like overlays/
    result = harvester_gen("render", "--out", "build", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "warning" not in result.stderr
    fresh = snapshot(tmp_path / "build")
    committed = {k: v for k, v in snapshot(ROOT / "build").items() if "/secrets/" not in k}
    assert fresh == committed


def env_file_overlays(tmp_path: Path, *envs: str) -> None:
    """A scratch overlays/ with empty env-file environments (the default mode)."""
    (tmp_path / "overlays").mkdir()
    for env in envs:
        (tmp_path / "overlays" / f"{env}.yaml").write_text("")


def test_without_a_dotenv_env_file_mode_uses_the_placeholders_and_says_so(
    tmp_path: Path,
) -> None:
    env_file_overlays(tmp_path, "local")
    shutil.copy(ENV_EXAMPLE, tmp_path / ".env.example")
    result = harvester_gen("render", "--out", "build", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "warning: local: secrets come from .env.example: placeholders" in result.stderr


def test_a_dotenv_with_placeholders_left_in_is_reported(tmp_path: Path) -> None:
    env_file_overlays(tmp_path, "local")
    shutil.copy(ENV_EXAMPLE, tmp_path / ".env.example")
    text = ENV_EXAMPLE.read_text().replace("replace-with-openai-api-key", "sk-real-value")
    (tmp_path / ".env").write_text(text)
    result = harvester_gen("render", "--env", "local", "--out", "build", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "warning: local: .env: still the .env.example placeholder:" in result.stderr
    assert "signal-harvester-api-keys/X_BEARER_TOKEN" in result.stderr
    assert "OPENAI_API_KEY" not in result.stderr


def test_an_environments_own_dotenv_wins(tmp_path: Path) -> None:
    env_file_overlays(tmp_path, "local", "qa")
    (tmp_path / ".env").write_text(
        ENV_EXAMPLE.read_text().replace("replace-with-harvest-api-key", "shared-key-123")
    )
    (tmp_path / ".env.local").write_text(
        ENV_EXAMPLE.read_text().replace("replace-with-harvest-api-key", "local-key-456")
    )
    result = harvester_gen("render", "--out", "build", cwd=tmp_path)
    assert result.returncode == 0, result.stderr

    def api_keys(env: str) -> str:
        return (tmp_path / "build" / env / "secrets" / "signal-harvester-api-keys.env").read_text()

    assert "HARVEST_API_KEY=local-key-456\n" in api_keys("local")
    assert "HARVEST_API_KEY=shared-key-123\n" in api_keys("qa")
    assert "secrets: from .env.local," in result.stdout and "secrets: from .env," in result.stdout
