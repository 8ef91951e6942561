"""Concurrent renders into one output (issue 14, item 1): every render succeeds and the tree is
complete and byte-identical to a lone render after every round.

Before the lock, each render swept the others' staging directories; a render whose staging
directory vanished recreated it half-empty and swapped it in, so rounds published trees
without base/ (and every later render refused the directory). Real CLI processes, no mocks.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests.conftest import ENV_EXAMPLE, OVERLAYS
from tests.test_errors import GEN, snapshot

RENDERS = 4
ROUNDS = 30
EXTRA_ENVIRONMENTS = 2  # more files per render: a wider window for renders to interleave


def test_concurrent_renders_into_one_output_stay_complete(tmp_path: Path) -> None:
    config_dir = tmp_path / "overlays"
    shutil.copytree(OVERLAYS, config_dir)
    for i in range(EXTRA_ENVIRONMENTS):
        shutil.copy(OVERLAYS / "staging.yaml", config_dir / f"qa{i}.yaml")
    command = [
        str(GEN),
        "render",
        "--config-dir",
        str(config_dir),
        "--env-file",
        str(ENV_EXAMPLE),
        "--out",
        str(tmp_path / "build"),
    ]
    first = subprocess.run(command, capture_output=True, text=True, check=False)
    assert first.returncode == 0, first.stderr
    expected = snapshot(tmp_path / "build")
    assert "base/kustomization.yaml" in expected
    for round_number in range(1, ROUNDS + 1):
        processes = [
            subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(RENDERS)
        ]
        errors = [p.communicate()[1] for p in processes]
        codes = [p.returncode for p in processes]
        assert codes == [0] * RENDERS, (round_number, codes, errors)
        assert snapshot(tmp_path / "build") == expected, f"round {round_number}: tree differs"
        leftovers = sorted(p.name for p in tmp_path.iterdir() if ".rendering-" in p.name)
        assert not leftovers, (round_number, leftovers)
