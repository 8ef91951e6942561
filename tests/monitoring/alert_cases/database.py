"""Firing and silent cases of the database group's alerts."""

from __future__ import annotations

from harvester_manifests.config.models import Config
from harvester_manifests.config.quantity import parse_quantity
from harvester_manifests.monitoring import rules as r
from tests.monitoring.alert_cases.common import (
    Api,
    Fires,
    Scenario,
    _f,
    _histogram,
    humanize_duration,
    humanize_percentage,
    p95,
)


def capacity_scenarios(cfg: Config) -> list[Scenario]:
    """The volume filling up or about to (its size read from the sizes group)."""
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
    return out


def scenarios(cfg: Config) -> list[Scenario]:
    api = Api(cfg)
    buckets = ("0.001", "0.005", "0.01", "0.05", "0.1", "0.25", "0.5", "1", "+Inf")

    def queries(above: str) -> list[tuple[str, str]]:
        per_minute = {le: (100.0 if float(le) > float(above) else 0.0) for le in buckets}
        return _histogram(api, "db_query_duration_seconds", per_minute, 30, query_type="select")

    return [
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
