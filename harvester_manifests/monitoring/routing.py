"""alertmanager.yml: the guide's four Slack channels, grouping and inhibition.

Webhook URLs are never written here: each receiver reads its URL from a file mounted from the
alertmanager-slack-urls Secret (api_url_file).
"""

from __future__ import annotations

from typing import Any

from harvester_manifests.config.models import Config

SLACK_DIR = "/etc/alertmanager/slack"
RECEIVERS = ("critical", "warning", "discovery", "llm")


def receiver_name(channel_key: str) -> str:
    return f"slack-{channel_key}"


def _slack(cfg: Config, key: str) -> dict[str, Any]:
    channel: str = getattr(cfg.alertmanager.slack, key)
    return {
        "name": receiver_name(key),
        "slack_configs": [
            {
                "api_url_file": f"{SLACK_DIR}/{key}",
                "channel": channel,
                "send_resolved": True,
                "title": "[{{ .Status | toUpper }}] {{ .CommonLabels.alertname }}",
                "text": (
                    "{{ range .Alerts }}*{{ .Annotations.summary }}*\n"
                    "{{ .Annotations.description }}\n"
                    "Runbook: {{ .Annotations.runbook_url }}\n{{ end }}"
                ),
            }
        ],
    }


def alertmanager_config(cfg: Config) -> dict[str, Any]:
    am = cfg.alertmanager
    return {
        "route": {
            "receiver": receiver_name("warning"),
            "group_by": ["alertname", "category"],
            "group_wait": am.group_wait,
            "group_interval": am.group_interval,
            "repeat_interval": am.repeat_interval,
            "routes": [
                {
                    "receiver": receiver_name("critical"),
                    "matchers": ['severity="critical"'],
                    "group_wait": "0s",
                    "repeat_interval": am.critical_repeat_interval,
                },
                {"receiver": receiver_name("discovery"), "matchers": ['category="discovery"']},
                {"receiver": receiver_name("llm"), "matchers": ['category="llm"']},
            ],
        },
        "inhibit_rules": [
            {
                "source_matchers": ['severity="critical"'],
                "target_matchers": ['severity="warning"'],
                "equal": ["alertname", "category"],
            },
            {
                "source_matchers": ['alertname="SignalHarvesterApiDown"'],
                "target_matchers": ['category="api"', 'alertname=~".*Latency.*"'],
            },
        ],
        "receivers": [_slack(cfg, key) for key in RECEIVERS],
    }
