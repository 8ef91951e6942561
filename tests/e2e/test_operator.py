"""monitoring.mode operator against the real prometheus-operator (see tests/e2e/operator.py).

On a kube-apiserver of its own: the pinned operator's CRDs, a Prometheus and an
Alertmanager custom resource in the monitoring namespace whose selectors are the ones the
example environment is configured with (kube-prometheus-stack's `release` label), then
build/prod-shared-monitoring applied as a user would, then prometheus-operator started.
What it writes proves that the cluster's stack would:

- scrape our API: the generated Prometheus configuration has a job for our ServiceMonitor,
  discovering only our namespace, keeping only our Service's `http` port, scraping our
  metrics path, labelled job=<our Service> (what the rules and dashboards query), and
  `promtool check config` accepts the whole file;
- evaluate our rules: its rule-file ConfigMap holds our groups, which promtool accepts;
- route our alerts: its generated Alertmanager configuration holds our receivers, with the
  Slack URLs read from our Secret, and `amtool config routes test` sends each category x
  severity of our namespace to the receivers the bundled routing does;
- and that the API's NetworkPolicy admits its Prometheus pods (their labels, as the operator
  writes them into the StatefulSet).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from harvester_manifests import names
from harvester_manifests.components import operator as op
from harvester_manifests.config.envfile import read_env_file
from harvester_manifests.config.loader import load_config
from harvester_manifests.config.models import Config
from harvester_manifests.monitoring import rules as r
from harvester_manifests.secrets import SLACK_KEYS, collect
from harvester_manifests.stack import build_secrets
from tests.conftest import ENV_EXAMPLE, OVERLAYS
from tests.e2e.apiserver import Binaries, Cluster, Etcd, HarnessError, Process, kube_apiserver
from tests.e2e.conftest import BUILD, Placeholders, Target, install_crds, materialize
from tests.e2e.gitops import documents
from tests.e2e.operator import (
    GROUP,
    get_json,
    install_operator_crds,
    prometheus_operator,
    secret_file,
    wait_for,
)
from tests.monitoring.generated import amtool, expect_ok, promtool, write, write_yaml
from tests.monitoring.test_routing import expected_receivers

pytestmark = pytest.mark.e2e

ENV = "prod-shared-monitoring"
PROMETHEUS = "k8s"  # kube-prometheus' names; kube-prometheus-stack's differ only in name
ALERTMANAGER = "main"


@dataclass
class Stack:
    cfg: Config
    cluster: Cluster
    operator: Process
    workdir: Path

    @property
    def monitoring(self) -> str:
        return self.cfg.monitoring.operator.namespace

    def get(self, *args: str) -> dict[str, Any] | None:
        return get_json(self.cluster, *args)


def apply(cluster: Cluster, *args: str, stdin: str | None = None) -> str:
    result = cluster.kubectl("apply", "--server-side", "--field-manager=e2e", *args, stdin=stdin)
    if result.returncode != 0:
        raise HarnessError(f"kubectl apply {' '.join(args)} failed:\n{result.stderr}")
    return result.stdout


def monitoring_stack(cfg: Config) -> list[dict[str, Any]]:
    """What a kube-prometheus-stack install holds that matters here: a Prometheus and an
    Alertmanager selecting by the configured labels, in every namespace."""
    operator = cfg.monitoring.operator
    meta = {"namespace": operator.namespace}
    prometheus_selector = {"matchLabels": operator.prometheus_labels()}
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": operator.namespace}},
        {
            "apiVersion": f"{GROUP}/v1",
            "kind": "Prometheus",
            "metadata": {"name": PROMETHEUS, **meta},
            "spec": {
                "serviceMonitorSelector": prometheus_selector,
                "serviceMonitorNamespaceSelector": {},
                "ruleSelector": prometheus_selector,
                "ruleNamespaceSelector": {},
                "alerting": {
                    "alertmanagers": [
                        {
                            "namespace": operator.namespace,
                            "name": "alertmanager-operated",
                            "port": "web",
                        }
                    ]
                },
            },
        },
        {
            "apiVersion": f"{GROUP}/v1",
            "kind": "Alertmanager",
            "metadata": {"name": ALERTMANAGER, **meta},
            "spec": {
                "alertmanagerConfigSelector": {"matchLabels": operator.alertmanager_labels()},
                "alertmanagerConfigNamespaceSelector": {},
            },
        },
    ]


@pytest.fixture(scope="module")
def stack(
    e2e_workdir: Path, etcd_server: Etcd, binaries: Binaries, placeholders: Placeholders
) -> Iterator[Stack]:
    cfg = load_config(OVERLAYS, ENV)
    workdir = e2e_workdir / "operator"
    try:
        directory = materialize(Target(f"build/{ENV}", BUILD / ENV), workdir / "src", placeholders)
        with kube_apiserver(workdir, etcd_server, binaries, "/registry-operator") as cluster:
            install_operator_crds(cluster)
            built = cluster.kubectl("kustomize", str(directory))
            assert built.returncode == 0, built.stderr
            install_crds(cluster, documents(built.stdout))
            apply(cluster, "-f", "-", stdin=yaml.safe_dump_all(monitoring_stack(cfg)))
            apply(cluster, "-k", str(directory))
            # The Secrets the environment's ExternalSecrets make the External Secrets Operator
            # write (proven by the Argo CD harness, test_gitops.py), here from .env.example.
            values = collect(cfg, read_env_file(ENV_EXAMPLE), str(ENV_EXAMPLE))
            apply(cluster, "-f", "-", stdin=yaml.safe_dump_all(build_secrets(cfg, values)))
            with prometheus_operator(cluster, workdir) as process:
                yield Stack(cfg, cluster, process, workdir)
    except HarnessError as err:
        pytest.fail(str(err), pytrace=False)


def operator_secret(stack: Stack, name: str, key: str, needle: str) -> str:
    """The file `key` of a Secret the operator writes, once it holds `needle`."""

    def probe() -> str | None:
        obj = stack.get("secret", "-n", stack.monitoring, name)
        text = None if obj is None else secret_file(obj, key)
        return text if text is not None and needle in text else None

    try:
        return wait_for(stack.operator, f"{needle!r} into Secret {name}", probe)
    except HarnessError as err:
        pytest.fail(str(err), pytrace=False)


SCRAPE_JOB = f"serviceMonitor/{{namespace}}/{names.API}/0"


def prometheus_config(stack: Stack) -> dict[str, Any]:
    job = SCRAPE_JOB.format(namespace=stack.cfg.namespace)
    text = operator_secret(stack, f"prometheus-{PROMETHEUS}", "prometheus.yaml.gz", job)
    loaded: dict[str, Any] = yaml.safe_load(text)
    return loaded


def rule_files(stack: Stack) -> dict[str, str]:
    """The operator's rule-file ConfigMap (file name -> content), once it holds our file."""
    name = f"prometheus-{PROMETHEUS}-rulefiles-0"
    prefix = f"{stack.cfg.namespace}-{op.RULES}-"

    def probe() -> dict[str, str] | None:
        obj = stack.get("configmap", "-n", stack.monitoring, name) or {}
        data: dict[str, str] = obj.get("data") or {}
        return data if any(key.startswith(prefix) for key in data) else None

    try:
        found: dict[str, str] = wait_for(stack.operator, f"our rule file into {name}", probe)
    except HarnessError as err:
        pytest.fail(str(err), pytrace=False)
    return found


def test_prometheus_config_scrapes_our_api(stack: Stack, tmp_path: Path) -> None:
    cfg = stack.cfg
    config = prometheus_config(stack)
    job_name = SCRAPE_JOB.format(namespace=cfg.namespace)
    (job,) = [j for j in config["scrape_configs"] if j["job_name"] == job_name]
    (sd,) = job["kubernetes_sd_configs"]
    assert sd["namespaces"]["names"] == [cfg.namespace]  # our namespace only
    assert job["metrics_path"] == cfg.api.metrics_path
    assert job["scheme"] == "http"
    assert job["scrape_interval"] == cfg.prometheus.scrape_interval
    relabel = job["relabel_configs"]
    role = sd["role"]  # endpoints or endpointslice: the port name's meta label differs
    port_label = f"__meta_kubernetes_{'endpointslice' if role == 'endpointslice' else 'endpoint'}"
    keeps = {
        (tuple(rc["source_labels"]), rc["regex"])
        for rc in relabel
        if rc.get("action") == "keep" and "source_labels" in rc
    }
    assert ((f"{port_label}_port_name",), "http") in keeps
    assert (
        ("__meta_kubernetes_service_label_app", "__meta_kubernetes_service_labelpresent_app"),
        f"({names.API});true",
    ) in keeps
    # job=<Service name>: the job every rule and dashboard query keys on.
    assert any(
        rc.get("source_labels") == ["__meta_kubernetes_service_name"]
        and rc.get("target_label") == "job"
        for rc in relabel
    )
    # Ours come last: the app's own `endpoint` label survives, the node label is added.
    assert {"action": "labeldrop", "regex": "endpoint"} in relabel
    assert relabel.index({"action": "labeldrop", "regex": "endpoint"}) > max(
        i for i, rc in enumerate(relabel) if rc.get("target_label") == "endpoint"
    )
    # promtool accepts the file, with the operator's rule files where it points.
    rules_dir = tmp_path / "rules"
    for file_name, content in rule_files(stack).items():
        write(rules_dir / file_name, content)
    config["rule_files"] = [str(rules_dir / "*.yaml")]
    path = write_yaml(tmp_path / "prometheus.yaml", config)
    out = expect_ok(promtool("check", "config", path))
    assert "SUCCESS" in out


def test_rule_files_hold_our_groups(stack: Stack, tmp_path: Path) -> None:
    files = rule_files(stack)
    prefix = f"{stack.cfg.namespace}-{op.RULES}-"
    (ours,) = [content for name, content in files.items() if name.startswith(prefix)]
    groups = yaml.safe_load(ours)["groups"]
    assert {f"signal-harvester-{c}" for c in r.CATEGORIES} <= {g["name"] for g in groups}
    assert groups == op.rule_groups(stack.cfg)
    out = expect_ok(promtool("check", "rules", write(tmp_path / "ours.yaml", ours)))
    assert "SUCCESS" in out


def receiver(stack: Stack, name: str) -> str:
    """The operator's name for one of our receivers: <namespace>/<AlertmanagerConfig>/<name>."""
    return f"{stack.cfg.namespace}/{op.ALERTMANAGER_CONFIG}/{name}"


def test_alertmanager_config_routes_each_category_and_severity(
    stack: Stack, tmp_path: Path
) -> None:
    cfg = stack.cfg
    text = operator_secret(
        stack,
        f"alertmanager-{ALERTMANAGER}-generated",
        "alertmanager.yaml.gz",
        receiver(stack, "slack-critical"),
    )
    config = yaml.safe_load(text)
    path = write(tmp_path / "alertmanager.yaml", text)
    out = expect_ok(amtool("check-config", path))
    assert "SUCCESS" in out
    # Every Slack URL is the one in our Secret (here .env.example's placeholders).
    values = read_env_file(ENV_EXAMPLE)
    urls = {
        x["name"]: x["slack_configs"][0]["api_url"]
        for x in config["receivers"]
        if x["name"].startswith(f"{cfg.namespace}/")
    }
    assert urls == {
        receiver(stack, f"slack-{key}"): values[variable] for key, variable in SLACK_KEYS
    }
    for category in r.CATEGORIES:
        for severity in r.SEVERITIES:
            labels = {
                "alertname": "Any",
                "category": category,
                "severity": severity,
                "namespace": cfg.namespace,
            }
            pairs = [f"{k}={v}" for k, v in sorted(labels.items())]
            got = expect_ok(amtool("config", "routes", "test", f"--config.file={path}", *pairs))
            want = [receiver(stack, x) for x in expected_receivers(severity, category)]
            assert got.strip().split(",") == want, (category, severity)
    # Without our namespace label an alert never reaches our receivers: the reason every
    # rule of the PrometheusRule carries it.
    pairs = ["alertname=Any", "category=api", "severity=critical"]
    got = expect_ok(amtool("config", "routes", "test", f"--config.file={path}", *pairs))
    assert not any(x.startswith(f"{cfg.namespace}/") for x in got.strip().split(","))
    # Our inhibitions are there, limited to our namespace.
    ours = [
        rule
        for rule in config.get("inhibit_rules", [])
        if f'namespace="{cfg.namespace}"' in rule.get("source_matchers", [])
    ]
    assert len(ours) == 2


def test_network_policy_admits_the_operators_prometheus_pods(stack: Stack) -> None:
    name = f"prometheus-{PROMETHEUS}"
    try:
        statefulset = wait_for(
            stack.operator,
            f"StatefulSet {name}",
            lambda: stack.get("statefulset", "-n", stack.monitoring, name),
        )
    except HarnessError as err:
        pytest.fail(str(err), pytrace=False)
    pod_labels = statefulset["spec"]["template"]["metadata"]["labels"]
    wanted = stack.cfg.monitoring.operator.prometheus_pods()
    assert wanted.items() <= pod_labels.items()
    policy = stack.get("networkpolicy", "-n", stack.cfg.namespace, names.API)
    assert policy is not None
    peers = [peer for rule in policy["spec"]["ingress"] for peer in rule["from"]]
    assert {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": stack.monitoring}},
        "podSelector": {"matchLabels": wanted},
    } in peers
