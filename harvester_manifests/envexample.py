""".env.example, generated from the models: every key any configuration can ask for.

The keys come from `secrets.secret_specs`, for the default configuration and for one that
needs every optional Secret (PostgreSQL); keys only the latter needs are listed commented out.
Each key's comment and placeholder value are below; a key the models add without one still
appears, with a generic comment, so the file never misses a key.
"""

from __future__ import annotations

from dataclasses import dataclass

from harvester_manifests.config.models import Config
from harvester_manifests.sealed_secrets import CHECKSUM_KEY_VARIABLE
from harvester_manifests.secrets import SecretSpec, secret_specs

HEADER = """\
# Secret values for harvester-gen render. Copy to .env (or .env.<env> for one environment)
# and fill in real values. .env and .env.* are gitignored; this file holds placeholders only.
# Generated from harvester-gen's models (harvester-gen init writes it): every key, per Secret.
"""


@dataclass(frozen=True)
class Variable:
    comment: str  # one or more lines, without the leading "# "
    placeholder: str


VARIABLES: dict[str, Variable] = {
    "X_BEARER_TOKEN": Variable(
        "Bearer token of the X (Twitter) API.", "replace-with-x-bearer-token"
    ),
    "OPENAI_API_KEY": Variable("OpenAI API key.", "replace-with-openai-api-key"),
    "ANTHROPIC_API_KEY": Variable("Anthropic API key.", "replace-with-anthropic-api-key"),
    "HARVEST_API_KEY": Variable(
        "The key clients send to this API.", "replace-with-harvest-api-key"
    ),
    "DATABASE_URL": Variable(
        "PostgreSQL URL: required only with api.database.mode postgres.",
        "postgresql://harvester:password@postgres.example.com:5432/harvester",
    ),
    "SLACK_WEBHOOK_CRITICAL": Variable(
        "#signal-harvester-critical",
        "https://hooks.slack.com/services/REPLACE/CRITICAL/PLACEHOLDER",
    ),
    "SLACK_WEBHOOK_ALERTS": Variable(
        "#signal-harvester-alerts (warnings)",
        "https://hooks.slack.com/services/REPLACE/ALERTS/PLACEHOLDER",
    ),
    "SLACK_WEBHOOK_DISCOVERY": Variable(
        "#signal-harvester-discovery",
        "https://hooks.slack.com/services/REPLACE/DISCOVERY/PLACEHOLDER",
    ),
    "SLACK_WEBHOOK_LLM": Variable(
        "#signal-harvester-llm", "https://hooks.slack.com/services/REPLACE/LLM/PLACEHOLDER"
    ),
    "GRAFANA_ADMIN_PASSWORD": Variable(
        "The password of Grafana's admin (the user name is grafana.adminUser in the overlay).",
        "replace-with-a-long-random-password",
    ),
    "MONITORING_BASIC_AUTH": Variable(
        "One htpasswd line: htpasswd -nbB admin 'password'   "
        "(needed when monitoringAuth.enabled),\n"
        "in single quotes: its '$' would otherwise be a variable to docker compose.",
        "'admin:$2y$05$REPLACEwithAbcryptHashFromHtpasswdPLACEHOLDERxxxxxxxxxxx'",
    ),
}


def every_configuration() -> tuple[Config, Config]:
    """The default configuration, and one that needs every optional Secret."""
    return Config(), Config.model_validate({"api": {"database": {"mode": "postgres"}}})


def variable(name: str, spec: SecretSpec, key: str) -> Variable:
    return VARIABLES.get(
        name,
        Variable(f"{spec.description}: key {key} of Secret {spec.name}.", f"replace-{name}"),
    )


def env_example() -> str:
    """The text of .env.example: one section per Secret, one commented line per key."""
    default, everything = every_configuration()
    required = {var for spec in secret_specs(default) for _, var in spec.keys}
    sections: dict[str, list[str]] = {}
    seen: set[str] = set()
    for spec in [*secret_specs(default), *secret_specs(everything)]:
        lines = sections.setdefault(spec.name, [_section_title(spec)])
        for key, name in spec.keys:
            if name in seen:
                continue
            seen.add(name)
            var = variable(name, spec, key)
            lines += [f"# {line}" for line in var.comment.splitlines()]
            lines.append(
                f"{name}={var.placeholder}" if name in required else f"# {name}={var.placeholder}"
            )
    sections["sealed"] = [*SEALED_COMMENT, f"{CHECKSUM_KEY_VARIABLE}={SEALED_PLACEHOLDER}"]
    return HEADER + "".join("\n" + "\n".join(lines) + "\n" for lines in sections.values())


# Not a Secret's key: the key of the checksums that keep sealed ciphertexts stable.
SEALED_COMMENT = [
    "# --- secrets mode sealed-secrets only: the key of the checksums that keep unchanged values'",
    '# ciphertexts (README "Secret delivery"). Random, at least 32 characters, the same for '
    "everyone",
    "# who renders: openssl rand -hex 32",
]
SEALED_PLACEHOLDER = "replace-with-the-output-of-openssl-rand-hex-32"


def _section_title(spec: SecretSpec) -> str:
    used = f", used by {spec.consumer}" if spec.consumer else ""
    return f"# --- Secret {spec.name}: {spec.description}{used} ---"
