"""An environment's sizes as constant series, recorded in a rule group of their own.

The alerts about capacity compare what they measure with a size from the model: the HPA's
maxReplicas, the API volume's bytes. Written into each alert's expression, those numbers made
every environment's overlay repeat whole alert rules to change one number. Instead the sizes are
recorded here, one series each (`vector(N)`, as Sloth and Pyrra record an SLO's objective), and
the alerts read them with `scalar(...)`: the alert groups are the same text in every
environment, and an overlay changes only this small file.

Each series carries the namespace label, and the alerts select on it: in operator mode several
installations can share one Prometheus, and `scalar()` of two series would be NaN (an alert
that never fires). A missing series is NaN too, so an alert stays silent rather than firing on
a wrong size.
"""

from __future__ import annotations

from harvester_manifests.config.models import Config
from harvester_manifests.config.quantity import parse_quantity
from harvester_manifests.monitoring.rules.common import Rule, number

HPA_MAX_REPLICAS = "signal_harvester:hpa_max_replicas"
DATABASE_VOLUME_BYTES = "signal_harvester:database_volume_bytes"
GROUP = "sizes"  # the group's name after "signal-harvester-"


def rules(cfg: Config) -> list[Rule]:
    """The sizes this environment's alerts read: the HPA's maxReplicas when it autoscales, the
    API volume when the database is SQLite on it."""
    rules = []
    if cfg.api.autoscaling.enabled:
        rules.append(_record(cfg, HPA_MAX_REPLICAS, cfg.api.autoscaling.max_replicas))
    if cfg.api.database.mode == "sqlite":
        volume = float(parse_quantity(cfg.api.storage.size))
        rules.append(_record(cfg, DATABASE_VOLUME_BYTES, volume))
    return rules


def _record(cfg: Config, series: str, value: float) -> Rule:
    return {
        "record": series,
        "expr": f"vector({number(value)})",
        "labels": {"namespace": cfg.namespace},
    }


def size(cfg: Config, series: str) -> str:
    """The PromQL that reads a recorded size as a scalar (NaN when it is missing)."""
    return f'scalar({series}{{namespace="{cfg.namespace}"}})'
