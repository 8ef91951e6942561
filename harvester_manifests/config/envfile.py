"""The operator's .env file: KEY=VALUE lines, the only place secret values come from.

The grammar is the part docker compose and python-dotenv agree on; what they read differently
is refused with the line number, never guessed (README, "The .env file"):

- UTF-8; a byte order mark at the start is skipped. Lines end at LF or CRLF, nothing else.
- Blank lines and lines whose first non-blank character is `#` are comments.
- `KEY=VALUE` or `export KEY=VALUE`; KEY is letters, digits and `_`, not starting with a digit;
  blanks around `=` are allowed. Every KEY once.
- Unquoted: the value (not starting with `#`) runs to the end of the line or to a `#` preceded
  by a blank (a comment); blanks around it are dropped. `$` is refused (compose substitutes
  `$VAR`, dotenv does not).
- 'single quoted': literal (but no `${...}`, which python-dotenv expands); a blank and a
  `# comment` may follow. A `\\` before `\\` or
  before the closing `'` is refused (dotenv unescapes it, compose does not).
- "double quoted": `\\\\` is a backslash and `\\"` a quote; any other backslash and any `$` are
  refused; a blank and a `# comment` may follow.
- A value never spans lines and holds no control character (U+0000-U+001F but tab, U+007F-U+009F,
  U+2028, U+2029): a form feed or NEL is not a line break here, it is refused.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

from harvester_manifests.config.loader import read_text
from harvester_manifests.errors import InputError, Problem

_ASSIGNMENT = re.compile(r"[ \t]*(?:export[ \t]+)?(?P<key>[A-Za-z_][A-Za-z0-9_]*)[ \t]*=[ \t]*")
_TRAILER = re.compile(r"[ \t]*(#.*)?")
MAX_ENV_BYTES = 2**20
# kustomize reads the rendered env files line by line with a 64 KiB line buffer.
MAX_VALUE_BYTES = 60 * 2**10


class _LineError(ValueError):
    pass


class EnvFileError(InputError):
    """A .env with problems; `values` holds what its good lines set (to mask in messages)."""

    def __init__(self, problems: list[Problem], values: dict[str, str]) -> None:
        super().__init__(problems)
        self.values = values


def _control(text: str) -> str | None:
    """The first control character in text (tab allowed), as U+XXXX."""
    for char in text:
        if char != "\t" and (unicodedata.category(char) == "Cc" or char in "\u2028\u2029"):
            return f"U+{ord(char):04X}"
    return None


def _unquoted(rest: str) -> str:
    if rest.startswith("#"):
        raise _LineError("a value starting with '#' reads as a comment to some tools: quote it")
    value = re.split(r"[ \t]#", rest, maxsplit=1)[0].strip(" \t")
    if "$" in value:
        raise _LineError(
            "'$' in an unquoted value: docker compose substitutes variables there and "
            "python-dotenv does not; put the value in single quotes"
        )
    return value


def _single_quoted(rest: str) -> tuple[str, str]:
    end = rest.find("'", 1)
    if end < 0:
        raise _LineError("unclosed single quote (a value never spans lines)")
    value = rest[1:end]
    if "\\\\" in value or value.endswith("\\"):
        raise _LineError(
            "a backslash before '\\' or a quote inside single quotes: python-dotenv unescapes "
            "it and docker compose does not; use double quotes with \\\\ instead"
        )
    if re.search(r"\$\{[^}]*\}", value):
        raise _LineError(
            "'${...}' inside single quotes: python-dotenv expands it and docker compose does "
            "not; write the value without it"
        )
    return value, rest[end + 1 :]


def _double_quoted(rest: str) -> tuple[str, str]:
    value: list[str] = []
    index = 1
    while index < len(rest):
        char = rest[index]
        if char == '"':
            return "".join(value), rest[index + 1 :]
        if char == "$":
            raise _LineError(
                "'$' in a double-quoted value: docker compose and python-dotenv substitute "
                "variables differently; put the value in single quotes"
            )
        if char == "\\":
            following = rest[index + 1 : index + 2]
            if following not in ('"', "\\"):
                raise _LineError(
                    f"'\\{following}' in double quotes: only \\\\ and \\\" mean the same to "
                    "every .env reader (a value never spans lines)"
                )
            value.append(following)
            index += 2
            continue
        value.append(char)
        index += 1
    raise _LineError("unclosed double quote (a value never spans lines)")


def parse_line(line: str) -> tuple[str, str] | None:
    """(KEY, value) of one line, None for a blank or comment line; _LineError when ambiguous."""
    stripped = line.strip(" \t")
    if not stripped or stripped.startswith("#"):
        return None
    control = _control(line)
    if control is not None:
        raise _LineError(f"control character {control}: a value is one line of text")
    match = _ASSIGNMENT.match(line)
    if match is None:
        raise _LineError("expected KEY=VALUE (KEY: letters, digits and '_')")
    key, rest = match["key"], line[match.end() :]
    if rest[:1] == "'":
        value, trailer = _single_quoted(rest)
    elif rest[:1] == '"':
        value, trailer = _double_quoted(rest)
    else:
        return key, _unquoted(rest)
    if not _TRAILER.fullmatch(trailer):
        raise _LineError("text after the closing quote (only a blank and a # comment may follow)")
    return key, value


def parse_env(text: str, source: str) -> dict[str, str]:
    values: dict[str, str] = {}
    problems: list[Problem] = []
    text = text.removeprefix("\ufeff")
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.removesuffix("\r")
        try:
            parsed = parse_line(line)
        except _LineError as exc:
            problems.append(Problem(source, f"line {number}", str(exc)))
            continue
        if parsed is None:
            continue
        key, value = parsed
        if len(value.encode()) > MAX_VALUE_BYTES:
            problems.append(
                Problem(source, key, f"longer than {MAX_VALUE_BYTES} bytes (line {number})")
            )
        if key in values:
            problems.append(Problem(source, key, f"set twice (again on line {number})"))
        values[key] = value
    if problems:
        raise EnvFileError(problems, values)
    return values


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE pairs (the grammar above); every line that breaks it is one Problem."""
    source = str(path)
    try:
        text = read_text(path, MAX_ENV_BYTES)
    except FileNotFoundError:
        raise InputError(
            [Problem(source, "", "no such file (copy .env.example and fill in the values)")]
        ) from None
    return parse_env(text, source)
