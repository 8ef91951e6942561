"""Kubernetes resource quantities ("250m", "512Mi", "50Gi") as validated, comparable values."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator

_SUFFIXES: dict[str, Decimal] = {
    "": Decimal(1),
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "k": Decimal("1e3"),
    "M": Decimal("1e6"),
    "G": Decimal("1e9"),
    "T": Decimal("1e12"),
    "P": Decimal("1e15"),
    "E": Decimal("1e18"),
    "Ki": Decimal(2**10),
    "Mi": Decimal(2**20),
    "Gi": Decimal(2**30),
    "Ti": Decimal(2**40),
    "Pi": Decimal(2**50),
    "Ei": Decimal(2**60),
}
_QUANTITY = re.compile(r"(?P<number>[0-9]+(\.[0-9]+)?|\.[0-9]+)(?P<suffix>[a-zA-Z]*)")


def parse_quantity(text: str) -> Decimal:
    """The value of a quantity in base units (cores or bytes); ValueError when malformed."""
    match = _QUANTITY.fullmatch(text)  # fullmatch: never a trailing newline
    if match is None or match["suffix"] not in _SUFFIXES:
        raise ValueError(
            f"{text!r} is not a Kubernetes quantity (examples: 250m, 1, 512Mi, 2Gi, 50Gi)"
        )
    return Decimal(match["number"]) * _SUFFIXES[match["suffix"]]


def _check(text: str) -> str:
    value = parse_quantity(text)
    if value <= 0:
        raise ValueError(f"{text!r} must be greater than zero")
    return text


def _coerce(value: object) -> object:
    # YAML reads `cpu: 1` as an int; a quantity is a string in Kubernetes.
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return value


Quantity = Annotated[str, BeforeValidator(_coerce), AfterValidator(_check)]
"""A positive Kubernetes quantity, kept as the user wrote it so the output reads the same."""
