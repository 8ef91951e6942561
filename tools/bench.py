"""make bench: render cost against one kustomize build, measured side by side in one run.

Prints the median wall time, the median CPU time (user + system, from wait4's rusage: it
holds still on a busy machine where the wall time does not), and of that the system time (the
kernel creating, linking and removing files: it varies with the state of the machine's
filesystem caches, up to several times over between runs, where the user time does not), of
  - a cold `harvester-gen render --env all` (new process), both into the output of the
    previous render (what `make render` over the committed build/ does) and into a new,
    empty output directory,
  - one `kubectl kustomize build/prod` of the result,
and their ratio (target: at most 1.5), the import floor a Python CLI cannot go below (the
interpreter with PyYAML, click and pydantic with one model, measured in the same run) and that
floor with the configuration's 46 pydantic models built (what a pydantic-typed config pays),
then a cold render of 1 and of 300 generated environments (targets: 300 in under 2 s, under
5 ms for each environment beyond the first), each target with its verdict.

Every Python process runs with its bytecode cached (PYTHONPYCACHEPREFIX in the run's
temporary directory, written by one unmeasured run first), as an installed package has it:
otherwise an environment with PYTHONDONTWRITEBYTECODE set would measure the compiler.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
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
    kernel: float = 0.0  # seconds of system time, median: the filesystem's share, mostly


Sample = tuple[float, float]  # one run's CPU seconds (user + system) and system seconds


ENV = dict(os.environ)  # the children's environment (bytecode cache set by main)

# The import floor: the interpreter, PyYAML, click, and pydantic with one model built (importing
# pydantic alone loads almost nothing: its model machinery loads with the first model).
FLOOR = """
import yaml, click
from pydantic import BaseModel
class One(BaseModel):
    x: int = 0
One()
"""
# The floor with the configuration's pydantic models built: config/models.py (and the config
# modules it imports) without the package's __init__, which imports everything else.
MODELS_ONLY = f"""
import sys, types
import pydantic, yaml, click
package = types.ModuleType("harvester_manifests")
package.__path__ = [{str(ROOT / "harvester_manifests")!r}]
sys.modules["harvester_manifests"] = package
import harvester_manifests.config.models
"""


def command(*args: str | Path) -> Callable[[], Sample]:
    """Runs the command once per call; returns its CPU seconds (it must succeed)."""

    def action() -> Sample:
        process = subprocess.Popen(
            [str(a) for a in args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV
        )
        _, status, usage = os.wait4(process.pid, 0)
        if os.waitstatus_to_exitcode(status) != 0:
            raise subprocess.CalledProcessError(os.waitstatus_to_exitcode(status), args)
        return usage.ru_utime + usage.ru_stime, usage.ru_stime

    return action


def measured(action: Callable[[], Sample], runs: int = RUNS) -> Cost:
    walls, cpus, kernels = [], [], []
    for _ in range(runs):
        start = time.perf_counter()
        cpu, kernel = action()
        walls.append(time.perf_counter() - start)
        cpus.append(cpu)
        kernels.append(kernel)
    return Cost(statistics.median(walls), statistics.median(cpus), statistics.median(kernels))


def each_fresh(make: Callable[[Path], Callable[[], Sample]], parent: Path) -> Callable[[], Sample]:
    """`make(out)` run into a new, empty output directory each time."""
    count = 0

    def action() -> Sample:
        nonlocal count
        count += 1
        return make(parent / f"fresh-{count}")()

    return action


def peak_rss_mib(*args: str | Path) -> float:
    """Peak resident memory of one run of a command (from wait4's rusage of that child)."""
    process = subprocess.Popen(
        [str(a) for a in args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV
    )
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise subprocess.CalledProcessError(process.returncode, args)
    return usage.ru_maxrss / 1024


def render(config_dir: Path, out: Path) -> Callable[[], Sample]:
    return command(
        GEN, "render", "--env", "all", "--config-dir", config_dir, "--env-file", ENV_FILE,
        "--out", out,
    )  # fmt: skip


def render_in_process(out: Path) -> Callable[[], Sample]:
    def action() -> Sample:
        from harvester_manifests.render import render as render_output

        start = os.times()
        render_output("all", ROOT / "overlays", out, ENV_FILE, ROOT)
        end = os.times()
        kernel = end.system - start.system
        return end.user - start.user + kernel, kernel

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
    kernel = f"{cost.kernel * 1000:>8.0f}ms" if cost.kernel else ""
    return f"{name:<56}{cost.wall * 1000:>8.0f}ms{cost.cpu * 1000:>8.0f}ms{kernel}"


def ratio(name: str, a: Cost, b: Cost) -> str:
    return f"{name:<56}{a.wall / b.wall:>10.2f}{a.cpu / b.cpu:>10.2f}"


def verdict(name: str, cpu: str, wall: str, target: str, met: tuple[bool, bool]) -> str:
    """One target: the measured values (CPU, then wall) against it, and whether each meets it."""
    said = " / ".join(
        f"{k} {'met' if ok else 'NOT met'}" for k, ok in zip(("cpu", "wall"), met, strict=True)
    )
    return f"  {name}: {cpu} CPU, {wall} wall (target {target}): {said}"


def per_environment(fleet: Cost, one: Cost) -> Cost:
    return Cost(
        (fleet.wall - one.wall) / (FLEET - 1),
        (fleet.cpu - one.cpu) / (FLEET - 1),
        (fleet.kernel - one.kernel) / (FLEET - 1),
    )


def per_env_row(name: str, cost: Cost) -> str:
    kernel = f"{cost.kernel * 1000:>8.1f}ms"
    return f"{name:<56}{cost.wall * 1000:>8.1f}ms{cost.cpu * 1000:>8.1f}ms{kernel}"


def main() -> int:
    with tempfile.TemporaryDirectory() as scratch:
        tmp = Path(scratch)
        ENV.pop("PYTHONDONTWRITEBYTECODE", None)
        ENV["PYTHONPYCACHEPREFIX"] = str(tmp / "pycache")
        out = tmp / "build"
        python = GEN.parent / "python"
        render(ROOT / "overlays", out)()  # writes the bytecode, and the output re-rendered below
        command(python, "-c", FLOOR)()
        render_all = measured(render(ROOT / "overlays", out))
        render_all_fresh = measured(each_fresh(lambda o: render(ROOT / "overlays", o), tmp))
        kustomize_one = measured(command("kubectl", "kustomize", out / "prod"))
        render_rss = peak_rss_mib(
            GEN, "render", "--env", "all", "--env-file", ENV_FILE, "--out", out
        )
        kustomize_rss = peak_rss_mib("kubectl", "kustomize", out / "prod")
        in_process = measured(render_in_process(out))
        startup = measured(
            command(python, "-c", "import harvester_manifests.cli, harvester_manifests.render")
        )
        floor = measured(command(python, "-c", FLOOR))
        models_floor = measured(command(python, "-c", MODELS_ONLY))
        one = generated_overlays(tmp / "one", 1)
        render(one, tmp / "build1")()
        render_1 = measured(render(one, tmp / "build1"), runs=5)
        render_1_fresh = measured(each_fresh(lambda o: render(one, o), tmp / "one-out"), runs=5)
        fleet = generated_overlays(tmp / "fleet", FLEET)
        render(fleet, tmp / "build-fleet")()
        render_fleet = measured(render(fleet, tmp / "build-fleet"), runs=3)
        render_fleet_fresh = measured(
            each_fresh(lambda o: render(fleet, o), tmp / "fleet-out"), runs=3
        )
    above_floor = Cost(render_all.wall - floor.wall, render_all.cpu - floor.cpu)  # no kernel
    envs = len(list((ROOT / "overlays").glob("*.yaml")))
    print(f"{'measurement (median)':<56}{'wall':>10}{'cpu':>10}{'kernel':>10}")
    print(row(f"harvester-gen render --env all ({envs} envs, cold, re-render)", render_all))
    print(row("  the same into a new output directory", render_all_fresh))
    print(row("kubectl kustomize build/prod (1 env)", kustomize_one))
    print(ratio("ratio render-all / kustomize-one", render_all, kustomize_one))
    print(
        ratio("ratio render-all (new directory) / kustomize-one", render_all_fresh, kustomize_one)
    )
    print(row("  of which: interpreter + imports", startup))
    print(row(f"  of which: rendering {envs} envs (in process)", in_process))
    print(row("import floor: python + pydantic (one model), yaml, click", floor))
    print(ratio("ratio floor / kustomize-one", floor, kustomize_one))
    print(row("  + building the config's pydantic models", models_floor))
    print(ratio("ratio floor with the models / kustomize-one", models_floor, kustomize_one))
    print(ratio("ratio (render-all - floor) / kustomize-one", above_floor, kustomize_one))
    print(row("harvester-gen render, 1 generated environment", render_1))
    print(row(f"harvester-gen render, {FLEET} generated environments", render_fleet))
    beyond = per_environment(render_fleet, render_1)
    print(per_env_row("  per environment beyond the first", beyond))
    print(row("  1 environment into a new output directory", render_1_fresh))
    print(row(f"  {FLEET} environments into a new output directory", render_fleet_fresh))
    beyond_fresh = per_environment(render_fleet_fresh, render_1_fresh)
    print(per_env_row("  per environment beyond the first (new directory)", beyond_fresh))
    print(f"{'peak memory: render --env all':<56}{render_rss:>8.0f}MiB")
    print(f"{'peak memory: kubectl kustomize build/prod':<56}{kustomize_rss:>8.0f}MiB")
    print("targets (issue 12):")
    k = kustomize_one
    for label, cost in (("re-render", render_all), ("new directory", render_all_fresh)):
        cpu, wall = cost.cpu / k.cpu, cost.wall / k.wall
        print(
            verdict(
                f"cold render --env all ({label}) / one kustomize build",
                f"{cpu:.2f}x",
                f"{wall:.2f}x",
                "at most 1.5x",
                (cpu <= 1.5, wall <= 1.5),
            )
        )
    print(
        f"  (the import floor alone is {floor.cpu / k.cpu:.2f}x one kustomize build in CPU,"
        f" {models_floor.cpu / k.cpu:.2f}x with the config models built;"
        f" the render above the floor {above_floor.cpu / k.cpu:.2f}x,"
        f" above the floor with the models {(render_all.cpu - models_floor.cpu) / k.cpu:.2f}x)"
    )
    if models_floor.cpu / k.cpu > 1.5:
        print("  the floor with the config models alone is above 1.5x: out of reach in Python")
    for label, cost, each in (
        ("re-render", render_fleet, beyond),
        ("new directory", render_fleet_fresh, beyond_fresh),
    ):
        print(
            verdict(
                f"{FLEET} environments ({label})",
                f"{cost.cpu:.2f} s",
                f"{cost.wall:.2f} s",
                "under 2 s",
                (cost.cpu < 2, cost.wall < 2),
            )
        )
        print(
            verdict(
                f"each environment beyond the first ({label})",
                f"{each.cpu * 1000:.1f} ms (kernel {each.kernel * 1000:.1f} ms)",
                f"{each.wall * 1000:.1f} ms",
                "under 5 ms",
                (each.cpu < 0.005, each.wall < 0.005),
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
