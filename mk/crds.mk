# Custom resource schemas: kubeconform's offline JSON schemas for the CRDs the output
# uses (Argo CD, External Secrets, Sealed Secrets), converted by tools/crd_schemas.py
# from each project's own CRD YAML at a pinned version. The YAML comes from the Go
# module proxy (`go mod download -json MODULE@VERSION`, checksummed by the Go
# toolchain); nothing is hand-written and nothing is fetched at validation time.
#
# To add a project: one line `MODULE@VERSION:GLOB[,GLOB...]` in CRD_SOURCES, the
# globs (fnmatch, `*` crosses `/`) relative to the module's root.
# - Argo CD v3.3.9: the same pin that toolchain notes give for building Argo CD itself.
# - External Secrets v0.16.2: kubebuilder output under config/crds/bases (the
#   external-secrets.io group only; the generator CRDs are not used).
# - Sealed Secrets v0.27.1 (kubeseal's pin): the module ships its CRD only in the
#   Helm chart, helm/sealed-secrets/crds/ (controller-gen output).
# - prometheus-operator v0.85.0 (monitoring.mode operator: ServiceMonitor, PrometheusRule,
#   AlertmanagerConfig): the same pin as the operator the e2e tests run
#   (e2e/operator/go.mod); example/prometheus-operator-crd/ is controller-gen output.
CRD_SOURCES := \
	github.com/argoproj/argo-cd/v3@v3.3.9:manifests/crds/*-crd.yaml \
	github.com/external-secrets/external-secrets@v0.16.2:config/crds/bases/external-secrets.io_*.yaml \
	github.com/bitnami-labs/sealed-secrets@v0.27.1:helm/sealed-secrets/crds/bitnami.com_sealedsecrets.yaml \
	github.com/prometheus-operator/prometheus-operator@v0.85.0:example/prometheus-operator-crd/monitoring.coreos.com_*.yaml

# The cache (layout in tools/crd_schemas.py): schemas under standalone{,-strict}/,
# the CRD files as downloaded under crds/ (the e2e harness installs those).
CRD_SCHEMAS := $(CACHE)/crd-schemas
# One stamp per pin, named MODULE(/ as +)@VERSION: changing or adding a pin names a
# stamp that does not exist yet, so the whole cache is rebuilt (in seconds); so
# does a change of the script. The script writes the stamps last.
crd_stamp          = $(CRD_SCHEMAS)/.stamps/$(subst /,+,$(firstword $(subst :, ,$(1))))
CRD_SCHEMAS_STAMPS := $(foreach source,$(CRD_SOURCES),$(call crd_stamp,$(source)))

$(CRD_SCHEMAS_STAMPS) &: $(ROOT)/tools/crd_schemas.py $(ROOT)/tools/cache_dir.py | $(VENV)/.installed
	$(PY) $(ROOT)/tools/crd_schemas.py --out $(CRD_SCHEMAS) $(foreach source,$(CRD_SOURCES),'$(source)')
	@touch $(CRD_SCHEMAS_STAMPS)

VALIDATE_TOOLS += $(CRD_SCHEMAS_STAMPS)
TOOLS += $(CRD_SCHEMAS_STAMPS)

.PHONY: crd-schemas
crd-schemas: $(CRD_SCHEMAS_STAMPS) ## (re)build the offline CRD schemas in .cache/crd-schemas
