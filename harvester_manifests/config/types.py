"""Validated scalar types and the strict base model every config model derives from."""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
)
from pydantic.alias_generators import to_camel

# ---------------------------------------------------------------------------------------------
# Scalar types


MAX_HOSTNAME = 253


def _check_hostname(value: str) -> str:
    labels = value.split(".")
    if (
        len(value) > MAX_HOSTNAME
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


_DURATION_MS = {"y": 365 * 86_400_000, "w": 7 * 86_400_000, "d": 86_400_000, "h": 3_600_000}
_DURATION_MS |= {"m": 60_000, "s": 1000, "ms": 1}
# Prometheus keeps a duration in int64 nanoseconds (about 292 years).
_MAX_DURATION_MS = (2**63 - 1) // 1_000_000


def _check_duration(value: str) -> str:
    match = re.fullmatch(
        r"(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?", value
    )
    if not value or match is None:
        raise ValueError(f"{value!r} is not a Prometheus duration (examples: 30s, 5m, 4h, 15d)")
    units = ("y", "w", "d", "h", "m", "s", "ms")
    total = sum(int(n) * _DURATION_MS[u] for n, u in zip(match.groups(), units, strict=True) if n)
    if total > _MAX_DURATION_MS:
        raise ValueError(f"{value!r} is longer than Prometheus can count (about 292 years)")
    return value


def _check_cidr(value: str) -> str:
    """An IPv4 or IPv6 network in CIDR notation, as the API server's ipBlock accepts it."""
    examples = "examples: 10.0.0.0/8, 0.0.0.0/0, 2001:db8::/32"
    try:
        network = ipaddress.ip_network(value, strict=False) if "/" in value else None
    except ValueError:
        network = None
    if network is None:
        raise ValueError(f"{value!r} is not a network address range in CIDR notation ({examples})")
    if str(network) != value:
        raise ValueError(f"{value!r} is not a network address range: write it as {network}")
    return value


# Namespaces Kubernetes runs itself in: a default-deny policy there would cut cluster DNS.
SYSTEM_NAMESPACES = frozenset({"default", "kube-system", "kube-public", "kube-node-lease"})


def _check_namespace(value: str) -> str:
    if value in SYSTEM_NAMESPACES or value.startswith("kube-"):
        raise ValueError(
            f"{value!r} is a Kubernetes system namespace (default, kube-*): the deployment "
            "labels it and locks it down with a default-deny NetworkPolicy; use its own namespace"
        )
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
Cidr = Annotated[str, AfterValidator(_check_cidr)]
Namespace = Annotated[DnsLabel, AfterValidator(_check_namespace)]

# Numbers as the API server stores them: int32 fields, never a boolean (YAML's `true` is not 1),
# never a string. Narrower bounds are added where a field is used: Annotated[Int32, Field(le=..)].
INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1
Int32 = Annotated[StrictInt, Field(ge=INT32_MIN, le=INT32_MAX)]
NonNegativeInt32 = Annotated[StrictInt, Field(ge=0, le=INT32_MAX)]
PositiveInt32 = Annotated[StrictInt, Field(ge=1, le=INT32_MAX)]
Port = Annotated[StrictInt, Field(ge=1, le=65535)]
Percent = Annotated[StrictInt, Field(ge=1, le=100)]
# A finite number (an int is fine, a boolean is not; .inf and .nan are refused).
Number = Annotated[StrictFloat, Field(allow_inf_nan=False)]
Flag = StrictBool


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
