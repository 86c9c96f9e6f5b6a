# One image for every Gavel process (the services, the migration Job, the Envoy gateway);
# the k8s manifests pick the command. Stubs and the descriptor are generated at build time.

# The web page the gateway serves (build/web: TypeScript generated from the descriptor and
# bundled) needs Node; it is built in its own stage and only its three files are kept.
# Without them the gateway's Envoy refuses its config (the routes name the files).
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
RUN make web VENV=/opt/venv PYTHON_BOOT=python3

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
