"""What render encodes once and shares between environments must be what each environment
would have encoded on its own, and sharing must never let one environment change another's."""

from __future__ import annotations

import copy

from harvester_manifests.config.models import Config
from harvester_manifests.external_secrets import external_secrets
from harvester_manifests.monitoring.dashboards import dashboard_files, dashboards
from harvester_manifests.secrets import SecretValues
from harvester_manifests.stack import build_stack, secret_consumers, with_secret_checksums
from harvester_manifests.syncwaves import with_sync_waves
from harvester_manifests.yamlio import dump, dump_json, dump_shared

CONFIGS = [
    Config(),
    Config.model_validate({"namespace": "other"}),
    Config.model_validate({"alerts": {"api": {"latencyP95Seconds": 0.1}}}),
    Config.model_validate({"domain": "x.example.com", "api": {"port": 9000}}),
]


def test_cached_dashboards_are_each_configs_own() -> None:
    for _ in range(2):  # the second round reads the cache
        for cfg in CONFIGS:
            fresh = {name: dump_json(board) for name, board in sorted(dashboards(cfg).items())}
            assert dashboard_files(cfg) == fresh


def test_shared_yaml_is_plain_yaml() -> None:
    for data in ({"a": 1, "b": [True, None, 1.0]}, {"b": [True, None, 1.0], "a": 1}, {"a": "1"}):
        assert dump_shared(data) == dump(data)
        assert dump_shared(data) == dump(data)


def test_secret_checksums_leave_the_input_objects_alone() -> None:
    cfg = Config()
    objects = build_stack(cfg)
    before = copy.deepcopy(objects)
    values = SecretValues({"signal-harvester-api-keys": {"X": "1"}})
    annotated = with_secret_checksums(objects, values, secret_consumers(cfg))
    assert objects == before
    assert annotated != before


def test_sync_waves_leave_the_input_objects_alone() -> None:
    """with_sync_waves copies only the objects it annotates: the input stays as it was."""
    cfg = Config.model_validate(
        {
            "secrets": {
                "mode": "external-secrets",
                "externalSecrets": {"storeRef": {"kind": "ClusterSecretStore", "name": "vault"}},
            }
        }
    )
    objects = build_stack(cfg) + external_secrets("prod", cfg, "prod")
    before = copy.deepcopy(objects)
    waved = with_sync_waves(objects)
    assert objects == before
    assert waved != before
    assert [o["kind"] for o in waved] == [o["kind"] for o in before]
