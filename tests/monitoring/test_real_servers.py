"""The generated configs in the real Prometheus 3.16.0 and Alertmanager 0.35.0 (bin/).

For each environment, prometheus.yml, the rule file and alertmanager.yml come out of the
ConfigMaps of `kustomize build`, and the test copies change only what cannot work outside a
cluster or in test time (each change is listed in test_config()):

- Prometheus: rule_files point at the copy of the rule file in the work dir (the in-pod glob
  would match nothing); the Alertmanager target and the alertmanager scrape target are the
  harness's Alertmanager, the other static targets a closed loopback port (no DNS lookups of
  cluster names); the service-account token and CA are files in the work dir;
  scrape_interval and evaluation_interval are 1s. kubernetes_sd_configs stay as generated
  (outside a cluster they find nothing; see servers.py).
- Alertmanager: each api_url_file is a file in the work dir holding the URL of a loopback
  recording server (standing in for Slack), and the root group_wait is 1s instead of 30s.

One Prometheus and one Alertmanager per environment, started once for all its tests.
"""

from __future__ import annotations

import copy
import itertools
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from harvester_manifests import names
from harvester_manifests.monitoring import rules as r
from harvester_manifests.monitoring.scrape import SA_DIR
from tests.conftest import ENVS

from .generated import Generated, write, write_yaml
from .servers import (
    JSONDict,
    RecordingHTTPServer,
    alert_groups,
    alertmanager_alerts,
    post_alerts,
    prometheus_alertmanagers,
    prometheus_config_ok,
    prometheus_metrics,
    prometheus_query,
    prometheus_rule_groups,
    recording_http_server,
    running_alertmanager,
    running_prometheus,
    wait_until,
)
from .test_dashboards import ALERTMANAGER_SELF_METRICS, PROMETHEUS_SELF_METRICS
from .test_routing import expected_receivers

CLOSED = "127.0.0.1:1"


@dataclass(frozen=True)
class Stack:
    gen: Generated
    prometheus: str
    alertmanager: str
    sink: RecordingHTTPServer


def prometheus_test_config(gen: Generated, workdir: Path, am_url: str) -> Path:
    config = copy.deepcopy(gen.prometheus)
    gen.write_rules(workdir / "rules")
    config["rule_files"] = [str(workdir / "rules" / "*.rules.yaml")]
    config["global"]["scrape_interval"] = "1s"
    config["global"]["evaluation_interval"] = "1s"
    am = urlsplit(am_url).netloc
    config["alerting"]["alertmanagers"] = [{"static_configs": [{"targets": [am]}]}]
    token = write(workdir / "sa" / "token", "not-a-real-token\n")
    ca = write(workdir / "sa" / "ca.crt", "")
    for job in config["scrape_configs"]:
        if "static_configs" in job:
            target = am if job["job_name"] == names.ALERTMANAGER else CLOSED
            job["static_configs"] = [{"targets": [target]}]
        if "authorization" in job:
            job["authorization"]["credentials_file"] = str(token)
            job["tls_config"]["ca_file"] = str(ca)
    path = write_yaml(workdir / "prometheus.yml", config)
    assert SA_DIR not in path.read_text() and "/etc/prometheus" not in path.read_text()
    return path


def alertmanager_test_config(gen: Generated, workdir: Path, sink: RecordingHTTPServer) -> Path:
    config = copy.deepcopy(gen.alertmanager)
    config["route"]["group_wait"] = "1s"
    for receiver in config["receivers"]:
        for slack in receiver["slack_configs"]:
            key = Path(slack["api_url_file"]).name
            slack["api_url_file"] = str(write(workdir / "slack" / key, f"{sink.url}/{key}\n"))
    return write_yaml(workdir / "alertmanager.yml", config)


@pytest.fixture(scope="module", params=ENVS)
def stack(
    request: pytest.FixtureRequest,
    generated: dict[str, Generated],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Stack]:
    gen = generated[request.param]
    workdir = tmp_path_factory.mktemp(f"servers-{gen.env}")
    with recording_http_server() as sink:
        am_config = alertmanager_test_config(gen, workdir / "alertmanager", sink)
        with running_alertmanager(am_config, workdir / "alertmanager") as am:
            prom_config = prometheus_test_config(gen, workdir / "prometheus", am)
            with running_prometheus(prom_config, workdir / "prometheus") as prom:
                yield Stack(gen, prom, am, sink)


# --- Prometheus ---------------------------------------------------------------------------------


def test_prometheus_loads_the_config_and_every_rule_group(stack: Stack) -> None:
    assert prometheus_config_ok(stack.prometheus)
    expected = stack.gen.rules["groups"]
    loaded = prometheus_rule_groups(stack.prometheus)
    assert len(loaded) == len(expected)
    assert {g["name"] for g in loaded} == {g["name"] for g in expected}
    by_name = {g["name"]: g for g in loaded}
    for want in expected:
        got = by_name[want["name"]]
        assert [(x["name"], x["labels"].get("severity")) for x in got["rules"]] == [
            (x.get("alert", x.get("record")), x["labels"].get("severity")) for x in want["rules"]
        ]


def test_every_rule_evaluates_without_error(stack: Stack) -> None:
    def evaluated() -> list[JSONDict] | None:
        rules = [x for g in prometheus_rule_groups(stack.prometheus) for x in g["rules"]]
        done = all(x["health"] != "unknown" for x in rules)
        return rules if done else None

    rules = wait_until(evaluated, what="every rule to be evaluated")
    errors = {x["name"]: x.get("lastError") for x in rules if x["health"] != "ok"}
    assert not errors


SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? ", re.M)
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def exposed(metrics_text: str) -> dict[str, set[tuple[tuple[str, str], ...]]]:
    """The samples of a /metrics page: metric name -> the label sets of its series."""
    series: dict[str, set[tuple[tuple[str, str], ...]]] = {}
    for name, labels in SAMPLE.findall(metrics_text):
        series.setdefault(name, set()).add(tuple(LABEL.findall(labels)))
    return series


def test_prometheus_exposes_the_self_metrics_the_rules_read(stack: Stack) -> None:
    """The monitoring rules' Prometheus metrics, with the labels they aggregate by, on the
    real Prometheus' /metrics (the notification series exist once an Alertmanager is known)."""

    def complete() -> dict[str, set[tuple[tuple[str, str], ...]]] | None:
        series = exposed(prometheus_metrics(stack.prometheus))
        return series if set(PROMETHEUS_SELF_METRICS) <= set(series) else None

    series = wait_until(complete, what="every Prometheus self-metric on /metrics")
    for name, labels in PROMETHEUS_SELF_METRICS.items():
        assert {frozenset(k for k, _ in pairs) for pairs in series[name]} == {frozenset(labels)}
    # rule_group is "<rule file>;<group name>", one per loaded group, this one included.
    groups = {
        dict(pairs)["rule_group"] for pairs in series["prometheus_rule_evaluation_failures_total"]
    }
    assert {g.rsplit(";", 1)[1] for g in groups} == {g["name"] for g in stack.gen.rules["groups"]}
    # One file per group, named after it.
    assert all(
        g.endswith(f"/{name}{r.RULES_SUFFIX};{name}")
        for g in groups
        for name in [g.rsplit(";", 1)[1]]
    )


def test_alertmanager_self_metrics_are_scraped_under_the_rules_job(stack: Stack) -> None:
    """Alertmanager's metrics the rules read, as Prometheus scrapes them with the generated
    job: the same name, the same `job` label, the labels the rules aggregate by, and a
    series for the Slack integration."""
    job = names.ALERTMANAGER

    def scraped() -> dict[str, list[JSONDict]] | None:
        got = {
            name: prometheus_query(stack.prometheus, f'{name}{{job="{job}"}}')
            for name in ALERTMANAGER_SELF_METRICS
        }
        return got if all(got.values()) else None

    got = wait_until(scraped, what="Alertmanager's self-metrics in Prometheus")
    for name, labels in ALERTMANAGER_SELF_METRICS.items():
        label_sets = {frozenset(s["metric"]) - {"__name__", "job", "instance"} for s in got[name]}
        assert label_sets == {frozenset(labels)}, name
    integrations = {
        s["metric"]["integration"] for s in got["alertmanager_notifications_failed_total"]
    }
    assert r.SLACK_INTEGRATION in integrations


# --- Alertmanager -------------------------------------------------------------------------------


def receivers_by_alert(am_url: str) -> dict[str, set[str]]:
    routed: dict[str, set[str]] = {}
    for group in alert_groups(am_url):
        for alert in group["alerts"]:
            routed.setdefault(alert["labels"]["alertname"], set()).add(group["receiver"]["name"])
    return routed


def test_each_category_and_severity_lands_in_its_receiver(stack: Stack) -> None:
    ns = stack.gen.cfg.namespace
    combos = list(itertools.product(r.CATEGORIES, r.SEVERITIES))
    alerts = {
        f"RoutingTest_{category}_{severity}": {
            "alertname": f"RoutingTest_{category}_{severity}",
            "category": category,
            "severity": severity,
            "namespace": ns,
        }
        for category, severity in combos
    }
    post_alerts(stack.alertmanager, [{"labels": labels} for labels in alerts.values()])
    receivers = {
        name: set(expected_receivers(labels["severity"], labels["category"]))
        for name, labels in alerts.items()
    }

    def all_routed() -> dict[str, set[str]] | None:
        # An alert routed to two receivers (continue: true) joins its second group a moment
        # after its first: wait for every expected group, then check there is nothing more.
        routed = receivers_by_alert(stack.alertmanager)
        return routed if all(w <= routed.get(n, set()) for n, w in receivers.items()) else None

    routed = wait_until(all_routed, what="every test alert in each of its receivers' groups")
    for name, want in receivers.items():
        assert routed[name] == want, name

    # And the notifications go out, to the URL read from each api_url_file, in the channel
    # the config names for that receiver.
    channels = {
        "critical": stack.gen.cfg.alertmanager.slack.critical,
        "warning": stack.gen.cfg.alertmanager.slack.warning,
        "discovery": stack.gen.cfg.alertmanager.slack.discovery,
        "llm": stack.gen.cfg.alertmanager.slack.llm,
    }
    wanted = {
        (name, receiver.removeprefix("slack-"))
        for name, labels in alerts.items()
        for receiver in expected_receivers(labels["severity"], labels["category"])
    }

    def posted() -> set[tuple[str, str]]:
        seen = set()
        for request in list(stack.sink.requests):
            body: dict[str, Any] = request.json()
            key = request.path.strip("/")
            if body.get("channel") != channels.get(key):
                continue
            text = json.dumps(body)
            seen |= {(name, key) for name in alerts if f"{name} (" in text}
        return seen

    wait_until(lambda: wanted <= posted(), what="a Slack POST per alert and channel")


def test_inhibition_in_the_running_alertmanager(stack: Stack) -> None:
    ns = stack.gen.cfg.namespace
    pair = {"alertname": "InhibitionTest", "category": "database", "namespace": ns}
    post_alerts(
        stack.alertmanager,
        [
            {"labels": {**pair, "severity": "critical"}},
            {"labels": {**pair, "severity": "warning"}},
            {"labels": {**pair, "alertname": "InhibitionTestOther", "severity": "warning"}},
            {
                "labels": {
                    "alertname": r.API_DOWN,
                    "severity": "critical",
                    "category": "api",
                    "namespace": ns,
                }
            },
            {
                "labels": {
                    "alertname": r.API_LATENCY,
                    "severity": "warning",
                    "category": "api",
                    "namespace": ns,
                }
            },
            {
                "labels": {
                    "alertname": r.API_ERROR_RATE,
                    "severity": "critical",
                    "category": "api",
                    "namespace": ns,
                }
            },
        ],
    )
    names_ = {"InhibitionTest", "InhibitionTestOther", r.API_DOWN, r.API_LATENCY, r.API_ERROR_RATE}
    expected = {
        ("InhibitionTest", "critical"): "active",
        ("InhibitionTest", "warning"): "suppressed",  # its critical mutes it
        ("InhibitionTestOther", "warning"): "active",  # another alert: not muted
        (r.API_DOWN, "critical"): "active",
        (r.API_LATENCY, "warning"): "suppressed",  # the API is down
        (r.API_ERROR_RATE, "critical"): "suppressed",
    }
    seen: list[dict[tuple[str, str], str]] = []

    def states() -> dict[tuple[str, str], str] | None:
        got = {
            (a["labels"]["alertname"], a["labels"]["severity"]): a["status"]["state"]
            for a in alertmanager_alerts(stack.alertmanager)
            if a["labels"]["alertname"] in names_
        }
        seen.append(got)
        # Alertmanager marks inhibited alerts one evaluation at a time: wait for all of them
        # (a state that never comes is a failure of wait_until, with the last one seen below).
        return got if got == expected else None

    try:
        got = wait_until(states, what="the inhibited alerts to be suppressed")
    except BaseException:
        print("last states seen:", seen[-1] if seen else None)
        raise
    assert got == expected


# --- last: Prometheus applies discovered targets every 5s, the other tests overlap that


def test_prometheus_scrapes_and_alerts_to_the_alertmanager(stack: Stack) -> None:
    alertmanager = urlsplit(stack.alertmanager).netloc
    assert any(alertmanager in url for url in prometheus_alertmanagers(stack.prometheus))

    def scraped() -> list[JSONDict]:
        return prometheus_query(stack.prometheus, f'up{{job="{names.ALERTMANAGER}"}} == 1')

    wait_until(scraped, what="a successful scrape of the Alertmanager")
