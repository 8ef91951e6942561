"""Firing and silent cases of the resources group's alerts."""

from __future__ import annotations

from harvester_manifests.config.models import Config
from harvester_manifests.config.quantity import parse_quantity
from harvester_manifests.monitoring import rules as r
from harvester_manifests.monitoring.scrape import CADVISOR_JOB
from tests.monitoring.alert_cases.common import (
    Api,
    Fires,
    Scenario,
    _f,
    _series,
    humanize_percentage,
    plain,
)


def scenarios(cfg: Config) -> list[Scenario]:
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
