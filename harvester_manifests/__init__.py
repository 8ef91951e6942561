"""harvester-manifests: one typed description of Signal Harvester, rendered as Kustomize.

The public library surface is what this module exports (`__all__`); every other module is
internal and may change. The four steps `harvester-gen render` takes, for a platform team that
wants to change the objects in between (a label on everything, a sidecar, an annotation)::

    from pathlib import Path
    import harvester_manifests as hm

    cfg = hm.load_config(Path("overlays"), "prod")     # overlays/prod.yaml over the defaults
    secrets = hm.load_secrets(cfg, Path(".env"))       # None unless secrets: {mode: env-file}
    objects = hm.render_objects(cfg, secrets, "prod")  # Kubernetes objects, as plain dicts
    files = hm.lay_out("prod", cfg, objects, secrets)  # build/base + build/prod, as text
    hm.write(Path("build"), files)                     # atomically; other environments kept

Bad input raises `InputError`, whose `problems` each name a file, a field and what is wrong.
The library never prints and never exits.
"""

from __future__ import annotations

__version__ = "0.1.0"

import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from harvester_manifests.config.models import Config
    from harvester_manifests.errors import InputError, Problem, RenderError
    from harvester_manifests.kustomize import Files
    from harvester_manifests.secrets import SecretValues

# The exported classes, imported when first used: `import harvester_manifests` (and so
# `harvester-gen --help`) does not build the configuration's models or load the renderer.
_LAZY = {
    "Config": "harvester_manifests.config.models",
    "Files": "harvester_manifests.kustomize",
    "InputError": "harvester_manifests.errors",
    "Problem": "harvester_manifests.errors",
    "RenderError": "harvester_manifests.errors",
    "SecretValues": "harvester_manifests.secrets",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "Config",
    "Files",
    "InputError",
    "Obj",
    "Problem",
    "RenderError",
    "SecretValues",
    "__version__",
    "base_objects",
    "environments",
    "lay_out",
    "load_config",
    "load_secrets",
    "render_objects",
    "write",
]

Obj = dict[str, Any]  # one Kubernetes object, as `kubectl get -o json` would give it


def environments(config_dir: Path) -> list[str]:
    """Every environment that has a file in the config directory, sorted."""
    from harvester_manifests.config.loader import environments as _environments

    return _environments(config_dir)


def load_config(config_dir: Path, env: str) -> Config:
    """The validated configuration of one environment: `<config_dir>/<env>.yaml` merged key by
    key over the defaults (the deployment guide's production values).

    Raises InputError naming the file and every field that is wrong.
    """
    from harvester_manifests.config.loader import load_config as _load_config

    return _load_config(config_dir, env)


def load_secrets(cfg: Config, env_file: Path) -> SecretValues | None:
    """The secret values `cfg` needs, read from a KEY=VALUE file such as `.env`.

    None unless `cfg.secrets.mode` is "env-file" (in the other modes the values never pass
    through here: they are sealed by `harvester-gen render`, or fetched in the cluster).
    Raises InputError naming every missing key.
    """
    from harvester_manifests.config.envfile import read_env_file
    from harvester_manifests.secrets import collect

    if cfg.secrets.mode != "env-file":
        return None
    return collect(cfg, read_env_file(env_file), str(env_file))


def render_objects(
    cfg: Config, secrets: SecretValues | None = None, env: str = "prod"
) -> list[Obj]:
    """Every object `kubectl apply -k build/<env>` creates for `cfg`, in a stable order.

    With `secrets` (mode env-file), the Secrets are included and each Deployment that reads one
    carries a checksum annotation, so a changed value rolls its pods. In mode external-secrets
    the ExternalSecrets are included (`env` fills their remote keys' `{env}`). Mode
    sealed-secrets runs kubeseal: use `harvester-gen render` for it. The result is yours to
    change.
    """
    from harvester_manifests.checks import broken_references
    from harvester_manifests.errors import InputError, Problem, RenderError
    from harvester_manifests.external_secrets import external_secrets
    from harvester_manifests.stack import build_stack, render_environment
    from harvester_manifests.syncwaves import with_sync_waves

    if cfg.secrets.mode == "sealed-secrets":
        raise InputError(
            [
                Problem(
                    env, "secrets.mode", "sealed-secrets seals with kubeseal: harvester-gen render"
                )
            ]
        )
    if cfg.secrets.mode == "external-secrets":
        made = external_secrets(env, cfg, env)
        objects = with_sync_waves(build_stack(cfg) + made)
    else:
        objects = render_environment(cfg, secrets)
    broken = broken_references(objects)
    if broken:
        raise RenderError("the generator produced inconsistent objects: " + "; ".join(broken))
    return objects


def base_objects() -> list[Obj]:
    """The objects of `build/base/`: the default configuration, without Secrets."""
    from harvester_manifests.config.models import Config
    from harvester_manifests.stack import build_stack

    return build_stack(Config())


def lay_out(
    env: str,
    cfg: Config,
    objects: list[Obj],
    secrets: SecretValues | None = None,
    base: list[Obj] | None = None,
) -> Files:
    """The Kustomize files of `objects`: `base/...` and `<env>/...`, by relative path.

    The overlay holds only what differs from `base` (default: `base_objects()`), as
    strategic-merge patches. When you change every object (a label, say), change `base` the same
    way, or each overlay patches every object. With `secrets` (mode env-file), the Secrets and the
    pods' checksum annotations go into the gitignored `<env>/secrets/` kustomization, written
    from `secrets`; the committed `<env>/` holds neither, so a change you make to a Secret object
    is not kept.
    """
    from harvester_manifests.kustomize import layout_base, layout_env_file_secrets, layout_overlay
    from harvester_manifests.render import GITIGNORE
    from harvester_manifests.secrets import secret_specs

    base = base_objects() if base is None else base
    specs = secret_specs(cfg)
    files: Files = {f"base/{path}": content for path, content in layout_base(base).items()}
    overlay = layout_overlay(base, _committed(objects), specs, None, cfg.namespace)
    if secrets is not None:
        overlay |= layout_env_file_secrets(base, objects, specs, secrets)
    files.update({f"{env}/{path}": content for path, content in overlay.items()})
    files[".gitignore"] = GITIGNORE
    return dict(sorted(files.items()))


def write(out: Path, files: Files) -> None:
    """Write `files` into `out` with one atomic swap: `out` changes entirely or not at all.

    The top-level entries of `files` (base, one directory per environment) replace their
    old versions; other environments already in `out` are kept. Refuses (InputError) an
    `out` that is not empty and not a previous render.
    """
    from harvester_manifests.render import write_atomically

    write_atomically(out, files)


def _committed(objects: list[Obj]) -> list[Obj]:
    """`objects` without what only the local secrets/ layer holds: the Secrets, and the pod
    templates' checksum annotations."""
    from harvester_manifests.stack import SECRETS_CHECKSUM

    result = []
    for obj in objects:
        if obj["kind"] == "Secret":
            continue
        template = obj.get("spec", {}).get("template", {}).get("metadata", {})
        annotations = template.get("annotations", {})
        if obj["kind"] == "Deployment" and SECRETS_CHECKSUM in annotations:
            kept = {k: v for k, v in annotations.items() if k != SECRETS_CHECKSUM}
            meta = {k: v for k, v in template.items() if k != "annotations"}
            if kept:
                meta["annotations"] = kept
            spec = obj["spec"]
            obj = {**obj, "spec": {**spec, "template": {**spec["template"], "metadata": meta}}}
        result.append(obj)
    return result
