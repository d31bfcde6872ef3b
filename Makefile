# Panelcast — everyday commands. `make help` lists them.

GO ?= go

# The release version: the nearest v* tag without its "v" (e.g. 1.2.0, or
# 1.2.0-3-gabc1234-dirty between tags), else 0.1.0-dev. Untagged commits do
# not get a bare hash: Grafana compares the renderer's version as semver.
# Evaluated once; `make VERSION=1.2.3 package` overrides it.
ifeq ($(origin VERSION),undefined)
VERSION := $(shell git describe --tags --match 'v[0-9]*' --dirty 2>/dev/null | sed 's/^v//')
ifeq ($(VERSION),)
VERSION := 4.0.0
endif
endif
export VERSION

PLUGIN_ID   := panelcast-renderer
PLUGIN_EXE  := dist/gpx_panelcast_linux_amd64
PACKAGE_ZIP := dist/$(PLUGIN_ID)-$(VERSION).linux-amd64.zip
LDFLAGS     := -X github.com/panelcast/panelcast/pkg/buildinfo.Version=$(VERSION)
MAGE        := $(GO) run github.com/magefile/mage
FUZZTIME    ?= 10s

.DEFAULT_GOAL := help
.PHONY: help build cli plugin package console test bench run fuzz clean

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z][a-z-]*:.*## / {printf "  make %-8s %s\n", $$1, $$2}' $(MAKEFILE_LIST)
	@echo "  version: $(VERSION)"

build: cli plugin ## build bin/panelcast and the plugin executable dist/gpx_panelcast_linux_amd64

cli: ## build bin/panelcast only
	$(GO) build -trimpath -ldflags "$(LDFLAGS)" -o bin/panelcast ./pkg

# The SDK's mage target names the executable after plugin.json and stamps the
# SDK's build info (plugin id) next to our version (see Magefile.go).
plugin: ## build the plugin executable only (mage build:linux)
	GOFLAGS="$(strip $(shell $(GO) env GOFLAGS) -trimpath)" $(MAGE) -v build:linux
	@test -x $(PLUGIN_EXE) || { echo "mage did not write $(PLUGIN_EXE)" >&2; exit 1; }

package: build ## build, then write dist/panelcast-renderer-<version>.linux-amd64.zip for grafana-cli
	$(GO) run ./tools/package -version "$(VERSION)" -dist dist -os linux -arch amd64 -out "$(PACKAGE_ZIP)"

# The console is committed built (pkg/console/dist), so only changing it
# needs Node; pkg/console's test fails when dist is older than src/console.
console: ## rebuild the web console into pkg/console/dist (needs Node and npm)
	cd src/console && npm ci && npm run build

test: ## go vet, then every test (tests build the binary themselves when they need it)
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 20m ./...

bench: ## render and outbox benchmarks (tools/bench)
	$(GO) run ./tools/bench

run: build ## install Chromium if missing, render the demo panel to panel.png, show how to install the plugin
	@if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 \
	   || command -v google-chrome >/dev/null 2>&1 || [ -n "$${PANELCAST_CHROMIUM:-}" ]; then :; \
	 elif command -v apt-get >/dev/null 2>&1; then \
	   echo "Chromium not found: installing it with apt-get"; \
	   sudo=; [ "$$(id -u)" -eq 0 ] || sudo=sudo; \
	   $$sudo apt-get update && $$sudo apt-get install -y chromium fonts-dejavu-core; \
	 else \
	   echo "Chromium not found and no apt-get: install Chromium, or set PANELCAST_CHROMIUM to its path" >&2; exit 1; \
	 fi
	bin/panelcast demo -o panel.png
	@echo
	@echo "Wrote panel.png."
	@echo
	@echo "To use Panelcast as Grafana's renderer plugin (Grafana 9-12):"
	@echo "  make package        # writes $(PACKAGE_ZIP)"
	@echo "  grafana-cli --pluginUrl $(abspath $(PACKAGE_ZIP)) plugins install $(PLUGIN_ID)"
	@echo "then add to grafana.ini and restart Grafana:"
	@echo "  [plugins]"
	@echo "  allow_loading_unsigned_plugins = $(PLUGIN_ID)"
	@echo "  [plugin.$(PLUGIN_ID)]"
	@echo "  tls_mode = callback"
	@echo "Grafana 13+: run 'bin/panelcast serve' and set [rendering] server_url (see README.md)."

# Fuzz targets are found, not listed here: every Fuzz* function of every
# package runs for FUZZTIME. grep narrows the packages first so only those
# with fuzz tests pay for `go test -list` compiling their tests.
fuzz: ## run each Fuzz* target for FUZZTIME (default 10s)
	@set -e; found=0; \
	for dir in $$(grep -rl --include='*_test.go' --exclude-dir=node_modules --exclude-dir=testdata '^func Fuzz' . | xargs -r -n1 dirname | sort -u); do \
	  for fn in $$($(GO) test -list 'Fuzz.*' $$dir | grep '^Fuzz' || true); do \
	    found=1; echo "== $$dir $$fn ($(FUZZTIME))"; \
	    $(GO) test -run '^$$' -fuzz "^$$fn$$" -fuzztime $(FUZZTIME) $$dir; \
	  done; \
	done; \
	[ $$found -eq 1 ] || echo "no Fuzz* targets found"

clean: ## remove bin/, dist/ and panel.png
	rm -rf bin dist panel.png coverage.out
