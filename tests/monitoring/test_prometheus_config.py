"""prometheus.yml and the rule file of every environment pass promtool, and what they scrape
is what the Deployments expose (same port, path, labels and namespace)."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest

from harvester_manifests import names
from harvester_manifests.monitoring.scrape import API_JOB, CADVISOR_JOB, SA_DIR
from tests.conftest import ENVS

from .generated import Generated, expect_ok, promtool, write, write_yaml


@pytest.mark.parametrize("env", ENVS)
def test_promtool_check_config_syntax_of_the_config_as_generated(
    generated: dict[str, Generated], env: str, tmp_path: Path
) -> None:
    """As shipped: --syntax-only, because the service-account token exists only in a pod."""
    config = write(tmp_path / "prometheus.yml", generated[env].prometheus_yml)
    out = expect_ok(promtool("check", "config", "--syntax-only", config))
    assert "SUCCESS" in out


@pytest.mark.parametrize("env", ENVS)
def test_promtool_check_config_with_rules_and_in_pod_files_in_a_temp_dir(
    generated: dict[str, Generated], env: str, tmp_path: Path
) -> None:
    """The full check (it also checks the rule files and that credential files exist): the
    in-pod paths are rewritten to files in a temp dir, nothing else changes."""
    gen = generated[env]
    config = copy.deepcopy(gen.prometheus)
    write(tmp_path / "sa" / "token", "not-a-real-token\n")
    write(tmp_path / "sa" / "ca.crt", "")
    assert len(gen.write_rules(tmp_path / "rules")) == len(gen.rules["groups"])
    assert config["rule_files"] == ["/etc/prometheus/*.rules.yaml"]
    config["rule_files"] = [str(tmp_path / "rules" / "*.rules.yaml")]
    for job in config["scrape_configs"]:
        if "authorization" in job:
            job["authorization"]["credentials_file"] = str(tmp_path / "sa" / "token")
        if "tls_config" in job:
            job["tls_config"]["ca_file"] = str(tmp_path / "sa" / "ca.crt")
    path = write_yaml(tmp_path / "prometheus.yml", config)
    assert SA_DIR not in path.read_text()
    out = expect_ok(promtool("check", "config", path))
    # One rule file per group, every rule of every group loaded.
    assert f"SUCCESS: {len(gen.rules['groups'])} rule files found" in out
    found = [int(n) for n in re.findall(r"SUCCESS: (\d+) rules found", out)]
    assert sum(found) == gen.rule_count()


@pytest.mark.parametrize("env", ENVS)
def test_promtool_check_rules(generated: dict[str, Generated], env: str, tmp_path: Path) -> None:
    gen = generated[env]
    files = gen.write_rules(tmp_path)
    out = expect_ok(promtool("check", "rules", "--lint=all", "--lint-fatal", *files))
    found = [int(n) for n in re.findall(r"SUCCESS: (\d+) rules found", out)]
    assert len(found) == len(files) and sum(found) == gen.rule_count()


@pytest.mark.parametrize("env", ENVS)
def test_api_job_scrapes_what_the_deployment_exposes(
    generated: dict[str, Generated], env: str
) -> None:
    gen = generated[env]
    pod = gen.objects[("Deployment", names.API)]["spec"]["template"]
    container = pod["spec"]["containers"][0]
    job = next(j for j in gen.prometheus["scrape_configs"] if j["job_name"] == API_JOB)
    namespace = gen.objects[("Deployment", names.API)]["metadata"]["namespace"]
    assert job["kubernetes_sd_configs"] == [{"role": "pod", "namespaces": {"names": [namespace]}}]
    keep = {
        r["source_labels"][0]: r["regex"]
        for r in job["relabel_configs"]
        if r.get("action") == "keep"
    }
    assert keep["__meta_kubernetes_pod_label_app"] == pod["metadata"]["labels"]["app"]
    assert int(keep["__meta_kubernetes_pod_container_port_number"]) in {
        p["containerPort"] for p in container["ports"]
    }
    assert job["metrics_path"] == pod["metadata"]["annotations"]["prometheus.io/path"]
    assert int(pod["metadata"]["annotations"]["prometheus.io/port"]) == int(
        keep["__meta_kubernetes_pod_container_port_number"]
    )


@pytest.mark.parametrize("env", ENVS)
def test_static_targets_and_alerting_are_the_rendered_services(
    generated: dict[str, Generated], env: str
) -> None:
    gen = generated[env]
    ns = gen.cfg.namespace

    def service_target(name: str) -> str:
        service = gen.objects[("Service", name)]
        return f"{name}.{ns}.svc:{service['spec']['ports'][0]['port']}"

    jobs = {j["job_name"]: j for j in gen.prometheus["scrape_configs"]}
    for name in (names.ALERTMANAGER, names.GRAFANA):
        assert jobs[name]["static_configs"] == [{"targets": [service_target(name)]}]
    port = gen.objects[("Service", names.PROMETHEUS)]["spec"]["ports"][0]["port"]
    assert jobs[names.PROMETHEUS]["static_configs"] == [{"targets": [f"localhost:{port}"]}]
    assert gen.prometheus["alerting"]["alertmanagers"] == [
        {"static_configs": [{"targets": [service_target(names.ALERTMANAGER)]}]}
    ]


@pytest.mark.parametrize("env", ENVS)
def test_cadvisor_through_the_api_server_for_this_namespace_only(
    generated: dict[str, Generated], env: str
) -> None:
    gen = generated[env]
    job = next(j for j in gen.prometheus["scrape_configs"] if j["job_name"] == CADVISOR_JOB)
    assert job["kubernetes_sd_configs"] == [{"role": "node"}]
    assert job["metric_relabel_configs"] == [
        {"source_labels": ["namespace"], "regex": gen.cfg.namespace, "action": "keep"}
    ]
    targets = {r.get("target_label") for r in job["relabel_configs"]}
    # One target per node through one address: instance must tell the nodes apart.
    assert {"__address__", "__metrics_path__", "instance"} <= targets
    # The ClusterRole allows exactly the proxy path the job reads.
    rules = gen.objects[("ClusterRole", names.PROMETHEUS)]["rules"]
    assert any("nodes/proxy" in r.get("resources", []) and "get" in r["verbs"] for r in rules)


def test_without_cadvisor_there_is_no_cadvisor_job_and_no_container_alerts() -> None:
    from harvester_manifests.config.models import Config
    from harvester_manifests.monitoring.rules import alert_rules
    from harvester_manifests.monitoring.scrape import prometheus_config

    cfg = Config.model_validate({"prometheus": {"scrapeCadvisor": False}})
    jobs = [j["job_name"] for j in prometheus_config(cfg)["scrape_configs"]]
    assert CADVISOR_JOB not in jobs
    exprs = [r["expr"] for g in alert_rules(cfg)["groups"] for r in g["rules"]]
    assert not [e for e in exprs if "container_" in e]
