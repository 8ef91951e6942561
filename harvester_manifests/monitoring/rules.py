"""Alert rules for the application's metrics (the app contract), its pods, and the monitoring
pipeline itself (the self-metrics of Prometheus 3.16 and Alertmanager 0.35).

Every number comes from `cfg.alerts` (config/alerts.py); ports, paths, job names, the
namespace, the HPA's maxReplicas and the database volume come from the rest of the model, so
a rule can never disagree with the Deployment it watches.

Every alert carries `severity` (critical|warning|info) and `category`
(api|database|discovery|llm|cache|resources|monitoring), and the annotations `summary`,
`description` and `runbook_url` (runbookBaseUrl/<alert name>). An alert with two levels is
two rules with the same name; Alertmanager's inhibition lets the critical one mute the warning.

Where a signal needs a cluster add-on, the rule does without it: restarts are counted from
`changes(process_start_time_seconds)` of our own scrape jobs (the app's Python client and the
Go servers expose it; cAdvisor has no restart counter and kube-state-metrics is not part of
this deployment), and "HPA at maxReplicas" compares the number of discovered API pods with
the maxReplicas from the model instead of reading kube_horizontalpodautoscaler_* metrics.
Container CPU and memory come from cAdvisor (`prometheus.scrapeCadvisor`); without it those
rules are left out. Database size rules compare with the API's volume, so they exist only in
`database.mode: sqlite`.

The monitoring rules read what Prometheus scrapes from itself and from Alertmanager (jobs
named as in scrape.py). An alert about delivery can itself only be delivered when some path
still works: a Prometheus without an Alertmanager shows its alert only on its own Alerts page,
and a Slack failure alert (critical) needs the critical channel's webhook to work.

Annotation templates use only `{{ $value }}`, `{{ $value | <function> }}` and
`{{ $labels.<name> }}` (the promtool unit tests render exactly these).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harvester_manifests import names
from harvester_manifests.config.alerts import duration_seconds
from harvester_manifests.config.models import Config
from harvester_manifests.config.quantity import parse_quantity
from harvester_manifests.monitoring.scrape import API_JOB, CADVISOR_JOB, PROCESS_JOBS

RULES_FILE = "signal-harvester.rules.yaml"
CATEGORIES = ("api", "database", "discovery", "llm", "cache", "resources", "monitoring")
SEVERITIES = ("critical", "warning", "info")

API_DOWN = "SignalHarvesterApiDown"
API_ERROR_RATE = "SignalHarvesterApiHighErrorRate"
API_LATENCY = "SignalHarvesterApiHighLatency"
API_SATURATED = "SignalHarvesterApiSaturated"
API_MAX_REPLICAS = "SignalHarvesterApiAtMaxReplicas"
DB_SIZE = "SignalHarvesterDatabaseVolumeFilling"
DB_GROWTH = "SignalHarvesterDatabaseFillsVolumeSoon"
DB_SLOW_QUERIES = "SignalHarvesterDatabaseSlowQueries"
PIPELINE_FAILING = "SignalHarvesterDiscoveryPipelineFailing"
PIPELINE_STALE = "SignalHarvesterDiscoveryPipelineStale"
LLM_ERROR_RATE = "SignalHarvesterLlmHighErrorRate"
LLM_LATENCY = "SignalHarvesterLlmHighLatency"
LLM_TOKENS = "SignalHarvesterLlmTokenSpendHigh"
CACHE_HIT_RATE = "SignalHarvesterCacheHitRateLow"
POD_RESTARTING = "SignalHarvesterPodRestarting"
CPU_THROTTLED = "SignalHarvesterCpuThrottled"
MEMORY_NEAR_LIMIT = "SignalHarvesterMemoryNearLimit"
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

# With the API down there is no traffic to measure: these would only add noise.
MUTED_BY_API_DOWN = (API_ERROR_RATE, API_LATENCY)
# The labels that tell one alert instance from another (besides alertname and severity):
# a critical alert mutes the warning with the same values (a missing label equals a missing one).
IDENTITY_LABELS = (
    "alertname",
    "category",
    "namespace",
    "job",
    "instance",
    "pod",
    "container",
    "pipeline_type",
    "provider",
    "model",
    "query_type",
    "cache_type",
)


def number(value: float) -> str:
    """A PromQL number literal: integers without a decimal point, others as Python's repr."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def percent(ratio: float) -> str:
    return f"{number(round(ratio * 100, 4))}%"


def seconds_text(seconds: float) -> str:
    return f"{number(round(seconds * 1000, 3))}ms" if seconds < 1 else f"{number(seconds)}s"


def duration_text(seconds: float) -> str:
    """A Prometheus duration in the largest unit that divides it: 600 -> "10m"."""
    assert seconds >= 1 and float(seconds).is_integer(), seconds
    whole = int(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if whole % size == 0:
            return f"{whole // size}{unit}"
    return f"{whole}s"


def slack_failures_window(cfg: Config) -> str:
    """The rate window of the Slack failure alert: two of Alertmanager's group_intervals
    (at least 5m). A failed notification is retried at the next group_interval, so a webhook
    that keeps failing adds a failure every group_interval; a shorter window would drop to 0
    between two of them and restart the alert's `for`."""
    interval = duration_seconds(cfg.alertmanager.group_interval)
    return duration_text(max(300, 2 * interval))


@dataclass(frozen=True)
class Level:
    severity: str
    threshold: float
    duration: str


def levels(warning: float, critical: float, duration: str) -> tuple[Level, Level]:
    """The two levels of an alert whose critical shares its name (so it mutes the warning)."""
    return Level("warning", warning, duration), Level("critical", critical, duration)


def _alert(
    cfg: Config,
    name: str,
    expr: str,
    duration: str,
    severity: str,
    category: str,
    summary: str,
    description: str,
) -> dict[str, Any]:
    assert severity in SEVERITIES and category in CATEGORIES, (severity, category)
    return {
        "alert": name,
        "expr": expr,
        "for": duration,
        "labels": {"severity": severity, "category": category},
        "annotations": {
            "summary": summary,
            "description": description,
            "runbook_url": f"{cfg.runbook_base_url.rstrip('/')}/{name}",
        },
    }


def _api_rules(cfg: Config) -> list[dict[str, Any]]:
    t = cfg.alerts.api
    job = f'job="{API_JOB}"'
    requests = f"sum(rate(http_requests_total{{{job}}}[5m]))"
    rules = [
        _alert(
            cfg,
            API_DOWN,
            f"sum(up{{{job}}}) == 0 or absent(up{{{job}}})",
            t.down_for,
            "critical",
            "api",
            "Signal Harvester API is down",
            f"No API pod has answered a scrape of {cfg.api.metrics_path} on port "
            f"{cfg.api.port} for {t.down_for}, or no API pod is running.",
        )
    ]
    for level in levels(t.error_rate_warning, t.error_rate_critical, t.error_rate_for):
        rules.append(
            _alert(
                cfg,
                API_ERROR_RATE,
                f'sum(rate(http_requests_total{{{job},status=~"5.."}}[5m]))\n'
                f"  / {requests}\n"
                f"  > {number(level.threshold)}\n"
                f"and on () {requests} > {number(t.error_rate_min_requests_per_second)}",
                level.duration,
                level.severity,
                "api",
                "API 5xx error rate is high",
                f"{{{{ $value | humanizePercentage }}}} of API requests answer 5xx "
                f"(threshold {percent(level.threshold)} for {level.duration}).",
            )
        )
    for level in levels(t.latency_p95_seconds, t.latency_p95_critical_seconds, t.latency_for):
        rules.append(
            _alert(
                cfg,
                API_LATENCY,
                "histogram_quantile(0.95,\n"
                f"  sum by (le) (rate(http_request_duration_seconds_bucket{{{job}}}[5m]))\n"
                f") > {number(level.threshold)}",
                level.duration,
                level.severity,
                "api",
                f"API p95 latency above {seconds_text(level.threshold)}",
                "p95 request latency is {{ $value | humanizeDuration }} "
                f"(threshold {seconds_text(level.threshold)} for {level.duration}).",
            )
        )
    rules.append(
        _alert(
            cfg,
            API_SATURATED,
            f"sum by (namespace, pod) (http_requests_in_progress{{{job}}})"
            f" > {number(t.in_progress_per_pod)}",
            t.saturation_for,
            "warning",
            "api",
            "API pod {{ $labels.pod }} is saturated",
            "{{ $value }} requests are in progress in pod {{ $labels.pod }} "
            f"(threshold {number(t.in_progress_per_pod)} for {t.saturation_for}).",
        )
    )
    autoscaling = cfg.api.autoscaling
    if autoscaling.enabled:
        rules.append(
            _alert(
                cfg,
                API_MAX_REPLICAS,
                f"count(up{{{job}}}) >= {autoscaling.max_replicas}",
                t.max_replicas_for,
                "warning",
                "api",
                "API runs at the HPA's maxReplicas",
                "{{ $value }} API pods are running: the HPA's maxReplicas "
                f"({autoscaling.max_replicas}) for {t.max_replicas_for}. It cannot scale further; "
                "raise api.autoscaling.maxReplicas or the pods' capacity.",
            )
        )
    return rules


def _database_rules(cfg: Config) -> list[dict[str, Any]]:
    t = cfg.alerts.database
    job = f'job="{API_JOB}"'
    rules: list[dict[str, Any]] = []
    if cfg.api.database.mode == "sqlite":
        size = cfg.api.storage.size
        volume = number(float(parse_quantity(size)))
        for level in levels(t.size_warning_ratio, t.size_critical_ratio, t.size_for):
            rules.append(
                _alert(
                    cfg,
                    DB_SIZE,
                    f"max(db_size_bytes{{{job}}}) / {volume} > {number(level.threshold)}",
                    level.duration,
                    level.severity,
                    "database",
                    "The SQLite database fills its volume",
                    "The database is {{ $value | humanizePercentage }} of its "
                    f"{size} volume (threshold {percent(level.threshold)}).",
                )
            )
        horizon = number(duration_seconds(t.fills_within))
        rules.append(
            _alert(
                cfg,
                DB_GROWTH,
                f"max(predict_linear(db_size_bytes{{{job}}}[{t.growth_window}], {horizon}))"
                f" > {volume}",
                t.growth_for,
                "warning",
                "database",
                f"The SQLite database will fill its volume within {t.fills_within}",
                f"At the growth of the last {t.growth_window} the database outgrows its "
                f"{size} volume within {t.fills_within}.",
            )
        )
    rules.append(
        _alert(
            cfg,
            DB_SLOW_QUERIES,
            "histogram_quantile(0.95,\n"
            "  sum by (le, query_type) "
            f"(rate(db_query_duration_seconds_bucket{{{job}}}[5m]))\n"
            f") > {number(t.query_p95_seconds)}",
            t.query_for,
            "warning",
            "database",
            "Slow {{ $labels.query_type }} database queries",
            "p95 of {{ $labels.query_type }} queries is {{ $value | humanizeDuration }} "
            f"(threshold {seconds_text(t.query_p95_seconds)} for {t.query_for}).",
        )
    )
    return rules


def _discovery_rules(cfg: Config) -> list[dict[str, Any]]:
    t = cfg.alerts.discovery
    job = f'job="{API_JOB}"'
    window = t.error_window
    rules: list[dict[str, Any]] = []
    for level in levels(t.error_ratio_warning, t.error_ratio_critical, t.error_for):
        rules.append(
            _alert(
                cfg,
                PIPELINE_FAILING,
                f"sum by (pipeline_type) (increase(pipeline_errors_total{{{job}}}[{window}]))\n"
                f"  / sum by (pipeline_type) (increase(pipeline_runs_total{{{job}}}[{window}]))\n"
                f"  > {number(level.threshold)}",
                level.duration,
                level.severity,
                "discovery",
                "The {{ $labels.pipeline_type }} pipeline is failing",
                "Errors per run of the {{ $labels.pipeline_type }} pipeline over the last "
                f"{window}: {{{{ $value | humanizePercentage }}}} "
                f"(threshold {percent(level.threshold)}).",
            )
        )
    stale = t.stale_after
    runs = f"increase(pipeline_runs_total{{{job}}}[{stale}])"
    errors = f"increase(pipeline_errors_total{{{job}}}[{stale}])"
    rules.append(
        _alert(
            cfg,
            PIPELINE_STALE,
            # Successful runs = runs - errors (a pipeline without errors has no error series).
            f"(\n  sum by (pipeline_type) ({runs})\n"
            f"  - sum by (pipeline_type) ({errors} or {runs} * 0)\n) < 1\n"
            # No run at all, while the API has been up long enough to have run one.
            f"or (\n  absent_over_time(pipeline_runs_total{{{job}}}[{stale}])\n"
            f"  and on () max(time() - process_start_time_seconds{{{job}}})"
            f" > {number(duration_seconds(stale))}\n)",
            "0m",
            "warning",
            "discovery",
            "No successful discovery pipeline run",
            f"No successful pipeline run in the last {stale} "
            "(pipeline_type={{ $labels.pipeline_type }}): discoveries are going stale.",
        )
    )
    return rules


def _llm_rules(cfg: Config) -> list[dict[str, Any]]:
    t = cfg.alerts.llm
    job = f'job="{API_JOB}"'
    rules: list[dict[str, Any]] = []
    for level in levels(t.error_rate_warning, t.error_rate_critical, t.error_rate_for):
        rules.append(
            _alert(
                cfg,
                LLM_ERROR_RATE,
                f"sum by (provider) (rate(llm_errors_total{{{job}}}[10m]))\n"
                f"  / sum by (provider) (rate(llm_requests_total{{{job}}}[10m]))\n"
                f"  > {number(level.threshold)}",
                level.duration,
                level.severity,
                "llm",
                "LLM provider {{ $labels.provider }} is failing",
                "{{ $value | humanizePercentage }} of requests to {{ $labels.provider }} fail "
                f"(threshold {percent(level.threshold)} for {level.duration}).",
            )
        )
    rules.append(
        _alert(
            cfg,
            LLM_LATENCY,
            "histogram_quantile(0.95,\n"
            "  sum by (le, provider, model) "
            f"(rate(llm_request_duration_seconds_bucket{{{job}}}[15m]))\n"
            f") > {number(t.latency_p95_seconds)}",
            t.latency_for,
            "warning",
            "llm",
            "LLM {{ $labels.provider }}/{{ $labels.model }} is slow",
            "p95 of {{ $labels.provider }}/{{ $labels.model }} requests is "
            "{{ $value | humanizeDuration }} "
            f"(threshold {seconds_text(t.latency_p95_seconds)} for {t.latency_for}).",
        )
    )
    rules.append(
        _alert(
            cfg,
            LLM_TOKENS,
            f"sum by (provider) (increase(llm_tokens_total{{{job}}}[1h]))"
            f" > {number(t.tokens_per_hour)}",
            t.tokens_for,
            "warning",
            "llm",
            "High token spend on {{ $labels.provider }}",
            "{{ $value | humanize }} tokens sent to {{ $labels.provider }} in the last hour "
            f"(threshold {number(t.tokens_per_hour)} per hour).",
        )
    )
    return rules


def _cache_rules(cfg: Config) -> list[dict[str, Any]]:
    t = cfg.alerts.cache
    job = f'job="{API_JOB}"'
    hits = f"sum by (cache_type) (rate(cache_hits_total{{{job}}}[30m]))"
    misses = f"sum by (cache_type) (rate(cache_misses_total{{{job}}}[30m]))"
    # A cache with no hit yet has no hits series (and one with no miss no misses series).
    hits_or_zero = f"({hits} or {misses} * 0)"
    misses_or_zero = f"({misses} or {hits} * 0)"
    lookups = f"({hits_or_zero} + {misses_or_zero})"
    return [
        _alert(
            cfg,
            CACHE_HIT_RATE,
            f"{hits_or_zero}\n  / {lookups}\n  < {number(t.hit_ratio_min)}\n"
            f"and {lookups} > {number(t.min_lookups_per_second)}",
            t.hit_ratio_for,
            "info",
            "cache",
            "Low hit rate of the {{ $labels.cache_type }} cache",
            "{{ $value | humanizePercentage }} of {{ $labels.cache_type }} lookups hit "
            f"(threshold {percent(t.hit_ratio_min)} for {t.hit_ratio_for}).",
        )
    ]


def _resource_rules(cfg: Config) -> list[dict[str, Any]]:
    t = cfg.alerts.resources
    jobs = "|".join(PROCESS_JOBS)
    rules = [
        _alert(
            cfg,
            POD_RESTARTING,
            f'changes(process_start_time_seconds{{job=~"{jobs}"}}[1h]) >= {t.restarts_per_hour}',
            "0m",
            "warning",
            "resources",
            "{{ $labels.job }} keeps restarting",
            "{{ $labels.job }} ({{ $labels.instance }}) restarted {{ $value }} times in the "
            f"last hour (threshold {t.restarts_per_hour}).",
        )
    ]
    if not cfg.prometheus.scrape_cadvisor:
        return rules
    containers = f'job="{CADVISOR_JOB}",namespace="{cfg.namespace}",container!="",container!="POD"'
    by = "by (namespace, pod, container)"
    rules.append(
        _alert(
            cfg,
            CPU_THROTTLED,
            f"sum {by} (rate(container_cpu_cfs_throttled_periods_total{{{containers}}}[5m]))\n"
            f"  / sum {by} (rate(container_cpu_cfs_periods_total{{{containers}}}[5m]))\n"
            f"  > {number(t.cpu_throttling_ratio)}",
            t.cpu_throttling_for,
            "warning",
            "resources",
            "Container {{ $labels.pod }}/{{ $labels.container }} is CPU-throttled",
            "{{ $value | humanizePercentage }} of CPU periods are throttled "
            f"(threshold {percent(t.cpu_throttling_ratio)} for {t.cpu_throttling_for}): "
            "the CPU limit is too low for the load.",
        )
    )
    for level in levels(t.memory_warning_ratio, t.memory_critical_ratio, t.memory_for):
        rules.append(
            _alert(
                cfg,
                MEMORY_NEAR_LIMIT,
                f"max {by} (container_memory_working_set_bytes{{{containers}}})\n"
                f"  / max {by} (container_spec_memory_limit_bytes{{{containers}}} > 0)\n"
                f"  > {number(level.threshold)}",
                level.duration,
                level.severity,
                "resources",
                "Container {{ $labels.pod }}/{{ $labels.container }} is near its memory limit",
                "Working set is {{ $value | humanizePercentage }} of the memory limit "
                f"(threshold {percent(level.threshold)}): at the limit it is OOM-killed.",
            )
        )
    return rules


def _monitoring_rules(cfg: Config) -> list[dict[str, Any]]:
    t = cfg.alerts.monitoring
    prometheus = f'job="{names.PROMETHEUS}"'
    alertmanager = f'job="{names.ALERTMANAGER}"'
    if cfg.prometheus.ingress.enabled:
        alerts_page = f"https://{cfg.host('prometheus')}/alerts"
    else:
        alerts_page = f"/alerts (kubectl port-forward -n {cfg.namespace} svc/{names.PROMETHEUS})"
    by = "sum by (alertmanager)"
    notifications = "prometheus_notifications_{}_total{{" + prometheus + "}}"
    slack = f'{alertmanager},integration="{SLACK_INTEGRATION}"'
    window = slack_failures_window(cfg)
    jobs = "|".join(MONITORING_JOBS)
    return [
        _alert(
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
        _alert(
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
        _alert(
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
        _alert(
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
        _alert(
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
        _alert(
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
        _alert(
            cfg,
            MONITORING_TARGET_DOWN,
            f'up{{job=~"{jobs}"}} == 0',
            t.target_down_for,
            "warning",
            "monitoring",
            "Prometheus cannot scrape {{ $labels.job }}",
            "{{ $labels.job }} ({{ $labels.instance }}) has not answered a scrape for "
            f"{t.target_down_for}: it is down or unreachable, and the alerts that read its "
            "metrics are blind.",
        ),
    ]


def alert_rules(cfg: Config) -> dict[str, Any]:
    """One rule group per category, in CATEGORIES order; empty groups are left out."""
    by_category = {
        "api": _api_rules(cfg),
        "database": _database_rules(cfg),
        "discovery": _discovery_rules(cfg),
        "llm": _llm_rules(cfg),
        "cache": _cache_rules(cfg),
        "resources": _resource_rules(cfg),
        "monitoring": _monitoring_rules(cfg),
    }
    return {
        "groups": [
            {"name": f"{names.PART_OF}-{category}", "rules": by_category[category]}
            for category in CATEGORIES
            if by_category[category]
        ]
    }
