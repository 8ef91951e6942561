"""Validated scalar types and the strict base model every config model derives from."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

# ---------------------------------------------------------------------------------------------
# Scalar types


def _check_hostname(value: str) -> str:
    labels = value.split(".")
    if (
        len(value) > 253
        or len(labels) < 2
        or not all(re.fullmatch(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?", label) for label in labels)
    ):
        raise ValueError(
            f"{value!r} is not a valid DNS host name (lowercase letters, digits, '-' and '.', "
            "at least two labels, e.g. api.example.com)"
        )
    return value


def _check_dns_label(value: str) -> str:
    if not re.fullmatch(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?", value):
        raise ValueError(
            f"{value!r} is not a valid Kubernetes name (RFC 1123 label: lowercase letters, "
            "digits and '-', at most 63 characters, starting and ending with a letter or digit)"
        )
    return value


def _check_duration(value: str) -> str:
    if not value or not re.fullmatch(r"(\d+y)?(\d+w)?(\d+d)?(\d+h)?(\d+m)?(\d+s)?(\d+ms)?", value):
        raise ValueError(f"{value!r} is not a Prometheus duration (examples: 30s, 5m, 4h, 15d)")
    return value


def _check_path(value: str) -> str:
    if not re.fullmatch(r"/[A-Za-z0-9._~/-]*", value):
        raise ValueError(f"{value!r} is not an absolute URL path (example: /prometheus)")
    return value


def _check_slack_channel(value: str) -> str:
    if not re.fullmatch(r"#[a-z0-9][a-z0-9._-]{0,79}", value):
        raise ValueError(f"{value!r} is not a Slack channel (example: #signal-harvester-alerts)")
    return value


# Kubernetes label (and annotation) keys and values, as the API server checks them.
LABEL_NAME = r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?"
_LABEL_PREFIX = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
LABEL_KEY_PATTERN = rf"^({_LABEL_PREFIX}/)?{LABEL_NAME}$"
LABEL_VALUE_PATTERN = rf"^({LABEL_NAME})?$"


def _check_labels(value: dict[str, str]) -> dict[str, str]:
    """Kubernetes label keys and values: anything else could never be matched by a selector."""
    if not value:
        raise ValueError(
            "empty: a selector without labels never says which objects it means: leave it out "
            "for the default, or give the labels the cluster's objects carry"
        )
    for key, label_value in value.items():
        prefix, _, name = key.rpartition("/")
        if not re.fullmatch(LABEL_NAME, name) or (
            "/" in key and (len(prefix) > 253 or not re.fullmatch(_LABEL_PREFIX, prefix))
        ):
            raise ValueError(
                f"{key!r} is not a Kubernetes label key ([prefix/]name: a name of at most 63 "
                "letters, digits, '-', '_' and '.', starting and ending with a letter or digit)"
            )
        if label_value and not re.fullmatch(LABEL_NAME, label_value):
            raise ValueError(
                f"{key}={label_value!r}: not a Kubernetes label value (at most 63 letters, "
                "digits, '-', '_' and '.', starting and ending with a letter or digit): "
                "no object can carry it, so the selector would match nothing"
            )
    return dict(sorted(value.items()))


Hostname = Annotated[str, AfterValidator(_check_hostname)]
DnsLabel = Annotated[str, AfterValidator(_check_dns_label)]
Duration = Annotated[str, AfterValidator(_check_duration)]
UrlPath = Annotated[str, AfterValidator(_check_path)]
SlackChannel = Annotated[str, AfterValidator(_check_slack_channel)]
Labels = Annotated[dict[str, str], AfterValidator(_check_labels)]
Port = Annotated[int, Field(ge=1, le=65535)]
Percent = Annotated[int, Field(ge=1, le=100)]


class Model(BaseModel):
    """Strict base: unknown keys are errors, values are immutable, YAML keys are camelCase."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        alias_generator=to_camel,
        populate_by_name=True,
        validate_default=True,
        strict=False,
    )
