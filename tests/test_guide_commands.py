"""Every kubectl command in the deployment guide finds what it looks for in the prod render.

The commands are the guide's own, copied verbatim into tests/data/guide_commands.txt under the
guide section each comes from (the guide is not part of this repository): a command added to
the guide is checked once it is added to that file, without anyone writing a test for it.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import Obj

GUIDE_COMMANDS = Path(__file__).resolve().parent / "data" / "guide_commands.txt"
NS = "signal-harvester"
Built = dict[tuple[str, str], Obj]

KINDS = {
    "pods": "Pod",
    "pod": "Pod",
    "po": "Pod",
    "svc": "Service",
    "service": "Service",
    "services": "Service",
    "deployment": "Deployment",
    "deployments": "Deployment",
    "deploy": "Deployment",
    "hpa": "HorizontalPodAutoscaler",
    "ingress": "Ingress",
    "ingresses": "Ingress",
    "networkpolicy": "NetworkPolicy",
    "networkpolicies": "NetworkPolicy",
    "serviceaccount": "ServiceAccount",
    "serviceaccounts": "ServiceAccount",
    "clusterrole": "ClusterRole",
    "clusterrolebinding": "ClusterRoleBinding",
    "secret": "Secret",
    "secrets": "Secret",
    "pvc": "PersistentVolumeClaim",
    "certificate": "Certificate",
    "certificates": "Certificate",
    "namespace": "Namespace",
}
# Outside what we render: the cluster's own objects and other products' namespaces.
FOREIGN = {"nodes", "storageclass", "deployment/metrics-server"}
PLACEHOLDER = re.compile(r"POD_NAME|POD-NAME|\$API_POD|SNAPSHOT_NAME")


@dataclass(frozen=True)
class Lookup:
    command: str
    kind: str
    name: str | None = None
    selector: tuple[str, str] | None = None
    container: str | None = None


def guide_sections() -> dict[str, list[str]]:
    """The guide's kubectl commands by "Section > Subsection", in the guide's order."""
    sections: dict[str, list[str]] = {}
    current = ""
    for number, line in enumerate(GUIDE_COMMANDS.read_text().splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = line[1:-1]
            sections.setdefault(current, [])
            continue
        assert current and line.startswith("kubectl "), f"{GUIDE_COMMANDS}:{number}: {line!r}"
        sections[current].append(line)
    return sections


def guide_commands() -> list[str]:
    return [command for commands in guide_sections().values() for command in commands]


def lookups(command: str) -> list[Lookup]:
    """What one command needs to exist in our namespace (empty for commands about others)."""
    words = shlex.split(command)
    args, namespace, selector, i = [], None, None, 1
    while i < len(words):
        word = words[i]
        if word in ("-n", "--namespace"):
            namespace, i = words[i + 1], i + 2
        elif word == "-l":
            key, _, value = words[i + 1].partition("=")
            selector, i = (key, value), i + 2
        elif word.startswith("-"):
            i += 2 if word in ("-o", "--replicas") and "=" not in word else 1
        else:
            args.append(word)
            i += 1
    if namespace not in (NS, None) or any(f in command for f in FOREIGN) or not args:
        return []
    verb, rest = args[0], args[1:]
    if verb in ("config", "cluster-info", "apply", "top") or (verb == "get" and not rest):
        return []
    if verb in ("rollout",):
        rest = rest[1:]
    if verb == "set":  # set image deployment/NAME CONTAINER=IMAGE
        kind, name = rest[1].split("/")
        return [Lookup(command, KINDS[kind], name, container=rest[2].split("=")[0])]
    if verb in ("logs", "exec", "cp"):
        if selector:
            return [Lookup(command, "Pod", selector=selector)]
        return []  # a named pod: its name is a placeholder the reader fills in
    if not rest:
        return []
    if "/" in rest[0]:
        short, named = rest[0].split("/", 1)
        return [Lookup(command, KINDS[short], named)]
    target = rest[1] if len(rest) > 1 and not PLACEHOLDER.search(rest[1]) else None
    return [Lookup(command, KINDS[rest[0]], target, selector=selector)]


def resolve(lookup: Lookup, objects: Built) -> bool:
    if lookup.kind == "Pod":
        templates = [
            o["spec"]["template"]["metadata"]["labels"]
            for (k, _), o in objects.items()
            if k == "Deployment"
        ]
        return bool(templates) and (
            lookup.selector is None
            or any(t.get(lookup.selector[0]) == lookup.selector[1] for t in templates)
        )
    if lookup.kind == "Certificate":
        # cert-manager's ingress-shim creates a Certificate named after each TLS secret.
        secrets = [
            tls["secretName"]
            for (k, _), o in objects.items()
            if k == "Ingress"
            and "cert-manager.io/cluster-issuer" in o["metadata"].get("annotations", {})
            for tls in o["spec"].get("tls", [])
        ]
        return bool(secrets) and (lookup.name is None or lookup.name in secrets)
    if lookup.kind == "Secret":
        # In a GitOps secrets mode the Secret is made in the cluster, from the committed
        # ExternalSecret (spec.target.name) or SealedSecret (its own name).
        made = {
            o["spec"]["target"]["name"] if k == "ExternalSecret" else n
            for (k, n), o in objects.items()
            if k in ("Secret", "ExternalSecret", "SealedSecret")
        }
        return bool(made) and (lookup.name is None or lookup.name in made)
    matching = [o for (k, n), o in objects.items() if k == lookup.kind and lookup.name in (None, n)]
    if lookup.container:
        containers = [
            c["name"] for o in matching for c in o["spec"]["template"]["spec"]["containers"]
        ]
        return lookup.container in containers
    return bool(matching)


COMMANDS = guide_commands()


def test_the_guide_has_commands() -> None:
    """All 92 of the guide's commands, each under the guide section it comes from."""
    sections = guide_sections()
    assert len(COMMANDS) == 92
    assert all(sections.values()), "a section without commands"
    assert {"Quick Start", "Maintenance > Backup Procedures"} <= sections.keys()


@pytest.mark.parametrize("command", COMMANDS)
def test_guide_command_finds_its_target(prod: Built, command: str) -> None:
    for lookup in lookups(command):
        assert resolve(lookup, prod), f"`{command}` looks for {lookup} and does not find it"


def _container_paths(command: str) -> list[str]:
    """Absolute paths inside the container that an exec or cp command reads or writes."""
    inside = command.split(" -- ", 1)[1] if " -- " in command else command
    paths = re.findall(r"(?<![\w.:])(/(?:app|etc|prometheus)[\w./-]*)", inside)
    paths += re.findall(r"[\w-]:(/[\w.-][\w./-]*)", command)  # kubectl cp ns/pod:/path
    return sorted({p for p in paths if not p.startswith("/api/")})


FILE_COMMANDS = [c for c in COMMANDS if c.split()[1] in ("exec", "cp") and _container_paths(c)]


@pytest.mark.parametrize("command", FILE_COMMANDS)
def test_guide_file_paths_are_on_the_right_volumes(prod: Built, command: str) -> None:
    """`kubectl cp`/`exec` paths land on a mounted volume, writable where the guide writes."""
    app = "prometheus" if "prometheus-POD" in command else "signal-harvester-api"
    pod = prod[("Deployment", app)]["spec"]["template"]["spec"]
    container = next(c for c in pod["containers"] if c["name"] == app)
    for path in _container_paths(command):
        mounts = [
            m
            for m in container["volumeMounts"]
            if path.startswith(m["mountPath"].rstrip("/") + "/")
        ]
        assert mounts, (
            f"`{command}`: {path} is on no volume of {app} (the root filesystem is read-only)"
        )
        writes = "cp ./" in command or ".backup " in command or "snapshot" in command
        if writes:
            assert not mounts[0].get("readOnly"), f"`{command}` writes {path} on a read-only mount"
