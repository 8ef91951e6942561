"""The pods: restarts, CPU throttling and memory against the limit (cAdvisor)."""

from __future__ import annotations

from harvester_manifests.config.models import Config
from harvester_manifests.monitoring import queries as q
from harvester_manifests.monitoring.rules.common import Rule, alert, levels, number, percent

POD_RESTARTING = "SignalHarvesterPodRestarting"
CPU_THROTTLED = "SignalHarvesterCpuThrottled"
MEMORY_NEAR_LIMIT = "SignalHarvesterMemoryNearLimit"


def rules(cfg: Config) -> list[Rule]:
    t = cfg.alerts.resources
    rules = [
        alert(
            cfg,
            POD_RESTARTING,
            f"{q.RESTARTS_LAST_HOUR} >= {t.restarts_per_hour}",
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
    rules.append(
        alert(
            cfg,
            CPU_THROTTLED,
            f"{q.cpu_throttling(cfg.namespace, '5m')}\n  > {number(t.cpu_throttling_ratio)}",
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
            alert(
                cfg,
                MEMORY_NEAR_LIMIT,
                f"{q.memory_against_limit(cfg.namespace)}\n  > {number(level.threshold)}",
                level.duration,
                level.severity,
                "resources",
                "Container {{ $labels.pod }}/{{ $labels.container }} is near its memory limit",
                "Working set is {{ $value | humanizePercentage }} of the memory limit "
                f"(threshold {percent(level.threshold)}): at the limit it is OOM-killed.",
            )
        )
    return rules
