# multimsg — `make` alone lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
# net/http without its bundled HTTP/2 (~330 KB): every peer of the box speaks HTTP/1.1 (the
# Graph API too); it keeps the arm binary under 10 MiB (issue 19). The image builds the same way.
TAGS    := nethttpomithttp2
GO      ?= go
PKGS    := ./...
DATA    ?= ./run/data
LISTEN  ?= :8080

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

build: ## build bin/multimsg for this machine
	CGO_ENABLED=0 $(GO) build -tags '$(TAGS)' -trimpath -ldflags '$(LDFLAGS)' -o bin/multimsg ./cmd/multimsg

run: build ## run the gateway on the embedded default (data in ./run/data, mail into ./run/data/outbox/new)
	./bin/multimsg serve -data $(DATA) -listen $(LISTEN)

test: ## run every test (race detector on); peers missing on a laptop skip loudly
	$(GO) test -race -count=1 -timeout 20m $(PKGS)

bench: build ## print comparable figures: store, envelope, mail, the HTTP load and outage-backlog benchmarks, e-mail in, inbound SMS, start-up time and idle memory
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 2s -short ./store ./envelope ./provider/... ./modem ./web ./hw/... ./mailin ./inbox
	MULTIMSG_LOAD=1 $(GO) test -run '^TestOpenOptions$$' -count=1 -v -timeout 30m ./store | grep -E '^(---|ok|FAIL|PASS)|open_test.go'
	MULTIMSG_LOAD=1 $(GO) test -run '^(TestLoad|TestBacklog|TestInboundLoad)$$' -count=1 -v -timeout 60m ./gateway | grep -E '^(=== RUN|---|ok|FAIL|PASS)|load_test.go|proc_test.go|backlog_test.go|inbound_load_test.go'
	MULTIMSG_LOAD=1 $(GO) test -run '^TestStartup$$' -count=1 -v -timeout 30m ./gateway | grep -E '^(---|ok|FAIL)|startup_test.go'

cross: ## static, stripped, version-stamped binaries for linux/arm (GOARM=7), arm64, amd64 in bin/
	CGO_ENABLED=0 GOOS=linux GOARCH=arm GOARM=7 $(GO) build -tags '$(TAGS)' -trimpath -ldflags '$(LDFLAGS)' -o bin/multimsg-linux-arm ./cmd/multimsg
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build -tags '$(TAGS)' -trimpath -ldflags '$(LDFLAGS)' -o bin/multimsg-linux-arm64 ./cmd/multimsg
	CGO_ENABLED=0 GOOS=linux GOARCH=amd64 $(GO) build -tags '$(TAGS)' -trimpath -ldflags '$(LDFLAGS)' -o bin/multimsg-linux-amd64 ./cmd/multimsg
	@ls -l bin/multimsg-linux-*

TOP ?= 25
size: ## binary sizes per target (stripped, as make cross builds them) and the TOP packages by size (arm64)
	@mkdir -p bin
	@for t in arm:7 arm64: amd64:; do a=$${t%%:*}; v=$${t#*:}; \
	  CGO_ENABLED=0 GOOS=linux GOARCH=$$a GOARM=$$v $(GO) build -tags '$(TAGS)' -trimpath -ldflags '$(LDFLAGS)' -o bin/multimsg-linux-$$a ./cmd/multimsg || exit 1; \
	  printf '  linux/%-6s %10d bytes  %5.2f MiB\n' $$a $$(stat -c %s bin/multimsg-linux-$$a) $$(echo "$$(stat -c %s bin/multimsg-linux-$$a) / 1048576" | bc -l); done
	@CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build -tags '$(TAGS)' -trimpath -ldflags '-X main.version=$(VERSION)' -o bin/multimsg-linux-arm64.syms ./cmd/multimsg
	@echo "  sections of linux/arm64 (bytes):"; size -A bin/multimsg-linux-arm64.syms | awk '$$1 ~ /^\.(text|rodata|gopclntab|typelink|itablink|noptrdata|data)$$/ { printf "%10d  %s\n", $$2, $$1 }'
	@echo "  top $(TOP) packages in linux/arm64 (their code and data in the file, from go tool nm; pclntab not split by package):"
	@bss=$$(readelf -S -W bin/multimsg-linux-arm64.syms | awk '{ for (i = 1; i <= NF; i++) if ($$i == "NOBITS") print $$(i+1) }' | sort | head -1); \
	$(GO) tool nm -size bin/multimsg-linux-arm64.syms | awk -v bss=$$bss '{ a=sprintf("%16s", $$1); gsub(/ /, "0", a); if (a >= bss || $$3 == "U") next; \
	  n=$$4; if (n ~ /^(type|go):/) { p=n; sub(/:.*/, ":", p) } \
	  else { i=match(n, /\/[^\/]*$$/); s=(i ? substr(n, i+1) : n); j=index(s, "."); p=(i ? substr(n, 1, i) : "") (j ? substr(s, 1, j-1) : s) } sum[p]+=$$2 } \
	  END { for (p in sum) printf "%10d  %s\n", sum[p], p }' | sort -rn | head -$(TOP)
	@rm -f bin/multimsg-linux-arm64.syms
	@r=$$(CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build -tags '$(TAGS)' -trimpath -ldflags=-dumpdep -o /dev/null ./cmd/multimsg 2>&1 | grep '<ReflectMethod>' | sort -u); \
	  if [ -n "$$r" ]; then echo "  WARNING: reflect's Method/MethodByName is reachable, so the linker keeps every exported method (~4 MB; docs/DESIGN.md, issue 19):"; echo "$$r" | sed 's/^/    /'; \
	  else echo "  reflect's Method/MethodByName: not reachable (dead methods are dropped)"; fi

qemu-test: ## boot the arm64 build under qemu (Debian kernel + busybox), send a job, power-cycle, check it survived; then the update scenario
	buildroot/scripts/qemu-test
	buildroot/scripts/qemu-update-test

image: ## build the firmware image with Buildroot: make image BR=<buildroot checkout> [DEFCONFIG=...] (needs internet)
	@test -n "$(BR)" || { echo 'usage: make image BR=<path to a Buildroot checkout> [DEFCONFIG=multimsg_raspberrypi4_64_defconfig]'; exit 2; }
	buildroot/scripts/image $(BR) $(DEFCONFIG)

dev-keys: ## make a throw-away RAUC signing key and certificate in out/keys (tests only: never a release key)
	@mkdir -p out/keys && test ! -e out/keys/dev.key.pem || { echo 'out/keys/dev.key.pem exists'; exit 1; }
	openssl req -x509 -newkey rsa:4096 -nodes -days 365 -subj '/O=multimsg development/CN=multimsg dev key' \
		-keyout out/keys/dev.key.pem -out out/keys/dev.cert.pem
	@echo 'build the image with it: MULTIMSG_RAUC_KEYRING=$$PWD/out/keys/dev.cert.pem make image BR=...'

bundle: ## signed verity update bundle: make bundle KEY=key.pem CERT=cert.pem [ROOTFS=...] [OUT=...] [BUNDLE_VERSION=...]
	@test -n "$(KEY)" -a -n "$(CERT)" || { echo 'usage: make bundle KEY=<signing key> CERT=<its certificate> [ROOTFS=out/buildroot/multimsg_raspberrypi4_64/images/rootfs.ext4] [OUT=...]'; exit 2; }
	buildroot/scripts/bundle --key $(KEY) --cert $(CERT) --version $(or $(BUNDLE_VERSION),$(VERSION)) \
		$(or $(ROOTFS),out/buildroot/multimsg_raspberrypi4_64/images/rootfs.ext4) $(or $(OUT),out/multimsg-$(or $(BUNDLE_VERSION),$(VERSION)).raucb)

# Linters, pinned: CI fetches exactly these from the module proxy (go run pkg@version).
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
GOCYCLO     := github.com/fzipp/gocyclo/cmd/gocyclo@v0.6.0
MAXCYCLO    := 30
# Tests and the test peers (scripted modem, Cloud API and SMTP stand-ins, CI helpers) are not
# product code: their long switches mirror a protocol, not our logic.
CYCLO_IGNORE := (_test\.go|/modemsim/|/cloudapitest/|/smtptest/|/gatewaytest/|internal/(phonesim|rauctest|nslan|peertest|poll|loopfs)/)

lint: ## go vet, staticcheck, and no product function above cyclomatic 30 (gocyclo; MAXCYCLO)
	$(GO) vet -tags '$(TAGS)' $(PKGS)
	$(GO) run $(STATICCHECK) -tags '$(TAGS)' $(PKGS)
	@out=$$($(GO) run $(GOCYCLO) -over $(MAXCYCLO) -ignore '$(CYCLO_IGNORE)' .); \
	  if [ -n "$$out" ]; then echo "functions above cyclomatic $(MAXCYCLO) (split them by meaning):"; echo "$$out"; exit 1; fi

fmt: ## gofmt the tree
	gofmt -w $$(git ls-files '*.go')

check: ## fmt check, lint (vet, staticcheck, gocyclo), race tests, cross builds
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo 'gofmt needed (make fmt)'; exit 1; }
	$(MAKE) lint
	$(MAKE) test
	$(MAKE) cross

fuzz: ## run every fuzz target for FUZZTIME each (default 30s)
	@for p in $$($(GO) list $(PKGS)); do \
	  for f in $$($(GO) test -list '^Fuzz' $$p 2>/dev/null | grep '^Fuzz'); do \
	    echo "== $$p $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $${FUZZTIME:-30s} $$p || exit 1; \
	  done; done

clean: ## remove build outputs and the run directory
	rm -rf bin run

.PHONY: help build run test bench cross size lint fmt check fuzz clean qemu-test image dev-keys bundle
