"""Alert rules for the application's metrics (the app contract), its pods, and the monitoring
pipeline itself (the self-metrics of Prometheus 3.16 and Alertmanager 0.35).

Every number comes from `cfg.alerts` (config/alerts.py); ports, paths, job names, the
namespace, the HPA's maxReplicas and the database volume come from the rest of the model, so
a rule can never disagree with the Deployment it watches.

Every alert carries `severity` (critical|warning|info) and `category`
(api|database|discovery|llm|cache|resources|monitoring), and the annotations `summary`,
`description` and `runbook_url` (runbookBaseUrl/<alert name>). An alert with two levels is
two rules with the same name; Alertmanager's inhibition lets the critical one mute the warning.

Where a signal needs a cluster add-on, the rule does without it: restarts are counted from
`changes(process_start_time_seconds)` of our own scrape jobs (the app's Python client and the
Go servers expose it; cAdvisor has no restart counter and kube-state-metrics is not part of
this deployment), and "HPA at maxReplicas" compares the number of discovered API pods with
the maxReplicas from the model (recorded by the sizes group) instead of reading
kube_horizontalpodautoscaler_* metrics.
Container CPU and memory come from cAdvisor (`prometheus.scrapeCadvisor`); without it those
rules are left out. Database size rules compare with the API's volume, so they exist only in
`database.mode: sqlite`.

The monitoring rules read what Prometheus scrapes from itself and from Alertmanager (jobs
named as in scrape.py). An alert about delivery can itself only be delivered when some path
still works: a Prometheus without an Alertmanager shows its alert only on its own Alerts page,
and a Slack failure alert (critical) needs the critical channel's webhook to work.

Annotation templates use only `{{ $value }}`, `{{ $value | <function> }}`,
`{{ $labels.<name> }}` and `{{ $externalURL }}` (the promtool unit tests render exactly
these). Prometheus' own URL comes from `$externalURL` (its --web.external-url), not from the
domain, so the rule text does not change with the environment's domain.

One module per category (as kubernetes-mixin has one alerts/*.libsonnet per area), one rule
group per category, and one file per group in the prometheus-config ConfigMap: a changed
threshold changes only its group's file. The sizes the capacity alerts compare with (the HPA's
maxReplicas, the API volume) are recorded in a group of their own, `signal-harvester-sizes`
(sizes.py), which comes first: the alert groups are the same text in every environment, and an
environment's overlay changes only the sizes file.
"""

from __future__ import annotations

from typing import Any

from harvester_manifests import names
from harvester_manifests.config.models import Config
from harvester_manifests.monitoring.rules import (
    api,
    cache,
    database,
    discovery,
    llm,
    monitoring,
    resources,
    sizes,
)
from harvester_manifests.monitoring.rules.api import *  # noqa: F403
from harvester_manifests.monitoring.rules.cache import *  # noqa: F403
from harvester_manifests.monitoring.rules.common import *  # noqa: F403
from harvester_manifests.monitoring.rules.common import CATEGORIES
from harvester_manifests.monitoring.rules.database import *  # noqa: F403
from harvester_manifests.monitoring.rules.discovery import *  # noqa: F403
from harvester_manifests.monitoring.rules.llm import *  # noqa: F403
from harvester_manifests.monitoring.rules.monitoring import *  # noqa: F403
from harvester_manifests.monitoring.rules.resources import *  # noqa: F403

RULES_SUFFIX = ".rules.yaml"  # scrape.RULES_GLOB loads every such file beside prometheus.yml
_MODULES = {
    "api": api,
    "database": database,
    "discovery": discovery,
    "llm": llm,
    "cache": cache,
    "resources": resources,
    "monitoring": monitoring,
}


def rule_groups(cfg: Config) -> list[dict[str, Any]]:
    """The sizes group, then one rule group per category in CATEGORIES order; empty groups are
    left out."""
    groups = []
    for group, rules in (
        (sizes.GROUP, sizes.rules(cfg)),
        *((category, _MODULES[category].rules(cfg)) for category in CATEGORIES),
    ):
        if rules:
            groups.append({"name": f"{names.PART_OF}-{group}", "rules": rules})
    return groups


def group_category(group_name: str) -> str:
    """The category whose module a rule group comes from."""
    return group_name.removeprefix(f"{names.PART_OF}-")


def alert_rules(cfg: Config) -> dict[str, Any]:
    """Every group as one Prometheus rule file document."""
    return {"groups": rule_groups(cfg)}


def rule_file_name(group: dict[str, Any]) -> str:
    return f"{group['name']}{RULES_SUFFIX}"


def rule_files(cfg: Config) -> dict[str, dict[str, Any]]:
    """One rule file document per group, by file name."""
    return {rule_file_name(g): {"groups": [g]} for g in rule_groups(cfg)}
