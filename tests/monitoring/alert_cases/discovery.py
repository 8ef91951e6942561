"""Firing and silent cases of the discovery group's alerts."""

from __future__ import annotations

from harvester_manifests.config.alerts import duration_seconds
from harvester_manifests.config.models import Config
from harvester_manifests.monitoring import rules as r
from harvester_manifests.monitoring.scrape import API_JOB
from tests.monitoring.alert_cases.common import (
    Api,
    Fires,
    Scenario,
    _f,
    humanize_percentage,
)


def scenarios(cfg: Config) -> list[Scenario]:
    t = cfg.alerts.discovery
    api = Api(cfg)
    discovery = {"pipeline_type": "discovery"}

    def runs(errors_per_run: float | None, minutes: int = 70) -> list[tuple[str, str]]:
        series = [(api("pipeline_runs_total", **discovery), f"0+1x{minutes}")]
        if errors_per_run is not None:
            series.append(
                (api("pipeline_errors_total", **discovery), f"0+{_f(errors_per_run)}x{minutes}")
            )
        return series

    high = (1 + t.error_ratio_critical) / 2
    between = (t.error_ratio_warning + t.error_ratio_critical) / 2
    out = [
        Scenario(
            r.PIPELINE_FAILING,
            "most runs fail",
            runs(high),
            "1h",
            [
                Fires("warning", discovery, humanize_percentage(high)),
                Fires("critical", discovery, humanize_percentage(high)),
            ],
        ),
        Scenario(
            r.PIPELINE_FAILING,
            "some runs fail",
            runs(between),
            "1h",
            [Fires("warning", discovery, humanize_percentage(between))],
        ),
        Scenario(r.PIPELINE_FAILING, "few runs fail", runs(t.error_ratio_warning / 2), "1h", []),
        Scenario(r.PIPELINE_FAILING, "no error series", runs(None), "1h", []),
    ]
    stale = int(duration_seconds(t.stale_after) // 60)
    long = stale + 60
    steps = long // 5  # one run per 5 minute step
    started = (api("process_start_time_seconds"), f"0x{steps}")
    at = f"{long}m"
    out += [
        Scenario(
            r.PIPELINE_STALE,
            "every run fails",
            runs(1.0, steps),
            at,
            [Fires("warning", discovery)],
            5,
        ),
        Scenario(
            r.PIPELINE_STALE,
            "runs stopped",
            [(api("pipeline_runs_total", **discovery), f"0+1x6 6x{steps}")],
            at,
            [Fires("warning", discovery)],
            5,
        ),
        Scenario(
            r.PIPELINE_STALE,
            "never ran while the API is up",
            [started],
            at,
            [Fires("warning", {"job": API_JOB})],
            5,
        ),
        Scenario(r.PIPELINE_STALE, "runs succeed", runs(0.0, steps), at, [], 5),
        Scenario(r.PIPELINE_STALE, "runs succeed, no error series", runs(None, steps), at, [], 5),
        Scenario(
            r.PIPELINE_STALE,
            "never ran, API younger than staleAfter",
            [started],
            f"{stale - 60}m",
            [],
            5,
        ),
    ]
    return out
