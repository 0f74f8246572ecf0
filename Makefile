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

.PHONY: all build test unit fuzz bench demo install lint deps samba chromium screenshots soak clean vuln prometheus conformance test-samba test-samba-all gen-params gen-catalog

all: build

deps:
	@$(GO) mod download

# Samba (smbd, testparm, smbclient) is what the tests run against.
samba:
	@test/scripts/ensure-samba.sh

# Headless chromium drives the status page's end-to-end test.
chromium:
	@test/scripts/ensure-chromium.sh

# Prometheus (prometheus, promtool): the rules' unit tests and the fleet
# end-to-end test run them.
prometheus:
	@test/scripts/ensure-prometheus.sh

build: deps
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/agent

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

# Unit and integration tests (the integration ones start real smbd
# processes on loopback), with the race detector, then a brief run of every
# fuzz target.
test: deps samba chromium prometheus lint
	$(GO) test -race -timeout 14m $(TESTFLAGS) ./...
	@FUZZTIME=$(FUZZTIME) test/scripts/fuzz.sh

unit: deps
	$(GO) test -race -short ./...

fuzz: deps
	@FUZZTIME=$(FUZZTIME) test/scripts/fuzz.sh

# Known vulnerabilities: govulncheck against vuln.go.dev; offline, every
# module in the binary is checked to be at its latest served release.
vuln: deps
	@GO=$(GO) test/scripts/vuln.sh

# Go benchmarks (only the packages that have some, so that a package being
# edited elsewhere does not stop them), then whole-command comparisons
# against testparm, smbclient and nmap (test/bench/*.bench.sh), each
# printing its ratios. hyperfine and nmap are used when installed.
BENCHPKGS = $(shell grep -rl --include='*_test.go' '^func Benchmark' . | xargs -n1 dirname | sort -u)
bench: deps samba build
	$(GO) test -run '^$$' -bench . -benchmem $(BENCHPKGS)
	@for s in test/bench/*.bench.sh; do echo "== $$s"; AGENT=$(CURDIR)/$(BIN) bash "$$s" || exit 1; done

# The whole story on a scratch smbd: broken config, diagnose, fix (dry run,
# then applied with approval), diagnose again.
demo: deps samba build
	@$(GO) run ./test/demo --agent $(CURDIR)/$(BIN)

# Measurements of `agent serve` on a scratch smbd: the HTTP load
# test (LOAD_DURATION, default 20 s, of /metrics and /status from a second
# process), then the footprint over SOAK_SECONDS (default 10 minutes) at a
# 5 s interval. Each prints its figures and fails when a goal is missed.
LOAD_DURATION ?= 20s
SOAK_SECONDS  ?= 600
soak: deps samba build
	AGENT=$(CURDIR)/$(BIN) DURATION=$(LOAD_DURATION) INTERVAL=5s bash test/bench/serve_load.sh
	AGENT=$(CURDIR)/$(BIN) DURATION=$(SOAK_SECONDS) INTERVAL=5s bash test/bench/serve_footprint.sh

# Full-page screenshots of the page `agent serve` shows at / in each state
# (healthy, min protocol SMB3, rpc helpers off, a hostile share name), taken
# by the browser test on real smbd sandboxes, into docs/screenshots/.
screenshots: deps samba chromium
	SCREENSHOT_DIR=$(CURDIR)/docs/screenshots $(GO) test -count=1 -run '^TestPageInBrowser$$' ./test/

# The client conformance suite (test/conformance): every server case x
# client configuration, real clients (impacket, smbclient, go-smb2) against
# a real smbd, compared with the agent's verdict for the matching profile;
# prints the table and "conformance: X/N agree". `make test` runs a subset.
# SAMBA=4.24 selects that Samba release for the harness (SAMBA_RELEASE).
SAMBA ?=
conformance: deps samba
	$(if $(SAMBA),SAMBA_RELEASE=$(SAMBA)) CONFORMANCE=full $(GO) test -count=1 -timeout 30m -run 'TestConformance|TestModelled' -v ./test/conformance/

# Another Samba release: test/scripts/samba-release.sh builds its
# root once (debootstrap of its Debian suite, cached under
# /var/cache/smb-agent-samba) and SAMBA_RELEASE puts its smbd, testparm,
# smbpasswd, smbcontrol and smbclient first on PATH for the tests and the
# agent they run. `make test-samba VERSION=4.24` runs the differential
# parser tests and the end-to-end diagnose/fix suites against it;
# `make test-samba-all` runs every release and prints each one's time.
# SMB_AGENT_SLOW=1 adds the behaviour observers that wait for smbd's own
# timers (the on-demand RPC helpers' idle exit, about a minute).
SAMBA_RELEASES   := 4.13 4.17 4.22 4.24
SAMBA_TEST_PKGS  := ./configs/smbconf/ ./test/ ./test/harness/
SAMBA_TEST_RUN   ?= TestDiff|TestConfigDiffE2E|TestDiagnose|TestFix|TestRelease|TestBehaviour|TestGather
test-samba: deps
	@case " $(SAMBA_RELEASES) " in *" $(VERSION) "*) ;; \
	  *) echo "make test-samba VERSION=X: X is one of $(SAMBA_RELEASES)"; exit 2;; esac
	@test/scripts/samba-release.sh build $(VERSION)
	@start=$$(date +%s); par=$$(mktemp); \
	  SMB_AGENT_SLOW=1 SAMBA_PARITY_LOG=$$par SAMBA_RELEASE=$(VERSION) $(GO) test -count=1 -timeout 40m $(TESTFLAGS) -run '$(SAMBA_TEST_RUN)' $(SAMBA_TEST_PKGS); rc=$$?; \
	  sed 's/^/samba $(VERSION): /' $$par; rm -f $$par; \
	  echo "samba $(VERSION): tests took $$(( $$(date +%s) - start )) s (exit $$rc)"; exit $$rc

test-samba-all: deps
	@rc=0; for v in $(SAMBA_RELEASES); do \
	  $(MAKE) --no-print-directory test-samba VERSION=$$v || rc=1; done; exit $$rc

# Regenerates checks/catalog/catalog_gen.go, the decoded catalog the agent
# loads, from checks/catalog/data/*.yaml (validated first); run it after
# any change to the YAML (TestGeneratedCatalogIsCurrent fails until then).
gen-catalog:
	cd checks/catalog && $(GO) run ./gen

# Regenerates configs/smbconf/params_gen_*.go from each release's testparm.
gen-params:
	@for v in $(SAMBA_RELEASES); do \
	  test/scripts/samba-release.sh build $$v && \
	  (cd configs/smbconf && $(GO) run ./gen -testparm /var/cache/smb-agent-samba/$$v/bin/testparm -o params_gen_$$(echo $$v | tr . _).go) || exit 1; \
	done

install: build
	install -D -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/agent
	@# The unit names the binary by its path: follow PREFIX.
	install -d -m 0755 $(DESTDIR)/etc/systemd/system
	sed 's|/usr/local/bin/agent|$(PREFIX)/bin/agent|g' configs/smb-agent.service >$(DESTDIR)/etc/systemd/system/smb-agent.service
	chmod 0644 $(DESTDIR)/etc/systemd/system/smb-agent.service
	@if [ -e $(DESTDIR)/etc/smb-agent/agent.yaml ]; then \
	  echo "keeping existing $(DESTDIR)/etc/smb-agent/agent.yaml"; \
	else install -D -m 0640 configs/agent.yaml $(DESTDIR)/etc/smb-agent/agent.yaml; fi
	install -d -m 0750 $(DESTDIR)/var/lib/smb-agent
	@echo "installed; enable with: systemctl daemon-reload && systemctl enable --now smb-agent"

clean:
	rm -rf bin
