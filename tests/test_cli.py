"""The CLI surface: validate, schema, --help, and the exit codes (0 ok, 2 input, 1 tool)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ENV_EXAMPLE, ROOT
from tests.test_errors import GEN, harvester_gen


def test_validate_every_environment_and_version(rendered: Path) -> None:
    result = harvester_gen("validate", "--env", "all", "--out", rendered)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    versions = (ROOT / ".cache" / "k8s-schemas" / "versions.txt").read_text().split()
    # dev, staging, prod and build/argocd (rendered because gitops.yaml exists)
    assert len(lines) == 4 * len(versions)
    assert sum(line.startswith("argocd ") for line in lines) == len(versions)
    assert all("invalid 0  errors 0  skipped 0" in line for line in lines)


def test_validate_one_version(rendered: Path) -> None:
    result = harvester_gen(
        "validate", "--env", "prod", "--out", rendered, "--kubernetes-version", "1.33"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("prod       Kubernetes 1.33.0")


def test_validate_unsupported_version(rendered: Path) -> None:
    result = harvester_gen(
        "validate", "--env", "prod", "--out", rendered, "--kubernetes-version", "1.12"
    )
    assert result.returncode == 2
    assert result.stderr.startswith("error: --kubernetes-version:")


def test_validate_before_render(tmp_path: Path) -> None:
    result = harvester_gen("validate", "--env", "dev", "--out", tmp_path / "nothing")
    assert result.returncode == 2
    assert "not rendered (run harvester-gen render)" in result.stderr


def test_missing_tool_is_exit_1(rendered: Path) -> None:
    env = {**os.environ, "HARVESTER_BIN": "/nonexistent"}
    result = subprocess.run(
        [str(GEN), "validate", "--env", "prod", "--out", str(rendered)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert result.returncode == 1
    assert "make setup" in result.stderr
    assert "Traceback" not in result.stderr


def test_schema_is_the_overlay_format() -> None:
    result = harvester_gen("schema")
    assert result.returncode == 0
    schema = json.loads(result.stdout)
    assert schema["additionalProperties"] is False
    assert {"namespace", "domain", "api", "prometheus", "grafana", "alertmanager"} <= set(
        schema["properties"]
    )
    api = schema["$defs"]["Api"]["properties"]
    assert "autoscaling" in api and "logLevel" in api, "keys are camelCase, as in the overlays"


def test_schema_of_gitops_yaml() -> None:
    result = harvester_gen("schema", "--gitops")
    assert result.returncode == 0, result.stderr
    schema = json.loads(result.stdout)
    assert schema["additionalProperties"] is False
    assert schema["required"] == ["repoURL"]
    assert {"repoURL", "targetRevision", "path", "namespace", "project"} == set(
        schema["properties"]
    )


@pytest.mark.parametrize("command", [[], ["render"], ["validate"], ["schema"]])
def test_help(command: list[str]) -> None:
    result = harvester_gen(*command, "--help")
    assert result.returncode == 0
    assert "Usage: harvester-gen" in result.stdout


def test_render_summary_lists_kinds_hosts_and_output(tmp_path: Path) -> None:
    result = harvester_gen(
        "render", "--env", "prod", "--env-file", ENV_EXAMPLE, "--out", tmp_path / "b"
    )
    assert result.returncode == 0, result.stderr
    assert "prod: 41 objects (" in result.stdout
    assert "api.signal-harvester.example.com" in result.stdout
    assert f"kubectl apply -k {tmp_path / 'b' / 'prod'}" in result.stdout
