# Panelcast — everyday commands. `make help` lists them.

GO ?= go

# The release version: the nearest v* tag without its "v" (e.g. 4.1.0, or
# 4.1.0-3-gabc1234-dirty between tags), else 4.0.0. It names the zip and is
# what `panelcast version` prints; plugin.json gets its MAJOR.MINOR.PATCH
# alone (tools/package), because Grafana's semver gates refuse pre-releases.
# Evaluated once; `make VERSION=4.2.0 package` overrides it.
ifeq ($(origin VERSION),undefined)
VERSION := $(shell git describe --tags --match 'v[0-9]*' --dirty 2>/dev/null | sed 's/^v//')
ifeq ($(VERSION),)
VERSION := 4.0.0
endif
endif
override VERSION := $(patsubst v%,%,$(VERSION))
export VERSION

PLUGIN_EXE  := dist/gpx_panelcast_linux_amd64
APP_EXE     := dist/gpx_panelcast_app_linux_amd64
# The platforms the zips are for, as GOOS/GOARCH and as the SDK's mage
# targets that build them (ARM is v7): the renderer where Debian ships a
# Chromium, the app, whose backend renders through Grafana, wherever
# Grafana runs.
RENDERER_PLATFORMS := linux/amd64 linux/arm64 linux/arm
APP_PLATFORMS      := $(RENDERER_PLATFORMS) darwin/amd64 darwin/arm64 windows/amd64
mage_target = $(patsubst linux/amd64,build:linux,$(patsubst linux/arm64,build:linuxARM64,$(patsubst linux/arm,build:linuxARM,\
  $(patsubst darwin/amd64,build:darwin,$(patsubst darwin/arm64,build:darwinARM64,$(patsubst windows/amd64,build:windows,$(1)))))))
comma := ,
space := $(subst ,, )
LDFLAGS     := -X github.com/panelcast/panelcast/pkg/buildinfo.Version=$(VERSION)
MAGE        := $(GO) run github.com/magefile/mage
FUZZTIME    ?= 10s

.DEFAULT_GOAL := help
.PHONY: help build cli plugin package linux-packages release console frontend frontend-test test check generate docs bench run screenshots fuzz clean

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

# The app's backend is the same program under the app's executable name:
# the SDK's mage target reads "executable" from src/plugin.json.
.PHONY: app-plugin
app-plugin: ## build the app plugin's executable only (dist/gpx_panelcast_app_linux_amd64)
	PANELCAST_PLUGIN_DIR=src GOFLAGS="$(strip $(shell $(GO) env GOFLAGS) -trimpath)" $(MAGE) -v build:linux
	@test -x $(APP_EXE) || { echo "mage did not write $(APP_EXE)" >&2; exit 1; }

# Zips for grafana-cli --pluginUrl, named as Grafana names its own:
# <id>-<version>.<os>_<arch>.zip for each platform and <id>-<version>.zip
# with all, each with a .sha256; the app's around the frontend build in
# dist/ (make frontend), which package never runs. CGO is off (the SDK's
# mage targets), so every platform cross-compiles here; the first run
# compiles for six platforms and takes minutes.
package: ## write dist/panelcast-{renderer,app}-<version>.<os>_<arch>.zip for every platform, and one zip each with all
	@test -f dist/module.js -a -f dist/plugin.json || { echo "dist/ has no app frontend build (module.js, plugin.json): run make frontend first" >&2; exit 1; }
	GOARM=7 GOFLAGS="$(strip $(shell $(GO) env GOFLAGS) -trimpath)" $(MAGE) -v $(call mage_target,$(RENDERER_PLATFORMS))
	PANELCAST_PLUGIN_DIR=src GOARM=7 GOFLAGS="$(strip $(shell $(GO) env GOFLAGS) -trimpath)" $(MAGE) -v $(call mage_target,$(APP_PLATFORMS))
	$(GO) run ./tools/package -version "$(VERSION)" -dist dist -platforms "$(subst $(space),$(comma),$(RENDERER_PLATFORMS))"
	$(GO) run ./tools/package -version "$(VERSION)" -dist dist -platforms "$(subst $(space),$(comma),$(APP_PLATFORMS))" -frontend dist -readme tools/package/app-README.md

# A release is built from a clean tree at its tag v<version> (tools/release
# check says what is wrong otherwise; ALLOW_DIRTY=1 tries the build on work
# in progress, VERSION=4.1.0 names the version then). dist/ is made afresh:
# the frontend, every zip, the Linux packages, SHA256SUMS over them, and
# release-notes.md, the version's CHANGELOG.md section. The dates in
# plugin.json and the zips are the commit's (SOURCE_DATE_EPOCH).
release: export SOURCE_DATE_EPOCH := $(shell git log -1 --format=%ct 2>/dev/null)
release: ## from a clean tree at a v* tag: every zip, the Linux packages, SHA256SUMS and the release notes into dist/
	$(GO) run ./tools/release check -version "$(VERSION)" $(if $(ALLOW_DIRTY),-allow-dirty)
	rm -rf dist
	@$(MAKE) --no-print-directory frontend package
	@$(MAKE) --no-print-directory linux-packages
	$(GO) run ./tools/release notes "$(VERSION)" > dist/release-notes.md
	cd dist && sha256sum $$(ls *.zip *.deb *.rpm 2>/dev/null) > SHA256SUMS
	@echo "dist/ holds the release $(VERSION):"; cd dist && ls -l $$(ls *.zip *.zip.sha256 *.deb *.rpm 2>/dev/null) SHA256SUMS release-notes.md

# The service's deb and rpm for each architecture, built by nfpm in
# tools/check/linuxpkg (a program of the tools module, so nfpm stays out of
# go.mod), around a static binary and the man page tools/manpage writes
# from the CLI's help. -s -w drop the symbol table and DWARF, which lintian
# and rpmlint refuse in a packaged binary (48 MB instead of 68 MB; panics
# still print their stacks). `make release` calls this; the test in
# deploy/packages_test.go runs it with LINUX_OUT and LINUX_BUILD in a
# temporary directory.
LINUX_ARCHES ?= amd64 arm64
LINUX_OUT    ?= dist
LINUX_BUILD  ?= bin/linux
linux-packages: ## write dist/panelcast_<version>_<arch>.deb and dist/panelcast-<version>-1.<arch>.rpm for amd64 and arm64
	@mkdir -p "$(LINUX_OUT)" "$(LINUX_BUILD)"
	$(GO) run ./tools/manpage -version "$(VERSION)" -out "$(LINUX_BUILD)/panelcast.1"
	@set -e; for arch in $(LINUX_ARCHES); do \
	  echo "== linux/$$arch"; \
	  CGO_ENABLED=0 GOOS=linux GOARCH=$$arch $(GO) build -trimpath -ldflags "-s -w $(LDFLAGS)" -o "$(LINUX_BUILD)/$$arch/panelcast" ./pkg; \
	  $(GO) -C tools/check run ./linuxpkg -version "$(VERSION)" -arch "$$arch" -src "$(CURDIR)" -out "$(abspath $(LINUX_OUT))" \
	    -bin "$(abspath $(LINUX_BUILD))/$$arch/panelcast" -man "$(abspath $(LINUX_BUILD))/panelcast.1"; \
	done

# The console is committed built (pkg/console/dist), so only changing it
# needs Node; pkg/console's test fails when dist is older than src/console.
console: ## rebuild the web console into pkg/console/dist (needs Node and npm)
	cd src/console && npm ci && npm run build

# The app plugin's frontend (panelcast-app: "Send to chat…" in the panel
# menu, its settings page): src/module.ts and src/plugin.json into
# dist/module.js, dist/plugin.json and dist/img/ (the Go executables in
# dist/ stay). Node 20+ and npm; the tests are Jest with the real @grafana/ui.
frontend: ## build the app plugin's frontend into dist/ (npm ci && npm run build)
	npm ci --no-audit --no-fund && npm run build

frontend-test: ## the app plugin frontend's tests (npm ci && npm test)
	npm ci --no-audit --no-fund && npm test

# Tools are pinned in tools/check/go.mod, a module of their own, so that
# the project's go.mod lists only what the binary uses.
TOOL := $(GO) tool -modfile=tools/check/go.mod

check: ## gofmt, go vet, golangci-lint, go mod tidy, generated code and docs up to date
	@files=$$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path '*/node_modules/*'); \
	  out=$$(gofmt -l $$files); [ -z "$$out" ] || { echo "gofmt would change:"; echo "$$out"; exit 1; }
	$(GO) vet ./...
	$(GO) mod tidy -diff
	$(TOOL) golangci-lint run ./...
	@# The tools module's own programs (tools/check/linuxpkg), which ./... leaves out.
	$(GO) -C tools/check vet ./...
	$(GO) -C tools/check mod tidy -diff
	cd tools/check && $(GO) tool golangci-lint run ./...
	$(TOOL) actionlint
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	  $(MAKE) --no-print-directory generate GENERATE_OUT="$$tmp" && \
	  diff -ru pkg/pluginextensionv2 "$$tmp/pkg/pluginextensionv2" || \
	  { echo "pkg/pluginextensionv2 is not what proto/rendererv2.proto generates: run make generate" >&2; exit 1; }
	$(GO) test -count=1 ./tools/docgen ./docs

GENERATE_OUT ?= .
generate: ## regenerate the gRPC code from proto/ (needs protoc: apt-get install protobuf-compiler)
	@command -v protoc >/dev/null || { echo "protoc not found: apt-get install protobuf-compiler" >&2; exit 1; }
	@bin=$$(mktemp -d) && trap 'rm -rf "$$bin"' EXIT && \
	  $(GO) build -modfile=tools/check/go.mod -o "$$bin/" google.golang.org/protobuf/cmd/protoc-gen-go google.golang.org/grpc/cmd/protoc-gen-go-grpc && \
	  mkdir -p "$(GENERATE_OUT)" && \
	  protoc -I proto --plugin=protoc-gen-go="$$bin/protoc-gen-go" --plugin=protoc-gen-go-grpc="$$bin/protoc-gen-go-grpc" \
	    --go_out="$(GENERATE_OUT)" --go_opt=module=github.com/panelcast/panelcast \
	    --go-grpc_out="$(GENERATE_OUT)" --go-grpc_opt=module=github.com/panelcast/panelcast proto/rendererv2.proto

# docs/configuration.md is generated from pkg/config's key table; a test
# (tools/docgen) fails when it is stale.
docs: ## regenerate docs/configuration.md from the keys in pkg/config
	$(GO) run ./tools/docgen -out docs/configuration.md

# The app frontend's tests come last: Jest, then the built module.js in
# Chromium through SystemJS with React 18 and 19 (it ends with "N passed,
# N failed").
test: ## go vet, every Go test (they build the binary themselves; the tools module's too), then the app frontend's tests
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 20m ./...
	$(GO) -C tools/check test -count=1 ./...
	@$(MAKE) --no-print-directory frontend-test
	npm run --silent build
	npm run --silent test:browser

bench: ## render and outbox benchmarks (tools/bench)
	$(GO) run ./tools/bench

# run needs a browser and, for Korean, Japanese and Chinese text and for
# emoji, Noto CJK and Noto Color Emoji: it installs what is missing with
# apt-get (Debian, Ubuntu).
run: build frontend ## install Chromium, CJK and emoji fonts if missing, render the demo to panel.png, then serve the console with the demo on 127.0.0.1:8081
	@missing=; \
	 if [ -x /usr/lib/chromium/chromium-headless-shell ] || command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 \
	   || command -v google-chrome >/dev/null 2>&1 || [ -n "$${PANELCAST_CHROMIUM:-}" ]; then :; \
	 else missing="chromium-headless-shell fonts-dejavu-core"; fi; \
	 if ! fc-list :lang=ko 2>/dev/null | grep -q .; then missing="$$missing fonts-noto-cjk"; fi; \
	 if ! fc-list 'Noto Color Emoji' 2>/dev/null | grep -q .; then missing="$$missing fonts-noto-color-emoji"; fi; \
	 if [ -z "$$missing" ]; then :; \
	 elif command -v apt-get >/dev/null 2>&1; then \
	   echo "installing$${missing:+ }$$missing with apt-get"; \
	   sudo=; [ "$$(id -u)" -eq 0 ] || sudo=sudo; \
	   $$sudo apt-get update && $$sudo apt-get install -y $$missing; \
	 elif echo "$$missing" | grep -q chromium; then \
	   echo "Chromium not found and no apt-get: install Chromium, or set PANELCAST_CHROMIUM to its path" >&2; exit 1; \
	 else \
	   echo "no CJK or emoji font and no apt-get: Korean, Japanese and Chinese text and emoji will show as boxes until Noto CJK and Noto Color Emoji are installed" >&2; \
	 fi
	bin/panelcast demo -o panel.png
	@echo
	@echo "Wrote panel.png. As Grafana's renderer plugin (Grafana 9-12): make package, then see docs/plugin.md."
	@echo "Now the console, with the demo dashboard and the inbox (Ctrl-C stops it):"
	@echo
	bin/panelcast serve --addr 127.0.0.1:8081

# The app's pictures come from its end-to-end browser test (React 19, as
# Grafana 13): the dialog, the dialog after Send, and the message its
# permalink opens in the Slack fake.
screenshots: ## docs/console.png, docs/alert.png and docs/send-to-chat*.png in Chromium, and the console's page figures
	$(GO) run ./tools/screenshots -out docs
	npm ci --no-audit --no-fund && npm run --silent build
	PANELCAST_E2E_SHOTS="$(CURDIR)/docs" npm run --silent test:browser

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
