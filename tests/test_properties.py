"""Property tests over the config space (hypothesis).

Every valid overlay renders to output that kustomize builds to exactly the direct render and
that kubeconform -strict accepts; every invalid overlay is refused with exit 2, no traceback,
and the output left as it was.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harvester_manifests.cli import main
from harvester_manifests.config.loader import load_config, merge
from harvester_manifests.config.models import Config
from harvester_manifests.errors import InputError
from harvester_manifests.render import render
from tests.conftest import (
    ENV_EXAMPLE,
    ROOT,
    apply_dir,
    direct_render,
    index,
    kubeconform_accepts,
    kustomize_build,
)
from tests.test_layout import normalized

cpu = st.sampled_from(["50m", "100m", "250m", "500m"])  # x 8 replicas fits one 4-CPU node
memory = st.sampled_from(["64Mi", "128Mi", "256Mi", "512Mi"])
size = st.sampled_from(["1Gi", "2Gi", "5Gi", "10Gi", "50Gi"])
label = st.from_regex(r"[a-z][a-z0-9]{0,8}", fullmatch=True)


@st.composite
def overlays(draw: st.DrawFn) -> dict[str, Any]:
    """Valid overlays: every knob a user is likely to turn, in combination."""
    low = draw(st.integers(1, 4))
    high = draw(st.integers(low, 8))
    postgres = draw(st.booleans())
    overlay: dict[str, Any] = {
        "namespace": draw(st.sampled_from(["signal-harvester", "sh-dev", "harvester"])),
        "domain": f"{draw(label)}.example.com",
        "ingress": {"tls": draw(st.booleans())},
        "monitoringAuth": {
            "enabled": draw(st.booleans()),
            # Without basic auth the UIs need an allowlist (or no ingress): see the rule.
            "allowSourceRanges": draw(
                st.sampled_from([[], ["10.0.0.0/8"], ["192.0.2.0/24", "10.0.0.0/8"]])
            ),
        },
        "secrets": draw(
            st.sampled_from(
                [
                    {"mode": "env-file"},
                    {"mode": "external"},
                    {
                        "mode": "external-secrets",
                        "externalSecrets": {"storeRef": {"name": "vault"}},
                    },
                ]
            )
        ),
        "api": {
            "autoscaling": {
                "enabled": draw(st.booleans()),
                "minReplicas": low,
                "maxReplicas": high,
                "targetCpuUtilization": draw(st.integers(10, 100)),
            },
            "replicas": draw(st.integers(1, 4)),
            "resources": {
                "requests": {"cpu": draw(cpu), "memory": draw(memory)},
                "limits": {"cpu": "2", "memory": "2Gi"},
            },
            "database": {"mode": "postgres" if postgres else "sqlite"},
            "storage": {"size": draw(size)},
            "ingress": {"enabled": draw(st.booleans())},
        },
        "prometheus": {
            "retention": f"{draw(st.integers(1, 30))}d",
            "storage": {"size": draw(size)},
            "ingress": {"enabled": draw(st.booleans())},
        },
        "grafana": {"ingress": {"enabled": draw(st.booleans())}},
        "alertmanager": {"ingress": {"enabled": draw(st.booleans())}},
    }
    auth = overlay["monitoringAuth"]
    if not auth["enabled"] and not auth["allowSourceRanges"]:
        auth["allowSourceRanges"] = ["10.0.0.0/8"]
    if draw(st.booleans()):
        overlay["api"]["settings"] = {"feature": {"enabled": draw(st.booleans())}}
    return overlay


def env_file(directory: Path) -> Path:
    path = directory / ".env"
    path.write_text(
        ENV_EXAMPLE.read_text() + "DATABASE_URL=postgresql://u:p@db.example.com:5432/h\n"
    )
    return path


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(overlay=overlays())
def test_every_valid_config_builds_to_its_render_and_validates(overlay: dict[str, Any]) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        tmp = Path(scratch)
        (tmp / "overlays").mkdir()
        (tmp / "overlays" / "x.yaml").write_text(yaml.safe_dump(overlay))
        secrets = env_file(tmp)
        render("x", tmp / "overlays", tmp / "build", secrets, tmp)
        built = index(kustomize_build(apply_dir(tmp / "build", "x")))
        direct = index(direct_render("x", tmp / "overlays", secrets))
        assert {k: normalized(v) for k, v in built.items()} == {
            k: normalized(v) for k, v in direct.items()
        }
        assert kubeconform_accepts(apply_dir(tmp / "build", "x"))


invalid_changes = st.sampled_from(
    [
        {"api": {"autoscaling": {"minReplicas": 9, "maxReplicas": 3}}},
        {"api": {"replicas": 0}},
        {"api": {"port": 70000}},
        {"api": {"resources": {"requests": {"cpu": "-1"}}}},
        {"api": {"resources": {"requests": {"memory": "3Gi"}}}},
        {"api": {"database": {"mode": "sqlite"}, "storage": {"accessMode": "ReadWriteMany"}}},
        {"api": {"image": {"tag": "latest"}}},
        {"api": {"healthPath": "health"}},
        {"domain": "UPPER.example.com"},
        {"namespace": "Bad_Name"},
        {"prometheus": {"retention": "fifteen days"}},
        {"alertmanager": {"slack": {"critical": "no-hash"}}},
        {"grafana": {"unknown": 1}},
        {"api": []},
        {"ingress": {"className": ""}},
        {
            "monitoringAuth": {"enabled": False, "allowSourceRanges": []},
            "grafana": {"ingress": {"enabled": True}},
        },
        {"monitoringAuth": {"allowSourceRanges": ["300.0.0.0/8"]}},
    ]
)


@settings(max_examples=30, deadline=None)
@given(base=overlays(), change=invalid_changes)
def test_every_invalid_config_is_refused_cleanly(
    base: dict[str, Any], change: dict[str, Any]
) -> None:
    overlay = merge(base, change)
    with tempfile.TemporaryDirectory() as scratch:
        tmp = Path(scratch)
        (tmp / "overlays").mkdir()
        (tmp / "overlays" / "x.yaml").write_text(yaml.safe_dump(overlay))
        out = tmp / "build"
        shutil.copytree(ROOT / "build", out, ignore=shutil.ignore_patterns("*.env"))
        before = {p: p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}
        result = CliRunner().invoke(
            main,
            [
                "render",
                "--env",
                "x",
                "--config-dir",
                str(tmp / "overlays"),
                "--env-file",
                str(env_file(tmp)),
                "--out",
                str(out),
            ],
        )
        assert result.exit_code == 2, result.output
        assert isinstance(result.exception, SystemExit)
        assert "Traceback" not in result.output
        assert {p: p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()} == before


def test_defaults_are_valid() -> None:
    Config()
    try:
        load_config(ROOT / "overlays", "prod")
    except InputError as exc:  # pragma: no cover - the message is the point
        raise AssertionError(str(exc)) from exc
