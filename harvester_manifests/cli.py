"""harvester-gen: the command line. Parses, calls the library, prints, maps errors to exit codes.

Exit codes: 0 success, 2 bad input (one line per problem, naming the file and field),
1 a tool or the program itself failed.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import NoReturn

import click

from harvester_manifests import __version__
from harvester_manifests.config.gitops import GitOps
from harvester_manifests.config.models import Config
from harvester_manifests.errors import InputError, RenderError, ToolError
from harvester_manifests.kustomize import FLAT_KUSTOMIZATION
from harvester_manifests.render import ARGOCD, resolve_environments
from harvester_manifests.render import render as render_output

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
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("overlays"),
    show_default=True,
    help="Directory of <env>.yaml overlay files.",
)
out_option = click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("build"),
    show_default=True,
    help="Output directory: base/ plus one overlay per environment.",
)


def _fail_input(exc: InputError) -> NoReturn:
    for problem in exc.problems:
        click.echo(f"error: {problem}", err=True)
    sys.exit(EXIT_INPUT)


def _fail_tool(exc: ToolError) -> NoReturn:
    click.echo(f"error: {exc}", err=True)
    sys.exit(EXIT_FAILURE)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="harvester-gen")
def main() -> None:
    """Render the Signal Harvester deployment as Kustomize: a base plus one overlay per env."""


@main.command()
@env_option
@config_dir_option
@out_option
@click.option(
    "--env-file",
    type=click.Path(path_type=Path, dir_okay=False),
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
    try:
        result = render_output(
            env, config_dir, out, env_file, gitops_file=gitops_file, seal_cert=seal_cert
        )
    except InputError as exc:
        _fail_input(exc)
    except (RenderError, ToolError, OSError) as exc:
        click.echo(f"error: {exc}", err=True)
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
    model: type[Config] | type[GitOps] = GitOps if gitops else Config
    document = model.model_json_schema(by_alias=True)
    document["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    document["title"] = "harvester-gen gitops.yaml" if gitops else "harvester-gen overlay"
    click.echo(json.dumps(document, indent=2, sort_keys=True))
