"""The secrets modes with the real tools: kubeseal seals and unseals, ESO objects cover every key.

Sealed Secrets: a throwaway key pair made here with openssl; render seals with its certificate;
`kubeseal --recovery-unseal --recovery-private-key` gives back the .env's values byte for byte.
"""

from __future__ import annotations

import base64
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from harvester_manifests.config.envfile import read_env_file
from harvester_manifests.config.loader import load_config
from harvester_manifests.render import render
from harvester_manifests.secrets import secret_specs
from harvester_manifests.validate import supported_kubernetes_versions, validate_directory
from tests.conftest import ENV_EXAMPLE, OVERLAYS, ROOT, Obj, index, kustomize_build, run, tool

CHECKSUM_KEY = "0123456789abcdef" * 4
# Values that survive a naive pipeline only if nothing re-encodes them: '=', '#', quotes,
# non-ASCII, a trailing backslash.
TRICKY = {
    "X_BEARER_TOKEN": "AAAA%2Fbearer=token==",
    "OPENAI_API_KEY": "sk-proj-Ünïcødé-ключ-🔑",
    "GRAFANA_ADMIN_PASSWORD": "p#ss'w\"rd\\",
}


def test_kubeseal_is_the_pinned_version() -> None:
    pin = re.search(r"^KUBESEAL_VERSION := (v\S+)$", (ROOT / "mk" / "secrets.mk").read_text(), re.M)
    assert pin is not None
    assert run([tool("kubeseal"), "--version"]).stdout.strip() == f"kubeseal version: {pin[1]}"


def openssl(*args: str | Path) -> None:
    result = run(["openssl", *args])
    assert result.returncode == 0, result.stderr


@pytest.fixture(scope="module")
def key_pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A throwaway Sealed Secrets key pair: (certificate, private key)."""
    directory = tmp_path_factory.mktemp("sealing-key")
    cert, key = directory / "cert.pem", directory / "key.pem"
    openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        "-subj", "/O=sealed-secret/CN=harvester-manifests test",
        "-keyout", key, "-out", cert,
    )  # fmt: skip
    return cert, key


def without_checksum_key(dotenv: Path) -> Path:
    dotenv.write_text(
        dotenv.read_text().replace(f"SEALED_SECRETS_CHECKSUM_KEY={CHECKSUM_KEY}\n", "")
    )
    return dotenv


def env_file(path: Path, **changes: str) -> Path:
    values = {**read_env_file(ENV_EXAMPLE), **TRICKY, **changes}
    values["SEALED_SECRETS_CHECKSUM_KEY"] = CHECKSUM_KEY
    path.write_text(
        "".join(f"{k}={json.dumps(v) if k in TRICKY else v}\n" for k, v in values.items()),
        encoding="utf-8",
    )
    return path


def sealed_setup(tmp_path: Path, cert: Path) -> tuple[Path, Path]:
    config_dir = tmp_path / "overlays"
    (config_dir / "certs").mkdir(parents=True)
    (config_dir / "certs" / "sealed.pem").write_bytes(cert.read_bytes())
    (config_dir / "sealed.yaml").write_text(
        "secrets:\n  mode: sealed-secrets\n  sealedSecrets:\n    cert: certs/sealed.pem\n"
    )
    return config_dir, env_file(tmp_path / ".env")


def sealed_files(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(out.rglob("sealedsecret-*.yaml"))}


def pod_checksums(directory: Path) -> dict[str, str]:
    """The secrets-checksum annotation of each Deployment's pods: a change rolls them."""
    return {
        name: obj["spec"]["template"]["metadata"]
        .get("annotations", {})
        .get("harvester-gen/secrets-checksum", "")
        for (kind, name), obj in index(kustomize_build(directory)).items()
        if kind == "Deployment"
    }


def unseal(obj: Obj, private_key: Path) -> dict[str, str]:
    result = subprocess.run(
        [
            tool("kubeseal"),
            "--recovery-unseal",
            "--recovery-private-key",
            private_key,
            "-o",
            "json",
        ],
        input=json.dumps(obj).encode(),
        capture_output=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr.decode()
    secret: dict[str, Any] = json.loads(result.stdout)
    assert secret["metadata"]["name"] == obj["metadata"]["name"]
    assert secret["metadata"]["namespace"] == obj["metadata"]["namespace"]
    return {k: base64.b64decode(v).decode("utf-8") for k, v in secret["data"].items()}


def test_sealed_values_unseal_to_the_env_byte_for_byte(
    tmp_path: Path, key_pair: tuple[Path, Path]
) -> None:
    cert, private_key = key_pair
    config_dir, dotenv = sealed_setup(tmp_path, cert)
    out = tmp_path / "build"
    render("sealed", config_dir, out, dotenv, tmp_path)
    objects = index(kustomize_build(out / "sealed"))
    assert not [key for key in objects if key[0] == "Secret"], "no plain Secret is rendered"
    env = read_env_file(dotenv)
    cfg = load_config(config_dir, "sealed")
    for spec in secret_specs(cfg):
        sealed = objects[("SealedSecret", spec.name)]
        assert sealed["apiVersion"] == "bitnami.com/v1alpha1"
        annotations = sealed["metadata"].get("annotations", {})
        assert not [a for a in annotations if "sealedsecrets.bitnami.com" in a], "strict scope"
        assert unseal(sealed, private_key) == {key: env[var] for key, var in spec.keys}
    for path in out.rglob("*"):
        if path.is_file():
            text = path.read_text(encoding="utf-8")
            assert not [v for v in env.values() if len(v) >= 6 and v in text], path
    # The real CRD schema accepts them.
    versions = supported_kubernetes_versions()
    for report in validate_directory(out / "sealed", [versions[-1]]):
        assert report.ok, [str(p) for p in report.problems()]


def test_rendering_again_keeps_every_ciphertext_and_a_change_reseals_only_its_value(
    tmp_path: Path, key_pair: tuple[Path, Path]
) -> None:
    cert, private_key = key_pair
    config_dir, dotenv = sealed_setup(tmp_path, cert)
    out = tmp_path / "build"
    render("sealed", config_dir, out, dotenv, tmp_path)
    first, rolls = sealed_files(out), pod_checksums(out / "sealed")
    render("sealed", config_dir, out, dotenv, tmp_path)
    assert sealed_files(out) == first, "an unchanged .env must not churn the SealedSecrets"
    assert pod_checksums(out / "sealed") == rolls

    env_file(dotenv, HARVEST_API_KEY="rotated-harvest-key-42")
    render("sealed", config_dir, out, dotenv, tmp_path)
    second, rolled = sealed_files(out), pod_checksums(out / "sealed")
    assert [name for name in rolls if rolls[name] != rolled[name]] == ["signal-harvester-api"]
    changed = [name for name in first if first[name] != second[name]]
    assert changed == ["sealedsecret-signal-harvester-api-keys.yaml"]
    old = yaml.safe_load(first[changed[0]])
    new = yaml.safe_load(second[changed[0]])
    was, now = old["spec"]["encryptedData"], new["spec"]["encryptedData"]
    differing = {k for k in now if now[k] != was[k]}
    assert differing == {"HARVEST_API_KEY"}
    assert unseal(new, private_key)["HARVEST_API_KEY"] == "rotated-harvest-key-42"


def test_a_new_certificate_reseals_everything(tmp_path: Path, key_pair: tuple[Path, Path]) -> None:
    cert, _ = key_pair
    config_dir, dotenv = sealed_setup(tmp_path, cert)
    out = tmp_path / "build"
    render("sealed", config_dir, out, dotenv, tmp_path)
    first = sealed_files(out)
    other = tmp_path / "other"
    other.mkdir()
    openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/O=other",
        "-keyout", other / "key.pem", "-out", other / "cert.pem",
    )  # fmt: skip
    render("sealed", config_dir, out, dotenv, tmp_path, seal_cert=other / "cert.pem")
    second = sealed_files(out)
    for name in first:
        old = yaml.safe_load(first[name])["spec"]["encryptedData"]
        new = yaml.safe_load(second[name])["spec"]["encryptedData"]
        assert not [k for k in new if new[k] == old[k]], f"{name}: a ciphertext for the old cert"


def test_the_checksum_reveals_nothing_without_the_key(
    tmp_path: Path, key_pair: tuple[Path, Path]
) -> None:
    """Same value, another checksum key: another checksum. So it cannot be checked by guessing."""
    cert, _ = key_pair
    config_dir, dotenv = sealed_setup(tmp_path, cert)
    render("sealed", config_dir, tmp_path / "a", dotenv, tmp_path)
    dotenv.write_text(dotenv.read_text().replace("0123456789abcdef", "fedcba9876543210"))
    render("sealed", config_dir, tmp_path / "b", dotenv, tmp_path)
    for name, content in sealed_files(tmp_path / "a").items():
        a = yaml.safe_load(content)["metadata"]["annotations"]
        b = yaml.safe_load(sealed_files(tmp_path / "b")[name])["metadata"]["annotations"]
        sums = [k for k in a if k.startswith("harvester-gen/checksum.")]
        assert sums and a.keys() == b.keys() and not [k for k in sums if a[k] == b[k]]


# --- External Secrets


@pytest.mark.parametrize("env", ["staging", "prod"])
def test_external_secrets_produce_exactly_the_guides_secrets_and_keys(env: str) -> None:
    """The committed GitOps environments: every key of every Secret, and nothing else."""
    objects = index(kustomize_build(ROOT / "build" / env))
    cfg = load_config(OVERLAYS, env)
    wanted = {spec.name: [key for key, _ in spec.keys] for spec in secret_specs(cfg)}
    produced = {
        obj["spec"]["target"]["name"]: [d["secretKey"] for d in obj["spec"]["data"]]
        for (kind, _), obj in objects.items()
        if kind == "ExternalSecret"
    }
    assert produced == wanted
    remote = [
        (d["remoteRef"]["key"], d["remoteRef"].get("property"))
        for (kind, _), obj in objects.items()
        if kind == "ExternalSecret"
        for d in obj["spec"]["data"]
    ]
    assert len(remote) == len(set(remote)), "two keys read the same remote value"
    assert all(key.startswith(f"signal-harvester/{env}/") for key, _ in remote)


def _defaults(schema: dict[str, Any], obj: Any, path: str) -> list[str]:
    """Paths of fields the CRD defaults that are missing where their parent is present."""
    missing: list[str] = []
    if isinstance(obj, dict):
        for name, sub in schema.get("properties", {}).items():
            if name in obj:
                missing += _defaults(sub, obj[name], f"{path}.{name}")
            elif "default" in sub:
                missing.append(f"{path}.{name}")
    elif isinstance(obj, list) and "items" in schema:
        for i, item in enumerate(obj):
            missing += _defaults(schema["items"], item, f"{path}[{i}]")
    return missing


def test_external_secrets_write_out_every_field_the_api_server_defaults() -> None:
    """A defaulted field missing from git is a permanent OutOfSync in Argo CD (argo-cd#13004)."""
    from harvester_manifests.validate import crd_schemas_dir

    crd = yaml.safe_load(
        (crd_schemas_dir() / "crds" / "externalsecrets.external-secrets.io.yaml").read_text()
    )
    schema = next(v for v in crd["spec"]["versions"] if v["name"] == "v1")["schema"]
    for env in ("staging", "prod"):
        for (kind, name), obj in index(kustomize_build(ROOT / "build" / env)).items():
            if kind == "ExternalSecret":
                assert obj["apiVersion"] == "external-secrets.io/v1"
                missing = _defaults(schema["openAPIV3Schema"], obj, "")
                assert not [m for m in missing if not m.startswith(".status")], (name, missing)


def test_external_secrets_need_no_env_and_render_no_value(tmp_path: Path) -> None:
    config_dir = tmp_path / "overlays"
    config_dir.mkdir()
    (config_dir / "eso.yaml").write_text(
        "secrets:\n  mode: external-secrets\n  externalSecrets:\n"
        "    storeRef: {kind: SecretStore, name: vault}\n    refreshInterval: 15m\n"
        "    remoteKeyTemplate: 'apps/{namespace}/{secret}'\n"
        "    remoteRefs:\n"
        "      signal-harvester-api-keys/X_BEARER_TOKEN: {key: shared/x, property: token}\n"
    )
    # Not even a .env.example: nothing is read. Keys without {key} collide ...
    from harvester_manifests.errors import InputError

    with pytest.raises(InputError, match="would all read the remote key"):
        render("eso", config_dir, tmp_path / "build", None, tmp_path)
    text = (config_dir / "eso.yaml").read_text().replace("{secret}'", "{secret}/{key}'")
    (config_dir / "eso.yaml").write_text(text)
    render("eso", config_dir, tmp_path / "build", None, tmp_path)
    objects = index(kustomize_build(tmp_path / "build" / "eso"))
    keys = objects[("ExternalSecret", "signal-harvester-api-keys")]["spec"]
    assert keys["secretStoreRef"] == {"kind": "SecretStore", "name": "vault"}
    assert keys["refreshInterval"] == "15m"
    refs = {d["secretKey"]: d["remoteRef"] for d in keys["data"]}
    assert refs["X_BEARER_TOKEN"]["key"] == "shared/x"
    assert refs["X_BEARER_TOKEN"]["property"] == "token"
    assert (
        refs["OPENAI_API_KEY"]["key"]
        == "apps/signal-harvester/signal-harvester-api-keys/OPENAI_API_KEY"
    )
    assert not [key for key in objects if key[0] == "Secret"]


# --- Bad input: exit 2, one clear line, nothing written, no value in the message

GEN = ROOT / ".venv" / "bin" / "harvester-gen"
STORE = "    storeRef: {name: vault}\n"


def snapshot(directory: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(directory)): p.read_bytes() for p in directory.rglob("*") if p.is_file()
    }


def refused(
    tmp_path: Path, overlay: str, *extra: str | Path, dotenv: Path | None = None, problems: int = 1
) -> str:
    """Render an env-file environment first, then `overlay` over it: exit 2, output untouched,
    one line per problem."""
    config_dir = tmp_path / "overlays"
    config_dir.mkdir(exist_ok=True)
    out = tmp_path / "build"
    dotenv = dotenv or env_file(tmp_path / ".env")
    (config_dir / "bad.yaml").write_text("")
    first = run([GEN, "render", "--config-dir", config_dir, "--out", out, "--env-file", dotenv])
    assert first.returncode == 0, first.stderr
    before = snapshot(out)
    (config_dir / "bad.yaml").write_text(overlay)
    args: list[str | Path] = [GEN, "render", "--config-dir", config_dir, "--out", out]
    result = run([*args, "--env-file", dotenv, *extra])
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == problems, result.stderr
    assert all(line.startswith("error: ") for line in lines), result.stderr
    assert "Traceback" not in result.stderr
    assert not [v for v in read_env_file(dotenv).values() if len(v) >= 6 and v in result.stderr]
    assert snapshot(out) == before
    return "\n".join(lines)


SEALED = "secrets:\n  mode: sealed-secrets\n"


def test_sealed_mode_without_a_certificate(tmp_path: Path) -> None:
    line = refused(tmp_path, SEALED)
    assert "bad.yaml: secrets.sealedSecrets.cert: mode sealed-secrets needs" in line


def test_sealed_mode_with_a_missing_certificate(tmp_path: Path) -> None:
    line = refused(tmp_path, SEALED + "  sealedSecrets: {cert: certs/nope.pem}\n")
    assert line.endswith("certs/nope.pem: cannot be read: No such file or directory")


def test_sealed_mode_with_an_unreadable_certificate(tmp_path: Path) -> None:
    (tmp_path / "overlays" / "certs.pem").mkdir(parents=True)  # a directory, even root can't read
    line = refused(tmp_path, SEALED + "  sealedSecrets: {cert: certs.pem}\n")
    assert "certs.pem: cannot be read" in line


def test_sealed_mode_with_an_invalid_certificate(tmp_path: Path) -> None:
    (tmp_path / "overlays").mkdir()
    (tmp_path / "overlays" / "cert.pem").write_text("-----BEGIN CERTIFICATE-----\nnot base64!\n")
    line = refused(tmp_path, SEALED + "  sealedSecrets: {cert: cert.pem}\n")
    assert "cert.pem: not a PEM certificate" in line


def test_sealed_mode_with_a_certificate_kubeseal_refuses(tmp_path: Path) -> None:
    """A well-formed certificate with an EC key: kubeseal seals only with RSA."""
    (tmp_path / "overlays").mkdir()
    openssl(
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-days", "2", "-subj", "/O=ec", "-keyout", tmp_path / "ec.key",
        "-out", tmp_path / "overlays" / "ec.pem",
    )  # fmt: skip
    line = refused(tmp_path, SEALED + "  sealedSecrets: {cert: ec.pem}\n")
    assert "ec.pem: kubeseal cannot seal with it:" in line and "RSA" in line


def test_seal_cert_flag_that_does_not_exist(tmp_path: Path) -> None:
    line = refused(tmp_path, SEALED, "--seal-cert", tmp_path / "missing.pem")
    assert "missing.pem: cannot be read" in line


def test_sealed_mode_without_the_checksum_key(tmp_path: Path, key_pair: tuple[Path, Path]) -> None:
    dotenv = without_checksum_key(env_file(tmp_path / ".env"))
    line = refused(tmp_path, SEALED, "--seal-cert", key_pair[0], dotenv=dotenv)
    assert "SEALED_SECRETS_CHECKSUM_KEY: missing" in line


def test_sealed_mode_without_certificate_nor_checksum_key_names_both(tmp_path: Path) -> None:
    dotenv = without_checksum_key(env_file(tmp_path / ".env"))
    lines = refused(tmp_path, SEALED, dotenv=dotenv, problems=2)
    assert "secrets.sealedSecrets.cert" in lines and "SEALED_SECRETS_CHECKSUM_KEY" in lines


def test_external_secrets_without_a_store(tmp_path: Path) -> None:
    line = refused(tmp_path, "secrets:\n  mode: external-secrets\n")
    assert "bad.yaml: secrets: mode external-secrets needs externalSecrets.storeRef" in line


def test_external_secrets_with_colliding_remote_keys(tmp_path: Path) -> None:
    line = refused(
        tmp_path,
        "secrets:\n  mode: external-secrets\n  externalSecrets:\n"
        + STORE
        + "    remoteKeyTemplate: 'signal-harvester/{env}/{secret}'\n",
        problems=2,  # the API keys, the Slack URLs; grafana-admin has one key: no collision
    )
    assert (
        "secrets.externalSecrets.remoteKeyTemplate: signal-harvester-api-keys/X_BEARER_TOKEN, "
        in line
    )
    assert (
        "HARVEST_API_KEY would all read the remote key "
        "signal-harvester/bad/signal-harvester-api-keys:" in line
    )
    assert "the remote key signal-harvester/bad/alertmanager-slack-urls:" in line
    assert "grafana-admin" not in line


def test_external_secrets_with_an_unknown_remote_ref(tmp_path: Path) -> None:
    line = refused(
        tmp_path,
        "secrets:\n  mode: external-secrets\n  externalSecrets:\n"
        + STORE
        + "    remoteRefs: {grafana-admin/password: {key: x}}\n",
    )
    assert "secrets.externalSecrets.remoteRefs.grafana-admin/password: no such Secret key" in line


def test_external_secrets_with_an_unknown_template_field(tmp_path: Path) -> None:
    line = refused(
        tmp_path,
        "secrets:\n  mode: external-secrets\n  externalSecrets:\n"
        + STORE
        + "    remoteKeyTemplate: '{cluster}/{secret}/{key}'\n",
    )
    assert "remoteKeyTemplate: '{cluster}/{secret}/{key}' uses {cluster}" in line


def test_the_old_secrets_source_key_says_what_it_became(tmp_path: Path) -> None:
    line = refused(tmp_path, "secrets:\n  source: external\n")
    assert "bad.yaml: secrets: source: 'external' is now mode: 'external'" in line
