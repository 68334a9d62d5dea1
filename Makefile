# corral: the two commands are `make demo` and `make test`; each installs what it needs.
SHELL := /bin/bash
.DEFAULT_GOAL := help
NODE_MODULES := node_modules/.package-lock.json
# corral runs on Node 24: the npm package `node` (a devDependency) puts that binary in
# node_modules/.bin, first on PATH here as in npm scripts, so no step below uses the system node.
export PATH := $(CURDIR)/node_modules/.bin:$(PATH)

.PHONY: help install build demo test typecheck bench clean interop-deps

help:
	@echo "make demo   install, build, run the example backend + corral + a herd of 1000 calls, print the summary"
	@echo "make test   install, build, type-check, run every test (unit and integration, real processes on 127.0.0.1)"
	@echo "make bench  micro benchmarks + h2load against the bare backend, nginx and corral, and goodput under overload; writes bench/results/ (BENCH_ARGS='--compare-node /usr/bin/node' adds corral on another node side by side)"

$(NODE_MODULES): package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

install: $(NODE_MODULES)

build: install
	npm run build

typecheck: install
	npm run typecheck
	node tools/layers.mjs --quiet   # src/'s folders form a stack: no import cycle, node:http2 only at the edges

demo: build
	node dist/cmd/demo.js

# The interop tests use Debian's Python grpcio, an independent gRPC implementation, and the
# TLS tests make their certificates with openssl (needs root or sudo).
interop-deps:
	@{ /usr/bin/python3 -c 'import grpc, grpc_tools' 2>/dev/null && command -v promtool >/dev/null && command -v etcd >/dev/null && command -v etcdctl >/dev/null && command -v openssl >/dev/null; } || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends python3-grpcio python3-grpc-tools prometheus etcd-server etcd-client openssl; }

# The last line is the plain 'tests: N passed, N failed' summary CI reads.
test: build typecheck interop-deps
	@status=0; npx vitest run --reporter=default --reporter=json --outputFile.json=.test-results.json || status=$$?; \
	node -e 'const r = require("./.test-results.json"); console.log(`tests: $${r.numPassedTests} passed, $${r.numFailedTests} failed`)' || true; \
	exit $$status

# Installs h2load, nginx, etcd and openssl from Debian's packages where missing (needs root or sudo).
bench: build
	@command -v h2load >/dev/null && command -v nginx >/dev/null && command -v etcd >/dev/null && command -v openssl >/dev/null || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq nghttp2-client nginx-light etcd-server openssl; }
	node dist/bench/run.js $(BENCH_ARGS)

clean:
	rm -rf dist node_modules
