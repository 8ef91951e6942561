"""The monitoring pipeline itself: reloads, rule evaluation, delivery to Alertmanager and
Slack, and the monitoring components' scrape targets."""

from __future__ import annotations

from harvester_manifests import names
from harvester_manifests.config.alerts import duration_seconds
from harvester_manifests.config.models import Config
from harvester_manifests.monitoring import queries as q
from harvester_manifests.monitoring.rules.common import Rule, alert, duration_text, number, percent

PROMETHEUS_RELOAD_FAILED = "SignalHarvesterPrometheusConfigReloadFailed"
RULE_EVALUATION_FAILURES = "SignalHarvesterPrometheusRuleEvaluationFailures"
ALERTMANAGER_MISSING = "SignalHarvesterPrometheusAlertmanagerMissing"
PROMETHEUS_NOTIFICATIONS_FAILING = "SignalHarvesterPrometheusNotificationsFailing"
ALERTMANAGER_RELOAD_FAILED = "SignalHarvesterAlertmanagerConfigReloadFailed"
ALERTMANAGER_NOTIFICATIONS_FAILING = "SignalHarvesterAlertmanagerNotificationsFailing"
MONITORING_TARGET_DOWN = "SignalHarvesterMonitoringTargetDown"

# The monitoring components' scrape jobs (static targets in scrape.py). The API has its own
# down alert; Prometheus is in the list because without its self-scrape every Prometheus
# alert of the monitoring group is blind.
MONITORING_JOBS = (names.PROMETHEUS, names.ALERTMANAGER, names.GRAFANA)
# The Alertmanager integration the receivers use (routing.py: slack_configs only).
SLACK_INTEGRATION = "slack"


def slack_failures_window(cfg: Config) -> str:
    """The rate window of the Slack failure alert: two of Alertmanager's group_intervals
    (at least 5m). A failed notification is retried at the next group_interval, so a webhook
    that keeps failing adds a failure every group_interval; a shorter window would drop to 0
    between two of them and restart the alert's `for`."""
    interval = duration_seconds(cfg.alertmanager.group_interval)
    return duration_text(max(300, 2 * interval))


def rules(cfg: Config) -> list[Rule]:
    t = cfg.alerts.monitoring
    prometheus = q.job(names.PROMETHEUS)
    alertmanager = q.job(names.ALERTMANAGER)
    if cfg.prometheus.ingress.enabled:
        # Prometheus knows its own URL (--web.external-url, set with its Ingress): the rule
        # text stays the same in every environment.
        alerts_page = "{{ $externalURL }}/alerts"
    else:
        alerts_page = f"/alerts (kubectl port-forward -n {cfg.namespace} svc/{names.PROMETHEUS})"
    by = "sum by (alertmanager)"
    notifications = "prometheus_notifications_{}_total{{" + prometheus + "}}"
    slack = f'{alertmanager},integration="{SLACK_INTEGRATION}"'
    window = slack_failures_window(cfg)
    return [
        alert(
            cfg,
            PROMETHEUS_RELOAD_FAILED,
            f"prometheus_config_last_reload_successful{{{prometheus}}} == 0",
            t.config_reload_for,
            "warning",
            "monitoring",
            "Prometheus could not reload its configuration",
            "The last reload of prometheus.yml or a rule file failed and none has succeeded "
            f"for {t.config_reload_for}: Prometheus runs on its previous configuration, so "
            "changes to scrape jobs and alert rules are not live. Its log names the error.",
        ),
        alert(
            cfg,
            RULE_EVALUATION_FAILURES,
            "sum by (rule_group) "
            f"(increase(prometheus_rule_evaluation_failures_total{{{prometheus}}}[5m])) > 0",
            t.rule_failures_for,
            "warning",
            "monitoring",
            "Prometheus fails to evaluate rules",
            "{{ $value | humanize }} evaluations of rule group {{ $labels.rule_group }} failed "
            f"in the last 5m (for {t.rule_failures_for}): its alerts cannot fire. "
            "Prometheus' Rules page shows the error.",
        ),
        alert(
            cfg,
            ALERTMANAGER_MISSING,
            "max_over_time(prometheus_notifications_alertmanagers_discovered"
            f"{{{prometheus}}}[5m]) < 1",
            t.alertmanager_missing_for,
            "critical",
            "monitoring",
            "Prometheus has no Alertmanager to send alerts to",
            f"Prometheus has known no Alertmanager for {t.alertmanager_missing_for}: every "
            "alert is evaluated but sent nowhere. This alert too: it can only be seen on "
            f"Prometheus' Alerts page, {alerts_page}.",
        ),
        alert(
            cfg,
            PROMETHEUS_NOTIFICATIONS_FAILING,
            f"{by} (rate({notifications.format('errors')}[5m]))\n"
            f"  / {by} (rate({notifications.format('sent')}[5m]))\n"
            f"  > {number(t.notification_error_ratio)}",
            t.notification_errors_for,
            "critical",
            "monitoring",
            "Prometheus fails to send alerts to Alertmanager",
            "{{ $value | humanizePercentage }} of the alerts sent to {{ $labels.alertmanager }} "
            f"fail (threshold {percent(t.notification_error_ratio)} for "
            f"{t.notification_errors_for}): they do not reach Slack. If every send fails, this "
            f"alert does not either: see Prometheus' Alerts page, {alerts_page}.",
        ),
        alert(
            cfg,
            ALERTMANAGER_RELOAD_FAILED,
            f"alertmanager_config_last_reload_successful{{{alertmanager}}} == 0",
            t.config_reload_for,
            "warning",
            "monitoring",
            "Alertmanager could not reload its configuration",
            "The last reload of alertmanager.yml failed and none has succeeded for "
            f"{t.config_reload_for}: Alertmanager routes with its previous configuration, so "
            "routing changes are not live. Its log names the error.",
        ),
        alert(
            cfg,
            ALERTMANAGER_NOTIFICATIONS_FAILING,
            "sum by (integration) "
            f"(rate(alertmanager_notifications_failed_total{{{slack}}}[{window}])) > 0",
            t.slack_failures_for,
            "critical",
            "monitoring",
            "Alertmanager cannot deliver Slack notifications",
            f"Slack notifications have kept failing for {t.slack_failures_for}, after "
            "Alertmanager's retries: a webhook URL in the alertmanager-slack-urls Secret is "
            "revoked or wrong, or Slack is unreachable. Each channel has its own webhook, so "
            "this reaches you unless the critical channel's is the broken one (then see "
            f"Prometheus' Alerts page, {alerts_page}); Alertmanager's log names the failing "
            "receiver.",
        ),
        alert(
            cfg,
            MONITORING_TARGET_DOWN,
            f"up{{{q.jobs(MONITORING_JOBS)}}} == 0",
            t.target_down_for,
            "warning",
            "monitoring",
            "Prometheus cannot scrape {{ $labels.job }}",
            "{{ $labels.job }} ({{ $labels.instance }}) has not answered a scrape for "
            f"{t.target_down_for}: it is down or unreachable, and the alerts that read its "
            "metrics are blind.",
        ),
    ]
