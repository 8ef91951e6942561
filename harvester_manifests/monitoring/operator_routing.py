"""The routing of alertmanager.yml (routing.py) as an AlertmanagerConfig (monitoring.coreos.com
/v1alpha1) spec, for a cluster whose Alertmanager prometheus-operator runs.

A translation of `routing.alertmanager_config(cfg)`, never a second routing table: the same
routes, grouping, intervals, inhibitions and Slack message templates, in the CRD's camelCase
form. Matchers become {name, value, matchType} objects; each receiver reads its webhook URL
from the alertmanager-slack-urls Secret through a secret key selector (the key is the
receiver's channel key, as in the bundled Secret), which the operator resolves when it writes
Alertmanager's configuration.

What the operator adds, and Alertmanager then applies: a `namespace="<our namespace>"` matcher
on the top-level route and on both sides of every inhibition (only alerts of this namespace
reach these receivers), `continue: true` on the top-level route, and receiver names prefixed
with `<namespace>/<AlertmanagerConfig name>/`.
"""

from __future__ import annotations

import re
from typing import Any

from harvester_manifests import names
from harvester_manifests.config.models import Config
from harvester_manifests.monitoring.routing import alertmanager_config

_MATCHER = re.compile(r'^(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?P<op>=~|!~|!=|=)"(?P<value>.*)"$')
_ROUTE_KEYS = {
    "receiver": "receiver",
    "group_by": "groupBy",
    "group_wait": "groupWait",
    "group_interval": "groupInterval",
    "repeat_interval": "repeatInterval",
    "continue": "continue",
}
_SLACK_KEYS = {
    "channel": "channel",
    "send_resolved": "sendResolved",
    "title": "title",
    "title_link": "titleLink",
    "text": "text",
}


def matcher(text: str) -> dict[str, str]:
    """'category=~"a|b"' -> {"name": "category", "value": "a|b", "matchType": "=~"}.

    Equality leaves matchType out (the CRD's default): a YAML 1.1 reader such as PyYAML
    takes a plain `=` in kustomize's output for its "value" type and cannot load it.
    """
    found = _MATCHER.match(text)
    if found is None:
        raise ValueError(f"not a matcher routing.py writes: {text!r}")
    result = {"name": found["name"], "value": found["value"]}
    if found["op"] != "=":
        result["matchType"] = found["op"]
    return result


def _route(route: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = {_ROUTE_KEYS[k]: v for k, v in route.items() if k in _ROUTE_KEYS}
    if "matchers" in route:
        result["matchers"] = [matcher(m) for m in route["matchers"]]
    if "routes" in route:
        result["routes"] = [_route(child) for child in route["routes"]]
    unknown = set(route) - set(_ROUTE_KEYS) - {"matchers", "routes"}
    if unknown:
        raise ValueError(f"route keys without a translation: {sorted(unknown)}")
    return result


def _receiver(receiver: dict[str, Any]) -> dict[str, Any]:
    slack_configs = []
    for slack in receiver["slack_configs"]:
        key = slack["api_url_file"].rpartition("/")[2]  # the file is the Secret's key
        converted: dict[str, Any] = {"apiURL": {"name": names.SLACK_SECRET, "key": key}}
        converted |= {_SLACK_KEYS[k]: v for k, v in slack.items() if k in _SLACK_KEYS}
        unknown = set(slack) - set(_SLACK_KEYS) - {"api_url_file"}
        if unknown:
            raise ValueError(f"slack_configs keys without a translation: {sorted(unknown)}")
        slack_configs.append(converted)
    return {"name": receiver["name"], "slackConfigs": slack_configs}


def _inhibit_rule(rule: dict[str, Any]) -> dict[str, Any]:
    return {
        "sourceMatch": [matcher(m) for m in rule["source_matchers"]],
        "targetMatch": [matcher(m) for m in rule["target_matchers"]],
        "equal": list(rule["equal"]),
    }


def alertmanager_config_spec(cfg: Config) -> dict[str, Any]:
    """The AlertmanagerConfig's spec: route, receivers and inhibitRules of routing.py."""
    bundled = alertmanager_config(cfg)
    return {
        "route": _route(bundled["route"]),
        "receivers": [_receiver(r) for r in bundled["receivers"]],
        "inhibitRules": [_inhibit_rule(r) for r in bundled["inhibit_rules"]],
    }
