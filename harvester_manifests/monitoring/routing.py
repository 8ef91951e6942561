"""alertmanager.yml: the guide's four Slack channels, grouping and inhibition.

Routing (first match wins unless `continue`):

| alert                              | receiver(s)                                   |
| ---------------------------------- | --------------------------------------------- |
| severity=critical, any category    | slack-critical, at once (group_wait 0s)       |
| ... and category discovery or llm  | also slack-discovery / slack-llm (continue)   |
| category=discovery (warning, info) | slack-discovery                               |
| category=llm (warning, info)       | slack-llm                                     |
| anything else (warning, info)      | slack-warning (#signal-harvester-alerts), 30s |
| category=monitoring, critical too  | also slack-warning (a second webhook)         |

A discovery or LLM critical pages the critical channel and also reaches the team channel
that owns it, so its history stays in one place. A monitoring critical (Slack notifications
failing, no Alertmanager) also goes to #signal-harvester-alerts: an alert about broken
notifications must not depend on the one webhook that may be the broken one.

"Anything else" is every category without a channel of its own (SHARED_CATEGORIES: api,
database, cache, resources, monitoring) and any category this module does not know: such an
alert matches no team route, so its warnings and infos take the root route (slack-warning)
and its criticals stop at the critical route. No alert is dropped for its category; a new
category needs a change here only if it should get a channel of its own.

Inhibition: a critical alert mutes the warning/info alert with the same name and the same
identity labels (rules.IDENTITY_LABELS); the API being down mutes its error-rate and latency
alerts (there is no traffic to measure).

Webhook URLs are never written here: each receiver reads its URL from a file mounted from the
alertmanager-slack-urls Secret (api_url_file), re-read at every notification.
"""

from __future__ import annotations

from typing import Any

from harvester_manifests.config.models import Config
from harvester_manifests.monitoring.rules import (
    API_DOWN,
    CATEGORIES,
    IDENTITY_LABELS,
    MUTED_BY_API_DOWN,
)

SLACK_DIR = "/etc/alertmanager/slack"
RECEIVERS = ("critical", "warning", "discovery", "llm")
# Categories with a channel of their own (the guide's discovery and LLM channels).
TEAM_CATEGORIES = ("discovery", "llm")
# Every other category: its criticals go to slack-critical, its warnings and infos to
# slack-warning (the root route), like an unknown category's.
SHARED_CATEGORIES = tuple(c for c in CATEGORIES if c not in TEAM_CATEGORIES)
# The pipeline's own alerts: its criticals reach the warnings channel as well.
MONITORING = "monitoring"


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
                "title": (
                    '[{{ .Status | toUpper }}{{ if eq .Status "firing" }}:'
                    "{{ .Alerts.Firing | len }}{{ end }}] {{ .CommonLabels.alertname }} "
                    "({{ .CommonLabels.severity }})"
                ),
                "title_link": "{{ (index .Alerts 0).Annotations.runbook_url }}",
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
    critical: dict[str, Any] = {
        "receiver": receiver_name("critical"),
        "matchers": ['severity="critical"'],
        "group_wait": "0s",
        "repeat_interval": am.critical_repeat_interval,
        "continue": True,
    }
    teams = [
        {"receiver": receiver_name(category), "matchers": [f'category="{category}"']}
        for category in TEAM_CATEGORIES
    ]
    # Reached by monitoring criticals too (the critical route continues): a second webhook.
    pipeline = {"receiver": receiver_name("warning"), "matchers": [f'category="{MONITORING}"']}
    muted = "|".join(MUTED_BY_API_DOWN)
    return {
        "route": {
            "receiver": receiver_name("warning"),
            "group_by": ["alertname", "category"],
            "group_wait": am.group_wait,
            "group_interval": am.group_interval,
            "repeat_interval": am.repeat_interval,
            "routes": [critical, *teams, pipeline],
        },
        "inhibit_rules": [
            {
                "source_matchers": ['severity="critical"'],
                "target_matchers": ['severity=~"warning|info"'],
                "equal": list(IDENTITY_LABELS),
            },
            {
                "source_matchers": [f'alertname="{API_DOWN}"'],
                "target_matchers": [f'alertname=~"{muted}"'],
                "equal": ["namespace"],
            },
        ],
        "receivers": [_slack(cfg, key) for key in RECEIVERS],
    }
