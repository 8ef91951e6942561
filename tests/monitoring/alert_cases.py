"""Input series for `promtool test rules`: for every alert, series that must fire it and
series that must leave it silent.

A Scenario feeds series (`step_minutes` apart; the rules are evaluated at the same step) to
the real rule file and evaluates one alert name at one time. Scenarios over hours use a 5 minute
step: promtool evaluates every rule at every step, and 1 minute would make them slow.

`fires` lists the severities expected to fire then, with the labels the alert
gets from the series and the text `{{ $value ... }}` renders to; every other severity of that
alert must be silent. The thresholds come from the environment's Config, so the same scenarios
run against dev, staging and prod.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from harvester_manifests import names
from harvester_manifests.config.alerts import duration_seconds
from harvester_manifests.config.models import Config
from harvester_manifests.config.quantity import parse_quantity
from harvester_manifests.monitoring import rules as r
from harvester_manifests.monitoring.scrape import API_JOB, CADVISOR_JOB, service_address


@dataclass(frozen=True)
class Fires:
    severity: str
    labels: dict[str, str] = field(default_factory=dict)
    value: str | None = None


@dataclass(frozen=True)
class Scenario:
    alert: str
    name: str
    series: list[tuple[str, str]]
    eval_time: str
    fires: list[Fires]
    step_minutes: int = 1


def _series(metric: str, **labels: str) -> str:
    body = ",".join(f'{k}="{v}"' for k, v in labels.items())
    return f"{metric}{{{body}}}"


def _f(x: float) -> str:
    return repr(float(x))


# How Prometheus' template functions print a value (Go's "%.4g" with a unit), for the
# values the scenarios produce.
def humanize(value: float) -> str:
    prefixes = ["", "k", "M", "G", "T", "P", "E"]
    index = 0
    while abs(value) >= 1000 and index < len(prefixes) - 1:
        value /= 1000
        index += 1
    return f"{value:.4g}{prefixes[index]}"


def humanize_percentage(ratio: float) -> str:
    return f"{ratio * 100:.4g}%"


def humanize_duration(seconds: float) -> str:
    assert 0.001 <= seconds < 60, "only milliseconds and seconds are needed here"
    return f"{seconds * 1000:.4g}ms" if seconds < 1 else f"{seconds:.4g}s"


def plain(value: float) -> str:
    """{{ $value }} without a function: Go's %v of a float64."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def p95(lower: float, upper: float) -> float:
    """histogram_quantile(0.95) when every observation is in the bucket (lower, upper]."""
    return lower + 0.95 * (upper - lower)


class Api:
    """Labels of a series scraped from an API pod (what the relabeling gives)."""

    def __init__(self, cfg: Config, pod: str = "signal-harvester-api-7d9f-abcde") -> None:
        self.namespace = cfg.namespace
        self.pod = pod
        self.base = {
            "job": API_JOB,
            "instance": "10.0.0.7:8000",
            "namespace": cfg.namespace,
            "pod": pod,
        }

    def __call__(self, metric: str, **labels: str) -> str:
        return _series(metric, **self.base, **labels)


def _histogram(
    api: Api, metric: str, per_minute: dict[str, float], minutes: int, **labels: str
) -> list[tuple[str, str]]:
    """Cumulative buckets: per_minute maps `le` to requests per minute at or below it."""
    return [
        (api(f"{metric}_bucket", **labels, le=le), f"0+{_f(n)}x{minutes}")
        for le, n in per_minute.items()
    ]


def _api_scenarios(cfg: Config) -> list[Scenario]:
    t = cfg.alerts.api
    api = Api(cfg)
    other = Api(cfg, "signal-harvester-api-7d9f-fghij")
    crit_down = [Fires("critical")]
    out = [
        Scenario(
            r.API_DOWN,
            "every API target down",
            [(api("up"), "0x10"), (other("up"), "0x10")],
            "5m",
            crit_down,
        ),
        Scenario(
            r.API_DOWN,
            "no API target discovered",
            [(_series("up", job="prometheus", instance="localhost:9090"), "1x10")],
            "5m",
            [Fires("critical", {"job": API_JOB})],
        ),
        Scenario(
            r.API_DOWN,
            "one of two targets still up",
            [(api("up"), "1x10"), (other("up"), "0x10")],
            "5m",
            [],
        ),
        Scenario(r.API_DOWN, "down for less than downFor", [(api("up"), "1x3 0x5")], "4m", []),
    ]

    def requests(ok: float, errors: float) -> list[tuple[str, str]]:
        return [
            (
                api("http_requests_total", status="200", endpoint="/discoveries", method="GET"),
                f"0+{_f(ok)}x30",
            ),
            (
                api("http_requests_total", status="500", endpoint="/discoveries", method="GET"),
                f"0+{_f(errors)}x30",
            ),
        ]

    per_minute = 600.0  # 10 requests per second

    def error_case(name: str, ratio: float, fires: list[Fires], rate: float = per_minute) -> None:
        out.append(
            Scenario(
                r.API_ERROR_RATE,
                name,
                requests(rate * (1 - ratio), rate * ratio),
                "20m",
                fires,
            )
        )

    above_both = t.error_rate_critical * 2
    between = (t.error_rate_warning + t.error_rate_critical) / 2
    error_case(
        "above the critical ratio",
        above_both,
        [
            Fires("warning", value=humanize_percentage(above_both)),
            Fires("critical", value=humanize_percentage(above_both)),
        ],
    )
    error_case(
        "between warning and critical",
        between,
        [Fires("warning", value=humanize_percentage(between))],
    )
    error_case("below the warning ratio", t.error_rate_warning / 2, [])
    # Half the requests fail, but there are too few requests to judge.
    error_case("too little traffic", 0.5, [], rate=t.error_rate_min_requests_per_second * 60 / 2)

    buckets = ("0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "+Inf")

    def latency(all_above: str) -> dict[str, float]:
        """100 requests per minute, all in the bucket just above `all_above`."""
        return {le: (100.0 if float(le) > float(all_above) else 0.0) for le in buckets}

    def latency_case(name: str, above: str, fires: list[Fires]) -> None:
        out.append(
            Scenario(
                r.API_LATENCY,
                name,
                _histogram(
                    api,
                    "http_request_duration_seconds",
                    latency(above),
                    30,
                    endpoint="/discoveries",
                ),
                "25m",
                fires,
            )
        )

    def bucket_above(seconds: float) -> tuple[str, float, float]:
        """The first bucket boundary at or above `seconds`, and that bucket's p95."""
        index = next(i for i, le in enumerate(buckets) if float(le) >= seconds)
        return buckets[index], float(buckets[index]), float(buckets[index + 1])

    le, lower, upper = bucket_above(t.latency_p95_critical_seconds)
    slow = humanize_duration(p95(lower, upper))
    latency_case(
        "p95 above critical", le, [Fires("warning", value=slow), Fires("critical", value=slow)]
    )
    le, lower, upper = bucket_above(t.latency_p95_seconds)
    assert p95(lower, upper) < t.latency_p95_critical_seconds
    latency_case(
        "p95 above the guide's 50ms",
        le,
        [Fires("warning", value=humanize_duration(p95(lower, upper)))],
    )
    latency_case("p95 well below 50ms", buckets[0], [])

    n = t.in_progress_per_pod
    pod_labels = {"namespace": api.namespace, "pod": api.pod}
    out += [
        Scenario(
            r.API_SATURATED,
            "in-progress above the limit",
            [
                (api("http_requests_in_progress"), f"{_f(n + 10)}x15"),
                (other("http_requests_in_progress"), "1x15"),
            ],
            "10m",
            [Fires("warning", pod_labels, plain(n + 10))],
        ),
        Scenario(
            r.API_SATURATED,
            "in-progress below the limit",
            [(api("http_requests_in_progress"), f"{_f(n - 10)}x15")],
            "10m",
            [],
        ),
    ]
    most = cfg.api.autoscaling.max_replicas
    pods = [Api(cfg, f"signal-harvester-api-7d9f-{i:05d}") for i in range(most)]
    out += [
        Scenario(
            r.API_MAX_REPLICAS,
            "as many pods as maxReplicas",
            [(p("up"), "1x30") for p in pods],
            "20m",
            [Fires("warning", value=plain(most))],
        ),
        Scenario(
            r.API_MAX_REPLICAS,
            "one pod fewer than maxReplicas",
            [(p("up"), "1x30") for p in pods[1:]],
            "20m",
            [],
        ),
    ]
    return out


def _database_scenarios(cfg: Config) -> list[Scenario]:
    t = cfg.alerts.database
    api = Api(cfg)
    volume = float(parse_quantity(cfg.api.storage.size))
    out: list[Scenario] = []

    def size_case(name: str, ratio: float, fires: list[Fires]) -> None:
        out.append(
            Scenario(
                r.DB_SIZE, name, [(api("db_size_bytes"), f"{_f(volume * ratio)}x30")], "20m", fires
            )
        )

    high = (1 + t.size_critical_ratio) / 2
    between = (t.size_warning_ratio + t.size_critical_ratio) / 2
    size_case(
        "above the critical share of the volume",
        high,
        [
            Fires("warning", value=humanize_percentage(high)),
            Fires("critical", value=humanize_percentage(high)),
        ],
    )
    size_case(
        "between warning and critical",
        between,
        [Fires("warning", value=humanize_percentage(between))],
    )
    size_case("half the volume", 0.5, [])

    # Growing by one volume per day from 10 %: the last 6h predict far past the volume.
    steps = 8 * 60 // 5
    out += [
        Scenario(
            r.DB_GROWTH,
            "growing a volume per day",
            [(api("db_size_bytes"), f"{_f(volume * 0.1)}+{_f(volume / 1440 * 5)}x{steps}")],
            "7h30m",
            [Fires("warning")],
            step_minutes=5,
        ),
        Scenario(
            r.DB_GROWTH,
            "growing a volume per month",
            [(api("db_size_bytes"), f"{_f(volume * 0.1)}+{_f(volume / 43200 * 5)}x{steps}")],
            "7h30m",
            [],
            step_minutes=5,
        ),
        Scenario(
            r.DB_GROWTH,
            "constant size",
            [(api("db_size_bytes"), f"{_f(volume * 0.5)}x{steps}")],
            "7h30m",
            [],
            step_minutes=5,
        ),
    ]
    buckets = ("0.001", "0.005", "0.01", "0.05", "0.1", "0.25", "0.5", "1", "+Inf")

    def queries(above: str) -> list[tuple[str, str]]:
        per_minute = {le: (100.0 if float(le) > float(above) else 0.0) for le in buckets}
        return _histogram(api, "db_query_duration_seconds", per_minute, 30, query_type="select")

    out += [
        # All select queries between 0.1s and 0.25s.
        Scenario(
            r.DB_SLOW_QUERIES,
            "p95 above the limit",
            queries("0.1"),
            "25m",
            [Fires("warning", {"query_type": "select"}, humanize_duration(p95(0.1, 0.25)))],
        ),
        Scenario(r.DB_SLOW_QUERIES, "fast queries", queries("0.005"), "25m", []),
    ]
    return out


def _discovery_scenarios(cfg: Config) -> list[Scenario]:
    t = cfg.alerts.discovery
    api = Api(cfg)
    discovery = {"pipeline_type": "discovery"}

    def runs(errors_per_run: float | None, minutes: int = 70) -> list[tuple[str, str]]:
        series = [(api("pipeline_runs_total", **discovery), f"0+1x{minutes}")]
        if errors_per_run is not None:
            series.append(
                (api("pipeline_errors_total", **discovery), f"0+{_f(errors_per_run)}x{minutes}")
            )
        return series

    high = (1 + t.error_ratio_critical) / 2
    between = (t.error_ratio_warning + t.error_ratio_critical) / 2
    out = [
        Scenario(
            r.PIPELINE_FAILING,
            "most runs fail",
            runs(high),
            "1h",
            [
                Fires("warning", discovery, humanize_percentage(high)),
                Fires("critical", discovery, humanize_percentage(high)),
            ],
        ),
        Scenario(
            r.PIPELINE_FAILING,
            "some runs fail",
            runs(between),
            "1h",
            [Fires("warning", discovery, humanize_percentage(between))],
        ),
        Scenario(r.PIPELINE_FAILING, "few runs fail", runs(t.error_ratio_warning / 2), "1h", []),
        Scenario(r.PIPELINE_FAILING, "no error series", runs(None), "1h", []),
    ]
    stale = int(duration_seconds(t.stale_after) // 60)
    long = stale + 60
    steps = long // 5  # one run per 5 minute step
    started = (api("process_start_time_seconds"), f"0x{steps}")
    at = f"{long}m"
    out += [
        Scenario(
            r.PIPELINE_STALE,
            "every run fails",
            runs(1.0, steps),
            at,
            [Fires("warning", discovery)],
            5,
        ),
        Scenario(
            r.PIPELINE_STALE,
            "runs stopped",
            [(api("pipeline_runs_total", **discovery), f"0+1x6 6x{steps}")],
            at,
            [Fires("warning", discovery)],
            5,
        ),
        Scenario(
            r.PIPELINE_STALE,
            "never ran while the API is up",
            [started],
            at,
            [Fires("warning", {"job": API_JOB})],
            5,
        ),
        Scenario(r.PIPELINE_STALE, "runs succeed", runs(0.0, steps), at, [], 5),
        Scenario(r.PIPELINE_STALE, "runs succeed, no error series", runs(None, steps), at, [], 5),
        Scenario(
            r.PIPELINE_STALE,
            "never ran, API younger than staleAfter",
            [started],
            f"{stale - 60}m",
            [],
            5,
        ),
    ]
    return out


def _llm_scenarios(cfg: Config) -> list[Scenario]:
    t = cfg.alerts.llm
    api = Api(cfg)
    openai = {"provider": "openai"}

    def errors(ratio: float) -> list[tuple[str, str]]:
        return [
            (api("llm_requests_total", **openai), "0+100x40"),
            (api("llm_errors_total", **openai), f"0+{_f(100 * ratio)}x40"),
        ]

    high = (1 + t.error_rate_critical) / 2
    between = (t.error_rate_warning + t.error_rate_critical) / 2
    out = [
        Scenario(
            r.LLM_ERROR_RATE,
            "most requests fail",
            errors(high),
            "30m",
            [
                Fires("warning", openai, humanize_percentage(high)),
                Fires("critical", openai, humanize_percentage(high)),
            ],
        ),
        Scenario(
            r.LLM_ERROR_RATE,
            "some requests fail",
            errors(between),
            "30m",
            [Fires("warning", openai, humanize_percentage(between))],
        ),
        Scenario(
            r.LLM_ERROR_RATE, "few requests fail", errors(t.error_rate_warning / 2), "30m", []
        ),
    ]
    buckets = ("1", "2.5", "5", "10", "30", "60", "120", "+Inf")
    model = {"provider": "openai", "model": "gpt-4o"}

    def latency(above: str) -> list[tuple[str, str]]:
        per_minute = {le: (10.0 if float(le) > float(above) else 0.0) for le in buckets}
        return _histogram(api, "llm_request_duration_seconds", per_minute, 40, **model)

    index = next(i for i, le in enumerate(buckets) if float(le) >= t.latency_p95_seconds)
    lower, upper = float(buckets[index]), float(buckets[index + 1])
    out += [
        Scenario(
            r.LLM_LATENCY,
            "p95 above the limit",
            latency(buckets[index]),
            "35m",
            [Fires("warning", model, humanize_duration(p95(lower, upper)))],
        ),
        Scenario(r.LLM_LATENCY, "fast responses", latency(buckets[0]), "35m", []),
    ]
    tokens = t.tokens_per_hour
    out += [
        Scenario(
            r.LLM_TOKENS,
            "twice the hourly budget",
            [(api("llm_tokens_total", **openai), f"0+{_f(tokens * 2 / 60)}x120")],
            "1h30m",
            [Fires("warning", openai, humanize(tokens * 2))],
        ),
        Scenario(
            r.LLM_TOKENS,
            "half the hourly budget",
            [(api("llm_tokens_total", **openai), f"0+{_f(tokens / 2 / 60)}x120")],
            "1h30m",
            [],
        ),
    ]
    return out


def _cache_scenarios(cfg: Config) -> list[Scenario]:
    t = cfg.alerts.cache
    api = Api(cfg)
    lru = {"cache_type": "discoveries"}

    def lookups(hits: float | None, misses: float | None) -> list[tuple[str, str]]:
        series = []
        if hits is not None:
            series.append((api("cache_hits_total", **lru), f"0+{_f(hits)}x90"))
        if misses is not None:
            series.append((api("cache_misses_total", **lru), f"0+{_f(misses)}x90"))
        return series

    per_minute = t.min_lookups_per_second * 60 * 4
    low = t.hit_ratio_min / 2
    high = (1 + t.hit_ratio_min) / 2
    return [
        Scenario(
            r.CACHE_HIT_RATE,
            "hit ratio below the minimum",
            lookups(per_minute * low, per_minute * (1 - low)),
            "80m",
            [Fires("info", lru, humanize_percentage(low))],
        ),
        Scenario(
            r.CACHE_HIT_RATE,
            "no hit at all (no hits series)",
            lookups(None, per_minute),
            "80m",
            [Fires("info", lru, humanize_percentage(0))],
        ),
        Scenario(
            r.CACHE_HIT_RATE,
            "hit ratio above the minimum",
            lookups(per_minute * high, per_minute * (1 - high)),
            "80m",
            [],
        ),
        Scenario(
            r.CACHE_HIT_RATE,
            "no miss at all (no misses series)",
            lookups(per_minute, None),
            "80m",
            [],
        ),
        Scenario(
            r.CACHE_HIT_RATE,
            "too few lookups",
            lookups(per_minute / 20 * low, per_minute / 20 * (1 - low)),
            "80m",
            [],
        ),
    ]


def _resource_scenarios(cfg: Config) -> list[Scenario]:
    t = cfg.alerts.resources
    api = Api(cfg)
    restarts = t.restarts_per_hour

    def starts(count: int) -> str:
        """A process start time that changes `count` times within the last hour."""
        return " ".join(f"{1000 * (i + 1)}x9" for i in range(count + 1))

    end = f"{(restarts + 1) * 10 - 1}m"
    grafana = {"job": "grafana", "instance": f"grafana.{cfg.namespace}.svc:3000"}
    out = [
        Scenario(
            r.POD_RESTARTING,
            "API container restarts",
            [(api("process_start_time_seconds"), starts(restarts))],
            end,
            [Fires("warning", dict(api.base), plain(restarts))],
        ),
        Scenario(
            r.POD_RESTARTING,
            "Grafana restarts",
            [(_series("process_start_time_seconds", **grafana), starts(restarts))],
            end,
            [Fires("warning", grafana, plain(restarts))],
        ),
        Scenario(
            r.POD_RESTARTING,
            "fewer restarts",
            [(api("process_start_time_seconds"), starts(restarts - 1))],
            end,
            [],
        ),
        # A rollout replaces pods: new pod names, new series, no restart.
        Scenario(
            r.POD_RESTARTING,
            "rollout",
            [
                (
                    Api(cfg, f"signal-harvester-api-new-{i}")("process_start_time_seconds"),
                    " ".join(["_"] * (10 * i) + [f"{1000 * i}x9"]),
                )
                for i in range(restarts + 1)
            ],
            end,
            [],
        ),
    ]
    container = {
        "namespace": cfg.namespace,
        "pod": "signal-harvester-api-7d9f-abcde",
        "container": "signal-harvester-api",
    }

    def cadvisor(metric: str, **labels: str) -> str:
        return _series(metric, job=CADVISOR_JOB, instance="node-1", node="node-1", **labels)

    def throttled(ratio: float, **labels: str) -> list[tuple[str, str]]:
        return [
            (cadvisor("container_cpu_cfs_periods_total", **labels), "0+600x30"),
            (
                cadvisor("container_cpu_cfs_throttled_periods_total", **labels),
                f"0+{_f(600 * ratio)}x30",
            ),
        ]

    high = (1 + t.cpu_throttling_ratio) / 2
    elsewhere = {**container, "namespace": "someone-else"}
    pod_level = {**container, "container": ""}
    out += [
        Scenario(
            r.CPU_THROTTLED,
            "throttled",
            throttled(high, **container),
            "25m",
            [Fires("warning", container, humanize_percentage(high))],
        ),
        Scenario(
            r.CPU_THROTTLED,
            "rarely throttled",
            throttled(t.cpu_throttling_ratio / 2, **container),
            "25m",
            [],
        ),
        Scenario(r.CPU_THROTTLED, "another namespace", throttled(high, **elsewhere), "25m", []),
        Scenario(r.CPU_THROTTLED, "pod-level cgroup", throttled(high, **pod_level), "25m", []),
    ]
    limit = float(parse_quantity(cfg.api.resources.limits.memory))

    def memory(ratio: float, limit_bytes: float = limit) -> list[tuple[str, str]]:
        return [
            (
                cadvisor("container_memory_working_set_bytes", **container),
                f"{_f(limit * ratio)}x20",
            ),
            (cadvisor("container_spec_memory_limit_bytes", **container), f"{_f(limit_bytes)}x20"),
        ]

    high = (1 + t.memory_critical_ratio) / 2
    between = (t.memory_warning_ratio + t.memory_critical_ratio) / 2
    out += [
        Scenario(
            r.MEMORY_NEAR_LIMIT,
            "at the limit",
            memory(high),
            "15m",
            [
                Fires("warning", container, humanize_percentage(high)),
                Fires("critical", container, humanize_percentage(high)),
            ],
        ),
        Scenario(
            r.MEMORY_NEAR_LIMIT,
            "near the limit",
            memory(between),
            "15m",
            [Fires("warning", container, humanize_percentage(between))],
        ),
        Scenario(r.MEMORY_NEAR_LIMIT, "half the limit", memory(0.5), "15m", []),
        Scenario(r.MEMORY_NEAR_LIMIT, "no limit", memory(0.99, 0), "15m", []),
    ]
    return out


def _minutes(duration: str) -> int:
    return int(duration_seconds(duration) // 60)


def _monitoring_scenarios(cfg: Config) -> list[Scenario]:
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


SCENARIOS: list[Callable[[Config], list[Scenario]]] = [
    _api_scenarios,
    _database_scenarios,
    _discovery_scenarios,
    _llm_scenarios,
    _cache_scenarios,
    _resource_scenarios,
    _monitoring_scenarios,
]


def scenarios(cfg: Config) -> list[Scenario]:
    return [s for make in SCENARIOS for s in make(cfg)]
