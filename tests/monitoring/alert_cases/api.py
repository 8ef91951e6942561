"""Firing and silent cases of the api group's alerts."""

from __future__ import annotations

from harvester_manifests.config.models import Config
from harvester_manifests.monitoring import rules as r
from harvester_manifests.monitoring.scrape import API_JOB
from tests.monitoring.alert_cases.common import (
    Api,
    Fires,
    Scenario,
    _f,
    _histogram,
    _series,
    humanize_duration,
    humanize_percentage,
    p95,
    plain,
)


def scenarios(cfg: Config) -> list[Scenario]:
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
    return out


def capacity_scenarios(cfg: Config) -> list[Scenario]:
    """The HPA at its maxReplicas (read from the sizes group)."""
    most = cfg.api.autoscaling.max_replicas
    pods = [Api(cfg, f"signal-harvester-api-7d9f-{i:05d}") for i in range(most)]
    return [
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
