"""How each environment's Secrets reach the cluster: the one place that decides, per environment.

Components only name the Secrets they consume (`secrets.secret_specs`); this module turns the
overlay's `secrets.mode` into what the committed overlay holds and what stays on the operator's
machine:

- env-file: the committed overlay only references the Secrets; render writes the values into a
  gitignored `secrets/` kustomization on top of it (kustomize.layout_env_file_secrets).
- sealed-secrets: one SealedSecret per Secret, each value sealed with the real `kubeseal`
  (sealed_secrets.py); a value whose keyed checksum is unchanged keeps its old ciphertext.
- external-secrets: one ExternalSecret per Secret (external_secrets.py); no value is read.
- external: references only.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

from harvester_manifests.components.common import Obj
from harvester_manifests.config.envfile import read_env_file
from harvester_manifests.config.loader import config_path
from harvester_manifests.config.models import Config
from harvester_manifests.errors import InputError, Problem
from harvester_manifests.external_secrets import external_secrets
from harvester_manifests.sealed_secrets import (
    CHECKSUM_KEY_VARIABLE,
    SealingInputs,
    pod_checksums,
    seal,
)
from harvester_manifests.secrets import SecretValues, collect
from harvester_manifests.stack import SECRETS_CHECKSUM, build_stack, environment_from
from harvester_manifests.syncwaves import with_sync_waves


@dataclass(frozen=True)
class Sources:
    """Where one render finds what the modes need (all paths as the operator gave them)."""

    config_dir: Path
    env_file: Path  # the .env this environment reads (render.env_file_for)
    previous: Path  # the environment's previous output: sealed ciphertexts are reused from it
    seal_cert: Path | None = None  # --seal-cert: overrides secrets.sealedSecrets.cert
    # env_file's variables when the caller has read it already (render reads a .env that many
    # environments share once); None: read it here.
    env_values: dict[str, str] | None = None


@dataclass(frozen=True)
class Delivery:
    """One environment's objects, split into what is committed and what stays local."""

    committed: list[Obj]  # the committed overlay: the stack plus SealedSecrets/ExternalSecrets
    applied: list[Obj]  # what ends up in the cluster from this repo (committed + local)
    values: SecretValues | None  # the values read from the .env (env-file, sealed-secrets)
    local_layer: bool  # env-file: `values` go into the gitignored secrets/ kustomization
    source: str  # one line for the render summary
    # render_environment(cfg, None): the stack without any Secret source, which Argo CD's
    # AppProject is computed from (argocd.py); kept so that render builds the stack once.
    stack: list[Obj]


def deliver(env: str, cfg: Config, sources: Sources) -> Delivery:
    """The objects of `env` for its secrets mode; InputError naming every bad input.

    Only sealed-secrets runs a tool (kubeseal), and only after its inputs were checked.
    """
    mode = cfg.secrets.mode
    built = build_stack(cfg)  # once: every object below is made from it
    stack = environment_from(built, cfg, None)  # with Argo CD's sync waves (syncwaves.py)
    if mode == "external":
        return Delivery(
            stack, stack, None, False, "external (the Secrets must already exist)", stack
        )
    if mode == "external-secrets":
        made = external_secrets(env, cfg, str(config_path(sources.config_dir, env)))
        objects = with_sync_waves(built + made)
        store = cfg.secrets.external_secrets.store_ref
        assert store is not None  # the model refuses external-secrets without a store
        return Delivery(
            objects, objects, None, False, f"ExternalSecrets from {store.kind} {store.name}", stack
        )

    env_values = (
        sources.env_values if sources.env_values is not None else read_env_file(sources.env_file)
    )
    values = collect(cfg, env_values, str(sources.env_file))
    if mode == "env-file":
        applied = environment_from(built, cfg, values)
        return Delivery(
            stack,
            applied,
            values,
            True,
            f"from {sources.env_file}, in the gitignored {sources.previous}/secrets/",
            stack,
        )
    # sealed-secrets: report a missing certificate and a missing checksum key together
    problems: list[Problem] = []
    cert, key = sources.seal_cert, b""
    try:
        cert = cert or _overlay_cert(env, cfg, sources.config_dir)
    except InputError as exc:
        problems += exc.problems
    try:
        key = _checksum_key(env_values, sources.env_file)
    except InputError as exc:
        problems += exc.problems
    if problems or cert is None:
        raise InputError(problems)
    sealed = seal(cfg, values, SealingInputs(cert, key, sources.previous))
    checksummed = with_pod_checksums(built, pod_checksums(cfg, sealed, key))
    objects = with_sync_waves(checksummed + sealed)
    return Delivery(
        objects, objects, values, False, f"sealed from {sources.env_file} with {cert}", stack
    )


def _overlay_cert(env: str, cfg: Config, config_dir: Path) -> Path:
    cert = cfg.secrets.sealed_secrets.cert
    if cert is None:
        raise InputError(
            [
                Problem(
                    str(config_path(config_dir, env)),
                    "secrets.sealedSecrets.cert",
                    "mode sealed-secrets needs the controller's public certificate: set it "
                    "(`kubeseal --fetch-cert > overlays/certs/<env>.pem`) or pass --seal-cert",
                )
            ]
        )
    return config_dir / cert


def _checksum_key(env_values: dict[str, str], env_file: Path) -> bytes:
    key = env_values.get(CHECKSUM_KEY_VARIABLE, "")
    if len(key) < 32:
        raise InputError(
            [
                Problem(
                    str(env_file),
                    CHECKSUM_KEY_VARIABLE,
                    ("missing" if not key else "too short (at least 32 characters)")
                    + ": mode sealed-secrets needs a random key, shared by whoever renders, to "
                    "see that a value is unchanged (`openssl rand -hex 32`)",
                )
            ]
        )
    return key.encode()


def with_pod_checksums(objects: list[Obj], checksums: dict[str, str]) -> list[Obj]:
    """Each consuming Deployment's pod template annotated with its checksum (a copy)."""
    result = copy.deepcopy(objects)
    for obj in result:
        checksum = checksums.get(obj["metadata"]["name"])
        if obj["kind"] == "Deployment" and checksum is not None:
            template = obj["spec"]["template"]["metadata"]
            annotations = {**template.get("annotations", {}), SECRETS_CHECKSUM: checksum}
            template["annotations"] = dict(sorted(annotations.items()))
    return result
