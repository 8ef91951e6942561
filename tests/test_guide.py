"""Every resource, name, label, port and number the deployment guide states, on the built output.

These read what `kustomize build build/<env>` gives, the objects `kubectl apply -k` creates.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import ENVS, Obj, delivered_secrets

NS = "signal-harvester"
Built = dict[tuple[str, str], Obj]


@pytest.fixture(params=ENVS)
def each(request: pytest.FixtureRequest, built: dict[str, Built]) -> Built:
    """Every environment: the guide's names, labels, ports and wiring hold in all of them;
    its numbers are prod's (dev and staging follow its cost advice)."""
    return built[request.param]


def container(deployment: Obj, name: str) -> Obj:
    return next(
        c for c in deployment["spec"]["template"]["spec"]["containers"] if c["name"] == name
    )


def test_everything_the_guide_names_exists_in_its_namespace(each: Built) -> None:
    expected = {
        ("Namespace", NS),
        ("Deployment", "signal-harvester-api"),
        ("Service", "signal-harvester-api"),
        ("HorizontalPodAutoscaler", "signal-harvester-api"),
        ("Ingress", "signal-harvester-api"),
        ("NetworkPolicy", "signal-harvester-api"),
        ("ServiceAccount", "signal-harvester-api"),
        ("PersistentVolumeClaim", "signal-harvester-data"),
        ("Service", "prometheus"),
        ("Service", "grafana"),
        ("Service", "alertmanager"),
        ("ServiceAccount", "prometheus"),
        ("ClusterRole", "prometheus"),
        ("ClusterRoleBinding", "prometheus"),
        ("Deployment", "prometheus"),
        ("Deployment", "grafana"),
        ("Deployment", "alertmanager"),
    }
    assert expected <= each.keys()
    # Secrets as such, or as the ExternalSecrets/SealedSecrets that make them (secrets mode).
    assert {"signal-harvester-api-keys", "alertmanager-slack-urls"} <= delivered_secrets(
        each
    ).keys()
    cluster_scoped = {"Namespace", "ClusterRole", "ClusterRoleBinding"}
    for (kind, name), obj in each.items():
        if kind not in cluster_scoped:
            assert obj["metadata"]["namespace"] == NS, f"{kind}/{name}"


def test_api_container_pods_and_labels(prod: Built) -> None:
    deployment = prod[("Deployment", "signal-harvester-api")]
    assert deployment["spec"]["selector"]["matchLabels"] == {"app": "signal-harvester-api"}
    template = deployment["spec"]["template"]
    assert template["metadata"]["labels"]["app"] == "signal-harvester-api"
    api = container(deployment, "signal-harvester-api")
    assert api["image"] == "bwillia13x/signal-harvester:v2.0.0"
    assert api["ports"] == [{"name": "http", "containerPort": 8000, "protocol": "TCP"}]
    assert api["resources"] == {
        "requests": {"cpu": "250m", "memory": "512Mi", "ephemeral-storage": "256Mi"},
        "limits": {"cpu": "1000m", "memory": "2Gi", "ephemeral-storage": "3Gi"},
    }
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert api[probe]["httpGet"] == {"path": "/health", "port": "http"}
    startup = api["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 60, "a minute to start"
    assert {"claimName": "signal-harvester-data"} in [
        v.get("persistentVolumeClaim") for v in template["spec"]["volumes"]
    ]
    mounts = {m["mountPath"] for m in api["volumeMounts"]}
    assert {"/app/var", "/app/logs"} <= mounts
    assert api["envFrom"] == [{"secretRef": {"name": "signal-harvester-api-keys"}}]


def test_zero_downtime_rolling_update(each: Built) -> None:
    strategy = each[("Deployment", "signal-harvester-api")]["spec"]["strategy"]
    assert strategy == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
    }


def test_autoscaler_is_the_guides(prod: Built) -> None:
    spec = prod[("HorizontalPodAutoscaler", "signal-harvester-api")]["spec"]
    assert spec["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "signal-harvester-api",
    }
    assert (spec["minReplicas"], spec["maxReplicas"]) == (2, 10)
    targets = {m["resource"]["name"]: m["resource"]["target"] for m in spec["metrics"]}
    assert targets == {
        "cpu": {"type": "Utilization", "averageUtilization": 70},
        "memory": {"type": "Utilization", "averageUtilization": 80},
    }
    assert spec["behavior"] == {
        "scaleUp": {
            "stabilizationWindowSeconds": 60,
            "policies": [{"type": "Percent", "value": 50, "periodSeconds": 60}],
        },
        "scaleDown": {
            "stabilizationWindowSeconds": 300,
            "policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}],
        },
    }
    # The autoscaler owns the replica count: a fixed one would fight it on every apply.
    assert "replicas" not in prod[("Deployment", "signal-harvester-api")]["spec"]


def test_pod_security_context_is_the_guides(each: Built) -> None:
    pod = each[("Deployment", "signal-harvester-api")]["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 1000
    assert pod["securityContext"]["fsGroup"] == 1000
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    api = container(each[("Deployment", "signal-harvester-api")], "signal-harvester-api")
    assert api["securityContext"]["capabilities"] == {"drop": ["ALL"]}


@pytest.mark.parametrize(
    ("service", "port"),
    [
        ("signal-harvester-api", 8000),
        ("prometheus", 9090),
        ("grafana", 3000),
        ("alertmanager", 9093),
    ],
)
def test_services_and_ports_for_port_forward(each: Built, service: str, port: int) -> None:
    """`kubectl port-forward svc/<service> <port>:<port>` as in the guide's quick start."""
    svc = each[("Service", service)]
    assert [p["port"] for p in svc["spec"]["ports"]] == [port]
    assert svc["spec"]["selector"] == {"app": service}
    deployment = each[("Deployment", service)]
    assert deployment["spec"]["template"]["metadata"]["labels"]["app"] == service
    target = svc["spec"]["ports"][0]["targetPort"]
    assert target in [
        p["name"]
        for c in deployment["spec"]["template"]["spec"]["containers"]
        for p in c.get("ports", [])
    ]


@pytest.mark.parametrize(
    ("claim", "size"),
    [("prometheus-data", "50Gi"), ("grafana-data", "10Gi"), ("alertmanager-data", "5Gi")],
)
def test_monitoring_storage(prod: Built, claim: str, size: str) -> None:
    spec = prod[("PersistentVolumeClaim", claim)]["spec"]
    assert spec["resources"]["requests"]["storage"] == size
    assert spec["accessModes"] == ["ReadWriteOnce"]


def test_prometheus_retention_admin_api_and_paths(prod: Built) -> None:
    prom = container(prod[("Deployment", "prometheus")], "prometheus")
    args = prom["args"]
    assert "--storage.tsdb.retention.time=15d" in args
    assert "--web.enable-admin-api" in args, "the guide's snapshot backup needs it"
    assert "--config.file=/etc/prometheus/prometheus.yml" in args, "the guide cats this file"
    assert "--storage.tsdb.path=/prometheus" in args, "the guide copies /prometheus/snapshots"
    assert prod[("Deployment", "prometheus")]["spec"]["replicas"] == 1


def test_prometheus_rbac(each: Built) -> None:
    binding = each[("ClusterRoleBinding", "prometheus")]
    assert binding["roleRef"]["name"] == "prometheus"
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "prometheus", "namespace": NS}
    ]
    pod = each[("Deployment", "prometheus")]["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "prometheus"
    rules = each[("ClusterRole", "prometheus")]["rules"]
    assert any("pods" in r.get("resources", []) and "list" in r["verbs"] for r in rules)


@pytest.mark.parametrize(
    ("name", "host", "port", "secret"),
    [
        (
            "signal-harvester-api",
            "api.signal-harvester.example.com",
            8000,
            "signal-harvester-api-tls",
        ),
        ("prometheus", "prometheus.signal-harvester.example.com", 9090, "prometheus-tls"),
        ("grafana", "grafana.signal-harvester.example.com", 3000, "grafana-tls"),
        ("alertmanager", "alertmanager.signal-harvester.example.com", 9093, "alertmanager-tls"),
    ],
)
def test_ingress_hosts_and_tls(prod: Built, name: str, host: str, port: int, secret: str) -> None:
    ingress = prod[("Ingress", name)]
    assert (
        ingress["metadata"]["annotations"]["cert-manager.io/cluster-issuer"] == "letsencrypt-prod"
    )
    assert ingress["spec"]["ingressClassName"] == "nginx"
    assert ingress["spec"]["tls"] == [{"hosts": [host], "secretName": secret}]
    rule = ingress["spec"]["rules"][0]
    assert rule["host"] == host
    backend = rule["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": name, "port": {"number": port}}


def test_api_network_policy_is_the_guides(each: Built) -> None:
    """Ingress only from ingress-nginx and Prometheus; egress only DNS and HTTPS."""
    spec = each[("NetworkPolicy", "signal-harvester-api")]["spec"]
    assert spec["podSelector"] == {"matchLabels": {"app": "signal-harvester-api"}}
    sources = [peer for rule in spec["ingress"] for peer in rule["from"]]
    assert sorted(map(str, sources)) == sorted(
        map(
            str,
            [
                {
                    "namespaceSelector": {
                        "matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}
                    }
                },
                {"podSelector": {"matchLabels": {"app": "prometheus"}}},
            ],
        )
    )
    ports = sorted((p["port"], p["protocol"]) for rule in spec["egress"] for p in rule["ports"])
    assert ports == [(53, "TCP"), (53, "UDP"), (443, "TCP")]


def test_monitoring_configuration_is_wired(each: Built) -> None:
    import yaml

    config = yaml.safe_load(each[("ConfigMap", "prometheus-config")]["data"]["prometheus.yml"])
    api_job = next(j for j in config["scrape_configs"] if j["job_name"] == "signal-harvester-api")
    assert api_job["metrics_path"] == "/prometheus"
    assert api_job["kubernetes_sd_configs"] == [{"role": "pod", "namespaces": {"names": [NS]}}]
    jobs = {j["job_name"] for j in config["scrape_configs"]}
    assert {"prometheus", "alertmanager", "grafana"} <= jobs
    routing = yaml.safe_load(each[("ConfigMap", "alertmanager-config")]["data"]["alertmanager.yml"])
    channels = sorted(r["slack_configs"][0]["channel"] for r in routing["receivers"])
    assert channels == [
        "#signal-harvester-alerts",
        "#signal-harvester-critical",
        "#signal-harvester-discovery",
        "#signal-harvester-llm",
    ]
    dashboards = {
        k[1] for k in each if k[0] == "ConfigMap" and k[1].startswith("grafana-dashboard-")
    }
    assert {
        "grafana-dashboard-signal-harvester-overview",
        "grafana-dashboard-discovery-pipeline",
        "grafana-dashboard-kubernetes-pods",
    } <= dashboards


@pytest.mark.parametrize("env", ["dev", "staging"])
def test_cost_advice_for_dev_and_staging(built: dict[str, Built], env: str) -> None:
    """The guide: reduce minReplicas to 1 in dev/staging; smaller volumes and requests."""
    objects = built[env]
    assert objects[("HorizontalPodAutoscaler", "signal-harvester-api")]["spec"]["minReplicas"] == 1
    prod_size: Any = "50Gi"
    assert (
        objects[("PersistentVolumeClaim", "prometheus-data")]["spec"]["resources"]["requests"][
            "storage"
        ]
        != prod_size
    )
