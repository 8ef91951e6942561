"""alertmanager.yml: amtool accepts it, and every generated alert reaches the channel the
guide names (`amtool config routes test` with each alert's own labels)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harvester_manifests.monitoring import rules as r
from harvester_manifests.monitoring.routing import (
    SHARED_CATEGORIES,
    SLACK_DIR,
    TEAM_CATEGORIES,
    receiver_name,
)
from tests.conftest import ENVS, delivered_secrets

from .generated import Generated, amtool, expect_ok, write

# The channel of each category's warnings and infos, written out: a new category fails
# test_every_category_has_a_channel until someone decides where it goes.
CHANNELS = {
    "api": "warning",
    "database": "warning",
    "discovery": "discovery",
    "llm": "llm",
    "cache": "warning",
    "resources": "warning",
    "monitoring": "warning",
}


def expected_receivers(severity: str, category: str) -> list[str]:
    """The routing table (routing.py): critical pages at once and also reaches the team
    channel of a discovery or LLM alert; everything else goes to its team channel, or to
    the warnings channel (so does a category routing.py does not know)."""
    channel = CHANNELS.get(category, "warning")
    team = receiver_name(channel) if channel != "warning" else None
    if severity == "critical" and category == "monitoring":
        # Broken notifications must not depend on the one webhook that may be broken.
        return [receiver_name("critical"), receiver_name("warning")]
    if severity == "critical":
        return [receiver_name("critical")] + ([team] if team else [])
    return [team or receiver_name("warning")]


def route(config: Path, labels: dict[str, str]) -> list[str]:
    pairs = [f"{k}={v}" for k, v in sorted(labels.items())]
    out = expect_ok(amtool("config", "routes", "test", f"--config.file={config}", *pairs))
    return out.strip().split(",")


@pytest.mark.parametrize("env", ENVS)
def test_amtool_check_config(generated: dict[str, Generated], env: str, tmp_path: Path) -> None:
    config = write(tmp_path / "alertmanager.yml", generated[env].alertmanager_yml)
    out = expect_ok(amtool("check-config", config))
    assert "SUCCESS" in out
    assert "4 receivers" in out and "2 inhibit rules" in out


@pytest.mark.parametrize("env", ENVS)
def test_every_generated_alert_reaches_its_channel(
    generated: dict[str, Generated], env: str, tmp_path: Path
) -> None:
    gen = generated[env]
    config = write(tmp_path / "alertmanager.yml", gen.alertmanager_yml)
    alerts = gen.alerts()
    assert len(alerts) >= 20
    table = []
    for alert in alerts:
        labels = {"alertname": alert.name, **alert.labels, "namespace": gen.cfg.namespace}
        got = route(config, labels)
        table.append((alert.name, alert.severity, alert.category, got))
        assert got == expected_receivers(alert.severity, alert.category), table[-1]
    # Each of the guide's four channels receives something, from alerts of every category.
    reached = {receiver for *_, receivers in table for receiver in receivers}
    assert reached == {receiver_name(k) for k in ("critical", "warning", "discovery", "llm")}
    assert {category for _, _, category, _ in table} == set(r.CATEGORIES)


def test_every_category_has_a_channel() -> None:
    assert set(CHANNELS) == set(r.CATEGORIES)
    assert set(TEAM_CATEGORIES) == {c for c, channel in CHANNELS.items() if channel != "warning"}
    assert set(SHARED_CATEGORIES) == {c for c, channel in CHANNELS.items() if channel == "warning"}
    assert "monitoring" in SHARED_CATEGORIES


@pytest.mark.parametrize("env", ENVS)
def test_monitoring_alerts_reach_the_shared_channels(
    generated: dict[str, Generated], env: str, tmp_path: Path
) -> None:
    """The pipeline's own alerts: warnings to #signal-harvester-alerts, criticals to
    #signal-harvester-critical and, through a second webhook, #signal-harvester-alerts."""
    gen = generated[env]
    config = write(tmp_path / "alertmanager.yml", gen.alertmanager_yml)
    got = {
        (a.name, a.severity): route(
            config, {"alertname": a.name, **a.labels, "namespace": gen.cfg.namespace}
        )
        for a in gen.alerts()
        if a.category == "monitoring"
    }
    assert {severity for _, severity in got} == {"warning", "critical"}
    want = {
        "warning": [receiver_name("warning")],
        "critical": [receiver_name("critical"), receiver_name("warning")],
    }
    for (_, severity), receivers in got.items():
        assert receivers == want[severity]
    slack = gen.cfg.alertmanager.slack
    assert (slack.warning, slack.critical) == (
        "#signal-harvester-alerts",
        "#signal-harvester-critical",
    )


@pytest.mark.parametrize(
    "labels",
    [
        {"category": "no-such-category"},
        {},  # no category label at all
    ],
    ids=["unknown category", "no category"],
)
@pytest.mark.parametrize("severity", ["critical", "warning", "info"])
def test_a_category_routing_does_not_know_is_not_dropped(
    generated: dict[str, Generated], tmp_path: Path, labels: dict[str, str], severity: str
) -> None:
    """It takes the shared channels, like api or monitoring: the root route's receiver for a
    warning or info, the critical route for a critical."""
    config = write(tmp_path / "alertmanager.yml", generated["prod"].alertmanager_yml)
    alert = {"alertname": "SomethingNew", "severity": severity, **labels}
    assert route(config, alert) == expected_receivers(severity, labels.get("category", ""))
    assert route(config, alert) == [
        receiver_name("critical" if severity == "critical" else "warning")
    ]


@pytest.mark.parametrize("env", ENVS)
def test_receivers_post_to_the_guide_channels_from_url_files(
    generated: dict[str, Generated], env: str
) -> None:
    gen = generated[env]
    slack = gen.cfg.alertmanager.slack
    channels = {}
    for receiver in gen.alertmanager["receivers"]:
        (config,) = receiver["slack_configs"]
        key = receiver["name"].removeprefix("slack-")
        assert config["api_url_file"] == f"{SLACK_DIR}/{key}"
        assert "api_url" not in config
        channels[receiver["name"]] = config["channel"]
    assert channels == {
        "slack-critical": slack.critical,
        "slack-warning": slack.warning,
        "slack-discovery": slack.discovery,
        "slack-llm": slack.llm,
    }
    assert "slack_api_url" not in gen.alertmanager.get("global", {})
    # The files come from the Secret the Deployment mounts at SLACK_DIR.
    spec = gen.objects[("Deployment", "alertmanager")]["spec"]["template"]["spec"]
    mount = next(m for m in spec["containers"][0]["volumeMounts"] if m["mountPath"] == SLACK_DIR)
    volume = next(v for v in spec["volumes"] if v["name"] == mount["name"])
    assert volume["secret"]["secretName"] == "alertmanager-slack-urls"
    # ... which has one key per receiver (however the environment delivers it).
    keys = delivered_secrets(gen.objects)["alertmanager-slack-urls"]
    files = {
        Path(c["api_url_file"]).name
        for x in gen.alertmanager["receivers"]
        for c in x["slack_configs"]
    }
    assert keys == files


@pytest.mark.parametrize("env", ENVS)
def test_timing_critical_at_once_warnings_grouped(
    generated: dict[str, Generated], env: str
) -> None:
    gen = generated[env]
    root = gen.alertmanager["route"]
    assert root["receiver"] == "slack-warning"
    assert root["group_wait"] == gen.cfg.alertmanager.group_wait == "30s"
    critical = next(x for x in root["routes"] if x["receiver"] == "slack-critical")
    assert critical["group_wait"] == "0s"
    assert critical["continue"] is True


@pytest.mark.parametrize("env", ENVS)
def test_inhibition(generated: dict[str, Generated], env: str) -> None:
    rules = generated[env].alertmanager["inhibit_rules"]
    severity, api_down = rules
    assert severity["source_matchers"] == ['severity="critical"']
    assert severity["target_matchers"] == ['severity=~"warning|info"']
    assert severity["equal"][:2] == ["alertname", "category"]
    assert api_down["source_matchers"] == [f'alertname="{r.API_DOWN}"']
    assert api_down["target_matchers"] == [f'alertname=~"{r.API_ERROR_RATE}|{r.API_LATENCY}"']
    names = {a.name for a in generated[env].alerts()}
    assert {r.API_DOWN, r.API_ERROR_RATE, r.API_LATENCY} <= names
