# prometheus-operator for the operator-mode tests (monitoring.mode: operator): the real
# operator, run out of cluster against the e2e kube-apiserver, turns the rendered
# ServiceMonitor, PrometheusRule and AlertmanagerConfig into the Prometheus and
# Alertmanager configuration it writes into Secrets (tests/e2e/test_operator.py).
#
# Pin: github.com/prometheus-operator/prometheus-operator v0.85.0, in the wrapper module
# e2e/operator/ (go.mod + go.sum, committed). `go install .../cmd/operator@v0.85.0`
# refuses: the module's go.mod replaces its sub-modules pkg/apis/monitoring and
# pkg/client with local paths, so the wrapper requires both at v0.85.0 from the proxy.
# The binary is rebuilt only when go.mod or go.sum change; the build checks the version
# that `--version` reports.
#
# The same pin gives the CRDs: mk/crds.mk's table lists the module's
# example/prometheus-operator-crd/, whose files tools/crd_schemas.py converts into
# kubeconform schemas and keeps under .cache/crd-schemas/crds/ (the e2e API server
# installs them before it applies an operator-mode environment).

OPERATOR_MOD       := $(ROOT)/e2e/operator
OPERATOR_MOD_FILES := $(OPERATOR_MOD)/go.mod $(OPERATOR_MOD)/go.sum
OPERATOR_MODULE    := github.com/prometheus-operator/prometheus-operator
OPERATOR_VERSION   := $(shell awk '$$1 == "$(OPERATOR_MODULE)" { print $$2 }' $(OPERATOR_MOD)/go.mod)
# Upstream's release build stamps prometheus/common's version variables the same way.
OPERATOR_LDFLAGS := -s -w -X github.com/prometheus/common/version.Version=$(patsubst v%,%,$(OPERATOR_VERSION)) \
	-X github.com/prometheus/common/version.Branch=$(OPERATOR_VERSION) \
	-X github.com/prometheus/common/version.BuildUser=harvester-manifests

$(BIN)/prometheus-operator: $(OPERATOR_MOD_FILES)
	cd $(OPERATOR_MOD) && CGO_ENABLED=0 go build -mod=readonly -trimpath \
		-ldflags '$(OPERATOR_LDFLAGS)' -o $@ $(OPERATOR_MODULE)/cmd/operator
	@touch $@
	@out="$$($@ --version 2>&1 | sed -n 1p)"; case "$$out" in \
		*"version $(patsubst v%,%,$(OPERATOR_VERSION))"*) echo "  $(notdir $@): $$out";; \
		*) echo "$@ reports '$$out', not $(OPERATOR_VERSION)" >&2; rm -f $@; exit 1;; esac

OPERATOR_TOOLS := $(BIN)/prometheus-operator
TOOLS += $(OPERATOR_TOOLS)

# The same target by its relative name: `make bin/prometheus-operator`.
bin/prometheus-operator: $(BIN)/prometheus-operator
