"""One source per query: a rule and the panel that shows the same quantity use the same
expression (only the range window differs: the rule's fixed one, Grafana's $__rate_interval),
and no module but queries.py spells out a job selector."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import harvester_manifests.monitoring as monitoring
from harvester_manifests.monitoring import rules as r
from tests.conftest import ENVS

from .generated import Generated

# alert -> (dashboard, panel title, query refId) showing the quantity the alert compares.
SAME_QUANTITY = {
    r.API_DOWN: ("signal-harvester-overview", "API pods up", "A"),
    r.API_ERROR_RATE: ("signal-harvester-overview", "5xx ratio", "A"),
    r.API_LATENCY: ("signal-harvester-overview", "p95 latency", "A"),
    r.DB_SLOW_QUERIES: ("signal-harvester-overview", "Database query p95 by type", "A"),
    r.CACHE_HIT_RATE: ("signal-harvester-overview", "Cache hit ratio by type", "A"),
    r.LLM_LATENCY: ("signal-harvester-overview", "LLM p95 latency by model", "A"),
    r.LLM_TOKENS: ("signal-harvester-overview", "LLM tokens per hour by provider", "A"),
    r.CPU_THROTTLED: ("kubernetes-pods", "CPU throttling", "A"),
    r.MEMORY_NEAR_LIMIT: ("kubernetes-pods", "Memory against limit", "A"),
    r.POD_RESTARTING: ("kubernetes-pods", "Restarts in the last hour", "A"),
}
COMPARISON = re.compile(r"^(==|!=|>=|<=|>|<)")


def normalized(expr: str) -> str:
    """Without whitespace, and every range window the same."""
    return re.sub(r"\s+", "", re.sub(r"\[[^\]]+\]", "[w]", expr))


def quantity_matches(rule_expr: str, panel_expr: str) -> bool:
    """The rule compares exactly the panel's expression with its threshold."""
    rule, panel = normalized(rule_expr), normalized(panel_expr)
    return rule.startswith(panel) and bool(COMPARISON.match(rule[len(panel) :]))


def panel_expr(gen: Generated, board: str, title: str, ref: str) -> str:
    for panel in gen.dashboards[board]["panels"]:
        if panel.get("title") == title:
            for target in panel["targets"]:
                if target["refId"] == ref:
                    expr: str = target["expr"]
                    return expr
    raise AssertionError(f"no panel {title!r} in {board}")


@pytest.mark.parametrize("env", ENVS)
def test_a_rule_and_its_panel_use_the_same_expression(
    generated: dict[str, Generated], env: str
) -> None:
    gen = generated[env]
    rules = {a.name: a.rule["expr"] for a in gen.alerts()}
    for alert, (board, title, ref) in SAME_QUANTITY.items():
        if alert not in rules:
            continue  # e.g. no cAdvisor rules without prometheus.scrapeCadvisor
        panel = panel_expr(gen, board, title, ref)
        assert quantity_matches(rules[alert], panel), f"{alert} vs {board}/{title}"


def test_the_comparison_catches_the_old_cache_drift() -> None:
    """The panel once divided by hits + misses without the fallback for a missing series."""
    rule = (
        "(sum by (cache_type) (rate(cache_hits_total[30m])) or sum by (cache_type) "
        "(rate(cache_misses_total[30m])) * 0) / (...) < 0.5"
    )
    drifted = (
        "sum by (cache_type) (rate(cache_hits_total[$__rate_interval])) / (sum by "
        "(cache_type) (rate(cache_hits_total[$__rate_interval])) + ...)"
    )
    assert not quantity_matches(rule, drifted)
    assert quantity_matches("sum(up[5m]) > 1", "sum(up[$__rate_interval])")


def test_no_selector_is_written_outside_queries() -> None:
    root = Path(monitoring.__file__).parent
    sources = [root / "dashboards.py", *sorted((root / "rules").glob("*.py"))]
    for source in sources:
        text = source.read_text()
        assert not re.search(r"job=~?\\?\"", text), f"{source.name} writes a job selector"
        assert "cache_hits_total" not in text and "container!=" not in text, source.name
