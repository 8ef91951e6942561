# GitOps e2e: the real Argo CD and External Secrets Operator, run as plain processes
# against the loopback kube-apiserver of mk/e2e.mk (see e2e/README.md). Tests only:
# nothing here is needed by `harvester-gen validate`, so TOOLS only.
#
# Pins live in the wrapper modules e2e/argocd/go.mod and e2e/eso/go.mod (+ go.sum).
# Both are built with `go build -mod=readonly` there, never `go install`: argo-cd
# replaces github.com/argoproj/gitops-engine with a local ./gitops-engine path, and
# external-secrets replaces Masterminds/sprig with its fork; `go install` refuses a
# module with replace directives. A binary is rebuilt only when its go.mod or go.sum
# changes, and each build checks the version it was built at.
#
# Argo CD is one binary that acts as each component by its file name: bin/argocd
# (the CLI) plus symlinks for the two components the harness runs.
# Redis, which Argo CD needs as its cache, is Debian's redis-server (installed with
# apt-get when missing).

ARGOCD_MOD        := $(ROOT)/e2e/argocd
ARGOCD_MOD_FILES  := $(ARGOCD_MOD)/go.mod $(ARGOCD_MOD)/go.sum
ARGOCD_VERSION    := $(shell awk '$$1 == "github.com/argoproj/argo-cd/v3" && $$2 ~ /^v/ { print $$2 }' $(ARGOCD_MOD)/go.mod)
ESO_MOD           := $(ROOT)/e2e/eso
ESO_MOD_FILES     := $(ESO_MOD)/go.mod $(ESO_MOD)/go.sum
ESO_MODULE        := github.com/external-secrets/external-secrets
ESO_VERSION       := $(shell awk '$$1 == "$(ESO_MODULE)" && $$2 ~ /^v/ { print $$2 }' $(ESO_MOD)/go.mod)

# What `argocd version --client` reports (upstream's Makefile stamps the same variable).
ARGOCD_LDFLAGS    := -s -w -X github.com/argoproj/argo-cd/v3/common.version=$(patsubst v%,%,$(ARGOCD_VERSION)) \
	-X github.com/argoproj/argo-cd/v3/common.gitTreeState=clean
GITOPS_GOBUILD    := CGO_ENABLED=0 go build -mod=readonly -trimpath

ARGOCD_COMPONENTS := argocd-repo-server argocd-application-controller
ARGOCD_LINKS      := $(addprefix $(BIN)/,$(ARGOCD_COMPONENTS))

# The manifests the harness installs come from the pinned modules themselves, never
# written by hand: Argo CD's manifests/install.yaml (CRDs, argocd-cm, argocd-rbac-cm,
# argocd-secret, argocd-cmd-params-cm, RBAC) and ESO's deploy/crds/bundle.yaml.
GITOPS_CACHE      := $(CACHE)/e2e-gitops
ARGOCD_INSTALL    := $(GITOPS_CACHE)/argocd-$(ARGOCD_VERSION)-install.yaml
ESO_CRDS          := $(GITOPS_CACHE)/external-secrets-$(ESO_VERSION)-crds.yaml
# $(call gitops_module_dir,WRAPPER,MODULE): where the module cache holds MODULE at
# the version WRAPPER's go.sum pins (downloading it if needed).
gitops_module_dir = $$(cd $(1) && go mod download -json $(2) \
	| sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$$/\1/p')

REDIS_SERVER      := /usr/bin/redis-server

$(BIN)/argocd: $(ARGOCD_MOD_FILES)
	cd $(ARGOCD_MOD) && $(GITOPS_GOBUILD) -ldflags '$(ARGOCD_LDFLAGS)' -o $@ github.com/argoproj/argo-cd/v3/cmd
	$(call e2e_check,$@ version --client --short,argocd: $(ARGOCD_VERSION))

$(ARGOCD_LINKS): $(BIN)/argocd
	ln -sf argocd $@

# ESO prints no version: the check reads the main module's version from the build info
# (built as a tool of the wrapper, the binary records ESO itself as its `mod`).
$(BIN)/external-secrets: $(ESO_MOD_FILES)
	cd $(ESO_MOD) && $(GITOPS_GOBUILD) -ldflags '-s -w' -o $@ $(ESO_MODULE)
	$(call e2e_check,go version -m $@ | awk '$$1 == "mod" && $$2 == "$(ESO_MODULE)" { print $$2 "@" $$3 }',$(ESO_MODULE)@$(ESO_VERSION))

$(ARGOCD_INSTALL): $(ARGOCD_MOD_FILES)
	@mkdir -p $(@D) && rm -f $(@D)/argocd-*-install.yaml
	dir="$(call gitops_module_dir,$(ARGOCD_MOD),github.com/argoproj/argo-cd/v3)" && \
		test -f "$$dir/manifests/install.yaml" && cp "$$dir/manifests/install.yaml" $@.tmp
	@chmod u+w $@.tmp && mv $@.tmp $@

$(ESO_CRDS): $(ESO_MOD_FILES)
	@mkdir -p $(@D) && rm -f $(@D)/external-secrets-*-crds.yaml
	dir="$(call gitops_module_dir,$(ESO_MOD),$(ESO_MODULE))" && \
		test -f "$$dir/deploy/crds/bundle.yaml" && cp "$$dir/deploy/crds/bundle.yaml" $@.tmp
	@chmod u+w $@.tmp && mv $@.tmp $@

$(REDIS_SERVER):
	command -v redis-server >/dev/null || { apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server; }
	@redis-server --version

# Argo CD prunes with foreground propagation and waits until the object is gone; only
# the garbage collector of kube-controller-manager removes the foregroundDeletion
# finalizer. The harness runs it with that one controller. Same pins as the API
# server (a `tool` of e2e/apiserver/go.mod), built like it (mk/e2e.mk).
$(BIN)/kube-controller-manager: $(E2E_MOD_FILES)
	$(E2E_GOBUILD) -o $@ k8s.io/kubernetes/cmd/kube-controller-manager
	$(call e2e_check,$@ --version,Kubernetes $(E2E_K8S_VERSION))

GITOPS_TOOLS := $(BIN)/argocd $(ARGOCD_LINKS) $(BIN)/external-secrets $(BIN)/kube-controller-manager
TOOLS += $(GITOPS_TOOLS) $(ARGOCD_INSTALL) $(ESO_CRDS) $(REDIS_SERVER)

# The same targets by their relative names: `make bin/argocd`.
$(patsubst $(ROOT)/%,%,$(GITOPS_TOOLS)): %: $(ROOT)/%
