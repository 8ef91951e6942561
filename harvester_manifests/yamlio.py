"""Deterministic YAML: same data, same bytes. Multi-line strings as literal blocks.

Emitted by libyaml when PyYAML has it (ten times faster than the pure-Python emitter, which
gives the same bytes and is the fallback). Sequences sit at their key's indentation, as
`kubectl get -o yaml` prints them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any, ClassVar

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
    """One YAML document, keys in insertion order (the order a person writes a manifest).

    Written by _Writer where it can (the same bytes, several times faster: PyYAML spends most
    of a dump representing nodes in Python, even with libyaml's emitter), else by PyYAML."""
    if not pure:
        text = _Writer.document(data)
        if text is not None:
            return text
    return _pyyaml(data, pure)


def _pyyaml(data: Any, pure: bool = False) -> str:
    return yaml.dump(
        data,
        Dumper=_PureDumper if pure else _Dumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=100_000,
    )


# Strings PyYAML writes plain in every context, without asking it: a letter, then letters,
# digits and `_./-` (no indicator, no space, no `:`), and none of the words its resolver (or
# _OTHER_TYPES) reads as a boolean or null. Anything else is asked of PyYAML, once.
_SURELY_PLAIN = re.compile(r"[A-Za-z][A-Za-z0-9_./-]*")
_WORDS = frozenset({"y", "n", "yes", "no", "true", "false", "on", "off", "null"})


def _plain(value: str) -> bool:
    """Also short enough to be a simple key (PyYAML writes a key of 128 or more as `? key`)."""
    return (
        len(value) < 128
        and _SURELY_PLAIN.fullmatch(value) is not None
        and value.lower() not in _WORDS
    )


class _Unsupported(Exception):
    """Something _Writer leaves to PyYAML."""


# A one-line scalar longer than this is left to PyYAML (which folds lines past its width).
_LONGEST_SCALAR = 10_000
_REMEMBERED_STRINGS = 100_000
# Line breaks other than \n: PyYAML indents after them too, where this writer would not look.
_OTHER_BREAKS = re.compile("[\r\x85\u2028\u2029]")


def _written(
    text: Any, table: dict[str, str], probe: Callable[[str], Any], prefix: str, suffix: str
) -> str:
    """How PyYAML writes the string `text` where probe(text) puts it, between prefix and
    suffix of the probe's one-line dump; remembered in table."""
    if type(text) is not str:
        raise _Unsupported
    written = table.get(text)
    if written is None:
        if _plain(text):
            written = text
        else:
            if len(text) > _LONGEST_SCALAR or _OTHER_BREAKS.search(text):
                raise _Unsupported
            dumped = _pyyaml(probe(text))
            fits = dumped.startswith(prefix) and dumped.endswith(suffix)
            if dumped.count("\n") != 1 or dumped.startswith("? ") or not fits:
                raise _Unsupported  # a complex key, or folded
            written = dumped[len(prefix) : -len(suffix)]
        table[text] = written
    return written


class _Writer:
    """PyYAML's block style, written directly: dicts, lists, Flow, str, int, float, bool, None.

    How each distinct string is written (plain, quoted, a literal block and its indicators) is
    asked of PyYAML itself, once per string and context, and remembered; only the layout
    (indentation, `- `, `key: `, flow brackets) is written here, as PyYAML's emitter lays it
    out with indent 2 and sequences at their key's indentation. Anything else (another type,
    a complex key, a `|+` block, a very long scalar) returns None: dump() then asks PyYAML.
    tests/test_yamlio.py holds the two to the same bytes over generated documents."""

    block: ClassVar[dict[str, str]] = {}  # string -> as a block mapping value or list item
    flow: ClassVar[dict[str, str]] = {}  # string -> inside a flow mapping
    block_keys: ClassVar[dict[str, str]] = {}
    flow_keys: ClassVar[dict[str, str]] = {}
    literal: ClassVar[dict[str, list[str]]] = {}  # string -> ["|<hints>", line, ...], unindented

    @classmethod
    def document(cls, data: Any) -> str | None:
        if len(cls.block) + len(cls.flow) > _REMEMBERED_STRINGS:  # a long-lived process
            for table in (cls.block, cls.flow, cls.block_keys, cls.flow_keys, cls.literal):
                table.clear()
        out: list[str] = []
        try:
            kind = type(data)
            if kind is dict and data:
                cls._map(data, 0, out, "")
            elif kind is list and data:
                cls._seq(data, 0, out, "")
            else:
                return None
        except _Unsupported:
            return None
        return "".join(out)

    @classmethod
    def _map(cls, data: dict[Any, Any], indent: int, out: list[str], lead: str) -> None:
        pad = " " * indent
        for key, value in data.items():
            cls._value(f"{lead or pad}{cls._key(key)}:", value, indent, out)
            lead = ""

    @classmethod
    def _seq(cls, data: list[Any], indent: int, out: list[str], lead: str) -> None:
        pad = " " * indent
        for item in data:
            head = f"{lead or pad}- "
            lead = ""
            kind = type(item)
            if kind is dict and item:
                cls._map(item, indent + 2, out, head)
            elif kind is list and item:
                cls._seq(item, indent + 2, out, head)
            else:
                cls._scalar_line(head, item, indent, out)

    @classmethod
    def _value(cls, head: str, value: Any, indent: int, out: list[str]) -> None:
        kind = type(value)
        if kind is dict and value:
            out.append(head + "\n")
            cls._map(value, indent + 2, out, "")
        elif kind is list and value:
            out.append(head + "\n")
            cls._seq(value, indent, out, "")  # a mapping's sequence sits at its key's indent
        else:
            cls._scalar_line(head + " ", value, indent, out)

    @classmethod
    def _scalar_line(cls, head: str, value: Any, indent: int, out: list[str]) -> None:
        """`head` then a scalar, flow collection or empty one, whose key or dash is at indent."""
        kind = type(value)
        if kind is Flow or kind is dict or kind is list:
            out.append(head + cls._flow(value) + "\n")
        elif kind is str:
            text = cls.block.get(value)
            if text is None:
                text = cls._ask(value)
            if text:
                out.append(head + text + "\n")
            else:  # a literal block, its lines indented under the key or dash
                header, *lines = cls.literal[value]
                pad = " " * (indent + 2)
                out.append(head + header + "\n")
                out.extend(f"{pad}{line}\n" if line else "\n" for line in lines)
        else:
            out.append(head + cls._other(value) + "\n")

    @classmethod
    def _ask(cls, value: str) -> str:
        """How PyYAML writes `value` as a block mapping's value ("" for a literal block)."""
        if _plain(value):
            cls.block[value] = value
            return value
        if _OTHER_BREAKS.search(value):
            raise _Unsupported
        text = _pyyaml({"k": value})
        first, _, rest = text.partition("\n")
        if not first.startswith("k: "):
            raise _Unsupported
        if not rest:
            if len(value) > _LONGEST_SCALAR:  # PyYAML folds a line past its width
                raise _Unsupported
            cls.block[value] = first[3:]
            return first[3:]
        header = first[3:]
        if not header.startswith("|") or "+" in header or not text.endswith("\n"):
            raise _Unsupported
        lines = rest[:-1].split("\n")
        if any(line and not line.startswith("  ") for line in lines):
            raise _Unsupported
        cls.literal[value] = [header, *(line[2:] for line in lines)]
        cls.block[value] = ""
        return ""

    @classmethod
    def _key(cls, key: Any) -> str:
        return _written(key, cls.block_keys, lambda k: {k: 0}, "", ": 0\n")

    @classmethod
    def _flow(cls, value: Any) -> str:
        kind = type(value)
        if kind is Flow or kind is dict:
            items = [f"{cls._flow_key(k)}: {cls._flow(v)}" for k, v in value.items()]
            return "{" + ", ".join(items) + "}"
        if kind is list:
            return "[" + ", ".join(cls._flow(v) for v in value) + "]"
        if kind is str:
            return _written(value, cls.flow, lambda v: Flow({"k": v}), "{k: ", "}\n")
        return cls._other(value)

    @classmethod
    def _flow_key(cls, key: Any) -> str:
        return _written(key, cls.flow_keys, lambda k: Flow({k: 0}), "{", ": 0}\n")

    @staticmethod
    def _other(value: Any) -> str:
        """int, bool, None and float as SafeRepresenter writes them."""
        kind = type(value)
        if kind is int:
            return str(value)
        if kind is bool:
            return "true" if value else "false"
        if value is None:
            return "null"
        if kind is float:
            if value != value:
                return ".nan"
            if value in (float("inf"), float("-inf")):
                return ".inf" if value > 0 else "-.inf"
            text = repr(value).lower()
            if "." not in text and "e" in text:
                text = text.replace("e", ".0e", 1)
            return text
        raise _Unsupported


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
