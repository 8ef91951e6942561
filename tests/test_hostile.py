"""Hostile and clumsy input (issue 14): never lose a file, never leak a secret, never render
what the API server refuses, and always answer in one line per problem with exit 2.

Every test runs the real CLI on a scratch copy; the numbers in the names are the issue's items.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from harvester_manifests.errors import Problem
from harvester_manifests.secrets import REDACTED, redact
from tests.conftest import ENV_EXAMPLE, OVERLAYS, ROOT, kustomize_build
from tests.test_errors import GEN, assert_input_error, harvester_gen, render_overlays, snapshot

SECRET = "replace-with-x-bearer-token"  # X_BEARER_TOKEN in .env.example


@pytest.fixture
def out(tmp_path: Path) -> Path:
    """A previous good render, which a failed render must leave byte-identical."""
    target = tmp_path / "build"
    result = harvester_gen("render", "--env", "all", "--env-file", ENV_EXAMPLE, "--out", target)
    assert result.returncode == 0, result.stderr
    return target


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A user's repository: overlays/ and a .env, rendered once into build/."""
    shutil.copytree(OVERLAYS, tmp_path / "overlays")
    shutil.copy(ENV_EXAMPLE, tmp_path / ".env")
    result = harvester_gen("render", "--env-file", ".env", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    return tmp_path


def render_in(project: Path, *args: str | Path) -> subprocess.CompletedProcess[str]:
    return harvester_gen("render", "--env-file", ".env", *args, cwd=project)


# --- 2-6: the output directory ---------------------------------------------------------------


def test_02_config_dir_inside_out_is_refused_and_kept(project: Path) -> None:
    shutil.copytree(project / "overlays", project / "build" / "overlays")
    before = snapshot(project / "build")
    result = render_in(project, "--config-dir", "build/overlays")
    assert_input_error(result, project / "build", before, "build: holds the config directory")
    assert sorted(p.name for p in (project / "build" / "overlays").iterdir()) == sorted(
        p.name for p in (project / "overlays").iterdir()
    )


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--config-dir", "build"), "holds the config directory build"),
        (("--out", "overlays/build"), "is inside the config directory overlays"),
        (("--out", "."), "holds the config directory overlays"),
        (("--env-file", "build/my.env"), "holds the env file build/my.env"),
    ],
)
def test_02_output_and_input_never_nest(
    project: Path, args: tuple[str, ...], expected: str
) -> None:
    shutil.copy(ENV_EXAMPLE, project / "build" / "my.env")
    for env in ("dev", "prod", "staging"):
        shutil.copy(project / "overlays" / f"{env}.yaml", project / "build" / f"{env}.yaml")
    before = snapshot(project)
    result = harvester_gen("render", "--env-file", ".env", *args, cwd=project)
    assert result.returncode == 2, result.stderr
    assert expected in result.stderr
    assert snapshot(project) == before


@pytest.mark.parametrize("name", ["base", "argocd", "all"])
def test_03_reserved_environment_names_are_refused(project: Path, name: str) -> None:
    shutil.copy(project / "overlays" / "prod.yaml", project / "overlays" / f"{name}.yaml")
    before = snapshot(project / "build")
    result = render_in(project)
    assert_input_error(
        result, project / "build", before, f"overlays/{name}.yaml: '{name}' cannot be an env"
    )
    kustomize_build(project / "build" / "prod")


def test_04_symlinked_out_renders_into_its_target(project: Path) -> None:
    (project / "real").mkdir()
    (project / "link").symlink_to("real")
    result = render_in(project, "--out", "link")
    assert result.returncode == 0, result.stderr
    assert (project / "link").is_symlink() and os.readlink(project / "link") == "real"
    assert snapshot(project / "real") == snapshot(project / "build")
    assert not [p for p in project.iterdir() if ".rendering-" in p.name]
    # And again, over the existing render behind the link.
    (project / "overlays" / "dev.yaml").write_text("api:\n  logLevel: WARNING\n")
    assert render_in(project, "--out", "link").returncode == 0
    assert (project / "link").is_symlink()
    assert any("WARNING" in text.decode() for text in snapshot(project / "real" / "dev").values())


def test_05_render_all_keeps_user_files_and_drops_removed_environments(project: Path) -> None:
    build = project / "build"
    (build / "README.md").write_text("how we deploy\n")
    (build / "notes").mkdir()
    (build / "notes" / "kustomization.yaml").write_text("resources: [../prod]\n")
    shutil.copy(project / "overlays" / "dev.yaml", project / "overlays" / "qa.yaml")
    assert render_in(project).returncode == 0
    assert (build / "qa" / "kustomization.yaml").exists()
    (project / "overlays" / "qa.yaml").unlink()
    result = render_in(project, "--env", "all")
    assert result.returncode == 0, result.stderr
    assert not (build / "qa").exists(), "an environment whose overlay is gone is dropped"
    assert (build / "README.md").read_text() == "how we deploy\n"
    assert (build / "notes" / "kustomization.yaml").read_text() == "resources: [../prod]\n"
    environments = [p.stem for p in (project / "overlays").glob("*.yaml")]
    assert sorted(p.name for p in build.iterdir()) == sorted(
        [".gitignore", "README.md", "base", "notes", *environments]
    )


def test_06_building_the_wheel_leaves_build_alone(tmp_path: Path) -> None:
    """`pip install .` / `pip wheel .` must not write setuptools' build/lib into build/."""
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.split(b"\0")
    copy = tmp_path / "repo"
    for name in filter(None, listed):
        source = ROOT / os.fsdecode(name)
        if source.is_file():
            (copy / os.fsdecode(name)).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, copy / os.fsdecode(name))
    before = snapshot(copy / "build")
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "wheel", "--quiet"]
    result = subprocess.run(
        [*pip, "--no-deps", "--no-build-isolation", "-w", tmp_path / "wheels", "."],
        cwd=copy,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert list((tmp_path / "wheels").glob("harvester_manifests-*.whl"))
    assert snapshot(copy / "build") == before
    assert not (copy / "build" / "lib").exists()


# --- 7-8: secrets ----------------------------------------------------------------------------


def test_07_secret_wrapped_across_lines_is_refused(
    out: Path, write_overlay: Callable[[str, str], Path]
) -> None:
    config_dir = write_overlay(
        "qa", 'api:\n  settings:\n    token: "replace-with-x-\\\n      bearer-token"\n'
    )
    before = snapshot(out)
    result = render_overlays(config_dir, "qa", out)
    lines = assert_input_error(
        result, out, before, "qa.yaml: api.settings.token: holds the secret value of X_BEARER"
    )
    assert not any(SECRET in line for line in lines)


@pytest.mark.parametrize(
    "text",
    [
        "api:\n  settings:\n    token: !!binary cmVwbGFjZS13aXRoLXgtYmVhcmVyLXRva2Vu\n",
        'api:\n  settings:\n    token: "replace-with-x-\\x62earer-token"\n',
        "api:\n  settings:\n    replace-with-x-bearer-token: 1\n",
        "api:\n  settings:\n    list: [a, 'replace-with-x-bearer-token-and-more']\n",
    ],
)
def test_07_secret_in_any_parsed_string_is_refused(
    text: str, out: Path, write_overlay: Callable[[str, str], Path]
) -> None:
    config_dir = write_overlay("qa", text)
    before = snapshot(out)
    lines = assert_input_error(
        render_overlays(config_dir, "qa", out), out, before, "secret value of X_BEARER_TOKEN"
    )
    assert not any(SECRET in line for line in lines)


@pytest.mark.parametrize(
    "text",
    [
        "domain: replace-with-x-bearer-token\n",
        "namespace: Replace-With-X-BEARER-TOKEN-replace-with-x-bearer-token\n",
        "api:\n  image:\n    tag: 'replace-with-x-bearer-token:'\n",
        "api:\n  replace-with-x-bearer-token: 1\n",
        "grafana:\n  ingress:\n    host: replace-with-x-bearer-token\n",
    ],
)
def test_08_secret_in_an_invalid_field_is_never_echoed(
    text: str, out: Path, write_overlay: Callable[[str, str], Path]
) -> None:
    config_dir = write_overlay("qa", text)
    before = snapshot(out)
    lines = assert_input_error(render_overlays(config_dir, "qa", out), out, before, "qa.yaml")
    assert not any(SECRET in line for line in lines), lines


def test_08_every_environment_is_checked_and_nothing_echoed(
    out: Path, write_overlay: Callable[[str, str], Path]
) -> None:
    config_dir = write_overlay("qa", "api:\n  port: replace-with-x-bearer-token\n")
    write_overlay("dev", "domain: -x-\n")
    before = snapshot(out)
    lines = assert_input_error(
        render_overlays(config_dir, "all", out),
        out,
        before,
        "dev.yaml: domain",
        "qa.yaml: api.port",
    )
    assert not any(SECRET in line for line in lines), lines


def test_08_not_echoed_even_when_the_env_file_has_a_bad_line(
    out: Path, tmp_path: Path, write_overlay: Callable[[str, str], Path]
) -> None:
    env_file = tmp_path / "bad.env"
    env_file.write_text(ENV_EXAMPLE.read_text() + "not a setting\n")
    config_dir = write_overlay("qa", "domain: replace-with-x-bearer-token\n")
    before = snapshot(out)
    lines = assert_input_error(
        render_overlays(config_dir, "qa", out, env_file), out, before, "qa.yaml: domain: holds"
    )
    assert not any(SECRET in line for line in lines), lines


def test_07_a_secret_of_another_environments_env_file_is_refused_too(tmp_path: Path) -> None:
    shutil.copytree(OVERLAYS, tmp_path / "overlays")
    shutil.copy(ENV_EXAMPLE, tmp_path / ".env")
    (tmp_path / ".env.prod").write_text(
        ENV_EXAMPLE.read_text().replace("replace-with-openai-api-key", "sk-prod-only-0123")
    )
    (tmp_path / "overlays" / "dev.yaml").write_text("api:\n  settings: {key: sk-prod-only-0123}\n")
    result = harvester_gen("render", cwd=tmp_path)
    assert result.returncode == 2
    assert "dev.yaml: api.settings.key: holds the secret value of OPENAI_API_KEY" in result.stderr
    assert "sk-prod-only-0123" not in result.stderr
    assert not (tmp_path / "build").exists()


def test_08_redaction_masks_every_spelling_of_a_secret() -> None:
    """The last line of defence: whatever a message quotes, a secret is masked."""
    secret = "pa'ss\\word\n42"
    problems = [
        Problem("x.yaml", f"a.{secret}", f"{secret!r} is not valid"),
        Problem("x.yaml", "b", f"got {json.dumps(secret)}"),
    ]
    masked = redact(problems, [secret])
    assert all(REDACTED in str(p) for p in masked)
    assert not any(secret in str(p) or repr(secret)[1:-1] in str(p) for p in masked)


# --- 10-16: what the API server would refuse ---------------------------------------------------

REFUSED = {
    "10 int32 probe period": (
        "api:\n  probes:\n    startup:\n      periodSeconds: 99999999999\n",
        "api.probes.startup.periodSeconds: Input should be less than or equal to 2147483647",
    ),
    "10 int32 replicas": (
        "api:\n  autoscaling:\n    enabled: false\n  replicas: 2147483648\n",
        "api.replicas: Input should be less than or equal to 2147483647",
    ),
    "10 int32 scaling policy": (
        "api:\n  autoscaling:\n    scaleUp:\n      stabilizationWindowSeconds: 0\n"
        "      policies: [{type: Pods, value: 4294967297}]\n",
        "api.autoscaling.scaleUp.policies.0.value: Input should be less than or equal to",
    ),
    "11 cidr out of range": (
        "api:\n  httpsEgressCidr: 999.999.999.999/99\n",
        "api.httpsEgressCidr: '999.999.999.999/99' is not a network address range",
    ),
    "11 cidr prefix too long": (
        "api:\n  httpsEgressCidr: 10.0.0.0/40\n",
        "api.httpsEgressCidr: '10.0.0.0/40' is not a network address range",
    ),
    "11 cidr without prefix": (
        "api:\n  httpsEgressCidr: 10.0.0.0\n",
        "api.httpsEgressCidr: '10.0.0.0' is not a network address range",
    ),
    "11 cidr host bits": (
        "api:\n  httpsEgressCidr: 10.0.0.1/8\n",
        "write it as 10.0.0.0/8",
    ),
    "12 quantity with a trailing newline": (
        'api:\n  resources:\n    requests:\n      memory: "512Mi\\n"\n',
        "api.resources.requests.memory: '512Mi\\n' is not a Kubernetes quantity",
    ),
    "13 derived host over 253": (
        "domain: " + ".".join(["a" * 60] * 4) + ".com\n",
        "the prometheus host prometheus.<domain> would be 258 characters",
    ),
    "14 settings over 1 MiB": (
        "api:\n  settings:\n    blob: " + "x" * (2**20 + 10) + "\n",
        "api.settings: ConfigMap signal-harvester-api-settings would hold",
    ),
    "15 kube-system": (
        "namespace: kube-system\n",
        "namespace: 'kube-system' is a Kubernetes system",
    ),
    "15 default": ("namespace: default\n", "namespace: 'default' is a Kubernetes system"),
    "15 kube-node-lease": ("namespace: kube-node-lease\n", "'kube-node-lease' is a Kubernetes"),
    "15 kube-public": ("namespace: kube-public\n", "'kube-public' is a Kubernetes system"),
    "16 bool as replicas": (
        "api:\n  autoscaling:\n    minReplicas: true\n",
        "api.autoscaling.minReplicas: Input should be a valid integer",
    ),
    "16 bool as port": ("api:\n  port: true\n", "api.port: Input should be a valid integer"),
    "16 bool as threshold": (
        "alerts:\n  api:\n    latencyP95Seconds: true\n",
        "alerts.api.latencyP95Seconds: Input should be a valid number",
    ),
    "16 number as bool": ("api:\n  ingress:\n    enabled: 1\n", "Input should be a valid boolean"),
    "infinite threshold": (
        "alerts:\n  api:\n    latencyP95Seconds: .inf\n",
        "latencyP95Seconds: Input should be a finite number",
    ),
    "duration beyond int64": (
        "prometheus:\n  retention: 99999999999999999d\n",
        "prometheus.retention: '99999999999999999d' is longer than Prometheus can count",
    ),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_10_to_16_refused_before_the_api_server_would(
    case: str, out: Path, write_overlay: Callable[[str, str], Path]
) -> None:
    text, expected = REFUSED[case]
    config_dir = write_overlay("qa", text)
    before = snapshot(out)
    lines = assert_input_error(render_overlays(config_dir, "qa", out), out, before, expected)
    assert len(lines) == 1, lines


# --- 17-21: messages ---------------------------------------------------------------------------

MESSAGES = {
    "17 sequence as key": ("? [a, b]\n: 1\n", "line 1, column 3: invalid YAML: a key must be"),
    "17 mapping as key": ("? {a: b}\n: 1\n", "invalid YAML: a key must be a plain value"),
    "17 nesting 3000 deep": (
        "x: " + "[" * 3000 + "]" * 3000 + "\n",
        "invalid YAML: nested more than 64 levels deep",
    ),
    "17 nesting of mappings": (
        "".join("  " * i + f"k{i}:\n" for i in range(500)),
        "invalid YAML: nested more than 64 levels deep",
    ),
    "19 control character": ("api:\n  logLevel: a\x07b\n", "line 2, column 14: invalid YAML"),
    "19 control character quoted": ('domain: "a\x1bb"\n', "line 1, column 11: invalid YAML"),
    "recursive alias": ("api:\n  settings: &x\n    a: [*x]\n", "invalid YAML: an alias"),
    "alias bomb": (
        "api:\n  settings:\n    l0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
        + "".join(f"    l{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]\n" for i in range(1, 9)),
        "holds more than 100000 values once its aliases are expanded",
    ),
    "recursive alias in a list": ("a: &l [1, *l]\n", "invalid YAML: an alias"),
}


@pytest.mark.parametrize("case", sorted(MESSAGES))
def test_17_19_one_line_for_malformed_yaml(
    case: str, out: Path, write_overlay: Callable[[str, str], Path]
) -> None:
    text, expected = MESSAGES[case]
    config_dir = write_overlay("qa", text)
    before = snapshot(out)
    lines = assert_input_error(render_overlays(config_dir, "qa", out), out, before, expected)
    assert len(lines) == 1, lines


def test_18_yaml_merge_keys_work(out: Path, write_overlay: Callable[[str, str], Path]) -> None:
    config_dir = write_overlay(
        "qa",
        "api:\n  probes:\n    startup: &probe {periodSeconds: 7, failureThreshold: 9}\n"
        "    readiness:\n      <<: *probe\n      failureThreshold: 4\n"
        "    liveness:\n      <<: [*probe]\n",
    )
    result = render_overlays(config_dir, "qa", out)
    assert result.returncode == 0, result.stderr
    built = {o["kind"] + "/" + o["metadata"]["name"]: o for o in kustomize_build(out / "qa")}
    probes = built["Deployment/signal-harvester-api"]["spec"]["template"]["spec"]["containers"][0]
    assert probes["readinessProbe"]["periodSeconds"] == 7
    assert probes["readinessProbe"]["failureThreshold"] == 4
    assert probes["livenessProbe"]["failureThreshold"] == 9


def test_18_duplicate_keys_are_still_refused_beside_a_merge(
    out: Path, write_overlay: Callable[[str, str], Path]
) -> None:
    config_dir = write_overlay("qa", "api:\n  <<: {port: 1}\n  port: 2\n  port: 3\n")
    before = snapshot(out)
    assert_input_error(render_overlays(config_dir, "qa", out), out, before, "duplicate key 'port'")


def test_20_config_dir_name_too_long(out: Path) -> None:
    before = snapshot(out)
    result = harvester_gen(
        "render", "--config-dir", "x" * 300, "--env-file", ENV_EXAMPLE, "--out", out
    )
    lines = assert_input_error(result, out, before, "too long for the filesystem")
    assert "Errno" not in result.stderr and len(lines) == 1


def test_20_out_name_too_long(tmp_path: Path) -> None:
    result = harvester_gen("render", "--env-file", ENV_EXAMPLE, "--out", tmp_path / ("y" * 300))
    assert result.returncode == 2, result.stderr
    assert (
        result.stderr
        == f"error: {tmp_path / ('y' * 300)}: a name in the path is too long for the filesystem\n"
    )


def _file_size_limit(limit: int) -> Callable[[], None]:
    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of a kill
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def test_21_file_too_large_names_out_and_keeps_it(out: Path, tmp_path: Path) -> None:
    config_dir = tmp_path / "overlays"
    shutil.copytree(OVERLAYS, config_dir)
    (config_dir / "dev.yaml").write_text("api:\n  settings:\n    blob: " + "x" * 4000 + "\n")
    before = snapshot(out)
    result = subprocess.run(
        [GEN, "render", "--config-dir", config_dir, "--env-file", ENV_EXAMPLE, "--out", out],
        capture_output=True,
        text=True,
        check=False,
        preexec_fn=_file_size_limit(2000),
    )
    assert result.returncode == 1, result.stderr
    assert result.stderr == (
        f"error: {out}: cannot write the output: file too large (the filesystem's or the "
        "process's file size limit); it was left as it was\n"
    )
    assert snapshot(out) == before
    assert not [p for p in tmp_path.iterdir() if ".rendering-" in p.name]


def test_21_unwritable_output_names_out_not_the_staging_dir() -> None:
    result = harvester_gen("render", "--env-file", ENV_EXAMPLE, "--out", "/sys/harvester-out")
    assert result.returncode == 2, result.stderr
    assert (
        result.stderr == "error: /sys/harvester-out: operation not permitted: cannot write there\n"
    )


def test_21_env_file_errors_are_printed_once(out: Path, tmp_path: Path) -> None:
    env_file = tmp_path / "bad.env"
    env_file.write_text(ENV_EXAMPLE.read_text() + "not a setting\n")
    config = tmp_path / "overlays"
    config.mkdir()
    for env in ("dev", "qa", "prod"):  # three environments read the same .env
        (config / f"{env}.yaml").write_text("secrets: {mode: env-file}\n")
    before = snapshot(out)
    result = harvester_gen(
        "render", "--env", "all", "--config-dir", config, "--env-file", env_file, "--out", out
    )
    lines = assert_input_error(result, out, before, "bad.env: line")
    assert len(lines) == 1, lines


# --- beyond the list -----------------------------------------------------------------------


def test_out_that_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "build").write_text("not a directory\n")
    result = harvester_gen("render", "--env-file", ENV_EXAMPLE, "--out", tmp_path / "build")
    assert result.returncode == 2
    assert result.stderr == f"error: {tmp_path / 'build'}: exists and is not a directory\n"
    assert (tmp_path / "build").read_text() == "not a directory\n"


def test_out_below_a_file(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    result = harvester_gen("render", "--env-file", ENV_EXAMPLE, "--out", tmp_path / "file" / "b")
    assert result.returncode == 2
    assert result.stderr == (
        f"error: {tmp_path / 'file' / 'b'}: a parent in the path is not a directory\n"
    )


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda p: p.mkdir(), "is a directory, not a file"),
        (lambda p: os.mkfifo(p), "is not a regular file"),
        (lambda p: p.symlink_to("/dev/zero"), "is not a regular file"),
    ],
)
def test_env_file_that_is_not_a_file(
    make: Callable[[Path], None], expected: str, out: Path, tmp_path: Path
) -> None:
    env_file, config = tmp_path / "odd.env", tmp_path / "overlays"
    make(env_file)
    config.mkdir()
    (config / "local.yaml").write_text("secrets: {mode: env-file}\n")  # reads the .env
    before = snapshot(out)
    result = harvester_gen(
        "render", "--env", "local", "--config-dir", config, "--env-file", env_file, "--out", out
    )
    lines = assert_input_error(result, out, before, f"odd.env: {expected}")
    assert len(lines) == 1


def test_overlay_that_is_a_fifo(out: Path, tmp_path: Path) -> None:
    config_dir = tmp_path / "overlays"
    config_dir.mkdir()
    os.mkfifo(config_dir / "qa.yaml")
    before = snapshot(out)
    result = render_overlays(config_dir, "qa", out)  # must not block on the FIFO
    assert_input_error(result, out, before, "qa.yaml: is not a regular file")


def test_config_dir_that_is_a_file(out: Path, tmp_path: Path) -> None:
    (tmp_path / "overlays").write_text("")
    before = snapshot(out)
    result = render_overlays(tmp_path / "overlays", "all", out)
    assert_input_error(result, out, before, "overlays: config directory is not a directory")


@pytest.mark.parametrize(
    "text",
    [
        "api:\n  settings:\n    label: " + "é" * 100_000 + "\n",
        "api:\n  image:\n    tag: " + "v" * 10_000 + "\n",
        "namespace: " + "a" * 10_000 + "\n",
        "api:\n  settings:\n    " + "k" * 5000 + ": v\n",
        'api:\n  "unknown\\u2028key": 1\n',
        '"\\n\\nerror: forged": 1\n',
    ],
)
def test_huge_or_odd_strings_give_one_line_or_render(
    text: str, out: Path, write_overlay: Callable[[str, str], Path]
) -> None:
    config_dir = write_overlay("qa", text)
    before = snapshot(out)
    result = render_overlays(config_dir, "qa", out)
    assert "Traceback" not in result.stderr
    if result.returncode == 0:
        kustomize_build(out / "qa")
        return
    lines = assert_input_error(result, out, before, "qa.yaml")
    assert len(lines) == 1, lines
    assert len(lines[0]) < 20_000


def test_a_render_waits_for_the_lock_and_a_dead_holder_releases_it(out: Path) -> None:
    """The lock is an flock: the kernel drops it with its process, nothing to clean up."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, os, sys, time\n"
            "fd = os.open(sys.argv[1], os.O_RDONLY)\n"
            "fcntl.flock(fd, fcntl.LOCK_EX)\n"
            "print('locked', flush=True)\n"
            "time.sleep(60)\n",
            str(out.parent),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
    waiting = subprocess.Popen(
        [GEN, "render", "--env-file", ENV_EXAMPLE, "--out", out],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    holder.kill()
    holder.wait()
    _, stderr = waiting.communicate(timeout=60)
    assert waiting.returncode == 0, stderr
