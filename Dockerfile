# One image for every Gavel process (the services, the migration Job, the Envoy gateway);
# the k8s manifests pick the command. Stubs and the descriptor are generated at build time.

# The web page the gateway serves (build/web: TypeScript generated from the descriptor and
# bundled) needs Node; it is built in its own stage and only its three files are kept.
# Without them the gateway's Envoy refuses its config (the routes name the files).
# gnostic's protoc-gen-openapi for the REST API's document (build/web/openapi.json, which the
# gateway serves and its config names); the version is the Makefile's OPENAPI_GEN_VERSION.
FROM golang:1.26-bookworm AS openapi-gen
ARG OPENAPI_GEN_VERSION=v0.7.1
RUN GOBIN=/out go install github.com/google/gnostic/cmd/protoc-gen-openapi@${OPENAPI_GEN_VERSION}

FROM node:20-bookworm-slim AS web
RUN apt-get update && apt-get install -y --no-install-recommends make python3 python3-venv && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml requirements.lock Makefile ./
COPY protos protos
COPY gavel gavel
COPY auction_svc auction_svc
COPY bid_svc bid_svc
COPY stream_svc stream_svc
COPY gateway_envoy gateway_envoy
COPY devstack devstack
COPY web/package.json web/package-lock.json web/buf.gen.yaml web/tsconfig.json web/
COPY web/src web/src
COPY --from=openapi-gen /out/protoc-gen-openapi /usr/local/bin/protoc-gen-openapi
RUN make web openapi VENV=/opt/venv PYTHON_BOOT=python3 OPENAPI_GEN=/usr/local/bin/protoc-gen-openapi

FROM python:3.11-slim
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends make && rm -rf /var/lib/apt/lists/*
COPY pyproject.toml requirements.lock ./
COPY protos protos
COPY gavel gavel
COPY auction_svc auction_svc
COPY bid_svc bid_svc
COPY stream_svc stream_svc
COPY gateway_envoy gateway_envoy
COPY devstack devstack
COPY Makefile ./
RUN make proto VENV=/opt/venv PYTHON_BOOT=python
COPY --from=web /app/build/web build/web
ENV PATH=/opt/venv/bin:$PATH
USER 65534
