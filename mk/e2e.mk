# e2e: every rendered environment applied to a real kube-apiserver + etcd on
# loopback (no kubelet, no containers). See e2e/README.md.
#
# The pins live in e2e/apiserver/go.mod (+ go.sum): k8s.io/kubernetes gives
# kube-apiserver and kubectl, go.etcd.io/etcd/server/v3 gives etcd. They are
# built with `go build` inside that wrapper module (`go install` refuses both:
# their go.mod files replace sibling modules with local paths). A binary is
# rebuilt only when go.mod or go.sum change (the version stamps below come from
# go.mod too); each build checks the version the binary reports.

E2E_MOD         := $(ROOT)/e2e/apiserver
E2E_MOD_FILES   := $(E2E_MOD)/go.mod $(E2E_MOD)/go.sum
E2E_K8S_VERSION := $(shell awk '$$1 == "k8s.io/kubernetes" { print $$2 }' $(E2E_MOD)/go.mod)
E2E_K8S_MINOR   := $(word 2,$(subst ., ,$(E2E_K8S_VERSION)))
# What `kube-apiserver --version`, `kubectl version` and /version report
# (upstream's release build stamps the same variables).
E2E_VERSION_PKGS := k8s.io/component-base/version k8s.io/client-go/pkg/version
E2E_LDFLAGS     := -s -w $(foreach p,$(E2E_VERSION_PKGS),\
	-X $(p).gitVersion=$(E2E_K8S_VERSION) -X $(p).gitMajor=1 -X $(p).gitMinor=$(E2E_K8S_MINOR) \
	-X $(p).gitTreeState=clean)
# CGO off, as upstream's release builds: static binaries, no C compiler needed.
# -mod=readonly: a go.mod/go.sum that does not match fails the build.
E2E_GOBUILD     := cd $(E2E_MOD) && CGO_ENABLED=0 go build -mod=readonly -trimpath \
	-ldflags '$(E2E_LDFLAGS)'
# `go build -o` leaves an up-to-date binary untouched: touch it for make.
e2e_check = @touch $@ && out="$$($(1) 2>&1 | sed -n 1p)"; case "$$out" in \
	*"$(2)"*) echo "  $(notdir $@): $$out";; \
	*) echo "$(notdir $@) reports '$$out', not $(2)" >&2; rm -f $@; exit 1;; esac
E2E_ETCD_VERSION := $(shell awk '$$1 == "go.etcd.io/etcd/server/v3" { print $$2 }' $(E2E_MOD)/go.mod)

# kubectl gets its own name so it never shadows the kubectl on PATH for the
# other targets (bin/ is first on PATH): the harness calls it by full path.
E2E_TOOLS := $(BIN)/kube-apiserver $(BIN)/etcd $(BIN)/e2e-kubectl
TOOLS += $(E2E_TOOLS)

# The same targets by their relative names: `make bin/kube-apiserver`.
$(patsubst $(ROOT)/%,%,$(E2E_TOOLS)): %: $(ROOT)/%

$(BIN)/kube-apiserver: $(E2E_MOD_FILES)
	$(E2E_GOBUILD) -o $@ k8s.io/kubernetes/cmd/kube-apiserver
	$(call e2e_check,$@ --version,Kubernetes $(E2E_K8S_VERSION))

$(BIN)/e2e-kubectl: $(E2E_MOD_FILES)
	$(E2E_GOBUILD) -o $@ k8s.io/kubernetes/cmd/kubectl
	$(call e2e_check,$@ version --client,Client Version: $(E2E_K8S_VERSION))

$(BIN)/etcd: $(E2E_MOD_FILES)
	$(E2E_GOBUILD) -o $@ go.etcd.io/etcd/server/v3
	$(call e2e_check,$@ --version,etcd Version: $(patsubst v%,%,$(E2E_ETCD_VERSION)))

.PHONY: e2e
e2e: setup ## apply every build/<env> to a real kube-apiserver + etcd on loopback
	$(PY) -m pytest $(PYTEST_WORKERS) tests/e2e
