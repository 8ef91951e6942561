"""make bench: render cost against one kustomize build, measured side by side in one run.

Prints the median wall time of
  - a cold `harvester-gen render --env all` (new process, fresh output directory),
  - one `kubectl kustomize build/prod` of the result,
and their ratio (target: below 1, rendering three environments costs less than building one),
then the time to render 30 generated environments, to show how the cost grows.
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
    directory.mkdir()
    for i in range(count):
        (directory / f"env-{i:02d}.yaml").write_text(
            f"domain: env-{i:02d}.signal-harvester.example.com\n"
            f"api:\n  autoscaling:\n    minReplicas: {1 + i % 3}\n    maxReplicas: {4 + i % 6}\n"
            f"prometheus:\n  retention: {3 + i}d\n"
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
        many = generated_overlays(tmp / "many", 30)
        render_30 = timed(render(many, tmp / "build30"), runs=3)
    print(f"{'measurement':<48}{'median':>10}")
    print(f"{'harvester-gen render --env all (3 envs, cold)':<48}{render_all * 1000:>8.0f}ms")
    print(f"{'kubectl kustomize build/prod (1 env)':<48}{kustomize_one * 1000:>8.0f}ms")
    print(f"{'ratio render-all / kustomize-one':<48}{render_all / kustomize_one:>10.2f}")
    print(f"{'  of which: interpreter + imports':<48}{startup * 1000:>8.0f}ms")
    print(f"{'  of which: rendering 3 envs (in process)':<48}{in_process * 1000:>8.0f}ms")
    print(
        f"{'ratio render-all (in process) / kustomize-one':<48}{in_process / kustomize_one:>10.2f}"
    )
    print(f"{'harvester-gen render, 30 environments':<48}{render_30 * 1000:>8.0f}ms")
    print(
        f"{'  per environment beyond the first three':<48}"
        f"{(render_30 - render_all) / 27 * 1000:>8.1f}ms"
    )
    print(f"{'peak memory: render --env all':<48}{render_rss:>7.0f}MiB")
    print(f"{'peak memory: kubectl kustomize build/prod':<48}{kustomize_rss:>7.0f}MiB")
    target = "met" if render_all < kustomize_one else "NOT met"
    print(f"target (cold render all < one kustomize build): {target}")
    work = "met" if in_process < kustomize_one else "NOT met"
    print(f"rendering work alone (without interpreter start) < one kustomize build: {work}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
