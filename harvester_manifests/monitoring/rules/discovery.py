"""The discovery pipeline: failing runs, and no successful run for too long."""

from __future__ import annotations

from harvester_manifests.config.alerts import duration_seconds
from harvester_manifests.config.models import Config
from harvester_manifests.monitoring import queries as q
from harvester_manifests.monitoring.rules.common import Rule, alert, levels, number, percent

PIPELINE_FAILING = "SignalHarvesterDiscoveryPipelineFailing"
PIPELINE_STALE = "SignalHarvesterDiscoveryPipelineStale"


def rules(cfg: Config) -> list[Rule]:
    t = cfg.alerts.discovery
    window = t.error_window
    rules: list[Rule] = []
    for level in levels(t.error_ratio_warning, t.error_ratio_critical, t.error_for):
        rules.append(
            alert(
                cfg,
                PIPELINE_FAILING,
                f"{q.pipeline_error_ratio(window)}\n  > {number(level.threshold)}",
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
    runs = f"increase({q.PIPELINE_RUNS}[{stale}])"
    errors = f"increase({q.PIPELINE_ERRORS}[{stale}])"
    rules.append(
        alert(
            cfg,
            PIPELINE_STALE,
            # Successful runs = runs - errors (a pipeline without errors has no error series).
            f"(\n  sum by (pipeline_type) ({runs})\n"
            f"  - sum by (pipeline_type) ({errors} or {runs} * 0)\n) < 1\n"
            # No run at all, while the API has been up long enough to have run one.
            f"or (\n  absent_over_time({q.PIPELINE_RUNS}[{stale}])\n"
            f"  and on () max(time() - {q.api_metric('process_start_time_seconds')})"
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
