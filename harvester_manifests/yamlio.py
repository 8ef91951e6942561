"""Deterministic YAML: same data, same bytes. Multi-line strings as literal blocks.

Emitted by libyaml when PyYAML has it (ten times faster than the pure-Python emitter, which
gives the same bytes and is the fallback). Sequences sit at their key's indentation, as
`kubectl get -o yaml` prints them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import yaml

_Base: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class _Dumper(_Base):  # type: ignore[valid-type,misc]
    """Block style, no aliases, literal blocks for multi-line text, no line folding."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


class _PureDumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True


# Strings PyYAML writes plain but kustomize's reader takes for another type: the YAML 1.1
# booleans y/n (the label value "N" would reach the cluster as `false`) and YAML 1.2 numbers
# PyYAML's resolver does not know (`1e3`, `0o17`). These get quotes; nothing else changes.
_OTHER_TYPES = re.compile(
    r"[yYnN]|[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?|0o[0-7]+|0x[0-9a-fA-F]+"
)
_STR = "tag:yaml.org,2002:str"


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    if "\n" in value:
        return dumper.represent_scalar(_STR, value, style="|")
    if (
        _OTHER_TYPES.fullmatch(value)
        and dumper.resolve(yaml.ScalarNode, value, (True, False)) == _STR  # type: ignore[no-untyped-call]
    ):
        return dumper.represent_scalar(_STR, value, style='"')
    return dumper.represent_scalar(_STR, value)


_Dumper.add_representer(str, _str)
_PureDumper.add_representer(str, _str)


class Flow(dict[str, Any]):
    """A mapping written on one line, `{key: value, ...}`: a JSON 6902 op, a patch's target."""


def _flow(dumper: yaml.SafeDumper, value: Flow) -> yaml.MappingNode:
    return dumper.represent_mapping("tag:yaml.org,2002:map", value, flow_style=True)


_Dumper.add_representer(Flow, _flow)
_PureDumper.add_representer(Flow, _flow)

# A flow line longer than this is written in block style instead.
FLOW_WIDTH = 160


def one_line(data: Any) -> bool:
    """Whether `data` reads well as a flow mapping: scalars (and small flow collections) with
    no multi-line text, short enough to read without scrolling."""
    text = json.dumps(data, ensure_ascii=False)
    return "\\n" not in text and len(text) <= FLOW_WIDTH


def dump(data: Any, pure: bool = False) -> str:
    """One YAML document, keys in insertion order (the order a person writes a manifest)."""
    return yaml.dump(
        data,
        Dumper=_PureDumper if pure else _Dumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=100_000,
    )


# What may end a line in YAML: a scalar holding one of these is not one line.
_BREAKS = re.compile("[\n\r\x85\u2028\u2029]")
_ONE_LINE_TYPES = (bool, int, float, type(None))


def line_count(data: Any) -> int | None:
    """How many lines dump(data) has, counted without encoding it, for a map or list whose
    scalars are each written on one line (short strings without line breaks, numbers,
    booleans, null); None for anything else (then count the dump's lines).

    Block style puts every key and every list element on a line of its own, except that the
    first entry of a map or list inside a list shares the element's `- ` line; an empty map
    or list is `{}` or `[]` where a scalar would be."""
    if type(data) not in (dict, list):
        return None
    return _count(data)


def _count(data: dict[Any, Any] | list[Any]) -> int | None:
    if not data:
        return 1
    total = 0
    in_map = type(data) is dict
    for key, value in data.items() if type(data) is dict else enumerate(data):
        if in_map and not (type(key) is str and len(key) < 100 and not _BREAKS.search(key)):
            return None  # a long or multi-line key is written as a complex key (`? `)
        if type(value) in (dict, list) and value:
            inner = _count(value)
            if inner is None:
                return None
            total += inner + 1 if in_map else inner
        elif _one_line(value):
            total += 1
        else:
            return None
    return total


def _one_line(value: Any) -> bool:
    kind = type(value)
    if kind is str:
        return len(value) < 1000 and not _BREAKS.search(value)
    return kind in _ONE_LINE_TYPES or (kind in (dict, list) and not value)


_TEXTS: dict[str, str] = {}


def dump_shared(data: Any) -> str:
    """dump(), remembered by content: for the files most environments have in common (rule
    groups, prometheus.yml, alertmanager.yml), which would otherwise be encoded again for each.
    The key is the data's JSON (the C encoder, in key order), which is much cheaper than YAML."""
    return _remembered(data, "", dump)


def _remembered(data: Any, kind: str, encode: Callable[[Any], str]) -> str:
    key = kind + json.dumps(data, ensure_ascii=False)
    text = _TEXTS.get(key)
    if text is None:
        if len(_TEXTS) >= 4096:
            _TEXTS.clear()
        text = _TEXTS[key] = encode(data)
    return text


def dump_ops(ops: list[dict[str, Any]]) -> str:
    """JSON 6902 operations, one per line where each reads on one line (a table of
    op/path/value), in block style otherwise (multi-line or long values)."""
    return _remembered(ops, "ops:", lambda o: dump([Flow(op) if one_line(op) else op for op in o]))


def dump_json(data: Any) -> str:
    """JSON for Grafana dashboards: sorted keys, two-space indent, trailing newline."""
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
