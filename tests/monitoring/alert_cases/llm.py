"""Firing and silent cases of the llm group's alerts."""

from __future__ import annotations

from harvester_manifests.config.models import Config
from harvester_manifests.monitoring import rules as r
from tests.monitoring.alert_cases.common import (
    Api,
    Fires,
    Scenario,
    _f,
    _histogram,
    humanize,
    humanize_duration,
    humanize_percentage,
    p95,
)


def scenarios(cfg: Config) -> list[Scenario]:
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
