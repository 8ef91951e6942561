"""Cross-resource invariants of a rendered environment.

The components build every object from one config, so these hold by construction; render checks
them anyway before writing, so that a future change to a component cannot quietly ship a
Service that selects nothing or an Ingress that points nowhere.
"""

from __future__ import annotations

from harvester_manifests.components.common import Obj


def _pod_templates(objects: list[Obj]) -> list[tuple[str, dict[str, str], Obj]]:
    return [
        (
            o["metadata"]["name"],
            o["spec"]["template"]["metadata"]["labels"],
            o["spec"]["template"]["spec"],
        )
        for o in objects
        if o["kind"] in ("Deployment", "StatefulSet", "DaemonSet")
    ]


def broken_references(objects: list[Obj]) -> list[str]:
    """Every dangling reference between objects, as a sentence; empty when all is well."""
    problems: list[str] = []
    pods = _pod_templates(objects)
    services = {o["metadata"]["name"]: o for o in objects if o["kind"] == "Service"}
    for name, svc in sorted(services.items()):
        selector = svc["spec"].get("selector", {})
        matching = [p for p in pods if selector and selector.items() <= p[1].items()]
        if not matching:
            problems.append(f"Service {name} selects no pods")
            continue
        exposed = {
            value
            for _, _, spec in matching
            for c in spec["containers"]
            for p in c.get("ports", [])
            for value in (p["containerPort"], p.get("name"))
        }
        for port in svc["spec"]["ports"]:
            if port.get("targetPort", port["port"]) not in exposed:
                problems.append(
                    f"Service {name} targets port {port.get('targetPort')} no pod exposes"
                )
    for ingress in (o for o in objects if o["kind"] == "Ingress"):
        for rule in ingress["spec"].get("rules", []):
            for path in rule.get("http", {}).get("paths", []):
                backend = path["backend"]["service"]
                target = services.get(backend["name"])
                ports = [p["port"] for p in target["spec"]["ports"]] if target else []
                if backend["port"]["number"] not in ports:
                    problems.append(
                        f"Ingress {ingress['metadata']['name']} routes to "
                        f"{backend['name']}:{backend['port']['number']}, which does not exist"
                    )
    volumes_claimed = {
        v["persistentVolumeClaim"]["claimName"]
        for _, _, spec in pods
        for v in spec.get("volumes", [])
        if "persistentVolumeClaim" in v
    }
    claims = {o["metadata"]["name"] for o in objects if o["kind"] == "PersistentVolumeClaim"}
    problems += [
        f"a pod mounts PVC {c}, which is not rendered" for c in sorted(volumes_claimed - claims)
    ]
    config_maps = {o["metadata"]["name"] for o in objects if o["kind"] == "ConfigMap"}
    for name, _, spec in pods:
        for volume in spec.get("volumes", []):
            sources = [volume.get("configMap")] + [
                s.get("configMap") for s in volume.get("projected", {}).get("sources", [])
            ]
            for source in filter(None, sources):
                if source["name"] not in config_maps:
                    problems.append(
                        f"{name} mounts ConfigMap {source['name']}, which is not rendered"
                    )
    for pdb in (o for o in objects if o["kind"] == "PodDisruptionBudget"):
        if pdb["spec"].get("maxUnavailable", 1) < 1 or "minAvailable" in pdb["spec"]:
            problems.append(
                f"PodDisruptionBudget {pdb['metadata']['name']} can block every eviction"
            )
    for hpa in (o for o in objects if o["kind"] == "HorizontalPodAutoscaler"):
        target = hpa["spec"]["scaleTargetRef"]["name"]
        deployment = next(
            (o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"] == target),
            None,
        )
        if deployment is None:
            problems.append(
                f"HorizontalPodAutoscaler {hpa['metadata']['name']} scales a missing {target}"
            )
        elif "replicas" in deployment["spec"]:
            problems.append(f"Deployment {target} has a fixed replicas that fights its autoscaler")
    return problems
