"""Writes are atomic: a render killed midway leaves the output byte-identical to before."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from tests.conftest import ENV_EXAMPLE, ROOT
from tests.test_errors import harvester_gen, snapshot

# Runs the real CLI, but the 20th file write announces itself and hangs, so the parent can
# kill the process with SIGKILL in the middle of writing the new tree.
KILLABLE = """
import sys, time
from harvester_manifests import render
original = render._write
count = 0
def write(*args, **kwargs):
    global count
    count += 1
    if count == 20:
        print("midway", flush=True)
        time.sleep(60)
    return original(*args, **kwargs)
render._write = write
from harvester_manifests.cli import main
sys.exit(main())
"""


def test_render_killed_midway_leaves_output_untouched(tmp_path: Path) -> None:
    out = tmp_path / "build"
    assert harvester_gen("render", "--env-file", ENV_EXAMPLE, "--out", out).returncode == 0
    # A different config, so that a completed render would change the output.
    config_dir = tmp_path / "overlays"
    config_dir.mkdir()
    for env in ("dev", "staging", "prod"):
        (config_dir / f"{env}.yaml").write_text("api:\n  logLevel: WARNING\n")
    before = snapshot(out)
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            KILLABLE,
            "render",
            "--config-dir",
            str(config_dir),
            "--env-file",
            str(ENV_EXAMPLE),
            "--out",
            str(out),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "midway"
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    assert snapshot(out) == before
    # The next render cleans up and succeeds.
    assert (
        harvester_gen(
            "render", "--config-dir", config_dir, "--env-file", ENV_EXAMPLE, "--out", out
        ).returncode
        == 0
    )
    assert snapshot(out) != before
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".build.rendering-")]
    assert not leftovers, "the next render removes what the killed one left"
