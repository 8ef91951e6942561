"""Network policies: deny everything in the namespace, then open exactly the flows the stack uses.

The flows are data (`flows(cfg)`), so the policies and the test that proves reachability read
the same list. Other namespaces are selected by `kubernetes.io/metadata.name`, the label
Kubernetes sets on every namespace.
"""

from __future__ import annotations

from dataclasses import dataclass

from harvester_manifests import names
from harvester_manifests.components.common import Obj, metadata, selector
from harvester_manifests.config.models import Config

COMPONENT = "network"
NAMESPACE_LABEL = "kubernetes.io/metadata.name"
ANYWHERE = "0.0.0.0/0"


@dataclass(frozen=True, order=True)
class Peer:
    """A pod of ours (app), every pod of another namespace (or those with `pods` labels), or
    an address range outside."""

    app: str = ""
    namespace: str = ""
    cidr: str = ""
    pods: tuple[tuple[str, str], ...] = ()

    def selector(self) -> Obj:
        if self.app:
            return {"podSelector": {"matchLabels": selector(self.app)}}
        if self.namespace:
            peer: Obj = {"namespaceSelector": {"matchLabels": {NAMESPACE_LABEL: self.namespace}}}
            if self.pods:
                peer["podSelector"] = {"matchLabels": dict(self.pods)}
            return peer
        return {"ipBlock": {"cidr": self.cidr}}


@dataclass(frozen=True, order=True)
class Flow:
    source: Peer
    destination: Peer
    port: int
    protocol: str = "TCP"


def flows(cfg: Config) -> list[Flow]:
    """Every connection the stack needs, and nothing else."""
    if cfg.monitoring.mode == "operator":
        return operator_flows(cfg)
    api, prom = Peer(app=names.API), Peer(app=names.PROMETHEUS)
    graf, am = Peer(app=names.GRAFANA), Peer(app=names.ALERTMANAGER)
    controller = Peer(namespace=cfg.ingress.controller_namespace)
    dns = Peer(namespace=cfg.cluster.dns_namespace)
    internet = Peer(cidr=cfg.api.https_egress_cidr)
    anywhere = Peer(cidr=ANYWHERE)
    ports = {
        api: cfg.api.port,
        prom: cfg.prometheus.port,
        graf: cfg.grafana.port,
        am: cfg.alertmanager.port,
    }
    ingresses = {
        api: cfg.api.ingress.enabled,
        prom: cfg.prometheus.ingress.enabled,
        graf: cfg.grafana.ingress.enabled,
        am: cfg.alertmanager.ingress.enabled,
    }
    result = [Flow(controller, peer, ports[peer]) for peer, on in ingresses.items() if on]
    # Prometheus scrapes the API, Grafana and Alertmanager, and sends alerts to Alertmanager.
    result += [Flow(prom, peer, ports[peer]) for peer in (api, graf, am)]
    result.append(Flow(graf, prom, ports[prom]))
    for pod in ports:
        result += [Flow(pod, dns, 53, "UDP"), Flow(pod, dns, 53, "TCP")]
    # The API calls X, OpenAI and Anthropic; Alertmanager calls Slack.
    result += [Flow(api, internet, 443), Flow(am, anywhere, 443)]
    if cfg.api.database.mode == "postgres":
        result.append(Flow(api, anywhere, cfg.api.database.postgres_port))
    # Prometheus discovers targets and reads cAdvisor through the Kubernetes API server, whose
    # address is outside the pod network and differs by cluster (443 or 6443).
    result += [Flow(prom, anywhere, 443), Flow(prom, anywhere, 6443)]
    return sorted(set(result))


def operator_flows(cfg: Config) -> list[Flow]:
    """monitoring.mode operator: the API alone, scraped by the cluster's Prometheus pods."""
    api = Peer(app=names.API)
    operator = cfg.monitoring.operator
    scraper = Peer(namespace=operator.namespace, pods=tuple(operator.prometheus_pods().items()))
    dns = Peer(namespace=cfg.cluster.dns_namespace)
    result = [Flow(scraper, api, cfg.api.port)]
    if cfg.api.ingress.enabled:
        result.append(Flow(Peer(namespace=cfg.ingress.controller_namespace), api, cfg.api.port))
    result += [Flow(api, dns, 53, "UDP"), Flow(api, dns, 53, "TCP")]
    result.append(Flow(api, Peer(cidr=cfg.api.https_egress_cidr), 443))
    if cfg.api.database.mode == "postgres":
        result.append(Flow(api, Peer(cidr=ANYWHERE), cfg.api.database.postgres_port))
    return sorted(set(result))


def policy_apps(cfg: Config) -> tuple[str, ...]:
    """The apps of ours that run pods, each with a policy of its own."""
    if cfg.monitoring.mode == "operator":
        return (names.API,)
    return (names.API, names.PROMETHEUS, names.GRAFANA, names.ALERTMANAGER)


def build(cfg: Config) -> list[Obj]:
    all_flows = flows(cfg)
    objects = [default_deny(cfg)]
    for app in policy_apps(cfg):
        objects.append(policy(cfg, app, all_flows))
    return objects


def default_deny(cfg: Config) -> Obj:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": metadata(cfg, names.DEFAULT_DENY, names.PART_OF, COMPONENT),
        "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
    }


def _rules(pairs: list[tuple[Peer, int, str]], direction: str) -> list[Obj]:
    """One rule per peer, listing its ports, in a stable order."""
    by_peer: dict[Peer, list[tuple[int, str]]] = {}
    for peer, port, protocol in pairs:
        by_peer.setdefault(peer, []).append((port, protocol))
    return [
        {
            direction: [peer.selector()],
            "ports": [{"protocol": proto, "port": port} for port, proto in sorted(set(ports))],
        }
        for peer, ports in sorted(by_peer.items())
    ]


def policy(cfg: Config, app: str, all_flows: list[Flow]) -> Obj:
    me = Peer(app=app)
    inbound = [(f.source, f.port, f.protocol) for f in all_flows if f.destination == me]
    outbound = [(f.destination, f.port, f.protocol) for f in all_flows if f.source == me]
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": metadata(cfg, app, app, COMPONENT),
        "spec": {
            "podSelector": {"matchLabels": selector(app)},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": _rules(inbound, "from"),
            "egress": _rules(outbound, "to"),
        },
    }
