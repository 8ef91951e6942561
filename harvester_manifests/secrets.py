"""Which Secrets the deployment needs, which .env keys fill them, and who consumes them.

Values never reach a committed file. How the Secrets reach the cluster (a gitignored env-file
layer, SealedSecrets, ExternalSecrets, or nothing) is delivery.py's decision, per environment.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from pathlib import Path

from harvester_manifests import names
from harvester_manifests.config.models import Config
from harvester_manifests.errors import InputError, Problem


@dataclass(frozen=True)
class SecretSpec:
    name: str  # the Secret's name in the cluster
    keys: tuple[tuple[str, str], ...]  # (key in the Secret, .env variable)
    consumer: str | None  # the Deployment whose pods roll when it changes
    description: str

    @property
    def file_name(self) -> str:
        return f"{self.name}.env"


API_KEYS = ("X_BEARER_TOKEN", "OPENAI_API_KEY", "ANTHROPIC_API_KEY", "HARVEST_API_KEY")
SLACK_KEYS = (
    ("critical", "SLACK_WEBHOOK_CRITICAL"),
    ("warning", "SLACK_WEBHOOK_ALERTS"),
    ("discovery", "SLACK_WEBHOOK_DISCOVERY"),
    ("llm", "SLACK_WEBHOOK_LLM"),
)


def secret_specs(cfg: Config) -> list[SecretSpec]:
    api_keys = [(k, k) for k in API_KEYS]
    if cfg.api.database.mode == "postgres":
        api_keys.append(("DATABASE_URL", "DATABASE_URL"))
    specs = [
        SecretSpec(names.API_KEYS_SECRET, tuple(api_keys), names.API, "API keys of the app"),
        SecretSpec(names.SLACK_SECRET, SLACK_KEYS, names.ALERTMANAGER, "Slack webhook URLs"),
        SecretSpec(
            names.GRAFANA_ADMIN_SECRET,
            (("admin-password", "GRAFANA_ADMIN_PASSWORD"),),
            names.GRAFANA,
            "Grafana admin password",
        ),
    ]
    if cfg.monitoring_auth.enabled:
        specs.append(
            SecretSpec(
                names.BASIC_AUTH_SECRET,
                (("auth", "MONITORING_BASIC_AUTH"),),
                None,
                "htpasswd for the monitoring UIs",
            )
        )
    return specs


@dataclass(frozen=True)
class SecretValues:
    """The values of every Secret of one environment, keyed by Secret name then key."""

    values: dict[str, dict[str, str]]

    def checksum(self, consumer: str) -> str:
        """A digest that changes when a consumer's secrets change, and reveals nothing.

        Keyed with every value of the environment (the API keys are high-entropy), so a weak
        password cannot be recovered from the digest by guessing.
        """
        key = "\n".join(
            f"{n}/{k}={v}" for n, kv in sorted(self.values.items()) for k, v in sorted(kv.items())
        ).encode()
        mine = "\n".join(
            f"{n}/{k}={v}"
            for n, kv in sorted(self.values.items())
            if n in _consumed_by(consumer)
            for k, v in sorted(kv.items())
        ).encode()
        return hmac.new(key, mine, hashlib.sha256).hexdigest()[:32]


def _consumed_by(consumer: str) -> set[str]:
    return {
        names.API: {names.API_KEYS_SECRET},
        names.ALERTMANAGER: {names.SLACK_SECRET},
        names.GRAFANA: {names.GRAFANA_ADMIN_SECRET},
    }.get(consumer, set())


def collect(cfg: Config, env: dict[str, str], env_source: str) -> SecretValues:
    """The values each Secret needs, from the .env; every missing key is one Problem."""
    problems: list[Problem] = []
    values: dict[str, dict[str, str]] = {}
    for spec in secret_specs(cfg):
        values[spec.name] = {}
        for key, variable in spec.keys:
            value = env.get(variable, "")
            if not value:
                problems.append(
                    Problem(
                        env_source, variable, f"missing: {spec.description} ({spec.name}/{key})"
                    )
                )
            values[spec.name][key] = value
    if problems:
        raise InputError(problems)
    return SecretValues(values)


def refuse_leaks(secrets: SecretValues, overlay: Path) -> None:
    """A secret value written into an overlay file would be committed: refuse to render."""
    try:
        text = overlay.read_text(encoding="utf-8")
    except OSError:
        return
    problems = [
        Problem(str(overlay), f"{name}/{key}", "holds a secret value: keep it only in the .env")
        for name, kv in sorted(secrets.values.items())
        for key, value in sorted(kv.items())
        if len(value) >= 6 and value in text
    ]
    if problems:
        raise InputError(problems)
