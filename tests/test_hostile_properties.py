"""Whole classes of hostile input (issue 14), by property: every integer field refuses what
int32 cannot hold and every boolean; every string field refuses control characters; any
environment name is either refused in one line or rendered into its own directory.

Fields are found by walking the defaults, so a field added later is covered without a change.
"""

from __future__ import annotations

import copy
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from harvester_manifests.components.common import Obj
from harvester_manifests.config.loader import RESERVED_NAMES, problems_from
from harvester_manifests.config.models import Config
from harvester_manifests.config.types import INT32_MAX, INT32_MIN
from harvester_manifests.errors import InputError
from harvester_manifests.render import render
from harvester_manifests.stack import build_stack
from tests.conftest import ENV_EXAMPLE, OVERLAYS

DEFAULTS = Config().model_dump(mode="json", by_alias=True, exclude_none=True)


def leaves(data: Any, path: tuple[str | int, ...] = ()) -> list[tuple[tuple[str | int, ...], Any]]:
    if isinstance(data, dict):
        return [leaf for key, value in data.items() for leaf in leaves(value, (*path, key))]
    if isinstance(data, list):
        return [leaf for i, value in enumerate(data) for leaf in leaves(value, (*path, i))]
    return [(path, data)]


def with_value(path: tuple[str | int, ...], value: Any) -> dict[str, Any]:
    data: Any = copy.deepcopy(DEFAULTS)
    node = data
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    assert isinstance(data, dict)
    return data


def refused_at(data: dict[str, Any]) -> set[str]:
    """The fields validation names; empty when the config is accepted."""
    try:
        Config.model_validate(data)
    except ValidationError as exc:
        return {p.field for p in problems_from("x.yaml", exc)}
    return set()


def dotted(path: tuple[str | int, ...]) -> str:
    return ".".join(str(part) for part in path)


INT_FIELDS = [p for p, v in leaves(DEFAULTS) if isinstance(v, int) and not isinstance(v, bool)]
FLOAT_FIELDS = [p for p, v in leaves(DEFAULTS) if isinstance(v, float)]
STR_FIELDS = [p for p, v in leaves(DEFAULTS) if isinstance(v, str)]
BOOL_FIELDS = [p for p, v in leaves(DEFAULTS) if isinstance(v, bool)]


def test_the_walk_finds_the_fields() -> None:
    assert ("api", "probes", "startup", "periodSeconds") in INT_FIELDS
    assert ("api", "autoscaling", "scaleUp", "policies", 0, "value") in INT_FIELDS
    assert ("api", "httpsEgressCidr") in STR_FIELDS
    assert ("api", "autoscaling", "enabled") in BOOL_FIELDS
    assert len(INT_FIELDS) > 20 and len(STR_FIELDS) > 30 and FLOAT_FIELDS


beyond_int32 = st.one_of(
    st.integers(min_value=INT32_MAX + 1), st.integers(max_value=INT32_MIN - 1), st.booleans()
)


@settings(max_examples=300, deadline=None)
@given(path=st.sampled_from(INT_FIELDS), value=beyond_int32)
def test_no_integer_field_takes_what_int32_cannot_hold_or_a_boolean(
    path: tuple[str | int, ...], value: int
) -> None:
    assert dotted(path) in refused_at(with_value(path, value))


@settings(max_examples=100, deadline=None)
@given(path=st.sampled_from(INT_FIELDS), value=st.sampled_from(["1", 1.5, [1], {}]))
def test_no_integer_field_takes_another_type(path: tuple[str | int, ...], value: Any) -> None:
    assert dotted(path) in refused_at(with_value(path, value))


@settings(max_examples=100, deadline=None)
@given(
    path=st.sampled_from(FLOAT_FIELDS),
    value=st.sampled_from([True, False, float("inf"), float("-inf"), float("nan"), "0.5"]),
)
def test_no_number_field_takes_a_boolean_or_infinity(
    path: tuple[str | int, ...], value: Any
) -> None:
    assert dotted(path) in refused_at(with_value(path, value))


@settings(max_examples=100, deadline=None)
@given(path=st.sampled_from(BOOL_FIELDS), value=st.sampled_from([0, 1, "true", "yes", 1.0]))
def test_no_boolean_field_takes_a_number_or_a_string(
    path: tuple[str | int, ...], value: Any
) -> None:
    assert dotted(path) in refused_at(with_value(path, value))


control = st.characters(categories=["Cc"]) | st.sampled_from(["\u2028", "\u2029", "\x85"])


@settings(max_examples=400, deadline=None)
@given(
    path=st.sampled_from(STR_FIELDS),
    char=control,
    where=st.sampled_from(["end", "start", "middle"]),
)
def test_no_string_field_takes_a_control_character(
    path: tuple[str | int, ...], char: str, where: str
) -> None:
    node: Any = DEFAULTS
    for part in path:
        node = node[part]
    value = {"end": node + char, "start": char + node, "middle": node[:1] + char + node[1:]}
    assert dotted(path) in refused_at(with_value(path, value[where]))


@settings(max_examples=150, deadline=None)
@given(settings_=st.dictionaries(st.text(max_size=10), st.text(max_size=30), max_size=4))
def test_free_form_settings_keep_any_text_exactly(settings_: dict[str, str]) -> None:
    """api.settings is free-form: control characters are data there and must round-trip."""
    cfg = Config.model_validate(with_value(("api", "settings"), settings_))
    config_maps: list[Obj] = [
        o
        for o in build_stack(cfg)
        if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "signal-harvester-api-settings"
    ]
    assert yaml.safe_load(config_maps[0]["data"]["settings.yaml"]) == settings_


# Names a user can give an overlay file: anything the filesystem takes.
names = st.text(
    alphabet=st.characters(blacklist_characters="/\0", blacklist_categories=["Cs"]),
    min_size=1,
    max_size=40,
).filter(lambda n: n not in (".", "..") and len((n + ".yaml").encode()) < 255)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(
    name=names
    | st.sampled_from(sorted(RESERVED_NAMES))
    | st.from_regex(r"[a-z0-9-]{1,40}", fullmatch=True)
)
def test_any_environment_name_is_refused_in_one_line_or_gets_its_own_directory(name: str) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        tmp = Path(scratch)
        config_dir = tmp / "overlays"
        config_dir.mkdir()
        for env in ("dev", "prod"):
            (config_dir / f"{env}.yaml").write_bytes((OVERLAYS / f"{env}.yaml").read_bytes())
        try:
            (config_dir / f"{name}.yaml").write_text("api:\n  logLevel: WARNING\n")
        except OSError:
            return  # the filesystem refuses the name itself
        out = tmp / "build"
        try:
            render("all", config_dir, out, ENV_EXAMPLE, tmp)
        except InputError as exc:
            assert [p.source for p in exc.problems] == [str(config_dir / f"{name}.yaml")]
            assert not out.exists()
            return
        assert name not in RESERVED_NAMES
        assert sorted(p.name for p in out.iterdir()) == sorted(
            {".gitignore", "base", "dev", "prod", name}
        )
        assert (out / name / "kustomization.yaml").read_text().count("- ../base\n") == 1


@pytest.mark.parametrize("name", ["qa", "a", "x-1", "a" * 32])
def test_ordinary_names_render(name: str, tmp_path: Path) -> None:
    (tmp_path / "overlays").mkdir()
    (tmp_path / "overlays" / f"{name}.yaml").write_text("")
    render(name, tmp_path / "overlays", tmp_path / "build", ENV_EXAMPLE, tmp_path)
    assert (tmp_path / "build" / name / "kustomization.yaml").exists()
