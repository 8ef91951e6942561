"""secrets mode sealed-secrets: each value sealed with the real kubeseal into a SealedSecret.

Sealing is offline (`kubeseal --cert`, the controller's public certificate) and in strict scope:
a ciphertext decrypts only as that key of that Secret name in that namespace.

Sealing is randomised, so sealing an unchanged value again would churn git on every render.
Each SealedSecret therefore carries, per key, a keyed checksum of what was sealed
(annotation `harvester-gen/checksum.<key>`): HMAC-SHA256 keyed with the operator's random
SEALED_SECRETS_CHECKSUM_KEY (.env, never committed) over the certificate's fingerprint, the
namespace, the Secret, the key and the value. When the checksum of the previous render equals the
new one, the previous ciphertext is kept byte for byte; otherwise that one value is sealed again.
Without the key, the checksum cannot be computed, so a weak value cannot be guessed from it
offline; and a new certificate, name or namespace changes every checksum, so nothing sealed for
another controller or scope is ever kept.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import yaml

from harvester_manifests import names
from harvester_manifests.components.common import Obj, labels
from harvester_manifests.config.models import Config
from harvester_manifests.errors import InputError, Problem, ToolError
from harvester_manifests.secrets import SecretValues, secret_specs
from harvester_manifests.validate import tool

API_VERSION = "bitnami.com/v1alpha1"
CHECKSUM_KEY_VARIABLE = "SEALED_SECRETS_CHECKSUM_KEY"
CHECKSUM_ANNOTATION = "harvester-gen/checksum."  # + the Secret key
TIMEOUT_SECONDS = 120.0
_PEM = re.compile(
    r"-----BEGIN CERTIFICATE-----\s*(?P<body>[A-Za-z0-9+/=\s]+?)\s*-----END CERTIFICATE-----"
)


@dataclass(frozen=True)
class SealingInputs:
    cert: Path  # the controller's public certificate (PEM)
    checksum_key: bytes  # SEALED_SECRETS_CHECKSUM_KEY
    previous: Path  # the environment's previous output, whose ciphertexts may be kept


def cert_fingerprint(cert: Path) -> str:
    """SHA-256 of the certificate (DER); InputError when unreadable or not a PEM certificate."""
    try:
        text = cert.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not text"
        raise InputError([Problem(str(cert), "", f"cannot be read: {reason}")]) from None
    match = _PEM.search(text)
    der = b""
    if match is not None:
        try:
            der = base64.b64decode("".join(match["body"].split()), validate=True)
        except binascii.Error:
            der = b""
    if not der.startswith(b"\x30"):
        raise InputError(
            [
                Problem(
                    str(cert),
                    "",
                    "not a PEM certificate (-----BEGIN CERTIFICATE-----): fetch the "
                    "controller's with `kubeseal --fetch-cert`",
                )
            ]
        )
    return hashlib.sha256(der).hexdigest()


def checksum(key: bytes, fingerprint: str, namespace: str, name: str, item: str, value: str) -> str:
    message = "\0".join(("harvester-gen sealed v1", fingerprint, namespace, name, item, value))
    return hmac.new(key, message.encode(), hashlib.sha256).hexdigest()


def previous_sealed(previous: Path) -> dict[tuple[str, str], Obj]:
    """The SealedSecrets of the previous render, by (namespace, name); unreadable files skipped."""
    found: dict[tuple[str, str], Obj] = {}
    if not previous.is_dir():
        return found
    for path in sorted(previous.rglob("*.yaml")):
        try:
            documents = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            continue
        for doc in documents:
            if isinstance(doc, dict) and doc.get("kind") == "SealedSecret":
                meta = doc.get("metadata") or {}
                found[(str(meta.get("namespace")), str(meta.get("name")))] = doc
    return found


def seal(cfg: Config, values: SecretValues, inputs: SealingInputs) -> list[Obj]:
    """One SealedSecret per Secret; only values whose checksum changed are sealed again."""
    fingerprint = cert_fingerprint(inputs.cert)
    previous = previous_sealed(inputs.previous)
    objects = []
    for spec in secret_specs(cfg):
        data = values.values[spec.name]
        sums = {
            k: checksum(inputs.checksum_key, fingerprint, cfg.namespace, spec.name, k, v)
            for k, v in data.items()
        }
        old = previous.get((cfg.namespace, spec.name), {})
        old_sums = (old.get("metadata") or {}).get("annotations") or {}
        old_data = (old.get("spec") or {}).get("encryptedData") or {}
        kept = {
            k: old_data[k]
            for k in data
            if isinstance(old_data.get(k), str) and old_sums.get(CHECKSUM_ANNOTATION + k) == sums[k]
        }
        changed = {k: v for k, v in data.items() if k not in kept}
        sealed = kubeseal(inputs.cert, cfg.namespace, spec.name, changed) if changed else {}
        encrypted = dict(sorted({**kept, **sealed}.items()))
        meta = {"name": spec.name, "namespace": cfg.namespace}
        objects.append(
            {
                "apiVersion": API_VERSION,
                "kind": "SealedSecret",
                "metadata": {
                    **meta,
                    "labels": labels(spec.consumer or names.PART_OF, "secrets"),
                    "annotations": {CHECKSUM_ANNOTATION + k: s for k, s in sorted(sums.items())},
                },
                "spec": {
                    "encryptedData": encrypted,
                    "template": {"metadata": meta, "type": "Opaque"},
                },
            }
        )
    return objects


def pod_checksums(cfg: Config, sealed: list[Obj], key: bytes) -> dict[str, str]:
    """Per consuming Deployment, a digest of the value checksums of the Secrets it reads.

    Keyed like them, so it reveals nothing; it changes exactly when one of its values does,
    so rotating one value rolls only the pods that read it.
    """
    by_name = {o["metadata"]["name"]: o["metadata"]["annotations"] for o in sealed}
    lines: dict[str, list[str]] = {}
    for spec in secret_specs(cfg):
        if spec.consumer is not None:
            sums = by_name[spec.name]
            lines.setdefault(spec.consumer, []).extend(
                f"{spec.name}/{k}={sums[CHECKSUM_ANNOTATION + k]}" for k, _ in sorted(spec.keys)
            )
    return {
        consumer: hmac.new(key, "\n".join(text).encode(), hashlib.sha256).hexdigest()[:32]
        for consumer, text in lines.items()
    }


def kubeseal(cert: Path, namespace: str, name: str, data: dict[str, str]) -> dict[str, str]:
    """`kubeseal --cert --scope strict` of one Secret (values on stdin): its encryptedData."""
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace},
        "type": "Opaque",
        "data": {k: base64.b64encode(v.encode()).decode() for k, v in sorted(data.items())},
    }
    args = [str(tool("kubeseal")), "--cert", str(cert.absolute()), "--scope", "strict"]
    args += ["--format", "json"]
    try:
        result = subprocess.run(
            args,
            input=json.dumps(secret),
            capture_output=True,
            text=True,
            timeout=TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise ToolError(f"kubeseal timed out after {TIMEOUT_SECONDS:.0f}s") from None
    except OSError as exc:
        raise ToolError(f"cannot run kubeseal: {exc}") from None
    if result.returncode != 0:
        # Our Secret is well formed, so what kubeseal refuses is the certificate (expired, not
        # RSA, ...). Its message names the certificate's problem, never a value.
        reason = (result.stderr.strip().splitlines() or ["no message"])[-1]
        raise InputError([Problem(str(cert), "", f"kubeseal cannot seal with it: {reason}")])
    try:
        encrypted = json.loads(result.stdout)["spec"]["encryptedData"]
    except (ValueError, KeyError, TypeError):
        raise ToolError("kubeseal printed no SealedSecret") from None
    if not isinstance(encrypted, dict) or sorted(encrypted) != sorted(data):
        raise ToolError(f"kubeseal sealed other keys than {', '.join(sorted(data))}")
    return {str(k): str(v) for k, v in encrypted.items()}
