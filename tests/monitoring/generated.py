"""The monitoring files as a user meets them: out of the ConfigMaps of `kustomize build`.

Also the helpers every monitoring test shares: running promtool and amtool from bin/ (a
missing binary fails the test, never skips it) and writing files for them.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from harvester_manifests import names
from harvester_manifests.components.grafana import dashboard_config_map_name
from harvester_manifests.config.models import Config
from harvester_manifests.monitoring.rules import CATEGORIES, RULES_SUFFIX, sizes
from tests.conftest import Obj, tool

JSONDict = dict[str, Any]


@dataclass(frozen=True)
class AlertRule:
    name: str
    severity: str
    category: str
    group: str
    rule: JSONDict

    @property
    def labels(self) -> dict[str, str]:
        labels: dict[str, str] = self.rule["labels"]
        return labels


@dataclass(frozen=True)
class Generated:
    """One environment's monitoring content, read back from its kustomize-built objects."""

    env: str
    cfg: Config
    objects: dict[tuple[str, str], Obj]
    prometheus_yml: str
    rule_files: dict[str, str]  # one file per rule group, in rule_groups' order
    alertmanager_yml: str
    dashboard_json: dict[str, str]

    @property
    def prometheus(self) -> JSONDict:
        loaded: JSONDict = yaml.safe_load(self.prometheus_yml)
        return loaded

    @property
    def rules_yml(self) -> str:
        return "".join(self.rule_files.values())

    @property
    def rules(self) -> JSONDict:
        """Every group of every rule file, as one document."""
        return {
            "groups": [
                group
                for text in self.rule_files.values()
                for group in yaml.safe_load(text)["groups"]
            ]
        }

    def write_rules(self, directory: Path) -> list[Path]:
        return [write(directory / name, text) for name, text in self.rule_files.items()]

    @property
    def alertmanager(self) -> JSONDict:
        loaded: JSONDict = yaml.safe_load(self.alertmanager_yml)
        return loaded

    @property
    def dashboards(self) -> dict[str, JSONDict]:
        return {name: json.loads(text) for name, text in self.dashboard_json.items()}

    def rule_count(self) -> int:
        """Every rule promtool and Prometheus load: the alerts and the recorded sizes."""
        return sum(len(group["rules"]) for group in self.rules["groups"])

    def alerts(self) -> list[AlertRule]:
        return [
            AlertRule(
                rule["alert"],
                rule["labels"]["severity"],
                rule["labels"]["category"],
                group["name"],
                rule,
            )
            for group in self.rules["groups"]
            for rule in group["rules"]
            if "alert" in rule
        ]


DASHBOARDS = ("signal-harvester-overview", "discovery-pipeline", "kubernetes-pods")


def extract(env: str, cfg: Config, objects: dict[tuple[str, str], Obj]) -> Generated:
    prometheus = objects[("ConfigMap", "prometheus-config")]["data"]
    alertmanager = objects[("ConfigMap", "alertmanager-config")]["data"]
    boards = {
        name: objects[("ConfigMap", dashboard_config_map_name(name))]["data"][f"{name}.json"]
        for name in DASHBOARDS
    }
    return Generated(
        env=env,
        cfg=cfg,
        objects=objects,
        prometheus_yml=prometheus["prometheus.yml"],
        rule_files={
            name: prometheus[name]
            for group in (sizes.GROUP, *CATEGORIES)
            if (name := f"{names.PART_OF}-{group}{RULES_SUFFIX}") in prometheus
        },
        alertmanager_yml=alertmanager["alertmanager.yml"],
        dashboard_json=boards,
    )


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def write_yaml(path: Path, document: Any) -> Path:
    return write(path, yaml.safe_dump(document, sort_keys=False, width=100_000))


def promtool(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(tool("promtool")), *map(str, args)], capture_output=True, text=True, cwd=cwd
    )


def amtool(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(tool("amtool")), *map(str, args)], capture_output=True, text=True)


def expect_ok(result: subprocess.CompletedProcess[str]) -> str:
    """The tool's stdout; fails with its whole output when it exited non-zero."""
    assert result.returncode == 0, (
        f"{' '.join(result.args)} exited {result.returncode}\n"
        f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    )
    return result.stdout
