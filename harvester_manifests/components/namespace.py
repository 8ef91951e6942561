"""The namespace, with Pod Security "restricted" enforced by its labels."""

from __future__ import annotations

from harvester_manifests import names
from harvester_manifests.components.common import Obj


def build_namespace(namespace: str) -> Obj:
    pss = {
        f"pod-security.kubernetes.io/{mode}{suffix}": value
        for mode in ("enforce", "audit", "warn")
        for suffix, value in (("", "restricted"), ("-version", "latest"))
    }
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": namespace,
            "labels": {
                "app.kubernetes.io/part-of": names.PART_OF,
                "app.kubernetes.io/managed-by": names.MANAGED_BY,
                **pss,
            },
        },
    }
