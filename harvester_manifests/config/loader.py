"""Reads overlays/<env>.yaml into a validated Config, turning every problem into a Problem."""

from __future__ import annotations

import errno
import functools
import os
import re
import stat
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from harvester_manifests.config.models import Config
from harvester_manifests.errors import InputError, Problem

ENV_NAME = re.compile(r"[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?")

# Names render gives its own top-level entries in the output directory, beside one directory
# per environment: an environment cannot be called one of these. Add every new one here.
RESERVED_NAMES: frozenset[str] = frozenset({"base", "argocd", "all"})

# Deeper than this is not a config anyone writes by hand (and would exhaust the stack).
MAX_DEPTH = 64


class _UniqueKeyLoader(yaml.SafeLoader):
    """A SafeLoader that refuses duplicate keys, unhashable keys and runaway nesting."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise yaml.composer.ComposerError(
                    None,
                    None,
                    f"nested more than {MAX_DEPTH} levels deep",
                    self.peek_event().start_mark,  # type: ignore[no-untyped-call]
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue  # `<<: *defaults`: merged keys may be overridden, that is the point
        key = loader.construct_object(key_node)
        try:
            duplicate = key in seen
        except TypeError:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                "a key must be a plain value, not a list or mapping",
                key_node.start_mark,
            ) from None
        if duplicate:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    loader.flatten_mapping(node)
    return loader.construct_mapping(node)


_UniqueKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _construct_mapping,
)


_FastLoader: Any = None  # libyaml's parser with _UniqueKeyLoader's constructor, when PyYAML has it
if hasattr(yaml, "CSafeLoader"):

    class _CUniqueKeyLoader(yaml.CSafeLoader):
        """Refuses duplicate keys as _UniqueKeyLoader does (the same constructor)."""

    _CUniqueKeyLoader.add_constructor(
        yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
        _construct_mapping,
    )
    _FastLoader = _CUniqueKeyLoader

# The plain subset of YAML: block maps and lists, plain ASCII scalars, comments. No quotes, flow
# collections, anchors, aliases, tags, block scalars, tabs or directives: there libyaml and
# PyYAML's own parser agree, and nothing nests without indenting (libyaml stops at 1000).
# A comment (a `#` that starts a line or follows a space) may hold any printable ASCII: with no
# quote before it on its line, nothing can make it part of a scalar.
_PLAIN_SUBSET = re.compile(r"[A-Za-z0-9 _.:/#,=+()-]*")
_COMMENT = re.compile(r"(?:(?<= )|^)#[\x20-\x7e]*\Z")
_SLOW = object()
_FAST_DEPTH = 32


def _plain_line(line: str) -> bool:
    if _PLAIN_SUBSET.fullmatch(line):
        return True
    comment = _COMMENT.search(line)
    return comment is not None and _PLAIN_SUBSET.fullmatch(line, 0, comment.start()) is not None


def _parsed_fast(text: str) -> Any:
    """The overlay parsed by libyaml when it is in the plain subset, parses, and nests at most
    _FAST_DEPTH deep; else _SLOW, and _UniqueKeyLoader parses it (and says what is wrong, as
    it always has). Parsing an overlay in pure Python cost more than validating it."""
    if _FastLoader is None or not all(map(_plain_line, text.split("\n"))):
        return _SLOW
    try:
        data = yaml.load(text, Loader=_FastLoader)
    except yaml.YAMLError:
        return _SLOW
    stack = [(data, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > _FAST_DEPTH:
            return _SLOW
        if isinstance(node, dict):
            stack += [(child, depth + 1) for child in node.values()]
        elif isinstance(node, list):
            stack += [(child, depth + 1) for child in node]
    return data


def environments(config_dir: Path) -> list[str]:
    """Every environment that has a file in the config directory, sorted."""
    source = str(config_dir)
    try:
        if not config_dir.is_dir():
            problem = "is not a directory" if config_dir.exists() else "does not exist"
            raise InputError([Problem(source, "", f"config directory {problem}")])
        names = sorted(p.stem for p in config_dir.glob("*.yaml"))
    except OSError as exc:
        raise InputError([Problem(source, "", f"cannot be read: {describe(exc)}")]) from None
    if not names:
        raise InputError([Problem(source, "", "no <env>.yaml files in it")])
    return names


def config_path(config_dir: Path, env: str) -> Path:
    return config_dir / f"{env}.yaml"


def describe(exc: OSError) -> str:
    """An OSError's reason without its errno number or path (the caller names the path)."""
    if exc.errno == errno.ENAMETOOLONG:
        return "a name in the path is too long for the filesystem"
    return exc.strerror.lower() if exc.strerror else str(exc)


def read_text(path: Path, limit: int) -> str:
    """A regular file's UTF-8 text: never blocks on a FIFO or a device, never reads without end."""
    source = str(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise InputError([Problem(source, "", f"cannot be read: {describe(exc)}")]) from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise InputError([Problem(source, "", "is a directory, not a file")])
        if not stat.S_ISREG(info.st_mode):
            raise InputError([Problem(source, "", "is not a regular file")])
        if info.st_size > limit:
            raise InputError(
                [Problem(source, "", f"is {info.st_size} bytes; at most {limit} are read")]
            )
        with os.fdopen(fd, "rb", closefd=False) as handle:
            data = handle.read(limit + 1)
    except OSError as exc:
        raise InputError([Problem(source, "", f"cannot be read: {describe(exc)}")]) from None
    finally:
        os.close(fd)
    if len(data) > limit:
        raise InputError([Problem(source, "", f"is larger than {limit} bytes")])
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InputError([Problem(source, "", f"line {line}: not UTF-8 text")]) from None


MAX_OVERLAY_BYTES = 64 * 2**20


def check_environment_name(path: Path) -> None:
    if not ENV_NAME.fullmatch(path.stem):
        raise InputError(
            [
                Problem(
                    str(path),
                    "",
                    "environment names are 1 to 32 lowercase letters, digits and '-' "
                    "(starting and ending with a letter or digit)",
                )
            ]
        )
    if path.stem in RESERVED_NAMES:
        raise InputError(
            [
                Problem(
                    str(path),
                    "",
                    f"{path.stem!r} cannot be an environment: the output directory uses that name "
                    f"(reserved: {', '.join(sorted(RESERVED_NAMES))}); rename the file",
                )
            ]
        )


def read_overlay(path: Path, check_name: bool = True) -> dict[str, Any]:
    """The raw mapping in an overlay file (an empty file is an empty overlay).

    check_name: the file names an environment (False for other YAML inputs: gitops.yaml)."""
    return read_overlay_and_text(path, check_name)[0]


def read_overlay_and_text(path: Path, check_name: bool = True) -> tuple[dict[str, Any], str]:
    """read_overlay's mapping, and the file's text it was parsed from."""
    source = str(path)
    if check_name:
        check_environment_name(path)
    try:
        text = read_text(path, MAX_OVERLAY_BYTES)
    except FileNotFoundError:
        raise InputError([Problem(source, "", "no such file")]) from None
    try:
        data = _parsed_fast(text)
        if data is _SLOW:
            data = yaml.load(text, Loader=_UniqueKeyLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise InputError([Problem(source, "", f"{where}invalid YAML: {exc.problem}")]) from None
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        column = exc.position - (text.rfind("\n", 0, exc.position) + 1) + 1
        character = f"U+{exc.character:04X}" if isinstance(exc.character, int) else "a byte"
        raise InputError(
            [
                Problem(
                    source,
                    "",
                    f"line {line}, column {column}: invalid YAML: control character "
                    f"{character} is not allowed (YAML allows tab, newline and printable text)",
                )
            ]
        ) from None
    except yaml.YAMLError as exc:
        raise InputError([Problem(source, "", f"invalid YAML: {exc}")]) from None
    except RecursionError:
        raise InputError(
            [Problem(source, "", f"invalid YAML: nested more than {MAX_DEPTH} levels deep")]
        ) from None
    if data is None:
        return {}, text
    if _is_recursive(data):
        raise InputError(
            [Problem(source, "", "invalid YAML: an alias (*name) refers to a node that holds it")]
        )
    if _expanded_size(data) > MAX_NODES:
        raise InputError(
            [
                Problem(
                    source,
                    "",
                    f"holds more than {MAX_NODES} values once its aliases are expanded",
                )
            ]
        )
    if not isinstance(data, dict):
        raise InputError(
            [Problem(source, "", f"must be a mapping of settings, not a {type(data).__name__}")]
        )
    return data, text


def _is_recursive(data: Any) -> bool:
    """Whether a container holds itself (`a: &x [*x]`); shared aliases are fine.

    Each container is visited once, however often aliases repeat it (a YAML bomb stays cheap).
    """
    path: set[int] = set()  # the containers from the root to the current one
    done: set[int] = set()
    stack: list[tuple[Any, bool]] = [(data, False)]
    while stack:
        node, leaving = stack.pop()
        if leaving:
            path.discard(id(node))
            done.add(id(node))
            continue
        if not isinstance(node, dict | list) or id(node) in done:
            continue
        if id(node) in path:
            return True
        path.add(id(node))
        stack.append((node, True))
        stack += [(child, False) for child in (node.values() if isinstance(node, dict) else node)]
    return False


MAX_NODES = 100_000


def _expanded_size(data: Any) -> int:
    """How many values the data has once every alias is expanded (data is acyclic)."""
    sizes: dict[int, int] = {}
    stack: list[tuple[Any, bool]] = [(data, False)]
    while stack:
        node, leaving = stack.pop()
        if not isinstance(node, dict | list) or (not leaving and id(node) in sizes):
            continue
        children = list(node.values()) if isinstance(node, dict) else node
        if leaving:
            sizes[id(node)] = 1 + sum(
                sizes.get(id(c), 1) if isinstance(c, dict | list) else 1 for c in children
            )
            continue
        sizes[id(node)] = 0  # visiting
        stack.append((node, True))
        stack += [(c, False) for c in children if isinstance(c, dict | list)]
    return sizes.get(id(data), 1)


def merge(defaults: Any, overlay: Any) -> Any:
    """The overlay deep-merged onto the defaults: mappings merge key by key, the rest replaces.

    So `api: {image: {tag: v2.1.0}}` changes the tag and keeps the repository.
    """
    if isinstance(defaults, dict) and isinstance(overlay, dict):
        merged = dict(defaults)
        for key, value in overlay.items():
            merged[key] = merge(defaults[key], value) if key in defaults else value
        return merged
    return overlay


@functools.cache
def _defaults() -> dict[str, Any]:
    """The defaults as an overlay spells them, made once: merge() copies what it changes and
    validation only reads, so every environment starts from the same dict."""
    return Config().model_dump(mode="json", by_alias=True, exclude_none=True)


def load_config(config_dir: Path, env: str, overlay: dict[str, Any] | None = None) -> Config:
    """The validated config of one environment: the guide's defaults plus its overlay file.

    `overlay` is the file's content when the caller has read it already (read_overlay).
    """
    path = config_path(config_dir, env)
    data = merge(_defaults(), read_overlay(path) if overlay is None else overlay)
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise InputError(problems_from(str(path), exc)) from None


def problems_from(
    source: str, exc: ValidationError, model: type[BaseModel] = Config
) -> list[Problem]:
    problems = []
    for error in exc.errors(include_url=False):
        loc = [str(part) for part in error["loc"]]
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            allowed = _allowed_keys(loc[:-1], model)
            message = "unknown key" + (f" (allowed here: {', '.join(allowed)})" if allowed else "")
        problems.append(Problem(source, ".".join(loc), message))
    return problems


def _allowed_keys(loc: list[str], model: type[BaseModel]) -> list[str]:
    """The camelCase keys a model accepts at loc, for an 'unknown key' message."""
    for part in loc:
        field = next((f for name, f in model.model_fields.items() if part in (name, f.alias)), None)
        annotation = field.annotation if field else None
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return []
        model = annotation
    return sorted(f.alias or name for name, f in model.model_fields.items())
