# Gavel — `make up` serves the local stack, `make test` runs every test.
# Both install what they need: Python deps into .venv/ (wheels cached by pip in ~/.cache/pip),
# Cassandra into ~/.cache/gavel/ (via Maven, cached in ~/.m2), buf into web/node_modules
# (npm cache ~/.npm). Generated code is made here, never committed.

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

.PHONY: all install up test lint proto bench clean clean-data

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
	  --python_out=. --grpc_python_out=. --pyi_out=. $(PROTO_SRC:protos/%=gavel/api/%)
	touch gavel/api/__init__.py gavel/api/auction/__init__.py gavel/api/auction/v1/__init__.py
	$(PY) -m grpc_tools.protoc -Iprotos -I$(VENV)/$(SITE) --include_imports --include_source_info \
	  --descriptor_set_out=$(DESCRIPTOR) $(PROTO_SRC) $(VENV)/$(SITE)/google/rpc/error_details.proto

proto: $(PROTO_PY) $(DESCRIPTOR)

web/node_modules/.installed: web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund
	touch $@

lint: proto web/node_modules/.installed
	cd web && npx buf lint ../$(DESCRIPTOR) --config ../protos/buf.yaml --path auction/v1/auction.proto

install: $(VENV)/.installed proto web/node_modules/.installed
	$(PY) -m devstack install

up: install
	$(PY) -m devstack up

test: install lint
	$(PY) -m pytest $(PYTEST_ARGS)

# ghz from the Go module proxy, built once into the cache.
$(GHZ):
	mkdir -p $(CACHE)/bin
	GOBIN=$(CACHE)/bin go install github.com/bojand/ghz/cmd/ghz@$(GHZ_VERSION)
	mv $(CACHE)/bin/ghz $@

bench: install $(GHZ)
	$(PY) -m bench --ghz $(GHZ)

clean:
	rm -rf gavel/api build web/node_modules $(VENV)

clean-data:
	rm -rf .devdata
