#!/usr/bin/env python3
"""Build kubeconform's offline JSON schemas for custom resources, from pinned Go modules.

The custom resources the output uses (Argo CD's Application, ApplicationSet and
AppProject; External Secrets' ExternalSecret and stores; Sealed Secrets'
SealedSecret) are validated against their projects' own CustomResourceDefinitions at
pinned versions, never against hand-written schemas. Each source is a Go module at a
version plus globs of CRD YAML inside it::

    github.com/argoproj/argo-cd/v3@v3.3.9:manifests/crds/*-crd.yaml

The module comes from the Go module proxy with ``go mod download -json MODULE@VERSION``
(checksummed by the Go toolchain against sum.golang.org, like every Go tool here);
its ``Dir`` in the module cache is globbed. Every served version of every CRD becomes
one JSON schema per strictness, laid out the way kubeconform's template
``{{ .Group }}/{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json`` looks it up::

    <out>/standalone-strict/argoproj.io/application_v1alpha1.json
    <out>/standalone/argoproj.io/application_v1alpha1.json
    <out>/crds/applications.argoproj.io.yaml     the CRD file, byte for byte (to install)
    <out>/index.json                             what came from where (sha256 of each file)
    <out>/.stamps/<module with / as +>@<version> one per source, written last

kubeconform's flag is then ``-schema-location '<out>/TEMPLATE'`` with TEMPLATE::

    standalone{{ .StrictSuffix }}/{{ .Group }}/{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json

Conversion of an ``openAPIV3Schema`` (a JSON Schema dialect) to plain JSON Schema
(kubeconform compiles it as draft 4):

- ``nullable: true`` adds ``"null"`` to the node's ``type`` (and ``null`` to its
  ``enum``), which is what the API server accepts;
- strict only: an object node that lists ``properties`` and says nothing about
  ``additionalProperties`` gets ``additionalProperties: false``, unless it carries
  ``x-kubernetes-preserve-unknown-fields: true``. That is the API server's pruning
  rule (an unknown field is dropped silently: for a manifest, a typo that never takes
  effect). Sub-schemas under ``allOf``/``anyOf``/``oneOf``/``not`` are left as they
  are: they constrain values and never declare the object's fields;
- everything else (descriptions, ``x-kubernetes-*``, formats, patterns) is copied.

The cache is built in a sibling temporary folder and swapped in whole. Usage::

    python tools/crd_schemas.py [--out .cache/crd-schemas] SOURCE [SOURCE ...]

Exit 1 with one ``crd_schemas: ...`` line on any failure (a download the Go
toolchain refuses, a glob that matches nothing, a file that is not a CRD, two sources
defining the same kind and version).
"""

from __future__ import annotations

import argparse
import fnmatch
import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from cache_dir import replaced, write_json

DEFAULT_OUT = Path(__file__).resolve().parent.parent / ".cache" / "crd-schemas"
STRICT_FOLDER = "standalone-strict"
PLAIN_FOLDER = "standalone"
CRDS_FOLDER = "crds"
STAMPS_FOLDER = ".stamps"
INDEX_FILE = "index.json"
# kubeconform's template, relative to the cache folder.
TEMPLATE = (
    "standalone{{ .StrictSuffix }}/{{ .Group }}/{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json"
)
DOWNLOAD_TIMEOUT_SECONDS = 900.0
JUNCTORS = ("allOf", "anyOf", "oneOf")


class CrdLoader(yaml.SafeLoader):
    """SafeLoader that reads a plain `=` as the string "=", as the API server does.

    YAML 1.1 (PyYAML) resolves a plain `=` to its "value" type, which SafeLoader cannot
    construct; Kubernetes reads YAML 1.2, where it is a string (prometheus-operator's CRDs
    list it in matchType enums: `- =`).
    """


def _plain_string(loader: CrdLoader, node: yaml.Node) -> str:
    if not isinstance(node, yaml.ScalarNode):
        raise yaml.constructor.ConstructorError(None, None, "`=` must be a scalar", node.start_mark)
    return str(loader.construct_scalar(node))


CrdLoader.add_constructor("tag:yaml.org,2002:value", _plain_string)


class CrdSchemaError(Exception):
    """The cache cannot be built; the message says why."""


@dataclass(frozen=True)
class Source:
    """One pinned module and the globs of CRD files inside it."""

    module: str
    version: str
    globs: tuple[str, ...]

    @classmethod
    def parse(cls, text: str) -> Source:
        pinned, sep, globs = text.partition(":")
        module, at, version = pinned.partition("@")
        patterns = tuple(glob for glob in globs.split(",") if glob)
        if not (sep and at and module and version and patterns):
            raise CrdSchemaError(f"source {text!r} is not MODULE@VERSION:GLOB[,GLOB...]")
        return cls(module, version, patterns)

    @property
    def stamp(self) -> str:
        """The stamp file's name: mk/crds.mk derives the same one."""
        return f"{self.module.replace('/', '+')}@{self.version}"

    def __str__(self) -> str:
        return f"{self.module}@{self.version}"


@dataclass(frozen=True)
class Crd:
    """One CRD document and where it came from."""

    source: Source
    path: str  # inside the module
    text: str
    document: dict[str, Any]

    @property
    def name(self) -> str:
        return str(self.document["metadata"]["name"])


def module_dir(source: Source) -> Path:
    """`go mod download -json MODULE@VERSION`: the module's folder in the module cache."""
    try:
        result = subprocess.run(
            ["go", "mod", "download", "-json", str(source)],
            capture_output=True,
            text=True,
            timeout=DOWNLOAD_TIMEOUT_SECONDS,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise CrdSchemaError(f"go mod download {source}: {error}") from None
    try:
        info = json.loads(result.stdout)
    except ValueError:
        info = {}
    if not isinstance(info, dict):
        info = {}
    problem = info.get("Error") or (result.stderr.strip() if result.returncode else "")
    directory = info.get("Dir")
    if problem or not isinstance(directory, str) or not Path(directory).is_dir():
        raise CrdSchemaError(
            f"go mod download {source} failed: {problem or 'no module directory reported'}"
        )
    return Path(directory)


def _module_files(root: Path) -> Iterator[str]:
    for folder, subfolders, files in os.walk(root):
        subfolders.sort()
        for name in sorted(files):
            yield (Path(folder) / name).relative_to(root).as_posix()


def read_crds(source: Source, root: Path) -> list[Crd]:
    """Every CRD the source's globs match, one document per file, in path order."""
    files = list(_module_files(root))
    crds: list[Crd] = []
    for glob in source.globs:
        matched = [path for path in files if fnmatch.fnmatchcase(path, glob)]
        if not matched:
            raise CrdSchemaError(f"{source}: {glob!r} matches no file in the module")
        for path in matched:
            text = (root / path).read_text(encoding="utf-8")
            documents = [doc for doc in yaml.load_all(text, CrdLoader) if doc is not None]
            if len(documents) != 1:
                raise CrdSchemaError(
                    f"{source}: {path} holds {len(documents)} YAML documents, not one CRD"
                )
            document = documents[0]
            if not (
                isinstance(document, dict)
                and document.get("apiVersion") == "apiextensions.k8s.io/v1"
                and document.get("kind") == "CustomResourceDefinition"
            ):
                raise CrdSchemaError(f"{source}: {path} is not an apiextensions.k8s.io/v1 CRD")
            crds.append(Crd(source, path, text, document))
    return crds


def convert(node: dict[str, Any], strict: bool, structural: bool = True) -> dict[str, Any]:
    """One openAPIV3Schema node as JSON Schema (see the module docstring)."""
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "properties" and isinstance(value, dict):
            out[key] = {name: convert(sub, strict, structural) for name, sub in value.items()}
        elif key in ("items", "additionalProperties") and isinstance(value, dict):
            out[key] = convert(value, strict, structural)
        elif key in JUNCTORS and isinstance(value, list):
            out[key] = [convert(sub, strict, structural=False) for sub in value]
        elif key == "not" and isinstance(value, dict):
            out[key] = convert(value, strict, structural=False)
        elif key != "nullable":
            out[key] = value
    if node.get("nullable") is True:
        if isinstance(out.get("type"), str):
            out["type"] = [out["type"], "null"]
        if isinstance(out.get("enum"), list) and None not in out["enum"]:
            out["enum"] = [*out["enum"], None]
    if (
        strict
        and structural
        and "properties" in out
        and "additionalProperties" not in out
        and out.get("x-kubernetes-preserve-unknown-fields") is not True
    ):
        out["additionalProperties"] = False
    return out


def schemas_of(crd: Crd) -> dict[tuple[str, str, str], dict[str, Any]]:
    """(group, lower-case kind, version) -> openAPIV3Schema, for each served version."""
    spec = crd.document["spec"]
    group, kind = str(spec["group"]), str(spec["names"]["kind"])
    found: dict[tuple[str, str, str], dict[str, Any]] = {}
    for version in spec.get("versions") or []:
        if not version.get("served", False):
            continue
        schema = (version.get("schema") or {}).get("openAPIV3Schema")
        if not isinstance(schema, dict):
            raise CrdSchemaError(
                f"{crd.source}: {crd.path}: {kind} {version.get('name')} has no openAPIV3Schema"
            )
        found[(group, kind.lower(), str(version["name"]))] = schema
    if not found:
        raise CrdSchemaError(f"{crd.source}: {crd.path}: {kind} serves no version")
    return found


def build(out: Path, sources: list[Source]) -> list[str]:
    """Write the whole cache to `out` (replacing it); return "group/kind_version" names."""
    crds = [crd for source in sources for crd in read_crds(source, module_dir(source))]
    with replaced(out.resolve()) as staging:
        written: dict[str, str] = {}  # schema name -> the CRD it came from
        index: list[dict[str, Any]] = []
        for crd in crds:
            crd_file = f"{CRDS_FOLDER}/{crd.name}.yaml"
            if (staging / crd_file).exists():
                raise CrdSchemaError(f"{crd.source}: {crd.path}: CRD {crd.name} is listed twice")
            (staging / CRDS_FOLDER).mkdir(exist_ok=True)
            (staging / crd_file).write_text(crd.text, "utf-8")
            names = []
            for (group, kind, version), schema in sorted(schemas_of(crd).items()):
                name = f"{group}/{kind}_{version}.json"
                if name in written:
                    raise CrdSchemaError(
                        f"{crd.source}: {crd.path}: {name} also in {written[name]}"
                    )
                written[name] = f"{crd.source}:{crd.path}"
                write_json(staging / STRICT_FOLDER / name, convert(schema, strict=True))
                write_json(staging / PLAIN_FOLDER / name, convert(schema, strict=False))
                names.append(name)
            index.append(
                {
                    "module": crd.source.module,
                    "version": crd.source.version,
                    "path": crd.path,
                    "sha256": hashlib.sha256(crd.text.encode("utf-8")).hexdigest(),
                    "crd": crd_file,
                    "schemas": names,
                }
            )
        write_json(staging / INDEX_FILE, {"template": TEMPLATE, "crds": index})
        (staging / STAMPS_FOLDER).mkdir()
        for source in sources:
            (staging / STAMPS_FOLDER / source.stamp).write_text(f"{source}\n", "utf-8")
    return sorted(written)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="cache folder to (re)build")
    parser.add_argument("sources", nargs="+", metavar="MODULE@VERSION:GLOB[,GLOB...]")
    args = parser.parse_args(argv)
    try:
        sources = [Source.parse(text) for text in args.sources]
        names = build(args.out, sources)
    except CrdSchemaError as error:
        print(f"crd_schemas: {error}", file=sys.stderr)
        return 1
    print(f"crd_schemas: {len(names)} schemas -> {args.out}: {', '.join(names)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
