"""What every alert rule module shares: the labels every alert carries, number and duration
formatting for expressions and annotations, and the one constructor of an alert rule."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harvester_manifests.config.models import Config

Rule = dict[str, Any]

CATEGORIES = ("api", "database", "discovery", "llm", "cache", "resources", "monitoring")
SEVERITIES = ("critical", "warning", "info")
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


@dataclass(frozen=True)
class Level:
    severity: str
    threshold: float
    duration: str


def levels(warning: float, critical: float, duration: str) -> tuple[Level, Level]:
    """The two levels of an alert whose critical shares its name (so it mutes the warning)."""
    return Level("warning", warning, duration), Level("critical", critical, duration)


def alert(
    cfg: Config,
    name: str,
    expr: str,
    duration: str,
    severity: str,
    category: str,
    summary: str,
    description: str,
) -> Rule:
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
