"""Input series for `promtool test rules`, one module per rule group as the rules have
(harvester_manifests/monitoring/rules/): for every alert, series that must fire it and series
that must leave it silent.

A Scenario feeds series (`step_minutes` apart; the rules are evaluated at the same step) to
the real rule file and evaluates one alert name at one time. Scenarios over hours use a 5 minute
step: promtool evaluates every rule at every step, and 1 minute would make them slow.

`fires` lists the severities expected to fire then, with the labels the alert
gets from the series and the text `{{ $value ... }}` renders to; every other severity of that
alert must be silent. The thresholds come from the environment's Config, so the same scenarios
run against dev, staging and prod.
"""

from __future__ import annotations

from collections.abc import Callable

from harvester_manifests.config.models import Config
from tests.monitoring.alert_cases import (
    api,
    cache,
    database,
    discovery,
    llm,
    monitoring,
    resources,
)
from tests.monitoring.alert_cases.common import Fires, Scenario

__all__ = ["BY_GROUP", "Fires", "Scenario", "scenarios"]

# By rule group name without the "signal-harvester-" prefix: the rules' groups, in order.
# The sizes group records constants (no alerts): the api and database capacity cases, which
# fire exactly at the recorded size and not one below it, prove what it records.
BY_GROUP: dict[str, Callable[[Config], list[Scenario]]] = {
    "sizes": lambda cfg: [],
    "api": lambda cfg: api.scenarios(cfg) + api.capacity_scenarios(cfg),
    "database": lambda cfg: database.scenarios(cfg) + database.capacity_scenarios(cfg),
    "discovery": discovery.scenarios,
    "llm": llm.scenarios,
    "cache": cache.scenarios,
    "resources": resources.scenarios,
    "monitoring": monitoring.scenarios,
}


def scenarios(cfg: Config) -> list[Scenario]:
    return [s for make in BY_GROUP.values() for s in make(cfg)]
