"""Cross-resource invariants: render refuses objects whose references dangle."""

from __future__ import annotations

import copy

import pytest

from harvester_manifests.checks import broken_references
from harvester_manifests.components.common import Obj
from harvester_manifests.config.models import Config
from harvester_manifests.stack import build_stack


def stack() -> list[Obj]:
    return build_stack(Config())


def find(objects: list[Obj], kind: str, name: str) -> Obj:
    return next(o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name)


def test_rendered_stack_has_no_dangling_reference() -> None:
    assert broken_references(stack()) == []


def break_service_selector(objects: list[Obj]) -> None:
    find(objects, "Service", "grafana")["spec"]["selector"] = {"app": "grafanna"}


def break_service_port(objects: list[Obj]) -> None:
    find(objects, "Service", "prometheus")["spec"]["ports"][0]["targetPort"] = "web"


def break_ingress_backend(objects: list[Obj]) -> None:
    rule = find(objects, "Ingress", "alertmanager")["spec"]["rules"][0]
    rule["http"]["paths"][0]["backend"]["service"]["port"]["number"] = 9094


def break_claim(objects: list[Obj]) -> None:
    objects.remove(find(objects, "PersistentVolumeClaim", "grafana-data"))


def break_config_map(objects: list[Obj]) -> None:
    objects.remove(find(objects, "ConfigMap", "grafana-dashboard-kubernetes-pods"))


def break_budget(objects: list[Obj]) -> None:
    find(objects, "PodDisruptionBudget", "signal-harvester-api")["spec"] = {"minAvailable": 2}


def break_autoscaler(objects: list[Obj]) -> None:
    find(objects, "Deployment", "signal-harvester-api")["spec"]["replicas"] = 3


@pytest.mark.parametrize(
    ("breakage", "message"),
    [
        (break_service_selector, "Service grafana selects no pods"),
        (break_service_port, "Service prometheus targets port web no pod exposes"),
        (break_ingress_backend, "Ingress alertmanager routes to alertmanager:9094"),
        (break_claim, "mounts PVC grafana-data, which is not rendered"),
        (break_config_map, "mounts ConfigMap grafana-dashboard-kubernetes-pods"),
        (break_budget, "PodDisruptionBudget signal-harvester-api can block every eviction"),
        (break_autoscaler, "fixed replicas that fights its autoscaler"),
    ],
)
def test_each_dangling_reference_is_named(breakage: object, message: str) -> None:
    objects = copy.deepcopy(stack())
    assert callable(breakage)
    breakage(objects)
    problems = broken_references(objects)
    assert any(message in p for p in problems), problems
