"""The repository stands alone: no tracked file refers to a path outside it.

A clone anywhere (a CI runner, a directory whose parent holds nothing else) must test, build
and read the same. So no tracked file names an absolute path on a developer's machine, and no
relative path (`../x`, a Markdown link) climbs out of the repository.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT

THIS = Path(__file__).resolve().relative_to(ROOT).as_posix()
# Places outside any clone: absolute paths of a developer's machine, the repository's parent
# as Python reaches it, and the reference specs' folder. Spelled in pieces so that this file
# reads clean to a plain grep too.
FORBIDDEN = re.compile(
    "|".join(
        re.escape(p)
        for p in (
            "/" + "work/",
            "/" + "home/",
            "/" + "root/",
            "/" + "Users/",
            "ROOT" + ".parent",
            "shared" + "/spec",
        )
    )
)
# A relative path that starts with ../ (not .../, not part of a longer word).
RELATIVE = re.compile(r"(?<![\w.~/-])((?:\.\./)+[\w./-]*)")
MARKDOWN_LINK = re.compile(r"\]\(([^)\s#]+)")
KUSTOMIZE_BASE = re.compile(r"(?:\.\./)+base/?")


def tracked_files() -> list[Path]:
    result = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, f"git ls-files failed: {result.stderr}"
    files = [ROOT / name for name in result.stdout.split("\0") if name]
    assert files, "no tracked files"
    return [f for f in files if f.is_file() and f.relative_to(ROOT).as_posix() != THIS]


def text_of(path: Path) -> str | None:
    data = path.read_bytes()
    if b"\0" in data:
        return None
    return data.decode("utf-8", errors="replace")


def outside_references(path: Path, text: str) -> list[str]:
    """Every path in `text` that names a place outside the repository."""
    found = [f"outside path {m.group(0)!r}" for m in FORBIDDEN.finditer(text)]
    # A kustomization's way up to the shared base (`../base`, `../../base`) is a path inside an
    # output directory, not a reference out of this repository.
    candidates = [
        m.group(1) for m in RELATIVE.finditer(text) if not KUSTOMIZE_BASE.fullmatch(m.group(1))
    ]
    if path.suffix == ".md":
        candidates += [
            link for link in MARKDOWN_LINK.findall(text) if "://" not in link and link[0] != "/"
        ]
    for candidate in candidates:
        target = (path.parent / candidate).resolve()
        if not target.is_relative_to(ROOT):
            found.append(f"{candidate!r} resolves outside the repository")
    return found


def test_no_tracked_file_refers_outside_the_repository() -> None:
    problems = []
    for path in tracked_files():
        text = text_of(path)
        if text is None:
            continue
        for line_number, line in enumerate(text.splitlines(), start=1):
            for problem in outside_references(path, line):
                problems.append(f"{path.relative_to(ROOT)}:{line_number}: {problem}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(
    ("where", "text"),
    [
        # Spelled in pieces, so that this file itself names no outside path.
        ("README.md", "the [guide](../" + "shared/spec/deployment-guide.md)"),
        ("tests/x.py", 'GUIDE = HERE / "../../' + 'shared/guide.md"'),
        ("tests/y.py", "GUIDE = ROOT.parent / " + '"shared" / "spec" / "guide.md"'),
        ("Makefile", "include " + "/" + "work/main/mk/x.mk"),
        ("docs/a.md", "see " + "/" + "home/me/notes.md"),
    ],
)
def test_the_check_catches_outside_paths(where: str, text: str) -> None:
    assert outside_references(ROOT / where, text)


@pytest.mark.parametrize(
    ("where", "text"),
    [
        ("build/prod/kustomization.yaml", "- ../base"),
        ("e2e/apiserver/go.mod", "// see ../README.md"),
        ("README.md", "[e2e](e2e/README.md) and [docs](https://example.com/a/../b)"),
        ("mk/x.mk", "go install .../cmd/alertmanager@v0.35.0"),
    ],
)
def test_the_check_allows_paths_inside(where: str, text: str) -> None:
    assert outside_references(ROOT / where, text) == []
