"""Firing and silent cases of the monitoring group's alerts."""

from __future__ import annotations

from harvester_manifests import names
from harvester_manifests.config.alerts import duration_seconds
from harvester_manifests.config.models import Config
from harvester_manifests.monitoring import rules as r
from harvester_manifests.monitoring.scrape import CADVISOR_JOB, service_address
from tests.monitoring.alert_cases.common import (
    Api,
    Fires,
    Scenario,
    _f,
    _minutes,
    _series,
    humanize,
    humanize_percentage,
)


def scenarios(cfg: Config) -> list[Scenario]:
    t = cfg.alerts.monitoring
    am_address = service_address(cfg, names.ALERTMANAGER, cfg.alertmanager.port)
    prometheus = {"job": names.PROMETHEUS, "instance": f"localhost:{cfg.prometheus.port}"}
    alertmanager = {"job": names.ALERTMANAGER, "instance": am_address}
    grafana = {
        "job": names.GRAFANA,
        "instance": service_address(cfg, names.GRAFANA, cfg.grafana.port),
    }
    out: list[Scenario] = []

    # Both reload alerts: a failed reload that is not followed by a good one, against one
    # that a fixed ConfigMap (the next reload) repairs within configReloadFor.
    reload_for = _minutes(t.config_reload_for)
    for alert, metric, target in (
        (r.PROMETHEUS_RELOAD_FAILED, "prometheus_config_last_reload_successful", prometheus),
        (r.ALERTMANAGER_RELOAD_FAILED, "alertmanager_config_last_reload_successful", alertmanager),
    ):
        series = _series(metric, **target)
        end = f"{reload_for + 10}m"
        out += [
            Scenario(
                alert,
                "the last reload failed",
                [(series, f"1x5 0x{reload_for + 10}")],
                end,
                [Fires("warning", target)],
            ),
            Scenario(
                alert,
                "a failed reload repaired by the next one",
                [(series, f"1x5 0x{reload_for - 2} 1x20")],
                end,
                [],
            ),
            Scenario(alert, "every reload succeeded", [(series, f"1x{reload_for + 15}")], end, []),
        ]

    rule_group = f"/etc/prometheus/{names.PART_OF}-api{r.RULES_SUFFIX};{names.PART_OF}-api"
    failures = _series(
        "prometheus_rule_evaluation_failures_total", **prometheus, rule_group=rule_group
    )
    failing_for = _minutes(t.rule_failures_for)
    end = f"{failing_for + 10}m"
    out += [
        # One failure per minute: increase() over 5m is 5.
        Scenario(
            r.RULE_EVALUATION_FAILURES,
            "a rule group fails at every evaluation",
            [(failures, f"0+1x{failing_for + 15}")],
            end,
            [Fires("warning", {"rule_group": rule_group}, humanize(5))],
        ),
        Scenario(
            r.RULE_EVALUATION_FAILURES,
            "one failure, then none",
            [(failures, f"0x5 1x{failing_for + 10}")],
            end,
            [],
        ),
        Scenario(
            r.RULE_EVALUATION_FAILURES,
            "no failures",
            [(failures, f"0x{failing_for + 15}")],
            end,
            [],
        ),
    ]

    discovered = _series("prometheus_notifications_alertmanagers_discovered", **prometheus)
    missing_for = _minutes(t.alertmanager_missing_for)
    end = f"{missing_for + 15}m"
    out += [
        Scenario(
            r.ALERTMANAGER_MISSING,
            "no Alertmanager discovered",
            [(discovered, f"1x5 0x{missing_for + 15}")],
            end,
            [Fires("critical", prometheus)],
        ),
        # max_over_time(...[5m]) < 1 holds from 5m after the loss until it ends.
        Scenario(
            r.ALERTMANAGER_MISSING,
            "lost for less than alertmanagerMissingFor",
            [(discovered, f"1x5 0x{missing_for + 3} 1x10")],
            end,
            [],
        ),
        Scenario(
            r.ALERTMANAGER_MISSING,
            "the Alertmanager is known",
            [(discovered, f"1x{missing_for + 20}")],
            end,
            [],
        ),
    ]

    am_url = {"alertmanager": f"http://{am_address}/api/v2/alerts"}
    errors_for = _minutes(t.notification_errors_for)

    def sent(per_minute: float, error_ratio: float) -> list[tuple[str, str]]:
        minutes = errors_for + 20
        return [
            (
                _series("prometheus_notifications_sent_total", **prometheus, **am_url),
                f"0+{_f(per_minute)}x{minutes}",
            ),
            (
                _series("prometheus_notifications_errors_total", **prometheus, **am_url),
                f"0+{_f(per_minute * error_ratio)}x{minutes}",
            ),
        ]

    high = (1 + t.notification_error_ratio) / 2
    end = f"{errors_for + 10}m"
    out += [
        Scenario(
            r.PROMETHEUS_NOTIFICATIONS_FAILING,
            "most sends fail",
            sent(60, high),
            end,
            [Fires("critical", am_url, humanize_percentage(high))],
        ),
        Scenario(
            r.PROMETHEUS_NOTIFICATIONS_FAILING,
            "few sends fail",
            sent(60, t.notification_error_ratio / 2),
            end,
            [],
        ),
        # No alert is firing, so nothing is sent: 0 / 0 is no ratio at all.
        Scenario(r.PROMETHEUS_NOTIFICATIONS_FAILING, "nothing to send", sent(0, 0), end, []),
    ]

    # A webhook that keeps failing fails once per group_interval (the retry of the group);
    # the rule's window is two of them, so the alert stays active between two failures.
    group_interval = _minutes(cfg.alertmanager.group_interval)
    window = int(duration_seconds(r.slack_failures_window(cfg)) // 60)
    slack_for = _minutes(t.slack_failures_for)
    assert slack_for >= window, "one failed notification must not page (see the silent case)"
    slack = {"integration": r.SLACK_INTEGRATION}

    def failed(
        integration: str, every: int | None, minutes: int = slack_for + 30
    ) -> tuple[str, str]:
        """Failed notifications of `integration`: one every `every` minutes, or just one."""
        if every is None:
            values = f"0x5 1x{minutes - 5}"
        else:
            values = " ".join(str(i // every) for i in range(minutes + 1))
        labels = {**alertmanager, "integration": integration, "reason": "clientError"}
        return _series("alertmanager_notifications_failed_total", **labels), values

    end = f"{slack_for + 20}m"
    out += [
        Scenario(
            r.ALERTMANAGER_NOTIFICATIONS_FAILING,
            "Slack fails at every group_interval",
            [failed(r.SLACK_INTEGRATION, group_interval)],
            end,
            [Fires("critical", slack)],
        ),
        Scenario(
            r.ALERTMANAGER_NOTIFICATIONS_FAILING,
            "one failed notification",
            [failed(r.SLACK_INTEGRATION, None)],
            end,
            [],
        ),
        Scenario(
            r.ALERTMANAGER_NOTIFICATIONS_FAILING,
            "another integration fails",
            [failed("webhook", 1)],
            end,
            [],
        ),
    ]

    down_for = _minutes(t.target_down_for)
    end = f"{down_for + 5}m"
    out += [
        Scenario(
            r.MONITORING_TARGET_DOWN,
            "every monitoring component down",
            [
                (_series("up", **target), f"0x{down_for + 10}")
                for target in (prometheus, alertmanager, grafana)
            ],
            end,
            [Fires("warning", target) for target in (prometheus, alertmanager, grafana)],
        ),
        # A Recreate rollout of Grafana: down for a minute, then back.
        Scenario(
            r.MONITORING_TARGET_DOWN,
            "Grafana restarts",
            [(_series("up", **grafana), f"1x2 0x1 1x{down_for + 5}")],
            end,
            [],
        ),
        # The API and cAdvisor have alerts of their own (or none): not this one.
        Scenario(
            r.MONITORING_TARGET_DOWN,
            "other jobs down",
            [
                (Api(cfg)("up"), f"0x{down_for + 10}"),
                (_series("up", job=CADVISOR_JOB, instance="node-1"), f"0x{down_for + 10}"),
            ],
            end,
            [],
        ),
    ]
    return out
