"""`harvester-gen diff`: what a render would change, object by object; secret values never shown.

Each test works in a scratch project (a copy of overlays/, a .env, a render in build/), changes
one thing, and reads the report a reviewer would. Both sides are built by the pinned kustomize
(bin/kustomize, given with --kustomize). `--cluster` is proven against a real kube-apiserver
(tests/e2e/apiserver.py).
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ENV_EXAMPLE, OVERLAYS, kustomize_build, tool
from tests.e2e.apiserver import Cluster, cluster
from tests.e2e.conftest import install_crds
from tests.test_errors import GEN, harvester_gen, snapshot

SECRET = "sk-test-never-print-this-value-0123456789"
PLACEHOLDER = "replace-with-openai-api-key"  # OPENAI_API_KEY in .env.example


ENV_FILE_ENVS = ("prod", "staging")  # delivered from the .env here: real Secrets to compare
_SECRETS_BLOCK = re.compile(r"^secrets:\n(?:[ ]+.*\n)*", re.MULTILINE)


def deliver_from_env_file(overlay: Path) -> None:
    """Rewrite the overlay's `secrets:` block to mode env-file (the committed environments use
    external-secrets): render then writes the gitignored `<env>/secrets/` layer with the Secrets
    from the .env, the directory `kubectl apply -k` takes."""
    text, count = _SECRETS_BLOCK.subn("secrets:\n  mode: env-file\n", overlay.read_text())
    assert count == 1, f"{overlay}: expected one secrets: block"
    overlay.write_text(text)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A scratch project rendered as it stands: a diff of it shows nothing. prod and staging
    deliver their Secrets from the .env (mode env-file); dev keeps the committed
    external-secrets (ExternalSecrets, no value anywhere)."""
    root = tmp_path / "project"
    shutil.copytree(OVERLAYS, root / "overlays")
    for env in ENV_FILE_ENVS:
        deliver_from_env_file(root / "overlays" / f"{env}.yaml")
    shutil.copyfile(ENV_EXAMPLE, root / ".env")
    result = harvester_gen("render", "--env", "all", cwd=root)
    assert result.returncode == 0, result.stderr
    return root


def diff(project: Path, *args: str | Path) -> subprocess.CompletedProcess[str]:
    """`harvester-gen diff ARGS` with the pinned kustomize."""
    return diff_with(project, "--kustomize", tool("kustomize"), *args)


def diff_with(
    project: Path, *args: str | Path, path: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = None if path is None else {**os.environ, "PATH": path}
    result = subprocess.run(
        [str(GEN), "diff", *map(str, args)],
        cwd=project, capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
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
    deployment = [
        "  ~ Deployment/signal-harvester-api",
        f"      ~ metadata.labels{version}",
        f"      ~ spec.template.metadata.labels{version}",
        "      ~ spec.template.spec.containers[signal-harvester-api].image: "
        '"bwillia13x/signal-harvester:v2.0.0" -> "bwillia13x/signal-harvester:v2.1.0"',
    ]
    # The committed overlay and the env-file layer (`kubectl apply -k prod/secrets`, a whole
    # overlay of its own over the base) both change; no Secret does.
    assert result.stdout.splitlines() == [
        "prod:",
        *deployment,
        "prod/secrets:",
        *deployment,
        "files: 1 added, 0 removed, 3 changed",
        "  ~ prod/kustomization.yaml",  # the images: entry
        "  + prod/patches/deployment-signal-harvester-api.yaml",  # the version label
        "  ~ prod/secrets/kustomization.yaml",
        "  ~ prod/secrets/patches/deployment-signal-harvester-api.yaml",
    ]
    assert diff(project, "--env", "staging").returncode == 0, "other environments unchanged"


def test_added_environment(project: Path) -> None:
    shutil.copyfile(project / "overlays" / "staging.yaml", project / "overlays" / "qa.yaml")
    for env in ("all", "qa"):
        result = diff(project, "--env", env)
        assert result.returncode == 1, result.stderr
        lines = result.stdout.splitlines()
        # The committed overlay holds no Secret; its env-file layer holds all of it, Secrets too.
        assert lines[0] == "qa: environment added (37 objects)"
        assert "  + Deployment/signal-harvester-api" in lines
        layer = lines.index("qa/secrets: environment added (41 objects)")
        assert "  + Secret/signal-harvester-api-keys" not in lines[:layer]
        assert "  + Secret/signal-harvester-api-keys" in lines[layer:]
        assert "  + qa/kustomization.yaml" in lines
        assert "  + qa/secrets/kustomization.yaml" in lines
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


def object_block(lines: list[str], header: str) -> list[str]:
    """The lines under one object of the report, up to the next object or section."""
    start = lines.index(header) + 1
    end = next(
        (i for i in range(start, len(lines)) if not lines[i].startswith("      ")), len(lines)
    )
    return lines[start:end]


def test_changed_threshold_shows_only_the_changed_rules_file(project: Path) -> None:
    append(project / "overlays" / "prod.yaml", "alerts:\n  api:\n    latencyP95Seconds: 0.1\n")
    result = diff(project, "--env", "prod")
    assert result.returncode == 1, result.stderr
    block = object_block(result.stdout.splitlines(), "  ~ ConfigMap/prometheus-config")
    # One key of the ConfigMap changed (the API's rules file), shown by its changed lines only.
    assert [line for line in block if line.startswith("      ~ ")] == [
        '      ~ data["signal-harvester-api.rules.yaml"]:'
    ]
    assert "          -      ) > 0.05" in block
    assert "          +      ) > 0.1" in block
    assert "          +      summary: API p95 latency above 100ms" in block
    assert len(block) < 20, "the unchanged lines of the rules file are not repeated"


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
    # Only the env-file layer holds Secrets: the committed overlay is unchanged.
    assert lines[0] == "prod/secrets:"
    secret = lines.index("  ~ Secret/signal-harvester-api-keys")
    assert lines[secret + 1] == "      ~ data.OPENAI_API_KEY: (secret value) changed"
    assert "  ~ prod/secrets/signal-harvester-api-keys.env" in lines
    # The pods that read it roll: their checksum annotation changes (a digest, not the value).
    assert any("harvester-gen/secrets-checksum" in line for line in lines)
    never_printed(result, SECRET, PLACEHOLDER)


def test_changed_external_secret_field_is_shown(project: Path) -> None:
    """dev delivers through ExternalSecrets: a changed store shows field by field, like any
    object; the .env plays no part (its values are neither compared nor printed)."""
    dev = project / "overlays" / "dev.yaml"
    dev.write_text(dev.read_text().replace("name: platform-secrets", "name: vault-backend"))
    env = project / ".env"
    env.write_text(
        env.read_text().replace(f"OPENAI_API_KEY={PLACEHOLDER}", f"OPENAI_API_KEY={SECRET}")
    )
    result = diff(project, "--env", "dev")
    assert result.returncode == 1, result.stderr
    store = '      ~ spec.secretStoreRef.name: "platform-secrets" -> "vault-backend"'
    assert result.stdout.splitlines() == [
        "dev:",
        "  ~ ExternalSecret/alertmanager-slack-urls",
        store,
        "  ~ ExternalSecret/grafana-admin",
        store,
        "  ~ ExternalSecret/signal-harvester-api-keys",
        store,
        "files: 0 added, 0 removed, 3 changed",
        "  ~ dev/resources/externalsecret-alertmanager-slack-urls.yaml",
        "  ~ dev/resources/externalsecret-grafana-admin.yaml",
        "  ~ dev/resources/externalsecret-signal-harvester-api-keys.yaml",
    ]
    never_printed(result, SECRET, PLACEHOLDER)


def test_unrendered_secrets_are_added_not_printed(project: Path) -> None:
    """A fresh clone has no build/*/secrets/ (gitignored): render would add the layer."""
    shutil.rmtree(project / "build" / "prod" / "secrets")
    result = diff(project, "--env", "prod")
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines[0] == "prod/secrets: environment added (41 objects)"
    assert "  + Secret/signal-harvester-api-keys" in lines
    assert "  + prod/secrets/signal-harvester-api-keys.env" in lines
    never_printed(result, PLACEHOLDER)


def test_missing_secret_values_are_built_as_empty_not_printed(project: Path) -> None:
    """The layer without its (gitignored) .env files: built with empty ones, and named."""
    for values in (project / "build" / "prod" / "secrets").glob("*.env"):
        values.unlink()
    result = diff(project, "--env", "prod")
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines[:2] == [
        "prod/secrets:",
        "  ! not on disk, built as empty (a fresh clone has no gitignored secret values;"
        " a render writes them):",
    ]
    assert "      prod/secrets/signal-harvester-api-keys.env" in lines
    assert "      ~ data.OPENAI_API_KEY: (secret value) added" in lines
    never_printed(result, PLACEHOLDER)


def only_on_path(directory: Path, name: str) -> str:
    """A PATH holding only `name`: the pinned kustomize, or the pinned kubectl as `kubectl`."""
    directory.mkdir()
    (directory / name).symlink_to(tool("kustomize" if name == "kustomize" else "e2e-kubectl"))
    return str(directory)


@pytest.mark.parametrize("name", ["kustomize", "kubectl"])
def test_hand_edited_output_is_reported_not_a_traceback(
    project: Path, tmp_path: Path, name: str
) -> None:
    (project / "build" / "prod" / "kustomization.yaml").write_text("resources: [: broken\n")
    result = diff_with(project, "--env", "prod", path=only_on_path(tmp_path / "path", name))
    assert result.returncode == 1
    # One line, the same from either tool (kubectl logs it klog-style, kustomize prints it).
    assert result.stdout.splitlines() == [
        "prod: the output on disk does not build: "
        "invalid Kustomization: yaml: did not find expected node content",
        "files: 0 added, 0 removed, 1 changed",
        "  ~ prod/kustomization.yaml",
    ]


def test_objects_are_told_apart_by_namespace(project: Path) -> None:
    """An object of the same kind and name in another namespace is another object."""
    prod = project / "build" / "prod"
    config = project / "build" / "base" / "prometheus" / "configmap-prometheus-config.yaml"
    (prod / "other.yaml").write_text(
        config.read_text().replace("namespace: signal-harvester", "namespace: other")
    )
    kustomization = prod / "kustomization.yaml"
    kustomization.write_text(
        kustomization.read_text().replace("- ../base\n", "- ../base\n- other.yaml\n")
    )
    result = diff(project, "--env", "prod")
    assert result.returncode == 1, result.stderr
    assert result.stdout.splitlines()[:2] == [
        "prod:",
        "  - ConfigMap/prometheus-config in other",
    ]


def test_an_unreadable_secret_file_is_named_never_quoted(project: Path) -> None:
    """kustomize quotes a line it cannot read (invalid UTF-8): diff withholds the quote."""
    secrets = project / "build" / "prod" / "secrets" / "signal-harvester-api-keys.env"
    secrets.write_bytes(secrets.read_bytes() + f"BROKEN=\xff{SECRET}\n".encode("latin-1"))
    result = diff(project, "--env", "prod")
    assert result.returncode == 1, result.stderr
    assert result.stdout.splitlines()[0] == (
        "prod/secrets: the output on disk does not build: loading KV pairs: env source files: "
        "[signal-harvester-api-keys.env]: unreadable (kustomize's detail withheld: "
        "it quotes the file)"
    )
    never_printed(result, SECRET, PLACEHOLDER)


def test_nothing_rendered_yet_is_all_added(project: Path) -> None:
    shutil.rmtree(project / "build")
    result = diff(project, "--env", "prod")
    assert result.returncode == 1
    assert result.stdout.startswith("prod: environment added (37 objects)\n")
    assert "\nprod/secrets: environment added (41 objects)\n" in result.stdout


def test_an_output_that_is_not_a_render_is_bad_input(project: Path) -> None:
    (project / "elsewhere").mkdir()
    (project / "elsewhere" / "notes.txt").write_text("mine\n")
    result = diff(project, "--env", "prod", "--out", "elsewhere")
    assert (result.returncode, result.stderr) == (
        2,
        "error: elsewhere: exists and is not a harvester-gen output\n",
    )


def test_whatever_kustomize_builds_is_compared(project: Path) -> None:
    """A kustomization edited by hand with a field render never writes: kustomize builds it, so
    diff sees what kubectl apply -k would apply, and what a render would take back."""
    append(project / "build" / "prod" / "kustomization.yaml", "commonAnnotations: {team: infra}\n")
    result = diff(project, "--env", "prod")
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    block = object_block(lines, "  ~ Deployment/signal-harvester-api")
    assert '      - metadata.annotations: {"team": "infra"}' in block
    assert '      - spec.template.metadata.annotations.team: "infra"' in block
    assert "  ~ prod/kustomization.yaml" in lines


def test_a_layer_inside_an_environment_is_built_too(project: Path) -> None:
    """Each directory one can `kubectl apply -k` is compared (a secrets/ layer of an
    environment), but not a Component, which only exists to be included."""
    layer = project / "build" / "prod" / "extra"
    layer.mkdir()
    (layer / "kustomization.yaml").write_text("resources: [../../base]\n")
    component = project / "build" / "prod" / "bits"
    component.mkdir()
    (component / "kustomization.yaml").write_text(
        "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\n"
    )
    result = diff(project, "--env", "prod")
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("prod/extra: environment removed (")
    assert "  - Deployment/signal-harvester-api" in lines
    assert not any(line.startswith("prod/bits") for line in lines)
    assert "  - prod/bits/kustomization.yaml" in lines


@pytest.mark.parametrize("name", ["kustomize", "kubectl"])
def test_default_kustomize_is_found_on_path(project: Path, tmp_path: Path, name: str) -> None:
    """Without --kustomize: kustomize on PATH, else `kubectl kustomize` (here the pinned ones)."""
    result = diff_with(project, "--env", "prod", path=only_on_path(tmp_path / "path", name))
    assert (result.returncode, result.stdout) == (
        0,
        "no changes: build is what a render of prod writes\n",
    ), result.stderr


def test_missing_kustomize_is_one_line_exit_2(project: Path, tmp_path: Path) -> None:
    before = snapshot(project)
    named = diff_with(project, "--env", "prod", "--kustomize", tmp_path / "nowhere" / "kustomize")
    assert (named.returncode, named.stdout, named.stderr) == (
        2,
        "",
        f"error: --kustomize {tmp_path}/nowhere/kustomize: no such executable\n",
    )
    empty = tmp_path / "empty"
    empty.mkdir()
    default = diff_with(project, "--env", "prod", path=str(empty))
    assert (default.returncode, default.stdout, default.stderr) == (
        2,
        "",
        "error: neither kustomize nor kubectl is on PATH: install one, or give --kustomize PATH\n",
    )
    assert snapshot(project) == before


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


def cluster_diff(project: Path, live: Cluster, env: str) -> subprocess.CompletedProcess[str]:
    """`harvester-gen diff --cluster` of one environment against the live cluster."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("KUBE")}
    environ["HOME"] = str(live.workdir)  # kubectl's cache, never the caller's
    result = subprocess.run(
        [str(GEN), "diff", "--env", env, "--cluster",
         "--kubectl", str(live.binaries.kubectl), "--kubeconfig", str(live.kubeconfig)],
        cwd=project, capture_output=True, text=True, env=environ, check=False,
    )  # fmt: skip
    assert "Traceback" not in result.stderr
    return result


def test_cluster_diff_against_a_real_api_server(project: Path, tmp_path: Path) -> None:
    """Apply prod to a real kube-apiserver as its secrets mode (env-file) says, with its
    Secrets (`kubectl apply -k build/prod/secrets`), then ask the cluster what a changed
    render changes: a changed secret value, then a changed tag."""
    with cluster(tmp_path / "e2e") as live:
        layer = project / "build" / "prod" / "secrets"
        applied = live.kubectl("apply", "--server-side", "-k", str(layer))
        assert applied.returncode == 0, applied.stderr

        same = cluster_diff(project, live, "prod")
        assert (same.returncode, same.stdout) == (0, "prod: no changes\n"), same.stderr

        env_file = project / ".env"
        env_file.write_text(
            env_file.read_text().replace(
                f"OPENAI_API_KEY={PLACEHOLDER}", f"OPENAI_API_KEY={SECRET}"
            )
        )
        secret = cluster_diff(project, live, "prod")
        assert secret.returncode == 1, secret.stderr
        assert secret.stdout.startswith("prod: changes\n")
        # Only the layer holds the Secret, and the checksum annotation that rolls its pods.
        assert "v1.Secret.signal-harvester.signal-harvester-api-keys" in secret.stdout
        assert "harvester-gen/secrets-checksum" in secret.stdout
        assert "image: bwillia13x/signal-harvester:v2.1.0" not in secret.stdout
        never_printed(secret, SECRET, PLACEHOLDER)

        append(project / "overlays" / "prod.yaml", "api:\n  image: {tag: v2.1.0}\n")
        changed = cluster_diff(project, live, "prod")
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


def test_cluster_diff_of_an_external_secrets_environment(project: Path, tmp_path: Path) -> None:
    """dev delivers through ExternalSecrets: with the CRD installed, the cluster diffs them like
    any object (a changed store shows), and no value is involved."""
    dev = project / "build" / "dev"
    with cluster(tmp_path / "e2e") as live:
        assert install_crds(live, kustomize_build(dev)) == ["externalsecrets.external-secrets.io"]
        applied = live.kubectl("apply", "--server-side", "-k", str(dev))
        assert applied.returncode == 0, applied.stderr

        same = cluster_diff(project, live, "dev")
        assert (same.returncode, same.stdout) == (0, "dev: no changes\n"), same.stderr

        overlay = project / "overlays" / "dev.yaml"
        overlay.write_text(
            overlay.read_text().replace("name: platform-secrets", "name: vault-backend")
        )
        changed = cluster_diff(project, live, "dev")
        assert changed.returncode == 1, changed.stderr
        assert changed.stdout.startswith("dev: changes\n")
        for name in ("alertmanager-slack-urls", "grafana-admin", "signal-harvester-api-keys"):
            assert f"ExternalSecret.signal-harvester.{name}" in changed.stdout
        assert "-    name: platform-secrets" in changed.stdout
        assert "+    name: vault-backend" in changed.stdout
        assert "v1.Secret." not in changed.stdout
        never_printed(changed, PLACEHOLDER)


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
