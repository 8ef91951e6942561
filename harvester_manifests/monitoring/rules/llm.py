"""The LLM providers: error rate, latency and token spend."""

from __future__ import annotations

from harvester_manifests.config.models import Config
from harvester_manifests.monitoring import queries as q
from harvester_manifests.monitoring.rules.common import (
    Rule,
    alert,
    levels,
    number,
    percent,
    seconds_text,
)

LLM_ERROR_RATE = "SignalHarvesterLlmHighErrorRate"
LLM_LATENCY = "SignalHarvesterLlmHighLatency"
LLM_TOKENS = "SignalHarvesterLlmTokenSpendHigh"


def rules(cfg: Config) -> list[Rule]:
    t = cfg.alerts.llm
    rules: list[Rule] = []
    for level in levels(t.error_rate_warning, t.error_rate_critical, t.error_rate_for):
        rules.append(
            alert(
                cfg,
                LLM_ERROR_RATE,
                f"{q.llm_error_ratio('10m')}\n  > {number(level.threshold)}",
                level.duration,
                level.severity,
                "llm",
                "LLM provider {{ $labels.provider }} is failing",
                "{{ $value | humanizePercentage }} of requests to {{ $labels.provider }} fail "
                f"(threshold {percent(level.threshold)} for {level.duration}).",
            )
        )
    rules.append(
        alert(
            cfg,
            LLM_LATENCY,
            f"{q.llm_latency('15m')} > {number(t.latency_p95_seconds)}",
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
        alert(
            cfg,
            LLM_TOKENS,
            f"{q.LLM_TOKENS_PER_HOUR} > {number(t.tokens_per_hour)}",
            t.tokens_for,
            "warning",
            "llm",
            "High token spend on {{ $labels.provider }}",
            "{{ $value | humanize }} tokens sent to {{ $labels.provider }} in the last hour "
            f"(threshold {number(t.tokens_per_hour)} per hour).",
        )
    )
    return rules
