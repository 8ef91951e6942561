"""Errors the library raises. The CLI maps them to exit codes; the library never exits."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the input, precise enough to act on."""

    source: str  # a file name, or "<defaults>"
    field: str  # dotted path of the field, "" when the whole file is at fault
    message: str

    def __str__(self) -> str:
        where = f"{self.source}: {self.field}" if self.field else self.source
        return f"{where}: {self.message}"


class InputError(Exception):
    """Bad user input: one or more problems, each naming the file and field (exit code 2)."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class ToolError(Exception):
    """An external tool is missing or failed (exit code 1)."""


class RenderError(Exception):
    """The generator produced something inconsistent: a bug, never the user's input (exit 1)."""


class OutputError(Exception):
    """The output could not be written (disk full, I/O error); it is left as it was (exit 1)."""
