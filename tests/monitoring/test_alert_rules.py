"""The alert rules: their labels and annotations, their thresholds from the model, and
`promtool test rules` proving each alert fires on the series that should fire it and stays
silent on the series that should not (alert_cases/, one module per group)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from harvester_manifests import names as n
from harvester_manifests.config.models import Config
from harvester_manifests.config.quantity import parse_quantity
from harvester_manifests.monitoring import rules as r
from harvester_manifests.monitoring.rules import RULES_SUFFIX, alert_rules
from harvester_manifests.names import PART_OF
from tests.conftest import ENVS

from .alert_cases import BY_GROUP, Fires, Scenario, scenarios
from .generated import AlertRule, Generated, expect_ok, promtool, write_yaml

TEMPLATE = re.compile(r"\{\{\s*(?:\$value(?:\s*\|\s*\w+)?|\$labels\.(\w+)|(\$externalURL))\s*\}\}")
EXAMPLE_URL = "https://prometheus.example.com"
SIZES_GROUP = f"{PART_OF}-{r.sizes.GROUP}"
SIZES_FILE = f"{SIZES_GROUP}{RULES_SUFFIX}"


def render(
    text: str, labels: dict[str, str], value: str | None, external_url: str = EXAMPLE_URL
) -> str:
    """Prometheus' rendering of the template forms the rules use (the rules package's docstring)."""

    def substitute(match: re.Match[str]) -> str:
        if match.group(1):
            return labels.get(match.group(1), "")
        if match.group(2):
            return external_url
        assert value is not None, f"the scenario must give the rendered $value for {text!r}"
        return value

    rendered = TEMPLATE.sub(substitute, text)
    assert "{{" not in rendered, f"a template form the tests cannot render: {text!r}"
    return rendered


def coverage(alerts: list[AlertRule], cases: list[Scenario]) -> dict[str, set[tuple[str, str]]]:
    """Which (alert, severity) pairs some scenario fires, and which some scenario keeps silent."""
    severities: dict[str, set[str]] = {}
    for alert in alerts:
        severities.setdefault(alert.name, set()).add(alert.severity)
    fired: set[tuple[str, str]] = set()
    silent: set[tuple[str, str]] = set()
    for case in cases:
        firing = {f.severity for f in case.fires}
        fired |= {(case.alert, s) for s in firing}
        silent |= {(case.alert, s) for s in severities.get(case.alert, set()) - firing}
    return {"fired": fired, "silent": silent}


def external_url(gen: Generated) -> str:
    """What Prometheus renders `{{ $externalURL }}` to: its --web.external-url without the
    trailing slash (Prometheus strips it). Without the flag (no Ingress, or no Prometheus of
    ours) the example stands in."""
    deployment = gen.objects.get(("Deployment", n.PROMETHEUS))
    if deployment is None:  # monitoring.mode operator: the cluster's Prometheus, not ours
        return EXAMPLE_URL
    for arg in deployment["spec"]["template"]["spec"]["containers"][0]["args"]:
        if arg.startswith("--web.external-url="):
            return str(arg.partition("=")[2]).rstrip("/")
    return EXAMPLE_URL


def n_bytes(size: str) -> str:
    return str(int(parse_quantity(size)))


def promtool_tests(gen: Generated, rules_dir: Path) -> dict[tuple[str, int], dict[str, Any]]:
    """One promtool test document per rule group and scenario step (its evaluation interval):
    each group's cases (its module of alert_cases/) run against that group's file and the
    sizes file (the sizes the capacity alerts read)."""
    by_key = {(a.name, a.severity): a for a in gen.alerts()}
    names = {a.name for a in gen.alerts()}
    documents: dict[tuple[str, int], dict[str, Any]] = {}
    cases = [
        (group["name"], case)
        for group in gen.rules["groups"]
        for case in BY_GROUP[group["name"].removeprefix(f"{PART_OF}-")](gen.cfg)
    ]
    url = external_url(gen)
    for group, case in cases:
        if case.alert not in names:
            continue  # an alert this environment does not have (see the existence test)
        expected = []
        for fires in case.fires:
            rule = by_key[(case.alert, fires.severity)].rule
            labels = {**rule["labels"], **fires.labels}
            expected.append(
                {
                    "exp_labels": labels,
                    "exp_annotations": {
                        key: render(text, labels, fires.value, url)
                        for key, text in rule["annotations"].items()
                    },
                }
            )
        step = f"{case.step_minutes}m"
        document = documents.setdefault(
            (group, case.step_minutes),
            {
                "rule_files": [
                    str(rules_dir / name)
                    for name in dict.fromkeys((SIZES_FILE, f"{group}{RULES_SUFFIX}"))
                    if name in gen.rule_files
                ],
                # promtool evaluates the groups of one step in this order (every group must be
                # listed: an unlisted one ranks as the first); an instant query looks back 5
                # minutes, excluding a sample exactly 5 minutes old. So with the 5 minute steps
                # of the long scenarios, a size recorded after the alert group ran would be out
                # of its reach. (Prometheus evaluates each group at its own offset every 15s:
                # there the recorded size is never older than that.)
                "group_eval_order": list(dict.fromkeys((SIZES_GROUP, group))),
                "evaluation_interval": step,
                "tests": [],
            },
        )
        document["tests"].append(
            {
                "name": f"{case.alert}: {case.name}",
                "interval": step,
                "input_series": [{"series": s, "values": v} for s, v in case.series],
                "external_url": url,
                "alert_rule_test": [
                    {"eval_time": case.eval_time, "alertname": case.alert, "exp_alerts": expected}
                ],
            }
        )
    if SIZES_FILE in gen.rule_files:  # what the sizes group records, as promtool evaluates it
        records = [x for g in gen.rules["groups"] if g["name"] == SIZES_GROUP for x in g["rules"]]
        namespace = gen.cfg.namespace
        documents[(SIZES_GROUP, 1)] = {
            "rule_files": [str(rules_dir / SIZES_FILE)],
            "evaluation_interval": "1m",
            "tests": [
                {
                    "name": "the recorded sizes",
                    "interval": "1m",
                    "promql_expr_test": [
                        {
                            "expr": record["record"],
                            "eval_time": "1m",
                            "exp_samples": [
                                {
                                    "labels": f'{record["record"]}{{namespace="{namespace}"}}',
                                    "value": float(record["expr"][len("vector(") : -1]),
                                }
                            ],
                        }
                        for record in records
                    ],
                }
            ],
        }
    return documents


@pytest.mark.parametrize("env", ENVS)
def test_each_groups_cases_are_about_that_groups_alerts(
    generated: dict[str, Generated], env: str
) -> None:
    gen = generated[env]
    for group in gen.rules["groups"]:
        alerts = {rule["alert"] for rule in group["rules"] if "alert" in rule}
        key = group["name"].removeprefix(f"{PART_OF}-")
        assert {case.alert for case in BY_GROUP[key](gen.cfg)} <= alerts, key


# --- coverage: every alert has a firing and a silent case -----------------------------------


@pytest.mark.parametrize("env", ENVS)
def test_every_alert_has_a_firing_and_a_silent_case(
    generated: dict[str, Generated], env: str
) -> None:
    """Adding an alert (or a severity) without scenarios in alert_cases/ fails here."""
    gen = generated[env]
    alerts = gen.alerts()
    covered = coverage(alerts, scenarios(gen.cfg))
    pairs = {(a.name, a.severity) for a in alerts}
    assert not pairs - covered["fired"], "alerts that no scenario fires"
    assert not pairs - covered["silent"], "alerts that no scenario keeps silent"


def test_every_scenario_is_for_an_alert_that_exists(generated: dict[str, Generated]) -> None:
    known = {a.name for gen in generated.values() for a in gen.alerts()}
    for gen in generated.values():
        assert {c.alert for c in scenarios(gen.cfg)} <= known


def test_coverage_notices_a_missing_case() -> None:
    """The guard itself: an alert without a silent case is reported."""
    rule = {"labels": {"severity": "warning", "category": "api"}}
    alerts = [AlertRule("X", "warning", "api", "g", rule)]
    fired_only = [Scenario("X", "fires", [], "1m", [Fires("warning")])]
    covered = coverage(alerts, fired_only)
    assert ("X", "warning") in covered["fired"]
    assert ("X", "warning") not in covered["silent"]


@pytest.mark.parametrize("env", ENVS)
def test_promtool_unit_tests_fire_and_stay_silent(
    generated: dict[str, Generated], env: str, tmp_path: Path
) -> None:
    gen = generated[env]
    gen.write_rules(tmp_path)
    documents = promtool_tests(gen, tmp_path)
    groups = sum(len(d["tests"]) for d in documents.values())
    assert groups >= 2 * len({a.name for a in gen.alerts()})
    assert {group for group, _ in documents} == {g["name"] for g in gen.rules["groups"]}
    files = [
        write_yaml(tmp_path / f"tests-{group}-{step}m.yaml", d)
        for (group, step), d in documents.items()
    ]
    out = expect_ok(promtool("test", "rules", *files))
    assert out.count("SUCCESS") == len(files)


def test_promtool_unit_tests_catch_a_wrong_expectation(
    generated: dict[str, Generated], tmp_path: Path
) -> None:
    """A firing case turned silent must fail: the unit tests really assert."""
    gen = generated["prod"]
    gen.write_rules(tmp_path)
    document = promtool_tests(gen, tmp_path)[("signal-harvester-api", 1)]
    first = document["tests"][0]
    assert first["alert_rule_test"][0]["exp_alerts"], "the first scenario should fire"
    first["alert_rule_test"][0]["exp_alerts"] = []
    document["tests"] = [first]
    result = promtool("test", "rules", write_yaml(tmp_path / "tests.yaml", document))
    assert result.returncode != 0
    assert "FAILED" in result.stdout + result.stderr


# --- labels, annotations, groups -------------------------------------------------------------


@pytest.mark.parametrize("env", ENVS)
def test_every_alert_has_severity_category_and_annotations(
    generated: dict[str, Generated], env: str
) -> None:
    gen = generated[env]
    base = gen.cfg.runbook_base_url.rstrip("/")
    for alert in gen.alerts():
        assert alert.severity in r.SEVERITIES
        assert alert.category in r.CATEGORIES
        assert set(alert.labels) == {"severity", "category"}
        assert r.group_category(alert.group) == alert.category
        assert alert.group == f"signal-harvester-{alert.category}"
        annotations = alert.rule["annotations"]
        assert set(annotations) == {"summary", "description", "runbook_url"}
        assert annotations["summary"] and annotations["description"]
        assert annotations["runbook_url"] == f"{base}/{alert.name}"
        for text in (annotations["summary"], annotations["description"]):
            render(text, {}, "1")  # only template forms the unit tests can render


@pytest.mark.parametrize("env", ENVS)
def test_groups_are_the_categories_in_order(generated: dict[str, Generated], env: str) -> None:
    groups = [g["name"] for g in generated[env].rules["groups"]]
    assert groups == [f"signal-harvester-{key}" for key in BY_GROUP]


@pytest.mark.parametrize("env", ENVS)
def test_sizes_are_written_only_in_the_sizes_group(
    generated: dict[str, Generated], env: str
) -> None:
    """The HPA's maxReplicas and the API volume are recorded in the sizes group and nowhere
    else, so every alert group's file is the same in every environment (an overlay changes
    only the small sizes file)."""
    gen = generated[env]
    sizes = {
        f"({gen.cfg.api.autoscaling.max_replicas})",
        f"({n_bytes(gen.cfg.api.storage.size)})",
        gen.cfg.api.storage.size,
    }
    for group in gen.rules["groups"]:
        text = yaml.safe_dump(group)
        if group["name"] != f"{PART_OF}-{r.sizes.GROUP}":
            assert not any(size in text for size in sizes), group["name"]
            assert all("alert" in rule for rule in group["rules"]), group["name"]
    recorded = {rule["record"]: rule["expr"] for rule in gen.rules["groups"][0]["rules"]}
    assert recorded == {
        r.sizes.HPA_MAX_REPLICAS: f"vector({gen.cfg.api.autoscaling.max_replicas})",
        r.sizes.DATABASE_VOLUME_BYTES: f"vector({n_bytes(gen.cfg.api.storage.size)})",
    }
    assert gen.cfg.host("prometheus") not in gen.rules_yml


@pytest.mark.parametrize("env", ["dev", "staging"])
def test_alert_rule_files_match_the_base(generated: dict[str, Generated], env: str) -> None:
    base = generated["prod"].rule_files
    for name, text in generated[env].rule_files.items():
        if name != SIZES_FILE:
            assert text == base[name], name


def test_every_category_and_severity_is_used(generated: dict[str, Generated]) -> None:
    alerts = generated["prod"].alerts()
    assert {a.category for a in alerts} == set(r.CATEGORIES)
    assert {a.severity for a in alerts} == set(r.SEVERITIES)


def test_two_level_alerts_share_name_and_differ_only_in_severity_and_threshold() -> None:
    rules = [
        rule for g in alert_rules(Config())["groups"] for rule in g["rules"] if "alert" in rule
    ]
    by_name: dict[str, list[dict[str, Any]]] = {}
    for rule in rules:
        by_name.setdefault(rule["alert"], []).append(rule)
    pairs = {name: rs for name, rs in by_name.items() if len(rs) > 1}
    assert set(pairs) == {
        r.API_ERROR_RATE,
        r.API_LATENCY,
        r.DB_SIZE,
        r.PIPELINE_FAILING,
        r.LLM_ERROR_RATE,
        r.MEMORY_NEAR_LIMIT,
    }
    for rs in pairs.values():
        assert [x["labels"]["severity"] for x in rs] == ["warning", "critical"]
        assert rs[0]["labels"]["category"] == rs[1]["labels"]["category"]
        assert rs[0]["expr"] != rs[1]["expr"]


# --- thresholds live in the model -------------------------------------------------------------


def exprs(cfg: Config) -> dict[tuple[str, str], str]:
    return {
        (rule["alert"], rule["labels"]["severity"]): rule["expr"]
        for g in alert_rules(cfg)["groups"]
        for rule in g["rules"]
        if "alert" in rule
    }


def test_defaults_follow_the_guide() -> None:
    latency = exprs(Config())[(r.API_LATENCY, "warning")]
    assert latency.endswith("> 0.05"), "the guide's high-latency symptom is p95 > 50ms"


def test_thresholds_come_from_the_overlay() -> None:
    cfg = Config.model_validate(
        {
            "alerts": {
                "api": {"latencyP95Seconds": 0.1, "errorRateWarning": 0.02},
                "llm": {"tokensPerHour": 5000000},
                "discovery": {"staleAfter": "12h"},
            },
            "api": {"storage": {"size": "20Gi"}, "autoscaling": {"maxReplicas": 6}},
        }
    )
    got = exprs(cfg)
    assert got[(r.API_LATENCY, "warning")].endswith("> 0.1")
    assert "> 0.02\n" in got[(r.API_ERROR_RATE, "warning")]
    assert got[(r.LLM_TOKENS, "warning")].endswith("> 5000000")
    assert "[12h]" in got[(r.PIPELINE_STALE, "warning")]
    assert "> 43200" in got[(r.PIPELINE_STALE, "warning")]
    recorded = {x["record"]: x["expr"] for x in alert_rules(cfg)["groups"][0]["rules"]}
    assert recorded[r.sizes.DATABASE_VOLUME_BYTES] == f"vector({20 * 2**30})"
    assert recorded[r.sizes.HPA_MAX_REPLICAS] == "vector(6)"
    assert f"/ {r.sizes.size(cfg, r.sizes.DATABASE_VOLUME_BYTES)} >" in got[(r.DB_SIZE, "warning")]
    assert got[(r.API_MAX_REPLICAS, "warning")].endswith(
        f">= {r.sizes.size(cfg, r.sizes.HPA_MAX_REPLICAS)}"
    )


def durations(cfg: Config) -> dict[str, str]:
    return {
        rule["alert"]: rule["for"]
        for g in alert_rules(cfg)["groups"]
        for rule in g["rules"]
        if "alert" in rule
    }


def test_monitoring_thresholds_come_from_the_overlay() -> None:
    cfg = Config.model_validate(
        {
            "alerts": {
                "monitoring": {
                    "configReloadFor": "20m",
                    "ruleFailuresFor": "30m",
                    "alertmanagerMissingFor": "3m",
                    "notificationErrorRatio": 0.1,
                    "notificationErrorsFor": "1h",
                    "slackFailuresFor": "25m",
                    "targetDownFor": "7m",
                }
            }
        }
    )
    got, fors = exprs(cfg), durations(cfg)
    assert got[(r.PROMETHEUS_NOTIFICATIONS_FAILING, "critical")].endswith("> 0.1")
    assert fors == {
        **durations(Config()),
        r.PROMETHEUS_RELOAD_FAILED: "20m",
        r.ALERTMANAGER_RELOAD_FAILED: "20m",
        r.RULE_EVALUATION_FAILURES: "30m",
        r.ALERTMANAGER_MISSING: "3m",
        r.PROMETHEUS_NOTIFICATIONS_FAILING: "1h",
        r.ALERTMANAGER_NOTIFICATIONS_FAILING: "25m",
        r.MONITORING_TARGET_DOWN: "7m",
    }
    defaults = Config().alerts.monitoring
    assert exprs(Config())[(r.PROMETHEUS_NOTIFICATIONS_FAILING, "critical")].endswith(
        f"> {defaults.notification_error_ratio}"
    )


@pytest.mark.parametrize(
    ("group_interval", "window"), [("5m", "10m"), ("1m", "5m"), ("90s", "5m"), ("1h", "2h")]
)
def test_slack_failure_window_spans_two_group_intervals(group_interval: str, window: str) -> None:
    """A webhook that keeps failing fails once per group_interval (the group's retry): the
    window must hold two of them, or the rate drops to 0 in between and `for` starts over."""
    cfg = Config.model_validate({"alertmanager": {"groupInterval": group_interval}})
    assert r.slack_failures_window(cfg) == window
    expr = exprs(cfg)[(r.ALERTMANAGER_NOTIFICATIONS_FAILING, "critical")]
    assert f'integration="slack"}}[{window}])) > 0' in expr


@pytest.mark.parametrize(
    ("seconds", "text"), [(60, "1m"), (90, "90s"), (600, "10m"), (7200, "2h"), (86400, "1d")]
)
def test_duration_text(seconds: int, text: str) -> None:
    assert r.duration_text(seconds) == text


@pytest.mark.parametrize("env", ENVS)
def test_target_down_watches_every_static_scrape_job(
    generated: dict[str, Generated], env: str
) -> None:
    """The monitoring components are the static jobs of prometheus.yml; the API (its own down
    alert) and cAdvisor are discovered. A static job added to scrape.py must be watched too."""
    gen = generated[env]
    static = [j["job_name"] for j in gen.prometheus["scrape_configs"] if "static_configs" in j]
    assert static == list(r.MONITORING_JOBS) == [n.PROMETHEUS, n.ALERTMANAGER, n.GRAFANA]
    down = next(a for a in gen.alerts() if a.name == r.MONITORING_TARGET_DOWN)
    assert down.rule["expr"] == f'up{{job=~"{"|".join(static)}"}} == 0'


JOB_MATCHER = re.compile(r'\bjob(=~?)"([^"]*)"')


@pytest.mark.parametrize("env", ENVS)
def test_every_job_a_rule_selects_is_a_scrape_job(
    generated: dict[str, Generated], env: str
) -> None:
    """A rule that names a job nothing scrapes never fires: its series do not exist."""
    gen = generated[env]
    jobs = {j["job_name"] for j in gen.prometheus["scrape_configs"]}
    selected: dict[str, set[str]] = {}
    for alert in gen.alerts():
        for op, value in JOB_MATCHER.findall(alert.rule["expr"]):
            named = set(value.split("|")) if op == "=~" else {value}
            assert named <= jobs, f"{alert.name}: {sorted(named - jobs)} is no scrape job"
            selected.setdefault(alert.category, set()).update(named)
    assert selected["monitoring"] == {n.PROMETHEUS, n.ALERTMANAGER, n.GRAFANA}


def test_monitoring_alerts_are_single_level() -> None:
    """Each monitoring alert has one severity: what delivery failures cost decides it."""
    severities = {
        (rule["alert"], rule["labels"]["severity"])
        for g in alert_rules(Config())["groups"]
        if g["name"] == "signal-harvester-monitoring"
        for rule in g["rules"]
    }
    assert severities == {
        (r.PROMETHEUS_RELOAD_FAILED, "warning"),
        (r.RULE_EVALUATION_FAILURES, "warning"),
        (r.ALERTMANAGER_MISSING, "critical"),
        (r.PROMETHEUS_NOTIFICATIONS_FAILING, "critical"),
        (r.ALERTMANAGER_RELOAD_FAILED, "warning"),
        (r.ALERTMANAGER_NOTIFICATIONS_FAILING, "critical"),
        (r.MONITORING_TARGET_DOWN, "warning"),
    }


def test_alertmanager_missing_says_where_to_see_it() -> None:
    """Sent nowhere by definition: the description names Prometheus' own Alerts page."""

    def description(cfg: Config) -> str:
        rule = next(
            x
            for g in alert_rules(cfg)["groups"]
            for x in g["rules"]
            if x.get("alert") == r.ALERTMANAGER_MISSING
        )
        text: str = rule["annotations"]["description"]
        return text

    assert "Alerts page, {{ $externalURL }}/alerts." in description(Config())
    hidden = Config.model_validate({"prometheus": {"ingress": {"enabled": False}}})
    assert "kubectl port-forward -n signal-harvester svc/prometheus" in description(hidden)


@pytest.mark.parametrize(
    ("alerts", "message"),
    [
        ({"api": {"errorRateCritical": 0.005}}, "errorRateCritical 0.005 must be above"),
        ({"api": {"latencyP95CriticalSeconds": 0.05}}, "latencyP95CriticalSeconds"),
        ({"resources": {"memoryWarningRatio": 0.99}}, "memoryCriticalRatio"),
        ({"database": {"sizeWarningRatio": 1.5}}, "less than or equal to 1"),
        ({"api": {"latencyP95Seconds": 0}}, "greater than 0"),
        ({"api": {"downFor": "two minutes"}}, "not a Prometheus duration"),
        ({"discovery": {"staleAfter": "30m"}}, "staleAfter 30m is under 1h"),
        ({"cache": {"hitRatio": 0.5}}, "Extra inputs are not permitted"),
        (
            {"monitoring": {"notificationErrorRatio": 1}},
            "notificationErrorRatio 1.0 must be below 1",
        ),
        ({"monitoring": {"notificationErrorRatio": 0}}, "greater than 0"),
        ({"monitoring": {"targetDownFor": "90s"}}, "targetDownFor 90s is under 2m"),
        ({"monitoring": {"slackFailuresFor": "soon"}}, "not a Prometheus duration"),
        ({"monitoring": {"reloadFor": "5m"}}, "Extra inputs are not permitted"),
    ],
)
def test_thresholds_are_validated(alerts: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(message)):
        Config.model_validate({"alerts": alerts})


def test_max_replicas_alert_only_with_autoscaling() -> None:
    off = Config.model_validate({"api": {"autoscaling": {"enabled": False}}})
    assert r.API_MAX_REPLICAS not in {name for name, _ in exprs(off)}
    assert r.API_MAX_REPLICAS in {name for name, _ in exprs(Config())}


def test_volume_alerts_only_in_sqlite_mode() -> None:
    postgres = Config.model_validate({"api": {"database": {"mode": "postgres"}}})
    names = {name for name, _ in exprs(postgres)}
    assert r.DB_SIZE not in names and r.DB_GROWTH not in names
    assert r.DB_SLOW_QUERIES in names


def test_restarts_need_no_kube_state_metrics(generated: dict[str, Generated]) -> None:
    rules_text = generated["prod"].rules_yml
    assert "kube_" not in rules_text
    restart = next(a for a in generated["prod"].alerts() if a.name == r.POD_RESTARTING)
    assert "changes(process_start_time_seconds" in restart.rule["expr"]
