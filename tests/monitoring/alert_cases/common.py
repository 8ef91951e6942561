"""What every category's alert cases share: the Scenario and Fires records, series builders,
and how Prometheus' template functions print a value."""

from __future__ import annotations

from dataclasses import dataclass, field

from harvester_manifests.config.alerts import duration_seconds
from harvester_manifests.config.models import Config
from harvester_manifests.monitoring.scrape import API_JOB


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


def _minutes(duration: str) -> int:
    return int(duration_seconds(duration) // 60)
