"""monitoring.mode operator, checked with the real promtool and amtool on what kustomize builds
from the example environment (build/prod-shared-monitoring):

- the PrometheusRule's groups are the bundled rules, each alert also labelled with our
  namespace; `promtool check rules` accepts them and `promtool test rules` runs the very
  scenarios of the bundled rules (alert_cases.py) against them;
- the AlertmanagerConfig, turned back into alertmanager.yml by this test (its own inverse of
  the CRD's form), is the bundled routing tree: amtool accepts it, and every alert (each
  category x severity) reaches the receivers the bundled routing sends it to;
- the sidecar dashboards hold the bundled dashboards' JSON, byte for byte.

The real prometheus-operator's output for the same objects: tests/e2e/test_operator.py.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from harvester_manifests.components import operator as op
from harvester_manifests.config.loader import load_config
from harvester_manifests.config.models import Config
from harvester_manifests.monitoring import rules as r
from harvester_manifests.monitoring.routing import alertmanager_config
from harvester_manifests.monitoring.rules import RULES_SUFFIX
from harvester_manifests.yamlio import dump
from tests.conftest import OVERLAYS, Obj, index, kustomize_build

from .generated import DASHBOARDS, Generated, amtool, expect_ok, promtool, write, write_yaml
from .test_alert_rules import promtool_tests
from .test_routing import expected_receivers, route

OPERATOR_ENV = "prod-shared-monitoring"
SLACK_URL = "https://hooks.slack.com/services/TEST/{key}/URL"


@pytest.fixture(scope="module")
def operator_objects(rendered: Path) -> dict[tuple[str, str], Obj]:
    return index(kustomize_build(rendered / OPERATOR_ENV))


@pytest.fixture(scope="module")
def cfg() -> Config:
    return load_config(OVERLAYS, OPERATOR_ENV)


def rules_document(objects: dict[tuple[str, str], Obj]) -> dict[str, Any]:
    """The rule file a Prometheus loads from the PrometheusRule: its spec.groups."""
    return {"groups": objects[("PrometheusRule", op.RULES)]["spec"]["groups"]}


def matcher_text(m: dict[str, str]) -> str:
    """The CRD's matcher as alertmanager.yml's text; matchType defaults to equality."""
    assert not m.get("regex"), "the deprecated regex flag is never used"
    return f"{m['name']}{m.get('matchType', '=')}{json.dumps(m['value'])}"


ROUTE_KEYS = {
    "receiver": "receiver",
    "groupBy": "group_by",
    "groupWait": "group_wait",
    "groupInterval": "group_interval",
    "repeatInterval": "repeat_interval",
    "continue": "continue",
}


def route_yaml(spec: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = {ROUTE_KEYS[k]: v for k, v in spec.items() if k in ROUTE_KEYS}
    if "matchers" in spec:
        result["matchers"] = [matcher_text(m) for m in spec["matchers"]]
    if "routes" in spec:
        result["routes"] = [route_yaml(child) for child in spec["routes"]]
    assert set(spec) <= set(ROUTE_KEYS) | {"matchers", "routes"}, spec
    return result


def alertmanager_yml(amc: Obj) -> dict[str, Any]:
    """The AlertmanagerConfig's spec as alertmanager.yml (as the operator converts it, minus
    its namespace matcher and receiver-name prefix); the Slack URL is a test URL per key."""
    spec = amc["spec"]
    receivers = []
    for receiver in spec["receivers"]:
        slack_configs = []
        for slack in receiver["slackConfigs"]:
            assert slack["apiURL"]["name"] == "alertmanager-slack-urls"
            slack_configs.append(
                {
                    "api_url": SLACK_URL.format(key=slack["apiURL"]["key"]),
                    "channel": slack["channel"],
                    "send_resolved": slack["sendResolved"],
                    "title": slack["title"],
                    "title_link": slack["titleLink"],
                    "text": slack["text"],
                }
            )
        receivers.append({"name": receiver["name"], "slack_configs": slack_configs})
    return {
        "route": route_yaml(spec["route"]),
        "inhibit_rules": [
            {
                "source_matchers": [matcher_text(m) for m in rule["sourceMatch"]],
                "target_matchers": [matcher_text(m) for m in rule["targetMatch"]],
                "equal": rule["equal"],
            }
            for rule in spec["inhibitRules"]
        ],
        "receivers": receivers,
    }


def operator_generated(cfg: Config, objects: dict[tuple[str, str], Obj]) -> Generated:
    amc = objects[("AlertmanagerConfig", op.ALERTMANAGER_CONFIG)]
    return Generated(
        env=OPERATOR_ENV,
        cfg=cfg,
        objects=objects,
        prometheus_yml="",
        rule_files={
            f"{group['name']}{RULES_SUFFIX}": dump({"groups": [group]})
            for group in rules_document(objects)["groups"]
        },
        alertmanager_yml=dump(alertmanager_yml(amc)),
        dashboard_json={
            name: objects[("ConfigMap", op.dashboard_config_map_name(name))]["data"][f"{name}.json"]
            for name in DASHBOARDS
        },
    )


@pytest.fixture(scope="module")
def gen(cfg: Config, operator_objects: dict[tuple[str, str], Obj]) -> Generated:
    return operator_generated(cfg, operator_objects)


# --- rules -----------------------------------------------------------------------------------


def test_rules_are_the_bundled_groups_with_our_namespace(
    cfg: Config, operator_objects: dict[tuple[str, str], Obj]
) -> None:
    groups = rules_document(operator_objects)["groups"]
    bundled = r.alert_rules(cfg)["groups"]
    assert {f"signal-harvester-{c}" for c in r.CATEGORIES} <= {g["name"] for g in groups}
    assert len(groups) == len(bundled)
    for group, same in zip(groups, bundled, strict=True):
        assert group["name"] == same["name"]
        assert len(group["rules"]) == len(same["rules"])
        for rule, bundled_rule in zip(group["rules"], same["rules"], strict=True):
            assert rule["labels"]["namespace"] == cfg.namespace
            namespaced = {**bundled_rule["labels"], "namespace": cfg.namespace}
            assert rule == {**bundled_rule, "labels": namespaced}
    # The same rules as prod's bundled rules file: the mode changes no threshold.
    assert bundled == r.alert_rules(load_config(OVERLAYS, "prod"))["groups"]


def test_promtool_check_rules(gen: Generated, tmp_path: Path) -> None:
    files = gen.write_rules(tmp_path)
    out = expect_ok(promtool("check", "rules", *files))
    assert out.count("SUCCESS") == len(files) == len(gen.rules["groups"])
    found = sum(int(n) for n in re.findall(r"(\d+) rules found", out))
    assert found == gen.rule_count()


def test_promtool_unit_tests_of_the_bundled_rules_pass(gen: Generated, tmp_path: Path) -> None:
    """The scenarios of tests/monitoring/alert_cases.py, unchanged; the expected alerts carry
    the namespace label the PrometheusRule adds (from the rule's own labels)."""
    gen.write_rules(tmp_path)
    documents = promtool_tests(gen, tmp_path)
    assert sum(len(d["tests"]) for d in documents.values()) >= 2 * len(
        {a.name for a in gen.alerts()}
    )
    for document in documents.values():
        for test in document["tests"]:
            for case in test.get("alert_rule_test", []):
                for alert in case["exp_alerts"]:
                    assert alert["exp_labels"]["namespace"] == gen.cfg.namespace
    files = [
        write_yaml(tmp_path / f"tests-{group}-{step}m.yaml", d)
        for (group, step), d in documents.items()
    ]
    out = expect_ok(promtool("test", "rules", *files))
    assert out.count("SUCCESS") == len(files)


# --- routing ---------------------------------------------------------------------------------


def test_alertmanager_config_is_the_bundled_routing_tree(cfg: Config, gen: Generated) -> None:
    bundled = alertmanager_config(cfg)
    converted = gen.alertmanager
    assert converted["route"] == bundled["route"]
    assert converted["inhibit_rules"] == bundled["inhibit_rules"]
    for mine, theirs in zip(converted["receivers"], bundled["receivers"], strict=True):
        assert mine["name"] == theirs["name"]
        (slack,) = mine["slack_configs"]
        (same,) = theirs["slack_configs"]
        key = same.pop("api_url_file").rpartition("/")[2]
        assert slack.pop("api_url") == SLACK_URL.format(key=key)
        assert slack == same


def test_amtool_check_config(gen: Generated, tmp_path: Path) -> None:
    config = write(tmp_path / "alertmanager.yml", gen.alertmanager_yml)
    out = expect_ok(amtool("check-config", config))
    assert "SUCCESS" in out
    assert "4 receivers" in out and "2 inhibit rules" in out


def test_every_category_and_severity_reaches_its_receivers(gen: Generated, tmp_path: Path) -> None:
    config = write(tmp_path / "alertmanager.yml", gen.alertmanager_yml)
    table = {}
    for category in r.CATEGORIES:
        for severity in r.SEVERITIES:
            labels = {
                "alertname": "Any",
                "severity": severity,
                "category": category,
                "namespace": gen.cfg.namespace,
            }
            table[(category, severity)] = route(config, labels)
            assert table[(category, severity)] == expected_receivers(severity, category)
    for alert in gen.alerts():
        assert route(config, {"alertname": alert.name, **alert.labels}) == expected_receivers(
            alert.severity, alert.category
        )


# --- dashboards ------------------------------------------------------------------------------


def test_sidecar_dashboards_are_the_bundled_dashboards(
    gen: Generated, built: dict[str, dict[tuple[str, str], Obj]]
) -> None:
    bundled = built["prod"]
    for name in DASHBOARDS:
        assert (
            gen.dashboard_json[name]
            == bundled[("ConfigMap", f"grafana-dashboard-{name}")]["data"][f"{name}.json"]
        )
        board = gen.dashboards[name]
        assert board["uid"] and board["title"]


def test_the_rule_file_is_what_prometheus_reads(gen: Generated) -> None:
    """A rule file with one group per category, nothing else (no CRD fields leak into it)."""
    document = yaml.safe_load(gen.rules_yml)
    assert set(document) == {"groups"}
    assert all(set(group) == {"name", "rules"} for group in document["groups"])
