"""Renders environments into an output directory, all or nothing.

Everything is computed in memory first, written to a temporary directory beside the output,
then swapped in with one atomic rename: a render that fails or is interrupted leaves the
output exactly as it was.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import shutil
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from harvester_manifests.argocd import argocd_objects, destination_clashes
from harvester_manifests.checks import broken_references
from harvester_manifests.config.envfile import read_env_file
from harvester_manifests.config.gitops import GitOps, gitops_path, load_gitops
from harvester_manifests.config.loader import config_path, environments, load_config
from harvester_manifests.config.models import Config
from harvester_manifests.delivery import Delivery, Sources, deliver
from harvester_manifests.errors import InputError, Problem, RenderError
from harvester_manifests.kustomize import (
    SECRETS_DIR,
    Files,
    layout_base,
    layout_env_file_secrets,
    layout_flat,
    layout_overlay,
)
from harvester_manifests.secrets import SecretValues, secret_specs
from harvester_manifests.stack import build_stack, render_environment

ARGOCD = "argocd"  # the output's directory of Argo CD objects (owned like base/)
GITIGNORE = (
    "# Secret values rendered from the operator's .env (mode env-file): never commit them.\n"
    "*.env\n/*/secrets/\n"
)


@dataclass(frozen=True)
class EnvironmentSummary:
    name: str
    kinds: dict[str, int]
    hosts: list[str]
    path: Path
    secrets: str  # how the Secrets are delivered (delivery.Delivery.source)


@dataclass
class RenderPlan:
    """Everything a render will write, computed before anything touches the disk."""

    files: Files = field(default_factory=dict)
    environments: list[EnvironmentSummary] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    argocd: Path | None = None  # where Argo CD's objects go, when there is a gitops.yaml


def resolve_environments(requested: str, config_dir: Path) -> list[str]:
    available = environments(config_dir)
    if requested == "all":
        return available
    if requested not in available:
        raise InputError(
            [
                Problem(
                    str(config_path(config_dir, requested)),
                    "",
                    f"no such environment (available: {', '.join(available)}, all)",
                )
            ]
        )
    return [requested]


EXAMPLE = ".env.example"


def env_file_for(env: str, env_file: Path | None, root: Path) -> Path:
    """--env-file if given; else .env.<env> when it exists; else .env; else .env.example.

    The last is what a fresh clone has: it renders the committed build/ exactly, with
    placeholder secrets, and render says so on every run.
    """
    if env_file is not None:
        return env_file
    for candidate in (root / f".env.{env}", root / ".env"):
        if candidate.exists():
            return candidate
    example = root / EXAMPLE
    return example if example.exists() else root / ".env"


def placeholder_warnings(values: SecretValues, env_path: Path, root: Path) -> list[str]:
    """Secret values that are still .env.example's placeholders: never apply those to a cluster."""
    example = root / EXAMPLE
    if env_path.name == EXAMPLE:
        return [
            f"secrets come from {env_path}: placeholders, not for a real cluster (copy it to .env)"
        ]
    if not example.exists():
        return []
    placeholders = set(read_env_file(example).values())
    stale = sorted(
        f"{name}/{key}"
        for name, kv in values.values.items()
        for key, v in kv.items()
        if v in placeholders
    )
    return [f"{env_path}: still the .env.example placeholder: {', '.join(stale)}"] if stale else []


def plan(
    envs: list[str],
    config_dir: Path,
    out: Path,
    env_file: Path | None,
    root: Path,
    gitops_file: Path | None = None,
    seal_cert: Path | None = None,
) -> RenderPlan:
    """Validate every environment and compute every file; collect every problem first.

    With a gitops.yaml (`gitops_file`, else <root>/gitops.yaml), argocd/ holds Argo CD's
    objects for *every* environment of config_dir, whichever were asked for.
    """
    problems: list[Problem] = []
    gitops: GitOps | None = None
    try:
        gitops = load_gitops(gitops_file or gitops_path(root))
    except InputError as exc:
        problems += exc.problems
    warnings: list[str] = []
    configs: dict[str, tuple[Config, Delivery]] = {}
    for env in envs:
        try:
            cfg = load_config(config_dir, env)
            path = env_file_for(env, env_file, root)
            delivered = deliver(env, cfg, Sources(config_dir, path, out / env, seal_cert))
            if delivered.values is not None:
                warnings += [
                    f"{env}: {w}" for w in placeholder_warnings(delivered.values, path, root)
                ]
            configs[env] = (cfg, delivered)
        except InputError as exc:
            problems += exc.problems
    argocd_configs: dict[str, Config] = {}
    if gitops is not None and not problems:
        for env in environments(config_dir):
            try:
                argocd_configs[env] = (
                    configs[env][0] if env in configs else load_config(config_dir, env)
                )
            except InputError as exc:
                problems += exc.problems
        sources = {env: str(config_path(config_dir, env)) for env in argocd_configs}
        warnings += destination_clashes(argocd_configs, sources)
    if problems:
        raise InputError(problems)

    result = RenderPlan(warnings=warnings)
    if gitops is not None:
        stacks = {env: render_environment(cfg, None) for env, cfg in argocd_configs.items()}
        argocd = argocd_objects(gitops, argocd_configs, stacks)
        result.files.update({f"{ARGOCD}/{p}": c for p, c in layout_flat(argocd).items()})
        result.argocd = out / ARGOCD
    base = build_stack(Config())
    result.files.update({f"base/{p}": c for p, c in layout_base(base).items()})
    for env, (cfg, delivered) in configs.items():
        objects = delivered.applied
        broken = broken_references(objects)
        if broken:
            raise RenderError(
                f"{env}: the generator produced inconsistent objects: " + "; ".join(broken)
            )
        specs = secret_specs(cfg)
        overlay = layout_overlay(base, delivered.committed, specs, None, cfg.namespace)
        if delivered.local_layer and delivered.values is not None:
            overlay |= layout_env_file_secrets(base, objects, specs, delivered.values)
        result.files.update({f"{env}/{p}": c for p, c in overlay.items()})
        result.environments.append(
            EnvironmentSummary(
                name=env,
                kinds=dict(sorted(Counter(o["kind"] for o in objects).items())),
                hosts=[
                    cfg.host(c)
                    for c in ("api", "prometheus", "grafana", "alertmanager")
                    if getattr(cfg, c).ingress.enabled
                ],
                path=out / env / SECRETS_DIR if delivered.local_layer else out / env,
                secrets=delivered.source,
            )
        )
    result.files[".gitignore"] = GITIGNORE
    return result


def render(
    requested: str,
    config_dir: Path,
    out: Path,
    env_file: Path | None = None,
    root: Path | None = None,
    gitops_file: Path | None = None,
    seal_cert: Path | None = None,
) -> RenderPlan:
    """Render `requested` (an environment or "all") into `out`, atomically."""
    envs = resolve_environments(requested, config_dir)
    result = plan(envs, config_dir, out, env_file, root or Path(), gitops_file, seal_cert)
    keep = None if requested == "all" else {"base", ARGOCD, *envs}
    write_atomically(out, result.files, replace_all=keep is None, replaced=keep or set())
    return result


def write_atomically(out: Path, files: Files, replace_all: bool, replaced: set[str]) -> None:
    """Write `files` as the new content of `out` and swap it in with one rename.

    With replace_all=False, top-level entries of the old output not in `replaced` (other
    environments) are carried over unchanged.
    """
    out = out.absolute()
    _refuse_foreign(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    prefix = f".{out.name}.rendering-"
    for stale in out.parent.glob(f"{prefix}*"):
        # Left by a render that was killed; renders into one output do not run concurrently.
        shutil.rmtree(stale, ignore_errors=True)
    staging = Path(tempfile.mkdtemp(prefix=prefix, dir=out.parent))
    try:
        if not replace_all and out.is_dir():
            for entry in sorted(out.iterdir()):
                if entry.name not in replaced and entry.name != ".gitignore":
                    _copy(entry, staging / entry.name)
        for relative, content in sorted(files.items()):
            target = staging / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content, encoding="utf-8")
            if target.suffix == ".env":
                target.chmod(0o600)
        staging.chmod(0o755)
        _swap(staging, out)
    finally:
        # After the swap this is the old output; after a failure, the half-written new one.
        shutil.rmtree(staging, ignore_errors=True)


def _copy(source: Path, target: Path) -> None:
    if source.is_dir():
        shutil.copytree(source, target, symlinks=True)
    else:
        shutil.copy2(source, target)


def _refuse_foreign(out: Path) -> None:
    """Never replace a directory that is not a previous render (a typo in --out)."""
    if out.is_dir() and any(out.iterdir()) and not (out / "base" / "kustomization.yaml").exists():
        raise InputError(
            [
                Problem(
                    str(out), "", "exists and is not a harvester-gen output: choose another --out"
                )
            ]
        )
    if out.exists() and not out.is_dir():
        raise InputError([Problem(str(out), "", "exists and is not a directory")])


_RENAME_EXCHANGE = 2


def _swap(staging: Path, out: Path) -> None:
    """Exchange staging and out in one step (renameat2) where the OS allows it."""
    if out.exists():
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        renameat2 = getattr(libc, "renameat2", None)
        at_fdcwd = -100
        if renameat2 is not None and (
            renameat2(at_fdcwd, os.fsencode(staging), at_fdcwd, os.fsencode(out), _RENAME_EXCHANGE)
            == 0
        ):
            return  # the old output is now at `staging` and is removed by the caller
        # No renameat2 (not Linux): two renames, with the old output kept until the new is in.
        old = staging.with_name(staging.name + ".old")
        out.rename(old)
        staging.rename(out)
        shutil.rmtree(old)
        return
    staging.rename(out)
