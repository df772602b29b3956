# switchd — the two commands a newcomer needs are `make run` and `make test`.
GO        ?= go
BIN       := bin
PLUGINDIR := $(BIN)/plugins
# Every built-in plugin is a package main directly under plugins/.
PLUGINS   := $(patsubst plugins/%/main.go,%,$(wildcard plugins/*/main.go))
DATA      ?= data
CONFIG    ?= examples/quickstart

.PHONY: all build plugins test proto run bench reliability fuzz lint clean

all: build plugins

## build: the switchd daemon and CLI, into bin/switchd
build:
	$(GO) build -o $(BIN)/switchd ./switchd/cmd/switchd

## plugins: every built-in plugin, into bin/plugins/<name>
plugins:
	@mkdir -p $(PLUGINDIR)
	@for p in $(PLUGINS); do echo "go build plugins/$$p"; $(GO) build -o $(PLUGINDIR)/$$p ./plugins/$$p || exit 1; done

## test: every test, then the race detector over the core packages
test:
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 20m ./...
	$(GO) test -count=1 -race -timeout 20m ./internal/... ./plugins/sdk/... ./switchd/internal/... ./config/...

## proto: regenerate plugins/proto/pluginv1 with the generator versions pinned in go.mod
proto:
	@command -v protoc >/dev/null || { echo "protoc missing: apt-get install -y protobuf-compiler"; exit 1; }
	$(GO) build -o $(BIN)/protoc-gen-go google.golang.org/protobuf/cmd/protoc-gen-go
	$(GO) build -o $(BIN)/protoc-gen-go-grpc google.golang.org/grpc/cmd/protoc-gen-go-grpc
	protoc -I plugins/proto \
		--plugin=protoc-gen-go=$(BIN)/protoc-gen-go --go_out=. --go_opt=module=github.com/switchd/switchd \
		--plugin=protoc-gen-go-grpc=$(BIN)/protoc-gen-go-grpc --go-grpc_out=. --go-grpc_opt=module=github.com/switchd/switchd \
		switchd/plugin/v1/plugin.proto

## run: build everything, lock plugin digests, start the quickstart network on loopback
run: build plugins
	$(BIN)/switchd plugins lock --plugin-dir $(PLUGINDIR) --data-dir $(DATA)
	$(BIN)/switchd validate --plugin-dir $(PLUGINDIR) --lock-file $(DATA)/plugins.lock.hcl $(CONFIG)
	@echo
	@echo "switchd quickstart on loopback (data in $(DATA)/, demo test keys in $(CONFIG)/secrets/):"
	@echo "  API and payment pages   http://localhost:8080   (Tea Shop API key sk_test_quickstart_tea_shop_0123456789)"
	@echo "  admin, health, metrics  http://127.0.0.1:8081/readyz   /v1/admin/status   /metrics"
	@echo "  in another terminal:    $(BIN)/switchd demo   (a card and a bank-transfer payment, steps A-E)"
	@echo "  walkthrough:            examples/README.md"
	@echo
	$(BIN)/switchd serve --config $(CONFIG) --plugin-dir $(PLUGINDIR) --data-dir $(DATA) --public-url http://localhost:8080

## bench: load benchmark of complete A-E payments against a real daemon (see BENCHMARKS.md)
bench: build plugins
	$(BIN)/switchd bench --plugin-dir $(PLUGINDIR) --payers 64 --duration 20s --json bench.json

## reliability: the 20-round crash-loop, failpoint and fault soak (about 4-5 minutes; see RELIABILITY.md)
reliability: build plugins
	SWITCHD_RELIABILITY_ROUNDS=20 $(GO) test -count=1 -timeout 60m -run Reliability -v ./switchd/internal/reliability/

## fuzz: run every fuzz target for FUZZTIME (default 30s) each
fuzz:
	FUZZTIME=$${FUZZTIME:-30s} ./scripts/fuzz.sh

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go' | grep -v '\.pb\.go$$'))" || { gofmt -l .; exit 1; }
	$(GO) vet ./...

clean:
	rm -rf $(BIN)
