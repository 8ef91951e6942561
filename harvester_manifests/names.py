"""Kubernetes names the deployment guide uses; its kubectl commands look for exactly these."""

from typing import Final

API: Final = "signal-harvester-api"
API_DATA_PVC: Final = "signal-harvester-data"
API_KEYS_SECRET: Final = "signal-harvester-api-keys"
API_TLS_SECRET: Final = "signal-harvester-api-tls"
API_SETTINGS: Final = "signal-harvester-api-settings"
PROMETHEUS: Final = "prometheus"
GRAFANA: Final = "grafana"
ALERTMANAGER: Final = "alertmanager"
SLACK_SECRET: Final = "alertmanager-slack-urls"
GRAFANA_ADMIN_SECRET: Final = "grafana-admin"
BASIC_AUTH_SECRET: Final = "monitoring-basic-auth"
DEFAULT_DENY: Final = "default-deny"
PART_OF: Final = "signal-harvester"
MANAGED_BY: Final = "harvester-gen"
