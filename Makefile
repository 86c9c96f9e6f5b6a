# Gavel — `make up` serves the local stack, `make test` runs every test.
# Both install what they need: Python deps into .venv/ (wheels cached by pip in ~/.cache/pip),
# Cassandra into ~/.cache/gavel/ (via Maven, cached in ~/.m2), buf and the web page's toolchain
# into web/node_modules (npm cache ~/.npm), Debian's Chromium for the page's browser test.
# Generated code is made here, never committed.

PYTHON_BOOT ?= python3
VENV        := .venv
PY          := $(VENV)/bin/python
SITE        := $(shell $(PYTHON_BOOT) -c 'import sys; print(f"lib/python{sys.version_info[0]}.{sys.version_info[1]}/site-packages")')
PROTO_SRC   := protos/auction/v1/auction.proto
PROTO_PY    := gavel/api/auction/v1/auction_pb2.py
DESCRIPTOR  := build/gavel.binpb
PYTEST_ARGS ?=
CACHE       ?= $(HOME)/.cache/gavel
GHZ_VERSION := v0.121.0
GHZ         := $(CACHE)/bin/ghz-$(GHZ_VERSION)
GRPCURL_VERSION := v1.9.3
GRPCURL     := $(CACHE)/bin/grpcurl-$(GRPCURL_VERSION)
# gnostic's protoc-gen-openapi: OpenAPI 3 from the google.api.http annotations.
OPENAPI_GEN_VERSION := v0.7.1
OPENAPI_GEN := $(CACHE)/bin/protoc-gen-openapi-$(OPENAPI_GEN_VERSION)
OPENAPI     := build/web/openapi.json
WEB_SRC     := $(wildcard web/src/*.ts web/src/pages/*.ts web/src/*.css web/src/*.html)
WEB_OUT     := build/web/index.html build/web/app.js build/web/app.css
CHROMIUM    := /usr/bin/chromium
PROMETHEUS  := /usr/bin/prometheus
# v5.8.3 needs Go 1.27; this is the newest that builds with the Go here (1.26).
KUSTOMIZE_VERSION := v5.8.2
KUSTOMIZE   := $(CACHE)/bin/kustomize-$(KUSTOMIZE_VERSION)
K8S_BUILDS  := k8s/base $(wildcard k8s/overlays/*) k8s/monitoring
# The oldest API the manifests are written for (native gRPC probes are GA in 1.27) and the
# newest kubernetes-validate ships schemas for.
K8S_VERSIONS := 1.27 1.37

.PHONY: all install up test chaos lint k8s-check proto web openapi bench bench-scale profile clean clean-data

all: install

$(VENV)/.installed: pyproject.toml requirements.lock
	$(PYTHON_BOOT) -m venv $(VENV)
	$(PY) -m pip install -q -c requirements.lock -e '.[test]'
	touch $@

# Python stubs into one package (gavel.api); the descriptor set (with the google.rpc error
# details, which Envoy needs to render field violations as JSON) for the gateway and buf.
$(PROTO_PY) $(DESCRIPTOR) &: $(PROTO_SRC) $(VENV)/.installed
	mkdir -p gavel/api build
	$(PY) -m grpc_tools.protoc -Igavel/api=protos -I$(VENV)/$(SITE) \
	  --python_out=. --grpc_python_out=. \
	  --plugin=protoc-gen-mypy=$(VENV)/bin/protoc-gen-mypy --mypy_out=. \
	  --plugin=protoc-gen-mypy_grpc=$(VENV)/bin/protoc-gen-mypy_grpc --mypy_grpc_out=. \
	  $(PROTO_SRC:protos/%=gavel/api/%)
	touch gavel/api/__init__.py gavel/api/auction/__init__.py gavel/api/auction/v1/__init__.py
	$(PY) -m grpc_tools.protoc -Iprotos -I$(VENV)/$(SITE) --include_imports --include_source_info \
	  --descriptor_set_out=$(DESCRIPTOR) $(PROTO_SRC) $(VENV)/$(SITE)/google/rpc/error_details.proto

proto: $(PROTO_PY) $(DESCRIPTOR)

web/node_modules/.installed: web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund
	touch $@

# The gates: buf lint of the contract, ruff (lint and format) on all Python, mypy --strict on
# the services, gavel/ and devstack/ (settings in pyproject.toml).
lint: proto web/node_modules/.installed
	cd web && npx buf lint ../$(DESCRIPTOR) --config ../protos/buf.yaml --path auction/v1/auction.proto
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

# The web page: TypeScript messages and clients generated from the same descriptor set the
# gateway transcodes with (so page and API cannot drift), type-checked, and bundled into the
# three files Envoy serves at /, /app.js and /app.css on the API's origin.
$(WEB_OUT) &: $(WEB_SRC) $(DESCRIPTOR) web/buf.gen.yaml web/tsconfig.json web/node_modules/.installed
	rm -rf web/src/gen $(WEB_OUT)
	cd web && node_modules/.bin/buf generate ../$(DESCRIPTOR) --template buf.gen.yaml --exclude-path google/protobuf
	cd web && node_modules/.bin/tsc --noEmit -p .
	cd web && node_modules/.bin/esbuild src/main.ts --bundle --format=esm --target=es2022 --minify \
	  --log-level=warning --outfile=../build/web/app.js
	cp web/src/index.html build/web/index.html

web: $(WEB_OUT)

# The REST API's OpenAPI document, which the gateway serves at /openapi.json: gnostic writes
# it from the annotations, gateway_envoy/openapi.py adds what only the code knows (auth, error
# details, streams, links). Go builds the generator once into the cache.
$(OPENAPI_GEN):
	mkdir -p $(CACHE)/bin
	GOBIN=$(CACHE)/bin go install github.com/google/gnostic/cmd/protoc-gen-openapi@$(OPENAPI_GEN_VERSION)
	mv $(CACHE)/bin/protoc-gen-openapi $@

$(OPENAPI): $(PROTO_SRC) $(PROTO_PY) $(OPENAPI_GEN) gateway_envoy/openapi.py
	mkdir -p build/openapi build/web
	$(PY) -m grpc_tools.protoc -Iprotos -I$(VENV)/$(SITE) --plugin=protoc-gen-openapi=$(OPENAPI_GEN) \
	  --openapi_out=build/openapi \
	  --openapi_opt=naming=json,enum_type=string,title=Gavel,version=v1,M$(PROTO_SRC:protos/%=%)=gavel/auction/v1 \
	  $(PROTO_SRC)
	$(PY) -m gateway_envoy.openapi build/openapi/openapi.yaml $@

openapi: $(OPENAPI)

# The browser the page test drives: Debian's package (Playwright's own browser download is not
# reachable from here), installed only when missing; needs root, as on the dev and CI machines.
$(CHROMIUM):
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium

# Prometheus for the local stack and the dashboard test: Debian's package, like Chromium
# (Grafana's server is in no registry this machine reaches; import the dashboard into yours).
$(PROMETHEUS):
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus

install: $(VENV)/.installed proto web/node_modules/.installed web openapi
	$(PY) -m devstack install

up: install $(PROMETHEUS)
	$(PY) -m devstack up

# The same stack on a real cluster: 3 NATS servers (R3) and 3 Cassandra nodes (RF 3) on
# 127.0.0.2-4, with the production settings of k8s/base/config.yaml (devstack/cluster.py).
.PHONY: up-cluster test-cluster
up-cluster: install
	$(PY) -m devstack up-cluster

test: install lint k8s-check $(CHROMIUM) $(PROMETHEUS) $(GHZ) $(GRPCURL)
	GAVEL_GHZ=$(GHZ) GAVEL_GRPCURL=$(GRPCURL) $(PY) -m pytest $(PYTEST_ARGS)

# Only the fault tests (kill -9, pauses, restarts) on a stack of their own; `make test` runs
# them too, last.
chaos: install
	$(PY) -m pytest tests/chaos $(PYTEST_ARGS)

# Only the cluster tests (a node of each cluster killed under bid load) on a cluster of their
# own; `make test` runs them too, after the fault tests.
test-cluster: install
	$(PY) -m pytest tests/cluster $(PYTEST_ARGS)

# ghz from the Go module proxy, built once into the cache.
$(GHZ):
	mkdir -p $(CACHE)/bin
	GOBIN=$(CACHE)/bin go install github.com/bojand/ghz/cmd/ghz@$(GHZ_VERSION)
	mv $(CACHE)/bin/ghz $@

# grpcurl, as users call the public endpoint with nothing but its reflection (tests/e2e/test_grpcurl.py).
$(GRPCURL):
	mkdir -p $(CACHE)/bin
	GOBIN=$(CACHE)/bin go install github.com/fullstorydev/grpcurl/cmd/grpcurl@$(GRPCURL_VERSION)
	mv $(CACHE)/bin/grpcurl $@

bench: install $(GHZ)
	$(PY) -m bench --ghz $(GHZ)

# Where a bid's CPU goes: py-spy on bid_svc and JFR on Cassandra under the bench's PlaceBid
# load, into build/profile/ (flame graph, top functions, NATS counters, CPU by thread pool).
# PROFILE_ARGS='--auctions 100000 --no-jfr --out build/profile-100k' bids over 100,000 open
# auctions instead (compare with a run at --auctions 1000; see bench/profile.py).
PROFILE_ARGS ?=
profile: install $(GHZ)
	$(PY) -m bench.profile --ghz $(GHZ) $(PROFILE_ARGS)

# Cost against the number of open auctions (1k, 100k, 1M), the closer and the watchers at
# scale: bench/scale.json, a table, and docs/capacity.md regenerated from the figures.
# BENCH_SCALE_ARGS='--sizes 1000,100000' stops below a million (about 25 minutes less).
BENCH_SCALE_ARGS ?=
bench-scale: install $(GHZ)
	$(PY) -m bench.scale --ghz $(GHZ) $(BENCH_SCALE_ARGS)

# kustomize from the Go module proxy, built once into the cache, like ghz.
$(KUSTOMIZE):
	mkdir -p $(CACHE)/bin
	GOBIN=$(CACHE)/bin go install sigs.k8s.io/kustomize/kustomize/v5@$(KUSTOMIZE_VERSION)
	mv $(CACHE)/bin/kustomize $@

# The manifests as kustomize builds them, checked offline against the Kubernetes schemas that
# kubernetes-validate ships (strict: an unknown or misspelled field fails), then against the
# code (tests/unit/test_k8s_manifests.py). With --quiet a clean run prints nothing, so any
# line (an ERROR, or the WARN of a kind it has no schema for) fails the check.
k8s-check: $(VENV)/.installed $(KUSTOMIZE)
	mkdir -p build/k8s
	set -e; for dir in $(K8S_BUILDS); do \
	  out=build/k8s/$$(echo $$dir | tr / -).yaml; \
	  $(KUSTOMIZE) build $$dir > $$out; \
	  report=$$($(PY) -m kubernetes_validate --strict --quiet $(K8S_VERSIONS:%=-k %) $$out) || { echo "$$report"; exit 1; }; \
	  if [ -n "$$report" ]; then echo "$$report"; exit 1; fi; \
	  echo "$$dir: $$(grep -c '^kind:' $$out) resources valid for Kubernetes $(K8S_VERSIONS)"; \
	done
	$(PY) -m pytest -q tests/unit/test_k8s_manifests.py

clean:
	rm -rf gavel/api build web/node_modules web/src/gen $(VENV)

clean-data:
	rm -rf .devdata
