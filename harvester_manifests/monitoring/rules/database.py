"""The database: slow queries, and the SQLite volume filling up or about to."""

from __future__ import annotations

from harvester_manifests.config.alerts import duration_seconds
from harvester_manifests.config.models import Config
from harvester_manifests.monitoring import queries as q
from harvester_manifests.monitoring.rules import sizes
from harvester_manifests.monitoring.rules.common import (
    Rule,
    alert,
    levels,
    number,
    percent,
    seconds_text,
)

DB_SIZE = "SignalHarvesterDatabaseVolumeFilling"
DB_GROWTH = "SignalHarvesterDatabaseFillsVolumeSoon"
DB_SLOW_QUERIES = "SignalHarvesterDatabaseSlowQueries"


def rules(cfg: Config) -> list[Rule]:
    t = cfg.alerts.database
    return [
        alert(
            cfg,
            DB_SLOW_QUERIES,
            f"{q.db_query_p95('5m')} > {number(t.query_p95_seconds)}",
            t.query_for,
            "warning",
            "database",
            "Slow {{ $labels.query_type }} database queries",
            "p95 of {{ $labels.query_type }} queries is {{ $value | humanizeDuration }} "
            f"(threshold {seconds_text(t.query_p95_seconds)} for {t.query_for}).",
        ),
        *capacity_rules(cfg),
    ]


def capacity_rules(cfg: Config) -> list[Rule]:
    """The API volume filling up, or about to, against its size from the sizes group."""
    t = cfg.alerts.database
    rules: list[Rule] = []
    if cfg.api.database.mode != "sqlite":
        return rules
    volume = sizes.size(cfg, sizes.DATABASE_VOLUME_BYTES)
    for level in levels(t.size_warning_ratio, t.size_critical_ratio, t.size_for):
        rules.append(
            alert(
                cfg,
                DB_SIZE,
                f"{q.DB_SIZE} / {volume} > {number(level.threshold)}",
                level.duration,
                level.severity,
                "database",
                "The SQLite database fills its volume",
                "The database is {{ $value | humanizePercentage }} of its volume "
                f"(threshold {percent(level.threshold)}).",
            )
        )
    horizon = number(duration_seconds(t.fills_within))
    rules.append(
        alert(
            cfg,
            DB_GROWTH,
            f"max(predict_linear({q.DB_SIZE_BYTES}[{t.growth_window}], {horizon})) > {volume}",
            t.growth_for,
            "warning",
            "database",
            f"The SQLite database will fill its volume within {t.fills_within}",
            f"At the growth of the last {t.growth_window} the database outgrows its "
            f"volume within {t.fills_within}.",
        )
    )
    return rules
