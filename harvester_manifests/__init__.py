"""harvester-manifests: one typed description of Signal Harvester, rendered as Kustomize."""

__version__ = "0.1.0"
