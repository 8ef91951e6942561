"""The discovery pipeline: failing runs, and no successful run for too long."""

from __future__ import annotations

from harvester_manifests.config.alerts import duration_seconds
from harvester_manifests.config.models import Config
from harvester_manifests.monitoring.rules.common import Rule, alert, levels, number, percent
from harvester_manifests.monitoring.scrape import API_JOB

PIPELINE_FAILING = "SignalHarvesterDiscoveryPipelineFailing"
PIPELINE_STALE = "SignalHarvesterDiscoveryPipelineStale"


def rules(cfg: Config) -> list[Rule]:
    t = cfg.alerts.discovery
    job = f'job="{API_JOB}"'
    window = t.error_window
    rules: list[Rule] = []
    for level in levels(t.error_ratio_warning, t.error_ratio_critical, t.error_for):
        rules.append(
            alert(
                cfg,
                PIPELINE_FAILING,
                f"sum by (pipeline_type) (increase(pipeline_errors_total{{{job}}}[{window}]))\n"
                f"  / sum by (pipeline_type) (increase(pipeline_runs_total{{{job}}}[{window}]))\n"
                f"  > {number(level.threshold)}",
                level.duration,
                level.severity,
                "discovery",
                "The {{ $labels.pipeline_type }} pipeline is failing",
                "Errors per run of the {{ $labels.pipeline_type }} pipeline over the last "
                f"{window}: {{{{ $value | humanizePercentage }}}} "
                f"(threshold {percent(level.threshold)}).",
            )
        )
    stale = t.stale_after
    runs = f"increase(pipeline_runs_total{{{job}}}[{stale}])"
    errors = f"increase(pipeline_errors_total{{{job}}}[{stale}])"
    rules.append(
        alert(
            cfg,
            PIPELINE_STALE,
            # Successful runs = runs - errors (a pipeline without errors has no error series).
            f"(\n  sum by (pipeline_type) ({runs})\n"
            f"  - sum by (pipeline_type) ({errors} or {runs} * 0)\n) < 1\n"
            # No run at all, while the API has been up long enough to have run one.
            f"or (\n  absent_over_time(pipeline_runs_total{{{job}}}[{stale}])\n"
            f"  and on () max(time() - process_start_time_seconds{{{job}}})"
            f" > {number(duration_seconds(stale))}\n)",
            "0m",
            "warning",
            "discovery",
            "No successful discovery pipeline run",
            f"No successful pipeline run in the last {stale} "
            "(pipeline_type={{ $labels.pipeline_type }}): discoveries are going stale.",
        )
    )
    return rules
