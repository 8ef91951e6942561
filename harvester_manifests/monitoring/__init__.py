"""Monitoring content built from the same Config as the Deployments: scrape config, alert rules,
Alertmanager routing and Grafana provisioning. A port, a path or a label can never drift."""
