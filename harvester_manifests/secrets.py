"""Which Secrets the deployment needs, which .env keys fill them, and who consumes them.

Values never reach a committed file. How the Secrets reach the cluster (a gitignored env-file
layer, SealedSecrets, ExternalSecrets, or nothing) is delivery.py's decision, per environment.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
    specs = [SecretSpec(names.API_KEYS_SECRET, tuple(api_keys), names.API, "API keys of the app")]
    if cfg.monitoring.mode == "operator":
        # The cluster's Alertmanager reads the Slack URLs through the AlertmanagerConfig's
        # secret key selectors; Grafana and the monitoring UIs are the cluster's.
        if cfg.monitoring.operator.alertmanager_config:
            specs.append(SecretSpec(names.SLACK_SECRET, SLACK_KEYS, None, "Slack webhook URLs"))
        return specs
    specs += [
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


# Shorter values ("admin", "true") occur in config by chance; they are not checked.
MIN_SECRET_LENGTH = 6
REDACTED = "<secret from the .env>"


def secret_variables() -> tuple[str, ...]:
    """Every .env variable that fills a Secret in some configuration."""
    return (
        *API_KEYS,
        "DATABASE_URL",
        *(variable for _, variable in SLACK_KEYS),
        "GRAFANA_ADMIN_PASSWORD",
        "MONITORING_BASIC_AUTH",
    )


def checked_secrets(env: Mapping[str, str]) -> dict[str, str]:
    """The .env's secret values worth looking for: {value: variable}."""
    return {
        env[variable]: variable
        for variable in secret_variables()
        if len(env.get(variable, "")) >= MIN_SECRET_LENGTH
    }


def _strings(data: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, str]]:
    """(dotted path, text) of every key and string value in parsed YAML."""
    if isinstance(data, dict):
        for key, value in data.items():
            child = (*path, str(key))
            yield ".".join(child), str(key)
            yield from _strings(value, child)
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from _strings(value, (*path, str(index)))
    elif isinstance(data, bytes):  # !!binary
        yield ".".join(path), data.decode("utf-8", "replace")
    elif data is not None:
        yield ".".join(path), str(data)


def refuse_leaks(secrets: Mapping[str, str], overlay: Path, text: str, data: Any) -> None:
    """A secret value written into an overlay file would be committed: refuse to render.

    Looks in the file's text (comments too) and in every parsed key and value, so a value
    wrapped across lines, escaped or folded by YAML is found as well. `secrets` maps each
    value to its .env variable; messages name the variable and the field, never the value.
    """
    problems: list[Problem] = []
    strings = list(_strings(data)) if secrets else []
    for value, variable in sorted(secrets.items(), key=lambda item: item[1]):
        message = f"holds the secret value of {variable} from the .env: keep it only in the .env"
        fields = sorted({field for field, string in strings if value in string})
        problems += [Problem(str(overlay), field, message) for field in fields]
        if not fields and value in text:
            line = text.count("\n", 0, text.index(value)) + 1
            problems.append(Problem(str(overlay), f"line {line}", message))
    if problems:
        raise InputError(problems)


def refuse_leaks_in_files(secrets: Mapping[str, str], files: Mapping[str, str], out: Path) -> None:
    """No committed file of the render (every file but the gitignored *.env) holds a secret."""
    problems = [
        Problem(
            str(out / path),
            "",
            f"would hold the value of {variable} from the .env: choose a value for it that "
            "is not also a name or setting of the deployment",
        )
        for path, content in sorted(files.items())
        if not path.endswith(".env")
        for value, variable in sorted(secrets.items(), key=lambda item: item[1])
        if value in content
    ]
    if problems:
        raise InputError(problems)


def redact(problems: list[Problem], values: Iterable[str]) -> list[Problem]:
    """The problems with every secret value (as written, repr'd or JSON-escaped) masked."""
    variants = sorted(
        {
            form
            for value in values
            if len(value) >= MIN_SECRET_LENGTH
            for form in (value, repr(value)[1:-1], json.dumps(value)[1:-1])
        },
        key=len,
        reverse=True,
    )

    def mask(text: str) -> str:
        for variant in variants:
            text = text.replace(variant, REDACTED)
        return text

    return [Problem(mask(p.source), mask(p.field), mask(p.message)) for p in problems]
