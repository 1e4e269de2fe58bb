# flowaudit: every target a developer or CI needs. `make help` lists them.
GO       ?= go
BIN      ?= bin/flowaudit
FUZZTIME ?= 10s
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
STATICCHECK ?= $(shell command -v staticcheck 2>/dev/null || echo $(HOME)/go/bin/staticcheck)
GOCYCLO  ?= $(shell command -v gocyclo 2>/dev/null || echo $(HOME)/go/bin/gocyclo)

.PHONY: help build test test-privileged fuzz bench bench-flood bench-live generate generate-check lint cross man clean

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

build: ## build bin/flowaudit (static, no cgo)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w -X main.version=$(VERSION)" -o $(BIN) ./cmd/flowaudit

test: ## all tests; privileged lab tests run as root (and must, under CI=true)
	$(GO) test -count=1 ./...

test-privileged: ## only the lab tests that need root and network namespaces
	$(GO) test -count=1 -run 'Privileged' -v ./...

fuzz: ## run every fuzz target for FUZZTIME each (a duration, or a count such as 5000x as CI uses)
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for t in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "fuzz $$pkg $$t ($(FUZZTIME))"; \
	    $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; \
	done

bench: build ## synthetic 5M-packet capture: flowaudit vs tcpdump vs argus
	bash testdata/bench/bench.sh

bench-flood: build ## 5M-flow SYN flood: replay's peak RSS and time vs flows (issue 10)
	bash testdata/bench/flood.sh

bench-live: build ## 1M spoofed SYNs on a veth: live capture's peak RSS on both backends (root; issue 10)
	bash testdata/bench/live.sh

generate: ## regenerate bpf2go outputs (needs clang)
	$(GO) generate ./...

generate-check: generate ## fail when committed generated files are stale
	git diff --exit-code -- '*_bpfel.go' '*_bpfel.o'

lint: ## gofmt, go vet, staticcheck, gocyclo (no function over complexity 25; lengths: internal/codehealth's test)
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(STATICCHECK) ./...
	$(GOCYCLO) -over 25 -ignore '_test\.go$$|_bpfel\.go$$' .

cross: ## vet and build for macOS and Windows (replay, flows, report, catalog work there; capture says it needs Linux)
	GOOS=darwin $(GO) vet ./...
	GOOS=windows $(GO) vet ./...
	GOOS=darwin CGO_ENABLED=0 $(GO) build -o /dev/null ./cmd/flowaudit
	GOOS=windows CGO_ENABLED=0 $(GO) build -o /dev/null ./cmd/flowaudit

man: ## man pages from the command tree: man/flowaudit.1 and one per subcommand (man -l man/flowaudit.1)
	rm -rf man && mkdir -p man
	SOURCE_DATE_EPOCH=$$(git log -1 --format=%ct 2>/dev/null || date +%s) \
	  $(GO) test -count=1 -run '^TestManPages$$' ./cmd/flowaudit -args -man $(CURDIR)/man -man-version $(VERSION)
	@ls man

clean:
	rm -rf bin man
