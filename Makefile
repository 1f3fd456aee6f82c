# Holdfast. `make demo` runs the story on this machine; `make test` runs the tests.
GO      ?= go
BIN     := bin/holdfast
PKGS    := ./...
STATICCHECK_VERSION := v0.8.2

.PHONY: all build test test-long bench demo console screenshots lint fmt clean deps

all: build

build:
	$(GO) build -o $(BIN) ./cmd/holdfast

# The suite CI runs (well under 20 minutes on 2 cores): vet, every package's
# tests, the 50-kill crash test, the tamper tests and the fuzz seed corpora.
test: deps bin/versitygw
	$(GO) vet $(PKGS)
	$(GO) test -count=1 -timeout 20m $(PKGS)

# What the tests need besides Go: poppler's pdfsig and pdftotext (report
# signatures and text), OpenSSL's CMS verifier (a second check of report
# signatures) and Debian's chromium (the console's browser tests),
# installed with apt when missing.
deps:
	@command -v pdfsig >/dev/null && command -v pdftotext >/dev/null && command -v chromium >/dev/null && command -v openssl >/dev/null || { \
		echo "installing poppler-utils (pdfsig, pdftotext), openssl and chromium for the report and console tests"; \
		SUDO=; [ "$$(id -u)" -eq 0 ] || SUDO=sudo; \
		$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq poppler-utils openssl chromium; }

# Longer: 500 SIGKILLs, the race detector (the backup progress test among
# them), and a minute of fuzzing per parser and decoder.
test-long: deps bin/versitygw
	HOLDFAST_CRASH_ROUNDS=500 $(GO) test -count=1 -timeout 60m -run TestCrashSafety ./store
	$(GO) test -count=1 -race -timeout 30m $(PKGS)
	for f in FuzzPackHeader FuzzBlob FuzzCheckpoint FuzzProofBundle FuzzHeldCheckpoints; do \
		$(GO) test -run '^$$' -fuzz "^$$f\$$" -fuzztime 60s ./store || exit 1; \
	done
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeRecord$$' -fuzztime 60s ./record
	$(GO) test -run '^$$' -fuzz '^FuzzCanonical$$' -fuzztime 60s ./record
	$(GO) test -run '^$$' -fuzz '^FuzzCanonicalAgreesWithDecoder$$' -fuzztime 60s ./record
	$(GO) test -run '^$$' -fuzz '^FuzzAddCheckpoint$$' -fuzztime 60s ./witness
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime 60s ./kql
	$(GO) test -run '^$$' -fuzz '^FuzzAnalyzeText$$' -fuzztime 60s ./index
	$(GO) test -run '^$$' -fuzz '^FuzzMailBody$$' -fuzztime 60s ./index
	$(GO) test -run '^$$' -fuzz '^FuzzNames$$' -fuzztime 60s ./restore
	$(GO) test -run '^$$' -fuzz '^FuzzLedger$$' -fuzztime 60s ./disposal
	$(GO) test -run '^$$' -fuzz '^FuzzWithoutMembers$$' -fuzztime 60s ./ingest/graph

# Benchmarks; figures are written down in docs/BENCHMARKS.md.
bench: bin/versitygw
	$(GO) test -run '^$$' -bench 'AppendEmail' -benchtime 20000x -benchmem ./store
	$(GO) test -run '^$$' -bench 'AppendFile' -benchtime 25x -benchmem ./store
	$(GO) test -run '^$$' -bench 'Verify' -benchtime 5x -benchmem ./store
	$(GO) test -run '^$$' -bench 'Backends' -benchtime 1x ./store/s3
	$(GO) test -run '^$$' -bench 'Export' -benchtime 3x ./restore
	$(MAKE) bin/holdfast-baseline
	HOLDFAST_BASELINE_BIN=$(CURDIR)/bin/holdfast-baseline $(GO) test -run '^$$' -bench 'BackupCPUBound' -benchtime 1x ./ingest/graph
	HOLDFAST_BASELINE_BIN=$(CURDIR)/bin/holdfast-baseline $(GO) test -run '^$$' -bench 'BackupThrottleBound' -benchtime 1x -v ./ingest/graph
	$(GO) test -run '^$$' -bench 'BackupManyMailboxes' -benchtime 1x ./ingest/graph
	$(GO) test -run '^$$' -bench 'RestoreToTenant' -benchtime 1x ./ingest/graph
	$(GO) test -run '^$$' -bench 'Index$$' -benchtime 1x ./index
	$(GO) test -run '^$$' -bench 'Query' -benchtime 200x ./index
	$(GO) test -run '^$$' -bench 'Eval|Inventory' -benchtime 1x ./policy
	$(GO) test -run '^$$' -bench 'Report' -benchtime 1x ./reports
	$(GO) test -run '^$$' -bench 'Scheduler' -benchtime 2000x ./schedule
	$(GO) test -run '^$$' -bench 'Search' -benchtime 200x ./web
	$(GO) test -run '^$$' -bench 'StatusAll|ConsolePages' -benchtime 100x ./web

# Holdfast as it was before issue 18 (4 accounts at a time, a small
# request budget per mailbox, a tenant-wide pause on any 429): the ingest
# benchmarks time it beside today's defaults against the same fake tenant.
BASELINE_REV ?= 1146083
# versitygw (Apache-2.0), the S3 gateway the S3 backend's tests run
# against, built from the Go module proxy at a pinned release: v1.8.0 has
# atomic conditional creates (PR #2288); its gaps against AWS Object Lock
# are in docs/STORAGE.md.
VERSITYGW_VERSION := v1.8.0
bin/versitygw:
	mkdir -p bin
	GOBIN=$(CURDIR)/bin $(GO) install github.com/versity/versitygw/cmd/versitygw@$(VERSITYGW_VERSION)

bin/holdfast-baseline:
	rm -rf bin/baseline-src && mkdir -p bin/baseline-src
	git archive $(BASELINE_REV) | tar -x -C bin/baseline-src
	cd bin/baseline-src && $(GO) build -o ../holdfast-baseline ./cmd/holdfast
	rm -rf bin/baseline-src

# The console's screenshots in docs/console, taken by its browser journeys.
screenshots: deps
	mkdir -p docs/console
	HOLDFAST_SCREENSHOTS=$(CURDIR)/docs/console $(GO) test -count=1 -run '^TestConsoleInABrowser$$' ./web
	HOLDFAST_SCREENSHOTS=$(CURDIR)/docs/console $(GO) test -count=1 -run '^TestConsoleTechnicianJourney$$' ./cmd/holdfast

demo: build $(if $(HOLDFAST_DEMO_S3),bin/versitygw)
	./scripts/demo.sh

# The service on the demo's data (after make demo): until Ctrl-C.
console: build
	./scripts/console.sh

lint:
	@test -z "$$(gofmt -l .)" || { gofmt -l .; echo "gofmt: files above need formatting (make fmt)"; exit 1; }
	$(GO) vet $(PKGS)
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) $(PKGS)

fmt:
	gofmt -w .

clean:
	rm -rf bin demo-data
