#!/usr/bin/env python3
"""Build kubeconform's offline Kubernetes JSON schemas from the kubernetes-validate package.

kubernetes-validate ships one folder per Kubernetes minor (``v1.31.0-local`` and
``v1.31.0-local-strict``), but its schemas cannot be handed to kubeconform as they are:
each has an https ``$id`` and ``$ref``s to ``/api/_definitions.json``, which resolve
against that ``$id`` to a URL, so kubeconform would go to the network and, failing
that, report a misleading "could not find schema".

This script writes *standalone* schemas instead: every kind's file carries the
definitions it reaches under its own ``$defs``, every ``$ref`` is a local
``#/$defs/...`` pointer and no ``$id`` is left, so nothing is ever fetched. The layout
is the one kubeconform's ``-schema-location`` template expects::

    <out>/v1.31.0-standalone-strict/deployment-apps-v1.json
    <out>/v1.31.0-standalone/deployment-apps-v1.json
    <out>/versions.txt            one supported Kubernetes version per line (1.31.0)

File names follow kubeconform's template ``{{ .ResourceKind }}{{ .KindSuffix }}``:
the lower-cased kind, then the first label of the API group (none for the core
group), then the API version, taken from each definition's
``x-kubernetes-group-version-kind`` so that e.g. ``internal.apiserver.k8s.io``
gives ``storageversion-internal-v1alpha1.json`` as kubeconform looks it up. Only
definitions that are API kinds get a file: any other kind (a CRD, a typo) has no
schema, and kubeconform reports it as an error.

``-strict`` schemas come from the package's strict folders, whose objects have
``additionalProperties: false`` (as upstream's ``-strict`` schemas do); this script
checks that, and adds it wherever an object with ``properties`` lacks it.

The cache is built in a sibling temporary folder and swapped in whole, so a reader
never sees half of it. Usage::

    python tools/k8s_schemas.py [--out .cache/k8s-schemas] [--require-package-version X]
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import json
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cache_dir import replaced, write_json

DIST = "kubernetes-validate"
PACKAGE = "kubernetes_validate"
MIN_VERSION = (1, 30)
DEFINITIONS_FILE = "_definitions.json"
VERSIONS_FILE = "versions.txt"
MANIFEST_FILE = "manifest.json"
DEFAULT_OUT = Path(__file__).resolve().parent.parent / ".cache" / "k8s-schemas"

# The $ref forms the package uses: into the shared definitions file from a kind's
# file, and within the definitions file itself. Both become "#/$defs/<name>".
EXTERNAL_REF = "/api/_definitions.json#/$defs/"
LOCAL_REF = "#/$defs/"

# JSON Schema keywords whose values are schemas (everything else, such as "enum",
# "default" or "x-kubernetes-*", is data and is copied untouched: JSONSchemaProps has
# a *property* named "$ref", which must not be taken for a reference).
SCHEMA_KEYWORDS = frozenset(
    {
        "items",
        "additionalItems",
        "additionalProperties",
        "unevaluatedItems",
        "unevaluatedProperties",
        "contains",
        "propertyNames",
        "not",
        "if",
        "then",
        "else",
    }
)
SCHEMA_LIST_KEYWORDS = frozenset({"allOf", "anyOf", "oneOf", "prefixItems"})
SCHEMA_MAP_KEYWORDS = frozenset(
    {"properties", "patternProperties", "dependentSchemas", "$defs", "definitions"}
)

SOURCE_DIR = re.compile(r"^v(?P<version>(?P<major>\d+)\.(?P<minor>\d+)\.(?P<patch>\d+))-local$")

Schema = dict[str, Any]


class SchemaBuildError(Exception):
    """The package's schemas are not what this script expects."""


@dataclass(frozen=True)
class SourceVersion:
    """One Kubernetes version the package ships, both its folders."""

    version: str  # "1.31.0"
    key: tuple[int, int, int]
    plain: Path  # .../v1.31.0-local
    strict: Path  # .../v1.31.0-local-strict


def package_schema_root() -> Path:
    """The kubernetes-json-schema folder of the installed package (not imported: no stubs)."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise SchemaBuildError(f"the {DIST} package is not installed: run `make setup`")
    for location in spec.submodule_search_locations:
        root = Path(location) / "kubernetes-json-schema"
        if root.is_dir():
            return root
    raise SchemaBuildError(f"{DIST} is installed but has no kubernetes-json-schema folder")


def package_version() -> str:
    return importlib.metadata.version(DIST)


def source_versions(root: Path, minimum: tuple[int, int] = MIN_VERSION) -> list[SourceVersion]:
    """Every version folder pair the package ships, from `minimum` up, oldest first."""
    found: list[SourceVersion] = []
    for entry in root.iterdir():
        match = SOURCE_DIR.match(entry.name)
        if match is None or not entry.is_dir():
            continue
        key = (int(match["major"]), int(match["minor"]), int(match["patch"]))
        if key[:2] < minimum:
            continue
        strict = root / f"{entry.name}-strict"
        if not strict.is_dir():
            raise SchemaBuildError(f"{entry} has no -strict sibling")
        found.append(SourceVersion(match["version"], key, entry, strict))
    if not found:
        raise SchemaBuildError(f"no schema folders for Kubernetes >= {minimum} under {root}")
    return sorted(found, key=lambda v: v.key)


def _load(path: Path) -> Schema:
    with path.open(encoding="utf-8") as handle:
        data = json.load(handle)
    if not isinstance(data, dict):
        raise SchemaBuildError(f"{path}: not a JSON object")
    return data


def _def_name(ref: str, where: str) -> str:
    for prefix in (EXTERNAL_REF, LOCAL_REF):
        if ref.startswith(prefix):
            name = ref[len(prefix) :]
            if name and "/" not in name:
                return name.replace("~1", "/").replace("~0", "~")
    raise SchemaBuildError(f"{where}: unexpected $ref {ref!r}")


def _children(node: Schema) -> Iterable[Any]:
    """The subschemas directly inside a schema node."""
    for key, value in node.items():
        if key in SCHEMA_KEYWORDS:
            yield value
        elif key in SCHEMA_LIST_KEYWORDS and isinstance(value, list):
            yield from value
        elif key in SCHEMA_MAP_KEYWORDS and isinstance(value, dict):
            yield from value.values()


def _refs(node: Any, where: str) -> set[str]:
    """Names of the definitions a schema refers to directly (not transitively)."""
    found: set[str] = set()
    stack = [node]
    while stack:
        current = stack.pop()
        if not isinstance(current, dict):
            continue
        ref = current.get("$ref")
        if isinstance(ref, str):
            found.add(_def_name(ref, where))
        stack.extend(_children(current))
    return found


def _rewrite(node: Any, strict: bool, where: str) -> Any:
    """A copy of a schema with local refs, and (strict) closed objects."""
    if not isinstance(node, dict):
        return node
    out: Schema = {}
    for key, value in node.items():
        if key == "$id":
            continue
        if key == "$ref" and isinstance(value, str):
            out[key] = LOCAL_REF + _def_name(value, where).replace("~", "~0").replace("/", "~1")
        elif key in SCHEMA_KEYWORDS:
            out[key] = _rewrite(value, strict, where)
        elif key in SCHEMA_LIST_KEYWORDS and isinstance(value, list):
            out[key] = [_rewrite(item, strict, where) for item in value]
        elif key in SCHEMA_MAP_KEYWORDS and isinstance(value, dict):
            out[key] = {name: _rewrite(sub, strict, where) for name, sub in value.items()}
        else:
            out[key] = value
    if strict and "properties" in out and "additionalProperties" not in out:
        out["additionalProperties"] = False
    return out


def kind_file_names(schema: Schema) -> list[str]:
    """kubeconform's file names for a definition: one per group-version-kind it serves."""
    names: list[str] = []
    for gvk in schema.get("x-kubernetes-group-version-kind", []):
        kind, group, version = gvk["kind"].lower(), gvk["group"], gvk["version"]
        suffix = f"-{group.split('.')[0].lower()}-{version}" if group else f"-{version}"
        name = f"{kind}{suffix.lower()}.json"
        if name not in names:
            names.append(name)
    return names


def standalone_schemas(source: Path, strict: bool) -> dict[str, Schema]:
    """File name -> standalone schema, for every API kind in one package folder."""
    definitions_doc = _load(source / DEFINITIONS_FILE)
    definitions = definitions_doc.get("$defs")
    if not isinstance(definitions, dict):
        raise SchemaBuildError(f"{source / DEFINITIONS_FILE}: no $defs")
    rewritten: dict[str, Schema] = {}
    direct_refs: dict[str, set[str]] = {}
    for name, definition in definitions.items():
        where = f"{source / DEFINITIONS_FILE}#{name}"
        rewritten[name] = _rewrite(definition, strict, where)
        direct_refs[name] = _refs(definition, where)

    result: dict[str, Schema] = {}
    origin: dict[str, str] = {}
    for path in sorted(source.glob("*.json")):
        if path.name == DEFINITIONS_FILE:
            continue
        schema = _load(path)
        names = kind_file_names(schema)
        if not names:
            continue  # a building block (Container, PodSpec...), not an API kind
        if "$defs" in schema:
            raise SchemaBuildError(f"{path}: a kind's file already has $defs")
        where = str(path)
        needed: set[str] = set()
        pending = list(_refs(schema, where))
        while pending:
            name = pending.pop()
            if name in needed:
                continue
            if name not in definitions:
                raise SchemaBuildError(f"{where}: $ref to missing definition {name!r}")
            needed.add(name)
            pending.extend(direct_refs[name])
        standalone = _rewrite(schema, strict, where)
        if needed:
            standalone["$defs"] = {name: rewritten[name] for name in sorted(needed)}
        for file_name in names:
            if file_name in result and result[file_name] != standalone:
                raise SchemaBuildError(
                    f"{source}: {origin[file_name]} and {path.name} both map to {file_name}"
                )
            result[file_name] = standalone
            origin[file_name] = path.name
    if not result:
        raise SchemaBuildError(f"{source}: no API kinds found")
    return result


def check_standalone(schema: Schema, strict: bool, where: str) -> None:
    """Every $ref resolves inside the document, no $id is left, strict objects are closed."""
    defs = schema.get("$defs", {})
    stack: list[Any] = [schema]
    while stack:
        node = stack.pop()
        if not isinstance(node, dict):
            continue
        if "$id" in node:
            raise SchemaBuildError(f"{where}: $id left in a schema")
        ref = node.get("$ref")
        if isinstance(ref, str) and (
            not ref.startswith(LOCAL_REF) or _def_name(ref, where) not in defs
        ):
            raise SchemaBuildError(f"{where}: $ref {ref!r} does not resolve in the file")
        if strict and "properties" in node and "additionalProperties" not in node:
            raise SchemaBuildError(f"{where}: strict object without additionalProperties")
        stack.extend(_children(node))


def build(out: Path, minimum: tuple[int, int] = MIN_VERSION) -> list[str]:
    """Write the whole cache to `out` (replacing it) and return the supported versions."""
    root = package_schema_root()
    versions = source_versions(root, minimum)
    with replaced(out.resolve()) as staging:
        counts: dict[str, int] = {}
        for source in versions:
            for strict in (False, True):
                folder = f"v{source.version}-standalone{'-strict' if strict else ''}"
                target = staging / folder
                target.mkdir()
                schemas = standalone_schemas(source.strict if strict else source.plain, strict)
                for file_name, schema in schemas.items():
                    check_standalone(schema, strict, f"{folder}/{file_name}")
                    write_json(target / file_name, schema)
                counts[folder] = len(schemas)
        supported = [source.version for source in versions]
        (staging / VERSIONS_FILE).write_text("".join(f"{v}\n" for v in supported), "utf-8")
        manifest = {"package": DIST, "package_version": package_version(), "folders": counts}
        write_json(staging / MANIFEST_FILE, manifest)
    return supported


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="cache folder to (re)build")
    parser.add_argument(
        "--require-package-version",
        metavar="VERSION",
        help=f"fail unless the installed {DIST} is this version (the pin in pyproject.toml)",
    )
    args = parser.parse_args(argv)
    installed = package_version()
    if args.require_package_version and installed != args.require_package_version:
        print(
            f"k8s_schemas: {DIST} {installed} is installed but {args.require_package_version}"
            " is pinned: run `make setup`",
            file=sys.stderr,
        )
        return 1
    try:
        supported = build(args.out)
    except SchemaBuildError as error:
        print(f"k8s_schemas: {error}", file=sys.stderr)
        return 1
    print(f"k8s_schemas: {DIST} {installed} -> {args.out}: Kubernetes {', '.join(supported)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
