"""Object-level limits the Kubernetes API server enforces, checked on the rendered objects.

Field-level limits (int32, CIDR, quantities, DNS names) are types on the config models
(config/types.py); these are the limits only the finished object shows.
"""

from __future__ import annotations

import base64

from harvester_manifests import names
from harvester_manifests.components.common import Obj
from harvester_manifests.errors import Problem

# ConfigMap and Secret data: the API server refuses more than 1 MiB in total.
MAX_DATA_BYTES = 2**20
# Annotations of one object: at most 256 KiB in total (keys and values).
MAX_ANNOTATION_BYTES = 256 * 2**10

# The overlay field a generated object's size comes from, for the message.
_FIELDS = {("ConfigMap", names.API_SETTINGS): "api.settings"}


def _data_bytes(obj: Obj) -> int:
    total = 0
    for key, value in (obj.get("data") or {}).items():
        raw = base64.b64decode(value) if obj["kind"] == "Secret" else str(value).encode()
        total += len(key.encode()) + len(raw)
    for key, value in (obj.get("binaryData") or {}).items():
        total += len(key.encode()) + len(base64.b64decode(value))
    return total


def limit_problems(objects: list[Obj], source: str) -> list[Problem]:
    """One Problem per rendered object the API server would refuse for its size."""
    problems = []
    for obj in objects:
        kind, name = obj["kind"], obj["metadata"]["name"]
        field = _FIELDS.get((kind, name), "")
        if kind in ("ConfigMap", "Secret"):
            size = _data_bytes(obj)
            if size > MAX_DATA_BYTES:
                problems.append(
                    Problem(
                        source,
                        field,
                        f"{kind} {name} would hold {size} bytes of data; Kubernetes allows "
                        f"at most {MAX_DATA_BYTES} (1 MiB)",
                    )
                )
        annotations = obj["metadata"].get("annotations") or {}
        size = sum(len(k.encode()) + len(str(v).encode()) for k, v in annotations.items())
        if size > MAX_ANNOTATION_BYTES:
            problems.append(
                Problem(
                    source,
                    field,
                    f"{kind} {name} would carry {size} bytes of annotations; Kubernetes allows "
                    f"at most {MAX_ANNOTATION_BYTES}",
                )
            )
    return problems
