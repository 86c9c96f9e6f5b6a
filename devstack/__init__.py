"""The local stack: installs and runs the real Cassandra, NATS, Envoy and Gavel's services.

Used by ``make up`` (``python -m devstack up``) and by the tests' fixtures, so what a
developer runs and what the tests run are started the same way.
"""
