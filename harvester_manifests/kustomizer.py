"""Running the real kustomize: which one, building a directory, its objects by identity.

`harvester-gen diff` builds both sides with it, so what it compares is exactly what
`kubectl apply -k` (or Argo CD's repo-server) would apply: no re-implementation of kustomize
to drift from the real one as the layout grows.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from harvester_manifests.components.common import Obj
from harvester_manifests.errors import ToolError

# The file names kustomize accepts for a kustomization, in the order it looks for them.
KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
TIMEOUT_SECONDS = 300.0
# "loading KV pairs: env source files: [secrets/x.env]: line [...] has invalid utf8 bytes : K=V"
_ENV_SOURCE = re.compile(r"^(.*?env source files: \[[^\]]*\]):")
_KLOG_ERROR = re.compile(r'"command failed" err="((?:[^"\\]|\\.)*)"')


@dataclass(frozen=True, order=True)
class ObjectId:
    """What identifies an object in a cluster: group, kind, namespace ("" if none) and name."""

    group: str
    kind: str
    namespace: str
    name: str

    @staticmethod
    def of(obj: Obj) -> ObjectId:
        meta = obj.get("metadata") or {}
        return ObjectId(
            str(obj.get("apiVersion", "")).rpartition("/")[0],
            str(obj.get("kind", "")),
            str(meta.get("namespace") or ""),
            str(meta.get("name", "")),
        )


class BuildFailed(ToolError):
    """kustomize ran and refused the directory (its message, first lines)."""


@dataclass(frozen=True)
class Kustomize:
    """A kustomize to run: `kustomize build DIR`, or `kubectl kustomize DIR`."""

    command: tuple[str, ...]

    @property
    def name(self) -> str:
        return " ".join([Path(self.command[0]).name, *self.command[1:]])

    def build(self, directory: Path, root: Path | None = None, shown_as: str = "") -> list[Obj]:
        """The objects `directory` builds to, in kustomize's order; BuildFailed if it refuses.

        In an error message, `shown_as` replaces the path of `root` (a temporary path means
        nothing to the reader).
        """
        try:
            result = subprocess.run(
                [*self.command, str(directory)],
                capture_output=True,
                encoding="utf-8",
                errors="replace",  # kustomize may quote a file's bytes as they are
                check=False,
                timeout=TIMEOUT_SECONDS,
            )
        except subprocess.TimeoutExpired:
            raise ToolError(f"{self.name} timed out after {TIMEOUT_SECONDS:.0f}s") from None
        except OSError as exc:
            raise ToolError(f"cannot run {self.command[0]}: {exc.strerror}") from None
        if result.returncode != 0:
            raise BuildFailed(_first_line(result.stderr, root, shown_as))
        try:
            docs = list(yaml.safe_load_all(result.stdout))
        except yaml.YAMLError:
            raise ToolError(f"{self.name} printed something that is not YAML") from None
        objects = [doc for doc in docs if doc is not None]
        if not all(isinstance(o, dict) for o in objects):
            raise ToolError(f"{self.name} printed something that is not a list of objects")
        return objects


def _first_line(stderr: str, root: Path | None, shown_as: str) -> str:
    """kustomize's complaint, on one line: without kubectl's log prefix or temporary paths."""
    lines = stderr.strip().splitlines()
    message = lines[0] if lines else ""
    for line in lines:
        logged = _KLOG_ERROR.search(line)  # kubectl kustomize logs it, klog style
        if logged or line.lower().startswith("error: "):
            message = _unquote(logged[1]) if logged else line[len("error: ") :]
            break
    message = message.strip() or "failed with no message"
    quoting = _ENV_SOURCE.match(message)
    if quoting:  # what follows may quote a line of the file, secret value included
        message = f"{quoting[1]}: unreadable (kustomize's detail withheld: it quotes the file)"
    if root is not None:  # kustomize may name the path with its symlinks resolved
        for form in sorted({str(root.absolute()), str(root.resolve())}, key=len, reverse=True):
            message = message.replace(form, shown_as)
    return message


def _unquote(quoted: str) -> str:
    return re.sub(r"\\(.)", r"\1", quoted)


def find_kustomize(explicit: str | None = None) -> Kustomize:
    """`explicit` (a path, or a name on PATH) if given; else kustomize on PATH; else kubectl's.

    ToolError, one line, when none is there.
    """
    if explicit is not None:
        path = shutil.which(explicit)
        if path is None:
            raise ToolError(f"--kustomize {explicit}: no such executable")
        return Kustomize((path, "build"))
    path = shutil.which("kustomize")
    if path is not None:
        return Kustomize((path, "build"))
    path = shutil.which("kubectl")
    if path is not None:
        return Kustomize((path, "kustomize"))
    raise ToolError(
        "neither kustomize nor kubectl is on PATH: install one, or give --kustomize PATH"
    )


def kustomization_file(directory: Path) -> Path | None:
    """The kustomization file of `directory`, None when it has none."""
    for name in KUSTOMIZATION_FILES:
        if (directory / name).is_file():
            return directory / name
    return None


def missing_inputs(directory: Path) -> list[Path]:
    """Files the generators of `directory` (and of the local directories it includes) read,
    that do not exist: the gitignored secret values of a fresh clone.

    Only names are looked at, never contents. A kustomization that does not parse is left to
    kustomize to complain about.
    """
    missing: list[Path] = []
    seen: set[Path] = set()
    pending = [directory.absolute()]
    while pending:
        current = Path(os.path.normpath(pending.pop()))
        if current in seen:
            continue
        seen.add(current)
        spec = _kustomization(current)
        for entry in [*_strings(spec.get("resources")), *_strings(spec.get("components"))]:
            if "://" not in entry and (current / entry).is_dir():
                pending.append(current / entry)
        for generator in [
            *_dicts(spec.get("secretGenerator")),
            *_dicts(spec.get("configMapGenerator")),
        ]:
            sources = [*_strings(generator.get("envs")), *_strings([generator.get("env")])]
            sources += [f.partition("=")[2] or f for f in _strings(generator.get("files"))]
            for source in sources:
                path = Path(os.path.normpath(current / source))
                if not path.exists() and path not in missing:
                    missing.append(path)
    return sorted(missing)


def _kustomization(directory: Path) -> dict[str, Any]:
    path = kustomization_file(directory)
    if path is None:
        return {}
    try:
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return {}
    return spec if isinstance(spec, dict) else {}


def _strings(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []
