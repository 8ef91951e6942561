"""make bench: render cost against one kustomize build, measured side by side in one run.

Prints the median wall time of
  - a cold `harvester-gen render --env all` (new process, fresh output directory),
  - one `kubectl kustomize build/prod` of the result,
and their ratio (target: at most 1.5), the import floor a Python CLI cannot go below (the
interpreter with pydantic, PyYAML and click, measured in the same run), then a cold render of
1 and of 300 generated environments (targets: 300 in under 2 s, under 5 ms for each environment
beyond the first).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GEN = ROOT / ".venv" / "bin" / "harvester-gen"
ENV_FILE = ROOT / ".env.example"
RUNS = 7
FLEET = 300


def timed(action: Callable[[], None], runs: int = RUNS) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def run(*args: str | Path) -> None:
    subprocess.run([str(a) for a in args], check=True, capture_output=True)


def peak_rss_mib(*args: str | Path) -> float:
    """Peak resident memory of one run of a command (from wait4's rusage of that child)."""
    process = subprocess.Popen(
        [str(a) for a in args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise subprocess.CalledProcessError(process.returncode, args)
    return usage.ru_maxrss / 1024


def render(config_dir: Path, out: Path) -> Callable[[], None]:
    def action() -> None:
        run(
            GEN,
            "render",
            "--env",
            "all",
            "--config-dir",
            config_dir,
            "--env-file",
            ENV_FILE,
            "--out",
            out,
        )

    return action


def render_in_process(out: Path) -> None:
    from harvester_manifests.render import render as render_output

    render_output("all", ROOT / "overlays", out, ENV_FILE, ROOT)


def generated_overlays(directory: Path, count: int) -> Path:
    """`count` environments as a fleet has them: a domain each, scaling and retention vary."""
    directory.mkdir()
    for i in range(count):
        (directory / f"env-{i:03d}.yaml").write_text(
            f"domain: env-{i:03d}.signal-harvester.example.com\n"
            f"api:\n  autoscaling:\n    minReplicas: {1 + i % 3}\n    maxReplicas: {4 + i % 6}\n"
            f"prometheus:\n  retention: {3 + i % 30}d\n"
        )
    return directory


def main() -> int:
    with tempfile.TemporaryDirectory() as scratch:
        tmp = Path(scratch)
        out = tmp / "build"
        render_all = timed(render(ROOT / "overlays", out))
        kustomize_one = timed(lambda: run("kubectl", "kustomize", out / "prod"))
        render_rss = peak_rss_mib(
            GEN, "render", "--env", "all", "--env-file", ENV_FILE, "--out", out
        )
        kustomize_rss = peak_rss_mib("kubectl", "kustomize", out / "prod")
        in_process = timed(lambda: render_in_process(out))
        startup = timed(lambda: run(GEN.parent / "python", "-c", "import harvester_manifests.cli"))
        floor = timed(lambda: run(GEN.parent / "python", "-c", "import pydantic, yaml, click"))
        one = generated_overlays(tmp / "one", 1)
        render_1 = timed(render(one, tmp / "build1"), runs=5)
        fleet = generated_overlays(tmp / "fleet", FLEET)
        render_fleet = timed(render(fleet, tmp / "build-fleet"), runs=3)
    ms = 1000
    rows = [
        ("harvester-gen render --env all (3 envs, cold)", f"{render_all * ms:>8.0f}ms"),
        ("kubectl kustomize build/prod (1 env)", f"{kustomize_one * ms:>8.0f}ms"),
        ("ratio render-all / kustomize-one", f"{render_all / kustomize_one:>10.2f}"),
        ("  of which: interpreter + imports", f"{startup * ms:>8.0f}ms"),
        ("  of which: rendering 3 envs (in process)", f"{in_process * ms:>8.0f}ms"),
        ("import floor: python + pydantic, yaml, click", f"{floor * ms:>8.0f}ms"),
        ("ratio floor / kustomize-one", f"{floor / kustomize_one:>10.2f}"),
        (
            "render above the floor / kustomize-one",
            f"{(render_all - floor) / kustomize_one:>10.2f}",
        ),
        ("harvester-gen render, 1 generated environment", f"{render_1 * ms:>8.0f}ms"),
        (f"harvester-gen render, {FLEET} generated environments", f"{render_fleet * ms:>8.0f}ms"),
        (
            "  per environment beyond the first",
            f"{(render_fleet - render_1) / (FLEET - 1) * ms:>8.1f}ms",
        ),
        ("peak memory: render --env all", f"{render_rss:>7.0f}MiB"),
        ("peak memory: kubectl kustomize build/prod", f"{kustomize_rss:>7.0f}MiB"),
    ]
    print(f"{'measurement':<52}{'median':>10}")
    for name, value in rows:
        print(f"{name:<52}{value:>10}")
    checks = [
        ("cold render all <= 1.5x one kustomize build", render_all <= 1.5 * kustomize_one),
        (f"{FLEET} environments in under 2 s", render_fleet < 2),
        (
            "under 5 ms per environment beyond the first",
            render_fleet - render_1 < 0.005 * (FLEET - 1),
        ),
    ]
    for name, met in checks:
        print(f"target {name}: {'met' if met else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
