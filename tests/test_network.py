"""Reachability computed from the rendered NetworkPolicies, as the Kubernetes semantics define it.

Every path the stack needs is open; every other combination of source, destination and port
among the stack's pods, the ingress controller, another namespace and the internet is closed.
The expected paths are written out here, independently of the generator's own flow list.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

import pytest

from tests.conftest import ENVS, Obj

NS = "signal-harvester"
Built = dict[tuple[str, str], Obj]


@dataclass(frozen=True)
class Endpoint:
    """A pod (namespace + labels) or an address outside the cluster (ip)."""

    name: str
    namespace: str = ""
    labels: tuple[tuple[str, str], ...] = ()
    ip: str = ""


def pod(app: str) -> Endpoint:
    return Endpoint(app, NS, (("app", app),))


API, PROM, GRAF, AM = (
    pod(a) for a in ("signal-harvester-api", "prometheus", "grafana", "alertmanager")
)
CONTROLLER = Endpoint(
    "ingress-nginx", "ingress-nginx", (("app.kubernetes.io/name", "ingress-nginx"),)
)
DNS = Endpoint("kube-dns", "kube-system", (("k8s-app", "kube-dns"),))
OTHER = Endpoint("some-pod", "default", (("app", "intruder"),))
STRANGER = Endpoint("stranger-pod", NS, (("app", "not-ours"),))
INTERNET = Endpoint("internet", ip="203.0.113.7")
APISERVER = Endpoint("kube-apiserver", ip="10.96.0.1")

ENDPOINTS = [API, PROM, GRAF, AM, CONTROLLER, DNS, OTHER, STRANGER, INTERNET, APISERVER]
PORTS = [
    ("TCP", 53),
    ("UDP", 53),
    ("TCP", 80),
    ("TCP", 443),
    ("TCP", 3000),
    ("TCP", 5432),
    ("TCP", 6443),
    ("TCP", 8000),
    ("TCP", 9090),
    ("TCP", 9093),
    ("TCP", 9094),
]

# What the stack needs (issue: production safety), and nothing else.
NEEDED = {
    (CONTROLLER, API, ("TCP", 8000)),
    (CONTROLLER, PROM, ("TCP", 9090)),
    (CONTROLLER, GRAF, ("TCP", 3000)),
    (CONTROLLER, AM, ("TCP", 9093)),
    (PROM, API, ("TCP", 8000)),
    (PROM, GRAF, ("TCP", 3000)),
    (PROM, AM, ("TCP", 9093)),
    (GRAF, PROM, ("TCP", 9090)),
    (API, INTERNET, ("TCP", 443)),
    (AM, INTERNET, ("TCP", 443)),
    (PROM, APISERVER, ("TCP", 443)),
    (PROM, APISERVER, ("TCP", 6443)),
    # Prometheus reaches the API server by IP; the same rule lets it reach any address on
    # 443/6443, a documented exception (the API server's address differs by cluster).
    (PROM, INTERNET, ("TCP", 443)),
    (PROM, INTERNET, ("TCP", 6443)),
    (API, APISERVER, ("TCP", 443)),  # the API's HTTPS egress is to 0.0.0.0/0 by default
    (AM, APISERVER, ("TCP", 443)),  # Slack is anywhere on 443
} | {(p, DNS, port) for p in (API, PROM, GRAF, AM) for port in (("UDP", 53), ("TCP", 53))}


def _selects(selector: dict[str, Any] | None, labels: dict[str, str]) -> bool:
    if selector is None:
        return True
    for key, value in selector.get("matchLabels", {}).items():
        if labels.get(key) != value:
            return False
    assert not selector.get("matchExpressions"), "extend the evaluator for matchExpressions"
    return True


def _namespace_labels(endpoint: Endpoint) -> dict[str, str]:
    # Kubernetes sets this label on every namespace; nothing else may be assumed.
    return {"kubernetes.io/metadata.name": endpoint.namespace}


def _peer_matches(peer: dict[str, Any], other: Endpoint, policy_ns: str) -> bool:
    if "ipBlock" in peer:
        if not other.ip:
            return False  # pod IPs are not in our tests' external ranges
        block = peer["ipBlock"]
        address = ipaddress.ip_address(other.ip)
        inside = address in ipaddress.ip_network(block["cidr"])
        return inside and not any(
            address in ipaddress.ip_network(e) for e in block.get("except", [])
        )
    if other.ip:
        return False
    if "namespaceSelector" in peer:
        if not _selects(peer["namespaceSelector"], _namespace_labels(other)):
            return False
    elif other.namespace != policy_ns:
        return False
    return _selects(peer.get("podSelector"), dict(other.labels))


def _port_matches(ports: list[dict[str, Any]] | None, port: tuple[str, int]) -> bool:
    if not ports:
        return True
    return any(p.get("protocol", "TCP") == port[0] and p.get("port") == port[1] for p in ports)


def _allowed(
    policies: list[Obj], subject: Endpoint, other: Endpoint, port: tuple[str, int], direction: str
) -> bool:
    """Is `direction` traffic (Ingress: other -> subject; Egress: subject -> other) allowed?"""
    if subject.ip or subject.namespace != NS:
        return True  # outside our namespace: not governed by our policies
    selecting = [
        p
        for p in policies
        if _selects(p["spec"]["podSelector"], dict(subject.labels))
        and direction in p["spec"].get("policyTypes", ["Ingress"])
    ]
    if not selecting:
        return True
    key, peers_key = ("ingress", "from") if direction == "Ingress" else ("egress", "to")
    for policy in selecting:
        for rule in policy["spec"].get(key, []):
            peers = rule.get(peers_key)
            if (
                not peers or any(_peer_matches(peer, other, NS) for peer in peers)
            ) and _port_matches(rule.get("ports"), port):
                return True
    return False


def reachable(policies: list[Obj]) -> set[tuple[Endpoint, Endpoint, tuple[str, int]]]:
    return {
        (source, target, port)
        for source in ENDPOINTS
        for target in ENDPOINTS
        if source != target
        for port in PORTS
        if NS in (source.namespace, target.namespace)  # our policies govern only our pods
        and _allowed(policies, source, target, port, "Egress")
        and _allowed(policies, target, source, port, "Ingress")
    }


@pytest.mark.parametrize("env", ENVS)
def test_exactly_the_needed_paths_are_open(built: dict[str, Built], env: str) -> None:
    policies = [o for (kind, _), o in built[env].items() if kind == "NetworkPolicy"]
    open_paths = reachable(policies)
    missing = NEEDED - open_paths
    extra = open_paths - NEEDED
    assert not missing, (
        f"needed paths are closed: {sorted((s.name, t.name, p) for s, t, p in missing)}"
    )
    assert not extra, (
        f"paths open that nothing needs: {sorted((s.name, t.name, p) for s, t, p in extra)}"
    )


def test_namespaces_are_selected_by_the_label_kubernetes_sets(built: dict[str, Built]) -> None:
    for objects in built.values():
        for (kind, _), obj in objects.items():
            if kind != "NetworkPolicy":
                continue
            for rule in obj["spec"].get("ingress", []) + obj["spec"].get("egress", []):
                for peer in rule.get("from", []) + rule.get("to", []):
                    if "namespaceSelector" in peer:
                        assert list(peer["namespaceSelector"]["matchLabels"]) == [
                            "kubernetes.io/metadata.name"
                        ]


def test_default_deny_covers_every_pod(prod: Built) -> None:
    deny = prod[("NetworkPolicy", "default-deny")]["spec"]
    assert deny == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
