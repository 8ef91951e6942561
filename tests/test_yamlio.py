"""yamlio.dump writes what PyYAML writes, byte for byte, by the shorter way where it can.

dump() lays documents out itself and asks PyYAML only how each distinct string is written
(yamlio._Writer); anything it does not handle goes to PyYAML whole. These tests hold the two
to the same bytes over generated documents and over every object a render writes, and check
that the short way is the one taken for them."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harvester_manifests.config.models import Config
from harvester_manifests.kustomize import object_patch
from harvester_manifests.stack import build_stack
from harvester_manifests.yamlio import Flow, _pyyaml, _Writer, dump

# Text YAML treats specially: indicators, quotes, line breaks (literal blocks and their
# indentation and chomping indicators), non-printable characters, words another type claims.
TEXT = st.one_of(
    st.text(
        alphabet=st.sampled_from(list("ab :-#'\"{}[]&*!|>%@`,?\t\\\n\r\x85\u2028\x01\ufeffé09.~/")),
        max_size=12,
    ),
    st.sampled_from(["y", "n", "N", "Yes", "off", "1e3", "0o17", "0x1F", "1_000", "12:30"]),
    st.sampled_from(["2001-12-14", "null", "~", "true", "- a", "a: b", "a #b", " x", "x ", ""]),
    st.sampled_from(["<<", "=", ".inf", ".NaN", "a\nb", "a\nb\n", "a\nb\n\n", "\na", " a\nb"]),
    st.sampled_from(["a \nb", "a\n\nb", "http://x.example/a"]),
    st.text(max_size=20),
    st.from_regex(r"[A-Za-z][A-Za-z0-9_./-]{0,20}", fullmatch=True),
    st.integers(90, 1100).map(lambda n: "x" * n),
    st.integers(9990, 10010).map(lambda n: "x " * (n // 2)),
)
SCALARS = st.one_of(
    TEXT,
    st.integers(),
    st.integers(-(2**70), 2**70),
    st.booleans(),
    st.none(),
    st.floats(),
    st.sampled_from([0.0, -0.0, 1e20, 1e-7, 1.5, float("inf"), float("-inf"), math.nan]),
    st.binary(max_size=4),
)
KEYS = st.one_of(TEXT, st.integers(), st.booleans())
DOCUMENTS = st.recursive(
    SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(KEYS, children, max_size=4),
        st.dictionaries(TEXT, children, max_size=4).map(Flow),
    ),
    max_leaves=24,
)


@settings(max_examples=3000, deadline=None)
@given(DOCUMENTS)
def test_dump_is_pyyamls_bytes(data: Any) -> None:
    assert dump(data) == _pyyaml(data)


def _rendered() -> list[Any]:
    base = build_stack(Config())
    env = build_stack(Config.model_validate({"domain": "other.example.com"}))
    by_id = {(o["kind"], o["metadata"]["name"]): o for o in base}
    patches = [object_patch(by_id[(o["kind"], o["metadata"]["name"])], o) for o in env]
    ops = [[Flow(op) for op in p] for p in patches if isinstance(p, list)]
    return [*base, *(p for p in patches if isinstance(p, dict)), *ops]


@pytest.mark.parametrize("document", _rendered(), ids=lambda d: "")
def test_rendered_documents_take_the_short_way(document: Any) -> None:
    """Every object and patch a render writes (rule files and dashboards included) is written
    by _Writer, with PyYAML's bytes."""
    text = _Writer.document(document)
    assert text is not None
    assert text == _pyyaml(document)


def test_what_the_short_way_leaves_to_pyyaml() -> None:
    """A scalar document, a `|+` block, a long scalar and other types go to PyYAML whole."""
    for data in ("text", {"k": "a\n\n"}, {"k": "x " * 6000}, {"k": b"\x00"}, {"k": (1, 2)}, {}):
        assert _Writer.document(data) is None
        assert dump(data) == _pyyaml(data)
