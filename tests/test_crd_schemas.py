"""The custom resources' offline schemas (mk/crds.mk, tools/crd_schemas.py), with the real
kubeconform: each kind is accepted when valid and rejected, by -strict, for one misspelled
field. Nothing is mocked or skipped: a cache that `make setup` has not built fails here.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from harvester_manifests import validate
from harvester_manifests.validate import ToolError

ROOT = Path(__file__).resolve().parents[1]
CRDS_MK = ROOT / "mk" / "crds.mk"

Doc = dict[str, Any]


def _load_script() -> ModuleType:
    # As `python tools/crd_schemas.py` runs it: its sibling cache_dir.py importable.
    if str(ROOT / "tools") not in sys.path:
        sys.path.append(str(ROOT / "tools"))
    spec = importlib.util.spec_from_file_location("crd_schemas", ROOT / "tools" / "crd_schemas.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("crd_schemas", module)
    spec.loader.exec_module(module)
    return module


crd_schemas = _load_script()


def oldest_version() -> str:
    try:
        return validate.supported_kubernetes_versions()[0]
    except ToolError:
        return "schema-cache-missing"  # kubeconform() then raises: the test fails


def check(doc: Doc) -> validate.KubeconformReport:
    return validate.kubeconform(yaml.safe_dump(doc, sort_keys=False), oldest_version())


APP_SPEC: Doc = {
    "project": "harvester",
    "source": {
        "repoURL": "https://git.example.com/ops/harvester.git",
        "targetRevision": "main",
        "path": "build/dev",
    },
    "destination": {"server": "https://kubernetes.default.svc", "namespace": "harvester-dev"},
    "syncPolicy": {
        "automated": {"prune": True, "selfHeal": True},
        "syncOptions": ["PruneLast=true"],
    },
}


def _meta(name: str, namespace: str | None = "argocd") -> Doc:
    return {"name": name, **({"namespace": namespace} if namespace else {})}


def _rename(path: str, new: str) -> Callable[[Doc], None]:
    """A mutation that renames the last key of a dotted path (a misspelling)."""

    def mutate(doc: Doc) -> None:
        *parents, last = path.split(".")
        node = doc
        for key in parents:
            node = node[key]
        node[new] = node.pop(last)

    return mutate


def _misspell_remote_ref(doc: Doc) -> None:
    entry = doc["spec"]["data"][0]
    entry["remoteReff"] = entry.pop("remoteRef")


# (valid document, mutation that misspells one field, the misspelled field's name)
CASES: dict[str, tuple[Doc, Callable[[Doc], None], str]] = {
    "Application": (
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Application",
            "metadata": _meta("harvester-dev"),
            "spec": copy.deepcopy(APP_SPEC),
        },
        _rename("spec.syncPolicy.automated.selfHeal", "selfheal"),
        "selfheal",
    ),
    "ApplicationSet": (
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "ApplicationSet",
            "metadata": _meta("harvester"),
            "spec": {
                "goTemplate": True,
                "generators": [{"list": {"elements": [{"env": "dev"}]}}],
                "template": {
                    "metadata": {"name": "harvester-{{ .env }}"},
                    "spec": copy.deepcopy(APP_SPEC),
                },
            },
        },
        _rename("spec.template.spec.destination", "destinaton"),
        "destinaton",
    ),
    "AppProject": (
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "AppProject",
            "metadata": _meta("harvester"),
            "spec": {
                "sourceRepos": ["https://git.example.com/ops/harvester.git"],
                "destinations": [
                    {"server": "https://kubernetes.default.svc", "namespace": "harvester-dev"}
                ],
                "clusterResourceWhitelist": [{"group": "", "kind": "Namespace"}],
            },
        },
        _rename("spec.clusterResourceWhitelist", "clusterResourceWhiteList"),
        "clusterResourceWhiteList",
    ),
    "ExternalSecret": (
        {
            "apiVersion": "external-secrets.io/v1",
            "kind": "ExternalSecret",
            "metadata": _meta("api-keys", "harvester-dev"),
            "spec": {
                "refreshInterval": "1h",
                "secretStoreRef": {"kind": "ClusterSecretStore", "name": "vault"},
                "target": {"name": "api-keys", "creationPolicy": "Owner"},
                "data": [{"secretKey": "API_KEY", "remoteRef": {"key": "harvester/api-key"}}],
            },
        },
        _misspell_remote_ref,
        "remoteReff",
    ),
    "SecretStore": (
        {
            "apiVersion": "external-secrets.io/v1",
            "kind": "SecretStore",
            "metadata": _meta("vault", "harvester-dev"),
            "spec": {"provider": {"fake": {"data": [{"key": "harvester/api-key", "value": "x"}]}}},
        },
        _rename("spec.provider", "providers"),
        "providers",
    ),
    "ClusterSecretStore": (
        {
            "apiVersion": "external-secrets.io/v1",
            "kind": "ClusterSecretStore",
            "metadata": _meta("vault", None),
            "spec": {"provider": {"fake": {"data": [{"key": "harvester/api-key", "value": "x"}]}}},
        },
        _rename("spec.provider.fake", "fakes"),
        "fakes",
    ),
    "SealedSecret": (
        {
            "apiVersion": "bitnami.com/v1alpha1",
            "kind": "SealedSecret",
            "metadata": _meta("api-keys", "harvester-dev"),
            "spec": {
                "encryptedData": {"API_KEY": "AgBy3i4OJSWK+PiTySYZZA=="},
                "template": {
                    "metadata": {"name": "api-keys", "namespace": "harvester-dev"},
                    "type": "Opaque",
                },
            },
        },
        _rename("spec.template.type", "typ"),
        "typ",
    ),
}


@pytest.mark.parametrize("kind", sorted(CASES))
def test_a_valid_custom_resource_passes_strict(kind: str) -> None:
    doc, _, _ = CASES[kind]
    report = check(copy.deepcopy(doc))
    assert report.ok, [str(problem) for problem in report.problems()]


@pytest.mark.parametrize("kind", sorted(CASES))
def test_a_misspelled_field_is_rejected(kind: str) -> None:
    doc, misspell, field = CASES[kind]
    broken = copy.deepcopy(doc)
    misspell(broken)
    report = check(broken)
    assert report.invalid == 1, [str(result) for result in report.results]
    (problem,) = report.problems()
    assert any(field in message for message in problem.messages), problem.messages


def test_an_unknown_custom_kind_is_an_error_not_skipped() -> None:
    doc = copy.deepcopy(CASES["Application"][0])
    doc["apiVersion"] = "argoproj.io/v1beta9"
    report = check(doc)
    assert (report.errors, report.skipped) == (1, 0)
    assert "mk/crds.mk" in report.problems()[0].messages[0]


def test_a_missing_crd_cache_says_to_run_make_setup(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(validate.CRD_SCHEMAS_ENV, str(tmp_path))
    with pytest.raises(ToolError, match=r"no CRD schema cache .*make setup"):
        check(CASES["Application"][0])


# --- the cache itself -------------------------------------------------------------------


def crd_sources() -> list[str]:
    """CRD_SOURCES in mk/crds.mk, the one table of pins."""
    text = CRDS_MK.read_text(encoding="utf-8")
    match = re.search(r"^CRD_SOURCES := \\\n((?:\t.*\n)+)", text, re.MULTILINE)
    assert match is not None
    return [line.strip().rstrip("\\").strip() for line in match[1].splitlines()]


def test_every_pinned_source_has_its_stamp_and_schemas() -> None:
    cache = validate.crd_schemas_dir()
    index = json.loads((cache / "index.json").read_text(encoding="utf-8"))
    for source in crd_sources():
        parsed = crd_schemas.Source.parse(source)
        assert (cache / ".stamps" / parsed.stamp).is_file(), source
        assert any(entry["module"] == parsed.module for entry in index["crds"]), source
    schemas = {name for entry in index["crds"] for name in entry["schemas"]}
    assert {
        "argoproj.io/application_v1alpha1.json",
        "argoproj.io/applicationset_v1alpha1.json",
        "argoproj.io/appproject_v1alpha1.json",
        "bitnami.com/sealedsecret_v1alpha1.json",
        "external-secrets.io/externalsecret_v1.json",
        "external-secrets.io/secretstore_v1.json",
        "external-secrets.io/clustersecretstore_v1.json",
    } <= schemas
    for name in schemas:
        for folder in ("standalone", "standalone-strict"):
            assert (cache / folder / name).is_file(), f"{folder}/{name}"
    for entry in index["crds"]:
        assert (cache / entry["crd"]).is_file(), entry["crd"]


def test_strict_schemas_close_every_structural_object() -> None:
    """Every object that lists properties is closed, unless it preserves unknown fields."""
    cache = validate.crd_schemas_dir() / "standalone-strict"
    for path in sorted(cache.rglob("*.json")):
        stack: list[Any] = [json.loads(path.read_text(encoding="utf-8"))]
        while stack:
            node = stack.pop()
            if not isinstance(node, dict):
                continue
            if (
                "properties" in node
                and node.get("x-kubernetes-preserve-unknown-fields") is not True
            ):
                assert "additionalProperties" in node, path
            stack.extend(node.get("properties", {}).values())
            for key in ("items", "additionalProperties"):
                stack.append(node.get(key))


# --- conversion rules (pure functions of the script) ------------------------------------


def test_conversion_closes_objects_only_when_strict() -> None:
    node = {"type": "object", "properties": {"a": {"type": "string"}}}
    assert crd_schemas.convert(node, strict=True)["additionalProperties"] is False
    assert "additionalProperties" not in crd_schemas.convert(node, strict=False)


def test_conversion_keeps_preserved_objects_open_but_closes_their_children() -> None:
    node = {
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": True,
        "properties": {"child": {"type": "object", "properties": {"b": {"type": "integer"}}}},
    }
    out = crd_schemas.convert(node, strict=True)
    assert "additionalProperties" not in out
    assert out["properties"]["child"]["additionalProperties"] is False


def test_conversion_leaves_junctor_branches_alone() -> None:
    node = {
        "type": "object",
        "properties": {"a": {"type": "string"}, "b": {"type": "string"}},
        "anyOf": [{"required": ["a"], "properties": {"a": {"minLength": 1}}}],
    }
    out = crd_schemas.convert(node, strict=True)
    assert "additionalProperties" not in out["anyOf"][0]


def test_conversion_turns_nullable_into_a_null_type() -> None:
    node = {"type": "string", "nullable": True, "enum": ["a"]}
    assert crd_schemas.convert(node, strict=True) == {
        "type": ["string", "null"],
        "enum": ["a", None],
    }


def test_a_malformed_source_is_refused() -> None:
    for text in ("github.com/x/y", "github.com/x/y@v1", "github.com/x/y:glob", "@v1:glob"):
        with pytest.raises(crd_schemas.CrdSchemaError, match="MODULE@VERSION"):
            crd_schemas.Source.parse(text)


def test_every_cached_schema_compiles() -> None:
    """kubeconform passes over a schema it cannot compile as if it were absent: so each
    kind and version the cache holds must give a verdict, never "could not find"."""
    index = json.loads((validate.crd_schemas_dir() / "index.json").read_text(encoding="utf-8"))
    docs = []
    for entry in index["crds"]:
        text = (validate.crd_schemas_dir() / entry["crd"]).read_text("utf-8")
        crd = yaml.load(text, crd_schemas.CrdLoader)
        for version in crd["spec"]["versions"]:
            docs.append(
                {
                    "apiVersion": f"{crd['spec']['group']}/{version['name']}",
                    "kind": crd["spec"]["names"]["kind"],
                    "metadata": {"name": "probe"},
                }
            )
    report = validate.kubeconform(yaml.safe_dump_all(docs), oldest_version())
    assert report.resources == len(docs)
    assert report.errors == 0 and report.skipped == 0, [str(p) for p in report.problems()]


def test_a_plain_equals_sign_is_read_as_a_string() -> None:
    """YAML 1.1's `=` (value) type would stop the build; Kubernetes reads it as "="."""
    assert yaml.load("enum:\n- =\n- '!='\n", crd_schemas.CrdLoader) == {"enum": ["=", "!="]}
