"""The .env grammar (issue 14, item 9): what render reads is what python-dotenv reads, and what
the common readers disagree on (docker compose's `$` substitution, dotenv's escapes in single
quotes, exotic line breaks) is refused with the line number, never guessed.
"""

from __future__ import annotations

import base64
import io
from pathlib import Path

import pytest
from dotenv import dotenv_values
from hypothesis import given, settings
from hypothesis import strategies as st

from harvester_manifests.config.envfile import parse_env, read_env_file
from harvester_manifests.errors import InputError
from tests.conftest import ENV_EXAMPLE, kustomize_build
from tests.test_errors import harvester_gen


def parse(text: str) -> dict[str, str]:
    return parse_env(text, ".env")


def refused(text: str) -> list[str]:
    with pytest.raises(InputError) as caught:
        parse(text)
    return [str(p) for p in caught.value.problems]


ACCEPTED = {
    'K="value"  # comment': "value",  # item 9: the quotes never reach the Secret
    "K='value' # comment": "value",
    'K="value"': "value",
    "K='a $b \"c\" #d'": 'a $b "c" #d',
    'K="a \\\\ b \\" c # d"': 'a \\ b " c # d',
    "K=plain value  # comment": "plain value",
    "K=abc#def": "abc#def",
    "K=a'b\"c": "a'b\"c",
    "export K=v": "v",
    "  K = v  ": "v",
    "K=": "",
    "K=''": "",
    "K=\tv\t": "v",
    "K=é日本": "é日本",
    "K=a=b=c": "a=b=c",
    "K=back\\slash": "back\\slash",
}


@pytest.mark.parametrize("line", sorted(ACCEPTED))
def test_accepted_lines_read_as_python_dotenv_reads_them(line: str) -> None:
    assert parse(line) == {"K": ACCEPTED[line]}
    assert dict(dotenv_values(stream=io.StringIO(line))) == {"K": ACCEPTED[line]}


REFUSED = {
    "K=a\u2028b=c": "control character U+2028",
    "K=a\u2029b": "control character U+2029",
    "K=a\x0cb=c": "control character U+000C",
    "K=a\x85b=c": "control character U+0085",
    "K=a\x0bb": "control character U+000B",
    "K=a\rb": "control character U+000D",
    "K=a\x00b": "control character U+0000",
    "K=a$b": "'$' in an unquoted value",
    "K=${OTHER}": "'$' in an unquoted value",
    'K="a$b"': "'$' in a double-quoted value",
    'K="a\\nb"': "'\\n' in double quotes",
    'K="a\\tb"': "'\\t' in double quotes",
    "K='a\\\\b'": "a backslash before",
    "K='a\\'b'": "a backslash before",
    "K='a\\' # c": "a backslash before",
    "K='unclosed": "unclosed single quote",
    'K="unclosed': "unclosed double quote",
    'K="a"b': "text after the closing quote",
    "K='a' b": "text after the closing quote",
    "K=#value": "a value starting with '#'",
    "just words": "expected KEY=VALUE",
    "K": "expected KEY=VALUE",
    "1K=v": "expected KEY=VALUE",
    "K-EY=v": "expected KEY=VALUE",
    "K.EY=v": "expected KEY=VALUE",
    "K=v\nK=w": "set twice (again on line 2)",
}


@pytest.mark.parametrize("text", sorted(REFUSED))
def test_ambiguous_lines_are_refused_by_line(text: str) -> None:
    problems = refused(text)
    assert len(problems) == 1, problems
    assert REFUSED[text] in problems[0]
    assert problems[0].startswith(".env: ")


def test_form_feed_nel_and_line_separator_do_not_split_a_value() -> None:
    """Item 9: str.splitlines() made a second key out of these; they are refused instead."""
    for separator in ("\u2028", "\x0c", "\x85", "\x1c", "\x1d", "\x1e"):
        problems = refused(f"A=one{separator}B=two\n")
        assert problems == [
            f".env: line 1: control character U+{ord(separator):04X}: a value is one line of text"
        ]


def test_a_byte_order_mark_is_skipped() -> None:
    assert parse("\ufeffA=1\nB=2\n") == {"A": "1", "B": "2"}


def test_crlf_line_endings() -> None:
    assert parse("# c\r\nA=1\r\nB='2'\r\n\r\n") == {"A": "1", "B": "2"}


def test_every_problem_names_its_line() -> None:
    problems = refused("A=1\nB=$x\n\nC='x\n# fine\nD=ok\nE\n")
    assert [p.split(":")[1].strip() for p in problems] == ["line 2", "line 4", "line 7"]


def test_value_longer_than_kustomize_reads(tmp_path: Path) -> None:
    problems = refused("A=" + "x" * 70_000 + "\n")
    assert problems == [".env: A: longer than 61440 bytes (line 1)"]


def test_env_example_reads_the_same_in_python_dotenv() -> None:
    text = ENV_EXAMPLE.read_text()
    assert read_env_file(ENV_EXAMPLE) == dict(dotenv_values(stream=io.StringIO(text)))


def test_env_example_needs_its_quotes() -> None:
    """The htpasswd hash holds '$': docker compose would substitute it without single quotes."""
    line = next(
        line for line in ENV_EXAMPLE.read_text().splitlines() if line.startswith("MONITORING")
    )
    assert "='admin:$2y$" in line
    problems = refused(line.replace("'", ""))
    assert "'$' in an unquoted value" in problems[0]


# Values as a user pastes them: every character class the readers treat differently.
values = st.text(
    alphabet=st.sampled_from(list("aZ09 _-=:/.,;'\"#$\\{}\t@+!é日\u2028\x0c\x85\r\x00")),
    max_size=20,
)


@st.composite
def lines(draw: st.DrawFn) -> str:
    value = draw(values)
    style = draw(st.sampled_from(["plain", "single", "double", "raw-double"]))
    if style == "single":
        value = f"'{value}'"
    elif style == "double":
        value = '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    elif style == "raw-double":
        value = f'"{value}"'
    prefix = draw(st.sampled_from(["", "export ", "  "]))
    around = draw(st.sampled_from(["=", " = ", "=  "]))
    comment = draw(st.sampled_from(["", " # note", "\t# note", "#x"]))
    return f"{prefix}KEY{around}{value}{comment}"


@settings(max_examples=1500, deadline=None)
@given(line=lines())
def test_what_render_accepts_python_dotenv_reads_the_same(line: str) -> None:
    """Differential: every accepted line means the same to python-dotenv; the rest is refused."""
    try:
        ours = parse(line)
    except InputError as exc:
        assert all(str(p).startswith(".env: line 1: ") for p in exc.problems)
        return
    assert dict(dotenv_values(stream=io.StringIO(line))) == ours


@settings(max_examples=300, deadline=None)
@given(value=st.text(max_size=40))
def test_any_value_either_round_trips_in_single_or_double_quotes_or_is_refused(value: str) -> None:
    for line in (f"K='{value}'", 'K="' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'):
        try:
            assert parse(line) == {"K": value}
        except InputError:
            continue


def test_rendered_secret_holds_exactly_the_value(tmp_path: Path) -> None:
    """Through the real CLI and kustomize: quotes, comments and '#' end up as intended."""
    env = tmp_path / ".env"
    env.write_text(
        "\ufeff"
        + ENV_EXAMPLE.read_text()
        .replace(
            "X_BEARER_TOKEN=replace-with-x-bearer-token", 'X_BEARER_TOKEN="tok#1 \\"q\\""  # c'
        )
        .replace("OPENAI_API_KEY=replace-with-openai-api-key", "OPENAI_API_KEY='sk-$abc' # c")
        .replace("\n", "\r\n")
    )
    out, config = tmp_path / "build", tmp_path / "overlays"
    config.mkdir()
    (config / "local.yaml").write_text("secrets: {mode: env-file}\n")
    result = harvester_gen(
        "render", "--env", "local", "--config-dir", config, "--env-file", env, "--out", out
    )
    assert result.returncode == 0, result.stderr
    secret = next(
        o
        for o in kustomize_build(out / "local" / "secrets")
        if o["kind"] == "Secret" and o["metadata"]["name"] == "signal-harvester-api-keys"
    )

    data = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
    assert data["X_BEARER_TOKEN"] == 'tok#1 "q"'
    assert data["OPENAI_API_KEY"] == "sk-$abc"
