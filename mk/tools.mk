# Manifest tools: kustomize, kubeconform, kube-score and kube-linter, built from
# source into bin/ with the machine's Go (GOTOOLCHAIN=local: no other toolchain is
# ever fetched), plus the offline Kubernetes JSON schemas kubeconform validates
# against (.cache/k8s-schemas, built from the kubernetes-validate package pinned in
# pyproject.toml). tests/test_toolchain.py reads the pins below: keep the
# `NAME_VERSION := vX.Y.Z` form.
#
# Pins, and why these:
# - kustomize v5.8.2: v5.8.3 (newest on the proxy) requires go >= 1.27.0; v5.8.2
#   needs 1.26.0. Its `version` reads the module version from the build info; the
#   -X below says the same thing for builds that lack it.
# - kubeconform v0.8.0: newest; prints "development" unless main.version is set.
# - kube-score v1.20.0: newest; same, main.version.
# - kube-linter v0.8.3: `go install <module>/cmd/kube-linter@version` cannot work.
#   The module calls itself golang.stackrox.io/kube-linter, and the proxy answers
#   403 for that path (every version). Under github.com/stackrox/kube-linter, where
#   the proxy serves it, it has no version list (403), and go install refuses the
#   path because its go.mod names the other one. So it is built inside a throwaway
#   wrapper module (written below, under .cache/) that requires the real path and
#   replaces it with the github.com copy of the same version.
KUSTOMIZE_VERSION   := v5.8.2
KUBECONFORM_VERSION := v0.8.0
KUBE_SCORE_VERSION  := v1.20.0
KUBE_LINTER_VERSION := v0.8.3

TOOLS_STAMPS   := $(CACHE)/stamps/tools
TOOLS_GOFLAGS  := -trimpath
# The recipes run with CGO off: static binaries, no C compiler needed.
TOOLS_GO       := CGO_ENABLED=0 go
# $(call tool_stamp,NAME,VERSION): the file that records "NAME is pinned at VERSION".
tool_stamp      = $(TOOLS_STAMPS)/$(1)@$(2)
# $(call check_version,COMMAND,EXPECTED): fail (and drop the binary) unless the
# first line COMMAND prints contains EXPECTED. Every version check in mk/ takes that line
# with `sed -n 1p`, never `head -n1`: head exits after one line, a tool that prints more
# then dies of SIGPIPE, and pipefail fails the build (seen: kubectl version, exit 141).
check_version   = out="$$($(1) 2>&1 | sed -n 1p)"; \
	case "$$out" in *"$(2)"*) echo "  $(notdir $@): $$out";; \
	*) echo "$(notdir $@) reports '$$out', not $(2)" >&2; rm -f $@; exit 1;; esac

KUSTOMIZE_STAMP   := $(call tool_stamp,kustomize,$(KUSTOMIZE_VERSION))
KUBECONFORM_STAMP := $(call tool_stamp,kubeconform,$(KUBECONFORM_VERSION))
KUBE_SCORE_STAMP  := $(call tool_stamp,kube-score,$(KUBE_SCORE_VERSION))
KUBE_LINTER_STAMP := $(call tool_stamp,kube-linter,$(KUBE_LINTER_VERSION))

# A stamp per pin: changing a pin names a stamp that does not exist yet, so the
# binary is rebuilt; the recipe drops the tool's other stamps, so that going back to
# an older pin rebuilds too. With nothing changed, `make tools` does nothing.
$(KUSTOMIZE_STAMP) $(KUBECONFORM_STAMP) $(KUBE_SCORE_STAMP) $(KUBE_LINTER_STAMP):
	@mkdir -p $(@D)
	@rm -f $(@D)/$(firstword $(subst @, ,$(@F)))@*
	@touch $@

$(BIN)/kustomize: $(KUSTOMIZE_STAMP)
	$(TOOLS_GO) install $(TOOLS_GOFLAGS) \
		-ldflags '-s -w -X sigs.k8s.io/kustomize/api/provenance.version=$(KUSTOMIZE_VERSION)' \
		sigs.k8s.io/kustomize/kustomize/v5@$(KUSTOMIZE_VERSION)
	@touch $@
	@$(call check_version,$@ version,$(KUSTOMIZE_VERSION))

$(BIN)/kubeconform: $(KUBECONFORM_STAMP)
	$(TOOLS_GO) install $(TOOLS_GOFLAGS) -ldflags '-s -w -X main.version=$(KUBECONFORM_VERSION)' \
		github.com/yannh/kubeconform/cmd/kubeconform@$(KUBECONFORM_VERSION)
	@touch $@
	@$(call check_version,$@ -v,$(KUBECONFORM_VERSION))

$(BIN)/kube-score: $(KUBE_SCORE_STAMP)
	$(TOOLS_GO) install $(TOOLS_GOFLAGS) -ldflags '-s -w -X main.version=$(KUBE_SCORE_VERSION)' \
		github.com/zegl/kube-score/cmd/kube-score@$(KUBE_SCORE_VERSION)
	@touch $@
	@$(call check_version,$@ version,$(KUBE_SCORE_VERSION))

KUBE_LINTER_MODULE  := golang.stackrox.io/kube-linter
KUBE_LINTER_SOURCE  := github.com/stackrox/kube-linter
KUBE_LINTER_WRAPPER := $(CACHE)/go/kube-linter
$(BIN)/kube-linter: $(KUBE_LINTER_STAMP)
	@rm -rf $(KUBE_LINTER_WRAPPER) && mkdir -p $(KUBE_LINTER_WRAPPER)
	@printf '%s\n' 'module harvester-manifests/kube-linter' 'go 1.26' \
		'tool $(KUBE_LINTER_MODULE)/cmd/kube-linter' \
		'require $(KUBE_LINTER_MODULE) $(KUBE_LINTER_VERSION)' \
		'replace $(KUBE_LINTER_MODULE) => $(KUBE_LINTER_SOURCE) $(KUBE_LINTER_VERSION)' \
		> $(KUBE_LINTER_WRAPPER)/go.mod
	cd $(KUBE_LINTER_WRAPPER) && $(TOOLS_GO) mod tidy && $(TOOLS_GO) install $(TOOLS_GOFLAGS) \
		-ldflags '-s -w -X $(KUBE_LINTER_MODULE)/internal/version.version=$(KUBE_LINTER_VERSION)' \
		$(KUBE_LINTER_MODULE)/cmd/kube-linter
	@touch $@
	@$(call check_version,$@ version,$(KUBE_LINTER_VERSION))

# Offline schemas: rebuilt when the script or the kubernetes-validate pin changes.
# The script swaps the whole folder in, so the stamp is written inside it afterwards.
K8S_VALIDATE_VERSION := $(shell sed -n 's/^ *"kubernetes-validate==\([^"]*\)".*/\1/p' \
	$(ROOT)/pyproject.toml)
K8S_SCHEMAS       := $(CACHE)/k8s-schemas
K8S_SCHEMAS_STAMP := $(K8S_SCHEMAS)/.built-kubernetes-validate-$(K8S_VALIDATE_VERSION)

# The script reads the schemas out of the kubernetes-validate package: `make validate`
# installs just that package into the runtime venv (the dev extra pins the same version),
# so validating needs neither pytest nor mypy.
K8S_VALIDATE_PKG := $(VENV)/.installed-kubernetes-validate-$(K8S_VALIDATE_VERSION)
$(K8S_VALIDATE_PKG): $(VENV_RUNTIME)
	$(PIP) 'kubernetes-validate==$(K8S_VALIDATE_VERSION)'
	@touch $@

$(K8S_SCHEMAS_STAMP): $(ROOT)/tools/k8s_schemas.py $(ROOT)/tools/cache_dir.py | $(K8S_VALIDATE_PKG)
	$(PY) $(ROOT)/tools/k8s_schemas.py --out $(K8S_SCHEMAS) \
		--require-package-version $(K8S_VALIDATE_VERSION)
	@touch $@

MANIFEST_TOOLS := $(BIN)/kustomize $(BIN)/kubeconform $(BIN)/kube-score $(BIN)/kube-linter
# `harvester-gen validate` runs kustomize and kubeconform against the schemas; the
# linters are for the tests only.
VALIDATE_TOOLS += $(BIN)/kustomize $(BIN)/kubeconform $(K8S_SCHEMAS_STAMP)
TOOLS += $(MANIFEST_TOOLS) $(K8S_SCHEMAS_STAMP)

# The same targets by their relative names: `make bin/kubeconform`.
$(patsubst $(ROOT)/%,%,$(MANIFEST_TOOLS)): %: $(ROOT)/%

.PHONY: schemas
schemas: $(K8S_SCHEMAS_STAMP) ## offline Kubernetes JSON schemas for kubeconform (.cache/k8s-schemas)
