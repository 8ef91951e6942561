"""The pinned toolchain (mk/tools.mk) and the offline schemas, with the real binaries.

Nothing here is mocked or skipped: a tool or schema cache that `make setup` has not
built makes these tests fail, with the ToolError saying so.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from harvester_manifests import validate
from harvester_manifests.validate import KubeconformReport, ToolError

ROOT = Path(__file__).resolve().parents[1]
TOOLS_MK = ROOT / "mk" / "tools.mk"
FIXTURE = Path(__file__).resolve().parent / "fixtures" / "minimal"
OLDEST_MINOR = 30
CLOSED_PROXY = "http://127.0.0.1:9"  # discard port: nothing listens, a connect is refused
PROXY_VARIABLES = ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy", "ALL_PROXY")


def pin(variable: str) -> str:
    """A version pinned in mk/tools.mk, the one source of truth."""
    match = re.search(rf"^{variable}\s*:=\s*(\S+)\s*$", TOOLS_MK.read_text(), re.MULTILINE)
    assert match is not None, f"no `{variable} := ...` in {TOOLS_MK}"
    return match.group(1)


def tool_output(name: str, *args: str) -> str:
    """What a tool in bin/ prints (ToolError, hence a failure, if it is missing)."""
    result = subprocess.run(
        [str(validate.tool(name)), *args], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return (result.stdout + result.stderr).strip()


def versions_to_test() -> list[str]:
    """Every supported version; without a cache, a placeholder whose tests then fail."""
    try:
        return validate.supported_kubernetes_versions()
    except ToolError:
        return ["schema-cache-missing"]


VERSIONS = versions_to_test()


def deployment() -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "labels": {"app": "web"}},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [
                        {
                            "name": "web",
                            "image": "registry.example.com/web:1.0.0",
                            "imagePullPolicy": "IfNotPresent",
                            "ports": [{"name": "http", "containerPort": 8080}],
                            "resources": {"limits": {"cpu": "500m", "memory": "128Mi"}},
                        }
                    ]
                },
            },
        },
    }


def container(doc: dict[str, Any]) -> dict[str, Any]:
    containers: list[dict[str, Any]] = doc["spec"]["template"]["spec"]["containers"]
    return containers[0]


def misspell_spec_field(doc: dict[str, Any]) -> None:
    doc["spec"]["replica"] = doc["spec"].pop("replicas")


def misspell_container_field(doc: dict[str, Any]) -> None:
    container(doc)["imagePulPolicy"] = container(doc).pop("imagePullPolicy")


def replicas_as_string(doc: dict[str, Any]) -> None:
    doc["spec"]["replicas"] = "two"


def container_port_as_string(doc: dict[str, Any]) -> None:
    container(doc)["ports"][0]["containerPort"] = "8080"


def drop_container_name(doc: dict[str, Any]) -> None:
    del container(doc)["name"]


def drop_selector(doc: dict[str, Any]) -> None:
    del doc["spec"]["selector"]


# Each breakage, and the words kubeconform -strict must say about it.
BROKEN: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "misspelled-spec-field": (misspell_spec_field, "additional properties 'replica' not allowed"),
    "misspelled-container-field": (
        misspell_container_field,
        "additional properties 'imagePulPolicy' not allowed",
    ),
    "wrong-type-replicas": (replicas_as_string, "/spec/replicas: got string, want"),
    "wrong-type-container-port": (container_port_as_string, "containerPort: got string, want"),
    "missing-container-name": (drop_container_name, "missing property 'name'"),
    "missing-spec-selector": (drop_selector, "/spec: missing property 'selector'"),
}


def check(doc: dict[str, Any], version: str) -> KubeconformReport:
    return validate.kubeconform(yaml.safe_dump(doc, sort_keys=False), version)


# --- pins -------------------------------------------------------------------------------


def test_kubeconform_prints_the_pinned_version() -> None:
    assert tool_output("kubeconform", "-v") == pin("KUBECONFORM_VERSION")


def test_kustomize_prints_the_pinned_version() -> None:
    assert tool_output("kustomize", "version") == pin("KUSTOMIZE_VERSION")


def test_kube_score_prints_the_pinned_version() -> None:
    out = tool_output("kube-score", "version")
    assert out.startswith(f"kube-score version: {pin('KUBE_SCORE_VERSION')},"), out


def test_kube_linter_prints_the_pinned_version() -> None:
    assert tool_output("kube-linter", "version") == pin("KUBE_LINTER_VERSION")


# --- the schema cache -------------------------------------------------------------------


def shipped_versions() -> list[str]:
    """The versions kubernetes-validate ships, from 1.30 on (found without importing it)."""
    spec = importlib.util.find_spec("kubernetes_validate")
    assert spec is not None and spec.submodule_search_locations
    root = Path(next(iter(spec.submodule_search_locations))) / "kubernetes-json-schema"
    found = []
    for entry in root.iterdir():
        match = re.fullmatch(r"v1\.(\d+)\.(\d+)-local", entry.name)
        if match and int(match[1]) >= OLDEST_MINOR:
            found.append((int(match[1]), int(match[2])))
    return [f"1.{minor}.{patch}" for minor, patch in sorted(found)]


def test_every_minor_from_1_30_to_the_newest_shipped_is_supported() -> None:
    supported = validate.supported_kubernetes_versions()
    assert supported == shipped_versions()
    newest = int(supported[-1].split(".")[1])
    assert supported == [f"1.{minor}.0" for minor in range(OLDEST_MINOR, newest + 1)]


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("name", ["deployment-apps-v1", "service-v1"])
def test_schemas_are_standalone(version: str, name: str) -> None:
    """No $id and no $ref leaving the file: nothing for kubeconform to fetch."""
    validate.supported_kubernetes_versions()  # a missing cache fails here, clearly
    for suffix in ("", "-strict"):
        path = validate.schemas_dir() / f"v{version}-standalone{suffix}" / f"{name}.json"
        text = path.read_text()
        schema = json.loads(text)
        assert "$id" not in text
        refs = re.findall(r'"\$ref":"([^"]*)"', text)
        assert refs, path
        assert all(ref.removeprefix("#/$defs/") in schema["$defs"] for ref in refs), path
    strict = json.loads(
        (validate.schemas_dir() / f"v{version}-standalone-strict" / f"{name}.json").read_text()
    )
    assert strict["additionalProperties"] is False


# --- kubeconform -strict, every version -------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
def test_a_correct_deployment_is_valid(version: str) -> None:
    report = check(deployment(), version)
    assert report.ok, report.problems()
    assert (report.resources, report.valid) == (1, 1)
    assert report.kubernetes_version == version


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("case", sorted(BROKEN))
def test_a_broken_deployment_is_invalid(version: str, case: str) -> None:
    breaks, expected = BROKEN[case]
    doc = copy.deepcopy(deployment())
    breaks(doc)
    report = check(doc, version)
    assert not report.ok
    assert (report.resources, report.invalid, report.valid) == (1, 1, 0)
    [result] = report.results
    assert result.status == "invalid"
    assert any(expected in message for message in result.messages), result.messages


@pytest.mark.parametrize("version", VERSIONS)
def test_a_kind_without_schema_is_an_error_never_skipped(version: str) -> None:
    widget = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    report = check(widget, version)
    assert (report.resources, report.errors, report.skipped) == (1, 1, 0)
    [result] = report.results
    assert result.status == "error"
    assert "could not find schema for Widget" in result.messages[0]


@pytest.mark.parametrize("version", VERSIONS)
def test_the_fixture_kustomization_is_valid(version: str) -> None:
    [report] = validate.validate_directory(FIXTURE, [version])
    assert report.ok, report.problems()
    assert report.resources == report.valid == 2
    assert sorted(r.kind for r in report.results) == ["Deployment", "Service"]


def test_validate_directory_defaults_to_every_version() -> None:
    reports = validate.validate_directory(FIXTURE)
    assert [r.kubernetes_version for r in reports] == validate.supported_kubernetes_versions()
    assert all(r.ok for r in reports)


# --- no network -------------------------------------------------------------------------


def test_kubeconform_never_reaches_the_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """With every proxy a closed local port, validation still works: nothing is fetched."""
    for variable in PROXY_VARIABLES:
        monkeypatch.setenv(variable, CLOSED_PROXY)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    manifests = validate.kustomize_build(FIXTURE)
    for version in validate.supported_kubernetes_versions():
        report = validate.kubeconform(manifests, version)
        assert report.ok and report.valid == 2, report.problems()

    # Control: kubeconform does honour the proxy, so a fetch would have failed above.
    remote = subprocess.run(
        [
            str(validate.tool("kubeconform")),
            "-kubernetes-version",
            validate.supported_kubernetes_versions()[0],
            "-schema-location",
            "https://schemas.invalid/{{ .ResourceKind }}.json",
            "-",
        ],
        input=manifests,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert remote.returncode == 1
    assert "127.0.0.1:9" in remote.stdout, remote.stdout


# --- API errors -------------------------------------------------------------------------


def test_a_missing_tool_says_to_run_make_setup(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(validate.BIN_ENV, str(tmp_path))
    with pytest.raises(ToolError, match=r"kustomize not found .*make setup"):
        validate.kustomize_build(FIXTURE)


def test_a_missing_schema_cache_says_to_run_make_setup(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(validate.SCHEMAS_ENV, str(tmp_path))
    with pytest.raises(ToolError, match="make setup"):
        validate.supported_kubernetes_versions()
    with pytest.raises(ToolError, match="make setup"):
        validate.kubeconform(yaml.safe_dump(deployment()), "1.31.0")


def test_a_failing_kustomize_build_raises_with_its_stderr(tmp_path: Path) -> None:
    with pytest.raises(ToolError, match=r"kustomize build .* failed"):
        validate.kustomize_build(tmp_path)


def test_versions_are_matched_by_minor() -> None:
    oldest = validate.supported_kubernetes_versions()[0]
    minor = ".".join(oldest.split(".")[:2])
    for alias in (minor, f"v{minor}.7", oldest):
        assert check(deployment(), alias).kubernetes_version == oldest
    with pytest.raises(validate.UnsupportedKubernetesVersion, match=r"1\.12"):
        check(deployment(), "1.12")
