"""The repository-wide GitOps settings: gitops.yaml beside overlays/ (at the repository root).

What is the same for every environment lives here: the Git repository Argo CD reads, the
revision it follows, where the rendered output sits in it, and Argo CD's namespace and
project. What differs per environment (the destination cluster, the sync policy) is the
`argocd:` section of each overlays/<env>.yaml. Without a gitops.yaml nothing of Argo CD is
rendered: the output is then for `kubectl apply -k` only.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, ValidationError

from harvester_manifests.config.loader import problems_from, read_overlay
from harvester_manifests.config.types import DnsLabel, Model
from harvester_manifests.errors import InputError

GITOPS_FILE = "gitops.yaml"


class GitOps(Model):
    """Where Argo CD finds the committed output, and where its own objects live."""

    # https://, ssh:// and git@host:path are what Argo CD clones; file:// serves tests.
    repo_url: str = Field(alias="repoURL", pattern=r"^(https?://|ssh://|file:///|git@)\S+$")
    target_revision: str = Field(default="HEAD", pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,254}$")
    # The output directory inside the repository (each Application points at <path>/<env>).
    path: str = Field(default="build", pattern=r"^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$")
    namespace: DnsLabel = "argocd"  # Argo CD's own namespace: Applications live there
    project: DnsLabel = "signal-harvester"  # the AppProject, and the Applications' name prefix


def gitops_path(root: Path) -> Path:
    return root / GITOPS_FILE


def load_gitops(path: Path) -> GitOps | None:
    """The validated settings, or None when the file does not exist (no Argo CD output)."""
    if not path.exists():
        return None
    data = read_overlay(path, check_name=False)
    try:
        return GitOps.model_validate(data)
    except ValidationError as exc:
        raise InputError(problems_from(str(path), exc, GitOps)) from None
