"""Reads overlays/<env>.yaml into a validated Config, turning every problem into a Problem."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from harvester_manifests.config.models import Config
from harvester_manifests.errors import InputError, Problem

ENV_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$")


class _UniqueKeyLoader(yaml.SafeLoader):
    """A SafeLoader that refuses duplicate keys instead of keeping the last one silently."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node)


_UniqueKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _construct_mapping,
)


def environments(config_dir: Path) -> list[str]:
    """Every environment that has a file in the config directory, sorted."""
    if not config_dir.is_dir():
        raise InputError([Problem(str(config_dir), "", "config directory does not exist")])
    names = sorted(p.stem for p in config_dir.glob("*.yaml"))
    if not names:
        raise InputError([Problem(str(config_dir), "", "no <env>.yaml files in it")])
    return names


def config_path(config_dir: Path, env: str) -> Path:
    return config_dir / f"{env}.yaml"


def read_overlay(path: Path, check_name: bool = True) -> dict[str, Any]:
    """The raw mapping in an overlay file (an empty file is an empty overlay)."""
    source = str(path)
    if check_name and not ENV_NAME.match(path.stem):
        raise InputError(
            [Problem(source, "", "environment names are lowercase letters, digits and '-'")]
        )
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError([Problem(source, "", "no such file")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError([Problem(source, "", f"cannot be read: {exc}")]) from None
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise InputError([Problem(source, "", f"{where}invalid YAML: {exc.problem}")]) from None
    except yaml.YAMLError as exc:
        raise InputError([Problem(source, "", f"invalid YAML: {exc}")]) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InputError(
            [Problem(source, "", f"must be a mapping of settings, not a {type(data).__name__}")]
        )
    return data


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


def load_config(config_dir: Path, env: str) -> Config:
    """The validated config of one environment: the guide's defaults plus its overlay file."""
    path = config_path(config_dir, env)
    data = merge(
        Config().model_dump(mode="json", by_alias=True, exclude_none=True), read_overlay(path)
    )
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
