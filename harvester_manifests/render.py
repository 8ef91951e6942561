"""Renders environments into an output directory, all or nothing.

Everything is computed in memory first, written to a temporary directory beside the output,
then swapped in with one atomic rename: a render that fails or is interrupted leaves the
output exactly as it was.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import fcntl
import os
import shutil
import stat
import tempfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from harvester_manifests.argocd import argocd_objects, destination_clashes
from harvester_manifests.checks import broken_references
from harvester_manifests.components.common import Obj
from harvester_manifests.config.envfile import EnvFileError, read_env_file
from harvester_manifests.config.gitops import GitOps, gitops_path, load_gitops
from harvester_manifests.config.loader import (
    config_path,
    environments,
    load_config,
    read_overlay_and_text,
)
from harvester_manifests.config.models import Config
from harvester_manifests.delivery import Delivery, Sources, deliver
from harvester_manifests.errors import InputError, OutputError, Problem, RenderError
from harvester_manifests.kustomize import (
    SECRETS_DIR,
    Files,
    PatchMemo,
    layout_base,
    layout_env_file_secrets,
    layout_flat,
    layout_overlay,
)
from harvester_manifests.limits import limit_problems
from harvester_manifests.secrets import (
    SecretValues,
    checked_secrets,
    redact,
    refuse_leaks,
    refuse_leaks_in_files,
    secret_specs,
)
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
    try:
        placeholders = set(read_env_file(example).values())
    except InputError:
        return []
    stale = sorted(
        f"{name}/{key}"
        for name, kv in values.values.items()
        for key, v in kv.items()
        if v in placeholders
    )
    return [f"{env_path}: still the .env.example placeholder: {', '.join(stale)}"] if stale else []


def ingress_hosts(objects: list[Obj]) -> list[str]:
    """The hosts the environment's Ingresses serve, in render order (none twice)."""
    hosts = [
        str(rule["host"])
        for obj in objects
        if obj["kind"] == "Ingress"
        for rule in obj["spec"].get("rules", [])
        if "host" in rule
    ]
    return list(dict.fromkeys(hosts))


EnvCache = dict[Path, dict[str, str] | InputError]


def _read_env(path: Path, cache: EnvCache) -> dict[str, str]:
    """An env file read once per render however many environments share it."""
    if path not in cache:
        try:
            cache[path] = read_env_file(path)
        except InputError as exc:
            cache[path] = exc
    found = cache[path]
    if isinstance(found, InputError):
        raise found
    return found


def _known_values(cache: EnvCache) -> dict[str, str]:
    """Every variable's value from every env file read, even one with bad lines: {var: value}."""
    known: dict[str, str] = {}
    for found in cache.values():
        if isinstance(found, EnvFileError):
            known |= found.values
        elif isinstance(found, dict):
            known |= found
    return known


def _load(
    env: str, config_dir: Path, env_file: Path | None, root: Path, cache: EnvCache
) -> tuple[Config, Path]:
    """One environment's config and the env file it reads, validated in an order that never
    echoes a secret.

    Every env file is read first and the overlay is checked for their values before it is
    validated, so a secret pasted into a field is reported as a leak, by field name, not echoed
    back in the field's validation message (and every message is masked besides). The values
    themselves are read by the environment's secrets mode (delivery.py).
    """
    path = config_path(config_dir, env)
    env_path = env_file_for(env, env_file, root)
    data, text = read_overlay_and_text(path)
    secrets = checked_secrets(_known_values(cache))
    refuse_leaks(secrets, path, text, data)
    return load_config(config_dir, env, data), env_path


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
    cache: EnvCache = {}
    for env in envs:
        with contextlib.suppress(InputError):  # reported by the environments that need it
            _read_env(env_file_for(env, env_file, root), cache)
    for env in envs:
        try:
            cfg, env_path = _load(env, config_dir, env_file, root, cache)
            read = cache.get(env_path)
            given = Sources(
                config_dir, env_path, out / env, seal_cert, read if isinstance(read, dict) else None
            )
            delivered = deliver(env, cfg, given)
            if delivered.values is not None:
                warnings += [
                    f"{env}: {w}" for w in placeholder_warnings(delivered.values, env_path, root)
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
    known = _known_values(cache)
    every_value = list(known.values())
    if problems:
        # The same .env shared by every environment is reported once.
        raise InputError(redact(list(dict.fromkeys(problems)), every_value))

    result = RenderPlan(warnings=warnings)
    if gitops is not None:
        stacks = {
            env: configs[env][1].stack if env in configs else render_environment(cfg, None)
            for env, cfg in argocd_configs.items()
        }
        argocd = argocd_objects(gitops, argocd_configs, stacks)
        result.files.update({f"{ARGOCD}/{p}": c for p, c in layout_flat(argocd).items()})
        result.argocd = out / ARGOCD
    base = build_stack(Config())
    result.files.update({f"base/{p}": c for p, c in layout_base(base).items()})
    for env, (cfg, delivered) in configs.items():
        objects = delivered.applied
        problems += limit_problems(objects, str(config_path(config_dir, env)))
        if problems:
            continue
        broken = broken_references(objects)
        if broken:
            raise RenderError(
                f"{env}: the generator produced inconsistent objects: " + "; ".join(broken)
            )
        specs = secret_specs(cfg)
        memo: PatchMemo = {}  # the secrets/ layer compares mostly the same objects again
        overlay = layout_overlay(base, delivered.committed, specs, None, cfg.namespace, memo)
        if delivered.local_layer and delivered.values is not None:
            overlay |= layout_env_file_secrets(base, objects, specs, delivered.values, memo)
        result.files.update({f"{env}/{p}": c for p, c in overlay.items()})
        result.environments.append(
            EnvironmentSummary(
                name=env,
                kinds=dict(sorted(Counter(o["kind"] for o in objects).items())),
                hosts=ingress_hosts(objects),
                path=out / env / SECRETS_DIR if delivered.local_layer else out / env,
                secrets=delivered.source,
            )
        )
    if problems:
        raise InputError(redact(problems, every_value))
    result.files[".gitignore"] = GITIGNORE
    try:
        refuse_leaks_in_files(checked_secrets(known), result.files, out)
    except InputError as exc:
        raise InputError(redact(exc.problems, every_value)) from None
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
    root = root or Path()
    envs = resolve_environments(requested, config_dir)
    inputs = [(config_dir, "the config directory"), *_env_files(envs, env_file, root)]
    refuse_overlap(out, inputs)
    result = plan(envs, config_dir, out, env_file, root, gitops_file, seal_cert)
    write_atomically(out, result.files, prune_overlays=requested == "all")
    return result


def _env_files(envs: list[str], env_file: Path | None, root: Path) -> list[tuple[Path, str]]:
    paths = {env_file_for(env, env_file, root) for env in envs}
    return [(path, "the env file") for path in sorted(paths) if path.exists()]


def _resolved(path: Path) -> Path:
    try:
        return Path(os.path.realpath(path))
    except (OSError, ValueError):
        return path.absolute()


def refuse_overlap(out: Path, inputs: list[tuple[Path, str]]) -> None:
    """The output never holds the input, nor the input the output: a swap would delete it."""
    target = _resolved(out)
    problems = []
    for path, what in inputs:
        source = _resolved(path)
        if source == target or target in source.parents:
            problems.append(
                Problem(
                    str(out), "", f"holds {what} {path}: render replaces it; choose another --out"
                )
            )
        elif source in target.parents:
            problems.append(
                Problem(str(out), "", f"is inside {what} {path}: choose an --out outside it")
            )
    if problems:
        raise InputError(problems)


def write_atomically(out: Path, files: Files, prune_overlays: bool = False) -> None:
    """Write `files` into `out` and swap the result in with one rename.

    What render owns in `out`: the top-level entries `files` names (base/, each rendered
    <env>/, .gitignore, and any other directory render writes, see RESERVED_NAMES); with
    prune_overlays, also every other rendered overlay (a directory whose kustomization.yaml
    starts from ../base), so an environment whose overlay file is gone disappears from `out`.
    Everything else in `out` (a README, the user's own files) is carried over unchanged.

    A symlinked `out` is followed: the render lands in its target and the link stays.
    Renders into one output are serialised by a lock on the directory that holds it, so each
    staging directory is its own render's, and only a dead render's are swept.
    """
    try:
        target = _resolved(out)
        target.parent.mkdir(parents=True, exist_ok=True)
        with _locked(target.parent):
            _refuse_foreign(target, out)
            prefix = f".{target.name}.rendering-"
            for stale in target.parent.glob(f"{prefix}*"):
                # Left by a render that was killed: a live one would hold the lock.
                shutil.rmtree(stale, ignore_errors=True)
            staging = Path(tempfile.mkdtemp(prefix=prefix, dir=target.parent))
            try:
                _populate(staging, target, files, prune_overlays)
                _swap(staging, target)
            finally:
                # After the swap this is the old output; after a failure, the half-written one.
                shutil.rmtree(staging, ignore_errors=True)
    except OSError as exc:
        raise output_error(exc, out) from None


def _populate(staging: Path, target: Path, files: Files, prune_overlays: bool) -> None:
    owned = {relative.split("/", 1)[0] for relative in files}
    if target.is_dir():
        for entry in sorted(target.iterdir()):
            if entry.name in owned or (prune_overlays and _is_rendered_overlay(entry)):
                continue
            _copy(entry, staging / entry.name)
    previous = _Previous(target, staging, _umask())
    made: set[str] = set()
    for relative, content in sorted(files.items()):
        directory = relative.rpartition("/")[0]
        if directory and directory not in made:
            # Never mkdir(parents=True): staging must already exist, and be this render's own.
            for parent in reversed(PurePosixPath(relative).parents[:-1]):
                if str(parent) not in made:
                    (staging / parent).mkdir(exist_ok=True)
                    made.add(str(parent))
        name = relative.rpartition("/")[2]
        env_file = name.endswith(".env") and name != ".env"  # Path(name).suffix == ".env"
        data = content.encode("utf-8")
        if not previous.reuse(relative, directory, data, env_file):
            _write(f"{staging}/{relative}", data, env_file)
    staging.chmod(0o755)


def _write(path: str, data: bytes, env_file: bool) -> None:
    """The file's bytes, by the os calls themselves (a fleet writes thousands of small files,
    and Python's text layer costs more than the kernel's work); a .env file is only ever 0600."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o666)
    try:
        if env_file:
            os.fchmod(fd, 0o600)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


def _umask() -> int:
    """The process's umask (set and restored at once: no other way to read it)."""
    mask = os.umask(0o077)
    os.umask(mask)
    return mask


class _Previous:
    """The previous render's files, hard-linked into staging where they hold the same bytes.

    Creating a file costs the kernel far more than linking one (a re-render of 300
    environments writes some 8000 files, nearly all unchanged), and the swap then removes the
    old names only. What lands in staging is checked after linking, on the linked inode
    itself: a regular file, with exactly the new content, the mode and owner a fresh write
    would give it, and no other name than the old output's (which the swap removes). Anything
    else is unlinked again and written. The old output is never written to: a render that
    fails leaves it as it was. An unchanged file keeps its modification time.
    """

    def __init__(self, target: Path, staging: Path, umask: int) -> None:
        self.target, self.staging = str(target), str(staging)
        self.modes = {False: 0o666 & ~umask, True: 0o600}  # by "is a .env file"
        self.uid = os.geteuid()
        self.real_dirs: dict[str, bool] = {"": True}

    def reuse(self, relative: str, directory: str, data: bytes, env_file: bool) -> bool:
        if not self._real_dir(directory):
            return False
        path = f"{self.staging}/{relative}"
        try:
            os.link(f"{self.target}/{relative}", path, follow_symlinks=False)
        except OSError:
            return False
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError:
            same = False  # a symbolic link, linked as such
        else:
            with os.fdopen(fd, "rb") as handle:
                info = os.fstat(fd)
                same = (
                    stat.S_ISREG(info.st_mode)
                    and info.st_nlink == 2
                    and stat.S_IMODE(info.st_mode) == self.modes[env_file]
                    and info.st_uid == self.uid
                    and info.st_size == len(data)
                    and handle.read(len(data) + 1) == data
                )
        if not same:
            os.unlink(path)
        return same

    def _real_dir(self, directory: str) -> bool:
        """Whether the old output's directory, and each above it, is a directory of its own
        (not a symbolic link to one elsewhere)."""
        if directory not in self.real_dirs:
            try:
                mode = os.lstat(f"{self.target}/{directory}").st_mode
            except OSError:
                mode = 0
            parent = directory.rpartition("/")[0]
            self.real_dirs[directory] = stat.S_ISDIR(mode) and self._real_dir(parent)
        return self.real_dirs[directory]


def _is_rendered_overlay(entry: Path) -> bool:
    """A directory render made for an environment: its kustomization starts from ../base."""
    kustomization = entry / "kustomization.yaml"
    if entry.is_symlink() or not entry.is_dir() or not kustomization.is_file():
        return False
    try:
        text = kustomization.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    return "\nresources:\n- ../base\n" in text


@contextlib.contextmanager
def _locked(directory: Path) -> Iterator[None]:
    """An exclusive lock on the directory that holds the output, released on exit or death."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the only descriptor releases the lock


# Errors that say the user's --out is unusable (exit 2); the others are the machine's (exit 1).
_PATH_ERRORS = {
    errno.ENAMETOOLONG: "a name in the path is too long for the filesystem",
    errno.EACCES: "permission denied: cannot write there",
    errno.EPERM: "operation not permitted: cannot write there",
    errno.EROFS: "read-only filesystem",
    errno.ENOTDIR: "a parent in the path is not a directory",
    errno.EEXIST: "a parent in the path is not a directory",
    errno.ELOOP: "too many levels of symbolic links",
}
_DEVICE_ERRORS = {
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EFBIG: "file too large (the filesystem's or the process's file size limit)",
    errno.EIO: "input/output error",
}


def output_error(exc: OSError, out: Path) -> Exception:
    """One line naming the user's --out, never the staging directory."""
    if exc.errno in _PATH_ERRORS:
        return InputError([Problem(str(out), "", _PATH_ERRORS[exc.errno])])
    reason = _DEVICE_ERRORS.get(exc.errno or 0, exc.strerror or type(exc).__name__)
    return OutputError(f"{out}: cannot write the output: {reason}; it was left as it was")


def _copy(source: Path, target: Path) -> None:
    if source.is_dir() and not source.is_symlink():
        shutil.copytree(source, target, symlinks=True)
    else:
        shutil.copy2(source, target, follow_symlinks=False)


def _refuse_foreign(out: Path, shown: Path) -> None:
    """Never replace a directory that is not a previous render (a typo in --out)."""
    if out.exists() and not out.is_dir():
        raise InputError([Problem(str(shown), "", "exists and is not a directory")])
    if out.is_dir() and any(out.iterdir()) and not (out / "base" / "kustomization.yaml").exists():
        raise InputError(
            [
                Problem(
                    str(shown), "", "exists and is not a harvester-gen output: choose another --out"
                )
            ]
        )


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
