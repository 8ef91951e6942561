# Secret delivery: kubeseal seals values for `secrets: {mode: sealed-secrets}` (render calls it,
# offline, with the certificate the overlay or --seal-cert names), and the tests use it to unseal
# with a throwaway private key (--recovery-unseal). Built with `go install` at a pinned version.
#
# Pin: v0.27.1. Newer releases (v0.28+) declare the module path github.com/bitnami/sealed-secrets,
# which the module proxy refuses under the path their go.mod names; v0.27.1 still builds as
# github.com/bitnami-labs/sealed-secrets. tests/test_secret_delivery.py reads the pin below: keep
# the `KUBESEAL_VERSION := vX.Y.Z` form.
KUBESEAL_VERSION := v0.27.1
KUBESEAL_STAMP   := $(CACHE)/stamps/secrets/kubeseal@$(KUBESEAL_VERSION)

$(KUBESEAL_STAMP):
	@mkdir -p $(@D)
	@rm -f $(@D)/kubeseal@*
	@touch $@

# kubeseal prints its version from main.VERSION.
$(BIN)/kubeseal: $(KUBESEAL_STAMP)
	CGO_ENABLED=0 go install -trimpath -ldflags '-s -w -X main.VERSION=$(KUBESEAL_VERSION)' \
		github.com/bitnami-labs/sealed-secrets/cmd/kubeseal@$(KUBESEAL_VERSION)
	@touch $@
	@out="$$($@ --version 2>&1 | sed -n 1p)"; case "$$out" in \
		*"$(patsubst v%,%,$(KUBESEAL_VERSION))"*) echo "  kubeseal: $$out";; \
		*) echo "kubeseal reports '$$out', not $(KUBESEAL_VERSION)" >&2; rm -f $@; exit 1;; esac

# Render needs it only for sealed-secrets environments, and the tests always: TOOLS, not
# VALIDATE_TOOLS (validating a rendered tree never seals).
TOOLS += $(BIN)/kubeseal

# The same target by its relative name: `make bin/kubeseal`.
bin/kubeseal: $(BIN)/kubeseal
