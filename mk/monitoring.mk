# Monitoring tools: real Prometheus and Alertmanager servers (and their CLIs) for the
# tests under tests/monitoring/, built from source with the machine's Go: Prometheus
# with `go install module/cmd@version`, Alertmanager from a copy of its module source
# (see below why).
#
# Pins. Prometheus publishes Go-module tags v0.3XX.Y for its release 3.XX.Y; the
# module has no replace directives, so `go install ...@version` works, and
# v0.316.0 needs go >= 1.26.7 (this machine: 1.26.8, GOTOOLCHAIN=local).
# The web UI assets are not built in (that needs the `builtinassets` tag and
# generated files that the module zip lacks): the HTTP API is all the tests use.
PROMETHEUS_VERSION   := v0.316.0
ALERTMANAGER_VERSION := v0.35.0

# v0.316.0 -> 3.16.0 (the release that --version and the build_info metric report)
PROMETHEUS_RELEASE   := $(patsubst v0.3%,3.%,$(PROMETHEUS_VERSION))
ALERTMANAGER_RELEASE := $(patsubst v%,%,$(ALERTMANAGER_VERSION))

MONITORING_STAMPS := $(CACHE)/stamps/monitoring
MONITORING_LDFLAGS = -s -w \
	-X github.com/prometheus/common/version.Version=$(1) \
	-X github.com/prometheus/common/version.Branch=$(2) \
	-X github.com/prometheus/common/version.BuildUser=harvester-manifests

# $(call monitoring_check,BINARY,RELEASE): fail (and drop the binaries) unless
# `BINARY --version` names RELEASE.
monitoring_check = out="$$($(1) --version 2>&1 | sed -n 1p)"; \
	case "$$out" in *"version $(2) "*) echo "  $(notdir $(1)): $$out";; \
	*) echo "$(1) reports '$$out', not $(2)" >&2; rm -f $^ $(1); exit 1;; esac

comma            := ,
PROMETHEUS_TAGS  := remove_all_sd,enable_kubernetes_sd
PROMETHEUS_STAMP := $(MONITORING_STAMPS)/prometheus-$(PROMETHEUS_VERSION)+$(subst $(comma),+,$(PROMETHEUS_TAGS))

# A stamp per pin: changing a pin names a stamp that does not exist yet, so the
# binaries are rebuilt; the recipe drops the tool's other stamps so that going back
# to an older pin rebuilds too. Nothing else in this file triggers a rebuild.
$(PROMETHEUS_STAMP) \
$(MONITORING_STAMPS)/alertmanager-$(ALERTMANAGER_VERSION):
	@mkdir -p $(@D)
	@rm -f $(@D)/$(firstword $(subst -, ,$(@F)))-*
	@touch $@

# One `go install` per module builds both of its commands (shared compile work).
# Only Kubernetes service discovery is compiled in (the build tags below drop the
# cloud SDs and their SDKs): the generated config uses kubernetes_sd_configs and
# static_configs only, and a cold build takes about 2.5 minutes instead of about 9.
$(BIN)/prometheus $(BIN)/promtool &: $(PROMETHEUS_STAMP)
	CGO_ENABLED=0 go install -trimpath -tags $(PROMETHEUS_TAGS) \
		-ldflags '$(call MONITORING_LDFLAGS,$(PROMETHEUS_RELEASE),$(PROMETHEUS_VERSION))' \
		github.com/prometheus/prometheus/cmd/prometheus@$(PROMETHEUS_VERSION) \
		github.com/prometheus/prometheus/cmd/promtool@$(PROMETHEUS_VERSION)
	@touch $(BIN)/prometheus $(BIN)/promtool
	@$(call monitoring_check,$(BIN)/prometheus,$(PROMETHEUS_RELEASE))
	@$(call monitoring_check,$(BIN)/promtool,$(PROMETHEUS_RELEASE))

# Alertmanager >= v0.32 embeds its web UI with `//go:embed app/dist`, and the module
# zip ships no app/dist (it is built by npm in their release pipeline), so
# `go install .../cmd/alertmanager@v0.35.0` fails with "pattern app/dist: no matching
# files found" (up to v0.31.x the UI was committed Go code; `go build -overlay` may
# not replace files in GOMODCACHE). So: copy the module source at the pin out of
# the module cache, put a one-page placeholder UI in app/dist, and build from there,
# with the module's own go.mod/go.sum (same dependencies as `go install` would use).
ALERTMANAGER_SRC := $(CACHE)/src/alertmanager@$(ALERTMANAGER_VERSION)
ALERTMANAGER_UI_PLACEHOLDER := <!doctype html><title>Alertmanager</title><p>Web UI not built in (harvester-manifests test build): use the HTTP API under /api/v2/.</p>

$(BIN)/alertmanager $(BIN)/amtool &: $(MONITORING_STAMPS)/alertmanager-$(ALERTMANAGER_VERSION)
	rm -rf $(CACHE)/src/alertmanager@*
	mkdir -p $(CACHE)/src
	dir="$$(go mod download -json github.com/prometheus/alertmanager@$(ALERTMANAGER_VERSION) \
		| sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$$/\1/p')" && test -d "$$dir" \
		&& cp -R "$$dir" $(ALERTMANAGER_SRC)
	chmod -R u+w $(ALERTMANAGER_SRC)
	for ui in elm mantine; do mkdir -p $(ALERTMANAGER_SRC)/ui/app/dist/$$ui \
		&& echo '$(ALERTMANAGER_UI_PLACEHOLDER)' > $(ALERTMANAGER_SRC)/ui/app/dist/$$ui/index.html; done
	cd $(ALERTMANAGER_SRC) && CGO_ENABLED=0 go install -trimpath -mod=readonly \
		-ldflags '$(call MONITORING_LDFLAGS,$(ALERTMANAGER_RELEASE),$(ALERTMANAGER_VERSION))' \
		./cmd/alertmanager ./cmd/amtool
	@touch $(BIN)/alertmanager $(BIN)/amtool
	@$(call monitoring_check,$(BIN)/alertmanager,$(ALERTMANAGER_RELEASE))
	@$(call monitoring_check,$(BIN)/amtool,$(ALERTMANAGER_RELEASE))

MONITORING_TOOLS := $(BIN)/prometheus $(BIN)/promtool $(BIN)/alertmanager $(BIN)/amtool
TOOLS += $(MONITORING_TOOLS)

# The same targets by their relative names: `make bin/prometheus`.
$(patsubst $(ROOT)/%,%,$(MONITORING_TOOLS)): %: $(ROOT)/%
