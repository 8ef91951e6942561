"""monitoring.mode operator: what it emits instead of the bundled stack, its configuration,
and its cross-checks (exit 2, one clear line each, output untouched).

The monitoring content itself (rules, routing, dashboards) is checked with promtool and
amtool in tests/monitoring/test_operator_monitoring.py; the real prometheus-operator turns it
into Prometheus and Alertmanager configuration in tests/e2e/test_operator.py.
"""

from __future__ import annotations

import copy
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harvester_manifests import names, validate
from harvester_manifests.components import operator as op
from harvester_manifests.config.envfile import read_env_file
from harvester_manifests.config.loader import load_config
from harvester_manifests.config.models import Config
from harvester_manifests.errors import InputError
from harvester_manifests.render import render
from harvester_manifests.secrets import collect, secret_specs
from harvester_manifests.stack import build_stack, render_environment
from harvester_manifests.syncwaves import SERVER_SIDE_APPLY
from tests.conftest import (
    ENV_EXAMPLE,
    OVERLAYS,
    ROOT,
    Obj,
    apply_dir,
    delivered_secrets,
    index,
    kubeconform_accepts,
    kustomize_build,
)
from tests.test_errors import assert_input_error, out, render_overlays, snapshot  # noqa: F401
from tests.test_layout import normalized
from tests.test_properties import env_file

OPERATOR_ENV = "prod-shared-monitoring"
MONITORING_APPS = {names.PROMETHEUS, names.GRAFANA, names.ALERTMANAGER}


def operator_config(**operator: Any) -> Config:
    return Config.model_validate({"monitoring": {"mode": "operator", "operator": operator}})


@pytest.fixture(scope="session")
def operator_built(rendered: Path) -> dict[tuple[str, str], Obj]:
    return index(kustomize_build(apply_dir(rendered, OPERATOR_ENV)))


def test_the_example_environment_is_operator_mode() -> None:
    cfg = load_config(OVERLAYS, OPERATOR_ENV)
    assert cfg.monitoring.mode == "operator"
    assert cfg.monitoring.operator.prometheus_labels() == {"release": "kube-prometheus-stack"}


def test_bundled_is_the_default_and_emits_no_operator_kinds() -> None:
    kinds = {o["kind"] for o in build_stack(Config())}
    assert Config().monitoring.mode == "bundled"
    assert not kinds & {"ServiceMonitor", "PrometheusRule", "AlertmanagerConfig"}


def test_operator_mode_emits_no_monitoring_stack(
    operator_built: dict[tuple[str, str], Obj],
) -> None:
    """No Prometheus, Grafana or Alertmanager Deployment, PVC, Service, Ingress, RBAC or
    config of our own: only the API, and the objects the cluster's stack picks up."""
    kinds = {kind for kind, _ in operator_built}
    assert {"ServiceMonitor", "PrometheusRule", "AlertmanagerConfig"} <= kinds
    assert not kinds & {"ClusterRole", "ClusterRoleBinding"}
    for (kind, name), obj in operator_built.items():
        app = obj["metadata"].get("labels", {}).get("app")
        if kind in ("Deployment", "PersistentVolumeClaim", "Service", "Ingress", "ServiceAccount"):
            assert app == names.API, (kind, name)
        if kind == "ConfigMap":
            assert name.startswith(f"{names.PART_OF}-dashboard-"), name
    assert set(delivered_secrets(operator_built)) == {
        names.API_KEYS_SECRET,
        names.SLACK_SECRET,
    }
    assert not {name for _, name in operator_built} & {
        "prometheus-config",
        "alertmanager-config",
        names.GRAFANA_ADMIN_SECRET,
        names.BASIC_AUTH_SECRET,
    }


def test_service_monitor_scrapes_the_api_service(
    operator_built: dict[tuple[str, str], Obj],
) -> None:
    cfg = load_config(OVERLAYS, OPERATOR_ENV)
    monitor = operator_built[("ServiceMonitor", names.API)]
    service = operator_built[("Service", names.API)]
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert (
        monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    )
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": [cfg.namespace]}
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["port"] in {p["name"] for p in service["spec"]["ports"]}
    assert endpoint["path"] == cfg.api.metrics_path
    assert endpoint["interval"] == cfg.prometheus.scrape_interval


def test_network_policy_admits_the_clusters_prometheus(
    operator_built: dict[tuple[str, str], Obj],
) -> None:
    policies = {name for kind, name in operator_built if kind == "NetworkPolicy"}
    assert policies == {names.DEFAULT_DENY, names.API}
    policy = operator_built[("NetworkPolicy", names.API)]
    scrape = [
        rule
        for rule in policy["spec"]["ingress"]
        if rule["from"][0].get("podSelector", {}).get("matchLabels")
        == {"app.kubernetes.io/name": "prometheus"}
    ]
    assert scrape == [
        {
            "from": [
                {
                    "namespaceSelector": {
                        "matchLabels": {"kubernetes.io/metadata.name": "monitoring"}
                    },
                    "podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}},
                }
            ],
            "ports": [{"protocol": "TCP", "port": 8000}],
        }
    ]


def test_dashboards_for_the_grafana_sidecar(operator_built: dict[tuple[str, str], Obj]) -> None:
    boards = [o for (kind, _), o in operator_built.items() if kind == "ConfigMap"]
    assert len(boards) == 3
    for board in boards:
        meta = board["metadata"]
        assert meta["namespace"] == "monitoring"
        assert meta["labels"]["grafana_dashboard"] == "1"
        assert meta["annotations"] == {"grafana_folder": "Signal Harvester", **SERVER_SIDE_APPLY}


def test_configurable_selectors_namespace_sidecar_and_pod_labels() -> None:
    cfg = operator_config(
        namespace="observability",
        prometheusSelector={"prometheus": "shared"},
        alertmanagerSelector={"alertmanager": "shared"},
        prometheusPodLabels={"app.kubernetes.io/instance": "shared"},
        dashboards={
            "label": "dash",
            "labelValue": "yes",
            "folder": "Team A",
            "namespace": "grafana",
        },
    )
    objects = {(o["kind"], o["metadata"]["name"]): o for o in build_stack(cfg)}
    assert objects[("ServiceMonitor", names.API)]["metadata"]["labels"]["prometheus"] == "shared"
    assert objects[("PrometheusRule", op.RULES)]["metadata"]["labels"]["prometheus"] == "shared"
    amc = objects[("AlertmanagerConfig", op.ALERTMANAGER_CONFIG)]
    assert amc["metadata"]["labels"]["alertmanager"] == "shared"
    assert "release" not in amc["metadata"]["labels"]
    board = objects[("ConfigMap", op.dashboard_config_map_name("kubernetes-pods"))]
    assert board["metadata"]["namespace"] == "grafana"
    assert board["metadata"]["labels"]["dash"] == "yes"
    assert board["metadata"]["annotations"] == {"grafana_folder": "Team A", **SERVER_SIDE_APPLY}
    ingress = objects[("NetworkPolicy", names.API)]["spec"]["ingress"]
    assert {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "observability"}},
        "podSelector": {"matchLabels": {"app.kubernetes.io/instance": "shared"}},
    } in [peer for rule in ingress for peer in rule["from"]]


def test_without_alertmanager_config_no_routing_and_no_slack_secret() -> None:
    cfg = operator_config(alertmanagerConfig=False)
    assert "AlertmanagerConfig" not in {o["kind"] for o in build_stack(cfg)}
    assert [s.name for s in secret_specs(cfg)] == [names.API_KEYS_SECRET]


def test_release_sets_both_default_selectors() -> None:
    cfg = operator_config(release="monitoring-stack")
    assert cfg.monitoring.operator.prometheus_labels() == {"release": "monitoring-stack"}
    assert cfg.monitoring.operator.alertmanager_labels() == {"release": "monitoring-stack"}


def test_a_selector_mapping_replaces_the_default_whole(
    write_overlay: Callable[[str, str], Path],
) -> None:
    config_dir = write_overlay(
        "x",
        "monitoring:\n  mode: operator\n  operator:\n    prometheusSelector: {team: a}\n",
    )
    cfg = load_config(config_dir, "x")
    assert cfg.monitoring.operator.prometheus_labels() == {"team": "a"}


# --- cross-checks: exit 2, one line per problem, the output left as it was ---------------------

OPERATOR = "monitoring:\n  mode: operator\n"
ERRORS = {
    "bundled-only prometheus setting": (
        OPERATOR + "prometheus:\n  retention: 3d\n  storage: {size: 1Gi}\n",
        [
            "x.yaml: prometheus.retention: applies only to monitoring.mode bundled",
            "x.yaml: prometheus.storage: applies only to monitoring.mode bundled",
        ],
    ),
    "grafana in operator mode": (
        OPERATOR + "grafana:\n  port: 3001\n",
        ["x.yaml: grafana.port: applies only to monitoring.mode bundled"],
    ),
    "alertmanager storage in operator mode": (
        OPERATOR + "alertmanager:\n  storage: {size: 1Gi}\n",
        ["x.yaml: alertmanager.storage: applies only to monitoring.mode bundled"],
    ),
    "monitoring auth in operator mode": (
        OPERATOR + "monitoringAuth:\n  enabled: false\n",
        ["x.yaml: monitoringAuth.enabled: applies only to monitoring.mode bundled"],
    ),
    "operator settings in bundled mode": (
        "monitoring:\n  operator:\n    namespace: observability\n",
        ["x.yaml: monitoring.operator.namespace: applies only to monitoring.mode operator"],
    ),
    "slack channels without an AlertmanagerConfig": (
        OPERATOR
        + "  operator:\n    alertmanagerConfig: false\n"
        + "alertmanager:\n  slack: {critical: '#pager'}\n",
        ["x.yaml: alertmanager.slack: is used only by the AlertmanagerConfig"],
    ),
    "alertmanager selector without an AlertmanagerConfig": (
        OPERATOR + "  operator:\n    alertmanagerConfig: false\n    alertmanagerSelector: {a: b}\n",
        ["x.yaml: monitoring.operator.alertmanagerSelector: is used only by the Alertmanager"],
    ),
    "empty selector": (
        OPERATOR + "  operator:\n    prometheusSelector: {}\n",
        ["x.yaml: monitoring.operator.prometheusSelector: empty"],
    ),
    "empty pod labels": (
        OPERATOR + "  operator:\n    prometheusPodLabels: {}\n",
        ["x.yaml: monitoring.operator.prometheusPodLabels: empty"],
    ),
    "label value no object can carry": (
        OPERATOR + "  operator:\n    prometheusSelector: {release: 'kube prometheus'}\n",
        ["x.yaml: monitoring.operator.prometheusSelector:", "would match nothing"],
    ),
    "label key that is not one": (
        OPERATOR + "  operator:\n    prometheusPodLabels: {'-bad': x}\n",
        ["x.yaml: monitoring.operator.prometheusPodLabels:", "not a Kubernetes label key"],
    ),
    "release that no label can carry": (
        OPERATOR + "  operator:\n    release: -stack\n",
        ["x.yaml: monitoring.operator.release:", "should match pattern"],
    ),
    "sidecar label key that is not one": (
        OPERATOR + "  operator:\n    dashboards: {label: _dashboard}\n",
        ["x.yaml: monitoring.operator.dashboards.label:", "should match pattern"],
    ),
    "unknown mode": (
        "monitoring:\n  mode: external\n",
        ["x.yaml: monitoring.mode:", "'bundled' or 'operator'"],
    ),
}


@pytest.mark.parametrize("case", sorted(ERRORS))
def test_cross_checks_exit_2_with_one_line_each(
    case: str,
    tmp_path: Path,
    out: Path,  # noqa: F811
) -> None:
    text, expected = ERRORS[case]
    config_dir = tmp_path / "overlays"
    config_dir.mkdir()
    (config_dir / "x.yaml").write_text(text, encoding="utf-8")
    before = snapshot(out)
    lines = assert_input_error(render_overlays(config_dir, "x", out), out, before, *expected)
    assert len(lines) == sum(e.startswith("x.yaml") for e in expected), lines


def test_every_cross_check_is_an_input_error(write_overlay: Callable[[str, str], Path]) -> None:
    """Through the library too: load_config raises InputError (never a traceback)."""
    for text, _ in ERRORS.values():
        config_dir = write_overlay("x", text)
        with pytest.raises(InputError):
            load_config(config_dir, "x")


# --- kubeconform -strict against the pinned operator's CRDs (mk/crds.mk) ---------------------


def test_kubeconform_strict_accepts_the_operator_environment(rendered: Path) -> None:
    assert kubeconform_accepts(rendered / OPERATOR_ENV)


RENAMES = {
    ("ServiceMonitor", names.API): ("endpoints", "endpoint"),
    ("PrometheusRule", op.RULES): ("groups", "group"),
    ("AlertmanagerConfig", op.ALERTMANAGER_CONFIG): ("inhibitRules", "inhibitRule"),
}


@pytest.mark.parametrize("key", sorted(RENAMES), ids=lambda k: k[0])
def test_kubeconform_rejects_a_misspelled_operator_field(
    operator_built: dict[tuple[str, str], Obj], key: tuple[str, str]
) -> None:
    """The operator kinds are really checked against the CRDs' schemas, strictly."""
    obj = copy.deepcopy(operator_built[key])
    field, typo = RENAMES[key]
    assert check(obj).ok
    obj["spec"][typo] = obj["spec"].pop(field)
    report = check(obj)
    assert not report.ok
    assert report.invalid == 1


def check(obj: Obj) -> validate.KubeconformReport:
    version = validate.supported_kubernetes_versions()[0]
    return validate.kubeconform(yaml.safe_dump(obj, sort_keys=False), version)


# --- the operator-mode config space (hypothesis) ---------------------------------------------

label_key = st.from_regex(r"([a-z]{1,8}\.io/)?[a-z][a-z0-9_.-]{0,10}[a-z0-9]", fullmatch=True)
label_value = st.from_regex(r"[A-Za-z0-9]([A-Za-z0-9_.-]{0,10}[A-Za-z0-9])?", fullmatch=True)
labels = st.dictionaries(label_key, label_value, min_size=1, max_size=3)


@st.composite
def operator_overlays(draw: st.DrawFn) -> dict[str, Any]:
    operator: dict[str, Any] = {
        "namespace": draw(st.sampled_from(["monitoring", "observability", "kube-prometheus"])),
        "release": draw(label_value),
        "alertmanagerConfig": draw(st.booleans()),
        "dashboards": {
            "label": draw(st.sampled_from(["grafana_dashboard", "dashboards.example.io/load"])),
            "folder": draw(st.sampled_from(["Signal Harvester", "Team A/Apps"])),
        },
    }
    if draw(st.booleans()):
        operator["prometheusSelector"] = draw(labels)
    if draw(st.booleans()):
        operator["prometheusPodLabels"] = draw(labels)
    if operator["alertmanagerConfig"] and draw(st.booleans()):
        operator["alertmanagerSelector"] = draw(labels)
    if draw(st.booleans()):
        operator["dashboards"]["namespace"] = draw(st.sampled_from(["grafana", "monitoring"]))
    return {
        "namespace": draw(st.sampled_from(["signal-harvester", "sh-prod"])),
        "secrets": {"mode": draw(st.sampled_from(["env-file", "external"]))},
        "api": {
            "database": {"mode": draw(st.sampled_from(["sqlite", "postgres"]))},
            "ingress": {"enabled": draw(st.booleans())},
            "metricsPath": draw(st.sampled_from(["/prometheus", "/metrics"])),
        },
        "prometheus": {"scrapeInterval": draw(st.sampled_from(["15s", "30s"]))},
        "monitoring": {"mode": "operator", "operator": operator},
    }


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(overlay=operator_overlays())
def test_every_operator_config_builds_validates_and_is_selected(overlay: dict[str, Any]) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        tmp = Path(scratch)
        (tmp / "overlays").mkdir()
        (tmp / "overlays" / "x.yaml").write_text(yaml.safe_dump(overlay))
        secrets = env_file(tmp)
        render("x", tmp / "overlays", tmp / "build", secrets, tmp)
        built = index(kustomize_build(apply_dir(tmp / "build", "x")))
        cfg = load_config(tmp / "overlays", "x")
        values = None
        if cfg.secrets.mode == "env-file":
            values = collect(cfg, read_env_file(secrets), str(secrets))
        direct = index(render_environment(cfg, values))
        assert {k: normalized(v) for k, v in built.items()} == {
            k: normalized(v) for k, v in direct.items()
        }
        assert kubeconform_accepts(apply_dir(tmp / "build", "x"))
    operator = cfg.monitoring.operator
    selected = [built[("ServiceMonitor", names.API)], built[("PrometheusRule", op.RULES)]]
    for obj in selected:
        assert operator.prometheus_labels().items() <= obj["metadata"]["labels"].items()
    amc = built.get(("AlertmanagerConfig", op.ALERTMANAGER_CONFIG))
    assert (amc is not None) == operator.alertmanager_config
    if amc is not None:
        assert operator.alertmanager_labels().items() <= amc["metadata"]["labels"].items()
    for (kind, _), obj in built.items():
        if kind in ("Deployment", "PersistentVolumeClaim", "Ingress"):
            assert obj["metadata"]["labels"]["app"] == names.API


def test_render_reports_only_the_hosts_it_serves(tmp_path: Path) -> None:
    """The summary lists the API's host alone: no monitoring UI of ours has an Ingress."""
    result = render(OPERATOR_ENV, OVERLAYS, tmp_path / "build", ENV_EXAMPLE, ROOT)
    (summary,) = result.environments
    assert summary.hosts == [load_config(OVERLAYS, OPERATOR_ENV).host("api")]
