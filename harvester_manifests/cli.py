"""harvester-gen: the command line. Parses, calls the library, prints, maps errors to exit codes.

Exit codes: 0 success, 2 bad input (one line per problem, naming the file and field),
1 a tool or the program itself failed.

Each command imports what it needs when it runs: `--help` and `schema` do not pay for the
renderer (Grafana's SDK, every component), nor `render` for the validator.
"""

from __future__ import annotations

import gc
import sys
import unicodedata
from pathlib import Path
from typing import NoReturn

import click

from harvester_manifests import __version__
from harvester_manifests.errors import InputError, OutputError, RenderError, ToolError

EXIT_INPUT = 2
EXIT_FAILURE = 1

env_option = click.option(
    "--env",
    "env",
    default="all",
    show_default=True,
    metavar="ENV",
    help="An environment with a file <config-dir>/ENV.yaml (dev, staging, prod), or all.",
)
config_dir_option = click.option(
    "--config-dir",
    type=click.Path(path_type=Path),
    default=Path("overlays"),
    show_default=True,
    help="Directory of <env>.yaml overlay files.",
)
out_option = click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=Path("build"),
    show_default=True,
    help="Output directory: base/ plus one overlay per environment.",
)


def one_line(text: str) -> str:
    """Text as one printable line: control characters and line breaks shown escaped."""
    return "".join(
        char
        if char == " " or (char.isprintable() and unicodedata.category(char)[0] != "Z")
        else repr(char)[1:-1]
        for char in text
    )


def _fail_input(exc: InputError) -> NoReturn:
    for problem in exc.problems:
        click.echo(f"error: {one_line(str(problem))}", err=True)
    sys.exit(EXIT_INPUT)


def _fail_tool(exc: ToolError) -> NoReturn:
    click.echo(f"error: {exc}", err=True)
    sys.exit(EXIT_FAILURE)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="harvester-gen")
def main() -> None:
    """Render the Signal Harvester deployment as Kustomize: a base plus one overlay per env."""
    _tune_gc()


# A render allocates many small dicts and lists that hold no cycles. With the default gen0
# threshold (700) the collector runs every few hundred of them and walks what the imports left
# (modules, pydantic's schemas) on each full pass: 12% of a 300-environment render's CPU time.
# The imports' objects are frozen out of its way and it runs less often; the process is ours, so
# this is set here and never by the library.
GC_GEN0_THRESHOLD = 5000


def _tune_gc() -> None:
    gc.freeze()
    gc.set_threshold(GC_GEN0_THRESHOLD, *gc.get_threshold()[1:])


@main.command()
@env_option
@config_dir_option
@out_option
@click.option(
    "--env-file",
    type=click.Path(path_type=Path),
    default=None,
    help="Secret values (KEY=VALUE). Default: .env.<env>, else .env, else the placeholders "
    "of .env.example (with a warning).",
)
@click.option(
    "--gitops",
    "gitops_file",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Repository-wide Argo CD settings (repoURL, targetRevision, ...). Default: "
    "gitops.yaml; without it no OUT/argocd/ is rendered.",
)
@click.option(
    "--seal-cert",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Sealed Secrets controller certificate (PEM) for every sealed-secrets environment "
    "rendered; overrides secrets.sealedSecrets.cert.",
)
def render(
    env: str,
    config_dir: Path,
    out: Path,
    env_file: Path | None,
    gitops_file: Path | None,
    seal_cert: Path | None,
) -> None:
    """Render ENV (or all) into OUT, atomically: OUT is replaced only when all succeeded."""
    from harvester_manifests.render import render as render_output

    try:
        result = render_output(
            env, config_dir, out, env_file, gitops_file=gitops_file, seal_cert=seal_cert
        )
    except InputError as exc:
        _fail_input(exc)
    except (RenderError, ToolError, OutputError, OSError) as exc:
        click.echo(f"error: {one_line(str(exc))}", err=True)
        sys.exit(EXIT_FAILURE)
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)
    for summary in result.environments:
        kinds = ", ".join(f"{count} {kind}" for kind, count in summary.kinds.items())
        click.echo(f"{summary.name}: {sum(summary.kinds.values())} objects ({kinds})")
        if summary.hosts:
            click.echo(f"  hosts:   {', '.join(summary.hosts)}")
        click.echo(f"  secrets: {summary.secrets}")
        click.echo(f"  output:  {summary.path}  (kubectl apply -k {summary.path})")
    if result.argocd is not None:
        click.echo(f"argocd: AppProject and Applications in {result.argocd}")
        click.echo(f"  bootstrap: kubectl apply -k {result.argocd}")


@main.command()
@env_option
@config_dir_option
@out_option
@click.option(
    "--kubernetes-version",
    "versions",
    multiple=True,
    metavar="X.Y.Z",
    help="Validate against this version only (repeatable). Default: every supported version.",
)
def validate(env: str, config_dir: Path, out: Path, versions: tuple[str, ...]) -> None:
    """kustomize build each rendered ENV and check it with kubeconform -strict, offline."""
    from harvester_manifests import validate as checks
    from harvester_manifests.kustomize import FLAT_KUSTOMIZATION
    from harvester_manifests.render import ARGOCD, resolve_environments

    try:
        envs = resolve_environments(env, config_dir)
    except InputError as exc:
        _fail_input(exc)
    missing = [name for name in envs if not (out / name / "kustomization.yaml").exists()]
    if missing:
        for name in missing:
            click.echo(f"error: {out / name}: not rendered (run harvester-gen render)", err=True)
        sys.exit(EXIT_INPUT)
    # build/argocd (Argo CD's objects, when gitops.yaml exists) is checked with every env.
    argocd = [ARGOCD] if env == "all" and (out / ARGOCD / FLAT_KUSTOMIZATION).exists() else []
    failed = 0
    try:
        for name in [*envs, *argocd]:
            # What `kubectl apply -k` takes: with mode env-file, the gitignored secrets/ layer
            # when it has been rendered (it holds the committed overlay's objects too).
            local = out / name / "secrets"
            directory = local if (local / "kustomization.yaml").is_file() else out / name
            for report in checks.validate_directory(directory, list(versions) or None):
                click.echo(
                    f"{name:<10} Kubernetes {report.kubernetes_version:<8} "
                    f"resources {report.resources:>3}  valid {report.valid:>3}  "
                    f"invalid {report.invalid}  errors {report.errors}  skipped {report.skipped}"
                )
                for problem in report.problems():
                    click.echo(f"  {problem}", err=True)
                failed += 0 if report.ok else 1
    except ToolError as exc:
        _fail_tool(exc)
    except checks.UnsupportedKubernetesVersion as exc:
        click.echo(f"error: --kubernetes-version: {exc}", err=True)
        sys.exit(EXIT_INPUT)
    if failed:
        click.echo(f"error: {failed} validation runs found invalid resources", err=True)
        sys.exit(EXIT_FAILURE)


@main.command()
@click.option("--gitops", is_flag=True, help="The schema of gitops.yaml instead.")
def schema(gitops: bool) -> None:
    """Print the JSON Schema of an overlay file (for editor completion and checks)."""
    import json

    from harvester_manifests.config.gitops import GitOps
    from harvester_manifests.config.models import Config

    model: type[Config] | type[GitOps] = GitOps if gitops else Config
    document = model.model_json_schema(by_alias=True)
    document["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    document["title"] = "harvester-gen gitops.yaml" if gitops else "harvester-gen overlay"
    click.echo(json.dumps(document, indent=2, sort_keys=True))


@main.command()
@click.argument(
    "directory",
    type=click.Path(path_type=Path),
    default=Path("."),
    required=False,
)
def init(directory: Path) -> None:
    """Start a GitOps repository in DIRECTORY (default: here): overlays, .env.example, README.

    Never overwrites: when any of the files exists, nothing is written (exit 2).
    """
    from harvester_manifests.scaffold import init_project

    try:
        written = init_project(directory)
    except InputError as exc:
        _fail_input(exc)
    except OSError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_FAILURE)
    for path in written:
        click.echo(f"created {path}")
    click.echo(
        "next: cp .env.example .env (fill in the values), harvester-gen render --env all, "
        "kubectl apply -k build/prod"
    )


@main.command()
@env_option
@config_dir_option
@out_option
@click.option(
    "--env-file",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Secret values, as for render. They are compared, never printed.",
)
@click.option(
    "--cluster",
    is_flag=True,
    help="Compare with the live cluster instead: kubectl diff --server-side -k on what "
    "kubectl apply -k takes (ENV/secrets in secrets mode env-file).",
)
@click.option(
    "--kustomize",
    "kustomize_path",
    metavar="PATH",
    default=None,
    help="kustomize that builds both sides. Default: kustomize on PATH, else kubectl kustomize.",
)
@click.option("--kubectl", default="kubectl", show_default=True, help="kubectl for --cluster.")
@click.option(
    "--kubeconfig",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="kubeconfig for --cluster (default: kubectl's).",
)
def diff(
    env: str,
    config_dir: Path,
    out: Path,
    env_file: Path | None,
    cluster: bool,
    kustomize_path: str | None,
    kubectl: str,
    kubeconfig: Path | None,
) -> None:
    """Show what a render of ENV would change in OUT (or in the cluster), object by object.

    Both sides are built by kustomize, so the comparison is what `kubectl apply -k` applies.
    Exit codes as diff(1): 0 no change, 1 changes, 2 bad input or trouble.
    Secret values are never printed.
    """
    from harvester_manifests import diff as differ
    from harvester_manifests.clusterdiff import diff_against_cluster
    from harvester_manifests.kustomizer import find_kustomize
    from harvester_manifests.render import plan, resolve_environments

    try:
        envs = resolve_environments(env, config_dir)
        planned = plan(envs, config_dir, out, env_file, Path())
    except InputError as exc:
        _fail_input(exc)
    except RenderError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_INPUT)
    for warning in planned.warnings:
        click.echo(f"warning: {warning}", err=True)
    if cluster:
        try:
            results = diff_against_cluster(planned.files, envs, kubectl, kubeconfig)
        except ToolError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(EXIT_INPUT)
        for live in results:
            click.echo(f"{live.env}: {'changes' if live.changed else 'no changes'}")
            if live.output:
                click.echo(live.output, nl=False)
        sys.exit(1 if any(r.changed for r in results) else 0)
    if out.exists() and not out.is_dir():
        click.echo(f"error: {out}: exists and is not a directory", err=True)
        sys.exit(EXIT_INPUT)
    if out.is_dir() and any(out.iterdir()) and not (out / "base" / "kustomization.yaml").exists():
        click.echo(f"error: {out}: exists and is not a harvester-gen output", err=True)
        sys.exit(EXIT_INPUT)
    try:
        kustomize = find_kustomize(kustomize_path)
        changes = differ.compare(out, planned.files, None if env == "all" else envs, kustomize)
    except ToolError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_INPUT)
    except OSError as exc:
        click.echo(f"error: {out}: {exc.strerror or exc}", err=True)
        sys.exit(EXIT_INPUT)
    if not changes.changed:
        click.echo(f"no changes: {out} is what a render of {env} writes")
        return
    for line in differ.report(changes):
        click.echo(line)
    sys.exit(1)
