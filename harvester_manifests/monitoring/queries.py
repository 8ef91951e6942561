"""Every PromQL selector and expression the alert rules and the dashboards share, written once.

A rule and the panel that explains it show the same quantity: both call the same function here,
the rule with its fixed window, the panel with Grafana's `$__rate_interval` (at least four scrape
intervals; the datasource tells Grafana the scrape interval). tests/monitoring/test_queries.py
compares every rule with its panel, so the two cannot drift apart again.
"""

from __future__ import annotations

from harvester_manifests.monitoring.scrape import API_JOB, CADVISOR_JOB, PROCESS_JOBS

RATE_INTERVAL = "$__rate_interval"
# Per container. The selector fixes the namespace, but keeping the label names every series'
# pod unambiguously (as kubernetes-mixin does).
BY_CONTAINER = "by (namespace, pod, container)"


def job(name: str) -> str:
    return f'job="{name}"'


def jobs(names: tuple[str, ...]) -> str:
    return f'job=~"{"|".join(names)}"'


API = job(API_JOB)


def api_metric(metric: str, matchers: str = "") -> str:
    """One of the app's metrics (the app contract), as scraped from the API pods."""
    return f"{metric}{{{API}{',' + matchers if matchers else ''}}}"


def histogram_quantile(quantile: str, metric: str, by: str, window: str) -> str:
    """The `quantile` of one of the app's histograms over `window`, per `by` (with `le`)."""
    return (
        f"histogram_quantile({quantile},\n"
        f"  sum by ({by}) (rate({api_metric(f'{metric}_bucket')}[{window}]))\n)"
    )


# --- API -----------------------------------------------------------------------------------------

API_UP = api_metric("up")
API_PODS_UP = f"sum({API_UP})"
REQUESTS = api_metric("http_requests_total")
ERRORS = api_metric("http_requests_total", 'status=~"5.."')


def requests(window: str) -> str:
    return f"sum(rate({REQUESTS}[{window}]))"


def errors(window: str) -> str:
    return f"sum(rate({ERRORS}[{window}]))"


def error_ratio(window: str) -> str:
    """The share of API requests that answer 5xx."""
    return f"{errors(window)}\n  / {requests(window)}"


def requests_by(label: str, window: str) -> str:
    return f"sum by ({label}) (rate({REQUESTS}[{window}]))"


def error_ratio_by(label: str, window: str) -> str:
    return f"sum by ({label}) (rate({ERRORS}[{window}]))\n  / {requests_by(label, window)}"


def latency(quantile: str, window: str, by: str = "le") -> str:
    return histogram_quantile(quantile, "http_request_duration_seconds", by, window)


def in_progress(by: str) -> str:
    return f"sum by ({by}) ({api_metric('http_requests_in_progress')})"


# --- database ------------------------------------------------------------------------------------

DB_SIZE_BYTES = api_metric("db_size_bytes")
DB_SIZE = f"max({DB_SIZE_BYTES})"


def db_query_p95(window: str) -> str:
    return histogram_quantile("0.95", "db_query_duration_seconds", "le, query_type", window)


# --- discovery pipeline --------------------------------------------------------------------------

PIPELINE_RUNS = api_metric("pipeline_runs_total")
PIPELINE_ERRORS = api_metric("pipeline_errors_total")
DISCOVERIES_FETCHED = api_metric("discoveries_fetched_total")


def pipeline_error_ratio(window: str) -> str:
    """Errors per run of each pipeline."""
    return (
        f"sum by (pipeline_type) (increase({PIPELINE_ERRORS}[{window}]))\n"
        f"  / sum by (pipeline_type) (increase({PIPELINE_RUNS}[{window}]))"
    )


def pipeline_duration(quantile: str, window: str) -> str:
    return histogram_quantile(
        quantile, "pipeline_run_duration_seconds", "le, pipeline_type", window
    )


# --- LLM providers -------------------------------------------------------------------------------


def llm_requests(window: str) -> str:
    return f"sum by (provider) (rate({api_metric('llm_requests_total')}[{window}]))"


def llm_errors(window: str) -> str:
    return f"sum by (provider) (rate({api_metric('llm_errors_total')}[{window}]))"


def llm_error_ratio(window: str) -> str:
    return f"{llm_errors(window)}\n  / {llm_requests(window)}"


def llm_latency(window: str) -> str:
    return histogram_quantile("0.95", "llm_request_duration_seconds", "le, provider, model", window)


# Tokens of the last hour, as the alert counts them (not a rate scaled to an hour).
LLM_TOKENS_PER_HOUR = f"sum by (provider) (increase({api_metric('llm_tokens_total')}[1h]))"

# --- caches --------------------------------------------------------------------------------------


def _hits(window: str) -> str:
    return f"sum by (cache_type) (rate({api_metric('cache_hits_total')}[{window}]))"


def _misses(window: str) -> str:
    return f"sum by (cache_type) (rate({api_metric('cache_misses_total')}[{window}]))"


def cache_lookups(window: str) -> str:
    """Lookups per second. A cache with no hit yet has no hits series (and one with no miss no
    misses series): each side falls back to 0 where only the other exists."""
    hits, misses = _hits(window), _misses(window)
    return f"(({hits} or {misses} * 0) + ({misses} or {hits} * 0))"


def cache_hit_ratio(window: str) -> str:
    hits, misses = _hits(window), _misses(window)
    return f"({hits} or {misses} * 0)\n  / {cache_lookups(window)}"


# --- pods (cAdvisor) and processes ---------------------------------------------------------------


def containers(namespace: str) -> str:
    """cAdvisor's series of this namespace's containers (not the pause container, not pods)."""
    return f'job="{CADVISOR_JOB}",namespace="{namespace}",container!="",container!="POD"'


def cpu_throttling(namespace: str, window: str) -> str:
    """The share of CPU periods in which a container hit its CPU limit."""
    sel = containers(namespace)
    return (
        f"sum {BY_CONTAINER} (rate(container_cpu_cfs_throttled_periods_total{{{sel}}}[{window}]))\n"
        f"  / sum {BY_CONTAINER} (rate(container_cpu_cfs_periods_total{{{sel}}}[{window}]))"
    )


def memory_against_limit(namespace: str) -> str:
    """Working set over the memory limit: at 1 the container is OOM-killed."""
    sel = containers(namespace)
    return (
        f"max {BY_CONTAINER} (container_memory_working_set_bytes{{{sel}}})\n"
        f"  / max {BY_CONTAINER} (container_spec_memory_limit_bytes{{{sel}}} > 0)"
    )


# Process restarts: a new start time on the same target (no kube-state-metrics needed).
RESTARTS_LAST_HOUR = f"changes(process_start_time_seconds{{{jobs(PROCESS_JOBS)}}}[1h])"
