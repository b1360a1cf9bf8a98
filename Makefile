# Flotilla's build and test entry points. `make test` is the command the
# README gives and CI runs.

GO ?= go
FUZZTIME ?= 20s

.PHONY: build test unit fuzz bench generate deps loadtest-lb

build:
	$(GO) build -o bin/flotilla ./cmd/flotilla

# test: every test, Docker and the aws CLI included (the load balancer's
# also with a goroutine per connection instead of its event loops), then the
# bounded fuzzers.
test: deps
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 30m ./...
	FLOTILLA_LB_EVENT_LOOPS=-1 $(GO) test -race -count=1 -timeout 10m ./internal/lb
	$(MAKE) fuzz

fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzJSONRequest$$' -fuzztime $(FUZZTIME) ./internal/api
	$(GO) test -run '^$$' -fuzz '^FuzzCheckJSON$$' -fuzztime $(FUZZTIME) ./internal/api
	$(GO) test -run '^$$' -fuzz '^FuzzQueryRequest$$' -fuzztime $(FUZZTIME) ./internal/api
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) ./internal/lb
	$(GO) test -run '^$$' -fuzz '^FuzzParseSimpleHead$$' -fuzztime $(FUZZTIME) ./internal/lb
	$(GO) test -run '^$$' -fuzz '^FuzzParseOriginForm$$' -fuzztime $(FUZZTIME) ./internal/lb

bench:
	$(GO) test -run '^$$' -bench . -benchtime 3s ./...

# loadtest-lb: wrk through Flotilla's load balancer and through nginx to the
# same two backends, alternating, and the ratios against the issue's targets
# (docs/performance.md). About 2 minutes; LOADTEST_FLAGS="-d 30s -c 100" etc.
loadtest-lb: deps
	$(GO) run ./loadtest/lbbench $(LOADTEST_FLAGS)

generate:
	$(GO) generate ./...

# deps: what the tests need beyond Go: the aws CLI (v1 on PATH, and
# Debian's v2 at /usr/bin/aws) and boto3, and wrk and nginx for the load
# balancer's load tests.
deps:
	@command -v aws >/dev/null 2>&1 && test -x /usr/bin/aws && python3 -c 'import boto3' 2>/dev/null && \
		command -v wrk >/dev/null 2>&1 && command -v nginx >/dev/null 2>&1 && command -v openssl >/dev/null 2>&1 || { \
		echo "installing awscli, python3-boto3, wrk, nginx and openssl"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq awscli python3-boto3 wrk nginx-light openssl; }
