"""`harvester-gen diff`: what a render would change, object by object; secret values never shown.

Each test works in a scratch project (a copy of overlays/, a .env, a render in build/), changes
one thing, and reads the report a reviewer would. `--cluster` is proven against a real
kube-apiserver (tests/e2e/apiserver.py).
"""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ENV_EXAMPLE, ENVS, OVERLAYS, kustomize_build
from tests.e2e.apiserver import cluster
from tests.test_errors import GEN, harvester_gen, snapshot

SECRET = "sk-test-never-print-this-value-0123456789"
PLACEHOLDER = "replace-with-openai-api-key"  # OPENAI_API_KEY in .env.example


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A scratch project rendered as it stands: a diff of it shows nothing."""
    root = tmp_path / "project"
    shutil.copytree(OVERLAYS, root / "overlays")
    shutil.copyfile(ENV_EXAMPLE, root / ".env")
    result = harvester_gen("render", "--env", "all", cwd=root)
    assert result.returncode == 0, result.stderr
    return root


def diff(project: Path, *args: str | Path) -> subprocess.CompletedProcess[str]:
    result = harvester_gen("diff", *args, cwd=project)
    assert "Traceback" not in result.stderr, result.stderr
    return result


def append(path: Path, text: str) -> None:
    path.write_text(path.read_text() + text)


@pytest.mark.parametrize("env", ["all", "prod", "dev"])
def test_no_change(project: Path, env: str) -> None:
    before = snapshot(project)
    result = diff(project, "--env", env)
    assert (result.returncode, result.stdout) == (
        0,
        f"no changes: build is what a render of {env} writes\n",
    )
    assert snapshot(project) == before, "diff never writes"


def test_changed_tag(project: Path) -> None:
    append(project / "overlays" / "prod.yaml", "api:\n  image: {tag: v2.1.0}\n")
    result = diff(project, "--env", "all")
    assert result.returncode == 1, result.stderr
    version = '["app.kubernetes.io/version"]: "v2.0.0" -> "v2.1.0"'
    assert result.stdout.splitlines() == [
        "prod:",
        "  ~ Deployment/signal-harvester-api",
        f"      ~ metadata.labels{version}",
        f"      ~ spec.template.metadata.labels{version}",
        "      ~ spec.template.spec.containers[signal-harvester-api].image: "
        '"bwillia13x/signal-harvester:v2.0.0" -> "bwillia13x/signal-harvester:v2.1.0"',
        "files: 0 added, 0 removed, 2 changed",
        "  ~ prod/kustomization.yaml",  # images:
        "  ~ prod/patches/deployment-signal-harvester-api.yaml",  # the version label
    ]
    assert diff(project, "--env", "staging").returncode == 0, "other environments unchanged"


def test_added_environment(project: Path) -> None:
    shutil.copyfile(project / "overlays" / "staging.yaml", project / "overlays" / "qa.yaml")
    for env in ("all", "qa"):
        result = diff(project, "--env", env)
        assert result.returncode == 1, result.stderr
        lines = result.stdout.splitlines()
        assert lines[0] == "qa: environment added (41 objects)"
        assert "  + Deployment/signal-harvester-api" in lines
        assert "  + Secret/signal-harvester-api-keys" in lines
        assert "  + qa/kustomization.yaml" in lines
        assert not any(line.startswith(("prod", "dev", "staging")) for line in lines)


def test_removed_object(project: Path) -> None:
    append(project / "overlays" / "prod.yaml", "grafana:\n  ingress: {enabled: false}\n")
    result = diff(project, "--env", "prod")
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "prod:"
    assert "  - Ingress/grafana" in lines
    assert "  + prod/patches/delete-ingress-grafana.yaml" in lines
    assert "  ~ prod/kustomization.yaml" in lines


def test_removed_environment(project: Path) -> None:
    (project / "overlays" / "dev.yaml").unlink()
    result = diff(project, "--env", "all")
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "dev: environment removed (40 objects)"  # no basic-auth Secret in dev
    assert "  - dev/kustomization.yaml" in lines
    # One environment at a time leaves the others alone, as render --env prod does.
    assert diff(project, "--env", "prod").returncode == 0


def test_changed_field_paths_name_list_items_by_name(project: Path) -> None:
    append(project / "overlays" / "prod.yaml", "grafana:\n  adminUser: boss\n")
    result = diff(project, "--env", "prod")
    assert result.returncode == 1
    assert (
        "      ~ spec.template.spec.containers[grafana].env[GF_SECURITY_ADMIN_USER].value: "
        '"admin" -> "boss"'
    ) in result.stdout.splitlines()


def test_changed_config_text_shows_the_changed_lines(project: Path) -> None:
    append(project / "overlays" / "prod.yaml", "alerts:\n  api:\n    latencyP95Seconds: 0.1\n")
    result = diff(project, "--env", "prod")
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert '      ~ data["signal-harvester-api.rules.yaml"]:' in lines
    assert "          -      ) > 0.05" in lines
    assert "          +      ) > 0.1" in lines


def never_printed(result: subprocess.CompletedProcess[str], *values: str) -> None:
    output = result.stdout + result.stderr
    for value in values:
        for form in (value, base64.b64encode(value.encode()).decode()):
            assert form not in output, "a secret value was printed"


def test_secret_change_is_shown_but_never_printed(project: Path) -> None:
    env = project / ".env"
    env.write_text(
        env.read_text().replace(f"OPENAI_API_KEY={PLACEHOLDER}", f"OPENAI_API_KEY={SECRET}")
    )
    result = diff(project, "--env", "prod")
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    secret = lines.index("  ~ Secret/signal-harvester-api-keys")
    assert lines[secret + 1] == "      ~ data.OPENAI_API_KEY: (secret value) changed"
    assert "  ~ prod/secrets/signal-harvester-api-keys.env" in lines
    # The pods that read it roll: their checksum annotation changes (a digest, not the value).
    assert any("harvester-gen/secrets-checksum" in line for line in lines)
    never_printed(result, SECRET, PLACEHOLDER)


def test_unrendered_secrets_are_added_not_printed(project: Path) -> None:
    """A fresh clone has no build/*/secrets/*.env (gitignored): render would add them."""
    shutil.rmtree(project / "build" / "prod" / "secrets")
    result = diff(project, "--env", "prod")
    assert result.returncode == 1
    assert "      ~ data.OPENAI_API_KEY: (secret value) added" in result.stdout.splitlines()
    never_printed(result, PLACEHOLDER)


def test_hand_edited_output_is_reported_not_a_traceback(project: Path) -> None:
    (project / "build" / "prod" / "kustomization.yaml").write_text("resources: [: broken\n")
    result = diff(project, "--env", "prod")
    assert result.returncode == 1
    assert result.stdout.startswith("prod: the output on disk is not harvester-gen's: ")
    assert "  ~ prod/kustomization.yaml" in result.stdout.splitlines()


def test_nothing_rendered_yet_is_all_added(project: Path) -> None:
    shutil.rmtree(project / "build")
    result = diff(project, "--env", "prod")
    assert result.returncode == 1
    assert result.stdout.startswith("prod: environment added (41 objects)\n")


def test_an_output_that_is_not_a_render_is_bad_input(project: Path) -> None:
    (project / "elsewhere").mkdir()
    (project / "elsewhere" / "notes.txt").write_text("mine\n")
    result = diff(project, "--env", "prod", "--out", "elsewhere")
    assert (result.returncode, result.stderr) == (
        2,
        "error: elsewhere: exists and is not a harvester-gen output\n",
    )


@pytest.mark.parametrize(
    ("args", "overlay", "expected"),
    [
        (("--env", "nope"), "", "error: overlays/nope.yaml: no such environment"),
        (("--env", "prod"), "api: {replicas: many}\n", "error: overlays/prod.yaml: api.replicas:"),
        (("--env", "prod", "--env-file", "missing.env"), "", "error: missing.env: no such file"),
    ],
)
def test_bad_input_is_exit_2(
    project: Path, args: tuple[str, ...], overlay: str, expected: str
) -> None:
    append(project / "overlays" / "prod.yaml", overlay)
    result = diff(project, *args)
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1].startswith(expected), result.stderr


def test_cluster_diff_against_a_real_api_server(project: Path, tmp_path: Path) -> None:
    """Apply prod to a real kube-apiserver, then ask the cluster what a changed render changes."""
    with cluster(tmp_path / "e2e") as live:
        applied = live.kubectl("apply", "--server-side", "-k", str(project / "build" / "prod"))
        assert applied.returncode == 0, applied.stderr
        env = {k: v for k, v in os.environ.items() if not k.startswith("KUBE")}
        env["HOME"] = str(live.workdir)  # kubectl's cache, never the caller's

        def cluster_diff() -> subprocess.CompletedProcess[str]:
            result = subprocess.run(
                [str(GEN), "diff", "--env", "prod", "--cluster",
                 "--kubectl", str(live.binaries.kubectl), "--kubeconfig", str(live.kubeconfig)],
                cwd=project, capture_output=True, text=True, env=env, check=False,
            )  # fmt: skip
            assert "Traceback" not in result.stderr
            return result

        same = cluster_diff()
        assert (same.returncode, same.stdout) == (0, "prod: no changes\n"), same.stderr

        append(project / "overlays" / "prod.yaml", "api:\n  image: {tag: v2.1.0}\n")
        env_file = project / ".env"
        env_file.write_text(
            env_file.read_text().replace(
                f"OPENAI_API_KEY={PLACEHOLDER}", f"OPENAI_API_KEY={SECRET}"
            )
        )
        changed = cluster_diff()
        assert changed.returncode == 1, changed.stderr
        assert changed.stdout.startswith("prod: changes\n")
        assert "+        image: bwillia13x/signal-harvester:v2.1.0" in changed.stdout
        assert "-        image: bwillia13x/signal-harvester:v2.0.0" in changed.stdout
        assert "v1.Secret.signal-harvester.signal-harvester-api-keys" in changed.stdout
        never_printed(changed, SECRET, PLACEHOLDER)

        # Nothing was applied by the diff: the cluster still runs the old tag.
        live_image = live.kubectl(
            "get", "-n", "signal-harvester", "deployment/signal-harvester-api",
            "-o", "jsonpath={.spec.template.spec.containers[0].image}",
        )  # fmt: skip
        assert live_image.stdout == "bwillia13x/signal-harvester:v2.0.0"


def test_cluster_diff_with_an_unreachable_cluster_is_exit_2(project: Path, tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        '{"apiVersion": "v1", "kind": "Config", "current-context": "x",'
        ' "clusters": [{"name": "x", "cluster": {"server": "https://127.0.0.1:1"}}],'
        ' "contexts": [{"name": "x", "context": {"cluster": "x", "user": "x"}}],'
        ' "users": [{"name": "x", "user": {"token": "t"}}]}'
    )
    from tests.e2e.apiserver import Binaries

    result = diff(
        project, "--env", "prod", "--cluster",
        "--kubectl", Binaries.from_bin().kubectl, "--kubeconfig", kubeconfig,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.startswith("error: kubectl diff of prod failed"), result.stderr
    never_printed(result, PLACEHOLDER)


@pytest.mark.parametrize("env", ENVS)
def test_the_model_of_a_build_is_kustomize_build(env: str, rendered: Path) -> None:
    """diff reads the committed layout back into objects as the real kustomize builds it:
    strategic-merge and tested JSON patches, images:, replicas:, secretGenerators."""
    from harvester_manifests.diff import objects_of, read_output

    def decoded(obj: dict[str, Any]) -> dict[str, Any]:  # kustomize folds long base64 lines
        if obj["kind"] != "Secret":
            return obj
        return {**obj, "data": {k: base64.b64decode(v) for k, v in obj["data"].items()}}

    built = kustomize_build(rendered / env)
    model = objects_of(read_output(rendered), env)
    assert {k: decoded(o) for k, o in model.items()} == {
        f"{o['kind']}/{o['metadata']['name']}": decoded(o) for o in built
    }
