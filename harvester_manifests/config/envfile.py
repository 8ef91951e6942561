"""The operator's .env file: KEY=VALUE lines, the only place secret values come from."""

from __future__ import annotations

import re
from pathlib import Path

from harvester_manifests.errors import InputError, Problem

_LINE = re.compile(r"^(?:export\s+)?(?P<key>[A-Za-z_][A-Za-z0-9_]*)\s*=\s*(?P<value>.*)$")


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE pairs; comments, blank lines and `export` are allowed, quotes are removed."""
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(
            [Problem(source, "", "no such file (copy .env.example and fill in the values)")]
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError([Problem(source, "", f"cannot be read: {exc}")]) from None
    values: dict[str, str] = {}
    problems: list[Problem] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = _LINE.match(line)
        if match is None:
            problems.append(Problem(source, f"line {number}", "expected KEY=VALUE"))
            continue
        key, value = match["key"], match["value"].strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        elif " #" in value:
            value = value.split(" #", 1)[0].rstrip()
        if key in values:
            problems.append(Problem(source, key, f"set twice (again on line {number})"))
        values[key] = value
    if problems:
        raise InputError(problems)
    return values
