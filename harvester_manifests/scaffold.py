"""`harvester-gen init`: the files of a new GitOps repository that uses this package.

The overlays, .gitignore and README are templates shipped inside the package
(`templates/init/`); .env.example is generated from the models. Nothing is ever overwritten.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from harvester_manifests.envexample import env_example
from harvester_manifests.errors import InputError, Problem
from harvester_manifests.kustomize import Files

TEMPLATES = "templates/init"
# The project's files, by where they land -> the template they come from.
TEMPLATE_FILES = {
    "README.md": "README.md",
    ".gitignore": "gitignore",
    "overlays/dev.yaml": "overlays/dev.yaml",
    "overlays/staging.yaml": "overlays/staging.yaml",
    "overlays/prod.yaml": "overlays/prod.yaml",
}


def project_files() -> Files:
    """Every file `init` writes, by path relative to the project directory."""
    root = resources.files("harvester_manifests").joinpath(TEMPLATES)
    files = {
        target: root.joinpath(source).read_text(encoding="utf-8")
        for target, source in TEMPLATE_FILES.items()
    }
    files[".env.example"] = env_example()
    return dict(sorted(files.items()))


def init_project(directory: Path) -> list[Path]:
    """Write the project files into `directory` (created if needed); return what was written.

    Refuses, writing nothing, when any of the files already exists.
    """
    files = project_files()
    if directory.exists() and not directory.is_dir():
        raise InputError([Problem(str(directory), "", "exists and is not a directory")])
    existing = [directory / relative for relative in files if (directory / relative).exists()]
    if existing:
        raise InputError(
            [Problem(str(p), "", "already exists: init never overwrites a file") for p in existing]
        )
    written = []
    for relative, content in files.items():
        path = directory / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("x", encoding="utf-8") as handle:  # "x": never replace a file
            handle.write(content)
        written.append(path)
    return written
