"""make bench: render cost against one kustomize build, measured side by side in one run.

Prints the median wall time, and the median CPU time (user + system, from wait4's rusage: it
holds still on a busy machine where the wall time does not), of
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
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GEN = ROOT / ".venv" / "bin" / "harvester-gen"
ENV_FILE = ROOT / ".env.example"
RUNS = 7
FLEET = 300


@dataclass(frozen=True)
class Cost:
    wall: float  # seconds, median
    cpu: float  # seconds of user + system time, median


def command(*args: str | Path) -> Callable[[], float]:
    """Runs the command once per call; returns its CPU seconds (it must succeed)."""

    def action() -> float:
        process = subprocess.Popen(
            [str(a) for a in args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        _, status, usage = os.wait4(process.pid, 0)
        if os.waitstatus_to_exitcode(status) != 0:
            raise subprocess.CalledProcessError(os.waitstatus_to_exitcode(status), args)
        return usage.ru_utime + usage.ru_stime

    return action


def measured(action: Callable[[], float], runs: int = RUNS) -> Cost:
    walls, cpus = [], []
    for _ in range(runs):
        start = time.perf_counter()
        cpus.append(action())
        walls.append(time.perf_counter() - start)
    return Cost(statistics.median(walls), statistics.median(cpus))


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


def render(config_dir: Path, out: Path) -> Callable[[], float]:
    return command(
        GEN, "render", "--env", "all", "--config-dir", config_dir, "--env-file", ENV_FILE,
        "--out", out,
    )  # fmt: skip


def render_in_process(out: Path) -> Callable[[], float]:
    def action() -> float:
        from harvester_manifests.render import render as render_output

        start = time.process_time()
        render_output("all", ROOT / "overlays", out, ENV_FILE, ROOT)
        return time.process_time() - start

    return action


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


def row(name: str, cost: Cost) -> str:
    return f"{name:<52}{cost.wall * 1000:>8.0f}ms{cost.cpu * 1000:>8.0f}ms"


def ratio(name: str, a: Cost, b: Cost) -> str:
    return f"{name:<52}{a.wall / b.wall:>10.2f}{a.cpu / b.cpu:>10.2f}"


def verdicts(name: str, checks: Sequence[bool]) -> str:
    kinds = zip(("wall", "cpu"), checks, strict=True)
    return f"target {name}: " + " / ".join(f"{k} {'met' if ok else 'NOT met'}" for k, ok in kinds)


def main() -> int:
    with tempfile.TemporaryDirectory() as scratch:
        tmp = Path(scratch)
        out = tmp / "build"
        render_all = measured(render(ROOT / "overlays", out))
        kustomize_one = measured(command("kubectl", "kustomize", out / "prod"))
        render_rss = peak_rss_mib(
            GEN, "render", "--env", "all", "--env-file", ENV_FILE, "--out", out
        )
        kustomize_rss = peak_rss_mib("kubectl", "kustomize", out / "prod")
        in_process = measured(render_in_process(out))
        python = GEN.parent / "python"
        startup = measured(
            command(python, "-c", "import harvester_manifests.cli, harvester_manifests.render")
        )
        floor = measured(command(python, "-c", "import pydantic, yaml, click"))
        one = generated_overlays(tmp / "one", 1)
        render_1 = measured(render(one, tmp / "build1"), runs=5)
        fleet = generated_overlays(tmp / "fleet", FLEET)
        render_fleet = measured(render(fleet, tmp / "build-fleet"), runs=3)
    beyond = Cost(
        (render_fleet.wall - render_1.wall) / (FLEET - 1),
        (render_fleet.cpu - render_1.cpu) / (FLEET - 1),
    )
    above_floor = Cost(render_all.wall - floor.wall, render_all.cpu - floor.cpu)
    print(f"{'measurement (median)':<52}{'wall':>10}{'cpu':>10}")
    print(row("harvester-gen render --env all (3 envs, cold)", render_all))
    print(row("kubectl kustomize build/prod (1 env)", kustomize_one))
    print(ratio("ratio render-all / kustomize-one", render_all, kustomize_one))
    print(row("  of which: interpreter + imports", startup))
    print(row("  of which: rendering 3 envs (in process)", in_process))
    print(row("import floor: python + pydantic, yaml, click", floor))
    print(ratio("ratio floor / kustomize-one", floor, kustomize_one))
    print(ratio("ratio (render-all - floor) / kustomize-one", above_floor, kustomize_one))
    print(row("harvester-gen render, 1 generated environment", render_1))
    print(row(f"harvester-gen render, {FLEET} generated environments", render_fleet))
    print(
        f"{'  per environment beyond the first':<52}"
        f"{beyond.wall * 1000:>8.1f}ms{beyond.cpu * 1000:>8.1f}ms"
    )
    print(f"{'peak memory: render --env all':<52}{render_rss:>8.0f}MiB")
    print(f"{'peak memory: kubectl kustomize build/prod':<52}{kustomize_rss:>8.0f}MiB")
    print(
        verdicts(
            "cold render all <= 1.5x one kustomize build",
            [
                render_all.wall <= 1.5 * kustomize_one.wall,
                render_all.cpu <= 1.5 * kustomize_one.cpu,
            ],
        )
    )
    print(
        verdicts(
            f"{FLEET} environments in under 2 s", [render_fleet.wall < 2, render_fleet.cpu < 2]
        )
    )
    print(
        verdicts(
            "under 5 ms per environment beyond the first",
            [beyond.wall < 0.005, beyond.cpu < 0.005],
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
