"""The typed description of a Signal Harvester deployment: the only source of truth.

Every default is the deployment guide's production value, so an empty config renders the guide.
Overlay files (overlays/<env>.yaml) use the camelCase aliases, like Kubernetes manifests do.
Cross-field rules live here as model validators whose messages say what to change.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, model_validator

from harvester_manifests.config.alerts import AlertThresholds
from harvester_manifests.config.quantity import Quantity, parse_quantity
from harvester_manifests.config.types import (
    DnsLabel,
    Duration,
    Hostname,
    Model,
    Percent,
    Port,
    SlackChannel,
    UrlPath,
)

# ---------------------------------------------------------------------------------------------
# Building blocks shared by the components


class Image(Model):
    """A container image. Staging and prod refuse an unpinned one (no tag, or `latest`)."""

    repository: str = Field(pattern=r"^[a-z0-9]+([._/:-][a-z0-9]+)*$")
    tag: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
    digest: str | None = Field(default=None, pattern=r"^sha256:[a-f0-9]{64}$")

    @model_validator(mode="after")
    def _needs_tag_or_digest(self) -> Image:
        if self.tag is None and self.digest is None:
            raise ValueError("an image needs a tag or a digest")
        return self

    @property
    def reference(self) -> str:
        ref = self.repository
        if self.tag is not None:
            ref += f":{self.tag}"
        if self.digest is not None:
            ref += f"@{self.digest}"
        return ref

    @property
    def pinned(self) -> bool:
        return self.digest is not None or (self.tag is not None and self.tag != "latest")


class Amounts(Model):
    cpu: Quantity
    memory: Quantity
    ephemeral_storage: Quantity  # the writable layer, logs and disk-backed emptyDirs


class Resources(Model):
    """Requests and limits; a request above its limit is refused (the API server would too)."""

    requests: Amounts
    limits: Amounts

    @model_validator(mode="after")
    def _requests_within_limits(self) -> Resources:
        for kind, key in (
            ("cpu", "cpu"),
            ("memory", "memory"),
            ("ephemeral_storage", "ephemeralStorage"),
        ):
            request, limit = getattr(self.requests, kind), getattr(self.limits, kind)
            if parse_quantity(request) > parse_quantity(limit):
                raise ValueError(
                    f"requests.{key} {request} is above limits.{key} {limit}: "
                    "lower the request or raise the limit"
                )
        return self


def resources(requests: tuple[str, str, str], limits: tuple[str, str, str]) -> Resources:
    """Resources from (cpu, memory, ephemeral storage) requests and limits."""
    return Resources(
        requests=Amounts(cpu=requests[0], memory=requests[1], ephemeral_storage=requests[2]),
        limits=Amounts(cpu=limits[0], memory=limits[1], ephemeral_storage=limits[2]),
    )


class Probe(Model):
    initial_delay_seconds: Annotated[int, Field(ge=0)] = 0
    period_seconds: Annotated[int, Field(ge=1)] = 10
    timeout_seconds: Annotated[int, Field(ge=1)] = 3
    failure_threshold: Annotated[int, Field(ge=1)] = 3


class Probes(Model):
    """Startup gives the app its minute to start; readiness and liveness take over after."""

    startup: Probe = Probe(period_seconds=5, failure_threshold=12)
    readiness: Probe = Probe(period_seconds=10, failure_threshold=3)
    liveness: Probe = Probe(period_seconds=20, failure_threshold=3)


class Storage(Model):
    size: Quantity
    storage_class: DnsLabel | None = None  # None: the cluster's default StorageClass
    access_mode: Literal["ReadWriteOnce", "ReadWriteOncePod", "ReadWriteMany"] = "ReadWriteOnce"


class Ingress(Model):
    """An Ingress for one component; the host defaults to <prefix>.<domain>."""

    enabled: bool = True
    host: Hostname | None = None


# ---------------------------------------------------------------------------------------------
# Cluster-wide settings


class IngressSettings(Model):
    class_name: DnsLabel = "nginx"
    cluster_issuer: DnsLabel = "letsencrypt-prod"
    tls: bool = True
    controller_namespace: DnsLabel = "ingress-nginx"


class ClusterSettings(Model):
    """Facts about the cluster that rules depend on (the guide's minimum node size)."""

    dns_namespace: DnsLabel = "kube-system"
    node_cpu: Quantity = "4"
    node_memory: Quantity = "8Gi"


def _check_cidr(value: str) -> str:
    try:
        ipaddress.ip_network(value, strict=True)
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a network address range ({exc})") from None
    return value


Cidr = Annotated[str, AfterValidator(_check_cidr)]


class MonitoringAuth(Model):
    """Who may reach the Prometheus, Grafana and Alertmanager UIs through their Ingresses.

    HTTP basic auth (an htpasswd line from the .env), a source-address allowlist, or both.
    A monitoring UI with an Ingress and neither is refused: it would be open to the internet.
    """

    enabled: bool = True
    realm: str = Field(default="Signal Harvester monitoring", pattern=r"^[A-Za-z0-9 ._-]{1,64}$")
    allow_source_ranges: tuple[Cidr, ...] = ()


def _check_dns_subdomain(value: str) -> str:
    if len(value) > 253 or not re.fullmatch(
        r"[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*", value
    ):
        raise ValueError(
            f"{value!r} is not a valid Kubernetes object name (lowercase letters, digits, '-' "
            "and '.')"
        )
    return value


def _check_go_duration(value: str) -> str:
    if value != "0" and not re.fullmatch(r"(?=\d)(\d+h)?(\d+m)?(\d+s)?", value):
        raise ValueError(f"{value!r} is not a duration (examples: 1h, 15m, 30s; 0 never refreshes)")
    return value


DnsSubdomain = Annotated[str, AfterValidator(_check_dns_subdomain)]


class SecretStoreRef(Model):
    """The External Secrets Operator store that holds the values (it is not rendered here)."""

    kind: Literal["SecretStore", "ClusterSecretStore"] = "ClusterSecretStore"
    name: DnsSubdomain


class RemoteRef(Model):
    """Where one Secret key's value lives in the store: a key, and a property inside it."""

    key: str = Field(min_length=1, max_length=512, pattern=r"^[A-Za-z0-9_./:@+=-]+$")
    property: str | None = Field(
        default=None, min_length=1, max_length=256, pattern=r"^[A-Za-z0-9_./:@+=-]+$"
    )


REMOTE_KEY_FIELDS = ("env", "namespace", "secret", "key")


def _check_remote_key_template(value: str) -> str:
    fields = re.findall(r"\{([^{}]*)\}", value)
    unknown = sorted({f for f in fields if f not in REMOTE_KEY_FIELDS})
    if unknown:
        raise ValueError(
            f"{value!r} uses {', '.join('{' + f + '}' for f in unknown)}: the fields are "
            + ", ".join("{" + f + "}" for f in REMOTE_KEY_FIELDS)
        )
    literal = re.sub(r"\{[^{}]*\}", "x", value)
    if not re.fullmatch(r"[A-Za-z0-9_./:@+=-]+", literal):
        raise ValueError(
            f"{value!r} is not a remote key template (letters, digits, '_./:@+=-' and fields "
            "such as {env}/{secret}/{key})"
        )
    return value


class ExternalSecretsSettings(Model):
    """mode external-secrets: one ExternalSecret per Secret, read from `storeRef`.

    Each Secret key is read from the remote key `remoteKeyTemplate` names (fields {env},
    {namespace}, {secret}, {key}), unless `remoteRefs` names it: "<secret>/<key>" -> remoteRef.
    """

    store_ref: SecretStoreRef | None = None
    refresh_interval: Annotated[str, AfterValidator(_check_go_duration)] = "1h"
    remote_key_template: Annotated[str, AfterValidator(_check_remote_key_template)] = (
        "signal-harvester/{env}/{secret}/{key}"
    )
    remote_refs: dict[str, RemoteRef] = Field(default_factory=dict)


class SealedSecretsSettings(Model):
    """mode sealed-secrets: the Sealed Secrets controller's public certificate (PEM).

    Relative to the overlay file's directory. `harvester-gen render --seal-cert` overrides it.
    Fetch it with `kubeseal --fetch-cert > overlays/certs/<env>.pem`: it is public.
    """

    cert: str | None = Field(default=None, min_length=1)


class Secrets(Model):
    """How the Secrets reach the cluster (delivery.py; README "Secret delivery").

    env-file: render reads the operator's .env into a gitignored `secrets/` kustomization on top
    of the committed overlay; `kubectl apply -k build/<env>/secrets`. A change rolls the pods.
    sealed-secrets: render seals each value with kubeseal into committed SealedSecrets.
    external-secrets: committed ExternalSecrets; the External Secrets Operator fetches values.
    external: the Secrets already exist in the namespace; nothing secret is rendered.
    """

    mode: Literal["env-file", "sealed-secrets", "external-secrets", "external"] = "env-file"
    sealed_secrets: SealedSecretsSettings = SealedSecretsSettings()
    external_secrets: ExternalSecretsSettings = ExternalSecretsSettings()

    @model_validator(mode="before")
    @classmethod
    def _source_was_renamed(cls, data: Any) -> Any:
        if isinstance(data, dict) and "source" in data:
            raise ValueError(
                f"source: {data['source']!r} is now mode: {data['source']!r} "
                "(env-file, sealed-secrets, external-secrets or external)"
            )
        return data

    @model_validator(mode="after")
    def _external_secrets_need_a_store(self) -> Secrets:
        if self.mode == "external-secrets" and self.external_secrets.store_ref is None:
            raise ValueError(
                "mode external-secrets needs externalSecrets.storeRef "
                "(kind: SecretStore or ClusterSecretStore, and its name)"
            )
        return self


class ArgoCdDestination(Model):
    """The cluster an environment's Argo CD Application deploys to: exactly one of its API
    server URL (`server`) or the name it is registered under in Argo CD (`name`)."""

    server: str | None = Field(default=None, pattern=r"^https?://[^\s/]+(/\S*)?$")
    name: str | None = Field(default=None, pattern=r"^[A-Za-z0-9]([A-Za-z0-9._@:-]{0,251})$")

    @model_validator(mode="after")
    def _exactly_one(self) -> ArgoCdDestination:
        if (self.server is None) == (self.name is None):
            raise ValueError("give exactly one of server (an API server URL) or name")
        return self


IN_CLUSTER = ArgoCdDestination(server="https://kubernetes.default.svc")


class ArgoCdAutomated(Model):
    """Argo CD syncs on every commit; prune deletes what the commit removed, selfHeal undoes
    changes made in the cluster by hand."""

    prune: bool = True
    self_heal: bool = True


class ArgoCdBackoff(Model):
    duration: Duration = "5s"
    factor: Annotated[int, Field(ge=1, le=10)] = 2
    max_duration: Duration = "3m"


class ArgoCdRetry(Model):
    """How often Argo CD retries a failed sync (a webhook or CRD not ready yet), and how fast."""

    limit: Annotated[int, Field(ge=0, le=100)] = 5
    backoff: ArgoCdBackoff = ArgoCdBackoff()


class ArgoCdSyncPolicy(Model):
    automated: ArgoCdAutomated | None = None  # None: manual sync, a person presses Sync
    retry: ArgoCdRetry = ArgoCdRetry()


class ArgoCd(Model):
    """This environment's Argo CD Application (build/argocd/; the repository, revision and
    project are repository-wide, in gitops.yaml). The default is the production choice:
    the in-cluster API server and manual sync."""

    destination: ArgoCdDestination | None = None  # None: IN_CLUSTER
    sync_policy: ArgoCdSyncPolicy = ArgoCdSyncPolicy()

    @property
    def target(self) -> ArgoCdDestination:
        return self.destination or IN_CLUSTER


# ---------------------------------------------------------------------------------------------
# Components


class ScalingPolicy(Model):
    type: Literal["Pods", "Percent"]
    value: Annotated[int, Field(ge=1)]
    period_seconds: Annotated[int, Field(ge=1, le=1800)] = 60


class ScalingRules(Model):
    stabilization_window_seconds: Annotated[int, Field(ge=0, le=3600)]
    policies: Annotated[list[ScalingPolicy], Field(min_length=1)]


class Autoscaling(Model):
    enabled: bool = True
    min_replicas: Annotated[int, Field(ge=1)] = 2
    max_replicas: Annotated[int, Field(ge=1)] = 10
    target_cpu_utilization: Percent = 70
    target_memory_utilization: Percent | None = 80
    scale_up: ScalingRules = ScalingRules(
        stabilization_window_seconds=60, policies=[ScalingPolicy(type="Percent", value=50)]
    )
    scale_down: ScalingRules = ScalingRules(
        stabilization_window_seconds=300, policies=[ScalingPolicy(type="Pods", value=1)]
    )

    @model_validator(mode="after")
    def _min_within_max(self) -> Autoscaling:
        if self.min_replicas > self.max_replicas:
            raise ValueError(
                f"minReplicas {self.min_replicas} is above maxReplicas {self.max_replicas}"
            )
        return self


class Database(Model):
    """SQLite on the API's volume, or PostgreSQL from DATABASE_URL in the .env.

    SQLite is safe for many processes on one host, never across nodes or over a network
    filesystem, so in sqlite mode every API replica is scheduled onto the node that holds the
    volume. PostgreSQL lets replicas spread across nodes.
    """

    mode: Literal["sqlite", "postgres"] = "sqlite"
    path: str = Field(default="/app/var/app.db", pattern=r"^/app/var/[A-Za-z0-9._-]+$")
    postgres_port: Port = 5432


class RollingUpdate(Model):
    max_surge: Annotated[int, Field(ge=0)] = 1
    max_unavailable: Annotated[int, Field(ge=0)] = 0

    @model_validator(mode="after")
    def _can_progress(self) -> RollingUpdate:
        if self.max_surge == 0 and self.max_unavailable == 0:
            raise ValueError(
                "maxSurge and maxUnavailable cannot both be 0: a rollout could not start"
            )
        return self


class Api(Model):
    image: Image = Image(repository="bwillia13x/signal-harvester", tag="v2.0.0")
    replicas: Annotated[int, Field(ge=1)] = 2  # used only when autoscaling is off
    port: Port = 8000
    health_path: UrlPath = "/health"
    metrics_path: UrlPath = "/prometheus"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    resources: Resources = resources(("250m", "512Mi", "256Mi"), ("1000m", "2Gi", "3Gi"))
    probes: Probes = Probes()
    autoscaling: Autoscaling = Autoscaling()
    rolling_update: RollingUpdate = RollingUpdate()
    database: Database = Database()
    storage: Storage = Storage(size="10Gi")
    ingress: Ingress = Ingress()
    https_egress_cidr: str = Field(default="0.0.0.0/0", pattern=r"^\d{1,3}(\.\d{1,3}){3}/\d{1,2}$")
    settings: dict[str, Any] | None = None  # /app/config/settings.yaml, read-only

    @model_validator(mode="after")
    def _database_fits_replicas(self) -> Api:
        most = self.autoscaling.max_replicas if self.autoscaling.enabled else self.replicas
        if self.database.mode != "sqlite":
            return self
        if self.storage.access_mode == "ReadWriteMany":
            raise ValueError(
                "database.mode sqlite with storage.accessMode ReadWriteMany: SQLite over a "
                "network filesystem corrupts data; use ReadWriteOnce, or database.mode postgres"
            )
        if self.storage.access_mode == "ReadWriteOncePod" and most > 1:
            raise ValueError(
                f"database.mode sqlite with storage.accessMode ReadWriteOncePod allows one pod, "
                f"but up to {most} replicas are configured: use ReadWriteOnce (replicas share "
                "the node) or database.mode postgres"
            )
        return self

    def most_replicas(self) -> int:
        return self.autoscaling.max_replicas if self.autoscaling.enabled else self.replicas

    def fewest_replicas(self) -> int:
        return self.autoscaling.min_replicas if self.autoscaling.enabled else self.replicas


class Prometheus(Model):
    image: Image = Image(repository="prom/prometheus", tag="v3.16.0")
    port: Port = 9090
    retention: Duration = "15d"
    storage: Storage = Storage(size="50Gi")
    scrape_interval: Duration = "15s"
    evaluation_interval: Duration = "15s"
    admin_api: bool = True  # the guide's snapshot backup needs it
    scrape_cadvisor: bool = True
    resources: Resources = resources(("250m", "1Gi", "128Mi"), ("1000m", "4Gi", "1Gi"))
    ingress: Ingress = Ingress()


class Grafana(Model):
    image: Image = Image(repository="grafana/grafana", tag="12.2.0")
    port: Port = 3000
    admin_user: str = Field(default="admin", pattern=r"^[A-Za-z0-9._-]{1,64}$")
    storage: Storage = Storage(size="10Gi")
    resources: Resources = resources(("100m", "256Mi", "128Mi"), ("500m", "512Mi", "1Gi"))
    ingress: Ingress = Ingress()


class SlackChannels(Model):
    critical: SlackChannel = "#signal-harvester-critical"
    warning: SlackChannel = "#signal-harvester-alerts"
    discovery: SlackChannel = "#signal-harvester-discovery"
    llm: SlackChannel = "#signal-harvester-llm"


class Alertmanager(Model):
    image: Image = Image(repository="prom/alertmanager", tag="v0.35.0")
    port: Port = 9093
    storage: Storage = Storage(size="5Gi")
    slack: SlackChannels = SlackChannels()
    group_wait: Duration = "30s"
    group_interval: Duration = "5m"
    repeat_interval: Duration = "4h"
    critical_repeat_interval: Duration = "1h"
    resources: Resources = resources(("50m", "64Mi", "64Mi"), ("200m", "256Mi", "256Mi"))
    ingress: Ingress = Ingress()


class Reloader(Model):
    """The sidecar that reloads Prometheus and Alertmanager when their ConfigMap changes."""

    image: Image = Image(repository="ghcr.io/jimmidyson/configmap-reload", tag="v0.15.0")
    resources: Resources = resources(("10m", "16Mi", "16Mi"), ("50m", "32Mi", "64Mi"))


# ---------------------------------------------------------------------------------------------
# The whole deployment


class Config(Model):
    """One environment of Signal Harvester. Defaults are the deployment guide's production."""

    namespace: DnsLabel = "signal-harvester"
    domain: Hostname = "signal-harvester.example.com"
    ingress: IngressSettings = IngressSettings()
    cluster: ClusterSettings = ClusterSettings()
    secrets: Secrets = Secrets()
    monitoring_auth: MonitoringAuth = MonitoringAuth()
    runbook_base_url: str = Field(
        default="https://runbooks.signal-harvester.example.com",
        pattern=r"^https?://[A-Za-z0-9.-]+(:\d+)?(/[A-Za-z0-9._~/-]*)?$",
    )
    require_pinned_images: bool = True
    api: Api = Api()
    prometheus: Prometheus = Prometheus()
    grafana: Grafana = Grafana()
    alertmanager: Alertmanager = Alertmanager()
    reloader: Reloader = Reloader()
    alerts: AlertThresholds = AlertThresholds()
    argocd: ArgoCd = ArgoCd()

    @model_validator(mode="after")
    def _sqlite_replicas_fit_one_node(self) -> Config:
        api = self.api
        if api.database.mode != "sqlite" or api.most_replicas() == 1:
            return self
        most = api.most_replicas()
        for kind, node in (("cpu", self.cluster.node_cpu), ("memory", self.cluster.node_memory)):
            each = getattr(api.resources.requests, kind)
            if parse_quantity(each) * most > parse_quantity(node):
                raise ValueError(
                    f"api: database.mode sqlite keeps every replica on the node that holds the "
                    f"volume, but {most} replicas x {each} {kind} requested exceed the node's "
                    f"{node} (cluster.node{kind.capitalize()}): lower the replicas or the "
                    "request, or use database.mode postgres so replicas can spread"
                )
        return self

    @model_validator(mode="after")
    def _monitoring_uis_not_open(self) -> Config:
        auth = self.monitoring_auth
        if auth.enabled or auth.allow_source_ranges:
            return self
        exposed = [
            c for c in ("prometheus", "grafana", "alertmanager") if getattr(self, c).ingress.enabled
        ]
        if exposed:
            raise ValueError(
                f"monitoringAuth: the {', '.join(exposed)} UI{'s' if len(exposed) > 1 else ''} "
                "would be open to the internet: "
                "enable basic auth (monitoringAuth.enabled), set monitoringAuth.allowSourceRanges, "
                "or disable their ingress and use kubectl port-forward"
            )
        return self

    @model_validator(mode="after")
    def _images_pinned(self) -> Config:
        if not self.require_pinned_images:
            return self
        for name, image in self.images().items():
            if not image.pinned:
                raise ValueError(
                    f"{name}.image {image.reference} is not pinned: use a version tag or a "
                    "digest (requirePinnedImages is on; turn it off only for dev)"
                )
        return self

    def images(self) -> dict[str, Image]:
        return {
            "api": self.api.image,
            "prometheus": self.prometheus.image,
            "grafana": self.grafana.image,
            "alertmanager": self.alertmanager.image,
            "reloader": self.reloader.image,
        }

    def host(self, component: Literal["api", "prometheus", "grafana", "alertmanager"]) -> str:
        ingress: Ingress = getattr(self, component).ingress
        return ingress.host or f"{component}.{self.domain}"
