"""yamlio.line_count: the lines of a dump, counted without encoding it, or None.

kustomize.object_patch picks the shorter of two patch forms by their line counts; counting
instead of encoding must never pick differently, so wherever line_count answers it must be the
dump's own count."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from harvester_manifests.config.models import Config
from harvester_manifests.kustomize import object_patch
from harvester_manifests.stack import build_stack
from harvester_manifests.yamlio import dump, line_count

# Text that YAML treats specially: indicators, quotes, breaks, non-printable characters, and
# plain scalars another type would claim (y, 1e3, null, ~).
TEXT = st.one_of(
    st.text(
        alphabet=st.sampled_from(list("ab :-#'\"{}[]&*!|>%@`,?\t\\\n\r\x85\u2028\x01\ufeffé09.~")),
        max_size=12,
    ),
    st.sampled_from(["y", "n", "1e3", "0o17", "null", "~", "true", "- a", "a: b", " x", "x ", ""]),
    st.text(max_size=20),
    st.integers(90, 1100).map(lambda n: "x" * n),
)
SCALARS = st.one_of(
    TEXT, st.integers(), st.booleans(), st.none(), st.floats(allow_nan=False), st.binary(max_size=4)
)
DOCUMENTS = st.recursive(
    SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.one_of(TEXT, st.integers()), children, max_size=4),
    ),
    max_leaves=20,
)


@settings(max_examples=2000, deadline=None)
@given(DOCUMENTS)
def test_line_count_is_the_dumps_or_none(data: Any) -> None:
    counted = line_count(data)
    if counted is not None:
        assert counted == dump(data).count("\n")


def test_line_count_answers_for_the_patches_render_compares() -> None:
    """The fast path is taken: both forms of a changed Ingress and Deployment are counted."""
    base = {o["metadata"]["name"] + o["kind"]: o for o in build_stack(Config())}
    env = build_stack(Config.model_validate({"domain": "other.example.com"}))
    patches = [object_patch(base[o["metadata"]["name"] + o["kind"]], o) for o in env]
    changed = [p for p in patches if p is not None]
    assert changed
    for patch in changed:
        assert line_count(patch) == dump(patch).count("\n")
