"""Overlays in the plain subset of YAML are parsed by libyaml (loader._parsed_fast); whatever it
accepts must be exactly what the pure-Python loader reads, and whatever that loader refuses
must go to it (so its error is the one reported)."""

from __future__ import annotations

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from harvester_manifests.config import loader

# A comment's text may be any printable ASCII (quotes, brackets, `&*!|>` included); the line
# before it, and sometimes the comment marker's place, vary around what the fast path allows.
COMMENTS = st.one_of(
    st.just(""),
    st.tuples(
        st.sampled_from([" #", "  #", "#", " # ", "\t#"]),
        st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=12),
        st.sampled_from(["", "é", "\x01"]),
    ).map("".join),
)
LINES = st.lists(
    st.tuples(
        st.integers(0, 6),
        st.sampled_from(["", "- ", "- - "]),
        st.text(alphabet="ab1_.:/#,=+()- '\"[]", max_size=10),
        COMMENTS,
    ).map(lambda t: " " * t[0] + t[1] + t[2] + t[3]),
    max_size=8,
)


@settings(max_examples=1500, deadline=None)
@given(LINES)
def test_fast_parse_agrees_with_the_pure_loader(lines: list[str]) -> None:
    text = "".join(f"{line}\n" for line in lines)
    fast = loader._parsed_fast(text)
    try:
        slow = yaml.load(text, Loader=loader._UniqueKeyLoader)
    except yaml.YAMLError:
        assert fast is loader._SLOW
        return
    assert fast is loader._SLOW or (fast == slow and repr(fast) == repr(slow))


def test_fast_parse_takes_plain_overlays() -> None:
    text = "domain: a.example.com\napi:\n  autoscaling:\n    minReplicas: 2\n"
    assert loader._parsed_fast(text) == {
        "domain": "a.example.com",
        "api": {"autoscaling": {"minReplicas": 2}},
    }


def test_fast_parse_takes_comments_that_quote() -> None:
    """The committed overlays' comments hold quotes and backticks: they stay on the fast path."""
    text = "# the guide's `kubectl` [1]\ndomain: a.example.com  # it's \"ours\" <here>\n"
    assert loader._parsed_fast(text) == {"domain": "a.example.com"}


def test_fast_parse_leaves_the_rest_to_the_pure_loader() -> None:
    for text in (
        "a: 1\na: 2\n",  # duplicate key: the pure loader's message names the line
        "a: 'quoted'\n",
        "a: [1, 2]\n",
        "a: &x 1\nb: *x\n",
        "a:\n\tb: 1\n",
        "- " * 40 + "x\n",  # deeper than _FAST_DEPTH
        "a: 'b' # c\n",  # a quote before the comment
        "a: b#'c'\n",  # not a comment: part of the scalar
        "a: b # é\n",  # a comment beyond ASCII
    ):
        assert loader._parsed_fast(text) is loader._SLOW, text
