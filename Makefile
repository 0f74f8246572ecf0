# smb-agent. `make demo` and `make test` are the two commands a new user runs
# on a fresh Debian machine; both install what they need first.
SHELL      := /bin/bash
export PATH := $(PATH):/usr/local/go/bin
GO         ?= go
BIN        := bin/agent
VERSION    ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS    := -s -w -X main.version=$(VERSION)
PREFIX     ?= /usr/local
DESTDIR    ?=
# Brief fuzzing inside `make test`; `make fuzz FUZZTIME=10m` runs longer.
FUZZTIME   ?= 8s
TESTFLAGS  ?=

.PHONY: all build test unit fuzz bench demo install lint deps samba soak clean

all: build

deps:
	@$(GO) mod download

# Samba (smbd, testparm, smbclient) is what the tests run against.
samba:
	@test/scripts/ensure-samba.sh

build: deps
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/agent

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

# Unit and integration tests (the integration ones start real smbd
# processes on loopback), with the race detector, then a brief run of every
# fuzz target.
test: deps samba lint
	$(GO) test -race -timeout 14m $(TESTFLAGS) ./...
	@FUZZTIME=$(FUZZTIME) test/scripts/fuzz.sh

unit: deps
	$(GO) test -race -short ./...

fuzz: deps
	@FUZZTIME=$(FUZZTIME) test/scripts/fuzz.sh

# Go benchmarks, then whole-command comparisons against testparm and
# smbclient (test/bench/*.bench.sh), each printing its ratios.
bench: deps samba build
	$(GO) test -run '^$$' -bench . -benchmem ./...
	@for s in test/bench/*.bench.sh; do echo "== $$s"; AGENT=$(CURDIR)/$(BIN) bash "$$s" || exit 1; done

# The whole story on a scratch smbd: broken config, diagnose, fix (dry run,
# then applied with approval), diagnose again.
demo: deps samba build
	@$(GO) run ./test/demo --agent $(CURDIR)/$(BIN)

# Long-running footprint measurement of `agent serve` (10 minutes).
soak: deps samba build
	AGENT=$(CURDIR)/$(BIN) bash test/bench/serve_footprint.sh

install: build
	install -D -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/agent
	install -D -m 0644 configs/smb-agent.service $(DESTDIR)/etc/systemd/system/smb-agent.service
	@if [ -e $(DESTDIR)/etc/smb-agent/agent.yaml ]; then \
	  echo "keeping existing $(DESTDIR)/etc/smb-agent/agent.yaml"; \
	else install -D -m 0640 configs/agent.yaml $(DESTDIR)/etc/smb-agent/agent.yaml; fi
	install -d -m 0750 $(DESTDIR)/var/lib/smb-agent
	@echo "installed; enable with: systemctl daemon-reload && systemctl enable --now smb-agent"

clean:
	rm -rf bin
