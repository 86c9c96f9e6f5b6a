# One image for every Gavel process (the services, the migration Job, the Envoy gateway);
# the k8s manifests pick the command. Stubs and the descriptor are generated at build time.
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
ENV PATH=/opt/venv/bin:$PATH
USER 65534
