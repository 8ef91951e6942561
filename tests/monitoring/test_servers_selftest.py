"""Self-test of the real-server harness: the pinned Prometheus and Alertmanager start,
load a minimal config, and do what the later config tests will rely on."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from .servers import (
    JSONDict,
    RecordingHTTPServer,
    ServerError,
    alert_groups,
    post_alerts,
    prometheus_config_ok,
    prometheus_metrics,
    prometheus_rule_groups,
    recording_http_server,
    running_alertmanager,
    running_prometheus,
    wait_until,
)

CRITICAL_CHANNEL = "#signal-harvester-critical"
ALERTS_CHANNEL = "#signal-harvester-alerts"


def write_yaml(path: Path, document: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def write_prometheus_config(workdir: Path, alertmanager_url: str | None = None) -> Path:
    """config/prometheus.yml + config/rules/selftest.yml (relative rule_files glob)."""
    write_yaml(
        workdir / "config" / "rules" / "selftest.yml",
        {
            "groups": [
                {
                    "name": "selftest",
                    "rules": [
                        {
                            "alert": "AlwaysFiring",
                            "expr": "vector(1)",
                            "labels": {"severity": "critical"},
                            "annotations": {"summary": "always firing"},
                        }
                    ],
                }
            ]
        },
    )
    config: JSONDict = {
        "global": {"scrape_interval": "15s", "evaluation_interval": "1s"},
        "rule_files": ["rules/*.yml"],
        "scrape_configs": [],
    }
    if alertmanager_url is not None:
        config["alerting"] = {
            "alertmanagers": [
                {"static_configs": [{"targets": [urlsplit(alertmanager_url).netloc]}]}
            ]
        }
    return write_yaml(workdir / "config" / "prometheus.yml", config)


def write_alertmanager_config(workdir: Path, sink: RecordingHTTPServer) -> Path:
    """Two Slack receivers whose webhook URLs come from files (api_url_file) in workdir."""
    secrets = workdir / "secrets"
    secrets.mkdir(parents=True, exist_ok=True)
    (secrets / "slack-critical-url").write_text(f"{sink.url}/critical\n")
    (secrets / "slack-alerts-url").write_text(f"{sink.url}/alerts\n")
    return write_yaml(
        workdir / "config" / "alertmanager.yml",
        {
            "route": {
                "receiver": "slack-alerts",
                "group_by": ["alertname"],
                "group_wait": "1s",
                "group_interval": "1s",
                "repeat_interval": "1h",
                "routes": [{"matchers": ['severity="critical"'], "receiver": "slack-critical"}],
            },
            "receivers": [
                {
                    "name": "slack-critical",
                    "slack_configs": [
                        {
                            "api_url_file": str(secrets / "slack-critical-url"),
                            "channel": CRITICAL_CHANNEL,
                        }
                    ],
                },
                {
                    "name": "slack-alerts",
                    "slack_configs": [
                        {
                            "api_url_file": str(secrets / "slack-alerts-url"),
                            "channel": ALERTS_CHANNEL,
                        }
                    ],
                },
            ],
        },
    )


def receiver_by_alertname(am_url: str) -> dict[str, str]:
    return {
        alert["labels"]["alertname"]: group["receiver"]["name"]
        for group in alert_groups(am_url)
        for alert in group["alerts"]
    }


def test_prometheus_loads_rule_group_and_reports_config_success(tmp_path: Path) -> None:
    config = write_prometheus_config(tmp_path)
    with running_prometheus(config, tmp_path) as url:
        assert url.startswith("http://127.0.0.1:")
        assert prometheus_config_ok(url)
        groups = prometheus_rule_groups(url)
        assert [g["name"] for g in groups] == ["selftest"]
        assert [r["name"] for r in groups[0]["rules"]] == ["AlwaysFiring"]
        assert groups[0]["rules"][0]["health"] in {"ok", "unknown"}

        def firing() -> bool:
            rule = prometheus_rule_groups(url)[0]["rules"][0]
            return bool(rule["state"] == "firing" and rule["health"] == "ok")

        wait_until(firing, what="AlwaysFiring to fire")
    assert (tmp_path / "prometheus-data").is_dir()
    assert "Server is ready" in (tmp_path / "prometheus.log").read_text()


def test_alertmanager_routes_critical_alert_to_its_receiver(tmp_path: Path) -> None:
    with recording_http_server() as sink:
        config = write_alertmanager_config(tmp_path, sink)
        with running_alertmanager(config, tmp_path) as am:
            post_alerts(
                am,
                [
                    {"labels": {"alertname": "SelftestCritical", "severity": "critical"}},
                    {"labels": {"alertname": "SelftestWarning", "severity": "warning"}},
                ],
            )

            def both_routed() -> dict[str, str] | None:
                routed = receiver_by_alertname(am)
                return routed if len(routed) == 2 else None

            routed = wait_until(both_routed, what="both alerts in groups")
            assert routed == {
                "SelftestCritical": "slack-critical",
                "SelftestWarning": "slack-alerts",
            }
            # The notifications really go out, to the URL read from each api_url_file.
            wait_until(
                lambda: {r.path for r in sink.requests} >= {"/critical", "/alerts"},
                what="both Slack webhooks to be called",
            )
    by_path = {r.path: r.json() for r in sink.requests}
    assert by_path["/critical"]["channel"] == CRITICAL_CHANNEL
    assert "SelftestCritical" in str(by_path["/critical"])
    assert by_path["/alerts"]["channel"] == ALERTS_CHANNEL
    assert "SelftestWarning" in str(by_path["/alerts"])


def test_prometheus_alert_reaches_alertmanager_receiver(tmp_path: Path) -> None:
    with recording_http_server() as sink:
        am_config = write_alertmanager_config(tmp_path / "am", sink)
        with running_alertmanager(am_config, tmp_path / "am") as am:
            prom_config = write_prometheus_config(tmp_path / "prom", alertmanager_url=am)
            with running_prometheus(prom_config, tmp_path / "prom"):
                routed = wait_until(
                    lambda: receiver_by_alertname(am).get("AlwaysFiring"),
                    what="AlwaysFiring from Prometheus in Alertmanager",
                    logs=[
                        tmp_path / "prom" / "prometheus.log",
                        tmp_path / "am" / "alertmanager.log",
                    ],
                )
    assert routed == "slack-critical"


def test_kubernetes_sd_outside_a_cluster_is_not_fatal(tmp_path: Path) -> None:
    """The finding in servers.py's docstring: in-cluster SD fails, Prometheus runs on."""
    token = "/var/run/secrets/kubernetes.io/serviceaccount/token"
    ca = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt"
    config = write_yaml(
        tmp_path / "prometheus.yml",
        {
            "scrape_configs": [
                {
                    "job_name": "kubernetes-pods",
                    "kubernetes_sd_configs": [
                        {"role": "pod", "namespaces": {"own_namespace": True}}
                    ],
                },
                {
                    "job_name": "kubernetes-cadvisor",
                    "scheme": "https",
                    "tls_config": {"ca_file": ca},
                    "authorization": {"credentials_file": token},
                    "kubernetes_sd_configs": [{"role": "node"}],
                },
                {
                    "job_name": "local-api-server",
                    "kubernetes_sd_configs": [
                        {"role": "endpoints", "api_server": "http://127.0.0.1:1"}
                    ],
                },
            ]
        },
    )
    with running_prometheus(config, tmp_path) as url:
        assert prometheus_config_ok(url)
        metrics = prometheus_metrics(url)
        failed = re.search(r'^prometheus_sd_failed_configs\{name="scrape"\} (\S+)$', metrics, re.M)
        assert failed is not None and float(failed.group(1)) == 2.0
    log = (tmp_path / "prometheus.log").read_text()
    assert "unable to load in-cluster configuration" in log


def test_startup_failure_shows_the_server_log(tmp_path: Path) -> None:
    config = write_yaml(
        tmp_path / "prometheus.yml", {"scrape_configs": [{"job_name": "x", "no_such_field": 1}]}
    )
    with (
        pytest.raises(ServerError, match="exited with status") as excinfo,
        running_prometheus(config, tmp_path),
    ):
        pytest.fail("a broken config must not become ready")
    assert "Error loading config" in str(excinfo.value)
