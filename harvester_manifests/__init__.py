"""harvester-manifests: one typed description of Signal Harvester, rendered as Kustomize.

The public library surface is what this module exports (`__all__`); every other module is
internal and may change. The four steps `harvester-gen render` takes, for a platform team that
wants to change the objects in between (a label on everything, a sidecar, an annotation)::

    from pathlib import Path
    import harvester_manifests as hm

    cfg = hm.load_config(Path("overlays"), "prod")     # overlays/prod.yaml over the defaults
    secrets = hm.load_secrets(cfg, Path(".env"))       # None with secrets: {source: external}
    objects = hm.render_objects(cfg, secrets)          # Kubernetes objects, as plain dicts
    files = hm.lay_out("prod", cfg, objects, secrets)  # build/base + build/prod, as text
    hm.write(Path("build"), files)                     # atomically; other environments kept

Bad input raises `InputError`, whose `problems` each name a file, a field and what is wrong.
The library never prints and never exits.
"""

from __future__ import annotations

__version__ = "0.1.0"

from pathlib import Path
from typing import Any

from harvester_manifests.checks import broken_references
from harvester_manifests.config.envfile import read_env_file
from harvester_manifests.config.loader import environments
from harvester_manifests.config.loader import load_config as _load_config
from harvester_manifests.config.models import Config
from harvester_manifests.errors import InputError, Problem, RenderError
from harvester_manifests.kustomize import Files, layout_base, layout_overlay
from harvester_manifests.render import GITIGNORE, write_atomically
from harvester_manifests.secrets import SecretValues, collect, secret_specs
from harvester_manifests.stack import build_stack, render_environment

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


def load_config(config_dir: Path, env: str) -> Config:
    """The validated configuration of one environment: `<config_dir>/<env>.yaml` merged key by
    key over the defaults (the deployment guide's production values).

    Raises InputError naming the file and every field that is wrong.
    """
    return _load_config(config_dir, env)


def load_secrets(cfg: Config, env_file: Path) -> SecretValues | None:
    """The secret values `cfg` needs, read from a KEY=VALUE file such as `.env`.

    None when `cfg.secrets.source` is "external" (the Secrets exist in the cluster already).
    Raises InputError naming every missing key.
    """
    if cfg.secrets.source != "env-file":
        return None
    return collect(cfg, read_env_file(env_file), str(env_file))


def render_objects(cfg: Config, secrets: SecretValues | None = None) -> list[Obj]:
    """Every object `kubectl apply -k build/<env>` creates for `cfg`, in a stable order.

    With `secrets`, the Secrets are included and each Deployment that reads one carries a
    checksum annotation, so a changed value rolls its pods. The result is yours to change.
    """
    objects = render_environment(cfg, secrets)
    broken = broken_references(objects)
    if broken:
        raise RenderError("the generator produced inconsistent objects: " + "; ".join(broken))
    return objects


def base_objects() -> list[Obj]:
    """The objects of `build/base/`: the default configuration, without Secrets."""
    return build_stack(Config())


def lay_out(
    env: str,
    cfg: Config,
    objects: list[Obj],
    secrets: SecretValues | None = None,
    base: list[Obj] | None = None,
) -> Files:
    """The Kustomize files of `objects`: `base/...` and `<env>/...`, by relative path.

    The overlay holds only what differs from `base` (default: `base_objects()`), as JSON
    patches. When you change every object (a label, say), change `base` the same way, or each
    overlay patches every object. Secrets are not laid out as objects: the overlay's
    secretGenerator makes them from `<env>/secrets/*.env` (written from `secrets`), so a change
    you make to a Secret object is not kept.
    """
    base = base_objects() if base is None else base
    files: Files = {f"base/{path}": content for path, content in layout_base(base).items()}
    overlay = layout_overlay(base, objects, secret_specs(cfg), secrets, cfg.namespace)
    files.update({f"{env}/{path}": content for path, content in overlay.items()})
    files[".gitignore"] = GITIGNORE
    return dict(sorted(files.items()))


def write(out: Path, files: Files) -> None:
    """Write `files` into `out` with one atomic swap: `out` changes entirely or not at all.

    The top-level entries of `files` (base, one directory per environment) replace their
    old versions; other environments already in `out` are kept. Refuses (InputError) an
    `out` that is not empty and not a previous render.
    """
    replaced = {path.split("/", 1)[0] for path in files}
    write_atomically(out, files, replace_all=False, replaced=replaced)
