# swarmgate — `make` lists the targets.
GO      ?= go
BIN     := bin/swarmgate
PKGS    := ./...
# Packages that must build for the browser (js/wasm): cgo-free.
WASM_PKGS := ./internal/merkle ./internal/ppsp ./internal/swarm ./internal/store ./internal/store/blobstore ./internal/link ./internal/netsim ./internal/pcapfile ./internal/rtc ./signaling ./internal/feed ./internal/stream ./internal/client

.PHONY: help build test bench check run fuzz clean generate wasm vendor e2e

# The browser client: built into ui/static/wasm/ (not committed: it is
# megabytes and follows the Go version), embedded by the gateway.
WASM_OUT := ui/static/wasm
wasm: ## build the Go-WASM browser client into ui/static/wasm/
	@mkdir -p $(WASM_OUT)
	GOOS=js GOARCH=wasm CGO_ENABLED=0 $(GO) build -trimpath -ldflags="-s -w" -o $(WASM_OUT)/swarmgate.wasm ./wasm
	cp "$$($(GO) env GOROOT)/lib/wasm/wasm_exec.js" $(WASM_OUT)/wasm_exec.js
	$(GO) run ./ui/precompress.go $(WASM_OUT)/swarmgate.wasm $(wildcard ui/static/vendor/mp4box/*.mjs)

# mp4box.js (npm, package-lock.json) remuxes MP4 to fragments where the
# page must use MediaSource; its ES modules are vendored under
# ui/static/vendor/ so a plain `go build` embeds them. make check verifies
# they match node_modules.
MP4BOX := node_modules/mp4box
vendor: ## copy mp4box.js's browser modules from node_modules into ui/static/vendor/
	rm -rf ui/static/vendor/mp4box && mkdir -p ui/static/vendor/mp4box
	cp $(MP4BOX)/LICENSE $(MP4BOX)/dist/mp4box.all.mjs $(MP4BOX)/dist/styp-*.mjs $(MP4BOX)/dist/rolldown-runtime-*.mjs ui/static/vendor/mp4box/
	rm -f ui/static/vendor/mp4box/*.map


help: ## list the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-7s %s\n", $$1, $$2}'

build: wasm ## build bin/swarmgate (with the browser client)
	$(GO) build -o $(BIN) ./cmd/swarmgate

# The DHT overlay tests time real UDP round trips between hundreds of
# in-process nodes: they run on their own after the rest, so that the other
# packages' race-instrumented tests do not starve them of CPU.
TIMED_PKGS := ./internal/dhtnet

test: wasm ## run every test (race detector on), then the browser tests
	$(GO) test -race -timeout 20m $$($(GO) list $(PKGS) | grep -v -x -F "$$($(GO) list $(TIMED_PKGS))")
	$(GO) test -race -timeout 20m $(TIMED_PKGS)
	node test/unit/webm.test.mjs
	$(MAKE) e2e

# Headless Chromium (Debian's) driven by playwright-core, inside a network
# namespace that holds only loopback: test/browser/README.md.
e2e: build ## the browser tests: link page plays over WebRTC, fallbacks, leecher silence
	test/browser/run.sh

bench: build ## print the figures the README quotes
	$(BIN) bench transfer --size 100MiB --runs 3
	$(BIN) bench transfer --size 100MiB --seeders 3
	$(BIN) bench lossy --size 100MiB --loss 0.10
	$(BIN) bench path --rtt 20ms,40ms,80ms,160ms --loss 0,0.01,0.05
	$(BIN) bench hash --size 256MiB
	$(BIN) bench mem --size 1GiB --swarms 1,10,100
	$(BIN) bench mem --size 4GiB --swarms 1
	$(BIN) bench mem --size 1MiB --swarms 1000,5000 --get=false --idle-release 1s
	$(BIN) bench gateway --size 100MiB --runs 5
	$(BIN) bench share --size 50MiB --runs 3
	$(BIN) bench dht --nodes 1000 --lookups 1000 --loss 0.05 --impaired 0.33 --seed 1
	$(BIN) bench signal --sessions 50000 --signal-sessions-per-ip 100000 --signal-sessions 100000
	$(BIN) bench rtc --size 64MiB --runs 3
	$(GO) test -run XXX -bench . -benchtime 1s ./internal/merkle ./internal/ppsp ./internal/store/...

generate: ## regenerate the templ components (ui/*_templ.go, committed)
	$(GO) tool templ generate -path ui

check: ## vet, gofmt, go.mod tidiness, generated templ code, js/wasm build
	$(GO) vet $(PKGS)
	@test -z "$$(gofmt -l .)" || (gofmt -l . && echo "gofmt: files above need formatting" && false)
	@cp go.mod /tmp/swarmgate.go.mod.bak && cp go.sum /tmp/swarmgate.go.sum.bak && $(GO) mod tidy && \
	  if ! git diff --quiet -- go.mod go.sum; then cp /tmp/swarmgate.go.mod.bak go.mod; cp /tmp/swarmgate.go.sum.bak go.sum; echo "go.mod/go.sum not tidy"; false; fi
	@$(GO) tool templ generate -path ui >/dev/null 2>&1 && git diff --quiet -- ui || (git diff --stat -- ui; echo "ui: generated templ code is stale: run make generate and commit"; false)
	GOOS=js GOARCH=wasm $(GO) build $(WASM_PKGS) ./wasm
	@if [ -d $(MP4BOX) ]; then for f in $$(ls ui/static/vendor/mp4box/* | grep -v -E '\.(br|gz|sha256)$$'); do cmp -s $$f $(MP4BOX)/dist/$$(basename $$f) || cmp -s $$f $(MP4BOX)/$$(basename $$f) || { echo "$$f differs from $(MP4BOX): run make vendor"; exit 1; }; done; fi
	GOOS=js GOARCH=wasm $(GO) vet ./signaling

run: build ## the gateway on the embedded defaults, seeding FILE=path or the demo video
	$(BIN) run $(FILE)

fuzz: ## run each fuzz target for FUZZTIME (default 30s)
	@for t in "FuzzParse ./internal/ppsp" "FuzzOptions ./internal/ppsp" "FuzzDatagram ./internal/swarm" "FuzzParse ./internal/link" \
	  "FuzzParse ./internal/pcapfile" "FuzzVerify ./internal/merkle" "FuzzDecodeKRPC ./internal/dhtnet" "FuzzCompactPeer ./internal/dhtnet" "FuzzCompactNodes ./internal/dhtnet" \
	  "FuzzPages ./internal/store/internal/bitset" "FuzzDecode ./signaling" "FuzzSession ./signaling" \
	  "FuzzParsePost ./internal/feed" "FuzzParseFollowRequest ./internal/feed" "FuzzParseBatch ./internal/feed" "FuzzParsePullRequest ./internal/feed" \
	  "FuzzParseOPML ./internal/feed" "FuzzHeadValue ./internal/feed" "FuzzParseUID ./internal/feed" "FuzzRawRange ./gateway"; do \
	  set -- $$t; $(GO) test -run XXX -fuzz "^$$1\$$" -fuzztime $${FUZZTIME:-30s} $$2 || exit 1; done
	node test/unit/webm.test.mjs --fuzz 2000000

clean: ## remove build output
	rm -rf bin
