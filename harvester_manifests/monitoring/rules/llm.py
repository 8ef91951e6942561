"""The LLM providers: error rate, latency and token spend."""

from __future__ import annotations

from harvester_manifests.config.models import Config
from harvester_manifests.monitoring.rules.common import (
    Rule,
    alert,
    levels,
    number,
    percent,
    seconds_text,
)
from harvester_manifests.monitoring.scrape import API_JOB

LLM_ERROR_RATE = "SignalHarvesterLlmHighErrorRate"
LLM_LATENCY = "SignalHarvesterLlmHighLatency"
LLM_TOKENS = "SignalHarvesterLlmTokenSpendHigh"


def rules(cfg: Config) -> list[Rule]:
    t = cfg.alerts.llm
    job = f'job="{API_JOB}"'
    rules: list[Rule] = []
    for level in levels(t.error_rate_warning, t.error_rate_critical, t.error_rate_for):
        rules.append(
            alert(
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
        alert(
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
        alert(
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
