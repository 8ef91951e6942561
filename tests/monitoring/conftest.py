"""Fixtures for the monitoring tests: each environment's generated monitoring files, read
from the ConfigMaps of `kustomize build` (the session-wide `built` fixture)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from harvester_manifests.config.loader import load_config
from tests.conftest import ENVS, OVERLAYS, Obj

from .generated import Generated, extract, write_yaml
from .servers import running_prometheus


@pytest.fixture(scope="session")
def generated(built: dict[str, dict[tuple[str, str], Obj]]) -> dict[str, Generated]:
    return {env: extract(env, load_config(OVERLAYS, env), built[env]) for env in ENVS}


@pytest.fixture(scope="session")
def prometheus_parser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Prometheus with nothing to scrape: its /api/v1/parse_query is the PromQL parser."""
    workdir = tmp_path_factory.mktemp("promql-parser")
    config = write_yaml(workdir / "prometheus.yml", {"scrape_configs": []})
    with running_prometheus(config, workdir) as url:
        yield url
