# Holdfast. `make demo` runs the story on this machine; `make test` runs the tests.
GO      ?= go
BIN     := bin/holdfast
PKGS    := ./...
STATICCHECK_VERSION := v0.8.2

.PHONY: all build test test-long bench demo lint fmt clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/holdfast

# The suite CI runs (well under 20 minutes on 2 cores): vet, every package's
# tests, the 50-kill crash test, the tamper tests and the fuzz seed corpora.
test:
	$(GO) vet $(PKGS)
	$(GO) test -count=1 -timeout 20m $(PKGS)

# Longer: 500 SIGKILLs, the race detector, and a minute of fuzzing per decoder.
test-long:
	HOLDFAST_CRASH_ROUNDS=500 $(GO) test -count=1 -timeout 60m -run TestCrashSafety ./store
	$(GO) test -count=1 -race -timeout 30m $(PKGS)
	for f in FuzzDecodeRecord FuzzPackHeader FuzzBlob FuzzCheckpoint FuzzProofBundle; do \
		$(GO) test -run '^$$' -fuzz "^$$f\$$" -fuzztime 60s ./store || exit 1; \
	done

# Benchmarks; figures are written down in docs/BENCHMARKS.md.
bench:
	$(GO) test -run '^$$' -bench 'AppendEmail' -benchtime 20000x -benchmem ./store
	$(GO) test -run '^$$' -bench 'AppendFile' -benchtime 25x -benchmem ./store
	$(GO) test -run '^$$' -bench 'Verify' -benchtime 5x -benchmem ./store
	$(GO) test -run '^$$' -bench 'Export' -benchtime 3x ./restore
	$(GO) test -run '^$$' -bench 'Backup|RestoreToTenant' -benchtime 1x ./ingest/graph

demo: build
	./scripts/demo.sh

lint:
	@test -z "$$(gofmt -l .)" || { gofmt -l .; echo "gofmt: files above need formatting (make fmt)"; exit 1; }
	$(GO) vet $(PKGS)
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) $(PKGS)

fmt:
	gofmt -w .

clean:
	rm -rf bin demo-data
